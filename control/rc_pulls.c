/*
 * The pull request poller (rc_pulls.h), a thread of replicas-control serve
 * with its own Redis connection (rc_serve.c starts it with
 * rc_pulls_start): bounded, so a thousand workspaces never make a burst.
 * Per second: a page of workspace records (SCAN, 100), and of those with
 * a pull request recorded (their "git", saved at each sleep), each not
 * checked within --pulls-every is asked of GitHub, until the minute's
 * budget (--pulls-per-minute, counted in Redis, shared by every worker)
 * is spent.  A rate limit's answer stops every worker until its reset.
 */

#define _GNU_SOURCE

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "common/rp_buf.h"
#include "common/rp_crypt.h"
#include "common/rp_keys.h"
#include "rc_environment.h"
#include "rc_log.h"
#include "rc_pulls.h"
#include "rc_worker.h"


#define RC_PULLS_PAGE        100
#define RC_PULLS_TIMEOUT_MS  5000
#define RC_PULLS_REPLY_MAX   (1024 * 1024)
#define RC_PULLS_PER_WS      8          /* pull requests asked of one */


typedef struct {
    rc_worker_t     w;                  /* its own connection */
    const char     *api;                /* no trailing slash */
    unsigned        per_minute;
    long            every_s;
    volatile int   *stop;
    char            cursor[32];
    int             spent;              /* this tick: budget or a limit */
} rc_pulls_t;


typedef struct {
    char  remaining[24];
    char  reset[24];
    char  retry_after[24];
} rc_pulls_headers_t;


static rc_pulls_t  rc_pulls;


/* X-RateLimit-Remaining, X-RateLimit-Reset, Retry-After kept */
static size_t
rc_pulls_header(char *line, size_t size, size_t n, void *data)
{
    size_t               len, name_len;
    char                *colon, *slot;
    rc_pulls_headers_t  *h = data;

    len = size * n;
    colon = memchr(line, ':', len);

    if (colon == NULL) {
        return len;
    }

    name_len = colon - line;
    slot = NULL;

    if (name_len == 21 && strncasecmp(line, "x-ratelimit-remaining", 21) == 0)
    {
        slot = h->remaining;
    } else if (name_len == 17
               && strncasecmp(line, "x-ratelimit-reset", 17) == 0)
    {
        slot = h->reset;
    } else if (name_len == 11 && strncasecmp(line, "retry-after", 11) == 0) {
        slot = h->retry_after;
    }

    if (slot) {
        snprintf(slot, sizeof(h->remaining), "%.*s",
                 (int) (len - name_len - 1), colon + 1);
        slot[strcspn(slot, "\r\n")] = '\0';
    }

    return len;
}


/* GET one pull request: the status (0: no answer), body in buf */
static long
rc_pulls_get(rc_pulls_t *p, const rc_pull_ref_t *ref, const char *token,
    rp_buf_t *buf, rc_pulls_headers_t *h)
{
    char                url[1024], *auth;
    long                status;
    CURL               *curl;
    CURLcode            rc;
    struct curl_slist  *hdrs;

    status = 0;
    auth = NULL;
    curl = curl_easy_init();

    if (curl == NULL) {
        return 0;
    }

    snprintf(url, sizeof(url), "%s/repos/%s/%s/pulls/%lld", p->api,
             ref->owner, ref->repo, ref->number);

    hdrs = curl_slist_append(NULL, "Accept: application/vnd.github+json");
    hdrs = curl_slist_append(hdrs, "X-GitHub-Api-Version: 2022-11-28");

    if (token && asprintf(&auth, "Authorization: Bearer %s", token) > 0) {
        hdrs = curl_slist_append(hdrs, auth);
    }

    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "replicas-control");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long) RC_PULLS_TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, rp_buf_append);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, buf);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, rc_pulls_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, h);

    rc = curl_easy_perform(curl);

    if (rc == CURLE_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    }

    curl_easy_cleanup(curl);
    curl_slist_free_all(hdrs);

    if (auth) {
        rp_crypt_wipe(auth, strlen(auth));
        free(auth);
    }

    return status;
}


/* the UTC day of unix time t */
static void
rc_pulls_day(long long t, char day[16])
{
    time_t     tt;
    struct tm  tm;

    tt = (time_t) t;
    gmtime_r(&tt, &tm);
    strftime(day, 16, "%Y-%m-%d", &tm);
}


/*
 * A workspace's pull request seen (ARGV 1 "seen") or merged ("merged"),
 * once: the field set if not yet, then the counter of the workspace's
 * start day, then the change published.  KEYS[1] the workspace; ARGV
 * 2 the field's value, 3 the stats key, 4 the counters' lifetime, 5 the
 * channel, 6 its id, 7 the merged pull request's URL.
 */
