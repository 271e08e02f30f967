/*
 * Warm pools: per image built on this machine, --pool-size sandboxes made
 * on the image's current version and booted (the engine answers /healthz)
 * before anyone asks, so a create of a one-repository workspace claims one
 * instead of creating, mounting and booting (the fast path).
 *
 *   replicas:pool:<node>:<image key>   SET of ready sandbox ids
 *
 * A pooled sandbox's record has workspace "" and pool <image key>.  A
 * claim is one script: take a member whose layers are the image's current
 * version, give it the workspace and the workspace the sandbox, all at
 * once, so a crash leaves it either pooled or the workspace's (a redone
 * create then finds it as its own).  The timer (rc_pool_tick, about once
 * a second, one worker per machine) drops members that died, whose
 * version is no longer current (the image was rebuilt) or that are too
 * many, or that run an engine binary since replaced (a deploy), and
 * makes at most one new sandbox per pass, under a lock per
 * image, so filling never keeps the worker from its jobs for more than
 * one boot.  A member is destroyed only by whoever removed it from the
 * set (SREM answered 1): never one a claim took meanwhile.  Sandboxes of
 * a fill that a crash cut short (no workspace, not in their pool) are
 * found by a slower pass and destroyed when seen twice a minute apart.
 *
 * Prewarm (POST /v1/prewarm, the dashboard's "warm while typing"): a
 * job makes sure the image's pool has a sandbox to claim even when
 * --pool-size is 0 or the pool is empty, by one fill of the same kind
 * marked prewarm_until (ms): such a member is no --pool-size member (never
 * surplus), is claimed like any, and is destroyed by the timer once
 * --prewarm-ttl has passed unclaimed (pool.drop reason=expired), so an
 * abandoned form holds no sandbox for long.  At most --prewarm-max of them
 * per node and --prewarm-max-org per organisation:
 *
 *   replicas:prewarmed:<node>   HASH sandbox id (or r:<holder>, a fill
 *                               under way) -> "<org> <until ms>"
 */

#define _GNU_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/rp_keys.h"
#include "rc_engine.h"
#include "rc_log.h"
#include "rc_repo_config.h"
#include "rc_worker.h"


/* KEYS: the pool, the workspace; ARGV: sandbox key prefix, current
 * layers, workspace id, node, repo_names, current engine */
static const char  rc_pool_claim_lua[] =
    "for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do\n"
    "  local k = ARGV[1] .. id\n"
    "  local f = redis.call('HMGET', k, 'lower', 'workspace', 'engine')\n"
    "  if f[1] == ARGV[2] and (f[2] == false or f[2] == '')\n"
    "     and f[3] == ARGV[6] then\n"
    "    redis.call('SREM', KEYS[1], id)\n"
    "    redis.call('HSET', k, 'workspace', ARGV[3], 'state', 'assigned')\n"
    "    local p = redis.call('HGET', k, 'prewarm_status')\n"
    "    if p then redis.call('DEL', p) end\n"
    "    redis.call('HDEL', k, 'pool', 'prewarm_until', 'prewarm_status')\n"
    "    redis.call('HSET', KEYS[2], 'sandbox', id, 'repo_names', ARGV[5],\n"
    "               'node', ARGV[4])\n"
    "    return id\n"
    "  end\n"
    "end\n"
    "return false\n";


/* which engine binary a sandbox started now would run: a member made
 * with another one is replaced, so a deploy reaches new workspaces */
static void
rc_pool_engine_id(rc_worker_t *w, char *buf, size_t size)
{
    struct stat  st;

    if (stat(w->local.engine, &st) != 0) {
        snprintf(buf, size, "none");
        return;
    }

    snprintf(buf, size, "%llu.%llu.%lld.%ld", (unsigned long long) st.st_dev,
             (unsigned long long) st.st_ino, (long long) st.st_mtim.tv_sec,
             (long) st.st_mtim.tv_nsec);
}


