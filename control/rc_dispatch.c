/*
 * The job loop's workers: jobs of different workspaces run at once, on
 * --jobs threads, one at a time per workspace (a wake never waits behind
 * another workspace's create, and two jobs of one workspace never race
 * for its lock).  rc_serve.c reads the stream and hands entries here; a
 * thread takes the oldest queued job whose workspace has none running.
 *
 * Each thread has its own rc_worker_t (a copy of the loop's settings) and
 * its own Redis connection, so its job's heartbeats (XCLAIM to this
 * consumer, lock renewal) and locks are its own.  A job is acknowledged
 * by the thread that did it, once done; one cut short stays pending in
 * the stream (this consumer's) and is redone: after a lost Redis the
 * thread reconnects and asks the loop to read this consumer's pending
 * entries again (rc_dispatch_redo), which skips those queued or running.
 */

#define _GNU_SOURCE

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/rp_keys.h"
#include "rc_engine.h"
#include "rc_log.h"
#include "rc_worker.h"


#define RC_JOB_TRIES_MAX   5
#define RC_DISPATCH_MAX    64       /* --jobs at most */
#define RC_QUEUE_MAX       256      /* read ahead, waiting for a thread */


typedef struct {
    char  id[64];
    char  ws[64];
    int   reclaimed;
} rc_job_ref_t;


typedef struct {
    pthread_t      tid;
    rc_worker_t    w;
    rc_job_ref_t   job;            /* id[0]: idle */
} rc_dispatch_thread_t;


static pthread_mutex_t        rc_dispatch_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t         rc_dispatch_cv = PTHREAD_COND_INITIALIZER;
static rc_job_ref_t           rc_queue[RC_QUEUE_MAX];
static unsigned               rc_nqueue;
static rc_dispatch_thread_t  *rc_threads;
static unsigned               rc_nthreads;
static volatile int           rc_dispatch_quit;
static volatile int           rc_dispatch_redo_flag;


/* how many times this job was handed out (a crash loop ends somewhere) */
static long long
rc_job_deliveries(rc_worker_t *w, const char *id)
{
    long long    n;
    redisReply  *r;

    r = rc_cmd(w, "XPENDING " RP_KEY_JOBS " " RP_JOBS_GROUP " %s %s 1", id,
               id);

    n = 1;

    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 1
        && r->element[0]->type == REDIS_REPLY_ARRAY
        && r->element[0]->elements == 4)
    {
        n = r->element[0]->element[3]->integer;
    }

    freeReplyObject(r);

    return n;
}


static void
rc_dispatch_run(rc_worker_t *w, redisReply *entry, int reclaimed)
{
    int          rc;
    long long    start, tries;
    const char  *id, *type, *ws;
    redisReply  *fields, *r;

    if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2
        || entry->element[0]->type != REDIS_REPLY_STRING)
    {
        return;
    }

    id = entry->element[0]->str;
    fields = entry->element[1]->type == REDIS_REPLY_ARRAY
             ? entry->element[1] : NULL;
    type = rc_field(fields, "type");
    ws = rc_field(fields, "workspace");

    snprintf(w->job_id, sizeof(w->job_id), "%s", id);
    w->last_beat = rc_now_ms();

    tries = reclaimed ? rc_job_deliveries(w, id) : 1;
    start = rc_now_ms();

    rc_info("job.start", "job=%s type=%s ws=%s reclaimed=%d tries=%lld", id,
            type, ws, reclaimed, tries);

    if (tries > RC_JOB_TRIES_MAX && strcmp(type, "message") == 0) {
        /* messages are never given up: they wait in their list, tried
         * again with backoff off this job */
        rc_warn("job.deferred", "job=%s type=%s ws=%s tries=%lld", id, type,
                ws, tries);
        rc_ws_deliver_later(w, ws);
        rc = 0;

    } else if (tries > RC_JOB_TRIES_MAX) {
        rc_error("job.abandoned", "job=%s type=%s ws=%s tries=%lld", id, type,
                 ws, tries);
        rc = 0;

    } else {
        rc = rc_job_run(w, type, ws, fields);
    }

    rc_unlock(w);

    /* done only once Redis has it: a job cut short by a lost Redis stays
     * pending and is redone (it is idempotent) once Redis is back */
    if (rc == 0 && !rc_redis_lost(w)) {
        r = rc_cmd(w, "XACK " RP_KEY_JOBS " " RP_JOBS_GROUP " %s", id);
        rc = r && r->type == REDIS_REPLY_INTEGER ? 0 : -1;
        freeReplyObject(r);

    } else {
        rc = -1;
    }

    if (rc == 0) {
        rc_info("job.done", "job=%s type=%s ws=%s ms=%lld", id, type, ws,
                rc_now_ms() - start);

    } else {
        rc_info("job.retry", "job=%s type=%s ws=%s ms=%lld%s", id, type, ws,
                rc_now_ms() - start,
                rc_redis_lost(w) ? " reason=redis_lost" : "");
    }

    w->job_id[0] = '\0';
}


