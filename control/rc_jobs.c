/*
 * The jobs: create, wake, sleep, delete, message.  Each one holds its
 * workspace's lock, reads the workspace's state and does only what that
 * state still needs, so a job redone after a crash, or a duplicate, is
 * harmless (wake on an awake workspace: nothing; create that finds its
 * sandbox already made: goes on from there).
 */

#define _GNU_SOURCE

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <grp.h>

#include "common/rp_crypt.h"
#include "common/rp_keys.h"
#include "rc_engine.h"
#include "rc_environment.h"
#include "rc_git.h"
#include "rc_identity.h"
#include "rc_log.h"
#include "rc_repo_config.h"
#include "rc_watch.h"
#include "rc_worker.h"


#define RC_WS_LOCK_WAIT_MS   30000
#define RC_ERR_MAX           512
/* the warm hooks' output copied into a workspace (an environment file's
 * limit: it is written the same way) */
#define RC_WS_WARM_LOG_MAX   (64 * 1024 - 1)
/* how long a wake waits for the dev servers to listen again */
#define RC_WS_PORTS_WAIT_MS  15000


/* state, its time, the reason, the org's awake set and the announcement,
 * atomically; a deleted workspace stays deleted whatever a late job says */
static const char  rc_set_state_lua[] =
    "local state = redis.call('HGET', KEYS[1], 'state')\n"
    "if not state then return 0 end\n"
    "if state == 'deleted' and ARGV[1] ~= 'deleted' then return 0 end\n"
    "redis.call('HSET', KEYS[1], 'state', ARGV[1], 'state_at', ARGV[2])\n"
    "if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'reason', ARGV[3])\n"
    "else redis.call('HDEL', KEYS[1], 'reason') end\n"
    "if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'addr', ARGV[5]) end\n"
    "local org = redis.call('HGET', KEYS[1], 'org')\n"
    "if org then\n"
    "  local set = 'replicas:org-awake:' .. org\n"
    "  if ARGV[1] == 'awake' or ARGV[1] == 'provisioning' then\n"
    "    redis.call('SADD', set, ARGV[4])\n"
    "  else redis.call('SREM', set, ARGV[4]) end\n"
    "end\n"
    "if ARGV[1] == 'awake' then\n"
    "  redis.call('ZADD', 'replicas:activity', ARGV[2], ARGV[4])\n"
    "elseif ARGV[1] == 'deleted' then\n"
    "  redis.call('ZREM', 'replicas:activity', ARGV[4])\n"
    "end\n"
    "redis.call('PUBLISH', 'replicas:ws-changed', ARGV[4])\n"
    "return 1\n";


static int
rc_ws_set_state_addr(rc_worker_t *w, const char *ws, const char *state,
    const char *reason, const char *addr)
{
    int          ok;
    char         key[96], now[32];
    const char  *argv[10];
    redisReply  *r;

    snprintf(key, sizeof(key), RP_KEY_WORKSPACE_PREFIX "%s", ws);
    snprintf(now, sizeof(now), "%ld", (long) time(NULL));

    argv[0] = "EVAL";
    argv[1] = rc_set_state_lua;
    argv[2] = "1";
    argv[3] = key;
    argv[4] = state;
    argv[5] = now;
    argv[6] = reason ? reason : "";
    argv[7] = ws;
    argv[8] = addr ? addr : "";

    r = rc_cmdargv(w, 9, argv);
    ok = r && r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);

    if (ok) {
        rc_info("ws.state", "ws=%s state=%s%s%s%s", ws, state,
                reason ? " reason=\"" : "", reason ? reason : "",
                reason ? "\"" : "");
    }

    return ok ? 0 : -1;
}


int
rc_ws_set_state(rc_worker_t *w, const char *ws, const char *state,
    const char *reason)
{
    return rc_ws_set_state_addr(w, ws, state, reason, NULL);
}


typedef struct {
    char    state[16];
    char    org[40];
    char    sandbox[RC_SANDBOX_ID_LEN + 1];
    char    environment[80];
    char    user[40];        /* who made it */
    char    engine_key[32];  /* the prefix of its engine's current key */
    char    agent[16];       /* its agent for new chats, "" if not set */
    json_t *repos_urls;      /* repository URLs asked for */
    json_t *repo_names;      /* directories under /workspace, once made */
    long    state_at;
} rc_ws_t;


static int
rc_ws_load(rc_worker_t *w, const char *ws, rc_ws_t *out)
{
    size_t       i;
    const char  *k, *v;
    redisReply  *r;

    memset(out, 0, sizeof(*out));

    r = rc_cmd(w, "HGETALL " RP_KEY_WORKSPACE_PREFIX "%s", ws);

    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return -1;
    }

    for (i = 0; i + 1 < r->elements; i += 2) {
        k = r->element[i]->str;
        v = r->element[i + 1]->str;

        if (strcmp(k, "state") == 0) {
            snprintf(out->state, sizeof(out->state), "%s", v);
        } else if (strcmp(k, "org") == 0) {
            snprintf(out->org, sizeof(out->org), "%s", v);
        } else if (strcmp(k, "sandbox") == 0) {
            snprintf(out->sandbox, sizeof(out->sandbox), "%s", v);
        } else if (strcmp(k, "environment") == 0) {
            snprintf(out->environment, sizeof(out->environment), "%s", v);
        } else if (strcmp(k, "user") == 0) {
            snprintf(out->user, sizeof(out->user), "%s", v);
        } else if (strcmp(k, RP_FIELD_ENGINE_KEY) == 0) {
            snprintf(out->engine_key, sizeof(out->engine_key), "%s", v);
        } else if (strcmp(k, "agent") == 0) {
            snprintf(out->agent, sizeof(out->agent), "%s", v);
        } else if (strcmp(k, "state_at") == 0) {
            out->state_at = atol(v);
        } else if (strcmp(k, "repositories") == 0) {
            json_decref(out->repos_urls);
            out->repos_urls = json_loads(v, 0, NULL);
        } else if (strcmp(k, "repository") == 0 && out->repos_urls == NULL) {
            out->repos_urls = json_pack("[s]", v);
        } else if (strcmp(k, "repo_names") == 0) {
            out->repo_names = json_loads(v, 0, NULL);
        }
    }

    freeReplyObject(r);

    if (!json_is_array(out->repos_urls)) {
        json_decref(out->repos_urls);
        out->repos_urls = json_array();
    }

    if (!json_is_array(out->repo_names)) {
        json_decref(out->repo_names);
        out->repo_names = json_array();
    }

    return 0;
}


