/* A workspace's git state, the kept shape: see rc_git_state.h. */

#include <stdlib.h>
#include <string.h>

#include "rc_git_state.h"


/* a string of 1..max bytes without control characters, else NULL */
static const char *
rc_git_state_string(const json_t *v, size_t max)
{
    size_t       i, len;
    const char  *s;

    s = json_string_value(v);

    if (s == NULL) {
        return NULL;
    }

    len = json_string_length(v);

    if (len == 0 || len > max || strlen(s) != len) {
        return NULL;
    }

    for (i = 0; i < len; i++) {
        if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f) {
            return NULL;
        }
    }

    return s;
}


static json_t *
rc_git_state_repo(const json_t *in)
{
    json_t      *out, *pr, *v;
    json_int_t   n;
    const char  *name, *s, *url;

    name = rc_git_state_string(json_object_get(in, "name"),
                               RC_GIT_STATE_NAME_MAX);

    if (name == NULL || (out = json_object()) == NULL) {
        return NULL;
    }

    json_object_set_new(out, "name", json_string(name));

    s = rc_git_state_string(json_object_get(in, "branch"),
                            RC_GIT_STATE_NAME_MAX);
    if (s) {
        json_object_set_new(out, "branch", json_string(s));
    }

    /* a commit id: 40 (SHA-1) or 64 (SHA-256) hex digits */
    s = rc_git_state_string(json_object_get(in, "head"), 64);
    if (s && (strlen(s) == 40 || strlen(s) == 64)
        && strspn(s, "0123456789abcdef") == strlen(s))
    {
        json_object_set_new(out, "head", json_string(s));
    }

    v = json_object_get(in, "ahead");
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        json_object_set_new(out, "ahead", json_integer(json_integer_value(v)));
    }

    /* a pull request's page: http(s) only (the list links to it; the
     * poller parses it again, strictly, before it asks GitHub) */
    pr = json_object_get(in, "pullRequest");
    url = rc_git_state_string(json_object_get(pr, "url"),
                              RC_GIT_STATE_URL_MAX);
    v = json_object_get(pr, "number");
    n = json_is_integer(v) ? json_integer_value(v) : 0;

    if (url && (strncmp(url, "https://", 8) == 0
                || strncmp(url, "http://", 7) == 0))
    {
        json_object_set_new(out, "pullRequest",
                            json_pack("{s:s, s:I}", "url", url, "number",
                                      n > 0 ? n : 0));
    }

    return out;
}


char *
rc_git_state_text(const json_t *repos)
{
    char    *text;
    size_t   i;
    json_t  *list, *r;

    if (!json_is_array(repos) || (list = json_array()) == NULL) {
        return NULL;
    }

    for (i = 0; i < json_array_size(repos)
                && json_array_size(list) < RC_GIT_STATE_REPOS; i++)
    {
        r = rc_git_state_repo(json_array_get(repos, i));

        if (r) {
            json_array_append_new(list, r);
        }
    }

    text = json_dumps(list, JSON_COMPACT);
    json_decref(list);

    if (text && strlen(text) > RC_GIT_STATE_TEXT_MAX) {
        free(text);
        return NULL;
    }

    return text;
}


uint64_t
rc_git_state_hash(const char *text)
{
    uint64_t  h = 14695981039346656037ULL;

    while (*text) {
        h ^= (unsigned char) *text++;
        h *= 1099511628211ULL;
    }

    return h;
}
