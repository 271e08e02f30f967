/*
 * What a sleeping workspace shows without being woken: before it sleeps,
 * its engine's event history (the chats: messages, turns, tools, tasks)
 * and its git state (branch, ahead, pull request per repository) are
 * copied to Redis.  The git state is also kept while it is awake: the
 * engine watch writes it on change with rc_history_git_put, the one
 * writer of both (rc_git_state.h's shape).  The API serves them from there
 * (GET /v1/workspaces/{id}/history; "git" in the workspace), so the
 * dashboard reads a sleeping workspace's chats and branch and the
 * workspace sleeps on.  Saved again at each sleep; deleted with it.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/rp_keys.h"
#include "rc_engine.h"
#include "rc_git_state.h"
#include "rc_log.h"
#include "rc_worker.h"


/* the events kept: the latest this many (each event is at most what the
 * engine keeps in memory; the whole reply at most rc_engine's 4 MiB) */
#define RC_HISTORY_EVENTS   500
#define RC_HISTORY_FEWER    100


static void
rc_history_events(rc_worker_t *w, const char *ws, const char *addr)
{
    char        path[96], *text;
    long        status;
    json_t     *probe, *events;
    json_int_t  last, after;

    /* only the last id first: the history's length is not known */
    status = rc_engine_call(addr, "GET",
                            "/events?format=json&after=999999999999999999",
                            NULL, 2000, &probe);

    if (status != 200 || !json_is_integer(json_object_get(probe, "last_id"))) {
        json_decref(probe);
        rc_warn("ws.history_unsaved", "ws=%s what=events status=%ld", ws,
                status);
        return;
    }

    last = json_integer_value(json_object_get(probe, "last_id"));
    json_decref(probe);

    after = last > RC_HISTORY_EVENTS ? last - RC_HISTORY_EVENTS : 0;
    snprintf(path, sizeof(path), "/events?format=json&after=%lld",
             (long long) after);
    status = rc_engine_call(addr, "GET", path, NULL, 5000, &events);

    if (status != 200 && last > RC_HISTORY_FEWER) {
        /* too large a reply: the latest fewer */
        json_decref(events);
        snprintf(path, sizeof(path), "/events?format=json&after=%lld",
                 (long long) (last - RC_HISTORY_FEWER));
        status = rc_engine_call(addr, "GET", path, NULL, 5000, &events);
    }

    text = status == 200 ? json_dumps(events, JSON_COMPACT) : NULL;
    json_decref(events);

    if (text == NULL) {
        rc_warn("ws.history_unsaved", "ws=%s what=events status=%ld", ws,
                status);
        return;
    }

    freeReplyObject(rc_cmd(w, "SET " RP_KEY_WS_HISTORY_PREFIX "%s %b", ws,
                           text, strlen(text)));
    rc_info("ws.history_saved", "ws=%s last_id=%lld bytes=%zu", ws,
            (long long) last, strlen(text));
    free(text);
}


/* the record as it is, unless it is gone or deleted or the text is the
 * one kept: then nothing is written and nothing announced.  live (the
 * watch): only while it is awake and no job holds it (a sleep's own save,
 * fresher than any probe, is not overwritten by one that came before it):
 * else -2, to be tried again.  KEYS[1] the workspace, KEYS[2] its lock;
 * ARGV 1 the text, 2 now (s), 3 the channel, 4 the id, 5 live */
#define RC_HISTORY_GIT_LUA                                                    \
    "local h = redis.call('HMGET', KEYS[1], 'state', 'git') "               \
    "if not h[1] or h[1] == 'deleted' or h[2] == ARGV[1] then return 0 end " \
    "if ARGV[5] == '1' and (h[1] ~= 'awake' "                                \
    "   or redis.call('EXISTS', KEYS[2]) == 1) then return -2 end "         \
    "redis.call('HSET', KEYS[1], 'git', ARGV[1], 'git_at', ARGV[2]) "       \
    "redis.call('PUBLISH', ARGV[3], ARGV[4]) "                               \
    "return 1"

int
rc_history_git_put(rc_worker_t *w, const char *ws, const char *text,
    int live)
{
    int          rc;
    redisReply  *r;

    r = rc_cmd(w, "EVAL %s 2 " RP_KEY_WORKSPACE_PREFIX "%s "
               RP_KEY_LOCK_PREFIX "ws:%s %b %lld " RP_CHANNEL_WS_CHANGED
               " %s %d", RC_HISTORY_GIT_LUA, ws, ws, text, strlen(text),
               rc_now_ms() / 1000, ws, live != 0);

    rc = r && r->type == REDIS_REPLY_INTEGER ? (int) r->integer : -1;
    freeReplyObject(r);

    return rc;
}


/* the full answer of GET /git, fresh (not /healthz's cache), in the kept
 * shape */
static void
rc_history_git(rc_worker_t *w, const char *ws, const char *addr)
{
    char    *text;
    json_t  *git;

    if (rc_engine_call(addr, "GET", "/git", NULL, 3000, &git) != 200) {
        json_decref(git);
        return;
    }

    text = rc_git_state_text(json_object_get(git, "repositories"));
    json_decref(git);

    if (text == NULL) {
        return;
    }

    if (rc_history_git_put(w, ws, text, 0) < 0) {
        rc_warn("ws.history_unsaved", "ws=%s what=git", ws);
    }

    free(text);
}


void
rc_history_save(rc_worker_t *w, const char *ws, const char *addr)
{
    rc_history_events(w, ws, addr);
    rc_history_git(w, ws, addr);
}


void
rc_history_forget(rc_worker_t *w, const char *ws)
{
    freeReplyObject(rc_cmd(w, "DEL " RP_KEY_WS_HISTORY_PREFIX "%s", ws));
}
