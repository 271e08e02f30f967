/* Helper programs and file trees: see rc_exec.h. */

#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rc_exec.h"


#define RC_EXEC_ARGS_MAX  32


int
rc_run(char *const argv[], const char *input, char *err, size_t errlen)
{
    int      in[2], errp[2], status, devnull;
    char     buf[1024];
    size_t   len, n;
    ssize_t  got;
    pid_t    pid;

    if (pipe2(in, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "%s: pipe: %s", argv[0], strerror(errno));
        return -1;
    }

    if (pipe2(errp, O_CLOEXEC) != 0) {
        close(in[0]);
        close(in[1]);
        snprintf(err, errlen, "%s: pipe: %s", argv[0], strerror(errno));
        return -1;
    }

    pid = fork();

    if (pid == 0) {
        devnull = open("/dev/null", O_WRONLY);
        dup2(in[0], 0);
        dup2(devnull, 1);
        dup2(errp[1], 2);
        execvp(argv[0], argv);
        fprintf(stderr, "cannot run: %s", strerror(errno));
        _exit(127);
    }

    close(in[0]);
    close(errp[1]);

    if (pid < 0) {
        close(in[1]);
        close(errp[0]);
        snprintf(err, errlen, "%s: fork: %s", argv[0], strerror(errno));
        return -1;
    }

    /* inputs here are small (an nft ruleset): no deadlock with stderr */
    if (input) {
        len = strlen(input);

        while (len) {
            got = write(in[1], input, len);
            if (got <= 0) {
                break;
            }
            input += got;
            len -= got;
        }
    }

    close(in[1]);

    len = 0;

    for ( ;; ) {
        got = read(errp[0], buf + len, sizeof(buf) - 1 - len);
        if (got <= 0) {
            break;
        }

        len += got;

        /* keep the tail: the reason is usually on the last line */
        if (len == sizeof(buf) - 1) {
            n = len / 2;
            memmove(buf, buf + n, len - n);
            len -= n;
        }
    }

    close(errp[0]);
    buf[len] = '\0';

    while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' ')) {
        buf[--len] = '\0';
    }

    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            snprintf(err, errlen, "%s: wait: %s", argv[0], strerror(errno));
            return -1;
        }
    }

    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        return 0;
    }

    snprintf(err, errlen, "%s %s: %s", argv[0], argv[1] ? argv[1] : "",
             len ? buf : "failed");

    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}


int
rc_runl(char *err, size_t errlen, const char *arg0, ...)
{
    int       n;
    char     *argv[RC_EXEC_ARGS_MAX + 1];
    va_list   ap;

    argv[0] = (char *) arg0;
    n = 1;

    va_start(ap, arg0);

    while (n < RC_EXEC_ARGS_MAX) {
        argv[n] = va_arg(ap, char *);
        if (argv[n] == NULL) {
            break;
        }
        n++;
    }

    va_end(ap);

    argv[n] = NULL;

    return rc_run(argv, NULL, err, errlen);
}


static int
rc_rmtree_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
    (void) st;
    (void) ftw;

    if (flag == FTW_DP) {
        return rmdir(path) == 0 || errno == ENOENT ? 0 : -1;
    }

    return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
}


int
rc_rmtree(const char *path)
{
    struct stat  st;

    if (lstat(path, &st) != 0) {
        return errno == ENOENT ? 0 : -1;
    }

    /* FTW_MOUNT: never descend into something still mounted below */
    return nftw(path, rc_rmtree_entry, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}
