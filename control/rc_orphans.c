/*
 * Orphans: what a worker cut short (kill -9, a crash, Redis gone in the
 * middle) left of this machine, removed at start, after Redis came back
 * and once a minute (rc_lifecycle.c):
 *   - a workspace's sandbox the workspace no longer names (a create that
 *     made another one, a workspace gone), judged under its lock;
 *   - a build's sandbox whose builder is dead (its "owner");
 *   - an address slot no sandbox record holds (seen on two passes: a
 *     create takes the slot just before it records its sandbox);
 *   - an image version newer than the image's current one while nobody
 *     builds it (a build that died half-way).
 * Warm pools' leftovers are rc_pool_orphans'.
 */

#define _GNU_SOURCE

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/rp_keys.h"
#include "rc_exec.h"
#include "rc_log.h"
#include "rc_worker.h"


#define RC_ORPHAN_SLOTS_MAX  64


/* slot candidates of the previous pass, "<slot>=<id>" */
static char      rc_orphan_slots[RC_ORPHAN_SLOTS_MAX][48];
static unsigned  rc_orphan_nslots;


static void
rc_orphan_forget(rc_worker_t *w, const char *id, const char *why)
{
    rc_sandbox_t  sb;

    if (rc_sandbox_load(w, id, &sb) != 0) {
        return;
    }

    rc_warn("sandbox.orphan", "sandbox=%s ws=%s why=\"%s\"", id,
            sb.workspace, why);
    rc_sandbox_forget(w, &sb);
}


/* a workspace's sandbox: still the one its workspace names? */
static void
rc_orphan_ws(rc_worker_t *w, const char *id, const char *ws)
{
    char   lock[96], key[96], *state, *named;

    /* a job of the workspace at work: it knows what it makes */
    snprintf(lock, sizeof(lock), "ws:%s", ws);

    if (rc_lock(w, lock, 0) != 0) {
        return;
    }

    snprintf(key, sizeof(key), RP_KEY_WORKSPACE_PREFIX "%s", ws);
    state = rc_hget(w, key, "state");
    named = rc_hget(w, key, "sandbox");

    if (!rc_redis_lost(w)
        && (state == NULL || named == NULL || strcmp(named, id) != 0))
    {
        rc_orphan_forget(w, id, state ? "its workspace has another sandbox"
                                      : "no such workspace");
    }

    free(state);
    free(named);
    rc_unlock(w);
}


static void
rc_orphan_sandboxes(rc_worker_t *w, redisReply *ids)
{
    size_t       i;
    const char  *id;
    redisReply  *f;

    for (i = 0; i < ids->elements && !rc_redis_lost(w); i++) {
        id = ids->element[i]->str;

        f = rc_cmd(w, "HMGET " RP_KEY_SANDBOX_PREFIX "%s workspace lower pool "
                   "owner", id);

        if (f == NULL || f->type != REDIS_REPLY_ARRAY || f->elements != 4) {
            freeReplyObject(f);
            continue;
        }

        if (f->element[0]->type == REDIS_REPLY_STRING
            && f->element[0]->len > 0)
        {
            rc_orphan_ws(w, id, f->element[0]->str);

        } else if (f->element[2]->type != REDIS_REPLY_STRING
                   && (f->element[1]->type != REDIS_REPLY_STRING
                       || f->element[1]->len == 0)
                   && f->element[3]->type == REDIS_REPLY_STRING
                   && rc_holder_gone(w, f->element[3]->str))
        {
            /* no layers, no pool: a build's, and its builder is dead
             * (or was this worker, before Redis went away) */
            rc_orphan_forget(w, id, "its builder is gone");
        }

        freeReplyObject(f);
    }
}


static int
rc_orphan_slot_seen(const char *what)
{
    unsigned  i;

    for (i = 0; i < rc_orphan_nslots; i++) {
        if (strcmp(rc_orphan_slots[i], what) == 0) {
            return 1;
        }
    }

    return 0;
}


