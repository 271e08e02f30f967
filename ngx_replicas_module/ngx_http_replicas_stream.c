/*
 * GET /v1/events: the organisation's workspace changes as server-sent
 * events (the dashboard's list; any program may use it).
 *
 * The first event is a snapshot, the list GET /v1/workspaces would give.
 * Then every change of a workspace (created, its state, previews, owner,
 * health, deleted) comes as one event.  No polling: each worker already
 * hears every change on its subscription (replicas:ws-changed, the one
 * that invalidates the route cache); for each stream open in the worker
 * it asks lua/api.lua's "watch" with that stream's own credential what
 * the change is.  So the stream's organisation and role are checked on
 * every event the way a GET is, a change of another organisation's
 * workspace says nothing (not even its id), and a session signed out or a
 * key revoked ends the stream at its next event or heartbeat.
 *
 * A stream asks one question at a time; changes that come meanwhile wait
 * in a small set (the same workspace once), and when that overflows, or
 * the subscription was lost a while, the stream is sent a new snapshot.
 *
 * What a stream allocates lives in its request's pool, so a stream ends
 * after NGX_HTTP_REPLICAS_STREAM_EVENTS events or _LIFETIME seconds; the
 * browser's EventSource comes back by itself ("retry") and gets a
 * snapshot.  A client that does not read is dropped.  Last-Event-ID is
 * not replayed: the snapshot on each connection is what is current.
 */

#include "ngx_http_replicas_api.h"


#define NGX_HTTP_REPLICAS_STREAM_PENDING    32
#define NGX_HTTP_REPLICAS_STREAM_EVENTS     1000
#define NGX_HTTP_REPLICAS_STREAM_LIFETIME   600      /* seconds */
#define NGX_HTTP_REPLICAS_STREAM_HEARTBEAT  15000    /* ms */
#define NGX_HTTP_REPLICAS_STREAM_RETRY      1000     /* ms, the client's */
#define NGX_HTTP_REPLICAS_STREAM_STALLS     2        /* heartbeats unread */


typedef struct {
    ngx_queue_t                   queue;        /* the worker's streams */
    ngx_http_request_t           *request;
    ngx_event_t                   heartbeat;
    u_char                        pending[NGX_HTTP_REPLICAS_STREAM_PENDING]
                                         [RP_WS_ID_MAX];
    size_t                        pending_len[NGX_HTTP_REPLICAS_STREAM_PENDING];
    ngx_uint_t                    npending;
    u_char                        asking[RP_WS_ID_MAX];
    ngx_uint_t                    events;       /* sent, to end in time */
    ngx_uint_t                    stalls;       /* heartbeats not drained */
    time_t                        started;
    unsigned                      busy:1;       /* a question in flight */
    unsigned                      resync:1;     /* a snapshot is owed */
    unsigned                      check:1;      /* the heartbeat's check */
    unsigned                      ended:1;
} ngx_http_replicas_stream_t;


static ngx_queue_t  ngx_http_replicas_streams;
static ngx_uint_t   ngx_http_replicas_streams_init;


static void ngx_http_replicas_stream_next(ngx_http_replicas_stream_t *s);


static ngx_queue_t *
ngx_http_replicas_stream_list(void)
{
    if (!ngx_http_replicas_streams_init) {
        ngx_queue_init(&ngx_http_replicas_streams);
        ngx_http_replicas_streams_init = 1;
    }

    return &ngx_http_replicas_streams;
}


/* a chunk out now (flush: an event is not held back for a fuller buffer) */

static ngx_int_t
ngx_http_replicas_stream_write(ngx_http_request_t *r, ngx_str_t *parts,
    ngx_uint_t n)
{
    size_t        len;
    ngx_buf_t    *b;
    ngx_uint_t    i;
    ngx_chain_t   out;

    len = 0;

    for (i = 0; i < n; i++) {
        len += parts[i].len;
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        b->last = ngx_cpymem(b->last, parts[i].data, parts[i].len);
    }

    b->flush = 1;
    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out) == NGX_ERROR ? NGX_ERROR : NGX_OK;
}


/*
 * "id: N", then the script's object with the same id put first: the
 * envelope {id, ts, type, payload} of every event stream here.
 */

