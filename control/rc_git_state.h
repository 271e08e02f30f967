/*
 * A workspace's git state as control keeps it (the workspace's "git",
 * read by lua/api.lua's git_of, the dashboard's list and the pull request
 * poller): per repository {name, branch?, head?, ahead?, pullRequest?
 * {url, number}}.  Two writers, one shape: the engine watch from each
 * /healthz's "repositories" (rc_watch.c, on change) and the save before a
 * sleep from GET /git (rc_history.c).  Both go through rc_git_state_text:
 * the engine runs in the workspace and its answer is untrusted, so only
 * these fields, of these types and sizes, are kept.  Pure (jansson only),
 * unit-tested by t/unit/test_git_state.c.
 */

#ifndef RC_GIT_STATE_H
#define RC_GIT_STATE_H

#include <stdint.h>

#include <jansson.h>


#define RC_GIT_STATE_REPOS      64      /* the engine's RE_GIT_REPOS_MAX */
#define RC_GIT_STATE_NAME_MAX   255
#define RC_GIT_STATE_URL_MAX    1024
#define RC_GIT_STATE_TEXT_MAX   (256 * 1024)

/* the kept JSON text (compact, malloc'ed) of an engine's repository list,
 * or NULL when repos is not a list (or the text would be too large) */
char *rc_git_state_text(const json_t *repos);

/* FNV-1a of text: what the watch compares, second by second */
uint64_t rc_git_state_hash(const char *text);

#endif /* RC_GIT_STATE_H */
