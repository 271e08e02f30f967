/*
 * The access-phase state machine for preview hosts:
 *
 *   parse Host -> route (shared cache, else async Redis)
 *              -> auth  (ngx_http_replicas_auth.c; may look up a
 *                        credential the same way)
 *              -> decide on the workspace's state
 *
 * While Redis answers, the handler returns NGX_AGAIN and the request
 * waits; the reply or the deadline timer, whichever comes first, records
 * the outcome in the request's ctx and re-runs the phases, which calls
 * this handler again to go on from where it stopped.  Each lookup is held
 * by a heap "waiter" that outlives the request if the client leaves: it
 * points at the request only while the request is there (the pool
 * cleanup and the deadline clear that pointer).
 */

#include "ngx_http_replicas.h"


#define NGX_HTTP_REPLICAS_CACHE_KEY_MAX  (2 + RP_SHA256_HEX)

enum {
    RP_STEP_ROUTE = 0,
    RP_STEP_AUTH,
    RP_STEP_STATE
};


typedef struct {
    ngx_http_request_t          *request;     /* NULL once it left */
    ngx_uint_t                   kind;        /* ngx_http_replicas_lookup_e */
    ngx_uint_t                   epoch;
    size_t                       key_len;
    char                         key[NGX_HTTP_REPLICAS_CACHE_KEY_MAX + 1];
} ngx_http_replicas_waiter_t;


static ngx_int_t ngx_http_replicas_run(ngx_http_request_t *r,
    ngx_http_replicas_ctx_t *ctx);
static ngx_int_t ngx_http_replicas_decide(ngx_http_request_t *r,
    ngx_http_replicas_ctx_t *ctx);


ngx_http_replicas_ctx_t *
ngx_http_replicas_get_ctx(ngx_http_request_t *r)
{
    ngx_http_replicas_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_replicas_module);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_replicas_ctx_t));
        if (ctx == NULL) {
            return NULL;
        }

        ngx_http_set_ctx(r, ctx, ngx_http_replicas_module);
    }

    return ctx;
}


static ngx_int_t
ngx_http_replicas_fail(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, ngx_str_t *msg, time_t retry_after)
{
    ngx_http_finalize_request(r,
        ngx_http_replicas_send_error(r, status, code, msg, retry_after));

    return NGX_DONE;
}


void
ngx_http_replicas_resume(ngx_http_request_t *r)
{
    ngx_connection_t  *c = r->connection;

    r->read_event_handler = ngx_http_block_reading;
    r->write_event_handler = ngx_http_core_run_phases;

    ngx_http_core_run_phases(r);
    ngx_http_run_posted_requests(c);
}


/*
 * An API key's record and its user's role in one call, for the preview
 * check (common/rp_access.h): {org, scope, workspace, user, role,
 * limited until}, all "" for a key that is unknown, revoked, or whose
 * user is disabled or gone (lua/api.lua refuses those the same way).  A
 * workspace-scoped key (the engine's) works for its workspace whoever
 * made it.  ARGV 1 this minute, 2 the rate limit: a key whose budget (or
 * its user's) is already spent comes with the end of the minute, so its
 * previews are refused from the first (ngx_http_replicas_meter.c).
 */
static const char  ngx_http_replicas_key_lua[] =
    "local k = redis.call('HMGET', KEYS[1], 'org', 'scope', 'workspace',"
    " 'user', 'prefix')\n"
    "local none = {'', '', '', '', '', ''}\n"
    "if not k[1] then return none end\n"
    "local function spent(rk)\n"
    "  return tonumber(redis.call('GET', rk) or '0') >= tonumber(ARGV[2])\n"
    "end\n"
    "local function limited(user)\n"
    "  if spent('" RP_KEY_RATE_PREFIX "' .. (k[5] or '') .. ':' .. ARGV[1])"
    " or (user and spent('" RP_KEY_RATE_USER_PREFIX "' .. user .. ':' .."
    " ARGV[1])) then\n"
    "    return tostring((tonumber(ARGV[1]) + 1) * 60)\n"
    "  end\n"
    "  return ''\n"
    "end\n"
    "if k[2] == 'workspace' then\n"
    "  return {k[1], 'workspace', k[3] or '', k[4] or '', '', limited(nil)}\n"
    "end\n"
    "local u = redis.call('HMGET', '" RP_KEY_USER_PREFIX "' .. (k[4] or ''),"
    " 'org', 'role', 'disabled')\n"
    "if u[1] ~= k[1] or u[3] == '1' then return none end\n"
    "return {k[1], k[2] or '', '', k[4], u[2] or 'member', limited(k[4])}\n";


