/*
 * ngx_http_replicas_module: routes <port>-<workspaceId>.<domain> preview
 * hosts to workspaces whose state lives in Redis.  Shared declarations of
 * the module's files:
 *
 *   ngx_http_replicas_module.c    directives, configuration, hooks
 *   ngx_http_replicas_route.c     the request path: the access-phase
 *                                 state machine
 *   ngx_http_replicas_lookup.c    routes, credentials and tickets: the
 *                                 cache, else Redis
 *   ngx_http_replicas_variables.c $replicas_upstream and the others
 *   ngx_http_replicas_redis.c     per-worker async Redis links
 *   ngx_http_replicas_cache.c     shared-memory route cache
 *   ngx_http_replicas_auth.c      who may open a preview (cookies, keys,
 *                                 tickets, share links): a decision
 *   ngx_http_replicas_session.c   login, logout and tickets on the main
 *                                 domain
 *   ngx_http_replicas_api.c       the HTTP API v1 (with _route.c and
 *                                 _validate.c: ngx_http_replicas_api.h)
 *   ngx_http_replicas_env.c       environments in the API: validating and
 *                                 sealing their values
 *   ngx_http_replicas_eval.c      one script call to Redis per request
 *   ngx_http_replicas_request.c   reading requests: headers, cookies, body
 *   ngx_http_replicas_wake.c      held requests: hold, release, notify
 *   ngx_http_replicas_activity.c  which workspaces had traffic (auto-sleep)
 *   ngx_http_replicas_meter.c     preview requests with a key, counted
 *                                 against the API's rate limit
 *   ngx_http_replicas_response.c  answers: the errors' table (HTML or
 *                                 JSON), JSON, redirects
 *   ngx_http_replicas_balancer.c  the upstream balancer: connections to
 *                                 workspaces kept alive, per workspace
 */

#ifndef NGX_HTTP_REPLICAS_H
#define NGX_HTTP_REPLICAS_H

/*
 * nginx's headers first, in every file of the module: ngx_config.h sets
 * the feature macros (_GNU_SOURCE) before any system header is read; a
 * library header included earlier fixes them too soon and an HTTP/3 build
 * fails (struct in6_pktinfo incomplete in ngx_event_udp.h).
 */
#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>

#include "common/rp_host.h"
#include "common/rp_keys.h"
#include "common/rp_state.h"
#include "common/rp_token.h"
#include "common/rp_http.h"
#include "common/rp_crypt.h"
#include "common/rp_env.h"
#include "common/rp_url_parse.h"
#include "common/rp_access.h"


/* "[" IPv6 "]" is at most 47 bytes; ":65535" is added per request */
#define NGX_HTTP_REPLICAS_ADDR_MAX     48
#define NGX_HTTP_REPLICAS_ORG_MAX      32
#define NGX_HTTP_REPLICAS_PUBLIC_MAX   RP_PUBLIC_PORTS_MAX
#define NGX_HTTP_REPLICAS_KEYS_MAX     8      /* signing keys in the file */
#define NGX_HTTP_REPLICAS_USER_MAX     32     /* a user id (control: 12) */
/* 32 collaborators of 12-character ids; a longer list is not cached and
 * gives members' keys nothing (closed, never open) */
#define NGX_HTTP_REPLICAS_COLLAB_MAX   512


/*
 * What the shared cache keeps per key.  For a workspace (key = its id):
 * state, address, organisation and public preview ports.  For a
 * credential (key "k:<sha256>" an API key, "s:<sha256>" a session,
 * "h:<id>" a share link): state RP_STATE_AWAKE if it is valid, else
 * RP_STATE_NONE; an API key's organisation in org and, for a key scoped
 * to one workspace, that workspace's id in addr.  user: a workspace's
 * owner, an API key's user (admin set for an admin); collab: a
 * workspace's collaborators as stored (a JSON list of user ids).
 * limited_until: an API key whose budget (or its user's) is spent this
 * minute, refused on previews until then (ngx_http_replicas_meter.c).
 */
