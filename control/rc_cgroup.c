/* Sandbox cgroups, v2 or v1: see rc_cgroup.h. */

#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rc_cgroup.h"


#define RC_CGROUP_ROOT  "/sys/fs/cgroup"

static int   rc_cgroup_v2;
static char  rc_cgroup_group[64];


static int
rc_write_file(const char *path, const char *value)
{
    int      fd;
    ssize_t  n;

    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }

    n = write(fd, value, strlen(value));
    close(fd);

    return n == (ssize_t) strlen(value) ? 0 : -1;
}


static ssize_t
rc_read_file(const char *path, char *buf, size_t size)
{
    int      fd;
    ssize_t  n;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }

    n = read(fd, buf, size - 1);
    close(fd);

    if (n < 0) {
        return -1;
    }

    buf[n] = '\0';

    return n;
}


/* dir of controller ctl ("memory", "pids"; ignored under v2) for name */
static void
rc_cgroup_dir(char *buf, size_t size, const char *ctl, const char *name)
{
    if (rc_cgroup_v2) {
        snprintf(buf, size, RC_CGROUP_ROOT "/%s%s%s", rc_cgroup_group,
                 name ? "/" : "", name ? name : "");
    } else {
        snprintf(buf, size, RC_CGROUP_ROOT "/%s/%s%s%s", ctl ? ctl : "memory",
                 rc_cgroup_group,
                 name ? "/" : "", name ? name : "");
    }
}


int
rc_cgroup_init(const char *group, char *err, size_t errlen)
{
    char         path[512];
    struct stat  st;

    snprintf(rc_cgroup_group, sizeof(rc_cgroup_group), "%s", group);

    if (stat(RC_CGROUP_ROOT "/cgroup.controllers", &st) == 0) {
        rc_cgroup_v2 = 1;

        /* the controllers must be enabled down to our group's children */
        if (rc_write_file(RC_CGROUP_ROOT "/cgroup.subtree_control",
                          "+memory +pids") != 0)
        {
            snprintf(err, errlen, "cgroup v2: cannot enable the memory and "
                     "pids controllers: %s", strerror(errno));
            return -1;
        }

        rc_cgroup_dir(path, sizeof(path), NULL, NULL);

        if (mkdir(path, 0755) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            return -1;
        }

        snprintf(path + strlen(path), sizeof(path) - strlen(path),
                 "/cgroup.subtree_control");

        if (rc_write_file(path, "+memory +pids") != 0) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            return -1;
        }

        return 0;
    }

    if (stat(RC_CGROUP_ROOT "/memory/memory.limit_in_bytes", &st) != 0
        || stat(RC_CGROUP_ROOT "/pids", &st) != 0)
    {
        snprintf(err, errlen, "no usable cgroup hierarchy under "
                 RC_CGROUP_ROOT " (need v2, or v1 memory and pids)");
        return -1;
    }

    rc_cgroup_v2 = 0;

    rc_cgroup_dir(path, sizeof(path), "memory", NULL);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }

    rc_cgroup_dir(path, sizeof(path), "pids", NULL);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }

    return 0;
}


static int
rc_cgroup_set(const char *ctl, const char *name, const char *file,
    const char *value)
{
    char  path[512];

    rc_cgroup_dir(path, sizeof(path), ctl, name);
    snprintf(path + strlen(path), sizeof(path) - strlen(path), "/%s", file);

    return rc_write_file(path, value);
}


int
rc_cgroup_create(const char *name, uint64_t memory_max, unsigned pids_max,
    char *err, size_t errlen)
{
    char         path[512], value[32];
    const char  *ctls[] = { "memory", "pids" };
    size_t       i;

    /* a fresh cgroup each start: the OOM counter starts at zero */
    (void) rc_cgroup_destroy(name);

    for (i = 0; i < (rc_cgroup_v2 ? 1 : 2); i++) {
        rc_cgroup_dir(path, sizeof(path), ctls[i], name);

        if (mkdir(path, 0755) != 0) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            return -1;
        }
    }

    snprintf(value, sizeof(value), "%llu", (unsigned long long) memory_max);

    if (rc_cgroup_v2) {
        if (rc_cgroup_set(NULL, name, "memory.max", value) != 0) {
            goto failed;
        }

        /* the limit is on memory, not on what could be swapped out */
        (void) rc_cgroup_set(NULL, name, "memory.swap.max", "0");

    } else {
        if (rc_cgroup_set("memory", name, "memory.limit_in_bytes", value)
            != 0)
        {
            goto failed;
        }

        (void) rc_cgroup_set("memory", name, "memory.memsw.limit_in_bytes",
                             value);
    }

    snprintf(value, sizeof(value), "%u", pids_max);

    if (rc_cgroup_set("pids", name, "pids.max", value) != 0) {
        goto failed;
    }

    return 0;