static ngx_int_t
ngx_http_replicas_stream_event(ngx_http_replicas_stream_t *s, ngx_str_t *obj)
{
    u_char     num[NGX_INT_T_LEN];
    ngx_str_t  parts[7];

    if (obj->len < 2 || obj->data[0] != '{') {
        return NGX_ERROR;
    }

    s->events++;

    parts[0].data = (u_char *) "id: ";
    parts[0].len = 4;
    parts[1].data = num;
    parts[1].len = ngx_sprintf(num, "%ui", s->events) - num;
    parts[2].data = (u_char *) "\ndata: {\"id\":";
    parts[2].len = sizeof("\ndata: {\"id\":") - 1;
    parts[3] = parts[1];
    parts[4].data = (u_char *) ",";
    parts[4].len = 1;
    parts[5].data = obj->data + 1;
    parts[5].len = obj->len - 1;
    parts[6].data = (u_char *) "\n\n";
    parts[6].len = 2;

    return ngx_http_replicas_stream_write(s->request, parts, 7);
}


/* the stream's end from our side: the last chunk, then finalized */

static void
ngx_http_replicas_stream_end(ngx_http_replicas_stream_t *s, ngx_int_t rc)
{
    ngx_http_request_t  *r = s->request;

    if (s->ended) {
        return;
    }

    s->ended = 1;
    ngx_queue_remove(&s->queue);

    if (s->heartbeat.timer_set) {
        ngx_del_timer(&s->heartbeat);
    }

    if (rc == NGX_OK) {
        rc = ngx_http_send_special(r, NGX_HTTP_LAST);
    }

    ngx_http_replicas_finish(r, rc);
}


/* the answer to one question (lua/api.lua's org_events or watch) */

static void
ngx_http_replicas_stream_reply(ngx_http_request_t *r, void *reply)
{
    ngx_http_replicas_ctx_t           *rctx;
    ngx_http_replicas_stream_t        *s;
    ngx_http_replicas_script_reply_t   v;

    rctx = ngx_http_get_module_ctx(r, ngx_http_replicas_module);
    s = rctx->stream;
    s->busy = 0;

    if (s->ended) {
        return;
    }

    if (ngx_http_replicas_redis_script_reply(reply, &v) != NGX_OK) {
        /* no answer: what this was about is asked again as a snapshot
         * (at the next change or heartbeat) */
        s->resync = 1;
        return;
    }

    switch (v.status) {

    case NGX_HTTP_OK:
        if (ngx_http_replicas_stream_event(s, &v.body) != NGX_OK) {
            ngx_http_replicas_stream_end(s, NGX_ERROR);
            return;
        }

        break;

    case NGX_HTTP_NO_CONTENT:
        break;                  /* another organisation's, or a heartbeat */

    case NGX_HTTP_UNAUTHORIZED:
    case NGX_HTTP_FORBIDDEN:
        /* signed out, revoked, disabled: the stream ends; the client's
         * reconnection gets the 401 as JSON */
        ngx_http_replicas_stream_end(s, NGX_OK);
        return;

    default:
        /* rate-limited, or the store failed: a snapshot later */
        s->resync = 1;
        return;
    }

    if (s->events >= NGX_HTTP_REPLICAS_STREAM_EVENTS
        || ngx_time() - s->started >= NGX_HTTP_REPLICAS_STREAM_LIFETIME)
    {
        ngx_http_replicas_stream_end(s, NGX_OK);
        return;
    }

    ngx_http_replicas_stream_next(s);
}


/* the next question, if any and none is in flight */

