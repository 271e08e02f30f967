/*
 * Wake-on-request.  A request for a workspace that is not awake:
 *
 *   1. asks Redis, in one script, to wake it: a sleeping workspace (or one
 *      stuck in provisioning for 10 minutes) becomes "provisioning" and
 *      gets one wake job; everyone else finds it provisioning and joins.
 *      The organisation's limit on awake workspaces is checked there too
 *      (429, never someone else's workspace put to sleep);
 *   2. a browser navigation gets a "Waking workspace" page that reloads
 *      itself at the same URL; anything else (API calls, WebSocket
 *      upgrades, fetches) is held, up to replicas_wake_hold;
 *   3. held requests sit in this worker's list until the workspace's
 *      change is published on the channel every worker listens to
 *      (ngx_http_replicas_wake_notify): then each looks its route up again,
 *      past the cache, and is proxied if awake.  No polling.
 */

#include "ngx_http_replicas.h"


#define NGX_HTTP_REPLICAS_WAKE_STALE   600     /* seconds in provisioning */


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


static void
ngx_http_replicas_unhold(ngx_http_replicas_ctx_t *ctx)
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
    ngx_http_replicas_unhold(data);
}


/*
 * Held past replicas_wake_hold: the wake was not released in time (control
 * gone, a start hook whose ports never listen...).  A gateway timeout, not
 * "still waking": the request waited as long as it may.
 */

static void
ngx_http_replicas_held_timeout(ngx_event_t *ev)
{
    ngx_str_t                      msg;
    ngx_http_request_t            *r = ev->data;
    ngx_http_replicas_ctx_t       *ctx;
    ngx_http_replicas_loc_conf_t  *rlcf;
    u_char                         buf[192 + RP_WS_ID_MAX];

    ctx = ngx_http_get_module_ctx(r, ngx_http_replicas_module);
    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_replicas_module);

    ngx_http_replicas_unhold(ctx);
    ctx->pending = 0;

    msg.data = buf;
    msg.len = ngx_sprintf(buf, "Workspace %s is not ready: its wake did not "
                          "finish within %M ms (replicas_wake_hold). Retry "
                          "in a few seconds.", ctx->host.id, rlcf->wake_hold)
              - buf;

    ngx_http_replicas_finish(r,
        ngx_http_replicas_send_error(r, NGX_HTTP_GATEWAY_TIME_OUT,
                                     "wake_timeout", &msg, 5));
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

        if (ctx->waiter || ctx->pending > 1) {
            /* a look-up in flight may have read the state before this
             * change: it looks once more when it lands */
            ctx->renotify = 1;
            continue;
        }

        /* still held (the timer runs on), but asking again */
        ctx->route_known = 0;
        ctx->route_fresh = 1;
        ctx->pending = 0;

        ngx_http_replicas_resume(r);
        /* "next" may have gone meanwhile only if it was this same
         * request's; a request is in the list once */
    }
}


static void
ngx_http_replicas_wake_reply(ngx_http_request_t *r, void *reply)
{
    ngx_http_replicas_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_replicas_module);

    ctx->pending = 0;
    ctx->wake = NGX_HTTP_REPLICAS_WAKE_ASKED;
    ngx_str_null(&ctx->wake_status);

    if (reply != NULL) {
        (void) ngx_http_replicas_redis_copy_pair(reply, r->pool,
                                                 &ctx->wake_status,
                                                 &ctx->wake_arg);
    }

    ngx_http_replicas_resume(r);
}


/*
 * lua/wake.lua, its key names built here from common/rp_keys.h: the
 * organisation's come from the route (a workspace never changes
 * organisation).
 */

