/* Sandbox cgroups, v2 or v1: see rc_cgroup.h. */

#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <limits.h>
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
/* v1: memory, pids, cpu, cpuacct, freezer */
#define RC_CGROUP_V1_CTLS  5

static int          rc_cgroup_v2;
static char         rc_cgroup_group[64];
/* where CPU quota and CPU time are kept (NULL: not on this machine):
 * v2 "" (the one hierarchy); v1 the controllers' directories, cpu and
 * cpuacct, which may be one mounted twice */
static const char  *rc_cgroup_cpu;
static const char  *rc_cgroup_acct;
/* 1 where a sandbox can be frozen: v2 always (cgroup.freeze), v1 where
 * the freezer controller is mounted */
static int          rc_cgroup_freezer;


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


/* v1: cpu and cpuacct where mounted; one directory when co-mounted
 * ("cpu,cpuacct" linked as both) */
static int
rc_cgroup_v1_cpu(char *err, size_t errlen)
{
    char         path[512], cpu[PATH_MAX], acct[PATH_MAX];
    struct stat  st;

    if (stat(RC_CGROUP_ROOT "/cpu/cpu.cfs_quota_us", &st) != 0) {
        return 0;
    }

    rc_cgroup_cpu = "cpu";
    rc_cgroup_acct = "cpu";

    if (realpath(RC_CGROUP_ROOT "/cpu", cpu) != NULL
        && realpath(RC_CGROUP_ROOT "/cpuacct", acct) != NULL
        && strcmp(cpu, acct) != 0)
    {
        rc_cgroup_acct = "cpuacct";
    }

    rc_cgroup_dir(path, sizeof(path), rc_cgroup_cpu, NULL);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }

    if (rc_cgroup_acct != rc_cgroup_cpu) {
        rc_cgroup_dir(path, sizeof(path), rc_cgroup_acct, NULL);
        if (mkdir(path, 0755) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            return -1;
        }
    }

    return 0;
}


/* the v1 controllers a sandbox's cgroup lives in: n of them */
static size_t
rc_cgroup_v1_ctls(const char *ctls[RC_CGROUP_V1_CTLS])
{
    size_t  n;

    n = 0;
    ctls[n++] = "memory";
    ctls[n++] = "pids";

    if (rc_cgroup_cpu) {
        ctls[n++] = rc_cgroup_cpu;

        if (rc_cgroup_acct != rc_cgroup_cpu) {
            ctls[n++] = rc_cgroup_acct;
        }
    }

    if (rc_cgroup_freezer) {
        ctls[n++] = "freezer";
    }

    return n;
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

        /* cpu apart: a machine without it still has the other limits */
        if (rc_write_file(RC_CGROUP_ROOT "/cgroup.subtree_control", "+cpu")
            == 0)
        {
            rc_cgroup_cpu = "";
            rc_cgroup_acct = "";
        }

        rc_cgroup_dir(path, sizeof(path), NULL, NULL);

        if (mkdir(path, 0755) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            return -1;
        }

        snprintf(path + strlen(path), sizeof(path) - strlen(path),
                 "/cgroup.subtree_control");

        if (rc_write_file(path, "+memory +pids") != 0
            || (rc_cgroup_cpu && rc_write_file(path, "+cpu") != 0))
        {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            return -1;
        }

        /* cgroup.freeze is core: every group has it (kernel 5.2 on) */
        rc_cgroup_freezer = 1;

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

    /* the freezer apart, like cpu: without it a sleep stops the sandbox */
    if (stat(RC_CGROUP_ROOT "/freezer/tasks", &st) == 0) {
        rc_cgroup_dir(path, sizeof(path), "freezer", NULL);

        rc_cgroup_freezer = mkdir(path, 0755) == 0 || errno == EEXIST;
    }

    return rc_cgroup_v1_cpu(err, errlen);
}


