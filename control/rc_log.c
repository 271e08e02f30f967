/* One line per event: see rc_log.h. */

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "rc_log.h"


void
rc_log(const char *level, const char *event, const char *fmt, ...)
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

    /* one write per line, so lines of several workers never interleave */
    fprintf(stderr, "%s\n", line);
    fflush(stderr);
}


long long
rc_now_ms(void)
{
    struct timespec  now;

    clock_gettime(CLOCK_MONOTONIC, &now);

    return (long long) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}
