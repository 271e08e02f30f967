/*
 * Timers of the control worker, run about once a second by every worker:
 * each pass takes a short Redis lock so one worker per machine does it.
 *   - sandboxes of this machine that died or ran out of memory: their
 *     engine restarted or their workspace failed, with the reason; the
 *     engine watch's verdicts (rc_watch.c), an engine busy with a hook or
 *     an agent counted as activity (every second, per machine, from the
 *     watch's probes: no call of its own);
 *   - awake workspaces' usage of disk, memory and CPU into their records
 *     (every 5 s, in the same pass: one HSET each), with a warning when
 *     the disk is (nearly) full;
 *   - awake workspaces idle for --idle-sleep get a sleep job, frozen ones
 *     asleep for --deep-sleep-after a deep-sleep job, and sleeping
 *     ones idle for --delete-after are deleted (every 5 s, one worker of
 *     the whole deployment);
 *   - warm pools kept full (rc_pool.c: every second, per machine, at most
 *     one new sandbox a pass), leftovers of cut-short fills and other
 *     orphans (rc_orphans.c; every minute);
 *   - messages an engine did not take tried again once due (every second,
 *     one worker of the deployment);
 *   - images due a check of their remote (rc_image.c: one per second and
 *     machine, in a child process).
 */

#define _GNU_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/rp_keys.h"
#include "rc_log.h"
#include "rc_watch.h"
#include "rc_worker.h"


static void
rc_lifecycle_usage_save(rc_worker_t *w, const char *ws,
    const rc_sandbox_health_t *h);


/*
 * Every awake sandbox of this node, once a second: a dead one restarted
 * (rc_watch.c), an out-of-memory one failed, its engine's verdict read
 * (and its "busy", activity, with it); every few seconds ("usage") also
 * its use of disk, memory and CPU written for the API, from the same look.
 */
/*
 * This node's sandboxes whose workspace is awake, in one call whatever
 * their number (a pass used to read each sandbox's record and its
 * workspace's state, two round trips per sandbox a second): flat
 * [id, workspace, slot, addr, lower, ...].
 */
static const char  rc_lifecycle_awake_lua[] =
    "local out = {} "
    "for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do "
    "  local f = redis.call('HMGET', ARGV[1] .. id, 'workspace', 'node', "
    "                       'slot', 'addr', 'lower') "
    "  if f[1] and f[1] ~= '' and (not f[2] or f[2] == ARGV[3]) "
    "     and redis.call('HGET', ARGV[2] .. f[1], 'state') == 'awake' then "
    "    out[#out + 1] = id out[#out + 1] = f[1] "
    "    out[#out + 1] = f[3] or '' out[#out + 1] = f[4] or '' "
    "    out[#out + 1] = f[5] or '' "
    "  end "
    "end "
    "return out";


static void
rc_lifecycle_watch(rc_worker_t *w, int usage)
{
    size_t               i;
    char                 key[96], lock[96], reason[320], *state;
    rc_sandbox_t         sb;
    redisReply          *r, **e;
    rc_sandbox_health_t  h;

    r = rc_cmd(w, "EVAL %s 1 " RP_KEY_NODE_SANDBOXES_PREFIX "%s "
               RP_KEY_SANDBOX_PREFIX " " RP_KEY_WORKSPACE_PREFIX " %s",
               rc_lifecycle_awake_lua, w->node, w->node);

    for (i = 0; r && r->type == REDIS_REPLY_ARRAY && i + 4 < r->elements;
         i += 5)
    {
        e = &r->element[i];

        if (e[0]->type != REDIS_REPLY_STRING || e[1]->type != REDIS_REPLY_STRING
            || e[2]->type != REDIS_REPLY_STRING
            || e[3]->type != REDIS_REPLY_STRING
            || e[4]->type != REDIS_REPLY_STRING)
        {
            continue;
        }

        memset(&sb, 0, sizeof(sb));
        snprintf(sb.id, sizeof(sb.id), "%s", e[0]->str);
        snprintf(sb.workspace, sizeof(sb.workspace), "%s", e[1]->str);
        sb.slot = (unsigned) strtoul(e[2]->str, NULL, 10);
        snprintf(sb.addr, sizeof(sb.addr), "%s", e[3]->str);
        snprintf(sb.lower, sizeof(sb.lower), "%s", e[4]->str);

        snprintf(key, sizeof(key), RP_KEY_WORKSPACE_PREFIX "%s",
                 sb.workspace);

        w->driver->health(&sb, &h, usage ? RC_HEALTH_USAGE : 0);

        if (usage) {
            rc_lifecycle_usage_save(w, sb.workspace, &h);
        }

        if (h.oom_kills > 0) {
            snprintf(reason, sizeof(reason), "out of memory: the workspace "
                     "went over its limit of %llu MiB",
                     w->local.memory_max >> 20);
        } else if (!h.running) {
            /* the engine gone and nothing else left: restarted, like an
             * engine that died beside a dev server (rc_watch.c) */
            snprintf(reason, sizeof(reason), "the sandbox stopped "
                     "unexpectedly%s%s", h.why[0] ? ": " : "", h.why);
            rc_watch_trouble(w, sb.workspace, reason);
            continue;
        } else {
            rc_watch_check(w, &sb);
            continue;
        }

        /* a job may be stopping it on purpose (sleep): judge under the
         * workspace's lock, on its state as it is then */
        snprintf(lock, sizeof(lock), "ws:%s", sb.workspace);

        if (rc_lock(w, lock, 0) != 0) {
            continue;
        }

        state = rc_hget(w, key, "state");
        w->driver->health(&sb, &h, 0);

        if (state && strcmp(state, "awake") == 0
            && h.oom_kills > 0)
        {
            rc_warn("sandbox.died", "sandbox=%s ws=%s oom_kills=%ld", sb.id,
                    sb.workspace, h.oom_kills);

            (void) w->driver->stop(&sb);
            (void) rc_ws_set_state(w, sb.workspace, "failed", reason);
        }

        free(state);
        rc_unlock(w);
    }

    freeReplyObject(r);

    /* engines of workspaces no longer awake here are no longer watched */
    rc_watch_sweep();
}


