/* Repository URLs: see rp_url.h. */

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "rp_url.h"


int
rp_url_has_userinfo(const char *s, size_t len)
{
    size_t  i;

    /* the authority starts after the first "://" */
    for (i = 0; i + 2 < len; i++) {
        if (s[i] == ':' && s[i + 1] == '/' && s[i + 2] == '/') {
            break;
        }

        if (s[i] == '/') {
            return 0;              /* a path: no authority */
        }
    }

    if (i + 2 >= len) {
        return 0;
    }

    /* and ends at the path, query or fragment */
    for (i += 3; i < len; i++) {
        if (s[i] == '/' || s[i] == '?' || s[i] == '#') {
            return 0;
        }

        if (s[i] == '@') {
            return 1;
        }
    }

    return 0;
}


void
rp_url_strip_userinfo(char *msg)
{
    char  *scheme, *at;

    scheme = strstr(msg, "://");

    if (scheme == NULL) {
        return;
    }

    at = strchr(scheme + 3, '@');

    /* an @ before the path: the authority's userinfo */
    if (at && !memchr(scheme + 3, '/', at - scheme - 3)) {
        memmove(scheme + 3, at + 1, strlen(at + 1) + 1);
    }
}


static const struct {
    const char        *name;
    size_t             len;
    rp_repo_scheme_e   scheme;
} rp_repo_schemes[] = {
    { "file", 4, RP_REPO_FILE }, { "http", 4, RP_REPO_HTTP },
    { "https", 5, RP_REPO_HTTPS }, { "git", 3, RP_REPO_GIT },
    { "ssh", 3, RP_REPO_SSH }, { "git+ssh", 7, RP_REPO_SSH },
    { "ssh+git", 7, RP_REPO_SSH }, { NULL, 0, RP_REPO_OTHER }
};


static int
rp_repo_url_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}


static int
rp_repo_url_name_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}


static int
rp_repo_url_host(const char *a, size_t len, rp_repo_url_t *u,
    const char **reason)
{
    size_t       i, hlen;
    const char  *port;
    unsigned     p;

    port = NULL;

    if (len > 0 && a[0] == '[') {
        for (i = 1; i < len && a[i] != ']'; i++) {
            if (!((a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'f')
                  || (a[i] >= 'A' && a[i] <= 'F') || a[i] == ':'
                  || a[i] == '.'))
            {
                *reason = "the repository's host is not a valid IPv6 address";
                return -1;
            }
        }

        if (i == len || i == 1) {
            *reason = "the repository's host is not a valid IPv6 address";
            return -1;
        }

        u->host = a + 1;
        u->host_len = i - 1;
        i++;

        if (i < len) {
            if (a[i] != ':') {
                *reason = "the repository's host is not a valid IPv6 address";
                return -1;
            }

            port = a + i + 1;
        }

    } else {
        for (i = 0; i < len && a[i] != ':'; i++) {
            if (!rp_repo_url_name_char((unsigned char) a[i])) {
                *reason = "the repository's host has characters a host name "
                          "does not";
                return -1;
            }
        }

        u->host = a;
        u->host_len = i;

        if (i < len) {
            port = a + i + 1;
        }
    }

    if (u->host_len == 0) {
        *reason = "the repository URL has no host";
        return -1;
    }

    hlen = port ? (size_t) (a + len - port) : 0;

    if (port == NULL) {
        return 0;
    }

    if (hlen == 0 || hlen > 5) {
        *reason = "the repository URL's port is not a number of 1 to 65535";
        return -1;
    }

    p = 0;

    for (i = 0; i < hlen; i++) {
        if (port[i] < '0' || port[i] > '9') {
            *reason = "the repository URL's port is not a number of 1 to "
                      "65535";
            return -1;
        }

        p = p * 10 + (port[i] - '0');
    }

    if (p == 0 || p > 65535) {
        *reason = "the repository URL's port is not a number of 1 to 65535";
        return -1;
    }

    u->port = p;

    return 0;
}


int
rp_repo_url_parse(const char *s, size_t len, rp_repo_url_t *u,
    const char **reason)
{
    size_t  i, j, n;

    memset(u, 0, sizeof(*u));
    *reason = NULL;

    for (i = 0; i + 2 < len; i++) {
        if (s[i] == ':' && s[i + 1] == '/' && s[i + 2] == '/') {
            break;
        }

        if (s[i] == '/') {
            i = len;
            break;
        }
    }

    if (i + 2 >= len) {
        u->scheme = RP_REPO_LOCAL;     /* libgit2 decides on paths: so does
                                        * control, by the repo roots */
        u->path = s;
        return 0;
    }

    u->scheme = RP_REPO_OTHER;

    for (n = 0; rp_repo_schemes[n].name; n++) {
        if (rp_repo_schemes[n].len != i) {
            continue;
        }

        for (j = 0; j < i; j++) {
            if (rp_repo_url_lower((unsigned char) s[j])
                != rp_repo_schemes[n].name[j])
            {
                break;
            }
        }

        if (j == i) {
            u->scheme = rp_repo_schemes[n].scheme;
            break;
        }
    }

    if (u->scheme == RP_REPO_OTHER) {
        return 0;
    }

    i += 3;

    for (j = i; j < len && s[j] != '/' && s[j] != '?' && s[j] != '#'; j++) {
        if (s[j] == '@') {
            *reason = "no credentials in a repository URL: put the token in "
                      "an environment as REPLICAS_GIT_TOKEN";
            return -1;
        }
    }

    u->path = s + j;

    if (u->scheme == RP_REPO_FILE) {
        /* file:///path or file://localhost/path: this machine */
        if (j != i && !(j - i == 9 && strncasecmp(s + i, "localhost", 9) == 0))
        {
            *reason = "a file:// URL names this machine only";
            return -1;
        }

        return 0;
    }

    return rp_repo_url_host(s + i, j - i, u, reason);
}


int
rp_repo_url_localhost(const char *host, size_t len)
{
    if (len > 0 && host[len - 1] == '.') {
        len--;                                 /* "localhost." */
    }

    /* RFC 6761: localhost and every name under it */
    return (len == 9 && strncasecmp(host, "localhost", 9) == 0)
           || (len > 10 && host[len - 10] == '.'
               && strncasecmp(host + len - 9, "localhost", 9) == 0);
}


int
rp_repo_url_refused(const char *s, size_t len, char *err, size_t errlen)
{
    char            text[64];
    rp_addr_t       a;
    const char     *reason;
    rp_repo_url_t   u;

    if (rp_repo_url_parse(s, len, &u, &reason) != 0) {
        snprintf(err, errlen, "%s", reason);
        return 1;
    }

    if (u.host == NULL) {
        return 0;
    }

    if (rp_repo_url_localhost(u.host, u.host_len)) {
        snprintf(err, errlen, "the repository's host is this machine "
                 "(localhost): the platform does not fetch from it");
        return 1;
    }

    if (rp_addr_parse(u.host, u.host_len, &a) == 0 && rp_addr_never(&a)) {
        rp_addr_format(&a, text, sizeof(text));
        snprintf(err, errlen, "the repository's host %s is in the %s range: "
                 "the platform does not fetch from it", text,
                 rp_addr_special(&a));
        return 1;
    }

    return 0;
}
