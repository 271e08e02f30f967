/* Small file helpers of the engine's state dir. */

#ifndef RE_FILES_H
#define RE_FILES_H

#include <stddef.h>
#include <sys/types.h>

#include "common/rp_log.h"

/* mkdir -p: 0, or -1 with errno (common/rp_log.h) */
#define re_mkdir_p  rp_mkdirs

/* all of data to fd (a short write or EINTR goes on): 0, or -1 with
 * errno */
int re_write_all(int fd, const char *data, size_t len);

/* replaces path with data at once (a temp file renamed over it), so a
 * crash leaves the old or the new content, never half of one */
int re_write_atomic(const char *path, const char *data, size_t len);

/* at most max bytes from the end of path (the whole file if smaller), NUL
 * terminated, *len set; NULL if it cannot be read, "" if it is missing */
char *re_read_tail(const char *path, size_t max, size_t *len);

#endif /* RE_FILES_H */