static void
rc_ws_free(rc_ws_t *ws)
{
    json_decref(ws->repos_urls);
    json_decref(ws->repo_names);
}


/*
 * Runs fn as the sandbox's user, in a child: libgit2 and file writes on a
 * workspace's disk, which its user controls, must never be able to do
 * more than that user could (a planted symlink pointing at /etc, say).
 * The folder "reach" (on that disk, under REPLICAS_HOME: maybe inside a
 * folder only root may enter) is made reachable by the user first, at
 * "reached" (rc_sandbox_local_reach).
 */
static int
rc_as_sandbox_user(rc_worker_t *w, int (*fn)(void *data), void *data,
    const char *reach, char *reached, size_t size)
{
    int    status;
    pid_t  pid;

    pid = fork();

    if (pid == 0) {
        if (rc_sandbox_local_reach(reach, reached, size) != 0
            || setgroups(0, NULL) != 0 || setgid(w->local.gid) != 0
            || setuid(w->local.uid) != 0)
        {
            _exit(126);
        }
        _exit(fn(data) == 0 ? 0 : 1);
    }

    if (pid < 0) {
        return -1;
    }

    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            return -1;
        }
    }

    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}


typedef struct {
    const char  *dir;
    const char  *branch;
    char         reached[64];          /* dir, as the child reaches it */
} rc_branch_args_t;


static int
rc_branch_in_child(void *data)
{
    char               err[RC_ERR_MAX];
    rc_branch_args_t  *a = data;

    rc_git_init();

    if (rc_git_start_branch(a->reached, a->branch, err, sizeof(err)) != 0) {
        rc_warn("git.branch_failed", "dir=%s error=\"%s\"", a->dir, err);
        return -1;
    }

    return 0;
}


/*
 * The warm hooks ran when the images were built; their output is kept
 * with the image in Redis.  A copy goes into the workspace's state dir
 * (written like environment files: no link followed), where the engine
 * shows it beside the start hook's (GET /hooks, and the API's
 * /v1/workspaces/{id}/hooks).
 */
static void
rc_ws_warm_record(rc_worker_t *w, const char *ws, rc_ws_t *rec,
    const char *root)
{
    int          any;
    char         key[17], ikey[128], err[RC_ERR_MAX], *log, *sha;
    size_t       i;
    json_t      *url, *files, *state, *doc;
    const char  *name;
    char        *text, *dump;
    size_t       len, room;

    files = json_object();
    state = json_array();
    text = calloc(1, RC_WS_WARM_LOG_MAX + 1);

    if (files == NULL || state == NULL || text == NULL) {
        goto done;
    }

    len = 0;
    any = 0;

    json_array_foreach(rec->repos_urls, i, url) {
        rc_image_key(rec->org, json_string_value(url), key);
        snprintf(ikey, sizeof(ikey), RP_KEY_IMAGE_PREFIX "%s:%s", w->node,
                 key);

        log = rc_hget(w, ikey, "warm_log");
        sha = rc_hget(w, ikey, "sha");
        name = json_string_value(json_array_get(rec->repo_names, i));

        json_array_append_new(state, json_pack("{s:s, s:s, s:b}",
                              "repository", name ? name : "",
                              "sha", sha ? sha : "", "ran", log != NULL));

        if (log) {
            any = 1;
            room = RC_WS_WARM_LOG_MAX - len;
            len += snprintf(text + len, room + 1, "== %s ==\n%s%s",
                            name ? name : "", log,
                            log[0] && log[strlen(log) - 1] != '\n' ? "\n"
                                                                   : "");
            if (len > RC_WS_WARM_LOG_MAX) {
                len = RC_WS_WARM_LOG_MAX;
            }
        }

        free(log);
        free(sha);
    }

    json_object_set_new(files, ".replicas/hooks/warm.log",
                        json_stringn(text, len));
    json_object_set_new(files, ".replicas/hooks/warm.json",
                        json_string(""));

    /* the outcome: an image is only used once its warm hook succeeded */
    doc = json_pack("{s:s, s:O}", "state", any ? "succeeded" : "none",
                    "images", state);
    dump = doc ? json_dumps(doc, JSON_COMPACT) : NULL;

    if (dump) {
        json_object_set_new(files, ".replicas/hooks/warm.json",
                            json_string(dump));
        free(dump);
    }

    json_decref(doc);

    if (rc_environment_write_files(root, files, w->local.uid, w->local.gid,
                                   err, sizeof(err)) != 0)
    {
        rc_warn("ws.warm_record", "ws=%s error=\"%s\"", ws, err);
    }

done:

    free(text);
    json_decref(state);
    json_decref(files);
}


/*
 * A new API key scoped to the workspace, for its engine: made at every
 * start (the engine keeps it in memory, which a sleep clears), the
 * previous one revoked, so at most one is valid.  The engine calls the
 * platform with it (previews), nothing else: it holds no other secret.
 */
static int
rc_ws_engine_key(rc_worker_t *w, const char *ws, rc_ws_t *rec, char *token,
    size_t size)
{
    char  prefix[32];

    if (rc_apikey_make(w->redis, rec->user, rec->org, ws, token, size,
                       prefix) != 0)
    {
        rc_warn("ws.engine_key_failed", "ws=%s", ws);
        return -1;
    }

    freeReplyObject(rc_cmd(w, "HSET " RP_KEY_WORKSPACE_PREFIX "%s "
                           RP_FIELD_ENGINE_KEY " %s", ws, prefix));

    if (rec->engine_key[0] && strcmp(rec->engine_key, prefix) != 0) {
        (void) rc_apikey_revoke(w->redis, rec->org, rec->engine_key);
    }

    snprintf(rec->engine_key, sizeof(rec->engine_key), "%s", prefix);

    return 0;
}


