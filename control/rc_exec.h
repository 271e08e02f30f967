/*
 * Running helper programs (ip, nft, bwrap's setup steps) from the
 * control worker: synchronously, without a shell, with what they print on
 * stderr kept for the error message.
 */

#ifndef RC_EXEC_H
#define RC_EXEC_H

#include "common/rp_log.h"

#include <stddef.h>


/*
 * Runs argv[0] (looked up in PATH) with argv, stdin from "input" (or
 * /dev/null), stdout discarded.  Returns the exit status (0 success), or
 * -1 if it could not run; err gets the command and the tail of stderr.
 */
int rc_run(char *const argv[], const char *input, char *err, size_t errlen);

/* rc_run with a NULL-terminated list of arguments */
int rc_runl(char *err, size_t errlen, const char *arg0, ...);

/* removes a directory tree without following symlinks; 0 or -1 */
int rc_rmtree(const char *path);

/* mkdir -p with a mode for the directories it creates; 0 or -1 */
#define rc_mkdirs  rp_mkdirs

#endif /* RC_EXEC_H */
