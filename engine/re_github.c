/* GitHub's REST API for pull requests: see re_github.h. */

#define _GNU_SOURCE

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/rp_http_json.h"
#include "re_github.h"


#define RE_GITHUB_UA  "replicas-engine"


/* ---- the remote's URL (pure) ---------------------------------------------- */

/* owner: letters, digits, '-', '_'; repository: and '.'; never "." or ".." */
static int
re_github_name_ok(const char *s, size_t len, size_t max, const char *extra)
{
    size_t  i;

    if (len == 0 || len > max || (len == 1 && s[0] == '.')
        || (len == 2 && s[0] == '.' && s[1] == '.'))
    {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!isalnum((unsigned char) s[i]) && !strchr(extra, s[i])) {
            return 0;
        }
    }

    return 1;
}


/* host[:port], letters, digits, '.', '-'; copied lowercase */
static int
re_github_host(const char *s, size_t len, int port_ok, char *out)
{
    size_t       i, hlen, plen;
    const char  *colon;

    colon = memchr(s, ':', len);
    hlen = colon ? (size_t) (colon - s) : len;
    plen = colon ? len - hlen - 1 : 0;

    if (hlen == 0 || len > RE_GITHUB_HOST_MAX || s[0] == '.' || s[0] == '-'
        || (colon && (!port_ok || plen == 0 || plen > 5)))
    {
        return 0;
    }

    for (i = 0; i < hlen; i++) {
        if (!isalnum((unsigned char) s[i]) && s[i] != '.' && s[i] != '-') {
            return 0;
        }
    }

    for (i = hlen + 1; colon && i < len; i++) {
        if (!isdigit((unsigned char) s[i])) {
            return 0;
        }
    }

    for (i = 0; i < len; i++) {
        out[i] = (char) tolower((unsigned char) s[i]);
    }

    out[len] = '\0';

    return 1;
}


/* "owner/repo[.git][/]" to the end of the string */
static int
re_github_path(const char *p, re_github_repo_t *out)
{
    size_t       len, olen, rlen;
    const char  *slash;

    len = strlen(p);

    if (len && p[len - 1] == '/') {
        len--;
    }

    slash = memchr(p, '/', len);

    if (slash == NULL) {
        return 0;
    }

    olen = (size_t) (slash - p);
    rlen = len - olen - 1;

    if (rlen > 4 && memcmp(slash + 1 + rlen - 4, ".git", 4) == 0) {
        rlen -= 4;
    }

    if (!re_github_name_ok(p, olen, RE_GITHUB_OWNER_MAX, "-_")
        || !re_github_name_ok(slash + 1, rlen, RE_GITHUB_REPO_MAX, "-_.")
        || (rlen == 4 && memcmp(slash + 1, ".git", 4) == 0))
    {
        return 0;
    }

    memcpy(out->owner, p, olen);
    out->owner[olen] = '\0';
    memcpy(out->repo, slash + 1, rlen);
    out->repo[rlen] = '\0';

    return 1;
}


int
re_github_parse_url(const char *url, re_github_repo_t *out)
{
    int          ok, port_ok;
    size_t       alen;
    const char  *auth, *end, *at, *p;

    memset(out, 0, sizeof(*out));

    if (url == NULL || strlen(url) > RE_GITHUB_URL_MAX) {
        return -1;
    }

    if (strncmp(url, "https://", 8) == 0 || strncmp(url, "ssh://", 6) == 0) {
        auth = strstr(url, "://") + 3;
        end = strchr(auth, '/');
        port_ok = 1;

    } else {
        /* scp-like, user@host:owner/repo: a ':' before any '/' */
        auth = url;
        end = strchr(url, ':');
        port_ok = 0;

        if (end == NULL || memchr(url, '/', (size_t) (end - url))) {
            return -1;
        }
    }

    if (end == NULL) {
        return -1;
    }

    /* user[:password]@ is dropped, never kept */
    alen = (size_t) (end - auth);
    at = NULL;

    for (p = auth; p < end; p++) {
        if (*p == '@') {
            at = p;
        }
    }

    if (at) {
        alen -= (size_t) (at + 1 - auth);
        auth = at + 1;
    }

    ok = re_github_host(auth, alen, port_ok, out->host)
         && re_github_path(end + 1, out);

    if (!ok) {
        memset(out, 0, sizeof(*out));
        return -1;
    }

    return 0;
}


