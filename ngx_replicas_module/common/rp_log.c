/* Log lines and small file-system helpers of control and the engine: see
 * rp_log.h. */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "rp_log.h"


void
rp_log(const char *level, const char *event, const char *fmt, ...)
{
    char             line[2048], ts[32];
    size_t           len;
    va_list          ap;
    struct tm        tm;
    struct timespec  now;

    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);

    len = snprintf(line, sizeof(line), "ts=%s.%03ldZ level=%s event=%s ", ts,
                   now.tv_nsec / 1000000, level, event);

    if (len < sizeof(line)) {
        va_start(ap, fmt);
        vsnprintf(line + len, sizeof(line) - len, fmt, ap);
        va_end(ap);
    }

    /* one write per line, so lines of threads and workers never mix */
    fprintf(stderr, "%s\n", line);
    fflush(stderr);
}


long long
rp_now_ms(void)
{
    struct timespec  now;

    clock_gettime(CLOCK_MONOTONIC, &now);

    return (long long) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}


int
rp_mkdirs(const char *path, unsigned mode)
{
    char    buf[4096];
    char   *p;
    size_t  len;

    len = strlen(path);
    if (len == 0 || len >= sizeof(buf)) {
        errno = ENAMETOOLONG;
        return -1;
    }

    memcpy(buf, path, len + 1);

    for (p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, mode) != 0 && errno != EEXIST) {
                return -1;
            }
            *p = '/';
        }
    }

    if (mkdir(buf, mode) != 0 && errno != EEXIST) {
        return -1;
    }

    return 0;
}