typedef struct {
    ngx_uint_t                  state;     /* rp_state_e */
    size_t                      addr_len;
    u_char                      addr[NGX_HTTP_REPLICAS_ADDR_MAX];
    size_t                      org_len;
    u_char                      org[NGX_HTTP_REPLICAS_ORG_MAX];
    ngx_uint_t                  npublic;
    uint16_t                    public_ports[NGX_HTTP_REPLICAS_PUBLIC_MAX];
    ngx_uint_t                  admin;
    size_t                      user_len;
    u_char                      user[NGX_HTTP_REPLICAS_USER_MAX];
    size_t                      collab_len;
    u_char                      collab[NGX_HTTP_REPLICAS_COLLAB_MAX];
    time_t                      limited_until;
} ngx_http_replicas_route_t;


typedef enum {
    NGX_HTTP_REPLICAS_LOOKUP_ROUTE = 0,   /* HMGET workspace fields */
    NGX_HTTP_REPLICAS_LOOKUP_KEY,         /* an API key's record and its
                                             user's role (a script) */
    NGX_HTTP_REPLICAS_LOOKUP_REF,         /* EXISTS a session or share */
    NGX_HTTP_REPLICAS_LOOKUP_TICKET       /* GETDEL a one-time ticket */
} ngx_http_replicas_lookup_e;


/*
 * Where a preview request is on the request path (ngx_http_replicas_route.c
 * drives it, one step at a time, in one switch):
 *
 *   HOST -> ROUTE -> CREDENTIALS (-> TICKET) -> DECIDE -> PROXY
 *                                                 |
 *                                                 +-> WAKE -> HELD -> ROUTE
 *
 * and for the API's events streams (replicas_api_events):
 *
 *   API -> PROXY, or API -> HELD -> API
 */
typedef enum {
    NGX_HTTP_REPLICAS_STEP_HOST = 0,      /* parse the Host header */
    NGX_HTTP_REPLICAS_STEP_API,           /* an events stream: the API's
                                             script decides (api.c) */
    NGX_HTTP_REPLICAS_STEP_ROUTE,         /* the workspace's record */
    NGX_HTTP_REPLICAS_STEP_CREDENTIALS,   /* who may open it (auth.c) */
    NGX_HTTP_REPLICAS_STEP_TICKET,        /* a sign-in ticket, used once */
    NGX_HTTP_REPLICAS_STEP_DECIDE,        /* on the workspace's state */
    NGX_HTTP_REPLICAS_STEP_WAKE,          /* ask lua/wake.lua, once */
    NGX_HTTP_REPLICAS_STEP_HELD,          /* wait for the change (wake.c) */
    NGX_HTTP_REPLICAS_STEP_PROXY          /* $replicas_upstream is set */
} ngx_http_replicas_step_e;


/*
 * What a request waits for, the one thing that says so.  A change of the
 * workspace published while a look-up is in flight (STALE) is not lost:
 * the look-up may have read the state before it, so a held request looks
 * again when it lands (CHANGED).
 */
typedef enum {
    NGX_HTTP_REPLICAS_WAIT_NONE = 0,      /* running */
    NGX_HTTP_REPLICAS_WAIT_REDIS,         /* a look-up or a script call */
    NGX_HTTP_REPLICAS_WAIT_STALE,         /* the same, and a change came */
    NGX_HTTP_REPLICAS_WAIT_HELD,          /* held until the next change */
    NGX_HTTP_REPLICAS_WAIT_CHANGED        /* running, a change came */
} ngx_http_replicas_wait_e;


typedef enum {
    NGX_HTTP_REPLICAS_WAKE_NONE = 0,
    NGX_HTTP_REPLICAS_WAKE_ASKED,         /* its answer is (or will be) in
                                             ctx->wake_status */
    NGX_HTTP_REPLICAS_WAKE_DONE           /* acted on: never asked again */
} ngx_http_replicas_wake_e;


