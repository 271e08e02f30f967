/*
 * The hook runner, shared by POST /start (in a thread of the server) and
 * `replicas-engine hook` (the image's warm hook):
 *   - separate (the default): each command is its own `/bin/sh -c CMD`,
 *     one after another, every one run even after a failure; the hook
 *     failed if any did;
 *   - not separate: one `/bin/sh -e -c` script of the commands joined by
 *     newlines, which stops at the first failure.
 * Each command runs in a session (and process group) of its own, output
 * straight into out_fd/err_fd (files, never pipes: a command that leaves
 * a server running with `&` ends when its shell does, the server keeps
 * going).  The timeout covers the whole hook: past it the running
 * command's group gets SIGTERM, then SIGKILL.
 */

#ifndef RE_HOOKS_H
#define RE_HOOKS_H

#include <stdatomic.h>

#include "re_request.h"


typedef enum {
    RE_HOOK_NONE = 0,
    RE_HOOK_RUNNING,
    RE_HOOK_SUCCEEDED,
    RE_HOOK_FAILED,
    RE_HOOK_TIMED_OUT
} re_hook_state_e;


typedef struct {
    const re_hook_t  *hook;
    const char       *cwd;
    char *const      *envp;
    int               out_fd;       /* a file opened O_APPEND */
    int               err_fd;
    atomic_int       *stop;         /* set: end the hook now (failed) */
} re_hook_run_t;


/* runs the hook to its end; *exit_code is the first failing command's
 * exit status (128 + signal if killed), 0 if all succeeded */
re_hook_state_e re_hook_run(re_hook_run_t *run, int *exit_code);

const char *re_hook_state_name(re_hook_state_e state);
re_hook_state_e re_hook_state_from_name(const char *name);

/* base (an environ) with vars set over it: a new NULL-terminated array */
char **re_env_merge(char *const *base, const re_env_var_t *vars, size_t n);
void re_env_free(char **envp);

/* the value of name in envp, or NULL */
const char *re_env_get(char *const *envp, const char *name);

/* in a child between fork and exec (a hook's command, the desktop's
 * programs): a session and process group of its own, no signals blocked,
 * SIGPIPE's default action, stdin from /dev/null, stdout and stderr to
 * out_fd and err_fd (-1: as they are), no other descriptors */
void re_child_setup(int out_fd, int err_fd);

#endif /* RE_HOOKS_H */
