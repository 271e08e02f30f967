/*
 * The access-phase state machine that routes a preview host:
 *
 *   parse Host -> shared cache -> (miss) async Redis lookup -> decide
 *
 * While Redis answers, the handler returns NGX_AGAIN and the request
 * waits; the reply or the deadline timer, whichever comes first, records
 * the outcome in the request's ctx and re-runs the phases, which calls
 * this handler again to decide.  The lookup is held by a heap "waiter"
 * that outlives the request if the client leaves: it points at the ctx
 * only while the request is there (the pool cleanup and the deadline
 * clear that pointer).
 */

#include "ngx_http_replicas.h"


typedef struct ngx_http_replicas_waiter_s  ngx_http_replicas_waiter_t;

typedef struct {
    ngx_uint_t                   done;        /* the outcome is known */
    ngx_int_t                    lookup_rc;   /* NGX_OK or NGX_ERROR */
    ngx_event_t                  deadline;
    ngx_http_replicas_waiter_t  *waiter;
    rp_preview_host_t            host;
    ngx_http_replicas_route_t    route;
    ngx_str_t                    upstream;    /* "addr:port" */
} ngx_http_replicas_ctx_t;


struct ngx_http_replicas_waiter_s {
    ngx_http_request_t          *request;     /* NULL once it left */
    ngx_uint_t                   epoch;
    size_t                       id_len;
    char                         id[RP_WS_ID_MAX + 1];
};


static ngx_int_t ngx_http_replicas_decide(ngx_http_request_t *r,
    ngx_http_replicas_ctx_t *ctx);


static ngx_int_t
ngx_http_replicas_fail(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, ngx_str_t *msg, time_t retry_after)
{
    ngx_http_finalize_request(r,
        ngx_http_replicas_send_error(r, status, code, msg, retry_after));

    return NGX_DONE;
}


static void
ngx_http_replicas_resume(ngx_http_request_t *r)
{
    ngx_connection_t  *c = r->connection;

    r->read_event_handler = ngx_http_block_reading;
    r->write_event_handler = ngx_http_core_run_phases;

    ngx_http_core_run_phases(r);
    ngx_http_run_posted_requests(c);
}


static void
ngx_http_replicas_lookup_done(void *reply, void *data)
{
    ngx_int_t                       rc;
    ngx_http_request_t             *r;
    ngx_http_replicas_ctx_t        *ctx;
    ngx_http_replicas_route_t       route_buf, *route = &route_buf;
    ngx_http_replicas_waiter_t     *w = data;
    ngx_http_replicas_main_conf_t  *rmcf;

    ngx_memzero(&route_buf, sizeof(ngx_http_replicas_route_t));
    rc = ngx_http_replicas_redis_parse_route(reply, route);

    if (rc == NGX_ERROR && reply != NULL) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "replicas: unexpected redis reply to a route lookup");
    }

    rmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_replicas_module);

    if (rc == NGX_DECLINED) {
        route->state = RP_STATE_NONE;       /* cached too: 404s stay cheap */
        rc = NGX_OK;
    }

    if (rc == NGX_OK) {
        /* cached even if the request left: the next one will want it */
        ngx_http_replicas_cache_put(rmcf->cache_zone, w->id, w->id_len,
                                    route, rmcf->cache_ttl, w->epoch);
    }

    r = w->request;
    ngx_free(w);

    if (r == NULL) {
        return;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_replicas_module);

    ctx->waiter = NULL;
    ctx->done = 1;
    ctx->lookup_rc = rc;

    if (rc == NGX_OK) {
        ctx->route = *route;
    }

    if (ctx->deadline.timer_set) {
        ngx_del_timer(&ctx->deadline);
    }

    ngx_http_replicas_resume(r);
}


static void
ngx_http_replicas_deadline_handler(ngx_event_t *ev)
{
    ngx_http_request_t       *r = ev->data;
    ngx_http_replicas_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_replicas_module);

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "replicas: redis lookup for workspace \"%s\" timed out",
                  ctx->host.id);

    if (ctx->waiter) {
        ctx->waiter->request = NULL;
        ctx->waiter = NULL;
    }

    ctx->done = 1;
    ctx->lookup_rc = NGX_ERROR;

    ngx_http_replicas_redis_lookup_timed_out();

    ngx_http_replicas_resume(r);
}


static void
ngx_http_replicas_cleanup(void *data)
{
    ngx_http_replicas_ctx_t  *ctx = data;

    if (ctx->waiter) {
        ctx->waiter->request = NULL;
        ctx->waiter = NULL;
    }

    if (ctx->deadline.timer_set) {
        ngx_del_timer(&ctx->deadline);
    }
}


