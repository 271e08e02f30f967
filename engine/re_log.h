/*
 * Structured logs of the engine (common/rp_log.h): one line per event on
 * stderr,
 *   ts=2026-11-23T10:00:00.123Z level=info event=hook.end hook=start state=succeeded ms=84
 * Values are the caller's; never pass message text, commands' output or
 * environment values (they hold the workspace's secrets).
 */

#ifndef RE_LOG_H
#define RE_LOG_H

#include "common/rp_log.h"

#define re_info(event, ...)  rp_log("info", event, __VA_ARGS__)
#define re_warn(event, ...)  rp_log("warn", event, __VA_ARGS__)
#define re_error(event, ...) rp_log("error", event, __VA_ARGS__)
#define re_now_ms            rp_now_ms

#endif /* RE_LOG_H */
