/*
 * Structured log lines for the programs beside the gateway (control and
 * the engine; nginx has its own log): one line per event on stderr,
 *   ts=2026-11-23T10:00:00.123Z level=info event=job.done job=wake ws=abc ms=84
 * written with one write, so lines of several threads or workers never
 * interleave.  Values are the caller's: never pass a secret (tokens, keys,
 * variables), message text or a command's output.
 */

#ifndef RP_LOG_H
#define RP_LOG_H

void rp_log(const char *level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* milliseconds on a monotonic clock, for durations and deadlines */
long long rp_now_ms(void);

/* mkdir -p, making missing directories with mode; 0, or -1 with errno */
int rp_mkdirs(const char *path, unsigned mode);

#endif /* RP_LOG_H */
