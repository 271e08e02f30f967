/*
 * Held requests: a program's request (an API call, a WebSocket upgrade,
 * a fetch) for a workspace that is waking waits here rather than being
 * told to come back.  This file only holds, releases and notifies; the
 * request path (ngx_http_replicas_route.c) asks for the wake and decides.
 *
 *   hold     the request joins this worker's list, with a timer of
 *            replicas_wake_hold (then 504 wake_timeout);
 *   notify   every message on the change channel (the wake script and
 *            control publish each change of a workspace) releases the held
 *            requests of that workspace: each looks its route up again,
 *            past the cache, and is proxied once awake.  No polling;
 *   release  a request that goes on (proxied, refused, gone) leaves the
 *            list.
 */

#include "ngx_http_replicas.h"


/* a held request, in this worker's list */
typedef struct {
    ngx_queue_t                 queue;
    ngx_http_request_t         *request;
    ngx_event_t                 timer;
} ngx_http_replicas_held_t;


static ngx_queue_t  ngx_http_replicas_held_list;
static ngx_uint_t   ngx_http_replicas_held_init;


static ngx_queue_t *
ngx_http_replicas_held_queue(void)
{
    if (!ngx_http_replicas_held_init) {
        ngx_queue_init(&ngx_http_replicas_held_list);
        ngx_http_replicas_held_init = 1;
    }

    return &ngx_http_replicas_held_list;
}


void
ngx_http_replicas_release(ngx_http_replicas_ctx_t *ctx)
{
    ngx_http_replicas_held_t  *h = ctx->held;

    if (h == NULL) {
        return;
    }

    ngx_queue_remove(&h->queue);

    if (h->timer.timer_set) {
        ngx_del_timer(&h->timer);
    }

    ctx->held = NULL;
}


static void
ngx_http_replicas_held_cleanup(void *data)
{
    ngx_http_replicas_release(data);
}


/*
 * Held past replicas_wake_hold: the wake was not released in time (control
 * gone, a start hook whose ports never listen...).  A gateway timeout, not
 * "still waking": the request waited as long as it may.
 */

static void
ngx_http_replicas_held_timeout(ngx_event_t *ev)
{
    ngx_http_request_t            *r = ev->data;
    ngx_http_replicas_ctx_t       *ctx;
    ngx_http_replicas_loc_conf_t  *rlcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_replicas_module);
    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_replicas_module);

    ngx_http_replicas_release(ctx);
    ctx->wait = NGX_HTTP_REPLICAS_WAIT_NONE;

    ngx_http_replicas_finish(r,
        ngx_http_replicas_error(r, NGX_HTTP_REPLICAS_ERR_WAKE_TIMEOUT,
                                ctx->host.id, rlcf->wake_hold));
}


ngx_int_t
ngx_http_replicas_held(ngx_http_request_t *r, ngx_http_replicas_ctx_t *ctx)
{
    ngx_pool_cleanup_t            *cln;
    ngx_http_replicas_held_t      *h;
    ngx_http_replicas_loc_conf_t  *rlcf;

    if (ctx->held) {
        if (ctx->wait == NGX_HTTP_REPLICAS_WAIT_CHANGED) {
            ctx->wait = NGX_HTTP_REPLICAS_WAIT_NONE;
            return NGX_DECLINED;
        }

        ctx->wait = NGX_HTTP_REPLICAS_WAIT_HELD;
        return NGX_AGAIN;           /* released, still not awake: wait on */
    }

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_replicas_module);

    h = ngx_pcalloc(r->pool, sizeof(ngx_http_replicas_held_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (h == NULL || cln == NULL) {
        return NGX_ERROR;
    }

    h->request = r;
    h->timer.handler = ngx_http_replicas_held_timeout;
    h->timer.data = r;
    h->timer.log = r->connection->log;

    ngx_queue_insert_tail(ngx_http_replicas_held_queue(), &h->queue);
    ngx_add_timer(&h->timer, rlcf->wake_hold);

    ctx->held = h;
    cln->handler = ngx_http_replicas_held_cleanup;
    cln->data = ctx;

    /*
     * The change may have been published between our look-up and now (it
     * comes on another connection): look once more, past the cache.
     */
    ctx->wait = NGX_HTTP_REPLICAS_WAIT_NONE;

    return NGX_DECLINED;
}


/* Called for every message on the change channel: releases the held
 * requests of that workspace, each to look its route up again. */

void
ngx_http_replicas_wake_notify(const char *id, size_t len)
{
    ngx_queue_t               *q, *next, *list;
    ngx_http_request_t        *r;
    ngx_http_replicas_ctx_t   *ctx;
    ngx_http_replicas_held_t  *h;

    list = ngx_http_replicas_held_queue();

    for (q = ngx_queue_head(list); q != ngx_queue_sentinel(list); q = next) {
        next = ngx_queue_next(q);
        h = ngx_queue_data(q, ngx_http_replicas_held_t, queue);
        r = h->request;
        ctx = ngx_http_get_module_ctx(r, ngx_http_replicas_module);

        /* id NULL: every one (the subscription was lost a while) */
        if (id != NULL
            && (ctx->host.id_len != len
                || ngx_strncmp(ctx->host.id, id, len) != 0))
        {
            continue;
        }

        switch (ctx->wait) {

        case NGX_HTTP_REPLICAS_WAIT_REDIS:
            /* a look-up in flight may have read the state before this
             * change: it looks once more when it lands */
            ctx->wait = NGX_HTTP_REPLICAS_WAIT_STALE;
            break;

        case NGX_HTTP_REPLICAS_WAIT_HELD:
            /* still held (the timer runs on), but asking again */
            ctx->wait = NGX_HTTP_REPLICAS_WAIT_CHANGED;
            ngx_http_replicas_resume(r);
            /* "next" may have gone meanwhile only if it was this same
             * request's; a request is in the list once */
            break;

        default:
            break;
        }
    }
}


void
ngx_http_replicas_wait_over(ngx_http_replicas_ctx_t *ctx)
{
    ctx->wait = (ctx->wait == NGX_HTTP_REPLICAS_WAIT_STALE)
                ? NGX_HTTP_REPLICAS_WAIT_CHANGED : NGX_HTTP_REPLICAS_WAIT_NONE;
}


ngx_uint_t
ngx_http_replicas_waiting(ngx_http_replicas_ctx_t *ctx)
{
    return ctx->wait == NGX_HTTP_REPLICAS_WAIT_REDIS
           || ctx->wait == NGX_HTTP_REPLICAS_WAIT_STALE
           || ctx->wait == NGX_HTTP_REPLICAS_WAIT_HELD;
}