#define RC_PULLS_MARK_LUA                                                     \
    "local f = ARGV[1] == 'merged' and 'pr_merged_at' or 'pr_seen_at' "     \
    "if redis.call('HSETNX', KEYS[1], f, ARGV[2]) == 0 then return 0 end "  \
    "redis.call('HINCRBY', ARGV[3], ARGV[1] == 'merged' and 'merged' "      \
    "or 'with_pr', 1) "                                                      \
    "redis.call('EXPIRE', ARGV[3], tonumber(ARGV[4])) "                     \
    "if ARGV[1] == 'merged' then "                                           \
    "  redis.call('HSET', KEYS[1], 'pr_merged_url', ARGV[7]) "               \
    "  redis.call('PUBLISH', ARGV[5], ARGV[6]) "                             \
    "end "                                                                   \
    "return 1"

static void
rc_pulls_mark(rc_pulls_t *p, const char *ws, const char *org,
    long long created, const char *what, long long value, const char *url)
{
    char  day[16], stats[160];

    rc_pulls_day(created, day);
    snprintf(stats, sizeof(stats), RP_KEY_STATS_PREFIX "%s:%s", org, day);

    freeReplyObject(rc_cmd(&p->w, "EVAL %s 1 " RP_KEY_WORKSPACE_PREFIX "%s "
                           "%s %lld %s %d " RP_CHANNEL_WS_CHANGED " %s %s",
                           RC_PULLS_MARK_LUA, ws, what, value, stats,
                           RP_STATS_TTL_S, ws, url ? url : ""));
}


/* 1 if url is in the JSON list closed */
static int
rc_pulls_closed(json_t *closed, const char *url)
{
    size_t   i;
    json_t  *v;

    json_array_foreach(closed, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), url) == 0) {
            return 1;
        }
    }

    return 0;
}


/* 1 if the budget of this minute has room for one more request */
static int
rc_pulls_budget(rc_pulls_t *p)
{
    long long    used;
    redisReply  *r;

    r = rc_cmd(&p->w, "INCR " RP_KEY_PULLS_BUDGET_PREFIX "%lld",
               (long long) time(NULL) / 60);
    used = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);

    if (used == 1) {
        freeReplyObject(rc_cmd(&p->w, "EXPIRE " RP_KEY_PULLS_BUDGET_PREFIX
                               "%lld 120", (long long) time(NULL) / 60));
    }

    return used >= 1 && used <= (long long) p->per_minute;
}


/*
 * One pull request asked: 1 asked (whatever the answer), 0 not asked (no
 * budget, a limit), with the outcome recorded.
 */
static int
rc_pulls_ask(rc_pulls_t *p, const char *ws, const char *org,
    long long created, const char *url, const rc_pull_ref_t *ref,
    const char *token, json_t *closed, int *closed_changed)
{
    long                status;
    long long           now, until, merged_at;
    rp_buf_t            buf;
    rc_pull_state_e     state;
    rc_pulls_headers_t  h;

    if (!rc_pulls_budget(p)) {
        p->spent = 1;
        return 0;
    }

    memset(&buf, 0, sizeof(buf));
    memset(&h, 0, sizeof(h));
    buf.max = RC_PULLS_REPLY_MAX;

    status = rc_pulls_get(p, ref, token, &buf, &h);
    now = time(NULL);

    until = rc_pulls_backoff(status, h.remaining[0] ? h.remaining : NULL,
                             h.reset[0] ? h.reset : NULL,
                             h.retry_after[0] ? h.retry_after : NULL, now);

    if (until) {
        /* every worker waits (the last answer's word wins) */
        freeReplyObject(rc_cmd(&p->w, "SET " RP_KEY_PULLS_BACKOFF " %lld EX "
                               "%lld", until, until - now + 1));
        rc_warn("pulls.rate_limited", "status=%ld until=%lld", status, until);
        p->spent = 1;
    }

    if (status == 200
        && rc_pulls_answer(buf.data ? buf.data : "", buf.len, &state,
                           &merged_at) == 0)
    {
        if (state == RC_PULL_MERGED) {
            rc_info("pulls.merged", "ws=%s url=%s", ws, url);
            rc_pulls_mark(p, ws, org, created, "merged",
                          merged_at ? merged_at : now, url);

        } else if (state == RC_PULL_CLOSED) {
            rc_info("pulls.closed", "ws=%s url=%s", ws, url);
            json_array_append_new(closed, json_string(url));
            *closed_changed = 1;
        }

    } else if (status != 200 && !until) {
        rc_warn("pulls.failed", "ws=%s url=%s status=%ld", ws, url, status);
    }

    free(buf.data);

    return until && status != 200 ? 0 : 1;
}