/*
 * Records a lookup's outcome where the state machine looks for it (a
 * ticket's value is already in ctx->ticket).
 */

static void
ngx_http_replicas_lookup_known(ngx_http_replicas_ctx_t *ctx, ngx_uint_t kind,
    ngx_int_t rc, ngx_http_replicas_route_t *rec)
{
    if (kind == NGX_HTTP_REPLICAS_LOOKUP_TICKET) {
        ctx->ticket_known = 1;
        ctx->ticket_rc = rc;

    } else if (kind == NGX_HTTP_REPLICAS_LOOKUP_ROUTE) {
        ctx->route_known = 1;
        ctx->route_rc = rc;

        if (rc == NGX_OK) {
            ctx->route = *rec;
        }

    } else {
        ctx->cred_known = 1;
        ctx->cred_rc = rc;

        if (rc == NGX_OK) {
            ctx->cred = *rec;
        }
    }
}


static void
ngx_http_replicas_lookup_done(void *reply, void *data)
{
    ngx_int_t                       rc;
    ngx_http_request_t             *r;
    ngx_http_replicas_ctx_t        *ctx;
    ngx_http_replicas_route_t       rec;
    ngx_http_replicas_waiter_t     *w = data;
    ngx_http_replicas_main_conf_t  *rmcf;

    r = w->request;
    ctx = r ? ngx_http_get_module_ctx(r, ngx_http_replicas_module) : NULL;

    if (w->kind == NGX_HTTP_REPLICAS_LOOKUP_TICKET) {
        if (r != NULL) {
            rc = ngx_http_replicas_redis_copy_string(reply, r->pool,
                                                     &ctx->ticket);
            ngx_http_replicas_lookup_known(ctx, w->kind, rc, NULL);
        }

        goto done;
    }

    ngx_memzero(&rec, sizeof(ngx_http_replicas_route_t));

    switch (w->kind) {
    case NGX_HTTP_REPLICAS_LOOKUP_ROUTE:
        rc = ngx_http_replicas_redis_parse_route(reply, &rec);
        break;
    case NGX_HTTP_REPLICAS_LOOKUP_KEY:
        rc = ngx_http_replicas_redis_parse_key(reply, &rec);
        break;
    default:
        rc = ngx_http_replicas_redis_parse_ref(reply, &rec);
        break;
    }

    if (rc == NGX_ERROR && reply != NULL) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "replicas: unexpected redis reply to a lookup");
    }

    if (rc == NGX_DECLINED) {
        rec.state = RP_STATE_NONE;      /* cached too: misses stay cheap */
        rc = NGX_OK;
    }

    if (rc == NGX_OK) {
        /* cached even if the request left: the next one will want it */
        rmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                                   ngx_http_replicas_module);
        ngx_http_replicas_cache_put(rmcf->cache_zone, w->key, w->key_len,
                                    &rec, rmcf->cache_ttl, w->epoch);
    }

    if (r != NULL) {
        ngx_http_replicas_lookup_known(ctx, w->kind, rc, &rec);
    }

done:

    ngx_free(w);

    if (r == NULL) {
        return;
    }

    ctx->waiter = NULL;
    ctx->pending = 0;

    if (ctx->deadline.timer_set) {
        ngx_del_timer(&ctx->deadline);
    }

    ngx_http_replicas_resume(r);
}


static void
ngx_http_replicas_deadline_handler(ngx_event_t *ev)
{
    ngx_http_request_t          *r = ev->data;
    ngx_http_replicas_ctx_t     *ctx;
    ngx_http_replicas_waiter_t  *w;

    ctx = ngx_http_get_module_ctx(r, ngx_http_replicas_module);
    w = ctx->waiter;

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "replicas: redis lookup for workspace \"%s\" timed out",
                  ctx->host.id);

    if (w) {
        w->request = NULL;
        ctx->waiter = NULL;
        ngx_http_replicas_lookup_known(ctx, w->kind, NGX_ERROR, NULL);
    }

    ctx->pending = 0;

    ngx_http_replicas_redis_lookup_timed_out();

    ngx_http_replicas_resume(r);
}