int
rc_cgroup_has_cpu(void)
{
    return rc_cgroup_cpu != NULL;
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


/* quota per period of 100 ms: 1000 millis is one CPU's 100 ms */
static int
rc_cgroup_set_cpu(const char *name, unsigned cpu_millis)
{
    char  value[48];

    if (rc_cgroup_v2) {
        snprintf(value, sizeof(value), "%u 100000", cpu_millis * 100);
        return rc_cgroup_set(NULL, name, "cpu.max", value);
    }

    if (rc_cgroup_set(rc_cgroup_cpu, name, "cpu.cfs_period_us", "100000")
        != 0)
    {
        return -1;
    }

    snprintf(value, sizeof(value), "%u", cpu_millis * 100);

    return rc_cgroup_set(rc_cgroup_cpu, name, "cpu.cfs_quota_us", value);
}


int
rc_cgroup_create(const char *name, uint64_t memory_max, unsigned pids_max,
    unsigned cpu_millis, char *err, size_t errlen)
{
    char         path[512], value[32];
    const char  *ctls[RC_CGROUP_V1_CTLS];
    size_t       i, n;

    if (cpu_millis && rc_cgroup_cpu == NULL) {
        snprintf(err, errlen, "cgroup: this machine has no cpu controller "
                 "for a CPU quota (serve --cpus 0: none)");
        return -1;
    }

    /* a fresh cgroup each start: the OOM counter starts at zero */
    (void) rc_cgroup_destroy(name);

    n = rc_cgroup_v2 ? 1 : rc_cgroup_v1_ctls(ctls);
    ctls[0] = "memory";

    for (i = 0; i < n; i++) {
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

    if (cpu_millis && rc_cgroup_set_cpu(name, cpu_millis) != 0) {
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
    char         value[32];
    const char  *ctls[RC_CGROUP_V1_CTLS];
    size_t       i, n;

    snprintf(value, sizeof(value), "%d", (int) pid);

    if (rc_cgroup_v2) {
        return rc_cgroup_set(NULL, name, "cgroup.procs", value);
    }

    n = rc_cgroup_v1_ctls(ctls);

    for (i = 0; i < n; i++) {
        if (rc_cgroup_set(ctls[i], name, "cgroup.procs", value) != 0) {
            return -1;
        }
    }

    return 0;
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


static uint64_t
rc_cgroup_number(const char *ctl, const char *name, const char *file,
    const char *field)
{
    char   path[512], buf[4096], *p;

    rc_cgroup_dir(path, sizeof(path), ctl, name);
    snprintf(path + strlen(path), sizeof(path) - strlen(path), "/%s", file);

    if (rc_read_file(path, buf, sizeof(buf)) < 0) {
        return 0;
    }

    p = buf;

    if (field) {
        p = strstr(buf, field);
        if (p == NULL) {
            return 0;
        }
        p += strlen(field);
    }

    return strtoull(p, NULL, 10);
}


void
rc_cgroup_usage(const char *name, uint64_t *memory, uint64_t *cpu_usec)
{
    if (rc_cgroup_v2) {
        *memory = rc_cgroup_number(NULL, name, "memory.current", NULL);
        *cpu_usec = rc_cgroup_number(NULL, name, "cpu.stat", "usage_usec ");
        return;
    }

    *memory = rc_cgroup_number("memory", name, "memory.usage_in_bytes", NULL);
    *cpu_usec = rc_cgroup_acct
                ? rc_cgroup_number(rc_cgroup_acct, name, "cpuacct.usage",
                                   NULL) / 1000
                : 0;
}


int
rc_cgroup_has_freezer(void)
{
    return rc_cgroup_freezer;
}


int
rc_cgroup_freeze(const char *name, int frozen)
{
    if (!rc_cgroup_freezer || rc_cgroup_count(name) == 0) {
        return -1;
    }

    if (rc_cgroup_v2) {
        return rc_cgroup_set(NULL, name, "cgroup.freeze", frozen ? "1" : "0");
    }

    return rc_cgroup_set("freezer", name, "freezer.state",
                         frozen ? "FROZEN" : "THAWED");
}


int
rc_cgroup_frozen(const char *name)
{
    char  path[512], buf[64];

    if (!rc_cgroup_freezer) {
        return 0;
    }

    rc_cgroup_dir(path, sizeof(path), rc_cgroup_v2 ? NULL : "freezer", name);
    snprintf(path + strlen(path), sizeof(path) - strlen(path), "/%s",
             rc_cgroup_v2 ? "cgroup.freeze" : "freezer.state");

    if (rc_read_file(path, buf, sizeof(buf)) < 0) {
        return 0;
    }

    /* v1 says FREEZING until every task has stopped: frozen already for
     * us (none of them runs again until thawed) */
    return rc_cgroup_v2 ? buf[0] == '1' : strncmp(buf, "THAWED", 6) != 0;
}


int
rc_cgroup_destroy(const char *name)
{
    int              i, rv;
    size_t           k, n;
    const char      *ctls[RC_CGROUP_V1_CTLS];
    char             path[512];
    struct stat      st;
    struct timespec  ts = { 0, 5 * 1000 * 1000 };

    rc_cgroup_dir(path, sizeof(path), "memory", name);

    if (stat(path, &st) != 0) {
        rv = 0;
        goto pids;
    }

    /* a frozen task takes no signal under v1 until it is thawed */
    if (rc_cgroup_frozen(name)) {
        (void) rc_cgroup_freeze(name, 0);
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

    /* the other v1 controllers' directories, empty now */
    n = rc_cgroup_v2 ? 0 : rc_cgroup_v1_ctls(ctls);

    for (k = 1; k < n; k++) {
        rc_cgroup_dir(path, sizeof(path), ctls[k], name);

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
    const char  *ctls[RC_CGROUP_V1_CTLS];
    size_t       i, n;

    /* every controller's group folder: cpu and cpuacct too (left behind
     * they piled up, one per bridge name, under /sys/fs/cgroup/cpu) */
    n = rc_cgroup_v2 ? 1 : rc_cgroup_v1_ctls(ctls);

    for (i = 0; i < n; i++) {
        rc_cgroup_dir(path, sizeof(path), rc_cgroup_v2 ? NULL : ctls[i],
                      NULL);
        (void) rmdir(path);
    }
}
