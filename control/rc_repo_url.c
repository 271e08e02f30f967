/* Repository address policy: see rc_repo_url.h. */

#define _GNU_SOURCE

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rp_url.h"
#include "rc_repo_url.h"


static int
rc_repo_url_prefix(const char *url, const char *prefix)
{
    return strncasecmp(url, prefix, strlen(prefix)) == 0;
}


/* is the real path of local (symlinks resolved) inside one of the roots */
static int
rc_repo_url_local(const char *path, const rc_repo_roots_t *roots, char *err,
    size_t errlen)
{
    char      real[PATH_MAX], root[PATH_MAX];
    size_t    len;
    unsigned  i;

    if (path[0] != '/') {
        snprintf(err, errlen, "a local repository must be an absolute path");
        return -1;
    }

    if (realpath(path, real) == NULL) {
        snprintf(err, errlen, "no repository at that path");
        return -1;
    }

    for (i = 0; i < roots->n; i++) {
        if (realpath(roots->roots[i], root) == NULL) {
            continue;
        }

        len = strlen(root);

        if (strncmp(real, root, len) == 0
            && (real[len] == '/' || real[len] == '\0' || len == 1))
        {
            return 0;
        }
    }

    snprintf(err, errlen, "local repositories are only allowed under the "
             "worker's --repo-root directories");
    return -1;
}


int
rc_repo_url_check(const char *url, int with_token,
    const rc_repo_roots_t *roots, char *err, size_t errlen)
{
    const char  *p;

    if (rp_url_has_userinfo(url, strlen(url))) {
        snprintf(err, errlen, "no credentials in a repository URL: put the "
                 "token in an environment as REPLICAS_GIT_TOKEN");
        return -1;
    }

    if (rc_repo_url_prefix(url, "https://")) {
        return 0;
    }

    if (rc_repo_url_prefix(url, "http://") || rc_repo_url_prefix(url, "git://"))
    {
        if (with_token) {
            /* a token would cross the network in clear */
            snprintf(err, errlen, "a token is only sent over https");
            return -1;
        }

        return 0;
    }

    if (rc_repo_url_prefix(url, "file://")) {
        p = url + 7;

        /* file://host/path: only the local host */
        if (rc_repo_url_prefix(p, "localhost/")) {
            p += 9;
        }

        return rc_repo_url_local(p, roots, err, errlen);
    }

    if (strstr(url, "://") != NULL) {
        snprintf(err, errlen, "unsupported repository URL scheme");
        return -1;
    }

    return rc_repo_url_local(url, roots, err, errlen);
}