static ngx_int_t
ngx_http_replicas_start_lookup(ngx_http_request_t *r,
    ngx_http_replicas_ctx_t *ctx, ngx_http_replicas_main_conf_t *rmcf)
{
    u_char                       key[sizeof(RP_KEY_WORKSPACE_PREFIX)
                                     + RP_WS_ID_MAX];
    size_t                       argvlen[4];
    const char                  *argv[4];
    ngx_pool_cleanup_t          *cln;
    ngx_http_replicas_waiter_t  *w;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    w = ngx_alloc(sizeof(ngx_http_replicas_waiter_t), r->connection->log);
    if (w == NULL) {
        return NGX_ERROR;
    }

    w->request = r;
    w->epoch = ngx_http_replicas_cache_epoch(rmcf->cache_zone);
    w->id_len = ctx->host.id_len;
    ngx_memcpy(w->id, ctx->host.id, ctx->host.id_len + 1);

    argv[0] = "HMGET";
    argvlen[0] = 5;
    argv[1] = (char *) key;
    argvlen[1] = ngx_sprintf(key, RP_KEY_WORKSPACE_PREFIX "%s", w->id) - key;
    argv[2] = RP_FIELD_STATE;
    argvlen[2] = sizeof(RP_FIELD_STATE) - 1;
    argv[3] = RP_FIELD_ADDR;
    argvlen[3] = sizeof(RP_FIELD_ADDR) - 1;

    if (ngx_http_replicas_redis_command(4, argv, argvlen,
                                        ngx_http_replicas_lookup_done, w)
        != NGX_OK)
    {
        ngx_free(w);
        return NGX_DECLINED;
    }

    ctx->waiter = w;

    cln->handler = ngx_http_replicas_cleanup;
    cln->data = ctx;

    ctx->deadline.handler = ngx_http_replicas_deadline_handler;
    ctx->deadline.data = r;
    ctx->deadline.log = r->connection->log;
    ngx_add_timer(&ctx->deadline, rmcf->redis_timeout);

    /* notice a client that gives up while we wait */
    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_http_request_empty_handler;

    return NGX_OK;
}


ngx_int_t
ngx_http_replicas_access_handler(ngx_http_request_t *r)
{
    ngx_int_t                       rc;
    ngx_str_t                       msg;
    rp_host_kind_e                  kind;
    rp_preview_host_t               host;
    ngx_http_replicas_ctx_t        *ctx;
    ngx_http_replicas_loc_conf_t   *rlcf;
    ngx_http_replicas_main_conf_t  *rmcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_replicas_module);

    if (!rlcf->route) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_replicas_module);

    if (ctx) {
        if (ctx->done) {
            return ngx_http_replicas_decide(r, ctx);
        }

        return NGX_AGAIN;       /* a spurious wake-up while waiting */
    }

    /* headers_in.server is nginx's validated, lowercased Host sans port */
    kind = rp_host_parse((char *) r->headers_in.server.data,
                         r->headers_in.server.len,
                         (char *) rlcf->domain.data, rlcf->domain.len, &host);

    if (kind == RP_HOST_NOT_PREVIEW) {
        return NGX_DECLINED;
    }

    if (kind == RP_HOST_MALFORMED) {
        ngx_str_set(&msg, "This is not a valid preview address. Preview "
                    "addresses look like <port>-<workspace>.<domain>, with "
                    "a port from 1 to 65535.");
        return ngx_http_replicas_fail(r, NGX_HTTP_BAD_REQUEST, "bad_host",
                                      &msg, 0);
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_replicas_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->host = host;
    ngx_http_set_ctx(r, ctx, ngx_http_replicas_module);

    rmcf = ngx_http_get_module_main_conf(r, ngx_http_replicas_module);

    if (rlcf->cache
        && ngx_http_replicas_cache_get(rmcf->cache_zone, host.id,
                                       host.id_len, &ctx->route)
           == NGX_OK)
    {
        ctx->done = 1;
        ctx->lookup_rc = NGX_OK;
        return ngx_http_replicas_decide(r, ctx);
    }

    rc = ngx_http_replicas_start_lookup(r, ctx, rmcf);

    if (rc == NGX_OK) {
        return NGX_AGAIN;
    }

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* no Redis link right now: say so at once rather than hang */
    ctx->done = 1;
    ctx->lookup_rc = NGX_ERROR;

    return ngx_http_replicas_decide(r, ctx);
}