static void
ngx_http_replicas_stream_next(ngx_http_replicas_stream_t *s)
{
    ngx_int_t                     rc;
    ngx_http_request_t           *r = s->request;
    ngx_http_replicas_ctx_t      *rctx;
    ngx_http_replicas_api_ctx_t  *ctx;

    if (s->busy || s->ended) {
        return;
    }

    rctx = ngx_http_get_module_ctx(r, ngx_http_replicas_module);
    ctx = rctx->api;
    ctx->nargs = 0;
    ctx->ws.data = s->asking;
    ctx->ws.len = 0;

    if (s->resync) {
        s->resync = 0;
        s->npending = 0;          /* the snapshot has them all */
        s->check = 0;
        ctx->op = RP_API_ORG_EVENTS;

    } else if (s->npending) {
        s->npending--;
        ctx->ws.len = s->pending_len[0];
        ngx_memcpy(s->asking, s->pending[0], ctx->ws.len);
        ngx_memmove(s->pending[0], s->pending[1],
                    s->npending * sizeof(s->pending[0]));
        ngx_memmove(&s->pending_len[0], &s->pending_len[1],
                    s->npending * sizeof(s->pending_len[0]));
        ctx->op = RP_API_WATCH;

    } else if (s->check) {
        s->check = 0;             /* no workspace: is the caller still in */
        ctx->op = RP_API_WATCH;

    } else {
        return;
    }

    rc = ngx_http_replicas_api_call_op(r, ctx, ngx_http_replicas_stream_reply);

    if (rc == NGX_OK) {
        s->busy = 1;
        return;
    }

    if (rc == NGX_DECLINED) {
        s->resync = 1;            /* no Redis now: after its return */
        return;
    }

    ngx_http_replicas_stream_end(s, NGX_ERROR);
}


static void
ngx_http_replicas_stream_heartbeat(ngx_event_t *ev)
{
    ngx_str_t                    ping;
    ngx_http_replicas_stream_t  *s = ev->data;
    ngx_http_request_t          *r = s->request;

    if (ngx_exiting || ngx_terminate) {
        ngx_http_replicas_stream_end(s, NGX_OK);
        return;
    }

    /* a client that read nothing since the last heartbeats is gone */
    if (r->connection->buffered || r->out) {
        if (++s->stalls >= NGX_HTTP_REPLICAS_STREAM_STALLS) {
            ngx_http_replicas_stream_end(s, NGX_ERROR);
            return;
        }

    } else {
        s->stalls = 0;
    }

    if (ngx_time() - s->started >= NGX_HTTP_REPLICAS_STREAM_LIFETIME) {
        ngx_http_replicas_stream_end(s, NGX_OK);
        return;
    }

    /* a comment keeps proxies and the browser from calling it idle */
    ngx_str_set(&ping, ": ping\n\n");

    if (ngx_http_replicas_stream_write(r, &ping, 1) != NGX_OK) {
        ngx_http_replicas_stream_end(s, NGX_ERROR);
        return;
    }

    /* first: the check may end the stream, which deletes the timer */
    ngx_add_timer(&s->heartbeat, NGX_HTTP_REPLICAS_STREAM_HEARTBEAT);

    s->check = 1;
    ngx_http_replicas_stream_next(s);
}


static void
ngx_http_replicas_stream_writer(ngx_http_request_t *r)
{
    ngx_http_replicas_ctx_t  *rctx;

    if (ngx_http_output_filter(r, NULL) == NGX_ERROR) {
        rctx = ngx_http_get_module_ctx(r, ngx_http_replicas_module);
        ngx_http_replicas_stream_end(rctx->stream, NGX_ERROR);
    }
}


static void
ngx_http_replicas_stream_cleanup(void *data)
{
    ngx_http_replicas_stream_t  *s = data;

    if (!s->ended) {
        s->ended = 1;
        ngx_queue_remove(&s->queue);
    }

    if (s->heartbeat.timer_set) {
        ngx_del_timer(&s->heartbeat);
    }
}


/*
 * The opening call answered (lua/api.lua's org_events: authenticated,
 * rate-limited, the snapshot): the response starts, the stream joins
 * the worker's.  An error is answered as any API call's.
 */

