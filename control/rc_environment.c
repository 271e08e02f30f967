/*
 * Environments in control: opening, merging, writing files.  See
 * rc_environment.h for what is stored and how to call these.  Values are
 * secrets: they are wiped after use and never logged or printed.
 */

#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/rp_crypt.h"
#include "common/rp_env.h"
#include "common/rp_host.h"
#include "common/rp_keys.h"
#include "common/rp_token.h"
#include "rc_environment.h"


_Static_assert(sizeof(((rc_worker_t *) 0)->secrets) == RP_CRYPT_KEY_LEN,
               "rc_worker_t holds an AES-256 key");


int
rc_environment_key(rc_worker_t *w, const char *path)
{
    char  err[512];

    if (rp_crypt_load_key(path, w->secrets, err, sizeof(err)) != 0) {
        fprintf(stderr, "replicas-control: --secrets-key %s\n", err);
        return -1;
    }

    w->have_secrets = 1;

    return 0;
}


void
rc_environment_free(json_t *obj)
{
    json_t      *v;
    const char  *k;

    if (obj == NULL) {
        return;
    }

    if (json_is_object(obj)) {
        json_object_foreach(obj, k, v) {
            if (json_is_string(v)) {
                rp_crypt_wipe((char *) json_string_value(v),
                              json_string_length(v));
            }
        }
    }

    json_decref(obj);
}


static const char *
rc_environment_why(rp_crypt_rc_e rc)
{
    switch (rc) {
    case RP_CRYPT_OTHER_KEY:
        return "sealed with another secrets key";
    case RP_CRYPT_BAD_TAG:
        return "does not open: tampered with, or moved from elsewhere";
    case RP_CRYPT_MALFORMED:
        return "not a sealed value";
    default:
        return "could not be opened (out of memory?)";
    }
}


/* Sets obj[key] to value[len], wiping the string it replaces. */

static int
rc_environment_set(json_t *obj, const char *key, const char *value,
    size_t len)
{
    json_t  *old, *s;

    s = json_stringn(value, len);
    if (s == NULL) {
        return -1;
    }

    old = json_object_get(obj, key);

    if (json_is_string(old)) {
        rp_crypt_wipe((char *) json_string_value(old),
                      json_string_length(old));
    }

    return json_object_set_new(obj, key, s);
}


/* the admin's "allow_loader_variables" (lua/api.lua writes "1") */

static int
rc_environment_loader_allowed(redisReply *r)
{
    size_t       i;
    redisReply  *f, *v;

    for (i = 0; i + 1 < r->elements; i += 2) {
        f = r->element[i];
        v = r->element[i + 1];

        if (f->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING
            && strcmp(f->str, "allow_loader_variables") == 0)
        {
            return v->len == 1 && v->str[0] == '1';
        }
    }

    return 0;
}


/*
 * One environment's fields into vars and files (over what is there).
 * 1 it exists, 0 it does not, -1 error (err says which field, never a
 * value).
 */

