/*
 * The engine watch (rc_watch.h).  The table is shared by the job loop
 * (what to watch, verdicts) and the probing thread (results), under one
 * mutex held only to copy; the probes run outside it.  A result is kept
 * only if its entry's generation is still the one probed: a restart
 * resets the entry, and a probe of the old engine then counts for nothing.
 */

#define _GNU_SOURCE

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "common/rp_buf.h"
#include "common/rp_keys.h"
#include "rc_git_state.h"
#include "rc_log.h"
#include "rc_watch.h"


#define RC_WATCH_REPLY_MAX  (256 * 1024)


typedef struct {
    char      ws[40];
    char      addr[24];
    unsigned  gen;
    int       wanted;
    int       fails;
    int       refused;
    int       probed;
    int       busy;
    char      desktop[24];
    char      desktop_written[24];
    int       working;
    int       working_written;          /* 0 none, 1 + the value */
    rc_watch_usage_t  usage;            /* the last answer's */
    rc_watch_usage_t  usage_written;
    char     *git;                      /* the last answer's, kept shape */
    uint64_t  git_hash;                 /* of git */
    uint64_t  git_written;              /* the hash written, 0 none */
} rc_watch_entry_t;


typedef struct {
    char      ws[40];
    char      addr[24];
    unsigned  gen;
    CURL     *curl;
    rp_buf_t  buf;
} rc_watch_probe_t;


static pthread_mutex_t    rc_watch_lock = PTHREAD_MUTEX_INITIALIZER;
static rc_watch_entry_t  *rc_watch_list;
static size_t             rc_watch_n, rc_watch_cap;
static unsigned           rc_watch_gen;
static int                rc_watch_started;


static rc_watch_entry_t *
rc_watch_find(const char *ws)
{
    size_t  i;

    for (i = 0; i < rc_watch_n; i++) {
        if (strcmp(rc_watch_list[i].ws, ws) == 0) {
            return &rc_watch_list[i];
        }
    }

    return NULL;
}


/* what one answer says: ok (and the desktop's state), or a failure */
static void
rc_watch_judge(rc_watch_probe_t *p, CURLcode rc)
{
    long               status;
    char              *git, *stale;
    json_t            *j, *u;
    int                busy, working;
    uint64_t           git_hash;
    const char        *desktop, *id;
    rc_watch_entry_t  *e;
    rc_watch_usage_t   usage;

    status = 0;
    busy = 0;
    working = 0;
    desktop = NULL;
    j = NULL;
    git = NULL;
    git_hash = 0;
    memset(&usage, 0, sizeof(usage));

    if (rc == CURLE_OK) {
        curl_easy_getinfo(p->curl, CURLINFO_RESPONSE_CODE, &status);
        j = p->buf.data ? json_loadb(p->buf.data, p->buf.len, 0, NULL) : NULL;
        desktop = json_string_value(json_object_get(
                      json_object_get(j, "desktop"), "state"));
        busy = json_is_true(json_object_get(j, "busy"));
        working = json_is_true(json_object_get(j, "working"));

        /* an engine from before "usage" (or a bad one) counts nothing */
        u = json_object_get(j, "usage");
        id = json_string_value(json_object_get(u, "id"));

        if (id && strlen(id) < sizeof(usage.id)) {
            memcpy(usage.id, id, strlen(id) + 1);
            usage.turns = json_integer_value(json_object_get(u, "turns"));
            usage.in = json_integer_value(json_object_get(u, "input_tokens"));
            usage.out = json_integer_value(json_object_get(u,
                                                           "output_tokens"));
            usage.cost = json_integer_value(json_object_get(u,
                                                            "cost_micro_usd"));
        }

        /* the repositories' summary, in the shape kept (an engine without
         * one leaves what was seen) */
        git = rc_git_state_text(json_object_get(j, "repositories"));
        git_hash = git ? rc_git_state_hash(git) : 0;
    }

    pthread_mutex_lock(&rc_watch_lock);

    e = rc_watch_find(p->ws);

    if (e && e->gen == p->gen && strcmp(e->addr, p->addr) == 0) {
        e->probed = 1;

        if (status == 200) {
            e->fails = 0;
            e->refused = 0;
            e->busy = busy;
            e->working = working;
            e->usage = usage;
            snprintf(e->desktop, sizeof(e->desktop), "%s",
                     desktop ? desktop : "");

            if (git && git_hash != e->git_hash) {
                stale = e->git;         /* freed below, outside the lock */
                e->git = git;
                e->git_hash = git_hash;
                git = stale;
            }
        } else {
            e->fails++;
            e->refused = rc == CURLE_COULDNT_CONNECT;
        }
    }

    pthread_mutex_unlock(&rc_watch_lock);

    json_decref(j);
    free(git);
}


