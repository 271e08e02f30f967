/*
 * Images: per organisation and repository, a clone of its default branch
 * with the repository's warm hook already run (dependencies installed,
 * caches filled).  Workspaces start from it as overlay layers, so a new
 * workspace costs no copy.  An image is built once per machine, and
 * again when its default branch moved (scheduled rebuilds, below); builds
 * of the same image by several workers wait for the first.  Each build goes
 * to a new version directory: workspaces started on an older version keep
 * their layers.
 */

#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/rp_crypt.h"
#include "common/rp_keys.h"
#include "common/rp_token.h"
#include "rc_environment.h"
#include "rc_exec.h"
#include "rc_git.h"
#include "rc_log.h"
#include "rc_repo_config.h"
#include "rc_repo_url.h"
#include "rc_worker.h"


#define RC_IMAGE_LOG_MAX   (64 * 1024)


void
rc_image_key(const char *org, const char *url, char key[17])
{
    char   buf[1024], hex[65];
    int    n;

    n = snprintf(buf, sizeof(buf), "%s\n%s", org, url);
    rp_sha256_hex(buf, (size_t) n < sizeof(buf) ? (size_t) n : sizeof(buf),
                  hex);
    memcpy(key, hex, 16);
    key[16] = '\0';
}


/* the tail of a file, for Redis and the API */
static char *
rc_read_tail(const char *path, size_t max)
{
    int      fd;
    char    *buf;
    off_t    size;
    ssize_t  n;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return strdup("");
    }

    size = lseek(fd, 0, SEEK_END);
    if (size < 0) {
        size = 0;
    }

    if ((size_t) size > max) {
        lseek(fd, size - max, SEEK_SET);
        size = max;
    } else {
        lseek(fd, 0, SEEK_SET);
    }

    buf = malloc(size + 1);
    if (buf == NULL) {
        close(fd);
        return NULL;
    }

    n = read(fd, buf, size);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';

    return buf;
}


/* runs the warm hook in a build sandbox whose disk is the new version */
static int
rc_image_warm(rc_worker_t *w, const char *vdir, const char *name,
    json_t *hook, const char *ikey, char *err, size_t errlen)
{
    int               rc;
    char              hookpath[RC_SANDBOX_PATH_MAX + 32];
    char              logpath[RC_SANDBOX_PATH_MAX + 32];
    char              cwd[300], *log;
    char             *argv[8];
    const char       *largv[4];
    rc_sandbox_t      sb;
    rc_sandbox_run_t  run;
    redisReply       *r;

    snprintf(hookpath, sizeof(hookpath), "%s.hook.json", vdir);
    snprintf(logpath, sizeof(logpath), "%s.warm.log", vdir);
    snprintf(cwd, sizeof(cwd), "/workspace/%s", name);

    if (json_dump_file(hook, hookpath, JSON_COMPACT) != 0) {
        snprintf(err, errlen, "cannot write %s", hookpath);
        return -1;
    }

    if (rc_sandbox_new(w, &sb, NULL, vdir, "", err, errlen) != 0) {
        return -1;
    }

    argv[0] = "/opt/replicas/bin/replicas-engine";
    argv[1] = "hook";
    argv[2] = "--cwd";
    argv[3] = cwd;
    argv[4] = NULL;

    memset(&run, 0, sizeof(run));
    run.argv = argv;
    run.stdin_path = hookpath;
    run.tick = rc_worker_beat;
    run.tick_data = w;
    run.log_path = logpath;
    run.cwd = cwd;
    run.wait = 1;
    run.timeout_ms = (unsigned) json_integer_value(json_object_get(hook,
                                                                   "timeout"))
                     + 5000;

    rc_info("image.warm_hook", "image=%s sandbox=%s", ikey, sb.id);

    rc = w->driver->start(&sb, &run, err, errlen);

    rc_sandbox_forget(w, &sb);
    unlink(hookpath);

    log = rc_read_tail(logpath, RC_IMAGE_LOG_MAX);

    largv[0] = "HSET";
    largv[1] = ikey;
    largv[2] = "warm_log";
    largv[3] = log ? log : "";
    r = rc_cmdargv(w, 4, largv);
    freeReplyObject(r);
    free(log);

    freeReplyObject(rc_cmd(w, "HSET %s warm_exit %d", ikey, rc));

    if (rc == 124) {
        snprintf(err, errlen, "the warm hook timed out");
        return -1;
    }

    if (rc != 0) {
        if (rc > 0) {
            snprintf(err, errlen, "the warm hook failed (exit %d)", rc);
        }
        return -1;
    }

    return 0;
}