static void
rc_ws_hook_ports(rc_worker_t *w, const char *ws, json_t *ports)
{
    char  *text;

    text = json_array_size(ports) ? json_dumps(ports, JSON_COMPACT) : NULL;

    if (text) {
        freeReplyObject(rc_cmd(w, "HSET " RP_KEY_WORKSPACE_PREFIX "%s "
                               "hook_ports %s", ws, text));
        free(text);
    } else {
        freeReplyObject(rc_cmd(w, "HDEL " RP_KEY_WORKSPACE_PREFIX "%s "
                               "hook_ports", ws));
    }
}


/* after the engine answers: the workspace's own branch, its environment
 * (files into its disk, variables to the engine), then the start hook
 * (which never blocks the workspace: it runs in the engine); -1 with err
 * when the environment cannot be opened or placed */
static int
rc_ws_configure(rc_worker_t *w, const char *ws, rc_ws_t *rec,
    rc_sandbox_t *sb, int first, char *err, size_t errlen)
{
    char               root[RC_SANDBOX_PATH_MAX], dir[RC_SANDBOX_PATH_MAX + 300];
    char               branch[96], cwd[300], cerr[RC_ERR_MAX], token[128];
    char              *prompt;
    int                no_desktop;
    size_t             i;
    json_t            *name, *body, *hook, *hook_ports, *reply, *vars, *files;
    long               status;
    rc_repo_config_t   cfg;
    rc_branch_args_t   args;

    w->driver->root(sb, root, sizeof(root));
    snprintf(branch, sizeof(branch), "replicas/%s", ws);

    hook = NULL;
    hook_ports = NULL;
    prompt = NULL;
    no_desktop = 0;
    cwd[0] = '\0';

    /* the engine works in the first repository (agents, and the start
     * hook unless it comes from another one) */
    if (json_array_size(rec->repo_names) > 0) {
        snprintf(cwd, sizeof(cwd), "/workspace/%s",
                 json_string_value(json_array_get(rec->repo_names, 0)));
    }

    json_array_foreach(rec->repo_names, i, name) {
        snprintf(dir, sizeof(dir), "%s/%s", root, json_string_value(name));

        if (first) {
            args.dir = dir;
            args.branch = branch;
            (void) rc_as_sandbox_user(w, rc_branch_in_child, &args, dir,
                                      args.reached, sizeof(args.reached));
        }

        /* the start hook as the workspace's own checkout has it now */
        if (rc_repo_config_load(dir, &cfg, cerr, sizeof(cerr)) == 0) {
            if (hook == NULL && cfg.start_hook) {
                hook = json_incref(cfg.start_hook);
                hook_ports = json_incref(cfg.start_ports);
                snprintf(cwd, sizeof(cwd), "/workspace/%s",
                         json_string_value(name));
            }

            /* the agents' prompt: the first repository's that has one */
            if (prompt == NULL && cfg.system_prompt) {
                prompt = strdup(cfg.system_prompt);
            }

            /* any repository can say its workspace needs no desktop */
            no_desktop = no_desktop || cfg.no_desktop;

            rc_repo_config_free(&cfg);
        }
    }

    /* the ports its start hook declares: awake waits for them */
    rc_ws_hook_ports(w, ws, hook_ports);
    json_decref(hook_ports);

    /* Global with the workspace's own environment over it, every time it
     * starts: a change made while it slept applies at the wake */
    if (rc_environment_load(w, rec->org, rec->environment, &vars, &files,
                            err, errlen) != 0)
    {
        json_decref(hook);
        free(prompt);
        return -1;
    }

    if (rc_environment_write_files(root, files, w->local.uid, w->local.gid,
                                   err, errlen) != 0)
    {
        rc_environment_free(vars);
        rc_environment_free(files);
        json_decref(hook);
        free(prompt);
        return -1;
    }

    rc_environment_free(files);

    if (first) {
        rc_ws_warm_record(w, ws, rec, root);
    }

    /* ours last: an environment cannot pretend to be another workspace */
    json_object_set_new(vars, "REPLICAS_WORKSPACE", json_string(ws));

    /* the workspace's id too: a warm sandbox learns whose it now is */
    body = json_pack("{s:s, s:O, s:o, s:s}", "workspace", ws, "env", vars,
                     "startHook", hook ? hook : json_null(), "cwd",
                     cwd[0] ? cwd : "/workspace");

    if (body && prompt) {
        json_object_set_new(body, "systemPrompt", json_string(prompt));
    }

    free(prompt);

    if (body && no_desktop) {
        json_object_set_new(body, "desktop", json_false());
    }

    /* the agent new chats get (the API checked the name) */
    if (body && rec->agent[0]) {
        json_object_set_new(body, "agent", json_string(rec->agent));
    }

    /* and how it reaches the platform: the gateway's API, with a key of
     * its own (in the engine's memory only, never in an environment) */
    if (body && w->platform_url && rec->user[0]
        && rc_ws_engine_key(w, ws, rec, token, sizeof(token)) == 0)
    {
        json_object_set_new(body, "platform",
                            json_pack("{s:s, s:s, s:s}", "url",
                                      w->platform_url, "host",
                                      w->platform_host ? w->platform_host
                                                       : "",
                                      "token", token));
        rp_crypt_wipe(token, sizeof(token));
    }

    status = rc_engine_call(sb->addr, "POST", "/start", body, 5000, &reply);

    json_decref(body);
    json_decref(reply);
    rc_environment_free(vars);

    freeReplyObject(rc_cmd(w, "HSET " RP_KEY_WS_HOOKS_PREFIX "%s start_state "
                           "%s start_at %ld", ws,
                           status == 202 ? (hook ? "running" : "none")
                                         : "not_started",
                           (long) time(NULL)));

    if (status != 202) {
        rc_warn("ws.start_hook", "ws=%s status=%ld", ws, status);
    }

    return 0;
}


