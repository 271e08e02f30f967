/*
 * The request path's look-ups: a workspace's route, a credential's record
 * (an API key, a session, a share link) and a one-time ticket, each from
 * the shared cache when it may be, else from Redis without blocking.
 *
 * While Redis answers the request waits (ctx->wait); the reply or the
 * deadline timer, whichever comes first, records the outcome in the
 * request's ctx and re-runs the phases, which calls the state machine
 * again to go on from where it stopped.  Each lookup is held by a heap
 * "waiter" that outlives the request if the client leaves: it points at
 * the request only while the request is there (the pool cleanup and the
 * deadline clear that pointer).
 */

#include "ngx_http_replicas.h"


#define NGX_HTTP_REPLICAS_CACHE_KEY_MAX  (2 + RP_SHA256_HEX)

typedef struct {
    ngx_http_request_t          *request;     /* NULL once it left */
    ngx_uint_t                   kind;        /* ngx_http_replicas_lookup_e */
    ngx_uint_t                   epoch;
    size_t                       key_len;
    char                         key[NGX_HTTP_REPLICAS_CACHE_KEY_MAX + 1];
} ngx_http_replicas_waiter_t;


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
    ngx_http_replicas_wait_over(ctx);

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

    ngx_http_replicas_wait_over(ctx);

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

    if (kind == NGX_HTTP_REPLICAS_LOOKUP_ROUTE && ctx->held) {
        /* a held request waits for a change: Redis says */

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
    ctx->wait = NGX_HTTP_REPLICAS_WAIT_REDIS;

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
