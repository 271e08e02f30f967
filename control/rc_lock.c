/*
 * Locks: a workspace's (replicas:lock:ws:<id>) and an image build's.  A
 * lock's value names its holder ("consumer" or "consumer:ms"); it is
 * taken with SET NX PX, renewed by its holder's heartbeats, taken over at
 * once from a dead holder (rc_holder_gone, rc_lease.c), and released by
 * the one compare-and-delete every holder uses: the lock is deleted only
 * if it still holds our value, so a holder whose lock expired and was
 * taken over never removes its successor's.
 */

#define _GNU_SOURCE

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "common/rp_keys.h"
#include "rc_log.h"
#include "rc_worker.h"


#define RC_LOCK_RELEASE_LUA                                                 \
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "                        \
    "return redis.call('DEL', KEYS[1]) end return 0"

#define RC_LOCK_RENEW_LUA                                                   \
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "                        \
    "return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0"


void
rc_lock_release(rc_worker_t *w, const char *key, const char *value)
{
    freeReplyObject(rc_cmd(w, "EVAL %s 1 %s %s", RC_LOCK_RELEASE_LUA,
                           key, value));
}


void
rc_lock_renew(rc_worker_t *w, const char *key, const char *value)
{
    freeReplyObject(rc_cmd(w, "EVAL %s 1 %s %s %ld", RC_LOCK_RENEW_LUA,
                           key, value, w->lock_ttl_ms));
}


/* the lock's holder is dead (or is us, before a reconnect): ours now */
static int
rc_lock_takeover(rc_worker_t *w)
{
    int          ok;
    char         held[128];
    redisReply  *r;

    r = rc_cmd(w, "GET %s", w->lock_key);
    ok = r && r->type == REDIS_REPLY_STRING && r->len < sizeof(held);

    if (ok) {
        memcpy(held, r->str, r->len + 1);
    }

    freeReplyObject(r);

    if (!ok || !rc_holder_gone(w, held)) {
        return 0;
    }

    r = rc_cmd(w, "EVAL %s 1 %s %s %s %ld",
        "if redis.call('GET', KEYS[1]) == ARGV[1] then "
        "redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 end "
        "return 0", w->lock_key, held, w->lock_value, w->lock_ttl_ms);
    ok = r && r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);

    if (ok) {
        rc_info("lock.takeover", "lock=%s from=%s", w->lock_key, held);
    }

    return ok;
}


int
rc_lock(rc_worker_t *w, const char *name, long wait_ms)
{
    int              ok;
    long long        start;
    redisReply      *r;
    struct timespec  ts = { 0, 20 * 1000 * 1000 };

    snprintf(w->lock_key, sizeof(w->lock_key), RP_KEY_LOCK_PREFIX "%s",
             name);
    snprintf(w->lock_value, sizeof(w->lock_value), "%s:%lld", w->holder,
             rc_now_ms());

    start = rc_now_ms();

    for ( ;; ) {
        r = rc_cmd(w, "SET %s %s NX PX %ld", w->lock_key, w->lock_value,
                   w->lock_ttl_ms);
        ok = r && r->type == REDIS_REPLY_STATUS;
        freeReplyObject(r);

        if (ok || rc_lock_takeover(w)) {
            return 0;
        }

        if (rc_now_ms() - start >= wait_ms) {
            w->lock_key[0] = '\0';
            return -1;
        }

        rc_worker_beat(w);
        nanosleep(&ts, NULL);
    }
}


void
rc_unlock(rc_worker_t *w)
{
    if (w->lock_key[0] == '\0') {
        return;
    }

    rc_lock_release(w, w->lock_key, w->lock_value);

    if (rc_redis_lost(w)) {
        /* not released: once Redis is back (rc_lock_release_stale), so
         * the job redone does not wait for it to expire */
        memcpy(w->stale_lock_key, w->lock_key, sizeof(w->stale_lock_key));
        memcpy(w->stale_lock_value, w->lock_value,
               sizeof(w->stale_lock_value));
    }

    w->lock_key[0] = '\0';
}


void
rc_lock_release_stale(rc_worker_t *w)
{
    if (w->stale_lock_key[0]) {
        rc_lock_release(w, w->stale_lock_key, w->stale_lock_value);
        w->stale_lock_key[0] = '\0';
    }
}
