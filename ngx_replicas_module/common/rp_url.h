/*
 * Repository URLs as the API takes them and control clones them.  A URL
 * with credentials in it (https://user:token@host/...) is refused by both:
 * it would be stored, shown back by the API and written into logs and
 * .git/config.  Tokens belong in an environment (REPLICAS_GIT_TOKEN),
 * sealed.
 */

#ifndef RP_URL_H
#define RP_URL_H

#include <stddef.h>

#include "rp_addr.h"


/* 1 if s (len bytes) is scheme://...@host...: credentials before the host */
int rp_url_has_userinfo(const char *s, size_t len);

/* a message (NUL-terminated, changed in place) without the "user:secret@"
 * of the first URL in it: libgit2's errors quote the URL they failed on */
void rp_url_strip_userinfo(char *msg);


/*
 * A repository URL cut into what control resolves and fetches from.  The
 * authority is read strictly (letters, digits, ".", "-", "_" in a name; a
 * bracketed IPv6 address; digits in a port): anything libgit2 might read
 * another way (userinfo, "%", "\\", a second ":") is refused, so the
 * host control checks is the host libgit2 connects to.
 */
typedef enum {
    RP_REPO_LOCAL = 0,        /* a path: no scheme */
    RP_REPO_FILE,
    RP_REPO_HTTP,
    RP_REPO_HTTPS,
    RP_REPO_GIT,
    RP_REPO_SSH,
    RP_REPO_OTHER             /* a scheme nobody fetches from */
} rp_repo_scheme_e;

typedef struct {
    rp_repo_scheme_e   scheme;
    const char        *host;       /* brackets cut off; NULL when none */
    size_t             host_len;
    unsigned           port;       /* 0: the scheme's default */
    const char        *path;       /* after the authority (or the whole
                                    * path of a local one) */
} rp_repo_url_t;

/* 0, or -1 with a static reason */
int rp_repo_url_parse(const char *s, size_t len, rp_repo_url_t *u,
    const char **reason);

/* 1 if the host of a network URL is "localhost" or one of its names */
int rp_repo_url_localhost(const char *host, size_t len);

/* the API's check at create: 1 (reason in err) when the URL can already
 * be refused without a lookup: an authority parse_url refuses, a
 * localhost name, a literal address rp_addr_never() names; 0 otherwise
 * (control resolves and checks the rest) */
int rp_repo_url_refused(const char *s, size_t len, char *err, size_t errlen);

#endif /* RP_URL_H */