/*
 * A new version of an image.  A first build marks the image "building"
 * (creates wait for it); a refresh leaves the current version "ready" and
 * in use until the new one replaces it in one HSET.
 */
static int
rc_image_build(rc_worker_t *w, const char *org, const char *url,
    const char *token, const char *key, const char *ikey, const char *name,
    int refresh, char *dir, size_t dirlen, char *err, size_t errlen)
{
    char               repo[RC_SANDBOX_PATH_MAX + 300], sha[41];
    char               owner[64], branch[256], rnd[8];
    int                ok;
    rc_repo_config_t   cfg;
    long long          start;
    redisReply        *r;

    start = rc_now_ms();

    if (rp_random_id(6, rnd) != 0) {
        snprintf(err, errlen, "no randomness");
        return -1;
    }

    snprintf(dir, dirlen, "%s/images/%s/%ld-%s", w->home, key,
             (long) time(NULL), rnd);
    snprintf(repo, sizeof(repo), "%s/%s", dir, name);

    if (rc_mkdirs(dir, 0755) != 0) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }

    if (refresh) {
        freeReplyObject(rc_cmd(w, "HSET %s refresh_state building", ikey));

    } else {
        freeReplyObject(rc_cmd(w, "HSET %s url %s org %s name %s "
                               "state building", ikey, url, org, name));
    }

    if (rc_git_clone(url, token, repo, &w->repo_policy, rc_worker_beat, w,
                     err, errlen) != 0) {
        goto failed;
    }

    if (rc_git_head(repo, sha, branch, sizeof(branch)) != 0) {
        snprintf(sha, sizeof(sha), "unknown");
        branch[0] = '\0';
    }

    if (rc_repo_config_load(repo, &cfg, err, errlen) != 0) {
        goto failed;
    }

    /* the sandbox's user owns the files it will work on; -h: a link in
     * the repository must never hand over what it points at */
    snprintf(owner, sizeof(owner), "%u:%u", (unsigned) w->local.uid,
             (unsigned) w->local.gid);

    if (rc_runl(err, errlen, "chown", "-R", "-h", owner, dir, NULL) != 0) {
        rc_repo_config_free(&cfg);
        goto failed;
    }

    if (cfg.warm_hook
        && rc_image_warm(w, dir, name, cfg.warm_hook, ikey, err, errlen) != 0)
    {
        rc_repo_config_free(&cfg);
        goto failed;
    }

    rc_repo_config_free(&cfg);

    /* built once Redis has it; else the version goes (a redo builds
     * again) */
    r = rc_cmd(w, "HSET %s dir %s sha %s branch %s state ready "
               "error %s built_at %ld checked_at %ld "
               "refresh_state %s", ikey, dir, sha, branch, "",
               (long) time(NULL), (long) time(NULL), refresh ? "built" : "");
    ok = r && r->type == REDIS_REPLY_INTEGER;
    freeReplyObject(r);

    r = ok ? rc_cmd(w, "SADD " RP_KEY_IMAGES_PREFIX "%s %s", w->node, key)
           : NULL;
    ok = r && r->type == REDIS_REPLY_INTEGER;
    freeReplyObject(r);

    if (!ok) {
        snprintf(err, errlen, "the image could not be recorded");
        goto failed;
    }

    rc_info("image.built", "image=%s name=%s sha=%s ms=%lld", key, name, sha,
            rc_now_ms() - start);

    return 0;

failed:

    if (refresh) {
        /* the current version stays; the next check tries again */
        freeReplyObject(rc_cmd(w, "HSET %s refresh_state failed "
                               "refresh_error %s", ikey, err));
    } else {
        freeReplyObject(rc_cmd(w, "HSET %s state failed error %s", ikey,
                               err));
    }

    rc_warn("image.failed", "image=%s name=%s error=\"%s\"", key, name, err);
    (void) rc_rmtree(dir);

    return -1;
}


/* the build lock of a dead builder deleted, so the next SET NX gets it */
static void
rc_image_lock_takeover(rc_worker_t *w, const char *lock)
{
    char         held[128];
    int          gone;
    redisReply  *r;

    r = rc_cmd(w, "GET %s", lock);
    gone = r && r->type == REDIS_REPLY_STRING && r->len < sizeof(held);

    if (gone) {
        memcpy(held, r->str, r->len + 1);
    }

    freeReplyObject(r);

    if (!gone || !rc_holder_gone(w, held)) {
        return;
    }

    rc_info("lock.takeover", "lock=%s from=%s", lock, held);

    rc_lock_release(w, lock, held);
}


