/*
 * GitHub's REST API, as much as the engine needs: open a pull request,
 * or find the open one of a branch.  Kept apart from git (libgit2) and
 * from the engine's state: no globals, no logging, so the URL parser is
 * unit-tested (t/unit/test_github.c) and fuzzed (t/fuzz/fuzz_github_url.c)
 * on its own.  Every call has a connect timeout and a total timeout, never
 * follows a redirect (the token would go with it), and reads at most
 * RE_GITHUB_BODY_MAX bytes.  Errors are safe to show: GitHub's message or
 * curl's, never the token.
 */

#ifndef RE_GITHUB_H
#define RE_GITHUB_H

#include <stddef.h>


#define RE_GITHUB_HOST_MAX      255
#define RE_GITHUB_OWNER_MAX     100
#define RE_GITHUB_REPO_MAX      100
#define RE_GITHUB_URL_MAX       2048
#define RE_GITHUB_BODY_MAX      (1024 * 1024)
#define RE_GITHUB_CONNECT_TIMEOUT  10     /* seconds */
#define RE_GITHUB_TIMEOUT          30


typedef struct {
    char  host[RE_GITHUB_HOST_MAX + 1];     /* lowercase, ":port" kept */
    char  owner[RE_GITHUB_OWNER_MAX + 1];
    char  repo[RE_GITHUB_REPO_MAX + 1];     /* without ".git" */
} re_github_repo_t;

typedef struct {
    char       url[RE_GITHUB_URL_MAX];      /* html_url */
    long long  number;
    int        existed;                     /* found, not made now */
} re_github_pr_t;


/*
 * A remote's URL as GitHub (or GitHub Enterprise) gives them:
 * https://[user@]host[:port]/owner/repo[.git][/], ssh://git@host[:port]/
 * owner/repo[.git], git@host:owner/repo[.git].  0 and *out filled, or -1:
 * anything else (a path, another scheme, more or fewer path parts, a name
 * with characters GitHub does not allow).  Pure.
 */
int re_github_parse_url(const char *url, re_github_repo_t *out);

/*
 * The REST API's base URL (no trailing '/'): override if given and
 * http(s), else https://api.github.com for github.com and
 * https://HOST/api/v3 for another host (GitHub Enterprise Server).
 * 0 or -1 (a bad override).  Pure.
 */
int re_github_api_base(const re_github_repo_t *r, const char *override,
    char *out, size_t size);

/*
 * Opens a pull request of head (a branch of r) into base, or finds the
 * open one if GitHub says it exists.  body and title are text; draft 0/1.
 * 0 with *pr; -1 with *status (GitHub's HTTP status, 0 if it was not
 * reached) and err.
 */
int re_github_pr_open(const char *api, const char *token,
    const re_github_repo_t *r, const char *head, const char *base,
    const char *title, const char *body, int draft, re_github_pr_t *pr,
    long *status, char *err, size_t errlen);

#endif /* RE_GITHUB_H */
