/*
 * Which repository addresses a workspace may be made from.  Anyone with an
 * API key names the repository, and control fetches it as root from the
 * host's network:
 *
 * - a local path or file:// URL would let them copy any git repository on
 *   this machine (the platform's own included) into their workspace, so
 *   local ones are only taken under a directory the operator allowed with
 *   --repo-root, and there only under the organisation's own folder,
 *   <root>/<org id>/...: one organisation never reads another's;
 * - a remote one (https, http and git without a token, ssh) is resolved
 *   here, before any fetch, and refused when any of its addresses is in a
 *   special-purpose range (loopback, private, link-local, CGNAT, ...:
 *   common/rp_addr.h) the operator did not allow (--allow-repo-range).
 *   The fetch then connects to the checked addresses only (rc_git.c pins
 *   them), so a second lookup cannot answer otherwise.
 */

#ifndef RC_REPO_URL_H
#define RC_REPO_URL_H

#include <stddef.h>

#include "common/rp_addr.h"


#define RC_REPO_ROOTS_MAX   8
#define RC_REPO_RANGES_MAX  16
#define RC_REPO_HOSTS_MAX   1024     /* a hosts file pinning one name */


typedef struct {
    const char  *roots[RC_REPO_ROOTS_MAX];     /* --repo-root */
    unsigned     n;
    rp_cidr_t    ranges[RC_REPO_RANGES_MAX];   /* --allow-repo-range */
    unsigned     nranges;
    const char  *hosts_file;                   /* --repo-hosts: names
                                                  looked up there first */
} rc_repo_policy_t;


/* 0 allowed; -1 with the reason in err.  with_token: a token would go
 * along (only over https); org: whose workspace (local repositories are
 * looked for under <root>/<org>/).  No lookup: see rc_repo_url_resolve */
int rc_repo_url_check(const char *url, int with_token,
    const rc_repo_policy_t *policy, const char *org, char *err,
    size_t errlen);

/* the host of a network URL resolved and every address checked: 0 with
 * hosts set to the lines of a hosts file that pins the name to them ("" for
 * a local repository or a literal address: nothing to pin) and host to
 * the name; -1 with the reason in err */
int rc_repo_url_resolve(const char *url, const rc_repo_policy_t *policy,
    char *host, size_t hostlen, char *hosts, size_t hostslen, char *err,
    size_t errlen);

/* "A.B.C.D/N" or "X::/N" added to the policy: 0, else -1 */
int rc_repo_url_allow(rc_repo_policy_t *policy, const char *cidr);

#endif /* RC_REPO_URL_H */