/* the current version of one image, built (or waited for) if needed */
static int
rc_image_get(rc_worker_t *w, const char *org, const char *url,
    const char *token, const char *name, char *dir, size_t dirlen, char *err,
    size_t errlen)
{
    int              building, rc;
    char             key[17], ikey[128], lock[160], *state, *d;
    long long        start;
    struct stat      st;
    redisReply      *r;
    struct timespec  ts = { 0, 50 * 1000 * 1000 };

    rc_image_key(org, url, key);
    snprintf(ikey, sizeof(ikey), RP_KEY_IMAGE_PREFIX "%s:%s", w->node, key);
    snprintf(lock, sizeof(lock), RP_KEY_LOCK_PREFIX "image:%s:%s", w->node,
             key);

    start = rc_now_ms();

    for ( ;; ) {
        state = rc_hget(w, ikey, "state");
        d = rc_hget(w, ikey, "dir");

        if (state && strcmp(state, "ready") == 0 && d && stat(d, &st) == 0) {
            snprintf(dir, dirlen, "%s", d);
            free(state);
            free(d);
            return 0;
        }

        free(state);
        free(d);

        /* one builder per image and machine; the others wait for it.
         * The lock lives as long as the builder's heartbeats: a builder
         * that died frees it within the lock time, not an hour. */
        r = rc_cmd(w, "SET %s %s NX PX %ld", lock, w->consumer,
                   w->lock_ttl_ms);
        building = !(r && r->type == REDIS_REPLY_STATUS);
        freeReplyObject(r);

        if (!building) {
            snprintf(w->build_lock_key, sizeof(w->build_lock_key), "%s",
                     lock);
            rc = rc_image_build(w, org, url, token, key, ikey, name, 0, dir,
                                dirlen, err, errlen);
            w->build_lock_key[0] = '\0';
            rc_lock_release(w, lock, w->consumer);
            return rc;
        }

        if (rc_now_ms() - start > 3600 * 1000) {
            snprintf(err, errlen, "waited an hour for another build of %s",
                     name);
            return -1;
        }

        rc_worker_beat(w);
        nanosleep(&ts, NULL);

        /* its builder died (or was us, before Redis went away): the lock
         * is free at once, not when it expires */
        rc_image_lock_takeover(w, lock);

        /* a build that failed meanwhile: report it, don't loop on it */
        state = rc_hget(w, ikey, "state");
        r = rc_cmd(w, "EXISTS %s", lock);
        building = r && r->type == REDIS_REPLY_INTEGER && r->integer == 1;
        freeReplyObject(r);

        if (state && strcmp(state, "failed") == 0 && !building) {
            d = rc_hget(w, ikey, "error");
            snprintf(err, errlen, "%s", d ? d : "the image build failed");
            free(d);
            free(state);
            return -1;
        }

        free(state);
    }
}


