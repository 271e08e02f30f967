/* control/rc_pulls_parse.c: what the pull request poller reads from
 * outside, a pull request's URL (kept by the engine, saved from the
 * workspace: untrusted), GitHub's answer and its rate limit headers. */

#include <string.h>

#include "tap.h"
#include "rc_pulls.h"


static int
url(const char *s, rc_pull_ref_t *ref)
{
    return rc_pulls_url(s, strlen(s), ref);
}


static int
answer(const char *body, rc_pull_state_e *st, long long *at)
{
    return rc_pulls_answer(body, strlen(body), st, at);
}


int
main(void)
{
    long long        at;
    rc_pull_ref_t    r;
    rc_pull_state_e  st;

    /* URLs */
    ok(url("https://github.com/acme/app/pull/17", &r) == 0
       && strcmp(r.owner, "acme") == 0 && strcmp(r.repo, "app") == 0
       && r.number == 17, "github.com's html_url");
    ok(url("https://ghe.example.com:8443/a-b/x.y_z/pull/3/", &r) == 0
       && strcmp(r.repo, "x.y_z") == 0 && r.number == 3,
       "an Enterprise host with a port, a trailing slash");
    ok(url("http://github.com/acme/app/pull/1", &r) == 0, "http too");
    ok(url("https://github.com/acme/app/pull/0", &r) != 0, "no number 0");
    ok(url("https://github.com/acme/app/pull/01", &r) != 0, "no leading zero");
    ok(url("https://github.com/acme/app/pull/1x", &r) != 0, "digits only");
    ok(url("https://github.com/acme/app/pull/1234567890123", &r) != 0,
       "at most 12 digits");
    ok(url("https://github.com/acme/app/issues/1", &r) != 0, "pull, not issues");
    ok(url("https://github.com/acme/../pull/1", &r) != 0, "no ..");
    ok(url("https://github.com/ac%2fme/app/pull/1", &r) != 0,
       "no escapes (the path is GitHub's characters)");
    ok(url("https://github.com/acme/app/pull/1/files", &r) != 0,
       "nothing after the number");
    ok(url("file:///acme/app/pull/1", &r) != 0, "http(s) only");
    ok(url("https://user@github.com/acme/app/pull/1", &r) != 0,
       "no credentials in the host");
    ok(url("https://github.com/acme/app/pull/", &r) != 0, "a number needed");
    ok(url("https://github.com//app/pull/1", &r) != 0, "an owner needed");
    ok(rc_pulls_url("https://github.com/\0\0a/b/pull/1", 31, &r) != 0,
       "no NUL in a name (the fuzzer's find)");

    /* whose repository */
    url("https://github.com/Acme/App/pull/4", &r);
    ok(rc_pulls_of_repository("https://github.com/acme/app", &r),
       "the workspace's repository (names case-insensitive)");
    ok(rc_pulls_of_repository("https://github.com/acme/app.git", &r)
       && rc_pulls_of_repository("https://github.com/acme/app/", &r),
       "with .git or a slash");
    ok(!rc_pulls_of_repository("https://github.com/acme/apps", &r)
       && !rc_pulls_of_repository("https://github.com/xacme/app", &r)
       && !rc_pulls_of_repository("https://github.com/other/acme/app", &r),
       "another repository is not");
    ok(!rc_pulls_of_repository("acme/app", &r)
       && !rc_pulls_of_repository("", &r)
       && !rc_pulls_of_repository("/srv/repos/acme/app", &r),
       "a path is not");

    /* answers */
    ok(answer("{\"state\":\"closed\",\"merged\":true,"
              "\"merged_at\":\"2026-12-04T18:00:00Z\"}", &st, &at) == 0
       && st == RC_PULL_MERGED && at == 1796407200LL, "merged, with its time");
    ok(answer("{\"state\":\"closed\",\"merged\":false,\"merged_at\":null}",
              &st, &at) == 0 && st == RC_PULL_CLOSED && at == 0,
       "closed without a merge");
    ok(answer("{\"state\":\"open\",\"merged\":false}", &st, &at) == 0
       && st == RC_PULL_OPEN, "open");
    ok(answer("{\"state\":\"closed\",\"merged_at\":\"2026-12-04T18:00:00Z\"}",
              &st, &at) == 0 && st == RC_PULL_MERGED,
       "the list's shape (merged_at, no merged)");
    ok(answer("{\"state\":\"closed\",\"merged\":true,\"merged_at\":\"soon\"}",
              &st, &at) == 0 && st == RC_PULL_MERGED && at == 0,
       "merged at an unreadable time: merged, time unknown");
    ok(answer("{\"state\":\"weird\"}", &st, &at) != 0, "an unknown state");
    ok(answer("[]", &st, &at) != 0 && answer("", &st, &at) != 0
       && answer("{\"state\":1}", &st, &at) != 0, "not a pull request");

    ok(rc_pulls_time("1970-01-01T00:00:00Z", 20) == 0, "the epoch");
    ok(rc_pulls_time("2026-12-04T18:00:00", 19) == -1, "the Z is needed");
    ok(rc_pulls_time("2026-13-04T18:00:00Z", 20) == -1, "month 13");
    ok(rc_pulls_time("2026-12-04T18:00:0xZ", 20) == -1, "digits");

    /* rate limits */
    ok(rc_pulls_backoff(200, "4999", "2000", NULL, 1000) == 0,
       "budget left: no wait");
    ok(rc_pulls_backoff(200, "0", "1500", NULL, 1000) == 1500,
       "the last of the budget: until its reset");
    ok(rc_pulls_backoff(403, "0", "1500", NULL, 1000) == 1500,
       "403 with the budget spent: until its reset");
    ok(rc_pulls_backoff(429, NULL, NULL, "30", 1000) == 1030,
       "Retry-After's seconds");
    ok(rc_pulls_backoff(403, "10", "1500", " 5\r\n", 1000) == 1005,
       "Retry-After first");
    ok(rc_pulls_backoff(429, NULL, NULL, NULL, 1000) == 1060,
       "a 429 that says nothing: a minute");
    ok(rc_pulls_backoff(403, "0", "900", NULL, 1000) == 1060,
       "a reset gone by with nothing left: a minute");
    ok(rc_pulls_backoff(403, "4000", NULL, NULL, 1000) == 0,
       "a 403 that is no limit (a private repository): no wait");
    ok(rc_pulls_backoff(429, NULL, NULL, "999999999", 1000) == 1000 + 3600,
       "never more than an hour");
    ok(rc_pulls_backoff(429, NULL, NULL, "-5", 1000) == 1060,
       "a negative Retry-After is none");
    ok(rc_pulls_backoff(200, "0x", "abc", "1e3", 1000) == 0,
       "junk headers are none");

    return done_testing();
}
