/*
 * replicas-control serve: the job loop.  Jobs arrive on the
 * replicas:jobs stream; every worker reads it through the consumer group
 * "control", so each job goes to one worker.  A job is acknowledged once
 * done; one whose worker died stays pending and another worker claims it
 * (XAUTOCLAIM) after --reclaim-ms without a heartbeat.  Jobs are
 * idempotent (rc_jobs.c), so redoing one is safe.  Long jobs send
 * heartbeats (XCLAIM to themselves, lock renewal) so nobody steals them.
 */

#define _GNU_SOURCE

#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/rp_keys.h"
#include "common/rp_token.h"
#include "rc_engine.h"
#include "rc_environment.h"
#include "rc_log.h"
#include "rc_worker.h"


/* jobs at once: most of a job is waiting (an engine booting, a clone),
 * so more than the cores */
#define RC_JOBS_DEFAULT    8
/* a worker silent this long is dead (it renews every second) */
#define RC_LEASE_MS        4000
/* a pending job is taken from a dead worker once idle this long (so two
 * workers judging it dead at once do not both take it) */
#define RC_TAKEOVER_IDLE_MS  1000

static volatile int  rc_stop;          /* SIGTERM, SIGINT */
/* after a lost Redis: the lifecycle thread sweeps orphans */
static volatile int  rc_orphans_due;


static void
rc_on_signal(int sig)
{
    (void) sig;
    rc_stop = 1;
}


/*
 * The pending jobs of dead workers (lease gone; on this node, process
 * gone): one taken over and done, 1; else 0.  XCLAIM with a minimum idle
 * time, so of two workers doing this at once only one gets the job.
 */
static int
rc_takeover(rc_worker_t *w)
{
    int          done;
    size_t       i;
    const char  *name;
    redisReply  *r, *p, *c, *who;

    if (rc_now_ms() - w->last_takeover < 1000) {
        return 0;
    }

    w->last_takeover = rc_now_ms();

    /* [count, min, max, [[consumer, count], ...]] */
    r = rc_cmd(w, "XPENDING " RP_KEY_JOBS " " RP_JOBS_GROUP);

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 4
        || r->element[3]->type != REDIS_REPLY_ARRAY)
    {
        freeReplyObject(r);
        return 0;
    }

    done = 0;

    for (i = 0; !done && i < r->element[3]->elements; i++) {
        who = r->element[3]->element[i];

        if (who->type != REDIS_REPLY_ARRAY || who->elements != 2
            || who->element[0]->type != REDIS_REPLY_STRING)
        {
            continue;
        }

        name = who->element[0]->str;

        if (strcmp(name, w->consumer) == 0 || !rc_holder_gone(w, name)) {
            continue;
        }

        p = rc_cmd(w, "XPENDING " RP_KEY_JOBS " " RP_JOBS_GROUP " IDLE %d "
                   "- + 1 %s", RC_TAKEOVER_IDLE_MS, name);

        if (p && p->type == REDIS_REPLY_ARRAY && p->elements == 1
            && p->element[0]->type == REDIS_REPLY_ARRAY
            && p->element[0]->elements == 4)
        {
            c = rc_cmd(w, "XCLAIM " RP_KEY_JOBS " " RP_JOBS_GROUP " %s %d %s",
                       w->consumer, RC_TAKEOVER_IDLE_MS,
                       p->element[0]->element[0]->str);

            if (c && c->type == REDIS_REPLY_ARRAY && c->elements == 1
                && c->element[0]->type == REDIS_REPLY_ARRAY)
            {
                rc_info("job.takeover", "job=%s from=%s",
                        p->element[0]->element[0]->str, name);
                rc_dispatch_add(c->element[0], 1);
                done = 1;
            }

            freeReplyObject(c);
        }

        freeReplyObject(p);
    }

    freeReplyObject(r);

    return done;
}


/*
 * Redis went away: wait for it (backoff up to 2 s), sandboxes left as
 * they run.  Then the group again (a Redis that lost its data), the jobs
 * this worker had in hand redone, and what a job cut short left behind
 * swept.
 */