int
rc_images_ensure(rc_worker_t *w, const char *org, json_t *urls,
    const char *token, rc_images_t *out, char *err, size_t errlen)
{
    const char       *utoken;
    size_t            i, j, len;
    char              name[256], dir[RC_SANDBOX_PATH_MAX], repo[4096];
    json_t           *url, *entry;
    rc_repo_config_t  cfg;

    memset(out, 0, sizeof(*out));
    out->repos = json_array();
    out->start_hooks = json_array();
    len = 0;

    json_array_foreach(urls, i, url) {
        if (!json_is_string(url)
            || rc_repo_url_check(json_string_value(url), 0, &w->repo_policy,
                                 org, err, errlen) != 0)
        {
            goto failed;
        }

        /* the token goes over https only, never in clear */
        utoken = token && strncasecmp(json_string_value(url), "https://", 8)
                          == 0 ? token : NULL;

        if (rc_git_repo_name(json_string_value(url), name, sizeof(name))
            != 0)
        {
            snprintf(err, errlen, "cannot name a directory after %s",
                     json_string_value(url));
            goto failed;
        }

        json_array_foreach(out->repos, j, entry) {
            if (strcmp(json_string_value(json_object_get(entry, "name")),
                       name) == 0)
            {
                snprintf(err, errlen, "two repositories would share the "
                         "directory /workspace/%s", name);
                goto failed;
            }
        }

        if (rc_image_get(w, org, json_string_value(url), utoken, name, dir,
                         sizeof(dir), err, errlen) != 0)
        {
            goto failed;
        }

        if (len + strlen(dir) + 2 > sizeof(out->lower)) {
            snprintf(err, errlen, "too many repositories");
            goto failed;
        }

        len += snprintf(out->lower + len, sizeof(out->lower) - len, "%s%s",
                        len ? ":" : "", dir);

        entry = json_pack("{s:s, s:s}", "name", name, "url",
                          json_string_value(url));
        json_array_append_new(out->repos, entry);

        snprintf(repo, sizeof(repo), "%s/%s", dir, name);

        if (rc_repo_config_load(repo, &cfg, err, errlen) != 0) {
            goto failed;
        }

        if (cfg.start_hook) {
            json_array_append_new(out->start_hooks,
                                  json_pack("{s:s, s:O}", "name", name,
                                            "hook", cfg.start_hook));
        }

        if (cfg.system_prompt && out->system_prompt == NULL) {
            out->system_prompt = strdup(cfg.system_prompt);
        }

        rc_repo_config_free(&cfg);
    }

    return 0;

failed:

    rc_images_free(out);

    return -1;
}


void
rc_images_free(rc_images_t *im)
{
    json_decref(im->repos);
    json_decref(im->start_hooks);
    free(im->system_prompt);
    memset(im, 0, sizeof(*im));
}


/*
 * Scheduled rebuilds.  Every --image-refresh seconds each image of this
 * machine is checked: a child process asks the remote where its default
 * branch is (ls-remote, nothing fetched) and, if that moved since the
 * current version was built (the image's "sha"), builds a new version and
 * switches the image to it in one HSET.  The worker itself only picks the
 * image and forks, so neither a slow remote nor a long warm hook keeps it
 * from its jobs; it has one child at a time and checks one image per
 * tick.  Workspaces keep the version they started on (their layers); the
 * pool drops sandboxes of the old one and makes new ones.  Versions that
 * no sandbox of this machine uses any more are removed on a later check,
 * once the current version is RC_IMAGE_GC_AFTER_S old (a create that read
 * the old version just before the switch has long made its sandbox).
 */

#define RC_IMAGE_GC_AFTER_S  600

static pid_t  rc_refresh_pid;
static char   rc_refresh_key[17];   /* the image it is at */


/* every layer stack of every sandbox of this machine, NULL on failure */
static json_t *
rc_image_lowers(rc_worker_t *w)
{
    size_t       i;
    json_t      *out;
    redisReply  *ids, *l;

    ids = rc_cmd(w, "SMEMBERS " RP_KEY_NODE_SANDBOXES_PREFIX "%s", w->node);

    if (ids == NULL || ids->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(ids);
        return NULL;
    }

    out = json_array();

    for (i = 0; i < ids->elements; i++) {
        l = rc_cmd(w, "HGET " RP_KEY_SANDBOX_PREFIX "%s lower",
                   ids->element[i]->str);

        if (l == NULL) {
            json_decref(out);
            freeReplyObject(ids);
            return NULL;
        }

        if (l->type == REDIS_REPLY_STRING) {
            json_array_append_new(out, json_string(l->str));
        }

        freeReplyObject(l);
    }

    freeReplyObject(ids);

    return out;
}


/* whether path is one of the ':'-separated layers of some sandbox here */
static int
rc_image_in_use(json_t *lowers, const char *path)
{
    size_t       i, len;
    json_t      *v;
    const char  *l, *p;

    len = strlen(path);

    json_array_foreach(lowers, i, v) {
        l = json_string_value(v);

        for (p = strstr(l, path); p; p = strstr(p + 1, path)) {
            if ((p == l || p[-1] == ':') && (p[len] == ':' || p[len] == '\0'))
            {
                return 1;
            }
        }
    }

    return 0;
}