/* per request, for preview hosts (route, auth) and the API alike */
typedef struct {
    rp_preview_host_t           host;         /* id_len 0: not a preview */
    ngx_http_replicas_step_e    step;
    ngx_http_replicas_wait_e    wait;
    ngx_event_t                 deadline;     /* of a look-up */
    void                       *waiter;       /* the look-up in flight */

    /* what the look-ups found (*_known: looked up; rc NGX_OK or
     * NGX_ERROR for no answer) */
    ngx_uint_t                  route_known;
    ngx_int_t                   route_rc;
    ngx_http_replicas_route_t   route;

    ngx_uint_t                  cred_known;
    ngx_int_t                   cred_rc;
    ngx_http_replicas_route_t   cred;

    ngx_uint_t                  ticket_known;
    ngx_int_t                   ticket_rc;
    ngx_str_t                   ticket;       /* the GETDEL value */

    ngx_http_replicas_wake_e    wake;
    ngx_str_t                   wake_status;  /* the wake script's answer */
    ngx_str_t                   wake_arg;
    void                       *held;         /* ngx_http_replicas_wake.c */

    void                       *auth;         /* ngx_http_replicas_auth.c */
    void                       *api;          /* ngx_http_replicas_api.c */
    void                       *stream;       /* ..._stream.c: GET /v1/events */
    ngx_str_t                   upstream;     /* "addr:port" */
    ngx_str_t                   actor;        /* $replicas_actor: "key:<prefix>",
                                                 "user:<id>", "share:<id>" */
} ngx_http_replicas_ctx_t;


typedef struct {
    ngx_str_t                   redis_host;   /* NUL-terminated */
    ngx_int_t                   redis_port;   /* 0 for a unix socket */
    ngx_msec_t                  redis_timeout;
    ngx_shm_zone_t             *cache_zone;
    ngx_msec_t                  cache_ttl;
    ngx_str_t                   api_script;      /* lua/wake.lua and
                                                    lua/api.lua */
    ngx_str_t                   session_script;  /* lua/session.lua */
    ngx_str_t                   wake_script;     /* lua/wake.lua and its
                                                    request's call */
    ngx_uint_t                  nkeys;           /* signing keys, newest */
    rp_sign_key_t               keys[NGX_HTTP_REPLICAS_KEYS_MAX]; /* first */
    time_t                      session_ttl;
    time_t                      preview_cookie_ttl;
    ngx_uint_t                  secrets_set;     /* replicas_secrets_key */
    u_char                      secrets_key[RP_CRYPT_KEY_LEN];
} ngx_http_replicas_main_conf_t;


typedef struct {
    ngx_flag_t                  route;
    ngx_flag_t                  cache;
    ngx_flag_t                  auth;
    ngx_flag_t                  api_events;
    ngx_str_t                   domain;       /* lowercase, no dot at end */
    ngx_uint_t                  api_rate;     /* requests per key per minute */
    size_t                      api_body_max;
    ngx_msec_t                  wake_hold;    /* hold programs this long */
    ngx_flag_t                  main_site;    /* answer only our names */
    ngx_array_t                *aliases;      /* of ngx_str_t, lowercase */
    ngx_array_t                *trusted;      /* of ngx_cidr_t: TLS proxies */
} ngx_http_replicas_loc_conf_t;


extern ngx_module_t  ngx_http_replicas_module;


/* what a script call's reply is handed to (ngx_http_replicas_eval.c) */
typedef void (*ngx_http_replicas_eval_pt)(ngx_http_request_t *r,
    void *script_reply);


/* route: the access-phase state machine */
ngx_int_t ngx_http_replicas_access_handler(ngx_http_request_t *r);


/* variables: $replicas_upstream, _workspace, _port, _state, _cookie,
 * _actor */
ngx_int_t ngx_http_replicas_add_variables(ngx_conf_t *cf);
void ngx_http_replicas_actor_key(ngx_http_request_t *r,
    ngx_http_replicas_ctx_t *ctx, u_char *key, size_t len);


/*
 * lookup: starts a lookup whose result lands in ctx (route, cred or
 * ticket) and marks it known; a held request's route is read past the
 * cache.  NGX_OK: known already (a cache hit, or no Redis link: then its
 * rc is NGX_ERROR); NGX_AGAIN: the request waits (WAIT_REDIS) and the
 * phases re-run when it is known; NGX_ERROR: out of memory.
 */