static int
rc_environment_merge(rc_worker_t *w, const char *org, const char *name,
    json_t *vars, json_t *files, char *err, size_t errlen)
{
    int             found, loader_ok;
    char            ad[512], *plain;
    size_t          i, flen, tlen, plen, ad_len, cap;
    redisReply     *r, *f, *v;
    rp_crypt_rc_e   rc;
    const char     *what;
    json_t         *into;

    r = rc_cmd(w, "HGETALL " RP_KEY_ENV_PREFIX "%s:%s", org, name);

    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        snprintf(err, errlen, "environment %s: Redis failed", name);
        freeReplyObject(r);
        return -1;
    }

    found = r->elements > 0;
    loader_ok = rc_environment_loader_allowed(r);

    for (i = 0; i + 1 < r->elements; i += 2) {
        f = r->element[i];
        v = r->element[i + 1];

        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) {
            continue;
        }

        flen = f->len;

        if (flen > sizeof(RP_ENV_FIELD_VAR) - 1
            && memcmp(f->str, RP_ENV_FIELD_VAR, sizeof(RP_ENV_FIELD_VAR) - 1)
               == 0)
        {
            into = vars;
            what = f->str + sizeof(RP_ENV_FIELD_VAR) - 1;

            if (!rp_env_var_name_ok(what, strlen(what))
                || strlen(f->str) != flen)
            {
                snprintf(err, errlen, "environment %s: a variable with an "
                         "invalid name", name);
                freeReplyObject(r);
                return -1;
            }

            /*
             * stored before the gateway refused them (issue 19), or
             * written into Redis by hand: not applied without the flag
             */
            if (!loader_ok && rp_env_var_loader(what, strlen(what))) {
                snprintf(err, errlen, "environment %s: variable %s changes "
                         "how programs load (LD_*, PATH, NODE_OPTIONS...) "
                         "and is not applied: an admin must allow it "
                         "(PUT the environment again with "
                         "\"allow_loader_variables\": true)", name, what);
                freeReplyObject(r);
                return -1;
            }

        } else if (flen > sizeof(RP_ENV_FIELD_FILE) - 1
                   && memcmp(f->str, RP_ENV_FIELD_FILE,
                             sizeof(RP_ENV_FIELD_FILE) - 1) == 0)
        {
            into = files;
            what = f->str + sizeof(RP_ENV_FIELD_FILE) - 1;

            if (!rp_env_path_ok(what, strlen(what))
                || strlen(f->str) != flen)
            {
                snprintf(err, errlen, "environment %s: a file with an "
                         "invalid path", name);
                freeReplyObject(r);
                return -1;
            }

        } else {
            continue;                   /* "updated", or newer fields */
        }

        if (!w->have_secrets) {
            snprintf(err, errlen, "environment %s has values but control "
                     "has no secrets key (serve --secrets-key)", name);
            freeReplyObject(r);
            return -1;
        }

        ad_len = rp_crypt_ad(ad, sizeof(ad), org, strlen(org), name,
                             strlen(name), f->str, flen);

        tlen = v->len;
        cap = tlen / 4 * 3 + 3;
        plain = malloc(cap);

        if (ad_len == 0 || plain == NULL) {
            free(plain);
            snprintf(err, errlen, "environment %s: %s: out of memory", name,
                     f->str);
            freeReplyObject(r);
            return -1;
        }

        rc = rp_crypt_open(w->secrets, ad, ad_len, v->str, tlen, plain, cap,
                           &plen);

        if (rc == RP_CRYPT_OK
            && rc_environment_set(into, what, plain, plen) != 0)
        {
            rc = RP_CRYPT_ERROR;
        }

        rp_crypt_wipe(plain, cap);
        free(plain);

        if (rc != RP_CRYPT_OK) {
            snprintf(err, errlen, "environment %s: %s %s", name, f->str,
                     rc_environment_why(rc));
            freeReplyObject(r);
            return -1;
        }
    }

    freeReplyObject(r);

    return found;
}


int
rc_environment_load(rc_worker_t *w, const char *org, const char *name,
    json_t **vars, json_t **files, char *err, size_t errlen)
{
    int  rc;

    *vars = NULL;
    *files = NULL;

    if (org == NULL || !rp_ws_id_valid(org, strlen(org))) {
        snprintf(err, errlen, "environment: not an organisation id");
        return -1;
    }

    if (name != NULL && name[0] != '\0'
        && !rp_env_name_ok(name, strlen(name)))
    {
        snprintf(err, errlen, "environment: not an environment name");
        return -1;
    }

    *vars = json_object();
    *files = json_object();

    if (*vars == NULL || *files == NULL) {
        snprintf(err, errlen, "environment: out of memory");
        goto failed;
    }

    if (rc_environment_merge(w, org, RP_ENV_GLOBAL, *vars, *files, err,
                             errlen) < 0)
    {
        goto failed;
    }

    if (name == NULL || name[0] == '\0' || strcmp(name, RP_ENV_GLOBAL) == 0) {
        return 0;
    }

    rc = rc_environment_merge(w, org, name, *vars, *files, err, errlen);

    if (rc == 0) {
        snprintf(err, errlen, "environment %s does not exist", name);
    }

    if (rc <= 0) {
        goto failed;
    }

    return 0;

failed:

    rc_environment_free(*vars);
    rc_environment_free(*files);
    *vars = NULL;
    *files = NULL;

    return -1;
}