/* what the engine takes as a commit's author: 1 to max bytes, no
 * control characters, no angle brackets */
static int
rc_author_ok(const char *s, size_t max)
{
    size_t  i;

    for (i = 0; s[i]; i++) {
        if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f || s[i] == '<'
            || s[i] == '>')
        {
            return 0;
        }
    }

    return i >= 1 && i <= max;
}


/* the message's author, {name, email}, from its user's record: the
 * engine commits the turn's work in their name (no record, no email:
 * none, the engine has a default) */
static void
rc_ws_author(rc_worker_t *w, json_t *msg)
{
    char        key[256], *name, *email, *at;
    const char  *user;

    user = json_string_value(json_object_get(msg, "user"));

    if (user == NULL || json_object_get(msg, "author")
        || (size_t) snprintf(key, sizeof(key), RP_KEY_USER_PREFIX "%s", user)
           >= sizeof(key))
    {
        return;
    }

    name = rc_hget(w, key, "name");
    email = rc_hget(w, key, "email");

    if (email && (name == NULL || name[0] == '\0')) {
        free(name);
        name = strdup(email);
        at = name ? strchr(name, '@') : NULL;

        if (at) {
            *at = '\0';
        }
    }

    if (email && name && rc_author_ok(name, 128) && rc_author_ok(email, 254)) {
        json_object_set_new(msg, "author", json_pack("{s:s, s:s}", "name",
                                                     name, "email", email));
    }

    free(name);
    free(email);
}


/* backoff of a workspace whose engine did not take its messages: 0.5 s,
 * doubling, at most 10 s; the lifecycle tick turns a due one into a
 * message job (rc_lifecycle_deliver) */
#define RC_DELIVER_BACKOFF_MS      500
#define RC_DELIVER_BACKOFF_MAX_MS  10000

void
rc_ws_deliver_later(rc_worker_t *w, const char *ws)
{
    long long    n, delay;
    redisReply  *r;

    r = rc_cmd(w, "HINCRBY " RP_KEY_DELIVER_TRIES " %s 1", ws);
    n = r && r->type == REDIS_REPLY_INTEGER ? r->integer : 1;
    freeReplyObject(r);

    delay = RC_DELIVER_BACKOFF_MS;

    while (--n > 0 && delay < RC_DELIVER_BACKOFF_MAX_MS) {
        delay *= 2;
    }

    if (delay > RC_DELIVER_BACKOFF_MAX_MS) {
        delay = RC_DELIVER_BACKOFF_MAX_MS;
    }

    freeReplyObject(rc_cmd(w, "ZADD " RP_KEY_DELIVER_DUE " %lld %s",
                           rc_now_ms() + delay, ws));

    rc_info("ws.deliver_later", "ws=%s ms=%lld", ws, delay);
}


/* hands queued messages to the engine, oldest first, each exactly once
 * (the engine drops a number it has seen: a redelivery is harmless).  An
 * engine that does not take one: they all wait, in order, in their list,
 * tried again later (rc_ws_deliver_later), never given up */
static int
rc_ws_deliver(rc_worker_t *w, const char *ws, const char *addr)
{
    int          n, popped;
    long         status;
    json_t      *msg;
    redisReply  *r, *p;

    for (n = 0; ; n++) {
        r = rc_cmd(w, "LINDEX " RP_KEY_WS_MESSAGES_PREFIX "%s 0", ws);

        if (r == NULL || r->type != REDIS_REPLY_STRING) {
            freeReplyObject(r);
            break;
        }

        msg = json_loadb(r->str, r->len, 0, NULL);

        if (msg == NULL) {
            rc_warn("ws.bad_message", "ws=%s", ws);
            status = 202;
        } else {
            rc_ws_author(w, msg);
            status = rc_engine_call(addr, "POST", "/messages", msg, 5000,
                                    NULL);
            json_decref(msg);
        }

        if (status != 200 && status != 202) {
            freeReplyObject(r);
            rc_warn("ws.deliver_failed", "ws=%s status=%ld", ws, status);
            rc_ws_deliver_later(w, ws);
            return -1;
        }

        /* only the one just delivered, should anything have changed */
        p = rc_cmd(w, "EVAL %s 1 " RP_KEY_WS_MESSAGES_PREFIX "%s %b",
            "if redis.call('LINDEX', KEYS[1], 0) == ARGV[1] then "
            "return redis.call('LPOP', KEYS[1]) end return 0",
            ws, r->str, r->len);
        popped = p != NULL && p->type != REDIS_REPLY_ERROR;
        freeReplyObject(p);
        freeReplyObject(r);

        /* Redis went away: delivered, but still queued; the redo hands
         * it over again and the engine drops the repeat */
        if (!popped) {
            return -1;
        }
    }

    if (n) {
        rc_info("ws.delivered", "ws=%s messages=%d", ws, n);
    }

    /* nothing waits: no retry due */
    if (!rc_redis_lost(w)) {
        freeReplyObject(rc_cmd(w, "ZREM " RP_KEY_DELIVER_DUE " %s", ws));
        freeReplyObject(rc_cmd(w, "HDEL " RP_KEY_DELIVER_TRIES " %s", ws));
    }

    return 0;
}


static int
rc_ws_fail(rc_worker_t *w, const char *ws, rc_sandbox_t *sb,
    const char *reason)
{
    /* nothing failed but Redis: the sandbox stays as it runs, the job is
     * redone once Redis is back */
    if (rc_redis_lost(w)) {
        rc_warn("ws.redis_lost", "ws=%s what=\"%s\"", ws, reason);
        return -1;
    }

    if (sb && sb->id[0]) {
        (void) w->driver->stop(sb);
    }

    (void) rc_ws_set_state(w, ws, "failed", reason);

    return 0;
}


