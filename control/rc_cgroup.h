/*
 * Memory, process and CPU limits for a sandbox: one cgroup per sandbox,
 * under cgroup v2 (the unified hierarchy of a systemd machine) or, where
 * the machine still mounts v1 controllers, under memory/, pids/, cpu/ and
 * cpuacct/.
 */

#ifndef RC_CGROUP_H
#define RC_CGROUP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>


/* detects the hierarchy once; 0, or -1 with err if neither is usable */
int rc_cgroup_init(const char *group, char *err, size_t errlen);

/* (re)creates the sandbox's cgroup with fresh counters and limits;
 * cpu_millis: a CPU quota (1000 = one CPU's time), 0 none */
int rc_cgroup_create(const char *name, uint64_t memory_max,
    unsigned pids_max, unsigned cpu_millis, char *err, size_t errlen);

/* 1 if CPU quotas can be set on this machine (after init) */
int rc_cgroup_has_cpu(void);

/* moves a process (and so its future children) into the cgroup */
int rc_cgroup_enter(const char *name, pid_t pid);

/* number of processes in it (0 when it does not exist) */
int rc_cgroup_count(const char *name);

/* times the kernel's OOM killer acted inside it since its creation */
long rc_cgroup_oom_kills(const char *name);

/* 1 if sandboxes can be frozen here (v2, or v1 with the freezer) */
int rc_cgroup_has_freezer(void);

/* freezes (1) or thaws (0) every process of the group: a frozen one keeps
 * its memory, sockets and mounts, runs nothing, and goes on where it was
 * when thawed.  -1 without a freezer or a process to freeze */
int rc_cgroup_freeze(const char *name, int frozen);

/* 1 while the group is frozen (or freezing) */
int rc_cgroup_frozen(const char *name);

/* memory in use now and CPU time used since creation (0 if unknown) */
void rc_cgroup_usage(const char *name, uint64_t *memory, uint64_t *cpu_usec);

/* kills everything in it and removes it; 0 or -1 */
int rc_cgroup_destroy(const char *name);

/* calls fn with the name of every sandbox cgroup of the group */
void rc_cgroup_list(void (*fn)(const char *name, void *data), void *data);

/* removes the group's own folder (once its sandboxes' are gone) */
void rc_cgroup_fini(void);

#endif /* RC_CGROUP_H */
