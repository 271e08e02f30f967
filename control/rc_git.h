/*
 * Git for the control worker, through libgit2: clone a repository for an
 * image, read where a branch is, start a workspace's own branch.  Tokens
 * go in through the credentials callback only: never in a URL, a message
 * or a log.
 */

#ifndef RC_GIT_H
#define RC_GIT_H

#include <stddef.h>

#include "rc_repo_url.h"


/* once per process; REPLICAS_GIT_CA_FILE names extra TLS roots */
void rc_git_init(void);

/*
 * Both network calls run in a child process that first resolves the
 * repository's host and checks every address against the policy
 * (rc_repo_url_resolve), then pins the name to those addresses for its own
 * lookups only: a mount namespace of its own (the worker's is untouched)
 * with a hosts file holding just that name bound over /etc/hosts and an
 * nsswitch.conf that asks files only, so libgit2's getaddrinfo cannot get
 * another answer (no DNS rebinding); redirects to another host are not
 * followed.  The check is the caller's (rc_repo_url_check) for the rest.
 */

/* https (token as basic credentials), http, git, ssh, file:// or a local
 * path; tick (may be NULL) is called about 4 times a second while the
 * child works (job heartbeats) */
int rc_git_clone(const char *url, const char *token, const char *dest,
    const rc_repo_policy_t *policy, void (*tick)(void *data), void *data,
    char *err, size_t errlen);

/* where the remote's default branch (its HEAD) is now, without fetching
 * anything: oid_hex gets the commit, branch (may be NULL) its name */
int rc_git_remote_head(const char *url, const char *token,
    const rc_repo_policy_t *policy, char oid_hex[41], char *branch,
    size_t branchlen, char *err, size_t errlen);

/* the checked-out commit and branch of a working tree */
int rc_git_head(const char *repo_dir, char sha[41], char *branch,
    size_t branchlen);

/* creates branch at HEAD if missing and checks it out (the tree is the
 * same commit, so nothing in it changes); idempotent */
int rc_git_start_branch(const char *repo_dir, const char *branch, char *err,
    size_t errlen);

/* a directory name for the repository: its last path part sans ".git" */
int rc_git_repo_name(const char *url, char *name, size_t len);

#endif /* RC_GIT_H */