static void
rc_image_gc(rc_worker_t *w, const char *key, const char *ikey)
{
    long            cur_ts;
    char            parent[RC_SANDBOX_PATH_MAX];
    char            path[RC_SANDBOX_PATH_MAX + 300];
    char            side[RC_SANDBOX_PATH_MAX + 320], *cur, *built;
    json_t         *lowers;
    const char     *base;
    DIR            *d;
    struct dirent  *e;

    cur = rc_hget(w, ikey, "dir");
    built = rc_hget(w, ikey, "built_at");
    lowers = NULL;
    d = NULL;

    if (cur == NULL || built == NULL || strrchr(cur, '/') == NULL
        || time(NULL) - atol(built) < RC_IMAGE_GC_AFTER_S)
    {
        goto done;
    }

    base = strrchr(cur, '/') + 1;
    cur_ts = atol(base);

    snprintf(parent, sizeof(parent), "%s/images/%s", w->home, key);

    d = opendir(parent);
    if (d == NULL) {
        goto done;
    }

    while ((e = readdir(d)) != NULL) {
        /* versions only ("<build time>-<random>"), older than the current
         * one: a build under way is newer */
        if (e->d_name[0] < '0' || e->d_name[0] > '9'
            || strchr(e->d_name, '.') || strcmp(e->d_name, base) == 0
            || atol(e->d_name) >= cur_ts)
        {
            continue;
        }

        snprintf(path, sizeof(path), "%s/%s", parent, e->d_name);

        if (lowers == NULL) {
            lowers = rc_image_lowers(w);
            if (lowers == NULL) {
                goto done;
            }
        }

        if (rc_image_in_use(lowers, path)) {
            continue;
        }

        if (rc_rmtree(path) != 0) {
            rc_warn("image.gc_failed", "image=%s version=%s", key, e->d_name);
            continue;
        }

        snprintf(side, sizeof(side), "%s.warm.log", path);
        (void) unlink(side);
        snprintf(side, sizeof(side), "%s.hook.json", path);
        (void) unlink(side);

        rc_info("image.gc", "image=%s version=%s", key, e->d_name);
    }

done:

    if (d) {
        closedir(d);
    }

    json_decref(lowers);
    free(cur);
    free(built);
}


/* in the child: check one image's remote, rebuild it if it moved */
static int
rc_image_refresh(rc_worker_t *w, const char *key)
{
    int          rc, mine;
    char         ikey[128], lock[160], head[41], branch[256], err[512];
    char         dir[RC_SANDBOX_PATH_MAX], *url, *org, *name, *sha, *token;
    long long    start;
    redisReply  *r;

    token = NULL;

    snprintf(ikey, sizeof(ikey), RP_KEY_IMAGE_PREFIX "%s:%s", w->node, key);
    snprintf(lock, sizeof(lock), RP_KEY_LOCK_PREFIX "image:%s:%s", w->node,
             key);

    url = rc_hget(w, ikey, "url");
    org = rc_hget(w, ikey, "org");
    name = rc_hget(w, ikey, "name");
    sha = rc_hget(w, ikey, "sha");

    rc = -1;
    start = rc_now_ms();

    if (url == NULL || org == NULL || name == NULL) {
        goto done;
    }

    /* allowed when it was built; the operator may have changed that */
    if (rc_repo_url_check(url, 0, &w->repo_policy, org, err, sizeof(err))
        != 0)
    {
        rc_warn("image.check_refused", "image=%s error=\"%s\"", key, err);
        goto done;
    }

    /* the organisation's token (Global environment) for private remotes;
     * an image is per organisation and URL, not per workspace */
    if (rc_environment_git_token(w, org, NULL, &token, err, sizeof(err))
        != 0)
    {
        rc_warn("image.check_failed", "image=%s error=\"%s\"", key, err);
        goto done;
    }

    if (token && strncasecmp(url, "https://", 8) != 0) {
        rp_crypt_wipe(token, strlen(token));
        free(token);
        token = NULL;
    }

    if (rc_git_remote_head(url, token, &w->repo_policy, head, branch,
                           sizeof(branch), err, sizeof(err)) != 0)
    {
        rc_warn("image.check_failed", "image=%s error=\"%s\"", key, err);
        goto done;
    }

    if (sha && strcmp(sha, head) == 0) {
        rc_info("image.checked", "image=%s sha=%s moved=0 ms=%lld", key, sha,
                rc_now_ms() - start);
        rc_image_gc(w, key, ikey);
        rc = 0;
        goto done;
    }

    rc_info("image.checked", "image=%s sha=%s head=%s branch=%s moved=1 "
            "ms=%lld", key, sha ? sha : "", head, branch,
            rc_now_ms() - start);

    /* the same lock as a first build: one builder per image and machine */
    r = rc_cmd(w, "SET %s %s NX PX %ld", lock, w->consumer, w->lock_ttl_ms);
    mine = r && r->type == REDIS_REPLY_STATUS;
    freeReplyObject(r);

    if (!mine) {
        rc = 0;
        goto done;
    }

    /* renewed by the build's heartbeats (rc_worker_beat), like a job's */
    snprintf(w->build_lock_key, sizeof(w->build_lock_key), "%s", lock);

    rc = rc_image_build(w, org, url, token, key, ikey, name, 1, dir,
                        sizeof(dir), err, sizeof(err));

    rc_lock_release(w, lock, w->consumer);

    if (rc == 0) {
        rc_info("image.refreshed", "image=%s from=%s to=%s dir=%s ms=%lld",
                key, sha ? sha : "", head, dir, rc_now_ms() - start);
    }

done:

    if (token) {
        rp_crypt_wipe(token, strlen(token));
        free(token);
    }

    free(url);
    free(org);
    free(name);
    free(sha);

    return rc;
}