static void
ngx_http_replicas_cleanup(void *data)
{
    ngx_http_replicas_ctx_t     *ctx = data;
    ngx_http_replicas_waiter_t  *w = ctx->waiter;

    if (w) {
        w->request = NULL;
        ctx->waiter = NULL;
    }

    if (ctx->deadline.timer_set) {
        ngx_del_timer(&ctx->deadline);
    }
}


ngx_int_t
ngx_http_replicas_lookup(ngx_http_request_t *r, ngx_http_replicas_ctx_t *ctx,
    ngx_uint_t kind, const char *cache_key, size_t cache_key_len)
{
    u_char                          key[128], minute[NGX_TIME_T_LEN];
    u_char                          rate[NGX_INT_T_LEN];
    size_t                          argvlen[8];
    ngx_uint_t                      argc, i;
    const char                     *argv[8];
    ngx_pool_cleanup_t             *cln;
    ngx_http_replicas_route_t       rec;
    ngx_http_replicas_waiter_t     *w;
    ngx_http_replicas_loc_conf_t   *rlcf;
    ngx_http_replicas_main_conf_t  *rmcf;

    rmcf = ngx_http_get_module_main_conf(r, ngx_http_replicas_module);
    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_replicas_module);

    if (cache_key_len > NGX_HTTP_REPLICAS_CACHE_KEY_MAX) {
        return NGX_ERROR;
    }

    if (kind == NGX_HTTP_REPLICAS_LOOKUP_ROUTE && ctx->route_fresh) {
        ctx->route_fresh = 0;       /* a held request: Redis says */

    } else if (kind != NGX_HTTP_REPLICAS_LOOKUP_TICKET && rlcf->cache
        && ngx_http_replicas_cache_get(rmcf->cache_zone, cache_key,
                                       cache_key_len, &rec)
           == NGX_OK)
    {
        ngx_http_replicas_lookup_known(ctx, kind, NGX_OK, &rec);
        return NGX_OK;
    }

    /* the Redis key for each kind of cache key (common/rp_keys.h) */
    switch (kind) {

    case NGX_HTTP_REPLICAS_LOOKUP_ROUTE:
        argv[0] = "HMGET";
        argv[1] = (char *) key;
        argvlen[1] = ngx_snprintf(key, sizeof(key),
                                  RP_KEY_WORKSPACE_PREFIX "%*s",
                                  cache_key_len, cache_key) - key;
        argv[2] = RP_FIELD_STATE;
        argv[3] = RP_FIELD_ADDR;
        argv[4] = RP_FIELD_ORG;
        argv[5] = RP_FIELD_PUBLIC;
        argv[6] = RP_FIELD_USER;
        argv[7] = RP_FIELD_COLLABORATORS;
        argc = 8;
        break;

    case NGX_HTTP_REPLICAS_LOOKUP_KEY:
        argv[0] = "EVAL";
        argv[1] = ngx_http_replicas_key_lua;
        argvlen[1] = sizeof(ngx_http_replicas_key_lua) - 1;
        argv[2] = "1";
        argv[3] = (char *) key;
        argvlen[3] = ngx_snprintf(key, sizeof(key),
                                  RP_KEY_APIKEY_PREFIX "%*s",
                                  cache_key_len - 2, cache_key + 2) - key;
        argv[4] = (char *) minute;
        argvlen[4] = ngx_sprintf(minute, "%T", ngx_time() / 60) - minute;
        argv[5] = (char *) rate;
        argvlen[5] = ngx_sprintf(rate, "%ui", rlcf->api_rate) - rate;
        argc = 6;
        break;

    case NGX_HTTP_REPLICAS_LOOKUP_REF:
        argv[0] = "EXISTS";
        argv[1] = (char *) key;
        argvlen[1] = ngx_snprintf(key, sizeof(key), "%s%*s",
                                  cache_key[0] == 's'
                                  ? RP_KEY_SESSION_PREFIX
                                  : RP_KEY_SHARE_PREFIX,
                                  cache_key_len - 2, cache_key + 2) - key;
        argc = 2;
        break;

    default: /* NGX_HTTP_REPLICAS_LOOKUP_TICKET: used once, never cached */
        argv[0] = "GETDEL";
        argv[1] = (char *) key;
        argvlen[1] = ngx_snprintf(key, sizeof(key),
                                  RP_KEY_TICKET_PREFIX "%*s",
                                  cache_key_len - 2, cache_key + 2) - key;
        argc = 2;
        break;
    }

    argvlen[0] = ngx_strlen(argv[0]);

    for (i = 2; i < argc; i++) {
        if (argv[i] != (char *) key && argv[i] != (char *) minute
            && argv[i] != (char *) rate)
        {
            argvlen[i] = ngx_strlen(argv[i]);
        }
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    w = ngx_alloc(sizeof(ngx_http_replicas_waiter_t), r->connection->log);
    if (w == NULL) {
        return NGX_ERROR;
    }

    w->request = r;
    w->kind = kind;
    w->epoch = ngx_http_replicas_cache_epoch(rmcf->cache_zone);
    w->key_len = cache_key_len;
    ngx_memcpy(w->key, cache_key, cache_key_len);
    w->key[cache_key_len] = '\0';

    if (ngx_http_replicas_redis_command((int) argc, argv, argvlen,
                                        ngx_http_replicas_lookup_done, w)
        != NGX_OK)
    {
        /* no Redis link right now: say so at once rather than hang */
        ngx_free(w);
        ngx_http_replicas_lookup_known(ctx, kind, NGX_ERROR, NULL);

        return NGX_OK;
    }

    ctx->waiter = w;
    ctx->pending = 1;

    cln->handler = ngx_http_replicas_cleanup;
    cln->data = ctx;

    ctx->deadline.handler = ngx_http_replicas_deadline_handler;
    ctx->deadline.data = r;
    ctx->deadline.log = r->connection->log;
    ngx_add_timer(&ctx->deadline, rmcf->redis_timeout);

    /* notice a client that gives up while we wait */
    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_http_request_empty_handler;

    return NGX_AGAIN;
}