/* every watched engine at once; returns when all answered or timed out */
static void
rc_watch_round(CURLM *multi)
{
    int                running, left;
    size_t             i, n;
    CURLMsg           *m;
    rc_watch_probe_t  *probes, *p;
    char               url[96];

    pthread_mutex_lock(&rc_watch_lock);

    n = rc_watch_n;
    probes = n ? calloc(n, sizeof(rc_watch_probe_t)) : NULL;

    for (i = 0; probes && i < n; i++) {
        memcpy(probes[i].ws, rc_watch_list[i].ws, sizeof(probes[i].ws));
        memcpy(probes[i].addr, rc_watch_list[i].addr,
               sizeof(probes[i].addr));
        probes[i].gen = rc_watch_list[i].gen;
    }

    pthread_mutex_unlock(&rc_watch_lock);

    if (probes == NULL) {
        return;
    }

    for (i = 0; i < n; i++) {
        p = &probes[i];
        p->buf.max = RC_WATCH_REPLY_MAX;
        p->curl = curl_easy_init();

        if (p->curl == NULL) {
            continue;
        }

        snprintf(url, sizeof(url), "http://%s:3737/healthz", p->addr);
        curl_easy_setopt(p->curl, CURLOPT_URL, url);
        curl_easy_setopt(p->curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(p->curl, CURLOPT_NOPROXY, "*");
        curl_easy_setopt(p->curl, CURLOPT_TIMEOUT_MS,
                         (long) RC_WATCH_TIMEOUT_MS);
        curl_easy_setopt(p->curl, CURLOPT_CONNECTTIMEOUT_MS,
                         (long) RC_WATCH_TIMEOUT_MS);
        curl_easy_setopt(p->curl, CURLOPT_WRITEFUNCTION, rp_buf_append);
        curl_easy_setopt(p->curl, CURLOPT_WRITEDATA, &p->buf);
        curl_easy_setopt(p->curl, CURLOPT_PRIVATE, p);
        curl_multi_add_handle(multi, p->curl);
    }

    do {
        if (curl_multi_perform(multi, &running) != CURLM_OK) {
            break;
        }

        while ((m = curl_multi_info_read(multi, &left)) != NULL) {
            if (m->msg == CURLMSG_DONE) {
                curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE,
                                  (char **) &p);
                rc_watch_judge(p, m->data.result);
            }
        }

        if (running
            && curl_multi_poll(multi, NULL, 0, 100, NULL) != CURLM_OK)
        {
            break;
        }

    } while (running);

    for (i = 0; i < n; i++) {
        if (probes[i].curl) {
            curl_multi_remove_handle(multi, probes[i].curl);
            curl_easy_cleanup(probes[i].curl);
        }
        free(probes[i].buf.data);
    }

    free(probes);
}


static void *
rc_watch_main(void *arg)
{
    CURLM            *multi;
    long long         start, spent;
    struct timespec   ts;

    (void) arg;

    multi = curl_multi_init();
    if (multi == NULL) {
        rc_error("watch.failed", "what=curl_multi_init");
        return NULL;
    }

    for ( ;; ) {
        start = rc_now_ms();
        rc_watch_round(multi);
        spent = rc_now_ms() - start;

        if (spent < RC_WATCH_EVERY_MS) {
            ts.tv_sec = 0;
            ts.tv_nsec = (RC_WATCH_EVERY_MS - spent) * 1000000L;
            nanosleep(&ts, NULL);
        }
    }

    return NULL;
}


