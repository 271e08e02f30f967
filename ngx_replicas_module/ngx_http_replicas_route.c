/*
 * The request path of preview hosts: one state machine in the access
 * phase, driven by ngx_http_replicas_run's switch, one step at a time
 * (ctx->step; the diagram is in ngx_http_replicas.h and the README):
 *
 *   HOST         parse "<port>-<workspace>.<domain>"          -> ROUTE
 *   API          an events stream (replicas_api_events): the API's script
 *                authenticates, finds the engine and wakes    -> PROXY, HELD
 *   ROUTE        the workspace's record (cache, else Redis)   -> CREDENTIALS
 *   CREDENTIALS  who may open it (ngx_http_replicas_auth.c, a decision
 *                without I/O): allow, look a credential up and decide
 *                again, a ticket (-> TICKET), or deny        -> DECIDE
 *   TICKET       a one-time sign-in ticket, GETDEL            -> CREDENTIALS
 *   DECIDE       on the workspace's state: awake -> PROXY; asleep or on
 *                its way -> WAKE; failed or invalid: an error
 *   WAKE         lua/wake.lua, once; a page that reloads for browsers,
 *                programs                                      -> HELD
 *   HELD         wait for the workspace's change (ngx_http_replicas_wake.c),
 *                then                                          -> ROUTE (API)
 *   PROXY        $replicas_upstream set: the phases go on to proxy_pass
 *
 * A step that waits for Redis returns NGX_AGAIN with ctx->wait set; the
 * reply (or its deadline) re-runs the phases, and this handler goes on at
 * the same step.  Every error is a row of one table
 * (ngx_http_replicas_fail, ngx_http_replicas_response.c).
 */

#include "ngx_http_replicas.h"


static ngx_int_t ngx_http_replicas_run(ngx_http_request_t *r,
    ngx_http_replicas_ctx_t *ctx);


ngx_int_t
ngx_http_replicas_access_handler(ngx_http_request_t *r)
{
    ngx_int_t                      rc;
    ngx_http_replicas_ctx_t       *ctx;
    ngx_http_replicas_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_replicas_module);

    if (!rlcf->route && !rlcf->api_events) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_replicas_module);

    if (ctx == NULL) {
        ctx = ngx_http_replicas_get_ctx(r);
        if (ctx == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        /* the API's events streams enter at the API step */
        ctx->step = rlcf->api_events ? NGX_HTTP_REPLICAS_STEP_API
                                     : NGX_HTTP_REPLICAS_STEP_HOST;

    } else if (ngx_http_replicas_waiting(ctx)) {
        return NGX_AGAIN;           /* a spurious wake-up while waiting */
    }

    /*
     * A step that answers the request finalizes it, and a finalized
     * request may be freed at once (keepalive, close) with its ctx: hold
     * a reference for the run, so the release below still finds the ctx,
     * and let it go as nginx's body reading does (NGX_DONE).
     */
    r->main->count++;

    rc = ngx_http_replicas_run(r, ctx);

    if (rc != NGX_AGAIN) {
        /* proxied, answered or failed: out of the held list, so no
         * published change re-runs it */
        ngx_http_replicas_release(ctx);
    }

    ngx_http_finalize_request(r, NGX_DONE);

    return rc;
}


static void
ngx_http_replicas_wait(ngx_http_request_t *r, ngx_http_replicas_ctx_t *ctx)
{
    ctx->wait = NGX_HTTP_REPLICAS_WAIT_REDIS;

    /* notice a client that gives up while we wait */
    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_http_request_empty_handler;
}


/*
 * A preview's wake (lua/wake.lua's replicas_wake_request), its key names
 * built here from common/rp_keys.h: the organisation's come from the
 * route (a workspace never changes organisation).
 */

