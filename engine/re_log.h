/*
 * Structured logs of the engine: one line per event on stderr,
 *   ts=2026-11-23T10:00:00.123Z level=info event=hook.end hook=start state=succeeded ms=84
 * Values are the caller's; never pass message text, commands' output or
 * environment values (they hold the workspace's secrets).
 */

#ifndef RE_LOG_H
#define RE_LOG_H

void re_log(const char *level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define re_info(event, ...)  re_log("info", event, __VA_ARGS__)
#define re_warn(event, ...)  re_log("warn", event, __VA_ARGS__)
#define re_error(event, ...) re_log("error", event, __VA_ARGS__)

/* milliseconds on a monotonic clock, for durations and deadlines */
long long re_now_ms(void);

#endif /* RE_LOG_H */