int
rc_pool_claim(rc_worker_t *w, const char *ws, const char *org, json_t *urls,
    const char *lower, const char *names, rc_sandbox_t *sb)
{
    int                  ok;
    char                 key[17], pkey[128], wkey[96], engine[96];
    char                 id[RC_SANDBOX_ID_LEN + 1];
    const char          *argv[11];
    long long            start;
    redisReply          *r;
    rc_sandbox_health_t  h;

    /* --pool-size 0 still has the members a prewarm made */
    if (names == NULL) {
        return -1;
    }

    if (json_array_size(urls) != 1) {
        rc_info("pool.miss", "ws=%s reason=repositories", ws);
        return -1;
    }

    /* warm sandboxes have serve --disk's size, not the organisation's */
    if (rc_org_disk_max(w, org) != 0) {
        rc_info("pool.miss", "ws=%s reason=disk", ws);
        return -1;
    }

    start = rc_now_ms();

    rc_image_key(org, json_string_value(json_array_get(urls, 0)), key);
    snprintf(pkey, sizeof(pkey), RP_KEY_POOL_PREFIX "%s:%s", w->node, key);
    snprintf(wkey, sizeof(wkey), RP_KEY_WORKSPACE_PREFIX "%s", ws);

    argv[0] = "EVAL";
    argv[1] = rc_pool_claim_lua;
    argv[2] = "2";
    argv[3] = pkey;
    argv[4] = wkey;
    argv[5] = RP_KEY_SANDBOX_PREFIX;
    argv[6] = lower;
    argv[7] = ws;
    argv[8] = w->node;
    argv[9] = names;
    argv[10] = engine;

    rc_pool_engine_id(w, engine, sizeof(engine));

    r = rc_cmdargv(w, 11, argv);

    if (r == NULL || r->type != REDIS_REPLY_STRING
        || r->len > RC_SANDBOX_ID_LEN)
    {
        freeReplyObject(r);
        rc_info("pool.miss", "ws=%s image=%s reason=empty ms=%lld", ws, key,
                rc_now_ms() - start);
        return -1;
    }

    snprintf(id, sizeof(id), "%s", r->str);
    freeReplyObject(r);

    ok = rc_sandbox_load(w, id, sb) == 0;

    if (ok) {
        w->driver->health(sb, &h, 0);

        ok = h.running && h.oom_kills == 0
             && rc_engine_call(sb->addr, "GET", "/healthz", NULL, 1000, NULL)
                == 200;
    }

    if (!ok) {
        rc_warn("pool.miss", "ws=%s image=%s sandbox=%s reason=unhealthy "
                "ms=%lld", ws, key, id, rc_now_ms() - start);

        if (sb->id[0]) {
            rc_sandbox_forget(w, sb);
        }

        freeReplyObject(rc_cmd(w, "HDEL %s sandbox", wkey));
        memset(sb, 0, sizeof(*sb));

        return -1;
    }

    rc_info("pool.claim", "ws=%s image=%s sandbox=%s addr=%s ms=%lld", ws,
            key, id, sb->addr, rc_now_ms() - start);

    return 0;
}


/* destroys a member, if it still is one (a claim may have just taken it) */
static void
rc_pool_drop(rc_worker_t *w, const char *pkey, rc_sandbox_t *sb,
    const char *key, const char *reason)
{
    int          mine;
    redisReply  *r;

    r = rc_cmd(w, "SREM %s %s", pkey, sb->id);
    mine = r && r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);

    if (!mine) {
        return;
    }

    rc_info("pool.drop", "image=%s sandbox=%s reason=%s", key, sb->id,
            reason);

    rc_sandbox_forget(w, sb);
}


/* 0 made, -1 failed, 1 not tried (pausing after a failure) */
/* whether the image's repository wants the desktop ("desktop": false
 * in its replicas.json or .yaml says not): a warm sandbox follows it */
static int
rc_pool_desktop(rc_worker_t *w, const char *key, const char *dir)
{
    int                on;
    char               ikey[128], repo[RC_SANDBOX_PATH_MAX + 128], err[256];
    char              *name;
    rc_repo_config_t   cfg;

    snprintf(ikey, sizeof(ikey), RP_KEY_IMAGE_PREFIX "%s:%s", w->node, key);
    name = rc_hget(w, ikey, "name");

    if (name == NULL) {
        return 1;
    }

    snprintf(repo, sizeof(repo), "%s/%s", dir, name);
    free(name);

    if (rc_repo_config_load(repo, &cfg, err, sizeof(err)) != 0) {
        return 1;
    }

    on = !cfg.no_desktop;
    rc_repo_config_free(&cfg);

    return on;
}