static ngx_int_t
ngx_http_replicas_wake_script(ngx_http_request_t *r,
    ngx_http_replicas_ctx_t *ctx, ngx_http_replicas_eval_pt handler)
{
    u_char                         *p;
    ngx_str_t                       a[10];
    ngx_uint_t                      i;
    ngx_http_replicas_main_conf_t  *rmcf;

    rmcf = ngx_http_get_module_main_conf(r, ngx_http_replicas_module);

    p = ngx_pnalloc(r->pool, 3 * (sizeof(RP_KEY_ORG_AWAKE_PREFIX) - 1)
                             + ctx->host.id_len + 2 * ctx->route.org_len
                             + NGX_TIME_T_LEN);
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

    ngx_str_set(&a[i], RP_KEY_SETTINGS);
    i++;
    ngx_str_set(&a[i], RP_KEY_ACTIVITY);
    i++;
    ngx_str_set(&a[i], RP_KEY_JOBS);
    i++;

    /* ARGV */
    a[i].data = (u_char *) ctx->host.id;
    a[i].len = ctx->host.id_len;
    i++;

    a[i].data = p;
    p = ngx_sprintf(p, "%T", ngx_time());
    a[i].len = p - a[i].data;
    i++;

    ngx_str_set(&a[i], RP_KEY_WORKSPACE_PREFIX);
    i++;
    ngx_str_set(&a[i], RP_CHANNEL_WS_CHANGED);
    i++;

    return ngx_http_replicas_eval_keys(r, &rmcf->wake_script, 6, i, a,
                                       handler);
}


static void
ngx_http_replicas_wake_reply(ngx_http_request_t *r, void *reply)
{
    ngx_http_replicas_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_replicas_module);

    ngx_http_replicas_wait_over(ctx);
    ngx_str_null(&ctx->wake_status);

    if (reply != NULL) {
        (void) ngx_http_replicas_redis_copy_pair(reply, r->pool,
                                                 &ctx->wake_status,
                                                 &ctx->wake_arg);
    }

    ngx_http_replicas_resume(r);
}


/* The wake script's answer: NGX_OK to go on (wait for the wake), or an
 * error of the table. */

static ngx_uint_t
ngx_http_replicas_woken(ngx_http_request_t *r, ngx_http_replicas_ctx_t *ctx)
{
    ngx_str_t  *s = &ctx->wake_status;

    if (s->len == 0) {
        return NGX_HTTP_REPLICAS_ERR_WAKE_UNAVAILABLE;
    }

    if (s->len == 5 && ngx_strncmp(s->data, "limit", 5) == 0) {
        return NGX_HTTP_REPLICAS_ERR_AWAKE_LIMIT;
    }

    if (s->len == 10 && ngx_strncmp(s->data, "user_limit", 10) == 0) {
        return NGX_HTTP_REPLICAS_ERR_USER_AWAKE_LIMIT;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "replicas: wake of workspace \"%s\": %V", ctx->host.id, s);

    return NGX_HTTP_REPLICAS_ERR_NONE;
}


/* An authentication verdict that ends the request: an error, or a 302. */

static ngx_int_t
ngx_http_replicas_deny(ngx_http_request_t *r, ngx_http_replicas_verdict_t *v)
{
    if (v->error == NGX_HTTP_REPLICAS_ERR_RATE_LIMITED) {
        return ngx_http_replicas_fail(r, v->error, v->retry_after);
    }

    if (v->error != NGX_HTTP_REPLICAS_ERR_NONE) {
        return ngx_http_replicas_fail(r, v->error);
    }

    ngx_http_finalize_request(r,
        ngx_http_replicas_redirect(r, NGX_HTTP_MOVED_TEMPORARILY,
                                   &v->location,
                                   v->cookie.len ? &v->cookie : NULL));
    return NGX_DONE;
}


static ngx_int_t
ngx_http_replicas_proxy(ngx_http_request_t *r, ngx_http_replicas_ctx_t *ctx)
{
    ctx->upstream.data = ngx_pnalloc(r->pool, ctx->route.addr_len
                                              + sizeof(":65535") - 1);
    if (ctx->upstream.data == NULL) {
        return NGX_ERROR;
    }

    ctx->upstream.len = ngx_sprintf(ctx->upstream.data, "%*s:%ui",
                                    ctx->route.addr_len, ctx->route.addr,
                                    (ngx_uint_t) ctx->host.port)
                        - ctx->upstream.data;

    ngx_http_replicas_activity_touch(ctx->host.id, ctx->host.id_len);

    return NGX_OK;
}


/*
 * One step after another until the request waits (NGX_AGAIN), is answered
 * (NGX_DONE, or a status for nginx to answer) or goes on to the proxy
 * (NGX_DECLINED).
 */