/* the oldest queued job whose workspace has none running; under the lock */
static int
rc_dispatch_next(rc_job_ref_t *out)
{
    unsigned  i, t;
    int       busy;

    for (i = 0; i < rc_nqueue; i++) {
        busy = 0;

        for (t = 0; t < rc_nthreads && !busy; t++) {
            busy = rc_threads[t].job.id[0]
                   && rc_queue[i].ws[0]
                   && strcmp(rc_threads[t].job.ws, rc_queue[i].ws) == 0;
        }

        /* an earlier queued job of the same workspace goes first */
        for (t = 0; t < i && !busy; t++) {
            busy = rc_queue[i].ws[0]
                   && strcmp(rc_queue[t].ws, rc_queue[i].ws) == 0;
        }

        if (!busy) {
            *out = rc_queue[i];
            memmove(&rc_queue[i], &rc_queue[i + 1],
                    (rc_nqueue - i - 1) * sizeof(rc_queue[0]));
            rc_nqueue--;
            return 1;
        }
    }

    return 0;
}


static void *
rc_dispatch_thread(void *data)
{
    rc_dispatch_thread_t  *th = data;
    rc_worker_t           *w = &th->w;
    rc_job_ref_t           job;
    redisReply            *r;

    for ( ;; ) {
        pthread_mutex_lock(&rc_dispatch_mu);

        while (!rc_dispatch_quit && !rc_dispatch_next(&job)) {
            pthread_cond_wait(&rc_dispatch_cv, &rc_dispatch_mu);
        }

        if (rc_dispatch_quit) {
            pthread_mutex_unlock(&rc_dispatch_mu);
            break;
        }

        th->job = job;
        pthread_mutex_unlock(&rc_dispatch_mu);

        if (rc_redis_lost(w)) {
            rc_redis_reconnect(w, &rc_dispatch_quit);
        }

        /* the entry as the stream has it now */
        r = rc_cmd(w, "XRANGE " RP_KEY_JOBS " %s %s", job.id, job.id);

        if (r == NULL && rc_redis_lost(w)) {
            /* this thread's connection died with a Redis restart while
             * it waited (nothing told it): again on a new one, rather
             * than handing the job back, which would count a delivery
             * per idle thread until the job is abandoned */
            rc_redis_reconnect(w, &rc_dispatch_quit);
            r = rc_cmd(w, "XRANGE " RP_KEY_JOBS " %s %s", job.id, job.id);
        }

        if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 1) {
            rc_dispatch_run(w, r->element[0], job.reclaimed);

        } else if (r && r->type == REDIS_REPLY_ARRAY) {
            /* trimmed from the stream: nothing left to do */
            freeReplyObject(rc_cmd(w, "XACK " RP_KEY_JOBS " " RP_JOBS_GROUP
                                   " %s", job.id));
        }

        freeReplyObject(r);

        if (rc_redis_lost(w)) {
            /* what this job did not finish is redone once Redis is back */
            rc_redis_reconnect(w, &rc_dispatch_quit);
            rc_lock_release_stale(w);
            rc_dispatch_redo_flag = 1;
        }

        pthread_mutex_lock(&rc_dispatch_mu);
        th->job.id[0] = '\0';
        th->job.ws[0] = '\0';
        pthread_cond_broadcast(&rc_dispatch_cv);
        pthread_mutex_unlock(&rc_dispatch_mu);
    }

    rc_engine_thread_done();

    return NULL;
}