static void
rc_reconnect(rc_worker_t *w)
{
    long long  start;

    rc_error("worker.redis_lost", "error=\"%s\"", w->redis->errstr);

    start = rc_now_ms();

    rc_redis_reconnect(w, &rc_stop);

    if (rc_stop) {
        return;
    }

    /* BUSYGROUP when it is there: fine */
    freeReplyObject(redisCommand(w->redis, "XGROUP CREATE " RP_KEY_JOBS " "
                                 RP_JOBS_GROUP " 0 MKSTREAM"));

    w->redo_own = 1;
    w->last_lease = 0;
    rc_worker_lease(w);

    rc_info("worker.redis_back", "ms=%lld", rc_now_ms() - start);

    rc_orphans_due = 1;
}


/* one round: a job whose worker went quiet, else a new one (blocking 1 s) */
static int
rc_poll(rc_worker_t *w)
{
    size_t           i;
    unsigned         room;
    redisReply      *r, *list;
    struct timespec  ts = { 0, 20 * 1000 * 1000 };

    if (rc_dispatch_redo()) {
        w->redo_own = 1;
    }

    /* back from a lost Redis: the jobs this worker had in hand first
     * (those still queued or running are not taken twice) */
    if (w->redo_own) {
        w->redo_own = 0;

        r = rc_cmd(w, "XREADGROUP GROUP " RP_JOBS_GROUP " %s COUNT 100 "
                   "STREAMS " RP_KEY_JOBS " 0", w->consumer);

        if (r == NULL) {
            return -1;
        }

        if (r->type == REDIS_REPLY_ARRAY && r->elements == 1
            && r->element[0]->type == REDIS_REPLY_ARRAY
            && r->element[0]->elements == 2)
        {
            list = r->element[0]->element[1];

            for (i = 0; list->type == REDIS_REPLY_ARRAY && i < list->elements
                        && !rc_redis_lost(w); i++)
            {
                rc_dispatch_add(list->element[i], 1);
            }
        }

        freeReplyObject(r);
        return 0;
    }

    room = rc_dispatch_room();

    if (room == 0) {
        /* every thread busy and as many jobs waiting: read no more */
        nanosleep(&ts, NULL);
        return 0;
    }

    r = rc_cmd(w, "XAUTOCLAIM " RP_KEY_JOBS " " RP_JOBS_GROUP " %s %ld 0-0 "
               "COUNT 1", w->consumer, w->reclaim_ms);

    if (r == NULL) {
        return -1;
    }

    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2
        && r->element[1]->type == REDIS_REPLY_ARRAY
        && r->element[1]->elements)
    {
        list = r->element[1];

        for (i = 0; i < list->elements; i++) {
            rc_dispatch_add(list->element[i], 1);
        }

        freeReplyObject(r);
        return 0;
    }

    freeReplyObject(r);

    r = rc_cmd(w, "XREADGROUP GROUP " RP_JOBS_GROUP " %s COUNT %u BLOCK "
               "1000 STREAMS " RP_KEY_JOBS " >", w->consumer, room);

    if (r == NULL) {
        return -1;
    }

    /* [[stream, [entry...]]] */
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1
        && r->element[0]->type == REDIS_REPLY_ARRAY
        && r->element[0]->elements == 2)
    {
        list = r->element[0]->element[1];

        for (i = 0; list->type == REDIS_REPLY_ARRAY && i < list->elements;
             i++)
        {
            rc_dispatch_add(list->element[i], 0);
        }
    }

    freeReplyObject(r);

    return 0;
}


/*
 * The timers (rc_lifecycle.c) on a thread of their own, with their own
 * connection: once a second, whatever the jobs do.
 */
static void *
rc_serve_timers(void *data)
{
    long long        last;
    rc_worker_t     *w = data;
    struct timespec  ts = { 0, 50 * 1000 * 1000 };

    last = 0;

    while (!rc_stop) {
        if (rc_redis_lost(w)) {
            rc_redis_reconnect(w, &rc_stop);
            continue;
        }

        if (rc_orphans_due) {
            rc_orphans_due = 0;
            rc_orphans_sweep(w);
        }

        if (rc_now_ms() - last >= 1000) {
            last = rc_now_ms();
            rc_lifecycle_tick(w);
        }

        nanosleep(&ts, NULL);
    }

    rc_engine_thread_done();

    return NULL;
}


