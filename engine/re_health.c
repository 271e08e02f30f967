/*
 * The cached half of /healthz (re_health.h): one thread scans, readers
 * copy.  Lock order: re_health.lock is a leaf (nothing else is taken
 * while it is held; the scans run outside it).
 */

#define _GNU_SOURCE

#include <errno.h>
#include <pthread.h>
#include <sys/statvfs.h>
#include <time.h>

#include "re_desktop.h"
#include "re_engine.h"
#include "re_git.h"
#include "re_health.h"
#include "re_log.h"
#include "re_ports.h"
#include "re_start.h"


/* young: the first minute, when a wake waits for the dev servers */
#define RE_HEALTH_YOUNG_MS  60000
/* the disk counts as full from this share of it used: the kernel's
 * quota (control's disk image) then refuses writes at any moment */
#define RE_HEALTH_DISK_FULL  0.95


static struct {
    pthread_mutex_t  lock;
    pthread_cond_t   cond;
    int              touched;
    json_t          *ports;
    json_t          *repositories;
    json_t          *desktop;
    json_t          *disk;
} re_health = {
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, NULL, NULL, NULL,
    NULL
};


static json_t *
re_health_scan_ports(void)
{
    size_t    n, i;
    json_t   *list;
    unsigned  ports[RE_PORTS_MAX];

    n = re_ports_listening(ports, RE_PORTS_MAX);
    list = json_array();

    for (i = 0; list && i < n; i++) {
        json_array_append_new(list, json_integer(ports[i]));
    }

    return list ? list : json_array();
}


/* the workspace's disk: used and size, and a warning once it is full, so
 * the agent and a person see why writes fail (ENOSPC) */
static json_t *
re_health_scan_disk(void)
{
    json_t          *j;
    struct statvfs   st;
    unsigned long long  total, used;

    if (statvfs(re_engine.workdir, &st) != 0 || st.f_blocks == 0) {
        return json_pack("{s:n,s:n}", "used_bytes", "total_bytes");
    }

    total = (unsigned long long) st.f_blocks * st.f_frsize;
    used = total - (unsigned long long) st.f_bavail * st.f_frsize;

    j = json_pack("{s:I,s:I,s:b}", "used_bytes", (json_int_t) used,
                  "total_bytes", (json_int_t) total,
                  "full", used >= total * RE_HEALTH_DISK_FULL);

    if (j && used >= total * RE_HEALTH_DISK_FULL) {
        json_object_set_new(j, "warning", json_sprintf(
            "the workspace's disk is full (%llu of %llu MiB used): writes "
            "fail with \"No space left on device\"; delete files to go on",
            used >> 20, total >> 20));
    }

    return j;
}


/* swaps in a new value; the old one is freed outside the lock */
static void
re_health_set(json_t **slot, json_t *v)
{
    json_t  *old;

    if (v == NULL) {
        return;
    }

    pthread_mutex_lock(&re_health.lock);
    old = *slot;
    *slot = v;
    pthread_mutex_unlock(&re_health.lock);

    json_decref(old);
}


static void
re_health_scan_all(void)
{
    re_health_set(&re_health.ports, re_health_scan_ports());
    re_health_set(&re_health.repositories, re_git_summary());
    re_health_set(&re_health.desktop, re_desktop_status());
    re_health_set(&re_health.disk, re_health_scan_disk());
}


static void *
re_health_main(void *arg)
{
    int              touched;
    long             pace;
    long long        now, last_slow;
    struct timespec  until;

    (void) arg;

    last_slow = re_now_ms();

    for ( ;; ) {
        now = re_now_ms();

        /* young or hooked: soon; else at the slow pace, or when touched
         * (re_start_state() takes its own lock: asked before ours) */
        pace = now - re_engine.started_ms < RE_HEALTH_YOUNG_MS
               || re_start_state() == RE_HOOK_RUNNING
               ? RE_HEALTH_FAST_MS : RE_HEALTH_SLOW_MS;

        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += pace * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;

        pthread_mutex_lock(&re_health.lock);

        while (!re_health.touched
               && pthread_cond_timedwait(&re_health.cond, &re_health.lock,
                                         &until) != ETIMEDOUT)
        {
            /* spurious wake-up: wait on */
        }

        touched = re_health.touched;
        re_health.touched = 0;
        pthread_mutex_unlock(&re_health.lock);

        now = re_now_ms();

        if (touched || now - last_slow >= RE_HEALTH_SLOW_MS) {
            re_health_scan_all();
            last_slow = now;

        } else {
            re_health_set(&re_health.ports, re_health_scan_ports());
        }
    }

    return NULL;
}


int
re_health_start(void)
{
    pthread_t  t;

    /* the first answer is a true one */
    re_health_scan_all();

    if (pthread_create(&t, NULL, re_health_main, NULL) != 0) {
        re_error("health.thread_failed", "errno=%d", errno);
        return -1;
    }

    pthread_detach(t);

    return 0;
}


void
re_health_touch(void)
{
    pthread_mutex_lock(&re_health.lock);
    re_health.touched = 1;
    pthread_cond_signal(&re_health.cond);
    pthread_mutex_unlock(&re_health.lock);
}


static json_t *
re_health_copy(json_t **slot)
{
    json_t  *v;

    pthread_mutex_lock(&re_health.lock);
    v = *slot ? json_deep_copy(*slot) : NULL;
    pthread_mutex_unlock(&re_health.lock);

    return v;
}


json_t *
re_health_ports(void)
{
    json_t  *v = re_health_copy(&re_health.ports);

    return v ? v : json_array();
}


json_t *
re_health_repositories(void)
{
    json_t  *v = re_health_copy(&re_health.repositories);

    return v ? v : json_array();
}


json_t *
re_health_desktop(void)
{
    json_t  *v = re_health_copy(&re_health.desktop);

    return v ? v : json_pack("{s:s}", "state", "unknown");
}


json_t *
re_health_disk(void)
{
    json_t  *v = re_health_copy(&re_health.disk);

    return v ? v : json_pack("{s:n,s:n}", "used_bytes", "total_bytes");
}


json_t *
re_health_ports_now(void)
{
    json_t  *v;

    v = re_health_scan_ports();
    re_health_set(&re_health.ports, json_deep_copy(v));

    return v;
}


void
re_health_git_changed(void)
{
    re_health_set(&re_health.repositories, re_git_summary());

    /* and once more from the thread: a scan of its that began before the
     * change may have set what it saw after ours */
    re_health_touch();
}
