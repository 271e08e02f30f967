/*
 * The git endpoints (re_git.h): the repositories, the diff of the work,
 * the file tree and a file's bytes; pushing, updating from the default
 * branch, and the pull request now (their bodies checked by
 * re_git_request.c: every field, unknown ones refused).  A path is relative to its
 * repository, without "." or ".." parts, and followed one directory at a
 * time with openat(O_NOFOLLOW): a symbolic link on the way is refused, so
 * nothing outside the repository is ever read.
 */

#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <microhttpd.h>

#include "re_engine.h"
#include "re_git.h"
#include "re_git_request.h"
#include "re_health.h"
#include "re_http.h"
#include "re_log.h"
#include "re_request.h"


#define RE_GIT_ENTRIES_MAX  10000


static enum MHD_Result
re_git_reply(struct MHD_Connection *c, unsigned status, const char *type,
    char *body, size_t len, const char *allow)
{
    struct MHD_Response  *resp;

    resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);

    if (resp == NULL) {
        free(body);
        return MHD_NO;
    }

    return re_http_queue(c, status, resp, type, allow);
}


int
re_git_http_route(const char *url)
{
    return strcmp(url, "/git") == 0 || strcmp(url, "/git/push") == 0
           || strcmp(url, "/git/update") == 0
           || strcmp(url, "/git/pull-request") == 0
           || strcmp(url, "/diff") == 0 || strcmp(url, "/files") == 0
           || strcmp(url, "/files/content") == 0;
}


/* POST /git/update and /git/pull-request, for a repository that exists */
static enum MHD_Result
re_git_change(struct MHD_Connection *c, const char *url, const char *name,
    const char *buf, size_t len)
{
    int                pr;
    char               err[512];
    json_t            *result, *j;
    unsigned           status;
    const char        *msg, *code;
    re_git_body_t      b;
    re_git_update_e    rc;

    pr = strcmp(url, "/git/pull-request") == 0;
    msg = re_git_parse(buf, len, pr, &b);

    if (msg) {
        json_decref(b.root);
        return re_http_error(c, MHD_HTTP_BAD_REQUEST, "invalid_request", msg,
                             NULL);
    }

    result = NULL;
    err[0] = '\0';

    if (pr) {
        re_git_pr_request(name, b.title, b.body, b.draft, b.base, &status,
                          &code, &result, err, sizeof(err));
        json_decref(b.root);

        /* its pull request (and the push before it) in /healthz now */
        re_health_git_changed();

        if (code) {
            return re_http_error(c, status, code, err, NULL);
        }

        return re_http_send(c, status, result, NULL);
    }

    rc = re_git_update(name, b.merge, b.base, &result, err, sizeof(err));
    json_decref(b.root);
    re_health_git_changed();

    switch (rc) {

    case RE_GIT_UPDATE_OK:
    case RE_GIT_UPDATE_UP_TO_DATE:
        return re_http_send(c, MHD_HTTP_OK, result, NULL);

    case RE_GIT_UPDATE_NO_REPO:
        return re_http_error(c, MHD_HTTP_NOT_FOUND, "repository_not_found",
                             "no such repository", NULL);

    case RE_GIT_UPDATE_BUSY:
        return re_http_error(c, MHD_HTTP_CONFLICT, "busy", err, NULL);

    case RE_GIT_UPDATE_CONFLICT:
        /* the error with the conflicted files beside code and message */
        j = json_pack("{s:{s:s, s:s, s:O}}", "error", "code", "conflict",
                      "message", err, "files",
                      json_object_get(result, "files"));
        json_decref(result);
        re_info("http.error", "status=409 code=conflict");
        return re_http_send(c, MHD_HTTP_CONFLICT, j, NULL);

    case RE_GIT_UPDATE_REFUSED:
        return re_http_error(c, MHD_HTTP_CONFLICT, "refused", err, NULL);

    case RE_GIT_UPDATE_FETCH_FAILED:
        return re_http_error(c, MHD_HTTP_BAD_GATEWAY, "fetch_failed", err,
                             NULL);

    default:
        return re_http_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                             err[0] ? err : "the update failed", NULL);
    }
}


/* a relative path of plain parts: no "", ".", ".." part, no leading '/' */
static int
re_git_path_ok(const char *path)
{
    size_t       len;
    const char  *p, *end;

    if (strlen(path) > RE_PATH_MAX) {
        return 0;
    }

    for (p = path; ; p = end + 1) {
        end = strchr(p, '/');
        len = end ? (size_t) (end - p) : strlen(p);

        if (len == 0 || (len == 1 && p[0] == '.')
            || (len == 2 && p[0] == '.' && p[1] == '.'))
        {
            return 0;
        }

        if (end == NULL) {
            return 1;
        }
    }
}


