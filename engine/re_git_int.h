/*
 * What the engine's git files share among themselves (re_git.c: commit
 * and push; re_git_update.c: rebase and merge; re_git_pr.c: pull
 * requests), not part of the engine's API.  Writers (commit, push,
 * update) hold re_git_lock, one at a time.
 */

#ifndef RE_GIT_INT_H
#define RE_GIT_INT_H

#include <pthread.h>
#include <stddef.h>

#include <git2.h>
#include <jansson.h>


#define RE_GIT_ERR_MAX       512

#define RE_GIT_BOT_NAME      "Replicas"
#define RE_GIT_BOT_EMAIL     "replicas@users.noreply.local"


typedef struct {
    const char  *token;          /* sent over https only */
    int          tries;
    char         rejected[RE_GIT_ERR_MAX];
} re_git_push_t;

typedef enum {
    RE_GIT_PUSHED = 0,
    RE_GIT_UP_TO_DATE,          /* origin's branch is there already */
    RE_GIT_NO_PUSH,             /* no origin, detached, no credentials */
    RE_GIT_PUSH_FAILED
} re_git_push_e;


extern pthread_mutex_t  re_git_lock;

/* libgit2 initialised, once */
void re_git_init(void);

/* err: "what: libgit2's last error" without credentials or the token */
void re_git_error(const char *what, const char *token, char *err,
    size_t errlen);

git_repository *re_git_open(const char *name);
void re_git_branch(git_repository *repo, char *branch, size_t size);
int re_git_default(git_repository *repo, git_oid *oid, char *name,
    size_t size);
int re_git_dirty(git_repository *repo);

/* REPLICAS_GIT_TOKEN, else GITHUB_TOKEN, of envp; NULL if neither */
const char *re_git_token(char *const *envp);

/* a path, file:// or http:// remote: no credentials sent */
int re_git_url_local(const char *url);

/* the bot: REPLICAS_GIT_COMMITTER_NAME / _EMAIL, else Replicas' own */
void re_git_committer(char *const *envp, char *name, size_t nsize,
    char *email, size_t esize);

/* libgit2's credentials callback; payload a re_git_push_t */
int re_git_credentials(git_credential **out, const char *url,
    const char *username, unsigned int allowed, void *payload);

/* pushes the current branch (force: "+" refspec, after a rebase) */
re_git_push_e re_git_push(const char *name, git_repository *repo,
    char *const *envp, int always, int force, json_t **result, char *err,
    size_t errlen);

/* the branch's pull request as kept (re_git_pr.c): {url, number}, NULL */
json_t *re_git_pr_json(git_repository *repo, const char *branch);

/* after a turn's push: opens or finds the pull request if configured */
void re_git_pr_after_push(const char *name);

#endif /* RE_GIT_INT_H */