static void
rc_serve_usage(void)
{
    fprintf(stderr,
        "usage: replicas-control serve [options]\n"
        "  --home DIR            images and sandboxes (REPLICAS_HOME, ./run)\n"
        "  --node NAME           this machine's name (hostname)\n"
        "  --engine PATH         replicas-engine binary\n"
        "  --agents-dir DIR      the agents' CLIs (next to this binary: "
        "agents/)\n"
        "  --net-name NAME       bridge <NAME>br, firewall table (rp0)\n"
        "  --net-range CIDR      sandbox addresses (10.213.0.0/16)\n"
        "  --allow-port PORT     a host port sandboxes may reach (the "
        "gateway); repeatable\n"
        "  --platform-url URL    the gateway as engines reach it (http://"
        "<bridge>:<port>):\n"
        "                        engines get a workspace key for its API\n"
        "  --platform-host HOST  the Host engines send it (<domain>:<port>)\n"
        "  --dns host|none|IP,.. the resolvers sandboxes use and may reach "
        "(host: the\n"
        "                        host's own; none: lookups fail at once)\n"
        "  --egress on|off       sandboxes reach public addresses (NAT), "
        "never private\n"
        "                        ones (on)\n"
        "  --desktop on|off      engines run the workspace's desktop on "
        ":6080 (on)\n"
        "  --user NAME           who runs inside sandboxes (replicas-ws)\n"
        "  --memory MIB          memory limit per sandbox (2048)\n"
        "  --pids N              process limit per sandbox (1024)\n"
        "  --cpus N              CPU quota per sandbox, in CPUs (2; 0.5: "
        "half of one;\n"
        "                        0: none)\n"
        "  --disk MIB            size of each workspace's writable disk, a "
        "filesystem\n"
        "                        image the kernel keeps it within (10240)\n"
        "  --jobs N              jobs run at once, one per workspace (8)\n"
        "  --pool-size N         warm sandboxes per image (1)\n"
        "  --prewarm-ttl S       a prewarm's sandbox (POST /v1/prewarm) is "
        "destroyed\n"
        "                        if unclaimed after S seconds (600; 0: no "
        "prewarms)\n"
        "  --prewarm-max N       prewarmed sandboxes at once on this node "
        "(4)\n"
        "  --prewarm-max-org N   of them per organisation (2)\n"
        "  --reclaim-ms MS       a silent worker's job is redone after (30000)\n"
        "  --idle-sleep S        auto-sleep after S idle seconds (3600)\n"
        "  --delete-after S      auto-delete after S seconds asleep (604800)\n"
        "  --github-api-url URL  GitHub's REST API, asked which pull requests "
        "were merged\n"
        "                        (REPLICAS_GITHUB_API_URL, "
        "https://api.github.com)\n"
        "  --pulls-per-minute N  at most N such requests a minute, all "
        "workers together\n"
        "                        (30; 0: no polling)\n"
        "  --pulls-every S       each workspace's pull requests asked at most "
        "once in S\n"
        "                        seconds (300)\n"
        "  --deep-sleep-after S  a sleeping workspace is frozen (memory kept, "
        "woken at\n"
        "                        once) for S seconds, then stopped (1800; 0: "
        "stopped\n"
        "                        when it sleeps)\n"
        "  --image-refresh S     rebuild images whose branch moved (1800)\n"
        "  --secrets-key FILE    opens environment values (the gateway's "
        "replicas_secrets_key)\n"
        "  --repo-root DIR       local repositories (paths, file://) may be "
        "used from\n"
        "                        under DIR/<org id>/ by that organisation; "
        "repeatable\n"
        "                        (none: remote only)\n"
        "  --allow-repo-range CIDR  repository hosts may be in this "
        "special range\n"
        "                        (loopback, private, ...); repeatable "
        "(none)\n"
        "  --repo-hosts FILE     addresses of repository hosts (hosts(5) "
        "lines), looked\n"
        "                        up before DNS; checked like any\n"
        "  --sleep-all           stop every workspace of this node (now "
        "sleeping), exit\n"
        "  --teardown            destroy every sandbox of this node, remove "
        "the bridge\n"
        "                        and firewall table, exit\n"
        "  --clean-host          without Redis: stop every sandbox of this "
        "home and net\n"
        "                        name, unmount, remove namespaces, bridge, "
        "table, cgroups\n");
}


/* the host's pieces of sandboxes this node has no record of: what a
 * worker that died mid-create left (its records are made first) */