static void rc_ws_await_ports(rc_worker_t *w, const char *ws,
    const char *addr);


/*
 * A frozen sandbox thawed; 0 if its engine answers as it did.  One that
 * does not (it hung as it froze, or the sandbox lost a process meanwhile)
 * is stopped, for the caller to start it afresh.
 */
static int
rc_ws_thaw(rc_worker_t *w, const char *ws, rc_sandbox_t *sb)
{
    long long  start;

    start = rc_now_ms();

    if (w->driver->freeze(sb, 0) == 0
        && rc_engine_call(sb->addr, "GET", "/healthz", NULL, 1000, NULL)
           == 200)
    {
        rc_info("sandbox.thawed", "sandbox=%s ws=%s ms=%lld", sb->id, ws,
                rc_now_ms() - start);
        return 0;
    }

    rc_warn("sandbox.thaw_failed", "sandbox=%s ws=%s", sb->id, ws);
    (void) w->driver->stop(sb);

    return -1;
}


static int
rc_job_create(rc_worker_t *w, const char *ws, rc_ws_t *rec)
{
    int           rc;
    char          err[RC_ERR_MAX], *names, *token;
    size_t        i;
    json_t       *repo;
    rc_images_t   im;
    rc_sandbox_t  sb;
    rc_sandbox_health_t  h;

    (void) rc_ws_set_state(w, ws, "provisioning", NULL);

    memset(&sb, 0, sizeof(sb));

    /* a first attempt cut short before its sandbox was made and assigned
     * (a crash, Redis gone): that one goes, a new one is made */
    if (rec->sandbox[0] && rc_sandbox_load(w, rec->sandbox, &sb) == 0
        && rc_sandbox_half_made(w, &sb))
    {
        if (rc_redis_lost(w)) {
            return -1;
        }

        rc_info("sandbox.half_made", "sandbox=%s ws=%s", sb.id, ws);
        rc_sandbox_forget(w, &sb);
        rec->sandbox[0] = '\0';
    }

    /* a redone create finds the sandbox its first attempt recorded */
    if (rec->sandbox[0] && rc_sandbox_load(w, rec->sandbox, &sb) == 0) {
        w->driver->health(&sb, &h, RC_HEALTH_FROZEN);

        if (h.frozen && rc_ws_thaw(w, ws, &sb) != 0) {
            h.running = 0;
        }

        if (!h.running && rc_sandbox_boot(w, &sb, err, sizeof(err)) != 0) {
            return rc_ws_fail(w, ws, &sb, err);
        }

    } else {
        if (json_array_size(rec->repos_urls) == 0) {
            return rc_ws_fail(w, ws, NULL, "no repository");
        }

        if (rc_environment_git_token(w, rec->org, rec->environment, &token,
                                     err, sizeof(err)) != 0)
        {
            return rc_ws_fail(w, ws, NULL, err);
        }

        rc = rc_images_ensure(w, rec->org, rec->repos_urls, token, &im, err,
                              sizeof(err));

        if (token) {
            rp_crypt_wipe(token, strlen(token));
            free(token);
        }

        if (rc != 0) {
            return rc_ws_fail(w, ws, NULL, err);
        }

        json_decref(rec->repo_names);
        rec->repo_names = json_array();

        json_array_foreach(im.repos, i, repo) {
            json_array_append(rec->repo_names, json_object_get(repo, "name"));
        }

        names = json_dumps(rec->repo_names, JSON_COMPACT);

        /* the fast path: a warm sandbox of this image, booted already */
        if (rc_pool_claim(w, ws, rec->org, rec->repos_urls, im.lower, names,
                          &sb) == 0)
        {
            free(names);
            rc_images_free(&im);
            goto booted;
        }

        if (rc_sandbox_new(w, &sb, im.lower, NULL, ws, err, sizeof(err))
            != 0)
        {
            free(names);
            rc_images_free(&im);
            return rc_ws_fail(w, ws, NULL, err);
        }

        rc_images_free(&im);

        freeReplyObject(rc_cmd(w, "HSET " RP_KEY_WORKSPACE_PREFIX "%s "
                               "sandbox %s repo_names %s node %s", ws, sb.id,
                               names, w->node));
        free(names);

        (void) rc_sandbox_save(w, &sb, "assigned");

        if (rc_sandbox_boot(w, &sb, err, sizeof(err)) != 0) {
            return rc_ws_fail(w, ws, &sb, err);
        }
    }

booted:

    if (rc_ws_configure(w, ws, rec, &sb, 1, err, sizeof(err)) != 0) {
        return rc_ws_fail(w, ws, &sb, err);
    }

    /* awake once the dev servers its start hook declares listen */
    rc_ws_await_ports(w, ws, sb.addr);

    if (rc_ws_set_state_addr(w, ws, "awake", NULL, sb.addr) != 0) {
        /* deleted meanwhile: its delete job cleans up */
        return 0;
    }

    (void) rc_ws_deliver(w, ws, sb.addr);

    return 0;
}


/*
 * The ports the workspace listened on before it slept (its dev servers,
 * not the engine): kept in the workspace's record, so a wake can wait for
 * the start hook to bring them back before requests are let through.
 */
void
rc_ws_remember_ports(rc_worker_t *w, const char *ws, const char *addr)
{
    char     *text;
    size_t    i;
    json_t   *health, *ports, *port, *keep;

    /* scanned now, not the engine's cache: a dev server that began to
     * listen a moment ago is one the wake must wait for */
    if (rc_engine_call(addr, "GET", "/healthz?ports=now", NULL, 1000, &health)
        != 200)
    {
        json_decref(health);
        return;
    }

    ports = json_object_get(health, "ports");
    keep = json_array();

    json_array_foreach(ports, i, port) {
        if (json_is_integer(port) && json_integer_value(port) != 3737
            && json_integer_value(port) > 0 && json_array_size(keep) < 16)
        {
            json_array_append(keep, port);
        }
    }

    text = json_dumps(keep, JSON_COMPACT);

    if (text) {
        freeReplyObject(rc_cmd(w, "HSET " RP_KEY_WORKSPACE_PREFIX "%s "
                               "ports %s", ws, text));
        free(text);
    }

    json_decref(keep);
    json_decref(health);
}