ngx_int_t ngx_http_replicas_lookup(ngx_http_request_t *r,
    ngx_http_replicas_ctx_t *ctx, ngx_uint_t kind, const char *cache_key,
    size_t cache_key_len);


/* activity: workspaces with traffic, written in batches */
void ngx_http_replicas_activity_touch(const char *id, size_t len);
void ngx_http_replicas_activity_init_worker(ngx_cycle_t *cycle);


/* meter: a preview request with a valid API key (its hash), counted in
 * batches against the API's rate limit */
void ngx_http_replicas_meter_key(ngx_http_request_t *r, const char *hash);
void ngx_http_replicas_meter_init_worker(ngx_cycle_t *cycle);


/*
 * wake: holds, releases and notifies.  ngx_http_replicas_held() is the
 * HELD step: the first time it holds r (until its workspace's change is
 * published, or replicas_wake_hold ends it with 504) and says look once
 * more (NGX_DECLINED); then NGX_DECLINED after each change, NGX_AGAIN to
 * wait on; NGX_ERROR.
 */
ngx_int_t ngx_http_replicas_held(ngx_http_request_t *r,
    ngx_http_replicas_ctx_t *ctx);
void ngx_http_replicas_release(ngx_http_replicas_ctx_t *ctx);
void ngx_http_replicas_wake_notify(const char *id, size_t len);
/* the same change for GET /v1/events (ngx_http_replicas_stream.c) */
void ngx_http_replicas_stream_notify(const char *id, size_t len);
/* a look-up or script call landed: the wait is over (a change that came
 * meanwhile is remembered) */
void ngx_http_replicas_wait_over(ngx_http_replicas_ctx_t *ctx);
ngx_uint_t ngx_http_replicas_waiting(ngx_http_replicas_ctx_t *ctx);


/*
 * auth: who may open a preview, decided without I/O from what the request
 * carries and what the look-ups found.  DENY: v->error, a row of the
 * errors table, or NGX_HTTP_REPLICAS_ERR_NONE and a 302 (v->location,
 * with v->cookie if any).
 */
typedef enum {
    NGX_HTTP_REPLICAS_AUTH_ALLOW = 0,
    NGX_HTTP_REPLICAS_AUTH_NEED_KEY,      /* look up the credential's
                                             record (an API key, or the
                                             session or share a cookie or
                                             link names), decide again */
    NGX_HTTP_REPLICAS_AUTH_NEED_TICKET,   /* look up the ticket, decide
                                             again */
    NGX_HTTP_REPLICAS_AUTH_DENY
} ngx_http_replicas_auth_e;

typedef struct {
    ngx_uint_t                  lookup;       /* NEED_*: the lookup kind */
    ngx_str_t                   cache_key;    /* NEED_*: what to look up */
    ngx_uint_t                  error;        /* DENY */
    time_t                      retry_after;  /* DENY: rate_limited */
    ngx_str_t                   location;     /* DENY, no error: 302 */
    ngx_str_t                   cookie;       /* with it, if any */
    const char                 *meter;        /* ALLOW: a key's hash */
} ngx_http_replicas_verdict_t;

/* an ngx_http_replicas_auth_e, or NGX_ERROR */
ngx_int_t ngx_http_replicas_auth(ngx_http_request_t *r,
    ngx_http_replicas_ctx_t *ctx, ngx_http_replicas_verdict_t *v);
ngx_int_t ngx_http_replicas_cookie_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
/* signs fields joined by '|' with the newest key into a pool string */
ngx_int_t ngx_http_replicas_sign(ngx_http_request_t *r, ngx_str_t *payload,
    ngx_str_t *token);


/* request: what the module reads from a request; its ctx, and the re-run
 * of the phases of a request that waited in the access phase */