/* one new member; until > 0: a prewarm's, destroyed unclaimed then,
 * its status key (replicas:prewarm:...) dropped when claimed */
static int
rc_pool_fill(rc_worker_t *w, const char *key, const char *pkey,
    const char *dir, const char *engine, unsigned have, long long until,
    const char *status, rc_sandbox_t *out)
{
    int           waiting;
    char          err[512];
    long long     start;
    redisReply   *r;
    rc_sandbox_t  sb;

    /* after a failed fill (no address left, a broken image): a pause,
     * not one failure a second */
    r = rc_cmd(w, "EXISTS " RP_KEY_LOCK_PREFIX "pool-pause:%s:%s", w->node,
               key);
    waiting = r && r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);

    if (waiting) {
        return 1;
    }

    start = rc_now_ms();

    if (rc_sandbox_new(w, &sb, dir, NULL, "", err, sizeof(err)) != 0) {
        rc_warn("pool.fill_failed", "image=%s error=\"%s\"", key, err);
        goto failed;
    }

    freeReplyObject(rc_cmd(w, "HSET " RP_KEY_SANDBOX_PREFIX "%s pool %s "
                           "engine %s desktop %s", sb.id, key, engine,
                           rc_pool_desktop(w, key, dir) ? "on" : "off"));

    if (until > 0) {
        freeReplyObject(rc_cmd(w, "HSET " RP_KEY_SANDBOX_PREFIX "%s "
                               "prewarm_until %lld prewarm_status %s", sb.id,
                               until, status));
    }

    if (rc_sandbox_boot(w, &sb, err, sizeof(err)) != 0) {
        rc_warn("pool.fill_failed", "image=%s sandbox=%s error=\"%s\"", key,
                sb.id, err);
        rc_sandbox_forget(w, &sb);
        goto failed;
    }

    (void) rc_sandbox_save(w, &sb, "pooled");
    freeReplyObject(rc_cmd(w, "SADD %s %s", pkey, sb.id));

    rc_info("pool.fill", "image=%s sandbox=%s addr=%s size=%u ms=%lld%s",
            key, sb.id, sb.addr, have + 1, rc_now_ms() - start,
            until > 0 ? " prewarm=1" : "");

    if (out) {
        *out = sb;
    }

    return 0;

failed:

    freeReplyObject(rc_cmd(w, "SET " RP_KEY_LOCK_PREFIX "pool-pause:%s:%s 1 "
                           "PX 30000", w->node, key));

    return -1;
}


/* one image's pool: drop what is dead, stale or too many; 1 if it tried
 * to make a new sandbox (at most one, and only with may_fill) */
