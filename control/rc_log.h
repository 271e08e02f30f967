/*
 * Structured logs of the control worker: one line per event on stderr,
 *   ts=2026-11-23T10:00:00.123Z level=info event=job.done job=wake ws=abc ms=84
 * Values are the caller's; never pass a secret (tokens, keys, variables).
 */

#ifndef RC_LOG_H
#define RC_LOG_H

void rc_log(const char *level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define rc_info(event, ...)  rc_log("info", event, __VA_ARGS__)
#define rc_warn(event, ...)  rc_log("warn", event, __VA_ARGS__)
#define rc_error(event, ...) rc_log("error", event, __VA_ARGS__)

/* milliseconds on a monotonic clock, for durations */
long long rc_now_ms(void);

#endif /* RC_LOG_H */
