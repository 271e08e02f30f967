/*
 * The start hook of POST /start: run in a thread of its own so the
 * request is answered at once; its state is kept in
 * <state-dir>/hooks/start.json and its output appended to
 * <state-dir>/hooks/start.log (a header line per run).
 */

#ifndef RE_START_H
#define RE_START_H

#include <jansson.h>

#include "re_hooks.h"
#include "re_request.h"


int re_start_init(const char *state_dir, const char *workdir);

/* starts req's hook unless one runs (then nothing changes); takes req's
 * contents.  Returns the state after: RUNNING or NONE, -1 on failure */
int re_start_begin(re_start_t *req);

re_hook_state_e re_start_state(void);

/* {state, exit, started_at, ended_at}, and the log's last log_max bytes
 * as "log" if log_max > 0 */
json_t *re_start_status(size_t log_max);
/* a copy of the environment processes run with: the engine's own with
 * the last /start's variables over it (re_env_free it) */
char **re_start_env(void);
/* where agents work: the last /start's cwd, else the workdir */
void re_start_cwd(char *buf, size_t size);
/* the workspace's agent for new chats as the last /start said, or "" */
void re_start_agent(char *buf, size_t size);
/* the repository's systemPrompt of the last /start, malloc'ed, or NULL */
char *re_start_system_prompt(void);
/* the image's warm hook as control recorded it: {state, ..., log} */
json_t *re_warm_status(size_t log_max);

/* the log, opened for reading (-1 and errno ENOENT before any run) */
int re_start_log_open(void);

/* ends a running hook (SIGTERM, then SIGKILL) and waits for its thread */
void re_start_shutdown(void);

#endif /* RE_START_H */