/* after a wake: until the remembered ports listen again (or the bound) */
static void
rc_ws_await_ports(rc_worker_t *w, const char *ws, const char *addr)
{
    int         all, failed;
    char        key[96], *text;
    size_t      i, j;
    json_t     *want, *health, *have, *p, *q;
    long long   start;
    struct timespec  ts = { 0, 20 * 1000 * 1000 };

    snprintf(key, sizeof(key), RP_KEY_WORKSPACE_PREFIX "%s", ws);
    text = rc_hget(w, key, "ports");
    want = text ? json_loads(text, 0, NULL) : NULL;
    free(text);

    /* and those its start hook declares (startHook.ports) */
    text = rc_hget(w, key, "hook_ports");
    have = text ? json_loads(text, 0, NULL) : NULL;
    free(text);

    if (json_is_array(have)) {
        if (!json_is_array(want)) {
            json_decref(want);
            want = json_array();
        }
        json_array_extend(want, have);
    }

    json_decref(have);

    if (json_array_size(want) == 0) {
        json_decref(want);
        return;
    }

    start = rc_now_ms();

    for ( ;; ) {
        all = 0;
        failed = 0;
        health = NULL;

        if (rc_engine_call(addr, "GET", "/healthz", NULL, 1000, &health)
            == 200)
        {
            have = json_object_get(health, "ports");
            all = 1;

            json_array_foreach(want, i, p) {
                json_array_foreach(have, j, q) {
                    if (json_equal(p, q)) {
                        break;
                    }
                }

                if (j == json_array_size(have)) {
                    all = 0;
                    break;
                }
            }
        }

        /* a hook that failed brings nothing up: no use waiting */
        failed = json_is_string(json_object_get(json_object_get(health,
                                                   "hooks"), "start"))
                 && strcmp(json_string_value(json_object_get(
                        json_object_get(health, "hooks"), "start")),
                        "failed") == 0;

        json_decref(health);

        if (all || failed || rc_now_ms() - start > RC_WS_PORTS_WAIT_MS) {
            break;
        }

        rc_worker_beat(w);
        nanosleep(&ts, NULL);
    }

    rc_info("ws.ports", "ws=%s back=%d ms=%lld", ws, all,
            rc_now_ms() - start);

    json_decref(want);
}


static int
rc_job_wake(rc_worker_t *w, const char *ws, rc_ws_t *rec)
{
    char                 err[RC_ERR_MAX];
    rc_sandbox_t         sb;
    rc_sandbox_health_t  h;

    if (rec->sandbox[0] == '\0' || rc_sandbox_load(w, rec->sandbox, &sb) != 0
        || rc_sandbox_half_made(w, &sb))
    {
        /* never made (a create still to do or that died): make it */
        return rc_job_create(w, ws, rec);
    }

    (void) rc_ws_set_state(w, ws, "provisioning", NULL);

    w->driver->health(&sb, &h, RC_HEALTH_FROZEN);
    freeReplyObject(rc_cmd(w, "HDEL " RP_KEY_WORKSPACE_PREFIX "%s sleep", ws));

    /* a light sleep: thawed, it goes on where it was (its dev servers
     * listen still, its engine has its key and environment), so nothing
     * is started or configured again */
    if (h.frozen && rc_ws_thaw(w, ws, &sb) == 0) {
        if (rc_ws_set_state_addr(w, ws, "awake", NULL, sb.addr) != 0) {
            return 0;
        }

        (void) rc_ws_deliver(w, ws, sb.addr);

        return 0;
    }

    if (!h.running || rc_engine_call(sb.addr, "GET", "/healthz", NULL, 1000,
                                     NULL) != 200)
    {
        if (rc_sandbox_boot(w, &sb, err, sizeof(err)) != 0) {
            return rc_ws_fail(w, ws, &sb, err);
        }
    }

    if (rc_ws_configure(w, ws, rec, &sb, 0, err, sizeof(err)) != 0) {
        return rc_ws_fail(w, ws, &sb, err);
    }

    rc_ws_await_ports(w, ws, sb.addr);

    if (rc_ws_set_state_addr(w, ws, "awake", NULL, sb.addr) != 0) {
        return 0;
    }

    (void) rc_ws_deliver(w, ws, sb.addr);

    return 0;
}


/*
 * The engine died or hung (rc_watch.c): every process of the sandbox
 * stopped, the engine started again on the same disk (its state dir:
 * chats, queue, agent sessions) and the start hook run again, then the
 * queued messages handed over; the workspace stays awake, its health
 * says "restarting" meanwhile.  The RC_WATCH_RESTARTS-th failure in
 * RC_WATCH_WINDOW_S fails the workspace instead, with the reason.
 */
