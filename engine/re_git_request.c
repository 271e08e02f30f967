/* The git endpoints' request bodies: see re_git_request.h. */

#include <string.h>

#include <jansson.h>

#include "re_git_request.h"


/* a branch name to ask for: what git allows, less the odd parts */
int
re_git_branch_ok(const char *b)
{
    size_t  len;

    len = strlen(b);

    return len >= 1 && len <= 200
           && strspn(b, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                        "0123456789._/-") == len
           && b[0] != '-' && b[0] != '/' && b[0] != '.'
           && b[len - 1] != '/' && b[len - 1] != '.'
           && strstr(b, "..") == NULL && strstr(b, "//") == NULL
           && strstr(b, "/.") == NULL
           && (len < 5 || strcmp(b + len - 5, ".lock") != 0);
}


/* text without control characters other than newlines and tabs */
static int
re_git_text_ok(const char *s, size_t max, int lines)
{
    size_t  len;

    len = strlen(s);

    if (len > max) {
        return 0;
    }

    for (; *s; s++) {
        if (((unsigned char) *s < 0x20 || *s == 0x7f)
            && !(lines && (*s == '\n' || *s == '\t' || *s == '\r')))
        {
            return 0;
        }
    }

    return 1;
}


/*
 * POST /git/update {strategy?: "rebase"|"merge", base?} and POST
 * /git/pull-request {title?, body?, draft?, base?}: an empty body is {}.
 * NULL, or the message of what is wrong (field names only).
 */
const char *
re_git_parse(const char *buf, size_t len, int pr, re_git_body_t *out)
{
    json_t      *v;
    const char  *key, *s;

    memset(out, 0, sizeof(*out));

    if (len == 0) {
        return NULL;
    }

    out->root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);

    if (!json_is_object(out->root)) {
        return "the body must be a JSON object";
    }

    json_object_foreach(out->root, key, v) {
        s = json_string_value(v);

        if (strcmp(key, "base") == 0) {
            if (s == NULL || !re_git_branch_ok(s)) {
                return "base must be a branch name";
            }
            out->base = s;

        } else if (!pr && strcmp(key, "strategy") == 0) {
            if (s == NULL || (strcmp(s, "rebase") != 0
                              && strcmp(s, "merge") != 0))
            {
                return "strategy must be \"rebase\" or \"merge\"";
            }
            out->merge = strcmp(s, "merge") == 0;

        } else if (pr && strcmp(key, "title") == 0) {
            if (s == NULL || s[0] == '\0' || !re_git_text_ok(s, 256, 0)) {
                return "title must be one line of 1 to 256 bytes";
            }
            out->title = s;

        } else if (pr && strcmp(key, "body") == 0) {
            if (s == NULL || !re_git_text_ok(s, 65536, 1)) {
                return "body must be text of at most 64 KiB";
            }
            out->body = s;

        } else if (pr && strcmp(key, "draft") == 0) {
            if (!json_is_boolean(v)) {
                return "draft must be true or false";
            }
            out->draft = json_is_true(v);

        } else {
            return pr ? "unknown field: the body takes title, body, draft "
                        "and base"
                      : "unknown field: the body takes strategy and base";
        }
    }

    return NULL;
}