static int
rc_pool_keep(rc_worker_t *w, const char *key, int may_fill)
{
    int                  ready, filled;
    size_t               i;
    unsigned             have;
    long long            until;
    char                 ikey[128], pkey[128], lock[160], engine[96];
    const char          *dir, *reason;
    rc_sandbox_t         sb;
    redisReply          *im, *m, *e;
    rc_sandbox_health_t  h;

    snprintf(ikey, sizeof(ikey), RP_KEY_IMAGE_PREFIX "%s:%s", w->node, key);
    snprintf(pkey, sizeof(pkey), RP_KEY_POOL_PREFIX "%s:%s", w->node, key);
    snprintf(lock, sizeof(lock), "pool:%s:%s", w->node, key);

    im = rc_cmd(w, "HMGET %s state dir", ikey);

    if (im == NULL || im->type != REDIS_REPLY_ARRAY || im->elements != 2) {
        freeReplyObject(im);
        return 0;
    }

    ready = im->element[0]->type == REDIS_REPLY_STRING
            && strcmp(im->element[0]->str, "ready") == 0
            && im->element[1]->type == REDIS_REPLY_STRING
            && im->element[1]->len > 0;
    dir = ready ? im->element[1]->str : "";

    m = rc_cmd(w, "SMEMBERS %s", pkey);

    if (m == NULL || m->type != REDIS_REPLY_ARRAY
        || (m->elements == 0 && (!ready || !may_fill || w->pool_size == 0)))
    {
        /* nothing to look after (the usual case without pools) */
        freeReplyObject(m);
        freeReplyObject(im);
        return 0;
    }

    /* one worker per image at a time; another one at it: its turn */
    if (rc_lock(w, lock, 0) != 0) {
        freeReplyObject(m);
        freeReplyObject(im);
        return 0;
    }

    have = 0;
    filled = 0;
    rc_pool_engine_id(w, engine, sizeof(engine));

    for (i = 0; i < m->elements; i++) {
        if (rc_sandbox_load(w, m->element[i]->str, &sb) != 0) {
            freeReplyObject(rc_cmd(w, "SREM %s %s", pkey,
                                   m->element[i]->str));
            continue;
        }

        if (sb.workspace[0]) {
            /* claimed: not ours to touch */
            continue;
        }

        reason = NULL;

        e = rc_cmd(w, "HMGET " RP_KEY_SANDBOX_PREFIX "%s engine "
                   "prewarm_until prewarm_status", sb.id);

        /* a prewarm's member: no --pool-size one, gone once unclaimed
         * for --prewarm-ttl */
        until = e && e->type == REDIS_REPLY_ARRAY && e->elements == 3
                && e->element[1]->type == REDIS_REPLY_STRING
                ? atoll(e->element[1]->str) : 0;

        if (strcmp(sb.lower, dir) != 0) {
            reason = "stale";

        } else if (e == NULL || e->type != REDIS_REPLY_ARRAY
                   || e->elements != 3
                   || e->element[0]->type != REDIS_REPLY_STRING
                   || strcmp(e->element[0]->str, engine) != 0)
        {
            reason = "engine";

        } else if (until > 0 && rc_now_ms() >= until) {
            reason = "expired";

            /* the API no longer answers ready for it */
            if (e->element[2]->type == REDIS_REPLY_STRING) {
                freeReplyObject(rc_cmd(w, "DEL %s", e->element[2]->str));
            }

        } else {
            w->driver->health(&sb, &h, 0);

            if (!h.running || h.oom_kills > 0) {
                reason = "dead";
            } else if (until == 0 && have >= w->pool_size) {
                reason = "surplus";
            }
        }

        freeReplyObject(e);

        if (reason) {
            rc_pool_drop(w, pkey, &sb, key, reason);
            continue;
        }

        if (until == 0) {
            have++;
        }
    }

    if (ready && may_fill && have < w->pool_size) {
        /* made or failed, it took its time: the next image waits a pass */
        filled = rc_pool_fill(w, key, pkey, dir, engine, have, 0, NULL,
                              NULL) != 1;
    }

    rc_unlock(w);

    freeReplyObject(m);
    freeReplyObject(im);

    return filled;
}


void
rc_pool_tick(rc_worker_t *w)
{
    int          filled;
    size_t       i;
    redisReply  *r;

    r = rc_cmd(w, "SMEMBERS " RP_KEY_IMAGES_PREFIX "%s", w->node);

    filled = 0;

    for (i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        if (r->element[i]->type == REDIS_REPLY_STRING
            && r->element[i]->len == 16)
        {
            filled |= rc_pool_keep(w, r->element[i]->str, !filled);
        }
    }

    freeReplyObject(r);
}


/* KEYS: the node's prewarmed hash; ARGV: sandbox key prefix, org, most
 * per organisation, most per node, reservation field, now (ms), the
 * reservation's end (ms).  Entries no longer waiting (claimed, destroyed,
 * a reservation past its end) go; 1 and the reservation made if there is
 * room, else 0 */