void
ngx_http_replicas_stream_open(ngx_http_request_t *r, void *reply)
{
    ngx_str_t                          retry;
    ngx_int_t                          rc;
    ngx_table_elt_t                   *h;
    ngx_pool_cleanup_t                *cln;
    ngx_http_replicas_ctx_t           *rctx;
    ngx_http_replicas_stream_t        *s;
    ngx_http_core_loc_conf_t          *clcf;
    ngx_http_replicas_script_reply_t   v;

    if (ngx_http_replicas_redis_script_reply(reply, &v) != NGX_OK
        || v.status != NGX_HTTP_OK)
    {
        ngx_http_replicas_api_answer(r, reply);
        return;
    }

    rctx = ngx_http_get_module_ctx(r, ngx_http_replicas_module);
    s = ngx_pcalloc(r->pool, sizeof(ngx_http_replicas_stream_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (s == NULL || cln == NULL) {
        ngx_http_replicas_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    r->headers_out.status = NGX_HTTP_OK;
    ngx_str_set(&r->headers_out.content_type, "text/event-stream");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_length_n = -1;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        ngx_http_replicas_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Cache-Control");
    ngx_str_set(&h->value, "no-store");

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        ngx_http_replicas_finish(r, rc);
        return;
    }

    /* each event is a small write that must go now: not held for the ACK
     * of the one before (nginx sets it for keepalive connections only) */
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (clcf->tcp_nodelay && ngx_tcp_nodelay(r->connection) != NGX_OK) {
        ngx_http_replicas_finish(r, NGX_ERROR);
        return;
    }

    s->request = r;
    s->started = ngx_time();
    rctx->stream = s;

    ngx_queue_insert_tail(ngx_http_replicas_stream_list(), &s->queue);
    cln->handler = ngx_http_replicas_stream_cleanup;
    cln->data = s;

    s->heartbeat.handler = ngx_http_replicas_stream_heartbeat;
    s->heartbeat.data = s;
    s->heartbeat.log = r->connection->log;
    /* an open stream does not keep a gracefully exiting worker alive: the
     * client comes back to a new one */
    s->heartbeat.cancelable = 1;
    ngx_add_timer(&s->heartbeat, NGX_HTTP_REPLICAS_STREAM_HEARTBEAT);

    /* the client's end is noticed; what is written is drained later */
    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_http_replicas_stream_writer;

    retry.data = ngx_pnalloc(r->pool, sizeof("retry: \n\n") + NGX_INT_T_LEN);
    if (retry.data == NULL) {
        ngx_http_replicas_stream_end(s, NGX_ERROR);
        return;
    }

    retry.len = ngx_sprintf(retry.data, "retry: %d\n\n",
                            NGX_HTTP_REPLICAS_STREAM_RETRY) - retry.data;

    if (ngx_http_replicas_stream_write(r, &retry, 1) != NGX_OK
        || ngx_http_replicas_stream_event(s, &v.body) != NGX_OK)
    {
        ngx_http_replicas_stream_end(s, NGX_ERROR);
        return;
    }

    /* changes published while the snapshot was read are asked about
     * (s->pending, from ngx_http_replicas_stream_notify) */
    ngx_http_replicas_stream_next(s);
}


/*
 * A change was published (the subscriber's message): every stream of the
 * worker asks about it.  id NULL: the subscription was lost a while, so
 * what changed is unknown: a snapshot for each.
 */

void
ngx_http_replicas_stream_notify(const char *id, size_t len)
{
    ngx_uint_t                   i;
    ngx_queue_t                 *q, *next, *list;
    ngx_http_replicas_stream_t  *s;

    if (!ngx_http_replicas_streams_init) {
        return;
    }

    /* keys' and sessions' revocations ("h:", "s:") are not workspaces */
    if (id != NULL && !rp_ws_id_valid(id, len)) {
        return;
    }

    list = ngx_http_replicas_stream_list();

    for (q = ngx_queue_head(list); q != ngx_queue_sentinel(list); q = next) {
        next = ngx_queue_next(q);
        s = ngx_queue_data(q, ngx_http_replicas_stream_t, queue);

        if (id == NULL || s->npending == NGX_HTTP_REPLICAS_STREAM_PENDING) {
            s->resync = 1;

        } else if (!s->resync) {
            for (i = 0; i < s->npending; i++) {
                if (s->pending_len[i] == len
                    && ngx_strncmp(s->pending[i], id, len) == 0)
                {
                    break;
                }
            }

            if (i == s->npending) {
                ngx_memcpy(s->pending[i], id, len);
                s->pending_len[i] = len;
                s->npending++;
            }
        }

        /* may end the stream (and take it off the list): "next" is kept */
        ngx_http_replicas_stream_next(s);
    }
}
