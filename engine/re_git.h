/*
 * Git in the engine, through libgit2.  Every top-level directory of the
 * workdir that is a git repository (names starting with '.' skipped:
 * .replicas, .home) is one of the workspace's repositories, checked out
 * by control on the workspace's branch, replicas/<workspace>.
 *
 * After each completed turn the work is committed on the current branch
 * of each repository that changed (untracked files included, .gitignore
 * respected): authored by the person whose message caused it, committed
 * by the Replicas bot (REPLICAS_GIT_COMMITTER_NAME / _EMAIL), then the
 * branch is pushed to origin with the workspace's token (REPLICAS_GIT_TOKEN
 * or GITHUB_TOKEN, https only; none needed for a local or file:// remote).
 * Events: git.committed, git.commit_failed, git.pushed, git.push_failed.
 *
 * On request (re_git_update.c): the default branch rebased on or merged
 * in, then pushed; events git.updated, git.update_failed.  Pull requests
 * on GitHub (re_git_pr.c, re_github.c), on request and after a turn's
 * push: event git.pull_request.
 *
 * HTTP (re_git_http.c): GET /git, GET /diff, GET /files,
 * GET /files/content, POST /git/push, POST /git/update,
 * POST /git/pull-request.
 */

#ifndef RE_GIT_H
#define RE_GIT_H

#include <stddef.h>

#include <jansson.h>


#define RE_GIT_BODY_MAX  (10 * 1024 * 1024)   /* a diff, a file's bytes */


/* after a completed turn: commit in every repository that changed, then
 * push; author_name/author_email NULL: "Replicas user" and
 * <user>@users.noreply.local */
void re_git_after_turn(const char *chat, long long seq, const char *prompt,
    const char *user, const char *author_name, const char *author_email);

/* 1 if name is one of the workspace's repositories (a plain name, a
 * directory of the workdir, a git work tree); path gets its directory */
int re_git_repo_path(const char *name, char *path, size_t size);

/* {repositories:[{name, branch, head, ahead, base, dirty, pullRequest?}]} */
json_t *re_git_list(void);

/* [{name, branch, head, ahead, pullRequest?}] (pullRequest {url, number}):
 * the summary /healthz carries and control keeps as the workspace's
 * "git".  Cheap: no status scan, and ahead counted again only when head
 * or the default branch's tip moved (re_git.c keeps the count) */
json_t *re_git_summary(void);

/* the unified diff of HEAD and the work tree against the branch point:
 * 0 with *buf (malloc'ed) and *len, -1 no such repository, -2 failed,
 * -3 larger than RE_GIT_BODY_MAX */
int re_git_diff(const char *name, char **buf, size_t *len);

/* pushes name's branch to origin now: 0 with *result {repository, branch,
 * sha, remote}, -1 no such repository, -2 with err (safe to show) */
int re_git_push_now(const char *name, json_t **result, char *err,
    size_t errlen);


typedef enum {
    RE_GIT_UPDATE_OK = 0,           /* 200, *result */
    RE_GIT_UPDATE_UP_TO_DATE,       /* 200, *result */
    RE_GIT_UPDATE_NO_REPO,          /* 404 */
    RE_GIT_UPDATE_BUSY,             /* 409 busy */
    RE_GIT_UPDATE_CONFLICT,         /* 409 conflict, *result {files} */
    RE_GIT_UPDATE_REFUSED,          /* 409: dirty, detached, no base */
    RE_GIT_UPDATE_FETCH_FAILED,     /* 502 */
    RE_GIT_UPDATE_FAILED            /* 500 */
} re_git_update_e;

/* fetches origin, rebases name's branch onto origin/<base> (merge 0) or
 * merges it in (merge 1), pushes; base NULL: origin's default branch.
 * err is safe to show. */
re_git_update_e re_git_update(const char *name, int merge, const char *base,
    json_t **result, char *err, size_t errlen);

/* returns once no git update (rebase, merge) is under way: a turn starts
 * on the tree as it is after one */
void re_git_wait(void);

/* POST /git/pull-request: pushes, then opens name's pull request on
 * GitHub or finds the open one.  *status the HTTP status (201 made, 200
 * found) with *result, or an error's with *code and err. */
void re_git_pr_request(const char *name, const char *title, const char *body,
    int draft, const char *base, unsigned *status, const char **code,
    json_t **result, char *err, size_t errlen);


struct MHD_Connection;

/* 1 if url is one of the git endpoints (re_git_http.c) */
int re_git_http_route(const char *url);

/* answers one of them: an MHD result */
int re_git_http(struct MHD_Connection *c, const char *url,
    const char *method, const char *body, size_t len, int too_large);

#endif /* RE_GIT_H */