/*
 * Opens path below root one part at a time, never through a link: the
 * last part with flags (O_NOFOLLOW added).  An empty path is root.  The
 * descriptor, or -1 with *status (400 a link, 404 missing) and *msg.
 */
static int
re_git_open_below(const char *root, const char *path, int flags,
    unsigned *status, const char **msg)
{
    int          fd, next, last;
    char         part[256];
    size_t       len;
    struct stat  st;
    const char  *p, *end;

    fd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

    if (fd < 0) {
        *status = MHD_HTTP_NOT_FOUND;
        *msg = "no such repository";
        return -1;
    }

    if (path[0] == '\0') {
        return fd;
    }

    for (p = path; ; p = end + 1) {
        end = strchr(p, '/');
        len = end ? (size_t) (end - p) : strlen(p);
        last = end == NULL;

        if (len >= sizeof(part)) {
            close(fd);
            *status = MHD_HTTP_NOT_FOUND;
            *msg = "no such file or directory";
            return -1;
        }

        memcpy(part, p, len);
        part[len] = '\0';

        next = openat(fd, part, (last ? flags : O_RDONLY | O_DIRECTORY)
                                | O_NOFOLLOW | O_CLOEXEC);

        if (next < 0) {
            if (fstatat(fd, part, &st, AT_SYMLINK_NOFOLLOW) == 0
                && S_ISLNK(st.st_mode))
            {
                *status = MHD_HTTP_BAD_REQUEST;
                *msg = "the path goes through a symbolic link";

            } else {
                *status = MHD_HTTP_NOT_FOUND;
                *msg = "no such file or directory";
            }

            close(fd);
            return -1;
        }

        close(fd);
        fd = next;

        if (last) {
            return fd;
        }
    }
}


static int
re_git_entry_cmp(const void *a, const void *b)
{
    return strcmp(json_string_value(json_object_get(*(json_t *const *) a,
                                                    "name")),
                  json_string_value(json_object_get(*(json_t *const *) b,
                                                    "name")));
}


/* GET /files?repo=NAME&path=DIR */
static enum MHD_Result
re_git_files(struct MHD_Connection *c, const char *root, const char *path)
{
    int             fd, truncated;
    DIR            *d;
    size_t          i, n;
    json_t         *list, *sorted, **items;
    unsigned        status;
    const char     *msg, *type;
    struct stat     st;
    struct dirent  *de;

    fd = re_git_open_below(root, path, O_RDONLY | O_DIRECTORY, &status, &msg);

    if (fd < 0) {
        return re_http_error(c, status, status == MHD_HTTP_NOT_FOUND
                                       ? "path_not_found" : "invalid_path",
                            msg, NULL);
    }

    d = fdopendir(fd);

    if (d == NULL) {
        close(fd);
        return re_http_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                            "the directory cannot be read", NULL);
    }

    list = json_array();
    truncated = 0;

    while (list && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0
            || (path[0] == '\0' && strcmp(de->d_name, ".git") == 0))
        {
            continue;
        }

        if (json_array_size(list) == RE_GIT_ENTRIES_MAX) {
            truncated = 1;
            break;
        }

        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            continue;
        }

        type = S_ISREG(st.st_mode) ? "file" : S_ISDIR(st.st_mode) ? "dir"
               : S_ISLNK(st.st_mode) ? "link" : "other";

        json_array_append_new(list,
            json_pack("{s:s%, s:s, s:I}", "name", de->d_name,
                      strlen(de->d_name), "type", type,
                      "size", (json_int_t) st.st_size));
    }

    closedir(d);

    if (list == NULL) {
        return re_http_send(c, MHD_HTTP_OK, NULL, NULL);
    }

    /* by name; an entry jansson refused (not UTF-8) is not there */
    n = json_array_size(list);
    items = calloc(n + 1, sizeof(json_t *));
    sorted = json_array();

    for (i = 0; items && i < n; i++) {
        items[i] = json_array_get(list, i);
    }

    if (items && sorted) {
        qsort(items, n, sizeof(json_t *), re_git_entry_cmp);

        for (i = 0; i < n; i++) {
            json_array_append(sorted, items[i]);
        }
    }

    free(items);
    json_decref(list);

    return re_http_send(c, MHD_HTTP_OK,
                       sorted ? json_pack("{s:o, s:b}", "entries", sorted,
                                          "truncated", truncated)
                              : NULL,
                       NULL);
}


