/*
 * The pull request poller: which of the workspaces' pull requests were
 * merged, asked of GitHub's REST API until webhooks tell it.
 *
 *   rc_pulls.c        the thread (rc_serve.c starts it): each second a
 *                     page of workspaces (SCAN), each with a pull request
 *                     recorded and not known merged or closed checked once
 *                     per --pulls-every, at most --pulls-per-minute requests
 *                     a minute for all workers together, none before a
 *                     rate limit's reset (X-RateLimit-*, Retry-After)
 *   rc_pulls_parse.c  the pure parts (unit test t/unit/test_pulls.c, fuzz
 *                     target t/fuzz/fuzz_pulls.c): a pull request's URL,
 *                     GitHub's answer, the rate limit's headers
 *
 * What it records: merged, the workspace's "pr_merged_at" and the
 * "merged" counter of the day the workspace started; a pull request seen
 * first, the "with_pr" counter of that day ("pr_seen_at"); closed
 * unmerged, its URL in "pr_closed" (never asked again).  Each change is
 * published on replicas:ws-changed.  The token is the workspace's
 * environment's REPLICAS_GIT_TOKEN (else GITHUB_TOKEN): never logged.
 */

#ifndef RC_PULLS_H
#define RC_PULLS_H

#include <stddef.h>


#define RC_PULLS_NAME_MAX  100


/* https://HOST/OWNER/REPO/pull/NUMBER, a pull request's html_url */
typedef struct {
    char       owner[RC_PULLS_NAME_MAX + 1];
    char       repo[RC_PULLS_NAME_MAX + 1];
    long long  number;
} rc_pull_ref_t;


typedef enum {
    RC_PULL_OPEN = 0,
    RC_PULL_MERGED,
    RC_PULL_CLOSED            /* closed without being merged */
} rc_pull_state_e;


/* 0 and ref, or -1: not a pull request's URL (an owner, a repository of
 * GitHub's characters, a number from 1) */
int rc_pulls_url(const char *url, size_t len, rc_pull_ref_t *ref);

/* 1 if the repository URL (a workspace's "repository", a clone URL:
 * https://HOST/OWNER/REPO[.git][/]) is ref's repository, names compared
 * as GitHub does (case-insensitively): a workspace's pull request URL is
 * the workspace's word, and only its own repositories' count */
int rc_pulls_of_repository(const char *url, const rc_pull_ref_t *ref);

/* GET /repos/{owner}/{repo}/pulls/{number}'s 200 body: 0 with *state and
 * *merged_at (unix, 0 when not merged or unreadable), or -1 */
int rc_pulls_answer(const char *body, size_t len, rc_pull_state_e *state,
    long long *merged_at);

/* "2026-12-04T18:00:00Z" as unix time, or -1 */
long long rc_pulls_time(const char *s, size_t len);

/*
 * Until when (unix) GitHub must not be asked after an answer, from its
 * status and headers (NULL when absent), now being now: Retry-After's
 * seconds; X-RateLimit-Remaining 0 with X-RateLimit-Reset's time; a 403
 * or 429 with neither, a minute (GitHub's advice for secondary limits).
 * 0: no wait.  Never further than an hour ahead.
 */
long long rc_pulls_backoff(long status, const char *remaining,
    const char *reset, const char *retry_after, long long now);

#endif /* RC_PULLS_H */