/* once, at the first engine to watch; the thread takes no signals (the
 * job loop's handlers stay the job loop's) */
static void
rc_watch_start(void)
{
    pthread_t  t;
    sigset_t   all, old;

    rc_watch_started = 1;

    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);

    if (pthread_create(&t, NULL, rc_watch_main, NULL) != 0) {
        rc_error("watch.failed", "what=pthread_create");
    } else {
        pthread_detach(t);
    }

    pthread_sigmask(SIG_SETMASK, &old, NULL);
}


void
rc_watch_want(const char *ws, const char *addr)
{
    rc_watch_entry_t  *e, *list;

    if (!rc_watch_started) {
        rc_watch_start();
    }

    pthread_mutex_lock(&rc_watch_lock);

    e = rc_watch_find(ws);

    if (e == NULL) {
        if (rc_watch_n == rc_watch_cap) {
            list = realloc(rc_watch_list, (rc_watch_cap ? 2 * rc_watch_cap
                                                        : 16)
                                          * sizeof(rc_watch_entry_t));
            if (list == NULL) {
                pthread_mutex_unlock(&rc_watch_lock);
                return;
            }
            rc_watch_list = list;
            rc_watch_cap = rc_watch_cap ? 2 * rc_watch_cap : 16;
        }

        e = &rc_watch_list[rc_watch_n++];
        memset(e, 0, sizeof(*e));
        snprintf(e->ws, sizeof(e->ws), "%s", ws);
        e->gen = ++rc_watch_gen;
    }

    /* a new address (a sandbox moved) is a new engine */
    if (strcmp(e->addr, addr) != 0) {
        snprintf(e->addr, sizeof(e->addr), "%s", addr);
        e->gen = ++rc_watch_gen;
        e->fails = 0;
        e->probed = 0;
    }

    e->wanted = 1;

    pthread_mutex_unlock(&rc_watch_lock);
}


void
rc_watch_sweep(void)
{
    size_t  i;

    pthread_mutex_lock(&rc_watch_lock);

    for (i = 0; i < rc_watch_n; /* void */) {
        if (!rc_watch_list[i].wanted) {
            free(rc_watch_list[i].git);
            rc_watch_list[i] = rc_watch_list[--rc_watch_n];
            continue;
        }

        rc_watch_list[i++].wanted = 0;
    }

    pthread_mutex_unlock(&rc_watch_lock);
}


int
rc_watch_verdict(const char *ws, rc_watch_verdict_t *v)
{
    rc_watch_entry_t  *e;

    pthread_mutex_lock(&rc_watch_lock);

    e = rc_watch_find(ws);

    if (e) {
        v->fails = e->fails;
        v->refused = e->refused;
        v->probed = e->probed;
        v->busy = e->busy;
        memcpy(v->desktop, e->desktop, sizeof(v->desktop));
    }

    pthread_mutex_unlock(&rc_watch_lock);

    return e ? 0 : -1;
}


void
rc_watch_reset(const char *ws)
{
    rc_watch_entry_t  *e;

    pthread_mutex_lock(&rc_watch_lock);

    e = rc_watch_find(ws);

    if (e) {
        e->gen = ++rc_watch_gen;
        e->fails = 0;
        e->refused = 0;
        e->probed = 0;
    }

    pthread_mutex_unlock(&rc_watch_lock);
}


int
rc_watch_desktop_changed(const char *ws, const char *desktop)
{
    int                changed;
    rc_watch_entry_t  *e;

    pthread_mutex_lock(&rc_watch_lock);

    e = rc_watch_find(ws);
    changed = e && desktop[0] && strcmp(e->desktop_written, desktop) != 0;

    if (changed) {
        snprintf(e->desktop_written, sizeof(e->desktop_written), "%s",
                 desktop);
    }

    pthread_mutex_unlock(&rc_watch_lock);

    return changed;
}


