/*
 * Talking to a workspace's engine (port 3737 at the sandbox's address)
 * over HTTP with libcurl: health, start hook, message delivery, hook
 * state.  Short timeouts: the engine is on this machine's bridge.
 */

#ifndef RC_ENGINE_H
#define RC_ENGINE_H

#include <jansson.h>


void rc_engine_init(void);

/* a thread that called the engine ends: its kept handle (and
 * connections) freed */
void rc_engine_thread_done(void);

/*
 * One request; body may be NULL.  Returns the HTTP status (0 when no
 * answer) and, if reply is not NULL, the JSON answer (or NULL).
 */
long rc_engine_call(const char *addr, const char *method, const char *path,
    json_t *body, long timeout_ms, json_t **reply);

/* polls /healthz until it answers 200 or deadline_ms passes; tick is
 * called every so often (job heartbeats); 0 healthy, -1 not */
int rc_engine_wait_healthy(const char *addr, long deadline_ms,
    void (*tick)(void *data), void *data);

#endif /* RC_ENGINE_H */
