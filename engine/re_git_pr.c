/*
 * Pull requests of the workspace's branch on GitHub: on request (POST
 * /git/pull-request) and after a turn whose commits were pushed.  The
 * repository on GitHub is the one origin's configured URL names (as
 * written in .git/config, before any url.*.insteadOf), the token the one
 * the engine pushes with (REPLICAS_GIT_TOKEN, else GITHUB_TOKEN), the API
 * https://api.github.com, https://HOST/api/v3 for GitHub Enterprise, or
 * REPLICAS_GITHUB_API_URL.  Opening is idempotent: GitHub's "already
 * exists" leads to the open one.  What was found is kept in the
 * repository's own config (branch.<name>.replicasPullRequest and
 * ...Number), shown by GET /git, and the automatic path asks GitHub only
 * while nothing is kept.
 *
 * Automatic by default when a token is there: the workspace's branch
 * exists to become a pull request, and the token is the opt-in (the
 * token's owner allowed pushes).  REPLICAS_GIT_PULL_REQUEST=off turns it
 * off, =draft opens drafts.  The GitHub call runs without re_git_lock
 * held: a slow GitHub never holds a commit.
 */

#define _GNU_SOURCE

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <git2.h>
#include <microhttpd.h>

#include "re_engine.h"
#include "re_events.h"
#include "re_git.h"
#include "re_git_int.h"
#include "re_github.h"
#include "re_hooks.h"
#include "re_log.h"
#include "re_start.h"


#define RE_GIT_PR_COMMITS_MAX  50
#define RE_GIT_PR_BODY_MAX     8192


/* the key of a branch's kept pull request ("" + "Number" for its number) */
static void
re_git_pr_key(const char *branch, const char *suffix, char *key, size_t size)
{
    snprintf(key, size, "branch.%s.replicasPullRequest%s", branch, suffix);
}


json_t *
re_git_pr_json(git_repository *repo, const char *branch)
{
    char            key[700];
    json_t         *j;
    int64_t         number;
    git_config     *cfg;
    const char     *url;

    if (branch[0] == '\0' || git_repository_config_snapshot(&cfg, repo) != 0)
    {
        return NULL;
    }

    j = NULL;
    re_git_pr_key(branch, "", key, sizeof(key));

    if (git_config_get_string(&url, cfg, key) == 0) {
        re_git_pr_key(branch, "Number", key, sizeof(key));

        if (git_config_get_int64(&number, cfg, key) != 0) {
            number = 0;
        }

        j = json_pack("{s:s, s:I}", "url", url, "number", (json_int_t) number);
    }

    git_config_free(cfg);

    return j;
}


static void
re_git_pr_keep(git_repository *repo, const char *branch,
    const re_github_pr_t *pr)
{
    char         key[700];
    git_config  *cfg;

    if (git_repository_config(&cfg, repo) != 0) {
        return;
    }

    re_git_pr_key(branch, "", key, sizeof(key));
    (void) git_config_set_string(cfg, key, pr->url);
    re_git_pr_key(branch, "Number", key, sizeof(key));
    (void) git_config_set_int64(cfg, key, pr->number);

    git_config_free(cfg);
}


/* origin's URL as configured: 0 and r, -1 */
static int
re_git_pr_origin(git_repository *repo, re_github_repo_t *r)
{
    int          rc;
    git_config  *cfg;
    const char  *url;

    if (git_repository_config_snapshot(&cfg, repo) != 0) {
        return -1;
    }

    rc = git_config_get_string(&url, cfg, "remote.origin.url") == 0
         ? re_github_parse_url(url, r) : -1;

    git_config_free(cfg);

    return rc;
}


/*
 * The defaults people expect: the title the first commit's subject since
 * the branch point (GitHub's own choice for one commit), the body the
 * list of the commits' subjects.
 */