static const char  rc_pool_prewarm_room_lua[] =
    "local all = redis.call('HGETALL', KEYS[1])\n"
    "local n, o = 0, 0\n"
    "for i = 1, #all, 2 do\n"
    "  local f, v = all[i], all[i + 1]\n"
    "  local live\n"
    "  if f:sub(1, 2) == 'r:' then\n"
    "    live = (tonumber(v:match(' (%d+)$')) or 0) > tonumber(ARGV[6])\n"
    "  else\n"
    "    local s = redis.call('HMGET', ARGV[1] .. f, 'state', 'workspace')\n"
    "    live = s[1] == 'pooled' and (s[2] == false or s[2] == '')\n"
    "  end\n"
    "  if live then\n"
    "    n = n + 1\n"
    "    if v:match('^(%S+)') == ARGV[2] then o = o + 1 end\n"
    "  else\n"
    "    redis.call('HDEL', KEYS[1], f)\n"
    "  end\n"
    "end\n"
    "if n >= tonumber(ARGV[4]) or o >= tonumber(ARGV[3]) then return 0 end\n"
    "redis.call('HSET', KEYS[1], ARGV[5], ARGV[2] .. ' ' .. ARGV[7])\n"
    "return 1\n";


/* how many members of the pool a claim on layers "lower" could take now */
static unsigned
rc_pool_claimable(rc_worker_t *w, const char *pkey, const char *lower,
    const char *engine)
{
    size_t       i;
    unsigned     n;
    redisReply  *m, *f;

    n = 0;
    m = rc_cmd(w, "SMEMBERS %s", pkey);

    for (i = 0; m && m->type == REDIS_REPLY_ARRAY && i < m->elements; i++) {
        f = rc_cmd(w, "HMGET " RP_KEY_SANDBOX_PREFIX "%s lower workspace "
                   "engine state", m->element[i]->str);

        if (f && f->type == REDIS_REPLY_ARRAY && f->elements == 4
            && f->element[0]->type == REDIS_REPLY_STRING
            && strcmp(f->element[0]->str, lower) == 0
            && (f->element[1]->type != REDIS_REPLY_STRING
                || f->element[1]->len == 0)
            && f->element[2]->type == REDIS_REPLY_STRING
            && strcmp(f->element[2]->str, engine) == 0
            && f->element[3]->type == REDIS_REPLY_STRING
            && strcmp(f->element[3]->str, "pooled") == 0)
        {
            n++;
        }

        freeReplyObject(f);
    }

    freeReplyObject(m);

    return n;
}


int
rc_pool_prewarm(rc_worker_t *w, const char *org, const char *url,
    const char *lower, const char *status, char *err, size_t errlen)
{
    int           rc, room;
    char          key[17], pkey[128], hkey[128], lock[160], engine[96];
    char          rfield[128], now_s[24], rend_s[24];
    char          max_org[16], max_node[16];
    const char   *argv[11];
    long long     now, until;
    redisReply   *r;
    rc_sandbox_t  sb;

    if (w->prewarm_ttl_s <= 0 || w->prewarm_max == 0
        || w->prewarm_max_org == 0)
    {
        snprintf(err, errlen, "prewarming is off on this machine");
        return -1;
    }

    /* warm sandboxes have serve --disk's size, not the organisation's */
    if (rc_org_disk_max(w, org) != 0) {
        snprintf(err, errlen, "this organisation's workspaces have a disk "
                 "size of their own, which no warm sandbox has");
        return -1;
    }

    rc_image_key(org, url, key);
    snprintf(pkey, sizeof(pkey), RP_KEY_POOL_PREFIX "%s:%s", w->node, key);
    snprintf(hkey, sizeof(hkey), RP_KEY_PREWARMED_PREFIX "%s", w->node);
    snprintf(lock, sizeof(lock), "pool:%s:%s", w->node, key);

    /* the timer's pass of this pool (at most one boot) or another
     * prewarm of it: after it, what it made is counted */
    if (rc_lock(w, lock, w->health_timeout_ms + 5000) != 0) {
        snprintf(err, errlen, "the image's warm pool is busy");
        return -1;
    }

    rc_pool_engine_id(w, engine, sizeof(engine));

    if (rc_pool_claimable(w, pkey, lower, engine) > 0) {
        rc_unlock(w);
        rc_info("prewarm.pooled", "image=%s", key);
        return 0;
    }

    now = rc_now_ms();
    until = now + w->prewarm_ttl_s * 1000;

    snprintf(rfield, sizeof(rfield), "r:%s", w->holder);
    snprintf(now_s, sizeof(now_s), "%lld", now);
    snprintf(rend_s, sizeof(rend_s), "%lld",
             now + w->health_timeout_ms + 60000);
    snprintf(max_org, sizeof(max_org), "%u", w->prewarm_max_org);
    snprintf(max_node, sizeof(max_node), "%u", w->prewarm_max);

    argv[0] = "EVAL";
    argv[1] = rc_pool_prewarm_room_lua;
    argv[2] = "1";
    argv[3] = hkey;
    argv[4] = RP_KEY_SANDBOX_PREFIX;
    argv[5] = org;
    argv[6] = max_org;
    argv[7] = max_node;
    argv[8] = rfield;
    argv[9] = now_s;
    argv[10] = rend_s;

    r = rc_cmdargv(w, 11, argv);
    room = r && r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);

    if (!room) {
        rc_unlock(w);
        snprintf(err, errlen, "enough sandboxes are warming already (at most "
                 "%u per organisation, %u per machine)", w->prewarm_max_org,
                 w->prewarm_max);
        return -1;
    }

    rc = rc_pool_fill(w, key, pkey, lower, engine, 0, until, status, &sb);

    if (rc == 0) {
        /* one argument: "<org> <until>" */
        snprintf(rend_s, sizeof(rend_s), "%lld", until);
        freeReplyObject(rc_cmd(w, "HSET %s %s %s%s%s", hkey, sb.id, org, " ",
                               rend_s));
    }

    freeReplyObject(rc_cmd(w, "HDEL %s %s", hkey, rfield));

    rc_unlock(w);

    if (rc != 0) {
        snprintf(err, errlen, rc == 1 ? "the image's warm pool pauses after "
                 "a failed fill" : "no warm sandbox could be made");
        return -1;
    }

    return 0;
}


