/*
 * Git for the control worker, through libgit2: clone a repository for an
 * image, read where a branch is, start a workspace's own branch.  Tokens
 * go in through the credentials callback only: never in a URL, a message
 * or a log.
 */

#ifndef RC_GIT_H
#define RC_GIT_H

#include <stddef.h>


/* once per process; REPLICAS_GIT_CA_FILE names extra TLS roots */
void rc_git_init(void);

/* https (token as basic credentials), http, file:// or a local path;
 * tick (may be NULL) is called as the transfer goes (job heartbeats) */
int rc_git_clone(const char *url, const char *token, const char *dest,
    void (*tick)(void *data), void *data, char *err, size_t errlen);

/* where the remote's default branch (its HEAD) is now, without fetching
 * anything: oid_hex gets the commit, branch (may be NULL) its name */
int rc_git_remote_head(const char *url, const char *token, char oid_hex[41],
    char *branch, size_t branchlen, char *err, size_t errlen);

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
