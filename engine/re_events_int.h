/*
 * Inside the event stream: what the stream reader (re_events.c) shares
 * with the WebSocket framing (re_ws.c).  Not for other files: they use
 * re_events.h.
 */

#ifndef RE_EVENTS_INT_H
#define RE_EVENTS_INT_H

#include <stdio.h>

#include <jansson.h>
#include <microhttpd.h>


typedef enum {
    RE_STREAM_SSE = 0,
    RE_STREAM_WS
} re_stream_e;


typedef struct {
    re_stream_e   mode;
    long long     after;            /* the last id sent */
    json_t       *status;           /* engine.status, sent first */

    FILE         *file;             /* replaying from the file */
    long long     file_until;       /* ids from here are in the ring */
    int           file_tried;

    char         *buf;              /* the next frame, sent from off */
    size_t        len;
    size_t        off;
    size_t        cap;
} re_stream_t;


/* a stream from the event after `after` (-1: only new ones); takes status */
re_stream_t *re_stream_new(re_stream_e mode, long long after, json_t *status);
void re_stream_free(void *cls);

/* 0: the next frame is in st->buf; 1: none came within wait_ms;
 * -1: the engine is shutting down (or out of memory) */
int re_stream_next(re_stream_t *st, long long wait_ms);
/* a heartbeat frame into st->buf */
void re_stream_heartbeat(re_stream_t *st);

long long re_events_heartbeat_ms(void);

/* GET /events with Upgrade: websocket (re_ws.c); takes status */
int re_events_ws(struct MHD_Connection *c, long long after, json_t *status,
    const char **err);

#endif /* RE_EVENTS_INT_H */