static int
rc_environment_write_all(int fd, const char *p, size_t len)
{
    ssize_t  n;

    while (len) {
        n = write(fd, p, len);

        if (n < 0 && errno == EINTR) {
            continue;
        }

        if (n <= 0) {
            return -1;
        }

        p += n;
        len -= (size_t) n;
    }

    return 0;
}


/*
 * root/path = content: each directory opened from the one before with
 * O_NOFOLLOW (made if missing), the file written to a fresh name in its
 * directory and renamed over the target.
 */

static int
rc_environment_write_one(int rootfd, const char *path, const char *content,
    size_t len, uid_t uid, gid_t gid, char *err, size_t errlen)
{
    int    dfd, nfd, fd, made, e;
    char   buf[RP_ENV_PATH_MAX + 1], tmp[32], *part, *slash;

    if (strlen(path) >= sizeof(buf)) {
        snprintf(err, errlen, "file %s: the path is too long", path);
        return -1;
    }

    strcpy(buf, path);

    dfd = rootfd;
    part = buf;

    while ((slash = strchr(part, '/')) != NULL) {
        *slash = '\0';
        made = 0;

        if (mkdirat(dfd, part, 0700) == 0) {
            made = 1;

        } else if (errno != EEXIST) {
            e = errno;
            goto dir_failed;
        }

        nfd = openat(dfd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW
                                | O_CLOEXEC);
        if (nfd < 0) {
            e = errno;
            goto dir_failed;
        }

        if (made && fchown(nfd, uid, gid) != 0) {
            e = errno;
            close(nfd);
            goto dir_failed;
        }

        if (dfd != rootfd) {
            close(dfd);
        }

        dfd = nfd;
        *slash = '/';
        part = slash + 1;
    }

    memcpy(tmp, ".replicas-env-", 14);

    if (rp_random_id(12, tmp + 14) != 0) {
        e = EIO;
        goto file_failed;
    }

    fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW
                          | O_CLOEXEC, 0600);
    if (fd < 0) {
        e = errno;
        goto file_failed;
    }

    if (rc_environment_write_all(fd, content, len) != 0
        || fchown(fd, uid, gid) != 0 || fchmod(fd, 0600) != 0)
    {
        e = errno ? errno : EIO;
        close(fd);
        unlinkat(dfd, tmp, 0);
        goto file_failed;
    }

    if (close(fd) != 0) {
        e = errno;
        unlinkat(dfd, tmp, 0);
        goto file_failed;
    }

    /* replaces whatever entry is there (a link included), not its target */
    if (renameat(dfd, tmp, dfd, part) != 0) {
        e = errno;
        unlinkat(dfd, tmp, 0);
        goto file_failed;
    }

    if (dfd != rootfd) {
        close(dfd);
    }

    return 0;

dir_failed:

    snprintf(err, errlen, "file %s: %s is not a directory we may use (%s)",
             path, buf, e == ELOOP ? "a symbolic link" : strerror(e));

    if (dfd != rootfd) {
        close(dfd);
    }

    return -1;

file_failed:

    snprintf(err, errlen, "file %s: cannot be written (%s)", path,
             strerror(e));

    if (dfd != rootfd) {
        close(dfd);
    }

    return -1;
}


int
rc_environment_write_files(const char *root, json_t *files, uid_t uid,
    gid_t gid, char *err, size_t errlen)
{
    int          rootfd, rc;
    json_t      *v;
    const char  *path;

    if (!json_is_object(files)) {
        snprintf(err, errlen, "environment files: not an object");
        return -1;
    }

    if (json_object_size(files) == 0) {
        return 0;
    }

    rootfd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (rootfd < 0) {
        snprintf(err, errlen, "environment files: %s: %s", root,
                 strerror(errno));
        return -1;
    }

    rc = 0;

    json_object_foreach(files, path, v) {
        /* checked again here: this is what decides where bytes land */
        if (!rp_env_path_ok(path, strlen(path))
            || !rp_env_path_allowed(path, strlen(path))
            || !json_is_string(v))
        {
            snprintf(err, errlen, "environment files: an invalid path or "
                     "content");
            rc = -1;
            break;
        }

        if (rc_environment_write_one(rootfd, path, json_string_value(v),
                                     json_string_length(v), uid, gid, err,
                                     errlen) != 0)
        {
            rc = -1;
            break;
        }
    }

    close(rootfd);

    return rc;
}


