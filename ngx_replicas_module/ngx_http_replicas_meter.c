/*
 * Preview traffic sent with an API key, counted against the API's rate
 * limit (replicas_api_rate, per key and per user: the same Redis
 * counters lua/api.lua uses), without a Redis round trip per request and
 * without ever holding a request for one.  Called by
 * ngx_http_replicas_auth.c once a key is known valid for the workspace.
 *
 *   count   each worker adds the request to a small table of its own
 *           (key hash, minute) -> hits; no lock, nothing shared
 *   flush   an nginx timer (every second while there is something to
 *           send, or at once when the table is full) sends the whole
 *           table in one EVAL: INCRBY on the key's and its user's
 *           counters of that minute, exactly what as many API calls
 *           would have added
 *   verdict the script answers the keys whose budget (or whose user's)
 *           is spent, with the end of the minute; the worker writes that
 *           "limited until" into the key's entry of the shared cache, so
 *           every worker of this gateway refuses the key at once (429
 *           rate_limited, JSON, Retry-After).  The key lookup (a cache
 *           miss: lua in ngx_http_replicas_route.c) reads the same
 *           counters and brings the verdict with the key, so a key spent
 *           on the API is refused on its first preview request.
 *
 * Why not a counter in the shared cache entry, flushed by the next key
 * lookup: the entry is replaced by every lookup and dropped by evictions
 * and invalidations (a revocation, a reload of the cache), so counts
 * would be lost or sent twice, and a busy key is looked up only once per
 * replicas_cache_ttl, far too rarely to enforce a per-minute budget.
 * A per-worker table is lock-free and loses at most one second of counts
 * when a worker exits or Redis is away (as activity does).
 *
 * What it costs in precision: a key (or user) may exceed its budget by
 * what one gateway serves it in about a second (the flush interval plus
 * a round trip), per gateway; the window is the API's fixed minute.
 * Requests refused with 429 are not counted (the minute is spent anyway);
 * a workspace-scoped key (the engine's) counts only per key, as in the
 * API.
 */

#include "ngx_http_replicas.h"

#include <hiredis/hiredis.h>


#define NGX_HTTP_REPLICAS_METER_MAX       64       /* keys per flush */
#define NGX_HTTP_REPLICAS_METER_INTERVAL  1000     /* ms */
#define NGX_HTTP_REPLICAS_METER_ARGS      (3 + 4 * NGX_HTTP_REPLICAS_METER_MAX)


typedef struct {
    u_char       hash[RP_SHA256_HEX];   /* sha256 of the key, hex */
    time_t       minute;                /* unix time / 60 */
    ngx_uint_t   hits;
    ngx_uint_t   rate;                  /* the location's budget */
} ngx_http_replicas_meter_entry_t;


/*
 * ARGV: (sha256, minute, hits, rate) per key.  Adds the hits to the
 * key's counter and (for a user's key) its user's, as lua/api.lua counts
 * API calls; answers {sha256, limited until, ...} for the keys whose
 * budget or whose user's is now spent.  A key gone meanwhile is skipped.
 */
static const char  ngx_http_replicas_meter_lua[] =
    "local out = {}\n"
    "local function add(rk, hits)\n"
    "  local used = redis.call('INCRBY', rk, hits)\n"
    "  if redis.call('TTL', rk) < 0 then redis.call('EXPIRE', rk, 120) end\n"
    "  return used\n"
    "end\n"
    "for i = 1, #ARGV, 4 do\n"
    "  local sha, minute = ARGV[i], ARGV[i + 1]\n"
    "  local hits, rate = tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])\n"
    "  local k = redis.call('HMGET', '" RP_KEY_APIKEY_PREFIX "' .. sha,"
    " 'prefix', 'user', 'scope')\n"
    "  if k[1] then\n"
    "    local spent = add('" RP_KEY_RATE_PREFIX "' .. k[1] .. ':' .. minute,"
    " hits) >= rate\n"
    "    if k[3] ~= 'workspace' and k[2] then\n"
    "      spent = add('" RP_KEY_RATE_USER_PREFIX "' .. k[2] .. ':' .. minute,"
    " hits) >= rate or spent\n"
    "    end\n"
    "    if spent then\n"
    "      out[#out + 1] = sha\n"
    "      out[#out + 1] = tostring((tonumber(minute) + 1) * 60)\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return out\n";


static ngx_http_replicas_meter_entry_t
    ngx_http_replicas_meter[NGX_HTTP_REPLICAS_METER_MAX];
static ngx_uint_t   ngx_http_replicas_nmeter;
static ngx_event_t  ngx_http_replicas_meter_timer;


/* {sha256, until, ...}: the spent keys, marked in the shared cache */

