/* One line per event: see re_log.h. */

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "re_log.h"


void
re_log(const char *level, const char *event, const char *fmt, ...)
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

    /* one write per line: lines of the HTTP and hook threads never mix */
    fprintf(stderr, "%s\n", line);
    fflush(stderr);
}


long long
re_now_ms(void)
{
    struct timespec  now;

    clock_gettime(CLOCK_MONOTONIC, &now);

    return (long long) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}
