/*
 * The control worker ("replicas-control serve"): shared declarations of
 *   rc_serve.c       the job loop: consumer group, reclaim, dispatch
 *   rc_redis.c       commands, replies, MULTI/EXEC (with rc_redis.h)
 *   rc_lease.c       the worker's lease and heartbeats; dead holders
 *   rc_jobs.c        create, wake, sleep, delete, message
 *   rc_sandboxes.c   sandbox records in Redis, addresses, start + health
 *   rc_image.c       per-repository images: clone, warm hook, rebuilds
 *   rc_pool.c        warm pools: booted sandboxes per image, claims
 *   rc_lifecycle.c   timers: dead sandboxes, auto-sleep, auto-delete
 *   rc_lock.c        locks: try, renew, take over, release
 *   rc_pulls.c       which pull requests were merged (rc_pulls.h)
 */

#ifndef RC_WORKER_H
#define RC_WORKER_H

#include <pthread.h>
#include <stddef.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "rc_repo_url.h"
#include "rc_sandbox.h"


typedef struct {
    redisContext               *redis;
    char                        consumer[96];  /* "<node>-<pid>" */
    char                        node[64];
    /* who holds this thread's locks and builds: "<consumer>/<thread>";
     * siblings of a live process are never taken for dead */
    char                        holder[112];
    const rc_sandbox_driver_t  *driver;
    rc_local_conf_t             local;
    const char                 *home;

    unsigned                    pool_size;       /* warm sandboxes */
    long                        prewarm_ttl_s;   /* a prewarm's sandbox,
                                                    unclaimed, lives */
    unsigned                    prewarm_max;     /* prewarmed per node */
    unsigned                    prewarm_max_org; /* and per organisation */
    long                        reclaim_ms;      /* a dead worker's job */
    long                        idle_sleep_s;    /* auto-sleep */
    long                        delete_after_s;  /* auto-delete asleep */
    long                        deep_sleep_s;    /* frozen, then stopped */
    long                        image_refresh_s; /* rebuild check */
    long                        health_timeout_ms;

    rc_repo_policy_t            repo_policy;     /* local roots, allowed
                                                    address ranges */
    const char                 *platform_url;    /* the gateway, as seen
                                                    from sandboxes */
    const char                 *platform_host;   /* its Host: domain:port */

    int                         have_secrets;
    unsigned char               secrets[32];

    /* the job in hand: heartbeats keep it and its lock ours */
    char                        job_id[64];
    char                        lock_key[128];
    char                        lock_value[128];
    char                        build_lock_key[160];  /* an image build's,
                                                         value: holder */
    /* a lock left held when Redis went away: released once it is back */
    char                        stale_lock_key[128];
    char                        stale_lock_value[128];
    long                        lock_ttl_ms;     /* locks outlive a dead
                                                    worker this long */
    long long                   last_beat;

    /* liveness: replicas:worker:<consumer>, renewed every second; a
     * worker whose lease is gone (or, on this node, whose process is)
     * has its jobs and locks taken over at once */
    long                        lease_ms;
    long long                   last_lease;
    long long                   last_takeover;
    int                         redo_own;        /* after a reconnect */
    long long                   last_orphans;
} rc_worker_t;


/* rc_serve.c */
int rc_serve_main(redisContext *redis, int argc, char **argv);

/* rc_lease.c: the lease (at most once a second) */
void rc_worker_lease(rc_worker_t *w);
/* the heartbeat of a long job: lease, job in hand, its locks */
void rc_worker_beat(void *worker);
/* 1 if the lock value ("consumer" or "consumer:ms") belongs to this
 * worker or to one that is dead (its lease gone; on this node, its
 * process): the lock may be taken over at once */
int rc_holder_gone(rc_worker_t *w, const char *value);

/* rc_lock.c: a short exclusive hold on "name" (a workspace, an image),
 * waiting at most wait_ms; 0 or -1.  One at a time per rc_worker_t */
int rc_lock(rc_worker_t *w, const char *name, long wait_ms);
void rc_unlock(rc_worker_t *w);
/* delete the lock "key" if it still holds "value" */
void rc_lock_release(rc_worker_t *w, const char *key, const char *value);
/* its expiry pushed to lock_ttl_ms if it still holds "value" */
void rc_lock_renew(rc_worker_t *w, const char *key, const char *value);
/* the lock rc_unlock could not release (Redis was gone), released now */
void rc_lock_release_stale(rc_worker_t *w);

/* rc_redis.c: commands, errors logged (a NULL reply: Redis went away) */
redisReply *rc_cmd(rc_worker_t *w, const char *fmt, ...);
redisReply *rc_cmdargv(rc_worker_t *w, int argc, const char **argv);
/* HGET as a malloc'ed string, NULL if missing */
char *rc_hget(rc_worker_t *w, const char *key, const char *field);
/* a field's value in a reply of name/value pairs (a stream entry's
 * fields, HGETALL), or "" */
const char *rc_field(redisReply *fields, const char *name);
/* 1 when Redis went away under us: what was being done did not happen */
int rc_redis_lost(rc_worker_t *w);
/* XADD a job; fields are name, value pairs, NULL-terminated */
int rc_enqueue(rc_worker_t *w, const char *type, const char *ws, ...);
/* a new connection to the same Redis (a job thread's own) */
redisContext *rc_redis_connect_like(redisContext *c);
/* waits (backoff 0.1 s doubling to 2 s) until Redis answers again, or
 * *stop */
void rc_redis_reconnect(rc_worker_t *w, volatile int *stop);

/* rc_dispatch.c: --jobs threads running jobs, one at a time per
 * workspace.  add: an entry read from the stream queued (once);
 * room: how many more to read; keep: queued ones kept ours (XCLAIM);
 * redo: 1 once if a thread lost Redis (read our pending entries again) */
