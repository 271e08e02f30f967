/*
 * The bodies of POST /git/update {strategy?: "rebase"|"merge", base?}
 * and POST /git/pull-request {title?, body?, draft?, base?}, checked:
 * every field, unknown ones refused.  Pure (jansson only), so it is fuzzed
 * (t/fuzz/fuzz_git_request.c).  Messages name fields, never values.
 */

#ifndef RE_GIT_REQUEST_H
#define RE_GIT_REQUEST_H

#include <stddef.h>

#include <jansson.h>


typedef struct {
    int          merge;         /* strategy "merge" */
    int          draft;
    const char  *base;          /* NULL: not given */
    const char  *title;
    const char  *body;
    json_t      *root;          /* owns the strings: json_decref it */
} re_git_body_t;


/* an empty body is {}; pr: the pull request's body, else the update's.
 * NULL, or what is wrong (root may be set either way) */
const char *re_git_parse(const char *buf, size_t len, int pr,
    re_git_body_t *out);

/* a branch name to ask for: [A-Za-z0-9._/-], none of git's odd forms */
int re_git_branch_ok(const char *b);

#endif /* RE_GIT_REQUEST_H */
