/*
 * The pull request poller's pure parts (rc_pulls.h): no I/O, so the unit
 * test and the fuzz target call them as the poller does.
 */

#define _DEFAULT_SOURCE

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "rc_pulls.h"


#define RC_PULLS_WAIT_MAX  3600    /* a wait is never longer */
#define RC_PULLS_WAIT_403  60      /* a limit without a reset said */


/* a name of GitHub's: letters, digits and extra; never "." or ".." */
static int
rc_pulls_name(const char *s, size_t len, const char *extra, char *out)
{
    size_t  i;

    if (len == 0 || len > RC_PULLS_NAME_MAX
        || (len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
    {
        return -1;
    }

    for (i = 0; i < len; i++) {
        /* (strchr finds the string's own NUL: never a name's) */
        if (!isalnum((unsigned char) s[i])
            && (s[i] == '\0' || strchr(extra, s[i]) == NULL))
        {
            return -1;
        }
    }

    memcpy(out, s, len);
    out[len] = '\0';

    return 0;
}


/* the next path segment of [p, end): its length, p moved past its '/' */
static size_t
rc_pulls_segment(const char **p, const char *end, const char **seg)
{
    const char  *s;

    s = *p;

    while (*p < end && **p != '/') {
        (*p)++;
    }

    *seg = s;

    return (size_t) (*p - s);
}


int
rc_pulls_url(const char *url, size_t len, rc_pull_ref_t *ref)
{
    size_t       n, i;
    const char  *p, *end, *seg;

    static const char  https[] = "https://", http[] = "http://";

    end = url + len;

    if (len > sizeof(https) - 1 && strncmp(url, https, sizeof(https) - 1) == 0)
    {
        p = url + sizeof(https) - 1;

    } else if (len > sizeof(http) - 1
               && strncmp(url, http, sizeof(http) - 1) == 0)
    {
        p = url + sizeof(http) - 1;

    } else {
        return -1;
    }

    /* the host: letters, digits, '.', '-', a port */
    n = rc_pulls_segment(&p, end, &seg);

    if (n == 0 || p == end) {
        return -1;
    }

    for (i = 0; i < n; i++) {
        if (!isalnum((unsigned char) seg[i])
            && (seg[i] == '\0' || strchr(".-:", seg[i]) == NULL))
        {
            return -1;
        }
    }

    p++;
    n = rc_pulls_segment(&p, end, &seg);

    if (p == end || rc_pulls_name(seg, n, "-_", ref->owner) != 0) {
        return -1;
    }

    p++;
    n = rc_pulls_segment(&p, end, &seg);

    if (p == end || rc_pulls_name(seg, n, "-_.", ref->repo) != 0) {
        return -1;
    }

    p++;
    n = rc_pulls_segment(&p, end, &seg);

    if (p == end || n != 4 || strncmp(seg, "pull", 4) != 0) {
        return -1;
    }

    p++;
    n = rc_pulls_segment(&p, end, &seg);

    /* the number, the URL's end (one trailing slash allowed) */
    if (n == 0 || n > 12 || seg[0] == '0'
        || (p < end && (p + 1 != end || *p != '/')))
    {
        return -1;
    }

    ref->number = 0;

    for (i = 0; i < n; i++) {
        if (!isdigit((unsigned char) seg[i])) {
            return -1;
        }

        ref->number = ref->number * 10 + (seg[i] - '0');
    }

    return 0;
}


int
rc_pulls_of_repository(const char *url, const rc_pull_ref_t *ref)
{
    size_t       len, olen, rlen;
    const char  *end, *p;

    len = strlen(url);
    end = url + len;

    /* one trailing slash, then ".git" */
    if (len > 0 && end[-1] == '/') {
        end--;
    }

    if (end - url > 4 && strncasecmp(end - 4, ".git", 4) == 0) {
        end -= 4;
    }

    olen = strlen(ref->owner);
    rlen = strlen(ref->repo);

    /* "/OWNER/REPO" at the end, after the scheme's "//" and a host */
    if ((size_t) (end - url) < olen + rlen + 2) {
        return 0;
    }

    p = end - rlen - olen - 2;

    if (p[0] != '/' || p[olen + 1] != '/'
        || strncasecmp(p + 1, ref->owner, olen) != 0
        || strncasecmp(p + olen + 2, ref->repo, rlen) != 0)
    {
        return 0;
    }

    /* the host before it: "scheme://host" with no other slash */
    return p > url && p - url >= 3 && memchr(url, '/', p - url) != NULL
           && strstr(url, "://") != NULL
           && (const char *) memchr(strstr(url, "://") + 3, '/',
                                    p - (strstr(url, "://") + 3)) == NULL;
}


/* n decimal digits at s, or -1 */
static long
rc_pulls_digits(const char *s, size_t n)
{
    long    v;
    size_t  i;

    v = 0;

    for (i = 0; i < n; i++) {
        if (!isdigit((unsigned char) s[i])) {
            return -1;
        }

        v = v * 10 + (s[i] - '0');
    }

    return v;
}


long long
rc_pulls_time(const char *s, size_t len)
{
    long       y, mo, d, h, mi, se;
    struct tm  tm;

    /* YYYY-MM-DDTHH:MM:SSZ, as GitHub writes it */
    if (len != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T'
        || s[13] != ':' || s[16] != ':' || s[19] != 'Z')
    {
        return -1;
    }

    y = rc_pulls_digits(s, 4);
    mo = rc_pulls_digits(s + 5, 2);
    d = rc_pulls_digits(s + 8, 2);
    h = rc_pulls_digits(s + 11, 2);
    mi = rc_pulls_digits(s + 14, 2);
    se = rc_pulls_digits(s + 17, 2);

    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23
        || mi < 0 || mi > 59 || se < 0 || se > 60)
    {
        return -1;
    }

    memset(&tm, 0, sizeof(tm));
    tm.tm_year = (int) y - 1900;
    tm.tm_mon = (int) mo - 1;
    tm.tm_mday = (int) d;
    tm.tm_hour = (int) h;
    tm.tm_min = (int) mi;
    tm.tm_sec = (int) se;

    return (long long) timegm(&tm);
}


int
rc_pulls_answer(const char *body, size_t len, rc_pull_state_e *state,
    long long *merged_at)
{
    json_t      *j, *merged, *at;
    const char  *st;

    *merged_at = 0;
    j = json_loadb(body, len, 0, NULL);

    st = json_string_value(json_object_get(j, "state"));
    merged = json_object_get(j, "merged");

    if (st == NULL || (strcmp(st, "open") != 0 && strcmp(st, "closed") != 0)) {
        json_decref(j);
        return -1;
    }

    /* "merged" is the word; a merged_at without it (the list endpoint's
     * pulls have no "merged") says the same */
    at = json_object_get(j, "merged_at");

    if (json_is_true(merged) || (merged == NULL && json_is_string(at))) {
        *state = RC_PULL_MERGED;

        if (json_is_string(at)) {
            *merged_at = rc_pulls_time(json_string_value(at),
                                       json_string_length(at));
            if (*merged_at < 0) {
                *merged_at = 0;
            }
        }

    } else {
        *state = strcmp(st, "closed") == 0 ? RC_PULL_CLOSED : RC_PULL_OPEN;
    }

    json_decref(j);

    return 0;
}


/* a header's non-negative integer, or -1 */
static long long
rc_pulls_header_int(const char *v)
{
    long long  n;

    if (v == NULL) {
        return -1;
    }

    while (*v == ' ' || *v == '\t') {
        v++;
    }

    if (!isdigit((unsigned char) *v)) {
        return -1;
    }

    n = 0;

    while (isdigit((unsigned char) *v)) {
        n = n * 10 + (*v++ - '0');

        if (n > 100000000000LL) {
            return -1;
        }
    }

    while (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n') {
        v++;
    }

    return *v == '\0' ? n : -1;
}


long long
rc_pulls_backoff(long status, const char *remaining, const char *reset,
    const char *retry_after, long long now)
{
    long long  until, ra, left, at;

    until = 0;
    ra = rc_pulls_header_int(retry_after);
    left = rc_pulls_header_int(remaining);
    at = rc_pulls_header_int(reset);

    if (ra >= 0) {
        until = now + ra;

    } else if (left == 0 && at > now) {
        until = at;

    } else if (status == 403 || status == 429) {
        /* a limit GitHub did not date (secondary limits): a minute, or
         * the reset when the budget is spent */
        if (status == 429 || left == 0) {
            until = now + RC_PULLS_WAIT_403;
        }
    }

    if (until > now + RC_PULLS_WAIT_MAX) {
        until = now + RC_PULLS_WAIT_MAX;
    }

    return until > now ? until : 0;
}