ngx_http_replicas_ctx_t *ngx_http_replicas_get_ctx(ngx_http_request_t *r);
void ngx_http_replicas_resume(ngx_http_request_t *r);
ngx_int_t ngx_http_replicas_wants_html(ngx_http_request_t *r);
ngx_table_elt_t *ngx_http_replicas_header(ngx_http_request_t *r,
    const char *name);
const char *ngx_http_replicas_scheme(ngx_http_request_t *r);
/* "<scheme>://<main domain>[:port]" as this request reached the gateway */
ngx_int_t ngx_http_replicas_main_origin(ngx_http_request_t *r,
    ngx_str_t *out);
ngx_table_elt_t *ngx_http_replicas_cookie_header(ngx_http_request_t *r,
    ngx_uint_t i);
ngx_uint_t ngx_http_replicas_get_cookies(ngx_http_request_t *r,
    const char *name, ngx_str_t *values, ngx_uint_t max);
ngx_int_t ngx_http_replicas_dashboard_credential(ngx_http_request_t *r,
    ngx_str_t *key_hash);
ngx_int_t ngx_http_replicas_get_cookie(ngx_http_request_t *r,
    const char *name, ngx_str_t *value);
ngx_uint_t ngx_http_replicas_unsafe_method(ngx_http_request_t *r);
/* 1: a browser sent this from another site (Origin, Sec-Fetch-Site) */
ngx_uint_t ngx_http_replicas_cross_site(ngx_http_request_t *r);
ngx_int_t ngx_http_replicas_body(ngx_http_request_t *r, ngx_str_t *body);


