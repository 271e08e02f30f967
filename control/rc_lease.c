/*
 * A worker's liveness: its lease replicas:worker:<node>-<pid> (renewed
 * every second, lasting RC_LEASE_MS), and the heartbeat long jobs send
 * (the lease, the job in hand XCLAIMed to itself, its locks renewed).  A
 * worker whose lease is gone, or on this node whose process is gone (a
 * control restarted after kill -9 sees that at once), is dead: its jobs
 * and locks are taken over at once, not when they expire.
 */

#define _GNU_SOURCE

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/rp_keys.h"
#include "rc_log.h"
#include "rc_worker.h"


/* the lease that says this worker is alive */
void
rc_worker_lease(rc_worker_t *w)
{
    long long  now;

    now = rc_now_ms();

    if (now - w->last_lease < 1000) {
        return;
    }

    w->last_lease = now;

    freeReplyObject(rc_cmd(w, "SET " RP_KEY_WORKER_PREFIX "%s %lld PX %ld",
                           w->consumer, now, w->lease_ms));
}


/* whether a process of this machine is a live replicas-control (a pid
 * reused by something else, or a zombie, is not) */
static int
rc_pid_is_worker(long pid)
{
    char     path[64], exe[4096], self[4096], *p;
    ssize_t  n, m;

    if (kill((pid_t) pid, 0) != 0 && errno == ESRCH) {
        return 0;
    }

    snprintf(path, sizeof(path), "/proc/%ld/exe", pid);
    n = readlink(path, exe, sizeof(exe) - 1);
    m = readlink("/proc/self/exe", self, sizeof(self) - 1);

    if (n < 0 || m < 0) {
        return 0;
    }

    exe[n] = '\0';
    self[m] = '\0';

    /* a binary rebuilt since it started */
    if ((p = strstr(exe, " (deleted)")) != NULL) {
        *p = '\0';
    }

    if ((p = strstr(self, " (deleted)")) != NULL) {
        *p = '\0';
    }

    return strcmp(exe, self) == 0;
}


int
rc_holder_gone(rc_worker_t *w, const char *value)
{
    int          gone;
    char         name[96], *end, *slash;
    long         pid;
    size_t       len, nl;
    const char  *colon;
    redisReply  *r;

    colon = strrchr(value, ':');
    len = colon ? (size_t) (colon - value) : strlen(value);

    if (len == 0 || len >= sizeof(name)) {
        return 0;
    }

    memcpy(name, value, len);
    name[len] = '\0';

    /* this thread's, from before Redis went away */
    if (strcmp(name, w->holder) == 0) {
        return 1;
    }

    /* another thread of this worker (or its loop): alive */
    if ((slash = strchr(name, '/')) != NULL) {
        *slash = '\0';
    }

    if (strcmp(name, w->consumer) == 0) {
        return 0;
    }

    /* a worker of this machine: its process says */
    nl = strlen(w->node);

    if (strncmp(name, w->node, nl) == 0 && name[nl] == '-') {
        pid = strtol(name + nl + 1, &end, 10);

        if (*end == '\0' && pid > 0) {
            return !rc_pid_is_worker(pid);
        }
    }

    /* another machine's: its lease */
    r = rc_cmd(w, "EXISTS " RP_KEY_WORKER_PREFIX "%s", name);
    gone = r && r->type == REDIS_REPLY_INTEGER && r->integer == 0;
    freeReplyObject(r);

    return gone;
}


void
rc_worker_beat(void *data)
{
    long long     now;
    rc_worker_t  *w = data;

    now = rc_now_ms();

    rc_worker_lease(w);

    if (now - w->last_beat < 1000) {
        return;
    }

    w->last_beat = now;

    if (w->job_id[0]) {
        freeReplyObject(rc_cmd(w, "XCLAIM " RP_KEY_JOBS " " RP_JOBS_GROUP
                               " %s 0 %s JUSTID", w->consumer, w->job_id));
    }

    if (w->lock_key[0]) {
        rc_lock_renew(w, w->lock_key, w->lock_value);
    }

    if (w->build_lock_key[0]) {
        rc_lock_renew(w, w->build_lock_key, w->holder);
    }
}
