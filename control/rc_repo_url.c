/* Repository address policy: see rc_repo_url.h. */

#define _GNU_SOURCE

#include <limits.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "common/rp_url.h"
#include "rc_repo_url.h"


#define RC_REPO_ADDRS_MAX  32


static int
rc_repo_url_org_ok(const char *org)
{
    const char  *p;

    if (org == NULL || *org == '\0' || strlen(org) > 64) {
        return 0;
    }

    for (p = org; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
        {
            return 0;
        }
    }

    return 1;
}


/* is the real path of local (symlinks resolved) inside <root>/<org> of
 * one of the roots: a link in one organisation's folder into another's
 * resolves there and is refused too */
static int
rc_repo_url_local(const char *path, const rc_repo_policy_t *policy,
    const char *org, char *err, size_t errlen)
{
    char      real[PATH_MAX], root[PATH_MAX], dir[PATH_MAX + 80];
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

    for (i = 0; rc_repo_url_org_ok(org) && i < policy->n; i++) {
        if (realpath(policy->roots[i], root) == NULL) {
            continue;
        }

        snprintf(dir, sizeof(dir), "%s/%s", strcmp(root, "/") ? root : "",
                 org);
        len = strlen(dir);

        if (strncmp(real, dir, len) == 0
            && (real[len] == '/' || real[len] == '\0'))
        {
            return 0;
        }
    }

    snprintf(err, errlen, "local repositories are only allowed under the "
             "worker's --repo-root directories, in the organisation's own "
             "folder (<repo-root>/<org id>/)");
    return -1;
}


int
rc_repo_url_check(const char *url, int with_token,
    const rc_repo_policy_t *policy, const char *org, char *err,
    size_t errlen)
{
    const char     *reason;
    rp_repo_url_t   u;

    if (rp_url_has_userinfo(url, strlen(url))) {
        snprintf(err, errlen, "no credentials in a repository URL: put the "
                 "token in an environment as REPLICAS_GIT_TOKEN");
        return -1;
    }

    if (rp_repo_url_parse(url, strlen(url), &u, &reason) != 0) {
        snprintf(err, errlen, "%s", reason);
        return -1;
    }

    switch (u.scheme) {

    case RP_REPO_HTTPS:
    case RP_REPO_SSH:
        return 0;

    case RP_REPO_HTTP:
    case RP_REPO_GIT:
        if (with_token) {
            /* a token would cross the network in clear */
            snprintf(err, errlen, "a token is only sent over https");
            return -1;
        }

        return 0;

    case RP_REPO_FILE:
    case RP_REPO_LOCAL:
        return rc_repo_url_local(u.path, policy, org, err, errlen);

    default:
        snprintf(err, errlen, "unsupported repository URL scheme");
        return -1;
    }
}


static int
rc_repo_url_allowed(const rc_repo_policy_t *policy, const rp_addr_t *a)
{
    unsigned  i;

    for (i = 0; i < policy->nranges; i++) {
        if (rp_cidr_match(&policy->ranges[i], a)) {
            return 1;
        }
    }

    return 0;
}


static void
rc_repo_url_addr(const struct sockaddr *sa, rp_addr_t *a)
{
    memset(a, 0, sizeof(*a));

    if (sa->sa_family == AF_INET) {
        a->family = 4;
        memcpy(a->b, &((const struct sockaddr_in *) sa)->sin_addr, 4);

    } else {
        a->family = 6;
        memcpy(a->b, &((const struct sockaddr_in6 *) sa)->sin6_addr, 16);
    }
}


/*
 * --repo-hosts FILE (hosts(5) lines): names of repository hosts the
 * operator gives addresses to, looked up before the system's resolver;
 * their addresses are checked like any.  Returns how many were found.
 */