static int
rc_job_restart(rc_worker_t *w, const char *ws, rc_ws_t *rec, const char *why)
{
    char          err[RC_ERR_MAX], reason[RC_ERR_MAX + 128], fails[96];
    long long            now, n;
    redisReply          *r;
    rc_sandbox_t         sb;
    rc_sandbox_health_t  h;

    if (rec->sandbox[0] == '\0' || rc_sandbox_load(w, rec->sandbox, &sb) != 0)
    {
        return 0;
    }

    /*
     * The watch's verdict may be older than the engine: its pass looked
     * at a sandbox a sleep was stopping, and a wake has started the
     * engine again since (its turn would be cut short).  An engine that
     * runs and answers now is left alone.
     */
    if (w->driver->health(&sb, &h, 0) == 0 && h.running
        && rc_engine_call(sb.addr, "GET", "/healthz", NULL, 800, NULL) == 200)
    {
        rc_info("engine.restart_skipped", "ws=%s reason=\"%s\"", ws, why);
        freeReplyObject(rc_cmd(w, "HDEL " RP_KEY_WORKSPACE_PREFIX "%s "
                               "engine_health engine_reason", ws));
        return 0;
    }

    now = rc_now_ms();
    snprintf(fails, sizeof(fails), RP_KEY_WS_ENGINE_FAILS_PREFIX "%s", ws);

    freeReplyObject(rc_cmd(w, "ZADD %s %lld %lld", fails, now, now));
    freeReplyObject(rc_cmd(w, "ZREMRANGEBYSCORE %s -inf %lld", fails,
                           now - RC_WATCH_WINDOW_S * 1000LL));
    freeReplyObject(rc_cmd(w, "EXPIRE %s %d", fails, 2 * RC_WATCH_WINDOW_S));
    r = rc_cmd(w, "ZCARD %s", fails);
    n = r && r->type == REDIS_REPLY_INTEGER ? r->integer : 1;
    freeReplyObject(r);

    if (n >= RC_WATCH_RESTARTS) {
        snprintf(reason, sizeof(reason), "the engine failed %lld times in "
                 "%d minutes (last: %s)", n, RC_WATCH_WINDOW_S / 60, why);
        rc_warn("engine.failed", "ws=%s failures=%lld reason=\"%s\"", ws, n,
                why);
        freeReplyObject(rc_cmd(w, "HSET " RP_KEY_WORKSPACE_PREFIX "%s "
                               "engine_health failed engine_reason %s", ws,
                               why));
        return rc_ws_fail(w, ws, &sb, reason);
    }

    rc_warn("engine.restart", "ws=%s failures=%lld reason=\"%s\"", ws, n,
            why);
    freeReplyObject(rc_cmd(w, "HSET " RP_KEY_WORKSPACE_PREFIX "%s "
                           "engine_health restarting engine_reason %s", ws,
                           why));
    freeReplyObject(rc_cmd(w, "HINCRBY " RP_KEY_WORKSPACE_PREFIX "%s "
                           "engine_restarts 1", ws));

    /* the dev servers too: the start hook brings them back */
    (void) w->driver->stop(&sb);

    if (rc_sandbox_boot(w, &sb, err, sizeof(err)) != 0
        || rc_ws_configure(w, ws, rec, &sb, 0, err, sizeof(err)) != 0)
    {
        return rc_ws_fail(w, ws, &sb, err);
    }

    rc_ws_await_ports(w, ws, sb.addr);
    rc_watch_reset(ws);

    freeReplyObject(rc_cmd(w, "HSET " RP_KEY_WORKSPACE_PREFIX "%s "
                           "engine_health ok engine_restarted_at %lld", ws,
                           now / 1000));

    if (rc_ws_set_state_addr(w, ws, "awake", NULL, sb.addr) != 0) {
        return 0;
    }

    (void) rc_ws_deliver(w, ws, sb.addr);

    return 0;
}


/*
 * Sleep is light first: the sandbox frozen (its memory kept, nothing run)
 * so a wake is a thaw, with its dev servers as they were; --deep-sleep-after
 * later (rc_lifecycle.c) it is stopped, its memory freed, and a wake
 * starts it again.  Where it cannot be frozen, or --deep-sleep-after is 0,
 * it is stopped at once.  The workspace's "sleep" says which.
 */
static int
rc_job_sleep(rc_worker_t *w, const char *ws, rc_ws_t *rec)
{
    const char    *depth;
    rc_sandbox_t   sb;

    depth = "stopped";

    if (rec->sandbox[0] && rc_sandbox_load(w, rec->sandbox, &sb) == 0) {
        rc_ws_remember_ports(w, ws, sb.addr);
        rc_history_save(w, ws, sb.addr);

        if (w->deep_sleep_s > 0 && w->driver->freeze
            && w->driver->freeze(&sb, 1) == 0)
        {
            depth = "frozen";

        } else {
            (void) w->driver->stop(&sb);
        }
    }

    freeReplyObject(rc_cmd(w, "HSET " RP_KEY_WORKSPACE_PREFIX "%s sleep %s",
                           ws, depth));
    (void) rc_ws_set_state(w, ws, "sleeping", NULL);

    return 0;
}


/* a light sleep over (--deep-sleep-after): the frozen sandbox stopped */
static int
rc_job_deep_sleep(rc_worker_t *w, const char *ws, rc_ws_t *rec)
{
    rc_sandbox_t  sb;

    if (rec->sandbox[0] && rc_sandbox_load(w, rec->sandbox, &sb) == 0) {
        (void) w->driver->stop(&sb);
    }

    freeReplyObject(rc_cmd(w, "HSET " RP_KEY_WORKSPACE_PREFIX "%s sleep "
                           "stopped", ws));
    rc_info("ws.deep_sleep", "ws=%s", ws);

    return 0;
}


static int
rc_job_delete(rc_worker_t *w, const char *ws, rc_ws_t *rec)
{
    rc_sandbox_t  sb;

    if (rec->sandbox[0] && rc_sandbox_load(w, rec->sandbox, &sb) == 0) {
        rc_sandbox_forget(w, &sb);
    }

    /* its engine's key goes with it */
    if (rec->engine_key[0]) {
        (void) rc_apikey_revoke(w->redis, rec->org, rec->engine_key);
    }

    freeReplyObject(rc_cmd(w, "HDEL " RP_KEY_WORKSPACE_PREFIX "%s sandbox "
                           RP_FIELD_ENGINE_KEY, ws));
    freeReplyObject(rc_cmd(w, "DEL " RP_KEY_WS_MESSAGES_PREFIX "%s", ws));
    rc_history_forget(w, ws);
    freeReplyObject(rc_cmd(w, "ZREM " RP_KEY_DELIVER_DUE " %s", ws));
    freeReplyObject(rc_cmd(w, "HDEL " RP_KEY_DELIVER_TRIES " %s", ws));

    (void) rc_ws_set_state(w, ws, "deleted", NULL);

    return 0;
}