/* what GET /v1/workspaces/{id} shows as "usage" (lua/api.lua) */
static void
rc_lifecycle_usage_save(rc_worker_t *w, const char *ws,
    const rc_sandbox_health_t *h)
{
    char         key[96], disk[24], dlimit[24], mem[24], mlimit[24];
    char         cpu[32], at[24], warning[200];
    const char  *argv[16];
    redisReply  *r;

    snprintf(key, sizeof(key), RP_KEY_WORKSPACE_PREFIX "%s", ws);
    snprintf(disk, sizeof(disk), "%llu", h->disk_bytes);
    snprintf(dlimit, sizeof(dlimit), "%llu", h->disk_limit_bytes);
    snprintf(mem, sizeof(mem), "%llu", h->memory_bytes);
    snprintf(mlimit, sizeof(mlimit), "%llu", h->memory_limit_bytes);
    snprintf(cpu, sizeof(cpu), "%.3f", h->cpu_usec / 1e6);
    snprintf(at, sizeof(at), "%ld", (long) time(NULL));

    warning[0] = '\0';

    /* 95 %: ext4 keeps a little for itself, "full" comes before 100 % */
    if (h->disk_limit_bytes
        && h->disk_bytes >= h->disk_limit_bytes / 100 * 95)
    {
        snprintf(warning, sizeof(warning), "the workspace's disk is full: "
                 "%llu of %llu MiB used, writes fail (ENOSPC); delete files "
                 "or ask for a larger --disk", h->disk_bytes >> 20,
                 h->disk_limit_bytes >> 20);
    }

    argv[0] = "HSET";
    argv[1] = key;
    argv[2] = "usage_disk";
    argv[3] = disk;
    argv[4] = "usage_disk_limit";
    argv[5] = dlimit;
    argv[6] = "usage_memory";
    argv[7] = mem;
    argv[8] = "usage_memory_limit";
    argv[9] = mlimit;
    argv[10] = "usage_cpu";
    argv[11] = cpu;
    argv[12] = "usage_at";
    argv[13] = at;
    argv[14] = "usage_warning";
    argv[15] = warning;

    r = rc_cmdargv(w, 16, argv);
    freeReplyObject(r);
}