static void
rc_orphan_slots_sweep(rc_worker_t *w)
{
    char         what[48], slots_key[160];
    size_t       i;
    unsigned     n;
    redisReply  *r, *e;
    static char  next[RC_ORPHAN_SLOTS_MAX][48];

    snprintf(slots_key, sizeof(slots_key), RP_KEY_NET_SLOTS_PREFIX "%s:%s",
             w->node, w->local.net_name);

    r = rc_cmd(w, "HGETALL %s", slots_key);
    n = 0;

    for (i = 0; r && r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements;
         i += 2)
    {
        e = rc_cmd(w, "EXISTS " RP_KEY_SANDBOX_PREFIX "%s",
                   r->element[i + 1]->str);

        if (e && e->type == REDIS_REPLY_INTEGER && e->integer == 0) {
            snprintf(what, sizeof(what), "%s=%s", r->element[i]->str,
                     r->element[i + 1]->str);

            if (rc_orphan_slot_seen(what)) {
                /* only if it still names that sandbox */
                freeReplyObject(rc_cmd(w, "EVAL %s 1 %s %s %s",
                    "if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] "
                    "then return redis.call('HDEL', KEYS[1], ARGV[1]) end "
                    "return 0", slots_key, r->element[i]->str,
                    r->element[i + 1]->str));
                rc_warn("slot.orphan", "slot=%s sandbox=%s",
                        r->element[i]->str, r->element[i + 1]->str);

            } else if (n < RC_ORPHAN_SLOTS_MAX) {
                memcpy(next[n++], what, sizeof(what));
            }
        }

        freeReplyObject(e);
    }

    freeReplyObject(r);

    memcpy(rc_orphan_slots, next, sizeof(next[0]) * n);
    rc_orphan_nslots = n;
}


/* the version's build time: versions are "<unix time>-<random>" */
static long
rc_orphan_version_at(const char *path)
{
    const char  *base;

    base = strrchr(path, '/');

    return strtol(base ? base + 1 : path, NULL, 10);
}


/* versions of one image newer than its current one, nobody building */
static void
rc_orphan_versions(rc_worker_t *w, const char *key)
{
    long            cur_at, at;
    char            dir[RC_SANDBOX_PATH_MAX], path[RC_SANDBOX_PATH_MAX + 160];
    char            lock[160], ikey[128], *held, *cur;
    char            names[64][128];
    unsigned        n, i;
    DIR            *d;
    redisReply     *r;
    struct dirent  *e;

    snprintf(dir, sizeof(dir), "%s/images/%s", w->home, key);

    /* listed first: a version made after this is not looked at */
    d = opendir(dir);
    if (d == NULL) {
        return;
    }

    n = 0;

    while ((e = readdir(d)) != NULL && n < 64) {
        if (e->d_name[0] != '.' && strlen(e->d_name) < sizeof(names[0])) {
            memcpy(names[n++], e->d_name, strlen(e->d_name) + 1);
        }
    }

    closedir(d);

    /* then its builder: at work (and alive), nothing is half-built */
    /* key: an image folder's name, 16 hex digits (the caller checks) */
    snprintf(lock, sizeof(lock), RP_KEY_LOCK_PREFIX "image:%s:%.16s",
             w->node, key);
    snprintf(ikey, sizeof(ikey), RP_KEY_IMAGE_PREFIX "%s:%.16s", w->node,
             key);

    r = rc_cmd(w, "GET %s", lock);
    held = r && r->type == REDIS_REPLY_STRING ? strdup(r->str) : NULL;
    freeReplyObject(r);

    if (rc_redis_lost(w) || (held && !rc_holder_gone(w, held))) {
        free(held);
        return;
    }

    free(held);

    /* then the current version (a build that ended has set it) */
    cur = rc_hget(w, ikey, "dir");

    if (rc_redis_lost(w)) {
        free(cur);
        return;
    }

    cur_at = cur ? rc_orphan_version_at(cur) : 0;

    for (i = 0; i < n; i++) {
        if ((size_t) snprintf(path, sizeof(path), "%s/%s", dir, names[i])
            >= sizeof(path))
        {
            continue;
        }
        at = rc_orphan_version_at(path);

        /* older ones are the refresh's to remove (rc_image_gc) */
        if (at <= 0 || at < cur_at || (cur && strncmp(path, cur, strlen(cur))
                                              == 0))
        {
            continue;
        }

        rc_warn("image.orphan", "image=%s version=%s", key, names[i]);
        (void) rc_rmtree(path);
    }

    free(cur);
}


static void
rc_orphan_images(rc_worker_t *w)
{
    char            dir[RC_SANDBOX_PATH_MAX];
    DIR            *d;
    struct dirent  *e;

    snprintf(dir, sizeof(dir), "%s/images", w->home);

    d = opendir(dir);
    if (d == NULL) {
        return;
    }

    while ((e = readdir(d)) != NULL && !rc_redis_lost(w)) {
        if (e->d_name[0] != '.' && strlen(e->d_name) == 16) {
            rc_orphan_versions(w, e->d_name);
        }
    }

    closedir(d);
}


void
rc_orphans_sweep(rc_worker_t *w)
{
    redisReply  *ids;

    ids = rc_cmd(w, "SMEMBERS " RP_KEY_NODE_SANDBOXES_PREFIX "%s", w->node);

    if (ids == NULL || ids->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(ids);
        return;
    }

    rc_orphan_sandboxes(w, ids);
    freeReplyObject(ids);

    if (!rc_redis_lost(w)) {
        rc_orphan_slots_sweep(w);
    }

    if (!rc_redis_lost(w)) {
        rc_orphan_images(w);
    }
}