failed:

    snprintf(err, errlen, "cgroup %s: cannot set limits: %s", name,
             strerror(errno));
    (void) rc_cgroup_destroy(name);

    return -1;
}


int
rc_cgroup_enter(const char *name, pid_t pid)
{
    char  value[32];

    snprintf(value, sizeof(value), "%d", (int) pid);

    if (rc_cgroup_v2) {
        return rc_cgroup_set(NULL, name, "cgroup.procs", value);
    }

    if (rc_cgroup_set("memory", name, "cgroup.procs", value) != 0) {
        return -1;
    }

    return rc_cgroup_set("pids", name, "cgroup.procs", value);
}


/* signals every process listed; returns how many there were */
static int
rc_cgroup_signal(const char *name, int sig)
{
    int    n;
    char   path[512], buf[65536], *p, *end;
    long   pid;

    rc_cgroup_dir(path, sizeof(path), "memory", name);
    snprintf(path + strlen(path), sizeof(path) - strlen(path),
             "/cgroup.procs");

    if (rc_read_file(path, buf, sizeof(buf)) < 0) {
        return 0;
    }

    n = 0;

    for (p = buf; *p; p = end) {
        pid = strtol(p, &end, 10);
        if (end == p) {
            break;
        }

        if (pid > 1) {
            (void) kill((pid_t) pid, sig);
            n++;
        }

        while (*end == '\n') {
            end++;
        }
    }

    return n;
}


int
rc_cgroup_count(const char *name)
{
    return rc_cgroup_signal(name, 0);
}


long
rc_cgroup_oom_kills(const char *name)
{
    char   path[512], buf[4096], *p;

    rc_cgroup_dir(path, sizeof(path), "memory", name);
    snprintf(path + strlen(path), sizeof(path) - strlen(path), "%s",
             rc_cgroup_v2 ? "/memory.events" : "/memory.oom_control");

    if (rc_read_file(path, buf, sizeof(buf)) < 0) {
        return 0;
    }

    p = strstr(buf, "oom_kill ");

    return p ? strtol(p + sizeof("oom_kill ") - 1, NULL, 10) : 0;
}


int
rc_cgroup_destroy(const char *name)
{
    int              i, rv;
    char             path[512];
    struct stat      st;
    struct timespec  ts = { 0, 5 * 1000 * 1000 };

    rc_cgroup_dir(path, sizeof(path), "memory", name);

    if (stat(path, &st) != 0) {
        rv = 0;
        goto pids;
    }

    /* v2 kills the whole tree at once; v1 process by process, until the
     * forks in flight are caught too */
    if (rc_cgroup_v2) {
        (void) rc_cgroup_set(NULL, name, "cgroup.kill", "1");
    }

    for (i = 0; i < 400 && rc_cgroup_signal(name, SIGKILL) > 0; i++) {
        nanosleep(&ts, NULL);
    }

    rv = 0;

    for (i = 0; i < 200 && rmdir(path) != 0 && errno == EBUSY; i++) {
        nanosleep(&ts, NULL);
    }

    if (stat(path, &st) == 0) {
        rv = -1;
    }

pids:

    if (!rc_cgroup_v2) {
        rc_cgroup_dir(path, sizeof(path), "pids", name);

        for (i = 0; i < 200 && rmdir(path) != 0 && errno == EBUSY; i++) {
            nanosleep(&ts, NULL);
        }
    }

    return rv;
}


void
rc_cgroup_list(void (*fn)(const char *name, void *data), void *data)
{
    DIR            *d;
    char            path[512];
    const char     *ctls[] = { "memory", "pids" };
    size_t          i;
    struct dirent  *de;

    for (i = 0; i < (rc_cgroup_v2 ? 1 : 2); i++) {
        rc_cgroup_dir(path, sizeof(path), ctls[i], NULL);

        d = opendir(path);
        if (d == NULL) {
            continue;
        }

        while ((de = readdir(d)) != NULL) {
            if (de->d_type == DT_DIR && de->d_name[0] != '.') {
                fn(de->d_name, data);
            }
        }

        closedir(d);
    }
}


void
rc_cgroup_fini(void)
{
    char         path[512];
    const char  *ctls[] = { "memory", "pids" };
    size_t       i;

    for (i = 0; i < (rc_cgroup_v2 ? 1 : 2); i++) {
        rc_cgroup_dir(path, sizeof(path), ctls[i], NULL);
        (void) rmdir(path);
    }
}