int
rc_image_refresh_busy(rc_worker_t *w)
{
    int    status;
    char   lock[160], value[128];
    pid_t  pid;

    if (rc_refresh_pid > 0) {
        pid = waitpid(rc_refresh_pid, &status, WNOHANG);

        if (pid == 0 || (pid < 0 && errno == EINTR)) {
            return 1;
        }

        if (pid == rc_refresh_pid && WIFSIGNALED(status)) {
            /* killed mid-build: its lock would hold the next one off */
            snprintf(value, sizeof(value), "%s-%d", w->node,
                     (int) rc_refresh_pid);
            snprintf(lock, sizeof(lock), RP_KEY_LOCK_PREFIX "image:%s:%s",
                     w->node, rc_refresh_key);
            rc_lock_release(w, lock, value);
            rc_warn("image.refresh_killed", "pid=%d signal=%d",
                    (int) rc_refresh_pid, WTERMSIG(status));
        }

        rc_refresh_pid = 0;
    }

    return 0;
}


void
rc_image_refresh_check(rc_worker_t *w)
{
    long         now, at, oldest;
    char         ikey[128], key[17];
    size_t       i;
    pid_t        pid;
    redisReply  *r, *f;

    if (w->image_refresh_s <= 0 || rc_refresh_pid > 0) {
        return;
    }

    /* the image of this machine checked longest ago, if it is due */
    now = (long) time(NULL);
    oldest = now - w->image_refresh_s;
    key[0] = '\0';

    r = rc_cmd(w, "SMEMBERS " RP_KEY_IMAGES_PREFIX "%s", w->node);

    for (i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        if (r->element[i]->len != 16) {
            continue;
        }

        f = rc_cmd(w, "HMGET " RP_KEY_IMAGE_PREFIX "%s:%s state checked_at",
                   w->node, r->element[i]->str);

        if (f && f->type == REDIS_REPLY_ARRAY && f->elements == 2
            && f->element[0]->type == REDIS_REPLY_STRING
            && strcmp(f->element[0]->str, "ready") == 0)
        {
            at = f->element[1]->type == REDIS_REPLY_STRING
                 ? atol(f->element[1]->str) : 0;

            if (at <= oldest) {
                oldest = at;
                snprintf(key, sizeof(key), "%s", r->element[i]->str);
            }
        }

        freeReplyObject(f);
    }

    freeReplyObject(r);

    if (key[0] == '\0') {
        return;
    }

    /* remembered before the check, so no other worker checks it too */
    snprintf(ikey, sizeof(ikey), RP_KEY_IMAGE_PREFIX "%s:%s", w->node, key);
    freeReplyObject(rc_cmd(w, "HSET %s checked_at %ld", ikey, now));

    pid = fork();

    if (pid < 0) {
        rc_warn("image.refresh_failed", "image=%s error=\"fork: %s\"", key,
                strerror(errno));
        return;
    }

    if (pid > 0) {
        rc_refresh_pid = pid;
        snprintf(rc_refresh_key, sizeof(rc_refresh_key), "%s", key);
        return;
    }

    /* the child: its own connection, no job, no lock of the parent's */
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);

    if (redisReconnect(w->redis) != REDIS_OK) {
        _exit(1);
    }

    w->job_id[0] = '\0';
    w->lock_key[0] = '\0';
    snprintf(w->consumer, sizeof(w->consumer), "%s-%d", w->node,
             (int) getpid());

    _exit(rc_image_refresh(w, key) == 0 ? 0 : 1);
}
