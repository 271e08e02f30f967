/*
 * Images: per organisation and repository, a clone of its default branch
 * with the repository's warm hook already run (dependencies installed,
 * caches filled).  Workspaces start from it as overlay layers, so a new
 * workspace costs no copy.  An image is built once per machine; builds of
 * the same image by several workers wait for the first.  Each build goes
 * to a new version directory: workspaces started on an older version keep
 * their layers.
 */

#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/rp_keys.h"
#include "common/rp_token.h"
#include "rc_exec.h"
#include "rc_git.h"
#include "rc_log.h"
#include "rc_repo_config.h"
#include "rc_worker.h"


#define RC_IMAGE_LOG_MAX   (64 * 1024)


static void
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


static int
rc_image_build(rc_worker_t *w, const char *org, const char *url,
    const char *token, const char *key, const char *ikey, const char *name,
    char *dir, size_t dirlen, char *err, size_t errlen)
{
    char               repo[RC_SANDBOX_PATH_MAX + 300], sha[41];
    char               owner[64], branch[256], rnd[8];
    rc_repo_config_t   cfg;
    long long          start;

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

    freeReplyObject(rc_cmd(w, "HSET %s url %s org %s name %s state building",
                           ikey, url, org, name));

    if (rc_git_clone(url, token, repo, err, errlen) != 0) {
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

    freeReplyObject(rc_cmd(w, "HSET %s dir %s sha %s branch %s state ready "
                           "error %s built_at %ld checked_at %ld", ikey, dir,
                           sha, branch, "", (long) time(NULL),
                           (long) time(NULL)));
    freeReplyObject(rc_cmd(w, "SADD " RP_KEY_IMAGES_PREFIX "%s %s", w->node,
                           key));

    rc_info("image.built", "image=%s name=%s sha=%s ms=%lld", key, name, sha,
            rc_now_ms() - start);

    return 0;

failed:

    freeReplyObject(rc_cmd(w, "HSET %s state failed error %s", ikey, err));
    rc_warn("image.failed", "image=%s name=%s error=\"%s\"", key, name, err);
    (void) rc_rmtree(dir);

    return -1;
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

        /* one builder per image and machine; the others wait for it */
        r = rc_cmd(w, "SET %s %s NX PX %d", lock, w->consumer, 3600 * 1000);
        building = !(r && r->type == REDIS_REPLY_STATUS);
        freeReplyObject(r);

        if (!building) {
            rc = rc_image_build(w, org, url, token, key, ikey, name, dir,
                                dirlen, err, errlen);
            freeReplyObject(rc_cmd(w, "DEL %s", lock));
            return rc;
        }

        if (rc_now_ms() - start > 3600 * 1000) {
            snprintf(err, errlen, "waited an hour for another build of %s",
                     name);
            return -1;
        }

        rc_worker_beat(w);
        nanosleep(&ts, NULL);

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
    size_t            i, len;
    char              name[256], dir[RC_SANDBOX_PATH_MAX], repo[4096];
    json_t           *url, *entry;
    rc_repo_config_t  cfg;

    memset(out, 0, sizeof(*out));
    out->repos = json_array();
    out->start_hooks = json_array();
    len = 0;

    json_array_foreach(urls, i, url) {
        if (rc_git_repo_name(json_string_value(url), name, sizeof(name))
            != 0)
        {
            snprintf(err, errlen, "cannot name a directory after %s",
                     json_string_value(url));
            goto failed;
        }

        if (rc_image_get(w, org, json_string_value(url), token, name, dir,
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