int
rc_dispatch_start(rc_worker_t *w, unsigned n)
{
    unsigned  i;

    if (n == 0 || n > RC_DISPATCH_MAX) {
        return -1;
    }

    rc_threads = calloc(n, sizeof(rc_threads[0]));
    if (rc_threads == NULL) {
        return -1;
    }

    for (i = 0; i < n; i++) {
        rc_threads[i].w = *w;
        snprintf(rc_threads[i].w.holder, sizeof(rc_threads[i].w.holder),
                 "%s/j%u", w->consumer, i);
        rc_threads[i].w.redis = rc_redis_connect_like(w->redis);

        if (rc_threads[i].w.redis == NULL) {
            return -1;
        }

        if (pthread_create(&rc_threads[i].tid, NULL, rc_dispatch_thread,
                           &rc_threads[i]) != 0)
        {
            return -1;
        }

        rc_nthreads++;
    }

    return 0;
}


unsigned
rc_dispatch_room(void)
{
    unsigned  room;

    pthread_mutex_lock(&rc_dispatch_mu);
    room = rc_nqueue < rc_nthreads ? rc_nthreads - rc_nqueue : 0;
    pthread_mutex_unlock(&rc_dispatch_mu);

    return room;
}


void
rc_dispatch_add(redisReply *entry, int reclaimed)
{
    unsigned     i;
    const char  *id, *ws;
    redisReply  *fields;

    if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2
        || entry->element[0]->type != REDIS_REPLY_STRING
        || entry->element[0]->len >= sizeof(rc_queue[0].id))
    {
        return;
    }

    id = entry->element[0]->str;
    fields = entry->element[1]->type == REDIS_REPLY_ARRAY
             ? entry->element[1] : NULL;
    ws = rc_field(fields, "workspace");

    pthread_mutex_lock(&rc_dispatch_mu);

    /* read twice (our own pending entries again, a reclaim): once */
    for (i = 0; i < rc_nqueue; i++) {
        if (strcmp(rc_queue[i].id, id) == 0) {
            goto done;
        }
    }

    for (i = 0; i < rc_nthreads; i++) {
        if (strcmp(rc_threads[i].job.id, id) == 0) {
            goto done;
        }
    }

    if (rc_nqueue == RC_QUEUE_MAX) {
        /* stays pending: read again later */
        goto done;
    }

    snprintf(rc_queue[rc_nqueue].id, sizeof(rc_queue[0].id), "%s", id);
    snprintf(rc_queue[rc_nqueue].ws, sizeof(rc_queue[0].ws), "%s", ws);
    rc_queue[rc_nqueue].reclaimed = reclaimed;
    rc_nqueue++;

    pthread_cond_broadcast(&rc_dispatch_cv);

done:

    pthread_mutex_unlock(&rc_dispatch_mu);
}


/* queued jobs stay this worker's while they wait for a thread (no other
 * worker's XAUTOCLAIM takes them): XCLAIM to ourselves, once a second */
void
rc_dispatch_keep(rc_worker_t *w)
{
    unsigned     i, n;
    const char  *argv[8 + RC_QUEUE_MAX];
    char         ids[RC_QUEUE_MAX][64];

    pthread_mutex_lock(&rc_dispatch_mu);

    for (n = 0; n < rc_nqueue; n++) {
        memcpy(ids[n], rc_queue[n].id, sizeof(ids[n]));
    }

    pthread_mutex_unlock(&rc_dispatch_mu);

    if (n == 0) {
        return;
    }

    argv[0] = "XCLAIM";
    argv[1] = RP_KEY_JOBS;
    argv[2] = RP_JOBS_GROUP;
    argv[3] = w->consumer;
    argv[4] = "0";

    for (i = 0; i < n; i++) {
        argv[5 + i] = ids[i];
    }

    argv[5 + n] = "JUSTID";

    freeReplyObject(rc_cmdargv(w, 6 + n, argv));
}


int
rc_dispatch_redo(void)
{
    int  redo;

    redo = rc_dispatch_redo_flag;
    rc_dispatch_redo_flag = 0;

    return redo;
}


void
rc_dispatch_stop(void)
{
    unsigned  i;

    pthread_mutex_lock(&rc_dispatch_mu);
    rc_dispatch_quit = 1;
    pthread_cond_broadcast(&rc_dispatch_cv);
    pthread_mutex_unlock(&rc_dispatch_mu);

    for (i = 0; i < rc_nthreads; i++) {
        pthread_join(rc_threads[i].tid, NULL);
        redisFree(rc_threads[i].w.redis);
    }
}