static void
re_git_pr_text(git_repository *repo, const char *branch, const char *base,
    char *title, size_t tsize, char *body, size_t bsize)
{
    char          tracking[600];
    size_t        n, len;
    git_oid       oid, upstream;
    git_commit   *c;
    git_revwalk  *walk;
    const char   *s;

    snprintf(title, tsize, "%s", branch);
    len = (size_t) snprintf(body, bsize, "Work from Replicas%s%s.\n\n",
                            re_engine.workspace ? " workspace " : "",
                            re_engine.workspace ? re_engine.workspace : "");

    if (git_revwalk_new(&walk, repo) != 0) {
        return;
    }

    git_revwalk_sorting(walk, GIT_SORT_TOPOLOGICAL | GIT_SORT_REVERSE);
    snprintf(tracking, sizeof(tracking), "refs/remotes/origin/%s", base);

    if (git_revwalk_push_head(walk) == 0) {
        if (git_reference_name_to_id(&upstream, repo, tracking) == 0) {
            (void) git_revwalk_hide(walk, &upstream);
        }

        for (n = 0; n < RE_GIT_PR_COMMITS_MAX
                    && git_revwalk_next(&oid, walk) == 0; n++)
        {
            if (git_commit_lookup(&c, repo, &oid) != 0) {
                continue;
            }

            s = git_commit_summary(c);

            if (s && s[0]) {
                if (n == 0) {
                    snprintf(title, tsize, "%s", s);
                }

                if (len < bsize) {
                    len += (size_t) snprintf(body + len, bsize - len,
                                             "- %s\n", s);
                }
            }

            git_commit_free(c);
        }
    }

    git_revwalk_free(walk);
}


typedef struct {
    const char  *title;          /* NULL: the default */
    const char  *body;
    const char  *base;
    int          draft;
    int          automatic;      /* after a turn: pushed already */
} re_git_pr_want_t;


static void
re_git_pr_open(const char *name, const re_git_pr_want_t *w, unsigned *status,
    const char **code, json_t **result, char *err, size_t errlen)
{
    int                  rc;
    char               **envp, branch[256], base[256], api[1024];
    char                 title[512], body[RE_GIT_PR_BODY_MAX];
    char                 perr[RE_GIT_ERR_MAX];
    long                 gh_status;
    git_oid              dummy;
    re_github_pr_t       pr;
    re_github_repo_t     r;
    git_repository      *repo;
    const char          *token, *v;

    *result = NULL;
    *status = MHD_HTTP_INTERNAL_SERVER_ERROR;
    *code = "internal";

    re_git_init();

    repo = re_git_open(name);

    if (repo == NULL) {
        *status = MHD_HTTP_NOT_FOUND;
        *code = "repository_not_found";
        snprintf(err, errlen, "no such repository");
        return;
    }

    envp = re_start_env();
    token = re_git_token(envp);

    if (token == NULL) {
        *status = MHD_HTTP_CONFLICT;
        *code = "no_token";
        snprintf(err, errlen, "no GitHub token: set REPLICAS_GIT_TOKEN (or "
                 "GITHUB_TOKEN) in the workspace's environment");
        goto done;
    }

    if (re_git_pr_origin(repo, &r) != 0) {
        *status = MHD_HTTP_CONFLICT;
        *code = "not_github";
        snprintf(err, errlen, "origin's URL does not name a GitHub "
                 "repository (https://HOST/OWNER/REPO or git@HOST:OWNER/REPO)");
        goto done;
    }

    v = re_env_get(envp, "REPLICAS_GITHUB_API_URL");

    if (re_github_api_base(&r, v, api, sizeof(api)) != 0) {
        *status = MHD_HTTP_CONFLICT;
        *code = "bad_config";
        snprintf(err, errlen, "REPLICAS_GITHUB_API_URL is not an http(s) "
                 "URL");
        goto done;
    }

    re_git_branch(repo, branch, sizeof(branch));

    if (branch[0] == '\0') {
        *status = MHD_HTTP_CONFLICT;
        *code = "detached";
        snprintf(err, errlen, "HEAD is not on a branch");
        goto done;
    }

    if (w->base) {
        snprintf(base, sizeof(base), "%s", w->base);

    } else if (re_git_default(repo, &dummy, base, sizeof(base)) != 0) {
        *status = MHD_HTTP_CONFLICT;
        *code = "no_base";
        snprintf(err, errlen, "origin's default branch is unknown: give "
                 "\"base\"");
        goto done;
    }

    if (strcmp(base, branch) == 0) {
        *status = MHD_HTTP_CONFLICT;
        *code = "on_base";
        snprintf(err, errlen, "the workspace is on the base branch");
        goto done;
    }

    /* GitHub opens a pull request only of a branch it has */
    if (!w->automatic) {
        pthread_mutex_lock(&re_git_lock);
        rc = re_git_push(name, repo, envp, 0, 0, NULL, perr, sizeof(perr));
        pthread_mutex_unlock(&re_git_lock);

        if (rc == RE_GIT_NO_PUSH || rc == RE_GIT_PUSH_FAILED) {
            *status = rc == RE_GIT_NO_PUSH ? MHD_HTTP_CONFLICT
                                           : MHD_HTTP_BAD_GATEWAY;
            *code = "push_failed";
            snprintf(err, errlen, "%s", perr);
            goto done;
        }
    }

    re_git_pr_text(repo, branch, base, title, sizeof(title), body,
                   sizeof(body));

    rc = re_github_pr_open(api, token, &r, branch, base,
                           w->title ? w->title : title,
                           w->body ? w->body : body, w->draft, &pr,
                           &gh_status, err, errlen);

    if (rc != 0) {
        *status = MHD_HTTP_BAD_GATEWAY;
        *code = "github_failed";
        re_warn("git.pull_request_failed", "repository=%s branch=%s "
                "github_status=%ld", name, branch, gh_status);
        re_events_emit("git.pull_request_failed",
                       json_pack("{s:s, s:s, s:s}", "repository", name,
                                 "branch", branch, "error", err));
        goto done;
    }

    re_git_pr_keep(repo, branch, &pr);

    re_info("git.pull_request", "repository=%s branch=%s number=%lld "
            "created=%d", name, branch, pr.number, !pr.existed);
    re_events_emit("git.pull_request",
        json_pack("{s:s, s:s, s:s, s:s, s:I, s:b}", "repository", name,
                  "branch", branch, "base", base, "url", pr.url,
                  "number", (json_int_t) pr.number, "created", !pr.existed));

    *result = json_pack("{s:s, s:s, s:s, s:s, s:I, s:b}", "repository", name,
                        "branch", branch, "base", base, "url", pr.url,
                        "number", (json_int_t) pr.number,
                        "created", !pr.existed);
    *status = pr.existed ? MHD_HTTP_OK : MHD_HTTP_CREATED;
    *code = NULL;

done:

    git_repository_free(repo);
    re_env_free(envp);
}


