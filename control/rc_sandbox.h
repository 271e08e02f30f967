/*
 * The sandbox driver interface: what the control worker needs from
 * whatever runs a workspace (this machine's namespaces, a Kubernetes pod,
 * a Firecracker VM, a cloud sandbox API).  A driver turns a sandbox record
 * into a running, isolated machine with:
 *
 *   create   its disk (the repositories' image layers plus a writable
 *            layer of its own) and its network address; nothing runs yet
 *   start    its processes: replicas-engine on port 3737 (or, for an image
 *            build, one command whose exit status matters)
 *   stop     every process gone and their memory freed; disk and address
 *            kept (a workspace in deep sleep)
 *   freeze   every process frozen (1) where it is, memory, sockets and
 *            mounts kept, or thawed (0) to go on: a workspace's light
 *            sleep, whose wake costs nothing.  -1 (or NULL): this driver
 *            or machine cannot, and the caller stops it instead
 *   destroy  disk and address gone too (idempotent)
 *   address  where the gateway reaches it (IPv4; ports as in the sandbox)
 *   health   whether it still runs, whether it ran out of memory, and,
 *            as asked (RC_HEALTH_*), whether it is frozen and what it uses
 *            (disk, memory, CPU time)
 *   root     a path on this machine where control may write into the
 *            workspace's disk (git branch, environment files); a remote
 *            driver would do this through the engine instead
 *
 * Every operation is idempotent, so a job redone after a crash is safe.
 * The only driver today is "local" (rc_sandbox_local.c); the record is
 * kept in Redis by the caller (rc_sandboxes.c), never by the driver.
 */

#ifndef RC_SANDBOX_H
#define RC_SANDBOX_H

#include <stddef.h>
#include <sys/types.h>

#define RC_SANDBOX_ID_LEN    12
#define RC_SANDBOX_PATH_MAX  2048


typedef struct {
    char        id[RC_SANDBOX_ID_LEN + 1];
    char        workspace[40];        /* "" while in a warm pool */
    unsigned    slot;                 /* its address in the range */
    char        addr[24];
    /* the disk: image layers (top first, ':'-separated) under a writable
     * layer of its own, or "bind": one directory used as is (builds) */
    char        lower[RC_SANDBOX_PATH_MAX];
    char        bind[RC_SANDBOX_PATH_MAX];
    unsigned long long  disk_max;     /* its writable disk's size at
                                         create; 0: the driver's default */
} rc_sandbox_t;


typedef struct {
    char *const  *argv;        /* NULL: the engine, serving on 3737 */
    char *const  *env;         /* NAME=value added to the base set */
    const char   *stdin_path;  /* NULL: /dev/null */
    const char   *cwd;         /* inside the sandbox; NULL: /workspace */
    const char   *log_path;    /* on this machine, for stdout and stderr;
                                  NULL: the driver's own log */
    int           wait;        /* 1: return the exit status (builds) */
    unsigned      timeout_ms;  /* with wait: killed past it (status 124) */
    void        (*tick)(void *data);   /* with wait: about once a second
                                          (the job's heartbeat), or NULL */
    void         *tick_data;
    int           no_desktop;  /* the engine without its desktop (the
                                  repository says "desktop": false) */
} rc_sandbox_run_t;


/* what health reads beyond running and oom_kills: the lifecycle's pass
 * every second over every awake sandbox asks for no more than it needs */
#define RC_HEALTH_USAGE   0x01
#define RC_HEALTH_FROZEN  0x02
#define RC_HEALTH_ALL     (RC_HEALTH_USAGE | RC_HEALTH_FROZEN)

typedef struct {
    int         running;       /* processes alive inside */
    int         frozen;        /* ... and frozen (freeze) */
    long        oom_kills;     /* since the last start */
    char        why[256];      /* not running: the driver's word on why,
                                  when it has one (bwrap's error), or "" */
    /* usage, 0 where unknown: its writable disk (used and size), memory
     * (now and its limit), CPU time since the last start */
    unsigned long long  disk_bytes;
    unsigned long long  disk_limit_bytes;
    unsigned long long  memory_bytes;
    unsigned long long  memory_limit_bytes;
    unsigned long long  cpu_usec;
} rc_sandbox_health_t;


typedef struct {
    const char  *name;
    int        (*create)(rc_sandbox_t *sb, char *err, size_t errlen);
    int        (*start)(rc_sandbox_t *sb, const rc_sandbox_run_t *run,
                        char *err, size_t errlen);
    int        (*stop)(rc_sandbox_t *sb);
    int        (*freeze)(rc_sandbox_t *sb, int frozen);
    int        (*destroy)(rc_sandbox_t *sb);
    const char *(*address)(rc_sandbox_t *sb);
    int        (*health)(rc_sandbox_t *sb, rc_sandbox_health_t *h,
                         unsigned what);
    int        (*root)(rc_sandbox_t *sb, char *path, size_t size);
} rc_sandbox_driver_t;


/* settings of the local driver, given once by "serve" */
typedef struct {
    const char  *home;         /* sandboxes/<id>/ go here */
    const char  *engine;       /* the replicas-engine binary */
    const char  *agents;       /* the agents' CLIs (npm prefix), bound
                                  read-only at /opt/replicas/agents; or
                                  NULL */
    const char  *net_name;     /* rc_net.h */
    const char  *net_range;
    unsigned     net_ports[8]; /* host ports sandboxes may reach */
    unsigned     net_nports;
    int          egress;       /* to the internet (public addresses) */
    int          desktop;      /* engines run the desktop (serve
                                  --desktop on) */
    const char  *dns;          /* NULL: the host's resolvers; "none": no
                                  resolver; else "ip,ip": these */
    uid_t        uid;          /* who runs inside */
    gid_t        gid;
    unsigned long long  memory_max;
    unsigned     pids_max;
    unsigned     cpu_millis;   /* CPU quota, 1000 = one CPU; 0: none */
    unsigned long long  disk_max;  /* the writable layer's filesystem
                                      image, bytes (serve --disk) */
} rc_local_conf_t;


int rc_sandbox_local_init(const rc_local_conf_t *conf, char *err,
    size_t errlen);
/* the bridge and firewall table, made or brought up to date (a worker) */
int rc_sandbox_local_up(char *err, size_t errlen);
/* removes them and the cgroup folder (auto/down, tests) */
void rc_sandbox_local_teardown(void);
/* a sandbox's processes, disk mount and network namespace gone from the
 * host; disk and record kept, a start brings them back (--sleep-all) */
void rc_sandbox_local_release(rc_sandbox_t *sb);
/* in a child of control, as root, before it becomes the sandbox's user:
 * src (under REPLICAS_HOME, maybe in a folder only root may enter) made
 * reachable by that user at path, in a mount namespace of the child's
 * own; 0 or -1 (errno) */
int rc_sandbox_local_reach(const char *src, char *path, size_t size);
/* releases every sandbox the host has something of that keep() (NULL:
 * none) does not claim; how many */
unsigned rc_sandbox_local_sweep(int (*keep)(const char *id, void *data),
    void *data);
unsigned rc_sandbox_local_slots(void);
void rc_sandbox_local_slot_addr(unsigned slot, char *buf, size_t size);

extern const rc_sandbox_driver_t  rc_sandbox_local;

#endif /* RC_SANDBOX_H */
