/* File helpers: see re_files.h. */

#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "re_files.h"


int
re_write_all(int fd, const char *data, size_t len)
{
    ssize_t  n;
    size_t   done;

    for (done = 0; done < len; done += (size_t) n) {
        n = write(fd, data + done, len - done);

        if (n < 0 && errno == EINTR) {
            n = 0;
            continue;
        }

        if (n <= 0) {
            if (n == 0) {
                errno = EIO;
            }
            return -1;
        }
    }

    return 0;
}


int
re_write_atomic(const char *path, const char *data, size_t len)
{
    int      fd, saved;
    char     tmp[4200];

    if ((size_t) snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }

    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd == -1) {
        return -1;
    }

    if (re_write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        goto failed;
    }

    if (close(fd) != 0) {
        fd = -1;
        goto failed;
    }

    fd = -1;

    if (rename(tmp, path) != 0) {
        goto failed;
    }

    return 0;

failed:

    saved = errno;
    if (fd != -1) {
        close(fd);
    }
    unlink(tmp);
    errno = saved;
    return -1;
}


char *
re_read_tail(const char *path, size_t max, size_t *len)
{
    int          fd;
    char        *buf;
    off_t        from;
    size_t       want, got;
    ssize_t      n;
    struct stat  st;

    *len = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd == -1) {
        return errno == ENOENT ? calloc(1, 1) : NULL;
    }

    if (fstat(fd, &st) != 0) {
        close(fd);
        return NULL;
    }

    want = (size_t) st.st_size < max ? (size_t) st.st_size : max;
    from = st.st_size - (off_t) want;

    buf = malloc(want + 1);
    if (buf == NULL) {
        close(fd);
        return NULL;
    }

    /* the file may grow while it is read (a hook still writing): only the
     * bytes that were there at fstat are taken */
    for (got = 0; got < want; got += (size_t) n) {
        n = pread(fd, buf + got, want - got, from + (off_t) got);

        if (n < 0 && errno == EINTR) {
            n = 0;
            continue;
        }

        if (n <= 0) {
            break;
        }
    }

    close(fd);

    buf[got] = '\0';
    *len = got;

    return buf;
}