ngx_int_t
ngx_http_replicas_wake_script(ngx_http_request_t *r,
    ngx_http_replicas_ctx_t *ctx, ngx_http_replicas_eval_pt handler)
{
    u_char                         *p;
    ngx_str_t                       a[11];
    ngx_uint_t                      i;
    ngx_http_replicas_main_conf_t  *rmcf;

    rmcf = ngx_http_get_module_main_conf(r, ngx_http_replicas_module);

    p = ngx_pnalloc(r->pool, 3 * (sizeof(RP_KEY_ORG_AWAKE_PREFIX) - 1)
                             + ctx->host.id_len + 2 * ctx->route.org_len
                             + 2 * NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    i = 0;

    a[i].data = p;
    p = ngx_sprintf(p, RP_KEY_WORKSPACE_PREFIX "%s", ctx->host.id);
    a[i].len = p - a[i].data;
    i++;

    a[i].data = p;
    p = ngx_sprintf(p, RP_KEY_ORG_AWAKE_PREFIX "%*s", ctx->route.org_len,
                    ctx->route.org);
    a[i].len = p - a[i].data;
    i++;

    a[i].data = p;
    p = ngx_sprintf(p, RP_KEY_ORG_PREFIX "%*s", ctx->route.org_len,
                    ctx->route.org);
    a[i].len = p - a[i].data;
    i++;

    ngx_str_set(&a[i], RP_KEY_SETTINGS); i++;
    ngx_str_set(&a[i], RP_KEY_ACTIVITY); i++;
    ngx_str_set(&a[i], RP_KEY_JOBS); i++;

    /* ARGV */
    a[i].data = (u_char *) ctx->host.id;
    a[i].len = ctx->host.id_len;
    i++;

    a[i].data = p;
    p = ngx_sprintf(p, "%T", ngx_time());
    a[i].len = p - a[i].data;
    i++;

    a[i].data = p;
    p = ngx_sprintf(p, "%d", NGX_HTTP_REPLICAS_WAKE_STALE);
    a[i].len = p - a[i].data;
    i++;

    ngx_str_set(&a[i], RP_KEY_WORKSPACE_PREFIX); i++;
    ngx_str_set(&a[i], RP_CHANNEL_WS_CHANGED); i++;

    return ngx_http_replicas_eval_keys(r, &rmcf->wake_script, 6, i, a,
                                       handler);
}


static ngx_int_t
ngx_http_replicas_wake_ask(ngx_http_request_t *r, ngx_http_replicas_ctx_t *ctx)
{
    ngx_int_t  rc;

    rc = ngx_http_replicas_wake_script(r, ctx, ngx_http_replicas_wake_reply);
    if (rc != NGX_OK) {
        return rc;
    }

    ctx->pending = 2;
    ctx->wake = NGX_HTTP_REPLICAS_WAKE_ASKING;

    return NGX_AGAIN;
}


ngx_int_t
ngx_http_replicas_wake_hold(ngx_http_request_t *r,
    ngx_http_replicas_ctx_t *ctx)
{
    ngx_pool_cleanup_t            *cln;
    ngx_http_replicas_held_t      *h;
    ngx_http_replicas_loc_conf_t  *rlcf;

    if (ctx->held) {
        if (ctx->renotify) {
            ctx->renotify = 0;
            ctx->route_known = 0;
            ctx->route_fresh = 1;
            return NGX_DECLINED;
        }

        ctx->pending = 1;
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
    ctx->route_known = 0;
    ctx->route_fresh = 1;

    return NGX_DECLINED;
}


/*
 * From the state machine when the workspace is booting, provisioning or
 * sleeping.  NGX_AGAIN: waiting (a script call, or held); NGX_DONE:
 * answered; NGX_DECLINED: look the route up again (fresh) and decide
 * anew; NGX_ERROR.
 */

ngx_int_t
ngx_http_replicas_wake(ngx_http_request_t *r, ngx_http_replicas_ctx_t *ctx)
{
    ngx_int_t  rc;
    ngx_str_t  msg;
    u_char     buf[256 + RP_WS_ID_MAX];

    if (ctx->route.state == RP_STATE_SLEEPING
        && ctx->wake == NGX_HTTP_REPLICAS_WAKE_NONE)
    {
        rc = ngx_http_replicas_wake_ask(r, ctx);

        if (rc == NGX_DECLINED) {
            ngx_str_set(&msg, "The gateway cannot reach workspace state to "
                        "wake it. Retry in a moment.");
            ngx_http_replicas_finish(r,
                ngx_http_replicas_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                             "state_unavailable", &msg, 2));
            return NGX_DONE;
        }

        return rc;
    }

    if (ctx->wake == NGX_HTTP_REPLICAS_WAKE_ASKED) {
        ctx->wake = NGX_HTTP_REPLICAS_WAKE_TRIGGERED;

        if (ctx->wake_status.len == 0) {
            ngx_str_set(&msg, "The gateway cannot reach workspace state to "
                        "wake it. Retry in a moment.");
            ngx_http_replicas_finish(r,
                ngx_http_replicas_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                             "state_unavailable", &msg, 2));
            return NGX_DONE;
        }

        if (ctx->wake_status.len == 5
            && ngx_strncmp(ctx->wake_status.data, "limit", 5) == 0)
        {
            msg.data = buf;
            msg.len = ngx_sprintf(buf, "Workspace %s cannot wake: its "
                                  "organisation already has %V workspaces "
                                  "awake, its limit. Put one to sleep and "
                                  "retry.", ctx->host.id, &ctx->wake_arg)
                      - buf;
            ngx_http_replicas_finish(r,
                ngx_http_replicas_send_error(r, NGX_HTTP_TOO_MANY_REQUESTS,
                                             "awake_limit", &msg, 30));
            return NGX_DONE;
        }

        if (ctx->wake_status.len == 10
            && ngx_strncmp(ctx->wake_status.data, "user_limit", 10) == 0)
        {
            msg.data = buf;
            msg.len = ngx_sprintf(buf, "Workspace %s cannot wake: its owner "
                                  "already has %V workspaces awake, the "
                                  "limit per user. Put one to sleep and "
                                  "retry.", ctx->host.id, &ctx->wake_arg)
                      - buf;
            ngx_http_replicas_finish(r,
                ngx_http_replicas_send_error(r, NGX_HTTP_TOO_MANY_REQUESTS,
                                             "user_awake_limit", &msg, 30));
            return NGX_DONE;
        }

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "replicas: wake of workspace \"%s\": %V", ctx->host.id,
                      &ctx->wake_status);
    }

    /* a page that reloads itself for people; a held request for programs */
    if (ngx_http_replicas_wants_html(r)
        && r->headers_in.upgrade == NULL)
    {
        msg.data = buf;
        msg.len = ngx_sprintf(buf, "Waking workspace %s\xe2\x80\xa6 This page "
                              "reloads by itself when it is ready.",
                              ctx->host.id) - buf;
        ngx_http_replicas_finish(r,
            ngx_http_replicas_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                         "workspace_waking", &msg, 2));
        return NGX_DONE;
    }

    rc = ngx_http_replicas_wake_hold(r, ctx);

    return rc;
}


/* the request is going on (awake, failed, gone): out of the list */

void
ngx_http_replicas_wake_done(ngx_http_replicas_ctx_t *ctx)
{
    ngx_http_replicas_unhold(ctx);
}