/* balancer: upstream replicas { replicas_balancer; keepalive N; } */
void *ngx_http_replicas_balancer_create_conf(ngx_conf_t *cf);
char *ngx_http_replicas_balancer(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_replicas_balancer_postconfiguration(ngx_conf_t *cf);
/* closes a workspace's idle connections (NULL: every workspace's) */
void ngx_http_replicas_balancer_forget(const char *id, size_t len);


/* site: the main site's names and cross-site checks (server rewrite) */
ngx_int_t ngx_http_replicas_site_handler(ngx_http_request_t *r);


/* filter: no platform cookie from a workspace's responses */
ngx_int_t ngx_http_replicas_filter_init(ngx_conf_t *cf);


/* session (main domain): login, logout, preview tickets */
ngx_int_t ngx_http_replicas_session_handler(ngx_http_request_t *r);


/* eval: one script call whose reply the handler turns into the answer */
ngx_int_t ngx_http_replicas_eval(ngx_http_request_t *r, ngx_str_t *script,
    ngx_uint_t argc, ngx_str_t *argv, ngx_http_replicas_eval_pt handler);
/* the same with its first nkeys arguments passed as KEYS[] */
ngx_int_t ngx_http_replicas_eval_keys(ngx_http_request_t *r,
    ngx_str_t *script, ngx_uint_t nkeys, ngx_uint_t argc, ngx_str_t *argv,
    ngx_http_replicas_eval_pt handler);


/* redis */

/* reply is a hiredis redisReply *, NULL when Redis failed; a NULL handler
 * sends without waiting for the answer */
typedef void (*ngx_http_replicas_reply_pt)(void *reply, void *data);

ngx_int_t ngx_http_replicas_redis_command(int argc, const char **argv,
    const size_t *argvlen, ngx_http_replicas_reply_pt handler, void *data);
typedef struct {
    ngx_uint_t                  status;
    ngx_str_t                   body;         /* points into the reply */
    time_t                      retry_after;
    ngx_str_t                   error;
    ngx_str_t                   actor;        /* a user id, or empty */
} ngx_http_replicas_script_reply_t;

ngx_int_t ngx_http_replicas_redis_script_reply(void *reply,
    ngx_http_replicas_script_reply_t *out);
ngx_int_t ngx_http_replicas_redis_init_worker(ngx_cycle_t *cycle,
    ngx_http_replicas_main_conf_t *rmcf);
void ngx_http_replicas_redis_exit_worker(void);
/*
 * Read lookup replies into a cache record: NGX_OK with "route" filled,
 * NGX_DECLINED for no such thing, NGX_ERROR for no answer.
 */
ngx_int_t ngx_http_replicas_redis_parse_route(void *reply,
    ngx_http_replicas_route_t *route);
ngx_int_t ngx_http_replicas_redis_parse_key(void *reply,
    ngx_http_replicas_route_t *cred);
ngx_int_t ngx_http_replicas_redis_parse_ref(void *reply,
    ngx_http_replicas_route_t *cred);
ngx_int_t ngx_http_replicas_redis_copy_string(void *reply, ngx_pool_t *pool,
    ngx_str_t *out);
/* a reply of two strings, copied */
ngx_int_t ngx_http_replicas_redis_copy_pair(void *reply, ngx_pool_t *pool,
    ngx_str_t *first, ngx_str_t *second);
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
/* marks a cached API key rate-limited until then (if it is cached) */
void ngx_http_replicas_cache_limit(ngx_shm_zone_t *zone, const char *id,
    size_t id_len, time_t until);
ngx_uint_t ngx_http_replicas_cache_epoch(ngx_shm_zone_t *zone);


/* env: environments' values, validated here and sealed (see the file) */
typedef struct ngx_http_replicas_env_s  ngx_http_replicas_env_t;

/*
 * Validates a PUT (patch: a PATCH, nulls remove) /v1/environments/{name}
 * body: NGX_OK with *out set,
 * NGX_DECLINED with a message in err, NGX_ERROR.
 */
ngx_int_t ngx_http_replicas_env_parse(ngx_http_request_t *r, json_t *body,
    ngx_uint_t patch, ngx_http_replicas_env_t **out, char *err,
    size_t err_size);
/* seals every value for org/name into one JSON object {field: token} */
ngx_int_t ngx_http_replicas_env_seal(ngx_http_request_t *r,
    ngx_http_replicas_env_t *env, ngx_str_t *org, ngx_str_t *name,
    ngx_str_t *sealed);
/* wipes the plaintext strings of a parsed body, and the raw body */
/*
 * Who may use it, as the PUT set it: "" (admins only), "all", or a JSON
 * list of user ids; and whether loader variables were allowed ("1"/"").
 */
void ngx_http_replicas_env_access(ngx_http_replicas_env_t *env,
    ngx_str_t *usable_by, ngx_str_t *allow_loader);

void ngx_http_replicas_env_wipe_json(json_t *body);
void ngx_http_replicas_env_wipe_body(ngx_http_request_t *r, ngx_str_t *body);


/* api */
ngx_int_t ngx_http_replicas_api_handler(ngx_http_request_t *r);
/* the request path's API step, for a replicas_api_events location:
 * NGX_OK to proxy, NGX_AGAIN, NGX_BUSY (waking: hold), NGX_DONE, a status */
ngx_int_t ngx_http_replicas_api_events(ngx_http_request_t *r,
    ngx_http_replicas_ctx_t *ctx);


/*
 * response: the errors of the request path, each a row of one table
 * (ngx_http_replicas_response.c: status, code, Retry-After, page or JSON,
 * message).  ngx_http_replicas_fail(r, NGX_HTTP_REPLICAS_ERR_..., args)
 * sends one and finalizes the request (NGX_DONE, for a phase handler);
 * ngx_http_replicas_error() only sends (a content handler's rc).  The
 * arguments fill the row's message; a row whose Retry-After is
 * NGX_HTTP_REPLICAS_RETRY_ARG takes it (time_t) first.  An error or'ed
 * with NGX_HTTP_REPLICAS_AS_JSON is JSON even for a browser.
 */
typedef enum {
    NGX_HTTP_REPLICAS_ERR_NONE = 0,       /* not an error (no row) */
    NGX_HTTP_REPLICAS_ERR_BAD_HOST,
    NGX_HTTP_REPLICAS_ERR_STATE_UNAVAILABLE,
    NGX_HTTP_REPLICAS_ERR_WORKSPACE_NOT_FOUND,
    NGX_HTTP_REPLICAS_ERR_WORKSPACE_FAILED,
    NGX_HTTP_REPLICAS_ERR_WORKSPACE_INVALID,
    NGX_HTTP_REPLICAS_ERR_WAKE_UNAVAILABLE,
    NGX_HTTP_REPLICAS_ERR_AWAKE_LIMIT,
    NGX_HTTP_REPLICAS_ERR_USER_AWAKE_LIMIT,
    NGX_HTTP_REPLICAS_ERR_WORKSPACE_WAKING,
    NGX_HTTP_REPLICAS_ERR_WAKE_TIMEOUT,
    NGX_HTTP_REPLICAS_ERR_ORIGIN_WEBSOCKET,
    NGX_HTTP_REPLICAS_ERR_ORIGIN_WRITE,
    NGX_HTTP_REPLICAS_ERR_CREDENTIAL_MISSING,
    NGX_HTTP_REPLICAS_ERR_KEY_UNKNOWN,
    NGX_HTTP_REPLICAS_ERR_NOT_YOUR_WORKSPACE,
    NGX_HTTP_REPLICAS_ERR_KEY_FORBIDDEN,
    NGX_HTTP_REPLICAS_ERR_CREDENTIAL_UNAVAILABLE,
    NGX_HTTP_REPLICAS_ERR_TICKET_UNAVAILABLE,
    NGX_HTTP_REPLICAS_ERR_TICKET_INVALID,
    NGX_HTTP_REPLICAS_ERR_RATE_LIMITED,
    NGX_HTTP_REPLICAS_ERR_UPSTREAM,
    NGX_HTTP_REPLICAS_ERR_PORT_TIMEOUT,
    NGX_HTTP_REPLICAS_ERR_PORT_NOT_OPEN,
    NGX_HTTP_REPLICAS_ERR_API_NOT_FOUND,
    NGX_HTTP_REPLICAS_ERR_API_METHOD,
    NGX_HTTP_REPLICAS_ERR_API_UNAUTHORIZED,
    NGX_HTTP_REPLICAS_ERR_API_UNAVAILABLE,
    NGX_HTTP_REPLICAS_ERR_ENGINE_ADDRESS,
    NGX_HTTP_REPLICAS_ERR_ENGINE_UNREACHABLE,
    NGX_HTTP_REPLICAS_ERR_ENGINE_TIMEOUT,
    NGX_HTTP_REPLICAS_ERR_LAST            /* the count of rows */
} ngx_http_replicas_err_e;

#define NGX_HTTP_REPLICAS_AS_JSON      0x100
#define NGX_HTTP_REPLICAS_RETRY_ARG    ((time_t) -1)
#define NGX_HTTP_REPLICAS_MESSAGE_MAX  (384 + RP_WS_ID_MAX)

ngx_int_t ngx_http_replicas_fail(ngx_http_request_t *r, ngx_uint_t err, ...);
/* finalizes a request answered outside its phase handler (a timer, a
 * reply) */
void ngx_http_replicas_finish(ngx_http_request_t *r, ngx_int_t rc);
ngx_int_t ngx_http_replicas_error(ngx_http_request_t *r, ngx_uint_t err,
    ...);

/* response */
ngx_int_t ngx_http_replicas_send_json(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t *body, time_t retry_after);
ngx_int_t ngx_http_replicas_send_json_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *code, ngx_str_t *message,
    time_t retry_after);
ngx_int_t ngx_http_replicas_send_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *code, ngx_str_t *message,
    time_t retry_after);
ngx_int_t ngx_http_replicas_upstream_error_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_replicas_add_cookie(ngx_http_request_t *r,
    ngx_str_t *cookie);
ngx_int_t ngx_http_replicas_cookie(ngx_http_request_t *r, const char *name,
    ngx_str_t *value, time_t max_age, ngx_str_t *out);
/* 302/303 to location, with an optional Set-Cookie (already formatted) */
ngx_int_t ngx_http_replicas_redirect(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t *location, ngx_str_t *cookie);
/* a small HTML page (body is trusted markup) */
ngx_int_t ngx_http_replicas_send_html(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t *body, ngx_str_t *cookie);

#endif /* NGX_HTTP_REPLICAS_H */
