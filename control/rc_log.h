/*
 * Structured logs of the control worker (common/rp_log.h): one line per
 * event on stderr,
 *   ts=2026-11-23T10:00:00.123Z level=info event=job.done job=wake ws=abc ms=84
 * Values are the caller's; never pass a secret (tokens, keys, variables).
 */

#ifndef RC_LOG_H
#define RC_LOG_H

#include "common/rp_log.h"

#define rc_info(event, ...)  rp_log("info", event, __VA_ARGS__)
#define rc_warn(event, ...)  rp_log("warn", event, __VA_ARGS__)
#define rc_error(event, ...) rp_log("error", event, __VA_ARGS__)
#define rc_now_ms            rp_now_ms

#endif /* RC_LOG_H */
