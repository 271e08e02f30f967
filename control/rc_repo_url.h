/*
 * Which repository addresses a workspace may be made from.  Anyone with an
 * API key names the repository, and control clones it as root: a local
 * path or file:// URL would let them copy any git repository on this
 * machine (the platform's own included) into their workspace.  So remote
 * URLs (https, http without a token, git) are fine, and local ones only
 * under the directories the operator allowed with --repo-root.
 */

#ifndef RC_REPO_URL_H
#define RC_REPO_URL_H

#include <stddef.h>


#define RC_REPO_ROOTS_MAX  8


typedef struct {
    const char  *roots[RC_REPO_ROOTS_MAX];
    unsigned     n;
} rc_repo_roots_t;


/* 0 allowed; -1 with the reason in err; with_token: a token would go
 * along (only over https) */
int rc_repo_url_check(const char *url, int with_token,
    const rc_repo_roots_t *roots, char *err, size_t errlen);

#endif /* RC_REPO_URL_H */