/* GET /files/content?repo=NAME&path=FILE */
static enum MHD_Result
re_git_content(struct MHD_Connection *c, const char *root, const char *path)
{
    int                   fd;
    unsigned              status;
    const char           *msg;
    struct stat           st;
    struct MHD_Response  *resp;

    if (path[0] == '\0') {
        return re_http_error(c, MHD_HTTP_BAD_REQUEST, "invalid_request",
                            "path is required", NULL);
    }

    /* O_NONBLOCK: a fifo must not hold the request */
    fd = re_git_open_below(root, path, O_RDONLY | O_NONBLOCK, &status, &msg);

    if (fd < 0) {
        return re_http_error(c, status, status == MHD_HTTP_NOT_FOUND
                                       ? "path_not_found" : "invalid_path",
                            msg, NULL);
    }

    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return re_http_error(c, MHD_HTTP_BAD_REQUEST, "invalid_path",
                            "not a regular file", NULL);
    }

    if (st.st_size > RE_GIT_BODY_MAX) {
        close(fd);
        return re_http_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
                            "the file is larger than 10 MiB", NULL);
    }

    /* MHD closes fd */
    resp = MHD_create_response_from_fd((uint64_t) st.st_size, fd);

    if (resp == NULL) {
        close(fd);
        return MHD_NO;
    }

    return re_http_queue(c, MHD_HTTP_OK, resp, "application/octet-stream",
                         NULL);
}


int
re_git_http(struct MHD_Connection *c, const char *url, const char *method,
    const char *body, size_t blen, int too_large)
{
    int          get, post, rc, change;
    char         root[4200], err[512], *buf;
    size_t       len;
    json_t      *result;
    const char  *name, *path;

    get = strcmp(method, MHD_HTTP_METHOD_GET) == 0
          || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;

    change = strcmp(url, "/git/update") == 0
             || strcmp(url, "/git/pull-request") == 0;

    if (strcmp(url, "/git/push") == 0 || change) {
        if (!post) {
            return re_http_error(c, MHD_HTTP_METHOD_NOT_ALLOWED,
                                "method_not_allowed", "POST only", "POST");
        }

        if (atomic_load(&re_engine.stopping)) {
            return re_http_error(c, MHD_HTTP_CONFLICT, "stopping",
                                "the engine is stopping", NULL);
        }

        if (too_large) {
            return re_http_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
                                 "the body is larger than 1 MiB", NULL);
        }

    } else if (!get) {
        return re_http_error(c, MHD_HTTP_METHOD_NOT_ALLOWED,
                            "method_not_allowed",
                            "the endpoint does not take this method",
                            "GET, HEAD");
    }

    if (strcmp(url, "/git") == 0) {
        return re_http_send(c, MHD_HTTP_OK, re_git_list(), NULL);
    }

    name = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "repo");

    if (name == NULL || name[0] == '\0') {
        return re_http_error(c, MHD_HTTP_BAD_REQUEST, "invalid_request",
                            "repo is required: a repository's name (GET "
                            "/git lists them)", NULL);
    }

    if (!re_git_repo_path(name, root, sizeof(root))) {
        return re_http_error(c, MHD_HTTP_NOT_FOUND, "repository_not_found",
                            "no such repository", NULL);
    }

    if (change) {
        return re_git_change(c, url, name, body, blen);
    }

    if (strcmp(url, "/git/push") == 0) {
        result = NULL;
        err[0] = '\0';
        rc = re_git_push_now(name, &result, err, sizeof(err));
        re_health_git_changed();

        if (rc == -1) {
            return re_http_error(c, MHD_HTTP_NOT_FOUND, "repository_not_found",
                                "no such repository", NULL);
        }

        if (rc != 0) {
            return re_http_error(c, MHD_HTTP_BAD_GATEWAY, "push_failed", err,
                                NULL);
        }

        return re_http_send(c, MHD_HTTP_OK, result, NULL);
    }

    if (strcmp(url, "/diff") == 0) {
        buf = NULL;
        len = 0;
        rc = re_git_diff(name, &buf, &len);

        if (rc == -1) {
            return re_http_error(c, MHD_HTTP_NOT_FOUND, "repository_not_found",
                                "no such repository", NULL);
        }

        if (rc == -3) {
            return re_http_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
                                "the diff is larger than 10 MiB", NULL);
        }

        if (rc != 0) {
            return re_http_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                                "the diff could not be made", NULL);
        }

        return re_git_reply(c, MHD_HTTP_OK, "text/plain; charset=utf-8", buf,
                            len, NULL);
    }

    path = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "path");
    path = path ? path : "";

    if (path[0] != '\0' && !re_git_path_ok(path)) {
        return re_http_error(c, MHD_HTTP_BAD_REQUEST, "invalid_path",
                            "path must be relative to the repository, "
                            "without \".\" or \"..\" parts", NULL);
    }

    if (strcmp(url, "/files") == 0) {
        return re_git_files(c, root, path);
    }

    return re_git_content(c, root, path);
}