static ngx_int_t
ngx_http_replicas_run(ngx_http_request_t *r, ngx_http_replicas_ctx_t *ctx)
{
    ngx_int_t                      rc;
    ngx_uint_t                     err;
    rp_host_kind_e                 kind;
    ngx_http_replicas_verdict_t    v;
    ngx_http_replicas_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_replicas_module);

    ngx_memzero(&v, sizeof(ngx_http_replicas_verdict_t));

    for ( ;; ) {

        switch (ctx->step) {

        case NGX_HTTP_REPLICAS_STEP_HOST:
            /* headers_in.server is nginx's validated, lowercased Host
             * sans port */
            kind = rp_host_parse((char *) r->headers_in.server.data,
                                 r->headers_in.server.len,
                                 (char *) rlcf->domain.data, rlcf->domain.len,
                                 &ctx->host);

            if (kind == RP_HOST_NOT_PREVIEW) {
                ctx->host.id_len = 0;
                return NGX_DECLINED;        /* not ours to route */
            }

            if (kind == RP_HOST_MALFORMED) {
                ctx->host.id_len = 0;
                return ngx_http_replicas_fail(r,
                                              NGX_HTTP_REPLICAS_ERR_BAD_HOST);
            }

            ctx->step = NGX_HTTP_REPLICAS_STEP_ROUTE;
            break;

        case NGX_HTTP_REPLICAS_STEP_API:
            rc = ngx_http_replicas_api_events(r, ctx);

            if (rc == NGX_BUSY) {
                ctx->step = NGX_HTTP_REPLICAS_STEP_HELD;
                break;
            }

            if (rc != NGX_OK) {
                return rc;
            }

            ctx->step = NGX_HTTP_REPLICAS_STEP_PROXY;
            break;

        case NGX_HTTP_REPLICAS_STEP_ROUTE:
            if (!ctx->route_known) {
                rc = ngx_http_replicas_lookup(r, ctx,
                                              NGX_HTTP_REPLICAS_LOOKUP_ROUTE,
                                              ctx->host.id, ctx->host.id_len);
                if (rc != NGX_OK) {
                    return rc == NGX_AGAIN ? NGX_AGAIN
                                           : NGX_HTTP_INTERNAL_SERVER_ERROR;
                }
            }

            if (ctx->route_rc != NGX_OK) {
                return ngx_http_replicas_fail(r,
                           NGX_HTTP_REPLICAS_ERR_STATE_UNAVAILABLE);
            }

            if (ctx->route.state == RP_STATE_NONE
                || ctx->route.state == RP_STATE_DELETED)
            {
                return ngx_http_replicas_fail(r,
                           NGX_HTTP_REPLICAS_ERR_WORKSPACE_NOT_FOUND,
                           ctx->host.id);
            }

            /* a held request was let in before it was held */
            ctx->step = ctx->held ? NGX_HTTP_REPLICAS_STEP_DECIDE
                                  : NGX_HTTP_REPLICAS_STEP_CREDENTIALS;
            break;

        case NGX_HTTP_REPLICAS_STEP_CREDENTIALS:
            switch (ngx_http_replicas_auth(r, ctx, &v)) {

            case NGX_HTTP_REPLICAS_AUTH_ALLOW:
                if (v.meter) {
                    /* counted against the key's (and its user's) API rate
                     * limit */
                    ngx_http_replicas_meter_key(r, v.meter);
                }

                ctx->step = NGX_HTTP_REPLICAS_STEP_DECIDE;
                break;

            case NGX_HTTP_REPLICAS_AUTH_NEED_KEY:
                rc = ngx_http_replicas_lookup(r, ctx, v.lookup,
                                              (char *) v.cache_key.data,
                                              v.cache_key.len);
                if (rc != NGX_OK) {
                    return rc == NGX_AGAIN ? NGX_AGAIN
                                           : NGX_HTTP_INTERNAL_SERVER_ERROR;
                }

                break;                      /* known: decide again */

            case NGX_HTTP_REPLICAS_AUTH_NEED_TICKET:
                ctx->step = NGX_HTTP_REPLICAS_STEP_TICKET;
                break;

            case NGX_HTTP_REPLICAS_AUTH_DENY:
                return ngx_http_replicas_deny(r, &v);

            default:
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            break;

        case NGX_HTTP_REPLICAS_STEP_TICKET:
            /* entered from CREDENTIALS, whose verdict named the ticket */
            if (!ctx->ticket_known) {
                rc = ngx_http_replicas_lookup(r, ctx,
                                              NGX_HTTP_REPLICAS_LOOKUP_TICKET,
                                              (char *) v.cache_key.data,
                                              v.cache_key.len);
                if (rc != NGX_OK) {
                    return rc == NGX_AGAIN ? NGX_AGAIN
                                           : NGX_HTTP_INTERNAL_SERVER_ERROR;
                }
            }

            ctx->step = NGX_HTTP_REPLICAS_STEP_CREDENTIALS;
            break;

        case NGX_HTTP_REPLICAS_STEP_DECIDE:
            switch (ctx->route.state) {

            case RP_STATE_AWAKE:
                ctx->step = NGX_HTTP_REPLICAS_STEP_PROXY;
                break;

            case RP_STATE_BOOTING:
            case RP_STATE_PROVISIONING:
            case RP_STATE_SLEEPING:
                ctx->step = NGX_HTTP_REPLICAS_STEP_WAKE;
                break;

            case RP_STATE_FAILED:
                return ngx_http_replicas_fail(r,
                           NGX_HTTP_REPLICAS_ERR_WORKSPACE_FAILED,
                           ctx->host.id);

            default:
                ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                              "replicas: workspace \"%s\" has an invalid "
                              "state or address in redis", ctx->host.id);
                return ngx_http_replicas_fail(r,
                           NGX_HTTP_REPLICAS_ERR_WORKSPACE_INVALID,
                           ctx->host.id);
            }

            break;

        case NGX_HTTP_REPLICAS_STEP_WAKE:
            if (ctx->route.state == RP_STATE_SLEEPING
                && ctx->wake == NGX_HTTP_REPLICAS_WAKE_NONE)
            {
                rc = ngx_http_replicas_wake_script(r, ctx,
                         ngx_http_replicas_wake_reply);
                if (rc == NGX_DECLINED) {
                    return ngx_http_replicas_fail(r,
                               NGX_HTTP_REPLICAS_ERR_WAKE_UNAVAILABLE);
                }

                if (rc != NGX_OK) {
                    return NGX_HTTP_INTERNAL_SERVER_ERROR;
                }

                ctx->wake = NGX_HTTP_REPLICAS_WAKE_ASKED;
                ngx_http_replicas_wait(r, ctx);
                return NGX_AGAIN;
            }

            if (ctx->wake == NGX_HTTP_REPLICAS_WAKE_ASKED) {
                ctx->wake = NGX_HTTP_REPLICAS_WAKE_DONE;
                err = ngx_http_replicas_woken(r, ctx);

                if (err != NGX_HTTP_REPLICAS_ERR_NONE) {
                    return ngx_http_replicas_fail(r, err, ctx->host.id,
                                                  &ctx->wake_arg);
                }
            }

            /* a page that reloads itself for people; held for programs */
            if (ngx_http_replicas_wants_html(r)
                && r->headers_in.upgrade == NULL)
            {
                return ngx_http_replicas_fail(r,
                           NGX_HTTP_REPLICAS_ERR_WORKSPACE_WAKING,
                           ctx->host.id);
            }

            ctx->step = NGX_HTTP_REPLICAS_STEP_HELD;
            break;

        case NGX_HTTP_REPLICAS_STEP_HELD:
            rc = ngx_http_replicas_held(r, ctx);

            if (rc == NGX_AGAIN) {
                return NGX_AGAIN;
            }

            if (rc != NGX_DECLINED) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            /* look again, past the cache (an events stream: ask the
             * API's script again) */
            ctx->route_known = 0;
            ctx->step = rlcf->api_events ? NGX_HTTP_REPLICAS_STEP_API
                                         : NGX_HTTP_REPLICAS_STEP_ROUTE;
            break;

        default: /* NGX_HTTP_REPLICAS_STEP_PROXY */
            if (ctx->upstream.len == 0
                && ngx_http_replicas_proxy(r, ctx) != NGX_OK)
            {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            return NGX_DECLINED;
        }
    }
}