/* ---- replicas-control environment check ---------------------------------- */

static int
rc_environment_cmp(const void *a, const void *b)
{
    return strcmp(*(const char * const *) a, *(const char * const *) b);
}


static void
rc_environment_print(json_t *obj, const char *kind, int sizes)
{
    size_t        i, n;
    json_t       *v;
    const char   *k, **names;

    n = json_object_size(obj);
    names = calloc(n ? n : 1, sizeof(char *));
    if (names == NULL) {
        return;
    }

    i = 0;

    json_object_foreach(obj, k, v) {
        names[i++] = k;
    }

    qsort(names, n, sizeof(char *), rc_environment_cmp);

    for (i = 0; i < n; i++) {
        if (sizes) {
            printf("%s %s %zu\n", kind, names[i],
                   json_string_length(json_object_get(obj, names[i])));
        } else {
            printf("%s %s\n", kind, names[i]);
        }
    }

    free(names);
}


static void
rc_environment_usage(void)
{
    fprintf(stderr,
        "usage: replicas-control environment check --org ORG [--name NAME] "
        "--secrets-key FILE [--write DIR]\n"
        "  loads Global and NAME merged over it as a workspace start does; "
        "prints\n"
        "  \"variable NAME\" and \"file PATH BYTES\" lines, never values; "
        "--write DIR\n"
        "  writes the files under DIR as this user\n");
}


int
rc_environment_main(redisContext *redis, int argc, char **argv)
{
    int           i, rc;
    char          err[512];
    json_t       *vars, *files;
    const char   *org, *name, *key, *dir;
    rc_worker_t   w;

    if (argc < 1 || strcmp(argv[0], "check") != 0) {
        rc_environment_usage();
        return 2;
    }

    org = NULL;
    name = NULL;
    key = NULL;
    dir = NULL;

    for (i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--org") == 0) {
            org = argv[i + 1];
        } else if (strcmp(argv[i], "--name") == 0) {
            name = argv[i + 1];
        } else if (strcmp(argv[i], "--secrets-key") == 0) {
            key = argv[i + 1];
        } else if (strcmp(argv[i], "--write") == 0) {
            dir = argv[i + 1];
        } else {
            break;
        }
    }

    if (i != argc || org == NULL || key == NULL) {
        rc_environment_usage();
        return 2;
    }

    memset(&w, 0, sizeof(w));
    w.redis = redis;

    if (rc_environment_key(&w, key) != 0) {
        return 2;
    }

    rc = rc_environment_load(&w, org, name, &vars, &files, err, sizeof(err));

    rp_crypt_wipe(w.secrets, sizeof(w.secrets));

    if (rc != 0) {
        fprintf(stderr, "replicas-control: %s\n", err);
        return 1;
    }

    rc_environment_print(vars, "variable", 0);
    rc_environment_print(files, "file", 1);

    rc = 0;

    if (dir != NULL
        && rc_environment_write_files(dir, files, getuid(), getgid(), err,
                                      sizeof(err)) != 0)
    {
        fprintf(stderr, "replicas-control: %s\n", err);
        rc = 1;
    }

    rc_environment_free(vars);
    rc_environment_free(files);

    return rc;
}


int
rc_environment_git_token(rc_worker_t *w, const char *org, const char *name,
    char **token, char *err, size_t errlen)
{
    json_t  *vars, *files, *v;

    *token = NULL;

    if (rc_environment_load(w, org, name, &vars, &files, err, errlen) != 0) {
        return -1;
    }

    v = json_object_get(vars, "REPLICAS_GIT_TOKEN");
    if (!json_is_string(v) || json_string_length(v) == 0) {
        v = json_object_get(vars, "GITHUB_TOKEN");
    }

    if (json_is_string(v) && json_string_length(v) > 0) {
        *token = strdup(json_string_value(v));
    }

    rc_environment_free(vars);
    rc_environment_free(files);

    return 0;
}