int
rc_watch_working_changed(const char *ws, int *working)
{
    int                changed;
    rc_watch_entry_t  *e;

    pthread_mutex_lock(&rc_watch_lock);

    e = rc_watch_find(ws);
    changed = e && e->probed && e->fails == 0
              && e->working_written != 1 + e->working;

    if (changed) {
        e->working_written = 1 + e->working;
        *working = e->working;
    }

    pthread_mutex_unlock(&rc_watch_lock);

    return changed;
}


int
rc_watch_usage_changed(const char *ws, rc_watch_usage_t *u)
{
    int                changed;
    rc_watch_entry_t  *e;

    pthread_mutex_lock(&rc_watch_lock);

    e = rc_watch_find(ws);
    changed = e && e->probed && e->fails == 0 && e->usage.id[0]
              && (strcmp(e->usage.id, e->usage_written.id) != 0
                  || e->usage.turns != e->usage_written.turns
                  || e->usage.in != e->usage_written.in
                  || e->usage.out != e->usage_written.out
                  || e->usage.cost != e->usage_written.cost);

    if (changed) {
        e->usage_written = e->usage;
        *u = e->usage;
    }

    pthread_mutex_unlock(&rc_watch_lock);

    return changed;
}


int
rc_watch_git_changed(const char *ws, char **git)
{
    int                changed;
    rc_watch_entry_t  *e;

    pthread_mutex_lock(&rc_watch_lock);

    e = rc_watch_find(ws);
    changed = e && e->probed && e->fails == 0 && e->git
              && e->git_hash != e->git_written;

    if (changed) {
        *git = strdup(e->git);
        changed = *git != NULL;
        e->git_written = changed ? e->git_hash : e->git_written;
    }

    pthread_mutex_unlock(&rc_watch_lock);

    return changed;
}


void
rc_watch_git_unwritten(const char *ws)
{
    rc_watch_entry_t  *e;

    pthread_mutex_lock(&rc_watch_lock);

    e = rc_watch_find(ws);

    if (e) {
        e->git_written = 0;
    }

    pthread_mutex_unlock(&rc_watch_lock);
}


/*
 * What the engine's turns spent since the workspace's last record
 * ("spent_*" fields) added to the day's counters of its organisation,
 * atomically: two workers, a restarted control or an engine restarted
 * (same id, same totals) count each token once.  A new id (the engine's
 * state lost) is counted from 0.  KEYS[1] the workspace; ARGV 1 id,
 * 2 turns, 3 in, 4 out, 5 cost, 6 the stats key prefix, 7 the UTC day,
 * 8 the counters' lifetime (seconds).
 */
#define RC_WATCH_RECORD_LUA                                                   \
    "local h = redis.call('HMGET', KEYS[1], 'org', 'state', 'spent_id', "   \
    "'spent_turns', 'spent_in', 'spent_out', 'spent_cost') "                \
    "if not h[1] or h[2] == 'deleted' then return 0 end "                   \
    "local names = {'turns', 'tokens_in', 'tokens_out', 'cost_micro_usd'} " \
    "local k = ARGV[6] .. h[1] .. ':' .. ARGV[7] "                          \
    "for i = 1, 4 do "                                                       \
    "  local was = h[3] == ARGV[1] and tonumber(h[3 + i]) or 0 "            \
    "  local d = (tonumber(ARGV[1 + i]) or 0) - (was or 0) "                \
    "  if d > 0 then redis.call('HINCRBY', k, names[i], d) end "            \
    "end "                                                                   \
    "redis.call('EXPIRE', k, tonumber(ARGV[8])) "                           \
    "redis.call('HSET', KEYS[1], 'spent_id', ARGV[1], 'spent_turns', "      \
    "ARGV[2], 'spent_in', ARGV[3], 'spent_out', ARGV[4], 'spent_cost', "    \
    "ARGV[5]) "                                                              \
    "return 1"