int
re_github_api_base(const re_github_repo_t *r, const char *override,
    char *out, size_t size)
{
    size_t  len;

    if (override && override[0]) {
        len = strlen(override);

        while (len && override[len - 1] == '/') {
            len--;
        }

        if ((strncmp(override, "https://", 8) != 0
             && strncmp(override, "http://", 7) != 0)
            || len >= size || strpbrk(override, " \t\r\n?#"))
        {
            return -1;
        }

        memcpy(out, override, len);
        out[len] = '\0';
        return 0;
    }

    if (strcmp(r->host, "github.com") == 0
        || strcmp(r->host, "www.github.com") == 0)
    {
        return (size_t) snprintf(out, size, "https://api.github.com") < size
               ? 0 : -1;
    }

    return (size_t) snprintf(out, size, "https://%s/api/v3", r->host) < size
           ? 0 : -1;
}


/* ---- calls ----------------------------------------------------------------- */

/* ends s before a last UTF-8 character that was cut short */
static void
re_github_utf8_end(char *s)
{
    size_t          len, i, need;
    unsigned char   c;

    len = strlen(s);

    for (i = len; i > 0 && len - i < 4; i--) {
        c = (unsigned char) s[i - 1];

        if ((c & 0xc0) == 0x80) {
            continue;                   /* a continuation byte */
        }

        need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;

        if (len - (i - 1) < need) {
            s[i - 1] = '\0';
        }

        return;
    }
}


/* text safe to show: one line, no token, at most errlen */
static void
re_github_clean(char *err, const char *token)
{
    char    *p;
    size_t   tlen;

    tlen = token ? strlen(token) : 0;

    while (tlen && (p = strstr(err, token)) != NULL) {
        memset(p, '*', tlen);
    }

    for (p = err; *p; p++) {
        if ((unsigned char) *p < 0x20 || *p == 0x7f) {
            *p = ' ';
        }
    }

    /* a cut in the middle of a UTF-8 character: the whole one dropped */
    re_github_utf8_end(err);
}


/*
 * One request: method to url with the token, JSON body (or none).  0
 * with *status and *answer (JSON, NULL if the body was not), or -1 with
 * err (GitHub was not reached or did not answer).
 */
static int
re_github_call(const char *method, const char *url, const char *token,
    json_t *send, long *status, json_t **answer, char *err, size_t errlen)
{
    char                 auth[4200];
    const char          *headers[4];
    rp_http_json_req_t   req;
    rp_http_json_res_t   res;

    *status = 0;
    *answer = NULL;

    if (strlen(token) > 4000) {
        snprintf(err, errlen, "the token is too long");
        return -1;
    }

    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    headers[0] = auth;
    headers[1] = "Accept: application/vnd.github+json";
    headers[2] = "X-GitHub-Api-Version: 2022-11-28";
    headers[3] = NULL;

    memset(&req, 0, sizeof(req));
    req.method = method;
    req.url = url;
    req.body = send;
    req.headers = headers;
    req.timeout_ms = RE_GITHUB_TIMEOUT * 1000L;
    req.connect_ms = RE_GITHUB_CONNECT_TIMEOUT * 1000L;
    req.max = RE_GITHUB_BODY_MAX;
    req.user_agent = RE_GITHUB_UA;
    req.ca_file = getenv("REPLICAS_GIT_CA_FILE");

    if (rp_http_json(&req, &res) != 0) {
        explicit_bzero(auth, sizeof(auth));
        snprintf(err, errlen, "GitHub could not be reached: %s",
                 res.too_large ? "the answer is too large (over 1 MiB)"
                               : res.error);
        return -1;
    }

    explicit_bzero(auth, sizeof(auth));
    *status = res.status;
    *answer = res.json;

    return 0;
}


/* GitHub's error: "message: errors[0].message" (or the status alone) */
static void
re_github_message(long status, json_t *answer, const char *token, char *err,
    size_t errlen)
{
    json_t      *errors, *first;
    const char  *msg, *detail, *field, *code;

    msg = json_string_value(json_object_get(answer, "message"));
    errors = json_object_get(answer, "errors");
    first = json_is_array(errors) ? json_array_get(errors, 0) : NULL;
    detail = json_string_value(json_object_get(first, "message"));
    field = json_string_value(json_object_get(first, "field"));
    code = json_string_value(json_object_get(first, "code"));

    /* "Validation Failed: head invalid" when the error has no message */
    if (detail) {
        snprintf(err, errlen, "GitHub answered %ld: %s: %s", status,
                 msg ? msg : "no message", detail);

    } else if (field && code) {
        snprintf(err, errlen, "GitHub answered %ld: %s: %s %s", status,
                 msg ? msg : "no message", field, code);

    } else {
        snprintf(err, errlen, "GitHub answered %ld: %s", status,
                 msg ? msg : "no message");
    }

    re_github_clean(err, token);
}