typedef struct {
    rc_worker_t  *w;
    redisReply   *known;
} rc_serve_sweep_t;


static int
rc_serve_recorded(const char *id, void *data)
{
    size_t             i;
    rc_serve_sweep_t  *sw = data;

    if (sw->known == NULL) {
        sw->known = rc_cmd(sw->w, "SMEMBERS " RP_KEY_NODE_SANDBOXES_PREFIX
                           "%s", sw->w->node);
    }

    /* Redis did not answer: nothing is known stale */
    if (sw->known == NULL || sw->known->type != REDIS_REPLY_ARRAY) {
        return 1;
    }

    for (i = 0; i < sw->known->elements; i++) {
        if (strcmp(sw->known->element[i]->str, id) == 0) {
            return 1;
        }
    }

    rc_warn("sandbox.stale", "sandbox=%s what=\"no record: its processes, "
            "mount and namespace removed\"", id);

    return 0;
}


static void
rc_serve_sweep(rc_worker_t *w)
{
    rc_serve_sweep_t  sw;

    sw.w = w;
    sw.known = NULL;

    (void) rc_sandbox_local_sweep(rc_serve_recorded, &sw);

    freeReplyObject(sw.known);
}


/* nothing of this deployment left on the host (disks stay on disk) */
static void
rc_serve_clean_host(void)
{
    unsigned  n;

    n = rc_sandbox_local_sweep(NULL, NULL);
    rc_sandbox_local_teardown();

    rc_info("host.clean", "sandboxes=%u", n);
}


/*
 * --teardown: every sandbox this node has (workspaces' and warm ones) is
 * destroyed with its record, then the network goes.  For the tests; the
 * workspaces' records are left as they are.
 */
static void
rc_serve_destroy_all(rc_worker_t *w)
{
    size_t        i;
    rc_sandbox_t  sb;
    redisReply   *r;

    r = rc_cmd(w, "SMEMBERS " RP_KEY_NODE_SANDBOXES_PREFIX "%s", w->node);

    for (i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        if (rc_sandbox_load(w, r->element[i]->str, &sb) == 0) {
            rc_sandbox_forget(w, &sb);
        }
    }

    freeReplyObject(r);
}


/*
 * --sleep-all: the machine is going down (auto/down).  Every workspace
 * awake here is stopped and recorded as sleeping, so the next request
 * wakes it once a worker runs again; warm sandboxes are destroyed.  Then
 * nothing of the stack stays on the host: each sandbox's mount and
 * namespace go too (a wake makes them again), and the bridge, firewall
 * table and cgroup folder.
 */
static void
rc_serve_sleep_all(rc_worker_t *w)
{
    char                 key[96], *state;
    size_t               i;
    rc_sandbox_t         sb;
    redisReply          *r;
    rc_sandbox_health_t  h;

    r = rc_cmd(w, "SMEMBERS " RP_KEY_NODE_SANDBOXES_PREFIX "%s", w->node);

    for (i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        if (rc_sandbox_load(w, r->element[i]->str, &sb) != 0) {
            continue;
        }

        if (sb.workspace[0] == '\0') {
            rc_sandbox_forget(w, &sb);
            continue;
        }

        /* a frozen one's ports were remembered as it froze (its engine
         * would not answer now) */
        w->driver->health(&sb, &h, RC_HEALTH_FROZEN);

        if (!h.frozen) {
            rc_ws_remember_ports(w, sb.workspace, sb.addr);
        }

        (void) w->driver->stop(&sb);
        rc_sandbox_local_release(&sb);

        /* run with no worker up: nothing else changes the state now */
        snprintf(key, sizeof(key), RP_KEY_WORKSPACE_PREFIX "%s",
                 sb.workspace);
        freeReplyObject(rc_cmd(w, "HSET %s sleep stopped", key));
        state = rc_hget(w, key, "state");

        if (state && (strcmp(state, "awake") == 0
                      || strcmp(state, "provisioning") == 0))
        {
            (void) rc_ws_set_state(w, sb.workspace, "sleeping", NULL);
        }

        free(state);
    }

    freeReplyObject(r);
}


