/*
 * Sandbox records: which sandboxes exist on which machine, their address
 * slot and disk layers, whom they serve.  The driver makes them real; the
 * record in Redis is how any worker on the machine finds them again.
 */

#define _GNU_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rp_keys.h"
#include "common/rp_token.h"
#include "rc_engine.h"
#include "rc_log.h"
#include "rc_worker.h"


static int
rc_slot_take(rc_worker_t *w, const char *id, unsigned *slot)
{
    int          got;
    unsigned     n, i, start;
    char         rnd[8];
    redisReply  *r;

    n = rc_sandbox_local_slots();

    if (rp_random_id(6, rnd) != 0) {
        return -1;
    }

    start = (unsigned) strtoul(rnd, NULL, 36) % n;

    /* from a random place, so workers rarely race for the same slot */
    for (i = 0; i < n; i++) {
        *slot = (start + i) % n;

        r = rc_cmd(w, "HSETNX " RP_KEY_NET_SLOTS_PREFIX "%s:%s %u %s",
                   w->node, w->local.net_name, *slot, id);
        if (r == NULL) {
            return -1;
        }

        got = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
        freeReplyObject(r);

        if (got) {
            return 0;
        }
    }

    return -1;
}


int
rc_sandbox_save(rc_worker_t *w, rc_sandbox_t *sb, const char *state)
{
    char         slot[16];
    const char  *argv[20];
    redisReply  *r;
    int          ok;
    char         key[64];

    snprintf(key, sizeof(key), RP_KEY_SANDBOX_PREFIX "%s", sb->id);
    snprintf(slot, sizeof(slot), "%u", sb->slot);

    argv[0] = "HSET";
    argv[1] = key;
    argv[2] = "node";
    argv[3] = w->node;
    argv[4] = "driver";
    argv[5] = w->driver->name;
    argv[6] = "slot";
    argv[7] = slot;
    argv[8] = "addr";
    argv[9] = sb->addr;
    argv[10] = "lower";
    argv[11] = sb->lower;
    argv[12] = "workspace";
    argv[13] = sb->workspace;
    argv[14] = "state";
    argv[15] = state;

    r = rc_cmdargv(w, 16, argv);
    ok = r && r->type == REDIS_REPLY_INTEGER;
    freeReplyObject(r);

    freeReplyObject(rc_cmd(w, "SADD " RP_KEY_NODE_SANDBOXES_PREFIX "%s %s",
                           w->node, sb->id));

    return ok ? 0 : -1;
}


int
rc_sandbox_load(rc_worker_t *w, const char *id, rc_sandbox_t *sb)
{
    size_t       i;
    const char  *k, *v;
    redisReply  *r;

    memset(sb, 0, sizeof(*sb));

    r = rc_cmd(w, "HGETALL " RP_KEY_SANDBOX_PREFIX "%s", id);

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
        freeReplyObject(r);
        return -1;
    }

    snprintf(sb->id, sizeof(sb->id), "%s", id);

    for (i = 0; i + 1 < r->elements; i += 2) {
        k = r->element[i]->str;
        v = r->element[i + 1]->str;

        if (strcmp(k, "slot") == 0) {
            sb->slot = (unsigned) strtoul(v, NULL, 10);
        } else if (strcmp(k, "addr") == 0) {
            snprintf(sb->addr, sizeof(sb->addr), "%s", v);
        } else if (strcmp(k, "lower") == 0) {
            snprintf(sb->lower, sizeof(sb->lower), "%s", v);
        } else if (strcmp(k, "workspace") == 0) {
            snprintf(sb->workspace, sizeof(sb->workspace), "%s", v);
        } else if (strcmp(k, "node") == 0 && strcmp(v, w->node) != 0) {
            /* another machine's: its disk is not here */
            freeReplyObject(r);
            return -1;
        }
    }

    freeReplyObject(r);

    return 0;
}


unsigned long long
rc_org_disk_max(rc_worker_t *w, const char *org)
{
    char                *v;
    char                 key[96];
    unsigned long long   mib;

    if (org == NULL || org[0] == '\0') {
        return 0;
    }

    snprintf(key, sizeof(key), RP_KEY_ORG_PREFIX "%s", org);
    v = rc_hget(w, key, "disk_mib");
    mib = v ? strtoull(v, NULL, 10) : 0;
    free(v);

    /* what serve --disk accepts, no less */
    return mib >= 32 ? mib << 20 : 0;
}


/* a workspace's sandbox: its organisation's disk size, if it has one */
static unsigned long long
rc_ws_disk_max(rc_worker_t *w, const char *workspace)
{
    char                *org;
    char                 key[96];
    unsigned long long   max;

    if (workspace[0] == '\0') {
        return 0;
    }

    snprintf(key, sizeof(key), RP_KEY_WORKSPACE_PREFIX "%s", workspace);
    org = rc_hget(w, key, "org");
    max = rc_org_disk_max(w, org);
    free(org);

    return max;
}


/* the worker making it (a build's sandbox is an orphan once its builder
 * is dead) and, for a workspace's, the workspace's "sandbox" */
static int
rc_sandbox_owned(rc_worker_t *w, rc_sandbox_t *sb)
{
    int          ok;
    redisReply  *r;

    r = rc_cmd(w, "HSET " RP_KEY_SANDBOX_PREFIX "%s owner %s", sb->id,
               w->holder);
    ok = r && r->type == REDIS_REPLY_INTEGER;
    freeReplyObject(r);

    if (!ok || sb->workspace[0] == '\0') {
        return ok ? 0 : -1;
    }

    r = rc_cmd(w, "HSET " RP_KEY_WORKSPACE_PREFIX "%s sandbox %s node %s",
               sb->workspace, sb->id, w->node);
    ok = r && r->type == REDIS_REPLY_INTEGER;
    freeReplyObject(r);

    return ok ? 0 : -1;
}