/* does a 422 say the branch has an open pull request already */
static int
re_github_exists(json_t *answer)
{
    size_t       i;
    json_t      *errors, *e;
    const char  *msg;

    errors = json_object_get(answer, "errors");

    for (i = 0; json_is_array(errors) && i < json_array_size(errors); i++) {
        e = json_array_get(errors, i);
        msg = json_string_value(json_object_get(e, "message"));

        if (msg && strncmp(msg, "A pull request already exists", 29) == 0) {
            return 1;
        }
    }

    return 0;
}


/* {html_url, number} of a pull request, checked */
static int
re_github_pr_from(json_t *j, re_github_pr_t *pr)
{
    json_t      *n;
    const char  *url;

    url = json_string_value(json_object_get(j, "html_url"));
    n = json_object_get(j, "number");

    if (url == NULL || strlen(url) >= sizeof(pr->url)
        || (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0)
        || strpbrk(url, " \t\r\n\"<>") || !json_is_integer(n)
        || json_integer_value(n) <= 0)
    {
        return -1;
    }

    snprintf(pr->url, sizeof(pr->url), "%s", url);
    pr->number = json_integer_value(n);

    return 0;
}


/* GET .../pulls?head=owner:branch&state=open: the first one */
static int
re_github_find(const char *api, const char *token, const re_github_repo_t *r,
    const char *head, re_github_pr_t *pr, long *status, char *err,
    size_t errlen)
{
    int      rc;
    char     url[4 * RE_GITHUB_URL_MAX], *q;
    json_t  *answer;

    rc = -1;

    /* libcurl since 7.82 needs no handle to escape */
    snprintf(url, sizeof(url), "%s:%s", r->owner, head);
    q = curl_easy_escape(NULL, url, 0);

    if (q == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    snprintf(url, sizeof(url), "%s/repos/%s/%s/pulls?head=%s&state=open",
             api, r->owner, r->repo, q);
    curl_free(q);

    if (re_github_call("GET", url, token, NULL, status, &answer, err, errlen)
        != 0)
    {
        return -1;
    }

    if (*status != 200) {
        re_github_message(*status, answer, token, err, errlen);

    } else if (!json_is_array(answer) || json_array_size(answer) == 0) {
        snprintf(err, errlen, "GitHub says a pull request exists for the "
                 "branch but lists no open one");

    } else if (re_github_pr_from(json_array_get(answer, 0), pr) != 0) {
        snprintf(err, errlen, "GitHub's answer has no pull request's URL");

    } else {
        pr->existed = 1;
        rc = 0;
    }

    json_decref(answer);

    return rc;
}


int
re_github_pr_open(const char *api, const char *token,
    const re_github_repo_t *r, const char *head, const char *base,
    const char *title, const char *body, int draft, re_github_pr_t *pr,
    long *status, char *err, size_t errlen)
{
    int      rc;
    char     url[2 * RE_GITHUB_URL_MAX];
    json_t  *send, *answer;

    memset(pr, 0, sizeof(*pr));

    snprintf(url, sizeof(url), "%s/repos/%s/%s/pulls", api, r->owner,
             r->repo);

    send = json_pack("{s:s, s:s, s:s, s:s, s:b}", "title", title,
                     "head", head, "base", base, "body", body ? body : "",
                     "draft", draft);

    if (send == NULL) {
        snprintf(err, errlen, "the title, branch or body is not UTF-8 text");
        *status = 0;
        return -1;
    }

    rc = re_github_call("POST", url, token, send, status, &answer, err,
                        errlen);
    json_decref(send);

    if (rc != 0) {
        return -1;
    }

    rc = -1;

    if (*status == 201) {
        if (re_github_pr_from(answer, pr) == 0) {
            rc = 0;
        } else {
            snprintf(err, errlen, "GitHub's answer has no pull request's URL");
        }

    } else if (*status == 422 && re_github_exists(answer)) {
        rc = re_github_find(api, token, r, head, pr, status, err, errlen);

    } else {
        re_github_message(*status, answer, token, err, errlen);
    }

    json_decref(answer);

    return rc;
}