int
rc_serve_main(redisContext *redis, int argc, char **argv)
{
    int                 i, teardown;
    char                err[512], host[64];
    int                 pulls;
    long                pulls_every;
    const char         *user, *a, *v, *github_api;
    unsigned            jobs, pulls_per_minute;
    long long           last_keep;
    pthread_t           timers, pulls_thread;
    rc_worker_t         w, lifecycle;
    struct passwd      *pw;
    struct timeval      timeout = { 10, 0 };
    struct sigaction    sa;
    static char         engine[4096], agents[4096];

    memset(&w, 0, sizeof(w));

    github_api = getenv("REPLICAS_GITHUB_API_URL")
                 ? getenv("REPLICAS_GITHUB_API_URL") : "https://api.github.com";
    pulls_per_minute = 30;
    pulls_every = 300;

    w.redis = redis;
    w.driver = &rc_sandbox_local;
    w.home = getenv("REPLICAS_HOME") ? getenv("REPLICAS_HOME") : "./run";
    w.pool_size = 1;
    w.prewarm_ttl_s = 600;
    w.prewarm_max = 4;
    w.prewarm_max_org = 2;
    w.reclaim_ms = 30000;
    w.idle_sleep_s = 3600;
    w.delete_after_s = 7 * 24 * 3600;
    w.deep_sleep_s = 1800;
    w.image_refresh_s = 1800;
    w.health_timeout_ms = 20000;
    w.lease_ms = RC_LEASE_MS;

    w.local.net_name = "rp0";
    w.local.egress = 1;
    w.local.desktop = 1;
    w.local.net_range = "10.213.0.0/16";
    w.local.memory_max = 2048ULL << 20;
    w.local.pids_max = 1024;
    w.local.cpu_millis = 2000;
    w.local.disk_max = 10240ULL << 20;

    /* the engine and the agents' CLIs sit next to this binary unless
     * told otherwise */
    if (readlink("/proc/self/exe", engine, sizeof(engine) - 32) > 0) {
        strcpy(agents, engine);
        strcpy(strrchr(engine, '/') + 1, "replicas-engine");
        strcpy(strrchr(agents, '/') + 1, "agents");
    }
    w.local.engine = engine;
    w.local.agents = agents;

    user = "replicas-ws";
    teardown = 0;
    jobs = RC_JOBS_DEFAULT;

    if (gethostname(host, sizeof(host)) != 0) {
        strcpy(host, "local");
    }
    host[sizeof(host) - 1] = '\0';
    snprintf(w.node, sizeof(w.node), "%s", host);

    for (i = 1; i < argc; i++) {
        a = argv[i];

        if (strcmp(a, "--teardown") == 0) {
            teardown = 1;
            continue;
        }

        if (strcmp(a, "--sleep-all") == 0) {
            teardown = 2;
            continue;
        }

        if (strcmp(a, "--clean-host") == 0) {
            teardown = 3;
            continue;
        }

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            rc_serve_usage();
            return 0;
        }

        if (i + 1 >= argc) {
            rc_serve_usage();
            return 2;
        }

        v = argv[++i];

        if (strcmp(a, "--home") == 0) {
            w.home = v;
        } else if (strcmp(a, "--node") == 0) {
            snprintf(w.node, sizeof(w.node), "%s", v);
        } else if (strcmp(a, "--engine") == 0) {
            w.local.engine = v;
        } else if (strcmp(a, "--agents-dir") == 0) {
            w.local.agents = v;
        } else if (strcmp(a, "--dns") == 0) {
            w.local.dns = strcmp(v, "host") == 0 ? NULL : v;
        } else if (strcmp(a, "--platform-url") == 0) {
            w.platform_url = v;
        } else if (strcmp(a, "--platform-host") == 0) {
            w.platform_host = v;
        } else if (strcmp(a, "--egress") == 0
                   && (strcmp(v, "on") == 0 || strcmp(v, "off") == 0))
        {
            w.local.egress = strcmp(v, "on") == 0;
        } else if (strcmp(a, "--desktop") == 0
                   && (strcmp(v, "on") == 0 || strcmp(v, "off") == 0))
        {
            w.local.desktop = strcmp(v, "on") == 0;
        } else if (strcmp(a, "--net-name") == 0) {
            w.local.net_name = v;
        } else if (strcmp(a, "--net-range") == 0) {
            w.local.net_range = v;
        } else if (strcmp(a, "--allow-port") == 0 && w.local.net_nports < 8) {
            w.local.net_ports[w.local.net_nports++] = atoi(v);
        } else if (strcmp(a, "--user") == 0) {
            user = v;
        } else if (strcmp(a, "--memory") == 0) {
            w.local.memory_max = strtoull(v, NULL, 10) << 20;
        } else if (strcmp(a, "--pids") == 0) {
            w.local.pids_max = atoi(v);
        } else if (strcmp(a, "--cpus") == 0) {
            w.local.cpu_millis = (unsigned) (strtod(v, NULL) * 1000 + 0.5);
        } else if (strcmp(a, "--disk") == 0) {
            w.local.disk_max = strtoull(v, NULL, 10) << 20;
        } else if (strcmp(a, "--jobs") == 0) {
            jobs = (unsigned) atoi(v);
        } else if (strcmp(a, "--pool-size") == 0) {
            w.pool_size = atoi(v);
        } else if (strcmp(a, "--prewarm-ttl") == 0) {
            w.prewarm_ttl_s = atol(v);
        } else if (strcmp(a, "--prewarm-max") == 0) {
            w.prewarm_max = (unsigned) atoi(v);
        } else if (strcmp(a, "--prewarm-max-org") == 0) {
            w.prewarm_max_org = (unsigned) atoi(v);
        } else if (strcmp(a, "--reclaim-ms") == 0) {
            w.reclaim_ms = atol(v);
        } else if (strcmp(a, "--idle-sleep") == 0) {
            w.idle_sleep_s = atol(v);
        } else if (strcmp(a, "--delete-after") == 0) {
            w.delete_after_s = atol(v);
        } else if (strcmp(a, "--deep-sleep-after") == 0) {
            w.deep_sleep_s = atol(v);
        } else if (strcmp(a, "--repo-root") == 0
                   && w.repo_policy.n < RC_REPO_ROOTS_MAX)
        {
            w.repo_policy.roots[w.repo_policy.n++] = v;
        } else if (strcmp(a, "--repo-hosts") == 0) {
            w.repo_policy.hosts_file = v;
        } else if (strcmp(a, "--allow-repo-range") == 0) {
            if (rc_repo_url_allow(&w.repo_policy, v) != 0) {
                fprintf(stderr, "replicas-control: --allow-repo-range %s: "
                        "not an address range (A.B.C.D/N, X::/N), or more "
                        "than %d\n", v, RC_REPO_RANGES_MAX);
                return 2;
            }
        } else if (strcmp(a, "--github-api-url") == 0) {
            github_api = v;
        } else if (strcmp(a, "--pulls-per-minute") == 0) {
            pulls_per_minute = (unsigned) atoi(v);
        } else if (strcmp(a, "--pulls-every") == 0) {
            pulls_every = atol(v);
        } else if (strcmp(a, "--image-refresh") == 0) {
            w.image_refresh_s = atol(v);
        } else if (strcmp(a, "--secrets-key") == 0) {
            if (rc_environment_key(&w, v) != 0) {
                return 2;
            }
        } else {
            rc_serve_usage();
            return 2;
        }
    }

    if ((strncmp(github_api, "https://", 8) != 0
         && strncmp(github_api, "http://", 7) != 0)
        || pulls_per_minute > 5000 || pulls_every < 1)
    {
        fprintf(stderr, "replicas-control: --github-api-url is an http(s) "
                "URL, --pulls-per-minute 0 to 5000, --pulls-every at least "
                "1\n");
        return 2;
    }

    if (w.local.memory_max < (16ULL << 20) || w.local.pids_max < 8
        || w.reclaim_ms < 100 || w.local.disk_max < (32ULL << 20)
        || jobs < 1 || jobs > 64
        || w.local.cpu_millis > 1024 * 1000
        || (w.local.cpu_millis && w.local.cpu_millis < 10))
    {
        fprintf(stderr, "replicas-control: --memory at least 16 MiB, --pids "
                "at least 8, --reclaim-ms at least 100, --disk at least 32 "
                "MiB, --cpus 0 or from 0.01 to 1024, --jobs 1 to 64\n");
        return 2;
    }

    /* a lock outlives its holder's last heartbeat (one a second) as long
     * as a job does: both are taken over after --reclaim-ms */
    w.lock_ttl_ms = w.reclaim_ms > 3000 ? w.reclaim_ms : 3000;

    pw = getpwnam(user);
    if (pw == NULL) {
        fprintf(stderr, "replicas-control: no user \"%s\" to run sandboxes "
                "as (auto/up creates replicas-ws)\n", user);
        return 2;
    }

    w.local.uid = pw->pw_uid;
    w.local.gid = pw->pw_gid;
    w.local.home = w.home;

    if (w.local.uid == 0) {
        fprintf(stderr, "replicas-control: sandboxes never run as root\n");
        return 2;
    }

    /* no agents installed: workspaces start all the same, and a message
     * is answered by the engine saying the agent is missing */
    if (w.local.agents && access(w.local.agents, R_OK | X_OK) != 0) {
        w.local.agents = NULL;
    }

    if (rc_sandbox_local_init(&w.local, err, sizeof(err)) != 0) {
        fprintf(stderr, "replicas-control: local sandboxes: %s\n", err);
        return 1;
    }

    if (teardown) {
        if (teardown == 2) {
            rc_serve_sleep_all(&w);
        } else if (teardown == 1) {
            rc_serve_destroy_all(&w);
        }

        rc_serve_clean_host();
        return 0;
    }

    if (rc_sandbox_local_up(err, sizeof(err)) != 0) {
        fprintf(stderr, "replicas-control: local sandboxes: %s\n", err);
        return 1;
    }

    /* a worker that died (kill -9, a crash) may have left pieces */
    rc_serve_sweep(&w);

    snprintf(w.consumer, sizeof(w.consumer), "%s-%d", w.node, (int) getpid());
    snprintf(w.holder, sizeof(w.holder), "%s", w.consumer);

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = rc_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    rc_engine_init();

    /* a Redis that hangs (stopped, cut off) counts as lost, not forever */
    (void) redisSetTimeout(w.redis, timeout);

    /* from the stream's start: jobs queued before any worker ran count */
    freeReplyObject(redisCommand(w.redis, "XGROUP CREATE " RP_KEY_JOBS " "
                                 RP_JOBS_GROUP " 0 MKSTREAM"));

    rc_worker_lease(&w);

    rc_info("worker.start", "consumer=%s node=%s driver=%s home=%s",
            w.consumer, w.node, w.driver->name, w.home);

    /* what a worker that died left: sandboxes, records, slots, versions */
    rc_orphans_sweep(&w);
    w.last_orphans = rc_now_ms();

    /* the timers off the loop, jobs on --jobs threads: a pool fill or a
     * slow create holds up no other workspace's job */
    lifecycle = w;
    snprintf(lifecycle.holder, sizeof(lifecycle.holder), "%s/timers",
             w.consumer);
    lifecycle.redis = rc_redis_connect_like(w.redis);

    if (lifecycle.redis == NULL
        || pthread_create(&timers, NULL, rc_serve_timers, &lifecycle) != 0
        || rc_dispatch_start(&w, jobs) != 0)
    {
        fprintf(stderr, "replicas-control: cannot start the job threads\n");
        return 1;
    }

    /* which pull requests were merged (the Stats page), bounded */
    pulls = rc_pulls_start(&w, github_api, pulls_per_minute, pulls_every,
                           &rc_stop, &pulls_thread);

    if (pulls < 0) {
        fprintf(stderr, "replicas-control: cannot start the pull request "
                "poller\n");
        return 1;
    }

    last_keep = 0;

    while (!rc_stop) {
        if (rc_redis_lost(&w)) {
            rc_reconnect(&w);
            continue;
        }

        rc_worker_lease(&w);

        if (rc_now_ms() - last_keep >= 1000) {
            last_keep = rc_now_ms();
            rc_dispatch_keep(&w);
        }

        (void) rc_takeover(&w);
        (void) rc_poll(&w);
    }

    /* the jobs in hand finish (or stay pending for the next worker) */
    rc_dispatch_stop();
    pthread_join(timers, NULL);

    if (pulls > 0) {
        rc_pulls_stop(pulls_thread);
    }
    redisFree(lifecycle.redis);

    freeReplyObject(redisCommand(w.redis, "DEL " RP_KEY_WORKER_PREFIX "%s",
                                 w.consumer));

    rc_info("worker.stop", "consumer=%s", w.consumer);
    rc_engine_thread_done();

    return 0;
}