int
rc_sandbox_half_made(rc_worker_t *w, rc_sandbox_t *sb)
{
    int    half;
    char   key[64], *state;

    snprintf(key, sizeof(key), RP_KEY_SANDBOX_PREFIX "%s", sb->id);
    state = rc_hget(w, key, "state");
    half = state == NULL || strcmp(state, "creating") == 0;
    free(state);

    return half;
}


int
rc_sandbox_new(rc_worker_t *w, rc_sandbox_t *sb, const char *lower,
    const char *bind, const char *workspace, char *err, size_t errlen)
{
    memset(sb, 0, sizeof(*sb));

    if (rp_random_id(RC_SANDBOX_ID_LEN, sb->id) != 0) {
        snprintf(err, errlen, "no randomness for a sandbox id");
        return -1;
    }

    sb->id[RC_SANDBOX_ID_LEN] = '\0';
    snprintf(sb->lower, sizeof(sb->lower), "%s", lower ? lower : "");
    snprintf(sb->bind, sizeof(sb->bind), "%s", bind ? bind : "");
    snprintf(sb->workspace, sizeof(sb->workspace), "%s", workspace);
    sb->disk_max = rc_ws_disk_max(w, workspace);

    if (rc_slot_take(w, sb->id, &sb->slot) != 0) {
        snprintf(err, errlen, "no free sandbox address on %s", w->node);
        return -1;
    }

    rc_sandbox_local_slot_addr(sb->slot, sb->addr, sizeof(sb->addr));

    /* recorded before it exists, with who makes it and on the workspace's
     * side too, so a redone job, or the orphan sweep, finds what to clean
     * (rc_orphans.c) */
    if (rc_sandbox_save(w, sb, "creating") != 0
        || rc_sandbox_owned(w, sb) != 0)
    {
        snprintf(err, errlen, "cannot record sandbox %s", sb->id);
        return -1;
    }

    if (w->driver->create(sb, err, errlen) != 0) {
        rc_sandbox_forget(w, sb);
        return -1;
    }

    rc_info("sandbox.created", "sandbox=%s addr=%s ws=%s", sb->id, sb->addr,
            workspace);

    return 0;
}


/* 1 if the reply says the write happened */
static int
rc_wrote(redisReply *r)
{
    int  ok;

    ok = r && r->type != REDIS_REPLY_ERROR;
    freeReplyObject(r);

    return ok;
}


void
rc_sandbox_forget(rc_worker_t *w, rc_sandbox_t *sb)
{
    int  ok;

    if (w->driver->destroy(sb) != 0) {
        rc_warn("sandbox.destroy_failed", "sandbox=%s", sb->id);
    }

    /* the record last: while it is there, the sweep finds the rest */
    ok = rc_wrote(rc_cmd(w, "HDEL " RP_KEY_NET_SLOTS_PREFIX "%s:%s %u",
                         w->node, w->local.net_name, sb->slot));
    ok = ok && rc_wrote(rc_cmd(w, "SREM " RP_KEY_NODE_SANDBOXES_PREFIX
                               "%s %s", w->node, sb->id));
    ok = ok && rc_wrote(rc_cmd(w, "DEL " RP_KEY_SANDBOX_PREFIX "%s",
                               sb->id));

    if (!ok) {
        /* the orphan sweep finishes it once Redis is back */
        rc_warn("sandbox.forget_failed", "sandbox=%s ws=%s", sb->id,
                sb->workspace);
        return;
    }

    rc_info("sandbox.destroyed", "sandbox=%s ws=%s", sb->id, sb->workspace);
}


int
rc_sandbox_boot(rc_worker_t *w, rc_sandbox_t *sb, char *err, size_t errlen)
{
    char                 key[96], *desktop;
    long long            start;
    rc_sandbox_run_t     run;
    rc_sandbox_health_t  h;

    memset(&run, 0, sizeof(run));
    start = rc_now_ms();

    /* a warm sandbox of a repository without a desktop starts without
     * one (rc_pool.c records it), and stays so through sleeps */
    snprintf(key, sizeof(key), RP_KEY_SANDBOX_PREFIX "%s", sb->id);
    desktop = rc_hget(w, key, "desktop");
    run.no_desktop = desktop && strcmp(desktop, "off") == 0;
    free(desktop);

    if (w->driver->start(sb, &run, err, errlen) != 0) {
        return -1;
    }

    /* in short waits, so a sandbox that could not start (bwrap refused a
     * bind source, say) fails at once with its reason, not a timeout */
    for ( ;; ) {
        if (rc_engine_wait_healthy(w->driver->address(sb), 250,
                                   rc_worker_beat, w) == 0)
        {
            break;
        }

        w->driver->health(sb, &h, 0);

        if (!h.running) {
            snprintf(err, errlen, "%s", h.why[0] ? h.why
                     : "the sandbox stopped while its engine started");
            (void) w->driver->stop(sb);
            return -1;
        }

        if (rc_now_ms() - start >= w->health_timeout_ms) {
            snprintf(err, errlen, "the engine did not answer within %ld ms",
                     w->health_timeout_ms);
            (void) w->driver->stop(sb);
            return -1;
        }
    }

    rc_info("sandbox.healthy", "sandbox=%s ws=%s ms=%lld", sb->id,
            sb->workspace, rc_now_ms() - start);

    return 0;
}
