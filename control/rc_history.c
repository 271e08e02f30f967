/*
 * What a sleeping workspace shows without being woken: before it sleeps,
 * its engine's event history (the chats: messages, turns, tools, tasks)
 * and its git state (branch, ahead, pull request per repository) are
 * copied to Redis.  The API serves them from there
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


static void
rc_history_git(rc_worker_t *w, const char *ws, const char *addr)
{
    char    *text;
    json_t  *git, *repos;

    if (rc_engine_call(addr, "GET", "/git", NULL, 3000, &git) != 200) {
        json_decref(git);
        return;
    }

    repos = json_object_get(git, "repositories");
    text = json_is_array(repos) ? json_dumps(repos, JSON_COMPACT) : NULL;
    json_decref(git);

    if (text == NULL) {
        return;
    }

    freeReplyObject(rc_cmd(w, "HSET " RP_KEY_WORKSPACE_PREFIX "%s git %b "
                           "git_at %lld", ws, text, strlen(text),
                           rc_now_ms() / 1000));
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