static void
rc_lifecycle_idle(rc_worker_t *w)
{
    size_t       i;
    long         now, older, soonest;
    char         key[96], *state, *at, *depth;
    const char  *id;
    redisReply  *r, *m;

    now = (long) time(NULL);
    soonest = w->idle_sleep_s < w->delete_after_s ? w->idle_sleep_s
                                                  : w->delete_after_s;
    if (w->deep_sleep_s > 0 && w->deep_sleep_s < soonest) {
        soonest = w->deep_sleep_s;
    }
    older = now - soonest;

    r = rc_cmd(w, "ZRANGEBYSCORE " RP_KEY_ACTIVITY " -inf %ld LIMIT 0 1000",
               older);

    for (i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        id = r->element[i]->str;
        snprintf(key, sizeof(key), RP_KEY_WORKSPACE_PREFIX "%s", id);

        state = rc_hget(w, key, "state");
        at = rc_hget(w, key, "state_at");

        if (state == NULL) {
            freeReplyObject(rc_cmd(w, "ZREM " RP_KEY_ACTIVITY " %s", id));

        } else if (strcmp(state, "awake") == 0) {
            /* one sleep job per idle spell, not one per pass */
            m = rc_cmd(w, "SET " RP_KEY_LOCK_PREFIX "autosleep:%s 1 NX EX 60",
                       id);
            if (m && m->type == REDIS_REPLY_STATUS) {
                rc_info("ws.idle", "ws=%s action=sleep", id);
                (void) rc_enqueue(w, "sleep", id, NULL);
            }
            freeReplyObject(m);

        } else if (strcmp(state, "sleeping") == 0 && at
                   && now - atol(at) >= w->delete_after_s)
        {
            rc_info("ws.idle", "ws=%s action=delete", id);
            if (rc_ws_set_state(w, id, "deleted", NULL) == 0) {
                (void) rc_enqueue(w, "delete", id, NULL);
            }

        } else if (strcmp(state, "sleeping") == 0 && at
                   && w->deep_sleep_s > 0
                   && now - atol(at) >= w->deep_sleep_s)
        {
            /* frozen long enough: its memory back (one job per sleep) */
            depth = rc_hget(w, key, "sleep");

            if (depth && strcmp(depth, "frozen") == 0) {
                m = rc_cmd(w, "SET " RP_KEY_LOCK_PREFIX "deepsleep:%s 1 NX "
                           "EX 60", id);
                if (m && m->type == REDIS_REPLY_STATUS) {
                    rc_info("ws.idle", "ws=%s action=deep_sleep", id);
                    (void) rc_enqueue(w, "deep-sleep", id, NULL);
                }
                freeReplyObject(m);
            }

            free(depth);
        }

        free(state);
        free(at);
    }

    freeReplyObject(r);
}


/* workspaces whose messages an engine did not take: a message job each
 * once their backoff is over (one worker of the deployment) */
static void
rc_lifecycle_deliver(rc_worker_t *w)
{
    size_t       i;
    redisReply  *r, *z;

    r = rc_cmd(w, "ZRANGEBYSCORE " RP_KEY_DELIVER_DUE " -inf %lld LIMIT 0 100",
               rc_now_ms());

    for (i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        z = rc_cmd(w, "ZREM " RP_KEY_DELIVER_DUE " %s", r->element[i]->str);

        if (z && z->type == REDIS_REPLY_INTEGER && z->integer == 1) {
            rc_info("ws.deliver_retry", "ws=%s", r->element[i]->str);
            (void) rc_enqueue(w, "message", r->element[i]->str, NULL);
        }

        freeReplyObject(z);
    }

    freeReplyObject(r);
}


static int
rc_lifecycle_turn(rc_worker_t *w, const char *what, long ms)
{
    int          mine;
    redisReply  *r;

    r = rc_cmd(w, "SET " RP_KEY_LOCK_PREFIX "%s %s NX PX %ld", what,
               w->consumer, ms);
    mine = r && r->type == REDIS_REPLY_STATUS;
    freeReplyObject(r);

    return mine;
}


void
rc_lifecycle_tick(rc_worker_t *w)
{
    char  what[128];

    snprintf(what, sizeof(what), "watch:%s", w->node);
    if (rc_lifecycle_turn(w, what, 900)) {
        snprintf(what, sizeof(what), "usage:%s", w->node);
        rc_lifecycle_watch(w, rc_lifecycle_turn(w, what, 5000));
    }

    if (rc_lifecycle_turn(w, "idle", 5000)) {
        rc_lifecycle_idle(w);
    }

    snprintf(what, sizeof(what), "pool:%s", w->node);
    if (rc_lifecycle_turn(w, what, 900)) {
        rc_pool_tick(w);
    }

    snprintf(what, sizeof(what), "pool-orphans:%s", w->node);
    if (rc_lifecycle_turn(w, what, 60000)) {
        rc_pool_orphans(w);
        rc_orphans_sweep(w);
    }

    if (rc_lifecycle_turn(w, "deliver", 900)) {
        rc_lifecycle_deliver(w);
    }

    snprintf(what, sizeof(what), "refresh:%s", w->node);
    if (!rc_image_refresh_busy(w) && w->image_refresh_s > 0
        && rc_lifecycle_turn(w, what, 1000))
    {
        rc_image_refresh_check(w);
    }
}