int rc_dispatch_start(rc_worker_t *w, unsigned n);
unsigned rc_dispatch_room(void);
void rc_dispatch_add(redisReply *entry, int reclaimed);
void rc_dispatch_keep(rc_worker_t *w);
int rc_dispatch_redo(void);
void rc_dispatch_stop(void);

/* rc_jobs.c: 0 done (ack), -1 failed in a way worth retrying (no ack) */
int rc_job_run(rc_worker_t *w, const char *type, const char *ws,
    redisReply *fields);
/* records the ports the workspace's servers listen on (before a sleep),
 * which a wake waits for before it lets requests through */
void rc_ws_remember_ports(rc_worker_t *w, const char *ws, const char *addr);
/* rc_history.c: before a sleep, the engine's events and git state saved
 * (what a sleeping workspace shows); forgotten with the workspace */
void rc_history_save(rc_worker_t *w, const char *ws, const char *addr);
void rc_history_forget(rc_worker_t *w, const char *ws);
/* the workspace's "git" (rc_git_state_text's text) and "git_at" written
 * and announced, only if it changed and the workspace is not deleted (the
 * sleep's writer and, live, the watch's: then only while it is awake and
 * no job holds it): 1 written, 0 nothing to write, -2 not now (live),
 * -1 Redis failed */
int rc_history_git_put(rc_worker_t *w, const char *ws, const char *text,
    int live);
/* state change + announcement, with a reason for failed */
int rc_ws_set_state(rc_worker_t *w, const char *ws, const char *state,
    const char *reason);
/* the workspace's queued messages tried again later, with backoff
 * (replicas:deliver-due), never given up while it exists */
void rc_ws_deliver_later(rc_worker_t *w, const char *ws);

/* rc_sandboxes.c */
/* lower: image layers; or bind: a directory used as the disk (builds) */
int rc_sandbox_new(rc_worker_t *w, rc_sandbox_t *sb, const char *lower,
    const char *bind, const char *workspace, char *err, size_t errlen);
int rc_sandbox_load(rc_worker_t *w, const char *id, rc_sandbox_t *sb);
int rc_sandbox_save(rc_worker_t *w, rc_sandbox_t *sb, const char *state);
void rc_sandbox_forget(rc_worker_t *w, rc_sandbox_t *sb);
/* the organisation's own disk size for its workspaces (its record's
 * disk_mib, set by the operator), bytes; 0: serve --disk */
unsigned long long rc_org_disk_max(rc_worker_t *w, const char *org);

/* 1 if its maker was cut short before it was made ("creating") */
int rc_sandbox_half_made(rc_worker_t *w, rc_sandbox_t *sb);
/* starts the engine and waits for /healthz; 0 or -1 with err */
int rc_sandbox_boot(rc_worker_t *w, rc_sandbox_t *sb, char *err,
    size_t errlen);

/* rc_image.c: the image layers ("dir:dir") for a workspace's
 * repositories, built if needed; hooks and prompt from the first repo */
typedef struct {
    char     lower[RC_SANDBOX_PATH_MAX];
    json_t  *repos;          /* [{name, url, dir}] */
    json_t  *start_hooks;    /* [{name, hook}] */
    char    *system_prompt;
} rc_images_t;

int rc_images_ensure(rc_worker_t *w, const char *org, json_t *urls,
    const char *token, rc_images_t *out, char *err, size_t errlen);
void rc_images_free(rc_images_t *im);
/* an image's key: per organisation and repository URL (16 hex) */
void rc_image_key(const char *org, const char *url, char key[17]);
/* scheduled rebuilds: 1 while this worker's refresh child runs (reaps
 * it once it ended); check: the image of this machine due longest, in a
 * child which rebuilds it if its default branch moved */
int rc_image_refresh_busy(rc_worker_t *w);
void rc_image_refresh_check(rc_worker_t *w);

/* rc_pool.c: warm pools.  claim: 0 and sb (booted, healthy, now the
 * workspace's, recorded on both sides) if the image of the workspace's one
 * repository has a ready sandbox on layers "lower"; -1: the cold path */
int rc_pool_claim(rc_worker_t *w, const char *ws, const char *org,
    json_t *urls, const char *lower, const char *names, rc_sandbox_t *sb);
/* the prewarm job: the pool of org's image of url (built on "lower") has
 * a sandbox to claim, made now if none (marked to go unclaimed after
 * --prewarm-ttl; its status key dropped by the claim); 0 or -1 with err */
int rc_pool_prewarm(rc_worker_t *w, const char *org, const char *url,
    const char *lower, const char *status, char *err, size_t errlen);
/* timers: drop dead/stale/surplus members, make at most one new one */
void rc_pool_tick(rc_worker_t *w);
/* timers, once a minute: sandboxes of fills a crash cut short */
void rc_pool_orphans(rc_worker_t *w);

/* rc_orphans.c: sandboxes, records, address slots and half-built image
 * versions nobody owns (no workspace, no live builder, no pool) removed */
void rc_orphans_sweep(rc_worker_t *w);

/* rc_pulls.c: the pull request poller's thread (rc_pulls.h), its own
 * connection like w's; per_minute 0: none.  1 started, 0 off, -1 failed;
 * stop: joins it once *stop is set */
int rc_pulls_start(rc_worker_t *w, const char *api, unsigned per_minute,
    long every_s, volatile int *stop, pthread_t *thread);
void rc_pulls_stop(pthread_t thread);

/* rc_lifecycle.c: called about once a second */
void rc_lifecycle_tick(rc_worker_t *w);

#endif /* RC_WORKER_H */
