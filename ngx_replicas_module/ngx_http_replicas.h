/*
 * ngx_http_replicas_module: routes <port>-<workspaceId>.<domain> preview
 * hosts to workspaces whose state lives in Redis.  Shared declarations of
 * the module's files:
 *
 *   ngx_http_replicas_module.c    directives, configuration, variables
 *   ngx_http_replicas_route.c     the access-phase state machine
 *   ngx_http_replicas_redis.c     per-worker async Redis links
 *   ngx_http_replicas_cache.c     shared-memory route cache
 *   ngx_http_replicas_response.c  error answers (HTML or JSON)
 */

#ifndef NGX_HTTP_REPLICAS_H
#define NGX_HTTP_REPLICAS_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "common/rp_host.h"
#include "common/rp_keys.h"
#include "common/rp_state.h"


/* "[" IPv6 "]" is at most 47 bytes; ":65535" is added per request */
#define NGX_HTTP_REPLICAS_ADDR_MAX  48


typedef struct {
    ngx_uint_t                  state;     /* rp_state_e */
    size_t                      addr_len;
    u_char                      addr[NGX_HTTP_REPLICAS_ADDR_MAX];
} ngx_http_replicas_route_t;


typedef struct {
    ngx_str_t                   redis_host;   /* NUL-terminated */
    ngx_int_t                   redis_port;   /* 0 for a unix socket */
    ngx_msec_t                  redis_timeout;
    ngx_shm_zone_t             *cache_zone;
    ngx_msec_t                  cache_ttl;
} ngx_http_replicas_main_conf_t;


typedef struct {
    ngx_flag_t                  route;
    ngx_flag_t                  cache;
    ngx_str_t                   domain;       /* lowercase, no dot at end */
} ngx_http_replicas_loc_conf_t;


extern ngx_module_t  ngx_http_replicas_module;


/* route */
ngx_int_t ngx_http_replicas_access_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_replicas_add_variables(ngx_conf_t *cf);


/* redis */

/* reply is a hiredis redisReply *, NULL when Redis failed */
typedef void (*ngx_http_replicas_reply_pt)(void *reply, void *data);

ngx_int_t ngx_http_replicas_redis_command(int argc, const char **argv,
    const size_t *argvlen, ngx_http_replicas_reply_pt handler, void *data);
ngx_int_t ngx_http_replicas_redis_init_worker(ngx_cycle_t *cycle,
    ngx_http_replicas_main_conf_t *rmcf);
void ngx_http_replicas_redis_exit_worker(void);
/*
 * Reads an "HMGET <workspace key> state addr" reply: NGX_OK with "route"
 * filled, NGX_DECLINED for no such workspace, NGX_ERROR for no answer.
 */
ngx_int_t ngx_http_replicas_redis_parse_route(void *reply,
    ngx_http_replicas_route_t *route);
void ngx_http_replicas_redis_lookup_timed_out(void);


/* cache */
ngx_shm_zone_t *ngx_http_replicas_cache_add_zone(ngx_conf_t *cf,
    size_t size);
ngx_int_t ngx_http_replicas_cache_get(ngx_shm_zone_t *zone, const char *id,
    size_t id_len, ngx_http_replicas_route_t *route);
void ngx_http_replicas_cache_put(ngx_shm_zone_t *zone, const char *id,
    size_t id_len, ngx_http_replicas_route_t *route, ngx_msec_t ttl,
    ngx_uint_t epoch);
void ngx_http_replicas_cache_invalidate(ngx_shm_zone_t *zone,
    const char *id, size_t id_len);
void ngx_http_replicas_cache_flush(ngx_shm_zone_t *zone);
ngx_uint_t ngx_http_replicas_cache_epoch(ngx_shm_zone_t *zone);


/* response */
ngx_int_t ngx_http_replicas_send_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *code, ngx_str_t *message,
    time_t retry_after);
ngx_int_t ngx_http_replicas_upstream_error_handler(ngx_http_request_t *r);

#endif /* NGX_HTTP_REPLICAS_H */