static int
rc_repo_url_hosts_file(const char *file, const char *host, rp_addr_t *out,
    int max)
{
    int     n;
    char    line[512], *tok, *save, *addr;
    FILE   *f;

    f = file ? fopen(file, "re") : NULL;
    if (f == NULL) {
        return 0;
    }

    n = 0;

    while (n < max && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "#\n")] = '\0';
        addr = strtok_r(line, " \t", &save);

        if (addr == NULL) {
            continue;
        }

        while ((tok = strtok_r(NULL, " \t", &save)) != NULL) {
            if (strcasecmp(tok, host) != 0) {
                continue;
            }

            memset(&out[n], 0, sizeof(out[n]));

            if (inet_pton(AF_INET, addr, out[n].b) == 1) {
                out[n++].family = 4;
            } else if (inet_pton(AF_INET6, addr, out[n].b) == 1) {
                out[n++].family = 6;
            }

            break;
        }
    }

    fclose(f);

    return n;
}


int
rc_repo_url_resolve(const char *url, const rc_repo_policy_t *policy,
    char *host, size_t hostlen, char *hosts, size_t hostslen, char *err,
    size_t errlen)
{
    int               rc, literal, i, n;
    char              text[INET6_ADDRSTRLEN];
    size_t            len;
    rp_addr_t         a, addrs[RC_REPO_ADDRS_MAX];
    const char       *reason, *range;
    rp_repo_url_t     u;
    struct addrinfo   hints, *res, *ai;

    host[0] = '\0';
    hosts[0] = '\0';

    if (rp_repo_url_parse(url, strlen(url), &u, &reason) != 0) {
        snprintf(err, errlen, "%s", reason);
        return -1;
    }

    if (u.host == NULL) {
        return 0;                  /* local: no network */
    }

    if (u.host_len >= hostlen || u.host_len > 253) {
        snprintf(err, errlen, "the repository's host name is too long");
        return -1;
    }

    memcpy(host, u.host, u.host_len);
    host[u.host_len] = '\0';
    literal = rp_addr_parse(u.host, u.host_len, &a) == 0;

    n = rc_repo_url_hosts_file(policy->hosts_file, host, addrs,
                               RC_REPO_ADDRS_MAX);

    if (n == 0) {
        memset(&hints, 0, sizeof(hints));
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;

        rc = getaddrinfo(host, NULL, &hints, &res);

        if (rc != 0) {
            snprintf(err, errlen, "the repository's host %s does not "
                     "resolve: %s", host, gai_strerror(rc));
            return -1;
        }

        for (ai = res; ai && n < RC_REPO_ADDRS_MAX; ai = ai->ai_next) {
            if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6) {
                rc_repo_url_addr(ai->ai_addr, &addrs[n++]);
            }
        }

        freeaddrinfo(res);
    }

    len = 0;
    rc = 0;

    for (i = 0; i < n; i++) {
        rp_addr_format(&addrs[i], text, sizeof(text));
        range = rp_addr_special(&addrs[i]);

        if (range && !rc_repo_url_allowed(policy, &addrs[i])) {
            snprintf(err, errlen, "the repository's host %s is %s, in the %s "
                     "range: the platform does not fetch from there (an "
                     "operator may allow a range: serve --allow-repo-range)",
                     host, text, range);
            rc = -1;
            break;
        }

        if (!literal) {
            if (len + strlen(text) + strlen(host) + 3 > hostslen) {
                snprintf(err, errlen, "the repository's host %s has too many "
                         "addresses", host);
                rc = -1;
                break;
            }

            len += snprintf(hosts + len, hostslen - len, "%s %s\n", text,
                            host);
        }
    }

    if (rc == 0 && !literal && len == 0) {
        snprintf(err, errlen, "the repository's host %s has no address",
                 host);
        rc = -1;
    }

    if (rc != 0) {
        hosts[0] = '\0';
    }

    return rc;
}


int
rc_repo_url_allow(rc_repo_policy_t *policy, const char *cidr)
{
    if (policy->nranges == RC_REPO_RANGES_MAX
        || rp_cidr_parse(cidr, &policy->ranges[policy->nranges]) != 0)
    {
        return -1;
    }

    policy->nranges++;

    return 0;
}