/* 1 if ref is of one of the workspace's repositories (HMGET's 9th and
 * 10th: "repository", "repositories" a JSON list when several) */
static int
rc_pulls_ours(redisReply *r, const rc_pull_ref_t *ref)
{
    int      ours;
    size_t   i;
    json_t  *list, *v;

    if (r->element[8]->type == REDIS_REPLY_STRING
        && rc_pulls_of_repository(r->element[8]->str, ref))
    {
        return 1;
    }

    if (r->element[9]->type != REDIS_REPLY_STRING) {
        return 0;
    }

    ours = 0;
    list = json_loads(r->element[9]->str, 0, NULL);

    json_array_foreach(list, i, v) {
        if (json_is_string(v)
            && rc_pulls_of_repository(json_string_value(v), ref))
        {
            ours = 1;
        }
    }

    json_decref(list);

    return ours;
}


/* the workspace's record, and its pull requests asked if due */
static void
rc_pulls_one(rc_pulls_t *p, const char *ws)
{
    int            closed_changed, asked, n;
    char          *token, err[512], *text;
    size_t         i;
    json_t        *git, *repo, *closed;
    long long      created;
    redisReply    *r, *due;
    const char    *org, *state, *url, *env;
    rc_pull_ref_t  ref;

    r = rc_cmd(&p->w, "HMGET " RP_KEY_WORKSPACE_PREFIX "%s org state created "
               "environment git pr_merged_at pr_seen_at pr_closed repository "
               "repositories", ws);

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 10
        || r->element[0]->type != REDIS_REPLY_STRING
        || r->element[1]->type != REDIS_REPLY_STRING
        || r->element[4]->type != REDIS_REPLY_STRING
        || r->element[5]->type == REDIS_REPLY_STRING)
    {
        freeReplyObject(r);             /* none, deleted or merged */
        return;
    }

    org = r->element[0]->str;
    state = r->element[1]->str;
    created = r->element[2]->type == REDIS_REPLY_STRING
              ? atoll(r->element[2]->str) : (long long) time(NULL);
    env = r->element[3]->type == REDIS_REPLY_STRING ? r->element[3]->str : "";
    git = json_loads(r->element[4]->str, 0, NULL);
    closed = r->element[7]->type == REDIS_REPLY_STRING
             ? json_loads(r->element[7]->str, 0, NULL) : NULL;

    if (!json_is_array(closed)) {
        json_decref(closed);
        closed = json_array();
    }

    if (strcmp(state, "deleted") == 0 || !json_is_array(git) || closed == NULL)
    {
        goto done;
    }

    /* its pull requests, as the engine keeps them: [{pullRequest: {url}}] */
    n = 0;

    json_array_foreach(git, i, repo) {
        url = json_string_value(json_object_get(
                  json_object_get(repo, "pullRequest"), "url"));
        n += url != NULL && rc_pulls_url(url, strlen(url), &ref) == 0
             && rc_pulls_ours(r, &ref);
    }

    if (n == 0) {
        goto done;
    }

    if (r->element[6]->type != REDIS_REPLY_STRING) {
        rc_pulls_mark(p, ws, org, created, "seen", (long long) time(NULL),
                      NULL);
    }

    /* due: not checked within --pulls-every, by this worker or another */
    due = rc_cmd(&p->w, "SET " RP_KEY_PULLS_DUE_PREFIX "%s 1 NX EX %ld", ws,
                 p->every_s);

    if (due == NULL || due->type != REDIS_REPLY_STATUS) {
        freeReplyObject(due);
        goto done;
    }

    freeReplyObject(due);

    token = NULL;

    if (rc_environment_git_token(&p->w, org, env, &token, err, sizeof(err))
        != 0)
    {
        /* err names the environment, never a value: asked without */
        rc_warn("pulls.no_token", "ws=%s reason=\"%s\"", ws, err);
    }

    closed_changed = 0;
    asked = 0;

    json_array_foreach(git, i, repo) {
        url = json_string_value(json_object_get(
                  json_object_get(repo, "pullRequest"), "url"));

        if (url == NULL || rc_pulls_closed(closed, url)
            || asked == RC_PULLS_PER_WS)
        {
            continue;
        }

        if (rc_pulls_url(url, strlen(url), &ref) != 0
            || !rc_pulls_ours(r, &ref))
        {
            /* the workspace's word: only its own repositories' count */
            rc_warn("pulls.not_its_own", "ws=%s", ws);
            json_array_append_new(closed, json_string(url));
            closed_changed = 1;
            continue;
        }

        if (!rc_pulls_ask(p, ws, org, created, url, &ref, token, closed,
                          &closed_changed))
        {
            /* not asked: due again as soon as there is room */
            freeReplyObject(rc_cmd(&p->w, "DEL " RP_KEY_PULLS_DUE_PREFIX "%s",
                                   ws));
            break;
        }

        asked++;

        if (p->spent) {
            break;
        }
    }

    if (token) {
        rp_crypt_wipe(token, strlen(token));
        free(token);
    }

    if (closed_changed) {
        text = json_dumps(closed, JSON_COMPACT);
        if (text) {
            freeReplyObject(rc_cmd(&p->w, "HSET " RP_KEY_WORKSPACE_PREFIX
                                   "%s pr_closed %s", ws, text));
            free(text);
        }
    }

