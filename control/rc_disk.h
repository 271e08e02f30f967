/*
 * A sandbox's writable disk with a size the kernel enforces: a sparse
 * ext4 image file, loop-mounted.  Writes past its size fail with ENOSPC
 * inside the workspace; the host's filesystem gives it at most its size
 * (blocks are taken as the workspace writes them, not up front).
 */

#ifndef RC_DISK_H
#define RC_DISK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* a new empty image of `bytes` (replaces one there), root dir owned by
 * uid:gid; 0 or -1 with err */
int rc_disk_make(const char *image, uint64_t bytes, uid_t uid, gid_t gid,
    char *err, size_t errlen);

/* the image on dir through a free loop device that goes away with the
 * mount (autoclear); nothing if dir is mounted already */
int rc_disk_mount(const char *image, const char *dir, char *err,
    size_t errlen);

/* 1 if path is a mount point (its device differs from its parent's) */
int rc_disk_is_mount(const char *path);

/* used and total bytes of the filesystem mounted on dir; -1 if none */
int rc_disk_usage(const char *dir, uint64_t *used, uint64_t *total);

#endif /* RC_DISK_H */