static int
rc_job_message(rc_worker_t *w, const char *ws)
{
    int    rc;
    char   key[96], *addr;

    snprintf(key, sizeof(key), RP_KEY_WORKSPACE_PREFIX "%s", ws);
    addr = rc_hget(w, key, "addr");

    /* a failed delivery is tried again later (deliver-due), off this job:
     * done unless Redis went away */
    rc = addr ? rc_ws_deliver(w, ws, addr) : 0;
    free(addr);

    return rc == 0 || !rc_redis_lost(w) ? 0 : -1;
}


/*
 * POST /v1/prewarm's job (the dashboard's New workspace form, once a
 * repository is typed): the repository's image built as a create builds
 * it, and a warm sandbox of it in the pool (rc_pool_prewarm), so the
 * create that follows claims it.  No workspace: it runs beside any job.
 * Its outcome goes to the status key the API reads (ready, or failed and
 * why), kept only while the API's dedupe window lasts.
 */
static int
rc_job_prewarm(rc_worker_t *w, redisReply *fields)
{
    int          rc;
    char         err[RC_ERR_MAX], *token;
    json_t      *urls;
    const char  *org, *url, *env, *status;
    long long    start;
    rc_images_t  im;

    org = rc_field(fields, "org");
    url = rc_field(fields, "repository");
    env = rc_field(fields, "environment");
    status = rc_field(fields, "status");

    if (org[0] == '\0' || url[0] == '\0'
        || strncmp(status, RP_KEY_PREWARM_PREFIX,
                   sizeof(RP_KEY_PREWARM_PREFIX) - 1) != 0)
    {
        rc_warn("job.bad", "type=prewarm");
        return 0;
    }

    start = rc_now_ms();
    urls = json_pack("[s]", url);
    token = NULL;

    rc = rc_environment_git_token(w, org, env, &token, err, sizeof(err));

    if (rc == 0) {
        rc = rc_images_ensure(w, org, urls, token, &im, err, sizeof(err));

        if (token) {
            rp_crypt_wipe(token, strlen(token));
            free(token);
        }

        if (rc == 0) {
            rc = rc_pool_prewarm(w, org, url, im.lower, status, err,
                                 sizeof(err));
            rc_images_free(&im);
        }
    }

    json_decref(urls);

    if (rc_redis_lost(w)) {
        return -1;
    }

    if (rc == 0) {
        freeReplyObject(rc_cmd(w, "SET %s ready XX KEEPTTL", status));
        rc_info("prewarm.ready", "org=%s ms=%lld", org, rc_now_ms() - start);

    } else {
        /* one argument, spaces and all: "failed <reason>" */
        freeReplyObject(rc_cmd(w, "SET %s failed:%s XX KEEPTTL", status,
                               err));
        rc_info("prewarm.failed", "org=%s error=\"%s\"", org, err);
    }

    return 0;
}


int
rc_job_run(rc_worker_t *w, const char *type, const char *ws,
    redisReply *fields)
{
    int      rc;
    char     lock[96];
    rc_ws_t  rec;

    if (strcmp(type, "prewarm") == 0) {
        return rc_job_prewarm(w, fields);
    }

    if (ws[0] == '\0' || strlen(ws) > 32) {
        rc_warn("job.bad", "type=%s", type);
        return 0;
    }

    snprintf(lock, sizeof(lock), "ws:%s", ws);

    if (rc_lock(w, lock, RC_WS_LOCK_WAIT_MS) != 0) {
        rc_warn("job.busy", "type=%s ws=%s", type, ws);
        return -1;
    }

    if (rc_ws_load(w, ws, &rec) != 0) {
        return -1;
    }

    rc = 0;

    if (rec.state[0] == '\0') {
        /* no such workspace (any more): nothing to do */

    } else if (strcmp(type, "delete") == 0) {
        rc = strcmp(rec.state, "deleted") == 0 ? rc_job_delete(w, ws, &rec) : 0;

    } else if (strcmp(rec.state, "deleted") == 0
               || strcmp(rec.state, "failed") == 0)
    {
        /* terminal */

    } else if (strcmp(type, "create") == 0) {
        if (strcmp(rec.state, "booting") == 0
            || strcmp(rec.state, "provisioning") == 0)
        {
            rc = rc_job_create(w, ws, &rec);
        }

    } else if (strcmp(type, "wake") == 0) {
        if (strcmp(rec.state, "sleeping") == 0
            || strcmp(rec.state, "provisioning") == 0)
        {
            rc = rc_job_wake(w, ws, &rec);

        } else if (strcmp(rec.state, "awake") == 0) {
            rc = rc_job_message(w, ws);
        }

    } else if (strcmp(type, "sleep") == 0) {
        if (strcmp(rec.state, "awake") == 0
            || strcmp(rec.state, "provisioning") == 0)
        {
            rc = rc_job_sleep(w, ws, &rec);
        }

    } else if (strcmp(type, "deep-sleep") == 0) {
        if (strcmp(rec.state, "sleeping") == 0) {
            rc = rc_job_deep_sleep(w, ws, &rec);
        }

    } else if (strcmp(type, "restart") == 0) {
        if (strcmp(rec.state, "awake") == 0) {
            rc = rc_job_restart(w, ws, &rec, rc_field(fields, "reason"));

        } else {
            /* asleep or going meanwhile: nothing to restart */
            freeReplyObject(rc_cmd(w, "HDEL " RP_KEY_WORKSPACE_PREFIX "%s "
                                   "engine_health", ws));
        }

        /* a later failure may ask again */
        freeReplyObject(rc_cmd(w, "DEL " RP_KEY_LOCK_PREFIX "restart:%s",
                               ws));

    } else if (strcmp(type, "message") == 0) {
        if (strcmp(rec.state, "awake") == 0) {
            rc = rc_job_message(w, ws);
        }

    } else {
        rc_warn("job.unknown", "type=%s ws=%s", type, ws);
    }

    rc_ws_free(&rec);

    return rc;
}