static void
rc_watch_record(rc_worker_t *w, const char *ws, const rc_watch_usage_t *u)
{
    char        day[16];
    time_t      now;
    struct tm   tm;

    now = time(NULL);
    gmtime_r(&now, &tm);
    strftime(day, sizeof(day), "%Y-%m-%d", &tm);

    freeReplyObject(rc_cmd(w, "EVAL %s 1 " RP_KEY_WORKSPACE_PREFIX "%s %s "
                           "%lld %lld %lld %lld " RP_KEY_STATS_PREFIX " %s %d",
                           RC_WATCH_RECORD_LUA, ws, u->id, u->turns, u->in,
                           u->out, u->cost, day, RP_STATS_TTL_S));
}


void
rc_watch_trouble(rc_worker_t *w, const char *ws, const char *reason)
{
    redisReply  *r;

    r = rc_cmd(w, "SET " RP_KEY_LOCK_PREFIX "restart:%s 1 NX PX 30000", ws);

    if (r && r->type == REDIS_REPLY_STATUS) {
        rc_warn("engine.unhealthy", "ws=%s reason=\"%s\"", ws, reason);
        freeReplyObject(rc_cmd(w, "HSET " RP_KEY_WORKSPACE_PREFIX "%s "
                               "engine_health restarting engine_reason %s",
                               ws, reason));
        (void) rc_enqueue(w, "restart", ws, "reason", reason, NULL);
    }

    freeReplyObject(r);
}


void
rc_watch_check(rc_worker_t *w, const rc_sandbox_t *sb)
{
    int                 working;
    char               *git;
    rc_watch_verdict_t  v;
    rc_watch_usage_t    usage;

    rc_watch_want(sb->workspace, sb->addr);

    if (rc_watch_verdict(sb->workspace, &v) != 0 || !v.probed) {
        return;
    }

    if (v.fails >= RC_WATCH_FAILS) {
        rc_watch_trouble(w, sb->workspace, v.refused
                         ? "the engine stopped: nothing listens on 3737"
                         : "the engine hung: /healthz did not answer in "
                           "800 ms");
        return;
    }

    /* an agent or a hook at work is activity: --idle-sleep waits (seen
     * every probe, so within a second whatever --idle-sleep is) */
    if (v.fails == 0 && v.busy) {
        freeReplyObject(rc_cmd(w, "ZADD " RP_KEY_ACTIVITY " %ld %s",
                               (long) time(NULL), sb->workspace));
    }

    /* the Stats page's agents working now, and what turns spent */
    if (v.fails == 0 && rc_watch_working_changed(sb->workspace, &working)) {
        freeReplyObject(rc_cmd(w, "HSET " RP_KEY_WORKSPACE_PREFIX "%s "
                               "working %d", sb->workspace, working));
        freeReplyObject(rc_cmd(w, "PUBLISH " RP_CHANNEL_WS_CHANGED " %s",
                               sb->workspace));
    }

    if (v.fails == 0 && rc_watch_usage_changed(sb->workspace, &usage)) {
        rc_watch_record(w, sb->workspace, &usage);
    }

    /* the list's branch and pull request while it is awake (the sleep
     * saves them too, with the same writer): on change only; a job at
     * work on the workspace (its sleep) has it written next pass */
    if (v.fails == 0 && rc_watch_git_changed(sb->workspace, &git)) {
        if (rc_history_git_put(w, sb->workspace, git, 1) < 0) {
            rc_watch_git_unwritten(sb->workspace);
        }
        free(git);
    }

    /* the engine supervises the desktop's programs; we report it */
    if (v.fails == 0 && rc_watch_desktop_changed(sb->workspace, v.desktop)) {
        freeReplyObject(rc_cmd(w, "HSET " RP_KEY_WORKSPACE_PREFIX "%s "
                               "desktop_health %s", sb->workspace,
                               v.desktop));
    }
}