ngx_int_t
ngx_http_replicas_access_handler(ngx_http_request_t *r)
{
    ngx_int_t                      rc;
    ngx_str_t                      msg;
    rp_host_kind_e                 kind;
    rp_preview_host_t              host;
    ngx_http_replicas_ctx_t       *ctx;
    ngx_http_replicas_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_replicas_module);

    if (rlcf->api_events) {
        rc = ngx_http_replicas_api_events_access(r);
        return rc == NGX_OK ? NGX_DECLINED : rc;
    }

    if (!rlcf->route) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_replicas_module);

    if (ctx && ctx->host.id_len) {
        if (ctx->pending) {
            return NGX_AGAIN;       /* a spurious wake-up while waiting */
        }

        return ngx_http_replicas_run(r, ctx);
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

    ctx = ngx_http_replicas_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->host = host;

    return ngx_http_replicas_run(r, ctx);
}


static ngx_int_t
ngx_http_replicas_run(ngx_http_request_t *r, ngx_http_replicas_ctx_t *ctx)
{
    ngx_int_t  rc;
    ngx_str_t  msg;
    u_char     buf[64 + RP_WS_ID_MAX];

    if (ctx->upstream.len) {
        return NGX_DECLINED;                /* decided before, e.g. re-run */
    }

    /* the route is looked up first, and again while a request waits for
     * its workspace to wake */
    if (!ctx->route_known) {
        rc = ngx_http_replicas_lookup(r, ctx, NGX_HTTP_REPLICAS_LOOKUP_ROUTE,
                                      ctx->host.id, ctx->host.id_len);
        if (rc != NGX_OK) {
            return rc == NGX_AGAIN ? NGX_AGAIN
                                   : NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (ctx->route_rc != NGX_OK) {
        ngx_http_replicas_wake_done(ctx);
        ngx_str_set(&msg, "The gateway cannot read workspace state right "
                    "now. Retry in a moment.");
        return ngx_http_replicas_fail(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      "state_unavailable", &msg, 1);
    }

    if (ctx->route.state == RP_STATE_NONE
        || ctx->route.state == RP_STATE_DELETED)
    {
        ngx_http_replicas_wake_done(ctx);
        msg.data = buf;
        msg.len = ngx_sprintf(buf, "workspace not found: %s",
                              ctx->host.id) - buf;
        return ngx_http_replicas_fail(r, NGX_HTTP_NOT_FOUND,
                                      "workspace_not_found", &msg, 0);
    }

    if (ctx->step == RP_STEP_ROUTE) {
        ctx->step = RP_STEP_AUTH;
    }

    if (ctx->step == RP_STEP_AUTH) {
        rc = ngx_http_replicas_auth(r, ctx);

        if (rc != NGX_OK) {
            return rc;
        }

        ctx->step = RP_STEP_STATE;
    }

    return ngx_http_replicas_decide(r, ctx);
}


static ngx_int_t
ngx_http_replicas_decide(ngx_http_request_t *r, ngx_http_replicas_ctx_t *ctx)
{
    u_char     *p;
    ngx_int_t   rc;
    ngx_str_t   msg;

    if (ctx->route.state != RP_STATE_AWAKE) {
        msg.data = ngx_pnalloc(r->pool, 256 + ctx->host.id_len);
        if (msg.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (ctx->route.state == RP_STATE_BOOTING
        || ctx->route.state == RP_STATE_PROVISIONING
        || ctx->route.state == RP_STATE_SLEEPING)
    {
        rc = ngx_http_replicas_wake(r, ctx);

        switch (rc) {
        case NGX_DECLINED:
            return ngx_http_replicas_run(r, ctx);    /* look again */
        case NGX_AGAIN:
        case NGX_DONE:
            return rc;
        default:
            ngx_http_replicas_wake_done(ctx);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    ngx_http_replicas_wake_done(ctx);

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

        ngx_http_replicas_activity_touch(ctx->host.id, ctx->host.id_len);

        return NGX_DECLINED;

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


/*
 * "key:<prefix>" from an API key's text "rk_<prefix>_<secret>": only the
 * public prefix, never the secret; a key of any other form is named
 * "key:?" (it cannot be a valid one anyway).
 */

void
ngx_http_replicas_actor_key(ngx_http_request_t *r,
    ngx_http_replicas_ctx_t *ctx, u_char *key, size_t len)
{
    size_t      tag, i;
    u_char     *p, c;

    tag = sizeof(RP_APIKEY_TAG) - 1;

    p = ngx_pnalloc(r->pool, sizeof("key:") - 1 + RP_APIKEY_PREFIX_LEN);
    if (p == NULL) {
        return;
    }

    ctx->actor.data = p;
    p = ngx_cpymem(p, "key:", sizeof("key:") - 1);

    if (len > tag + RP_APIKEY_PREFIX_LEN
        && ngx_strncmp(key, RP_APIKEY_TAG, tag) == 0
        && key[tag + RP_APIKEY_PREFIX_LEN] == '_')
    {
        for (i = 0; i < RP_APIKEY_PREFIX_LEN; i++) {
            c = key[tag + i];

            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                  || (c >= '0' && c <= '9')))
            {
                break;
            }
        }

        if (i == RP_APIKEY_PREFIX_LEN) {
            p = ngx_cpymem(p, key + tag, RP_APIKEY_PREFIX_LEN);
            ctx->actor.len = p - ctx->actor.data;
            return;
        }
    }

    *p++ = '?';
    ctx->actor.len = p - ctx->actor.data;
}


/*
 * $replicas_actor: who the request acted as, for the access log.  A
 * credential that was refused (401) names no one: the log must not
 * attribute a request to a key someone merely claimed.
 */

ngx_int_t
ngx_http_replicas_actor_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_replicas_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_replicas_module);

    if (ctx == NULL || ctx->actor.len == 0
        || r->headers_out.status == NGX_HTTP_UNAUTHORIZED)
    {
        v->data = (u_char *) "-";
        v->len = 1;

    } else {
        v->data = ctx->actor.data;
        v->len = ctx->actor.len;
    }

    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}

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

    if (ctx == NULL || ctx->host.id_len == 0) {
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
        if (!ctx->route_known || ctx->route_rc != NGX_OK) {
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

    { ngx_string("replicas_cookie"), NULL, ngx_http_replicas_cookie_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("replicas_actor"), NULL, ngx_http_replicas_actor_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

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