void
re_git_pr_request(const char *name, const char *title, const char *body,
    int draft, const char *base, unsigned *status, const char **code,
    json_t **result, char *err, size_t errlen)
{
    re_git_pr_want_t  w;

    memset(&w, 0, sizeof(w));
    w.title = title;
    w.body = body;
    w.base = base;
    w.draft = draft;

    re_git_pr_open(name, &w, status, code, result, err, errlen);
}


void
re_git_pr_after_push(const char *name)
{
    int               known;
    char            **envp, branch[256], err[RE_GIT_ERR_MAX];
    json_t           *j;
    unsigned          status;
    const char       *mode, *code;
    re_github_repo_t  r;
    git_repository   *repo;
    re_git_pr_want_t  w;

    envp = re_start_env();
    mode = envp ? re_env_get(envp, "REPLICAS_GIT_PULL_REQUEST") : NULL;
    mode = mode ? mode : "";

    memset(&w, 0, sizeof(w));
    w.automatic = 1;
    w.draft = strcasecmp(mode, "draft") == 0;

    if (re_git_token(envp) == NULL || strcasecmp(mode, "off") == 0
        || strcmp(mode, "0") == 0 || strcasecmp(mode, "false") == 0
        || strcasecmp(mode, "no") == 0)
    {
        re_env_free(envp);
        return;
    }

    re_env_free(envp);

    repo = re_git_open(name);

    if (repo == NULL) {
        return;
    }

    /* once per branch: a kept one is not asked for again; an origin that
     * is not on GitHub is quietly not for this */
    re_git_branch(repo, branch, sizeof(branch));
    j = re_git_pr_json(repo, branch);
    known = j != NULL;
    json_decref(j);

    if (known || re_git_pr_origin(repo, &r) != 0) {
        git_repository_free(repo);
        return;
    }

    git_repository_free(repo);

    j = NULL;
    re_git_pr_open(name, &w, &status, &code, &j, err, sizeof(err));
    json_decref(j);
}