static ngx_int_t
ngx_http_replicas_decide(ngx_http_request_t *r, ngx_http_replicas_ctx_t *ctx)
{
    u_char     *p;
    ngx_str_t   msg;

    if (ctx->upstream.len) {
        return NGX_DECLINED;                /* decided before, e.g. re-run */
    }

    if (ctx->lookup_rc != NGX_OK) {
        ngx_str_set(&msg, "The gateway cannot read workspace state right "
                    "now. Retry in a moment.");
        return ngx_http_replicas_fail(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      "state_unavailable", &msg, 1);
    }

    if (ctx->route.state != RP_STATE_AWAKE) {
        msg.data = ngx_pnalloc(r->pool, 256 + ctx->host.id_len);
        if (msg.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    switch (ctx->route.state) {

    case RP_STATE_AWAKE:
        ctx->upstream.data = ngx_pnalloc(r->pool, ctx->route.addr_len
                                                  + sizeof(":65535") - 1);
        if (ctx->upstream.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ctx->upstream.len = ngx_sprintf(ctx->upstream.data, "%*s:%ui",
                                        ctx->route.addr_len, ctx->route.addr,
                                        (ngx_uint_t) ctx->host.port)
                            - ctx->upstream.data;
        return NGX_DECLINED;

    case RP_STATE_NONE:
    case RP_STATE_DELETED:
        p = ngx_sprintf(msg.data, "workspace not found: %s", ctx->host.id);
        msg.len = p - msg.data;
        return ngx_http_replicas_fail(r, NGX_HTTP_NOT_FOUND,
                                      "workspace_not_found", &msg, 0);

    case RP_STATE_BOOTING:
    case RP_STATE_PROVISIONING:
    case RP_STATE_SLEEPING:
        p = ngx_sprintf(msg.data, "Workspace %s is %s, not awake yet.",
                        ctx->host.id, rp_state_name(ctx->route.state));
        msg.len = p - msg.data;
        return ngx_http_replicas_fail(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      "workspace_not_awake", &msg, 5);

    case RP_STATE_FAILED:
        p = ngx_sprintf(msg.data, "Workspace %s has failed.", ctx->host.id);
        msg.len = p - msg.data;
        return ngx_http_replicas_fail(r, NGX_HTTP_BAD_GATEWAY,
                                      "workspace_failed", &msg, 0);

    default:
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "replicas: workspace \"%s\" has an invalid state or "
                      "address in redis", ctx->host.id);
        p = ngx_sprintf(msg.data, "Workspace %s has an invalid record.",
                        ctx->host.id);
        msg.len = p - msg.data;
        return ngx_http_replicas_fail(r, NGX_HTTP_BAD_GATEWAY,
                                      "workspace_invalid", &msg, 0);
    }
}


/* Variables: set by the access handler, read by proxy_pass and logs */

typedef enum {
    NGX_HTTP_REPLICAS_VAR_UPSTREAM = 0,
    NGX_HTTP_REPLICAS_VAR_WORKSPACE,
    NGX_HTTP_REPLICAS_VAR_PORT,
    NGX_HTTP_REPLICAS_VAR_STATE
} ngx_http_replicas_var_e;


static ngx_int_t
ngx_http_replicas_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                   *p;
    const char               *s;
    ngx_http_replicas_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_replicas_module);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    switch (data) {

    case NGX_HTTP_REPLICAS_VAR_UPSTREAM:
        if (ctx->upstream.len == 0) {
            v->not_found = 1;
            return NGX_OK;
        }

        v->data = ctx->upstream.data;
        v->len = ctx->upstream.len;
        break;

    case NGX_HTTP_REPLICAS_VAR_WORKSPACE:
        v->data = (u_char *) ctx->host.id;
        v->len = ctx->host.id_len;
        break;

    case NGX_HTTP_REPLICAS_VAR_PORT:
        p = ngx_pnalloc(r->pool, sizeof("65535") - 1);
        if (p == NULL) {
            return NGX_ERROR;
        }

        v->data = p;
        v->len = ngx_sprintf(p, "%ui", (ngx_uint_t) ctx->host.port) - p;
        break;

    default: /* NGX_HTTP_REPLICAS_VAR_STATE */
        if (!ctx->done || ctx->lookup_rc != NGX_OK) {
            v->not_found = 1;
            return NGX_OK;
        }

        s = rp_state_name(ctx->route.state);
        v->data = (u_char *) s;
        v->len = ngx_strlen(s);
        break;
    }

    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_http_variable_t  ngx_http_replicas_vars[] = {

    { ngx_string("replicas_upstream"), NULL, ngx_http_replicas_variable,
      NGX_HTTP_REPLICAS_VAR_UPSTREAM, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("replicas_workspace"), NULL, ngx_http_replicas_variable,
      NGX_HTTP_REPLICAS_VAR_WORKSPACE, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("replicas_port"), NULL, ngx_http_replicas_variable,
      NGX_HTTP_REPLICAS_VAR_PORT, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("replicas_state"), NULL, ngx_http_replicas_variable,
      NGX_HTTP_REPLICAS_VAR_STATE, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


ngx_int_t
ngx_http_replicas_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_replicas_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}