/*
 * Sandboxes left by a fill that a crash cut short: no workspace, image
 * layers (so not a build), not in their pool.  A fill takes one boot
 * (--health-timeout at most), so one seen so twice, a minute apart, is
 * left over.  Run about once a minute.
 */
void
rc_pool_orphans(rc_worker_t *w)
{
    int           member;
    size_t        i;
    const char   *id;
    rc_sandbox_t  sb;
    redisReply   *r, *f, *s;

    r = rc_cmd(w, "SMEMBERS " RP_KEY_NODE_SANDBOXES_PREFIX "%s", w->node);

    for (i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        id = r->element[i]->str;

        f = rc_cmd(w, "HMGET " RP_KEY_SANDBOX_PREFIX "%s workspace lower pool "
                   "orphan_seen", id);

        if (f == NULL || f->type != REDIS_REPLY_ARRAY || f->elements != 4
            || (f->element[0]->type == REDIS_REPLY_STRING
                && f->element[0]->len > 0)
            || f->element[1]->type != REDIS_REPLY_STRING
            || f->element[1]->len == 0)
        {
            freeReplyObject(f);
            continue;
        }

        member = 0;

        if (f->element[2]->type == REDIS_REPLY_STRING) {
            s = rc_cmd(w, "SISMEMBER " RP_KEY_POOL_PREFIX "%s:%s %s", w->node,
                       f->element[2]->str, id);
            member = s && s->type == REDIS_REPLY_INTEGER && s->integer == 1;
            freeReplyObject(s);
        }

        if (member) {
            if (f->element[3]->type == REDIS_REPLY_STRING) {
                freeReplyObject(rc_cmd(w, "HDEL " RP_KEY_SANDBOX_PREFIX
                                       "%s orphan_seen", id));
            }

        } else if (f->element[3]->type != REDIS_REPLY_STRING) {
            freeReplyObject(rc_cmd(w, "HSET " RP_KEY_SANDBOX_PREFIX
                                   "%s orphan_seen 1", id));

        } else if (rc_sandbox_load(w, id, &sb) == 0) {
            rc_info("pool.drop", "sandbox=%s reason=orphan", id);
            rc_sandbox_forget(w, &sb);
        }

        freeReplyObject(f);
    }

    freeReplyObject(r);
}