static void
ngx_http_replicas_meter_done(void *r, void *data)
{
    char                            id[2 + RP_SHA256_HEX];
    time_t                          until;
    ngx_uint_t                      i;
    redisReply                     *reply = r, *sha, *t;
    ngx_http_replicas_main_conf_t  *rmcf;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        if (reply != NULL) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "replicas: unexpected redis reply to the preview "
                          "rate count");
        }

        return;                 /* counts lost: a second's worth at most */
    }

    rmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_replicas_module);

    for (i = 0; i + 1 < reply->elements; i += 2) {
        sha = reply->element[i];
        t = reply->element[i + 1];

        if (sha->type != REDIS_REPLY_STRING || sha->len != RP_SHA256_HEX
            || t->type != REDIS_REPLY_STRING)
        {
            continue;
        }

        until = ngx_atotm((u_char *) t->str, t->len);

        if (until == NGX_ERROR) {
            continue;
        }

        ngx_memcpy(id, RP_CACHE_KEY_APIKEY, 2);
        ngx_memcpy(id + 2, sha->str, RP_SHA256_HEX);

        ngx_http_replicas_cache_limit(rmcf->cache_zone, id, sizeof(id),
                                      until);
    }
}


static void
ngx_http_replicas_meter_flush(void)
{
    u_char                           *p;
    u_char                            nums[NGX_HTTP_REPLICAS_METER_MAX]
                                          [3 * NGX_INT_T_LEN];
    size_t                            argvlen[NGX_HTTP_REPLICAS_METER_ARGS];
    ngx_uint_t                        i, n;
    const char                       *argv[NGX_HTTP_REPLICAS_METER_ARGS];
    ngx_http_replicas_meter_entry_t  *e;

    if (ngx_http_replicas_nmeter == 0) {
        return;
    }

    n = 0;
    argv[n] = "EVAL"; argvlen[n++] = 4;
    argv[n] = ngx_http_replicas_meter_lua;
    argvlen[n++] = sizeof(ngx_http_replicas_meter_lua) - 1;
    argv[n] = "0"; argvlen[n++] = 1;

    for (i = 0; i < ngx_http_replicas_nmeter; i++) {
        e = &ngx_http_replicas_meter[i];

        argv[n] = (char *) e->hash; argvlen[n++] = RP_SHA256_HEX;

        /* minute, hits and rate side by side in one buffer per entry */
        p = nums[i];
        argv[n] = (char *) p;
        argvlen[n++] = ngx_sprintf(p, "%T", e->minute) - p;
        p += argvlen[n - 1];

        argv[n] = (char *) p;
        argvlen[n++] = ngx_sprintf(p, "%ui", e->hits) - p;
        p += argvlen[n - 1];

        argv[n] = (char *) p;
        argvlen[n++] = ngx_sprintf(p, "%ui", e->rate) - p;
    }

    /* no Redis link: lost, like activity; the next requests count again */
    (void) ngx_http_replicas_redis_command((int) n, argv, argvlen,
                                           ngx_http_replicas_meter_done, NULL);

    ngx_http_replicas_nmeter = 0;
}


static void
ngx_http_replicas_meter_handler(ngx_event_t *ev)
{
    ngx_http_replicas_meter_flush();
}


static void
ngx_http_replicas_meter_count(const char *hash, ngx_uint_t rate)
{
    time_t                            minute;
    ngx_uint_t                        i;
    ngx_http_replicas_meter_entry_t  *e;

    minute = ngx_time() / 60;

    for (i = 0; i < ngx_http_replicas_nmeter; i++) {
        e = &ngx_http_replicas_meter[i];

        if (e->minute == minute
            && ngx_memcmp(e->hash, hash, RP_SHA256_HEX) == 0)
        {
            e->hits++;
            return;
        }
    }

    if (ngx_http_replicas_nmeter == NGX_HTTP_REPLICAS_METER_MAX) {
        ngx_http_replicas_meter_flush();
    }

    e = &ngx_http_replicas_meter[ngx_http_replicas_nmeter++];
    ngx_memcpy(e->hash, hash, RP_SHA256_HEX);
    e->minute = minute;
    e->hits = 1;
    e->rate = rate;

    if (!ngx_http_replicas_meter_timer.timer_set) {
        ngx_add_timer(&ngx_http_replicas_meter_timer,
                      NGX_HTTP_REPLICAS_METER_INTERVAL);
    }
}


ngx_int_t
ngx_http_replicas_meter_key(ngx_http_request_t *r,
    ngx_http_replicas_ctx_t *ctx, const char *hash)
{
    time_t                         now;
    ngx_str_t                      msg;
    ngx_http_replicas_loc_conf_t  *rlcf;

    now = ngx_time();

    if (ctx->cred.limited_until > now) {
        ngx_str_set(&msg, "too many requests for this API key or its user "
                    "(preview requests with a key count against the API's "
                    "rate limit)");
        ngx_http_finalize_request(r,
            ngx_http_replicas_send_json_error(r, NGX_HTTP_TOO_MANY_REQUESTS,
                                              "rate_limited", &msg,
                                              ctx->cred.limited_until - now));
        return NGX_DONE;
    }

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_replicas_module);

    ngx_http_replicas_meter_count(hash, rlcf->api_rate);

    return NGX_OK;
}


void
ngx_http_replicas_meter_init_worker(ngx_cycle_t *cycle)
{
    ngx_event_t  *ev = &ngx_http_replicas_meter_timer;

    ngx_http_replicas_nmeter = 0;

    ev->handler = ngx_http_replicas_meter_handler;
    ev->log = cycle->log;
    ev->data = ev;

    /* never keeps a gracefully exiting worker alive */
    ev->cancelable = 1;
}