done:

    json_decref(git);
    json_decref(closed);
    freeReplyObject(r);
}


/* one second's page of workspaces */
static void
rc_pulls_tick(rc_pulls_t *p)
{
    size_t        i, plen;
    redisReply   *r, *keys;
    long long     until;

    p->spent = 0;

    r = rc_cmd(&p->w, "GET " RP_KEY_PULLS_BACKOFF);
    until = r && r->type == REDIS_REPLY_STRING ? atoll(r->str) : 0;
    freeReplyObject(r);

    if (until > (long long) time(NULL)) {
        return;
    }

    r = rc_cmd(&p->w, "SCAN %s MATCH " RP_KEY_WORKSPACE_PREFIX "* COUNT %d "
               "TYPE hash", p->cursor, RC_PULLS_PAGE);

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2
        || r->element[0]->type != REDIS_REPLY_STRING
        || r->element[1]->type != REDIS_REPLY_ARRAY)
    {
        freeReplyObject(r);
        return;
    }

    snprintf(p->cursor, sizeof(p->cursor), "%s", r->element[0]->str);
    keys = r->element[1];
    plen = sizeof(RP_KEY_WORKSPACE_PREFIX) - 1;

    for (i = 0; i < keys->elements && !p->spent && !*p->stop; i++) {
        if (keys->element[i]->type == REDIS_REPLY_STRING
            && keys->element[i]->len > plen)
        {
            rc_pulls_one(p, keys->element[i]->str + plen);
        }
    }

    freeReplyObject(r);
}


static void *
rc_pulls_main(void *data)
{
    long long        last;
    rc_pulls_t      *p = data;
    struct timespec  ts = { 0, 100 * 1000 * 1000 };

    last = 0;

    while (!*p->stop) {
        if (rc_redis_lost(&p->w)) {
            rc_redis_reconnect(&p->w, p->stop);
            continue;
        }

        if (rc_now_ms() - last >= 1000) {
            last = rc_now_ms();
            rc_pulls_tick(p);
        }

        nanosleep(&ts, NULL);
    }

    return NULL;
}


int
rc_pulls_start(rc_worker_t *w, const char *api, unsigned per_minute,
    long every_s, volatile int *stop, pthread_t *thread)
{
    size_t     len;
    sigset_t   all, old;
    static char  base[1024];

    if (per_minute == 0) {
        return 0;                       /* off */
    }

    len = strlen(api);

    while (len > 0 && api[len - 1] == '/') {
        len--;
    }

    if (len == 0 || len >= sizeof(base)) {
        return -1;
    }

    memcpy(base, api, len);
    base[len] = '\0';

    rc_pulls.w = *w;
    snprintf(rc_pulls.w.holder, sizeof(rc_pulls.w.holder), "%s/pulls",
             w->consumer);
    rc_pulls.w.redis = rc_redis_connect_like(w->redis);
    rc_pulls.api = base;
    rc_pulls.per_minute = per_minute;
    rc_pulls.every_s = every_s;
    rc_pulls.stop = stop;
    snprintf(rc_pulls.cursor, sizeof(rc_pulls.cursor), "0");

    if (rc_pulls.w.redis == NULL) {
        return -1;
    }

    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);

    if (pthread_create(thread, NULL, rc_pulls_main, &rc_pulls) != 0) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return -1;
    }

    pthread_sigmask(SIG_SETMASK, &old, NULL);

    rc_info("pulls.start", "api=%s per_minute=%u every=%ld", base, per_minute,
            every_s);

    return 1;
}


void
rc_pulls_stop(pthread_t thread)
{
    pthread_join(thread, NULL);
    redisFree(rc_pulls.w.redis);
}
