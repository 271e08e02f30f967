/*
 * The workspace's event stream: one log of everything that happens in
 * the engine (hooks, messages, chats and agent turns, previews, errors),
 * each event in the envelope
 *     {"id": N, "ts": "2026-11-28T10:00:00.123Z", "type": "...", "payload": {...}}
 * with ids increasing from 1 across restarts (the log is kept in the state
 * dir, events.jsonl), served as server-sent events (GET /events, resumable
 * with Last-Event-ID or ?after=N, a heartbeat every 15 s) and WebSocket.
 */

#ifndef RE_EVENTS_H
#define RE_EVENTS_H

#include <jansson.h>


/* at start: reads the last id from state_dir/events.jsonl; 0 or -1 */
int re_events_init(const char *state_dir);

/*
 * Appends one event and wakes every stream; payload is stolen (NULL: {}).
 * Thread-safe; never blocks on a slow client.  Returns the event's id.
 */
long long re_events_emit(const char *type, json_t *payload);

/* ends every stream once it has sent what was emitted; an event emitted
 * later still goes to the file */
void re_events_shutdown(void);

/* the id of the last event emitted, 0 before any */
long long re_events_last_id(void);

struct MHD_Connection;

/*
 * GET /events: server-sent events, a WebSocket (Upgrade: websocket), or
 * with ?format=json the events in memory.  status (stolen) is the
 * engine.status payload a new stream starts with.  Returns an MHD result,
 * or -1 with *err set for a bad request (the caller answers 400).
 */
int re_events_http(struct MHD_Connection *c, json_t *status,
    const char **err);

#endif /* RE_EVENTS_H */
