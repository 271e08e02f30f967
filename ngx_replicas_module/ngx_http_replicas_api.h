/*
 * The HTTP API v1's files, and what they share: the operation a request
 * names and the request's API state.
 *
 *   ngx_http_replicas_api.c           the handler, the Redis call, the
 *                                     events endpoint
 *   ngx_http_replicas_api_route.c     method and path to an operation
 *   ngx_http_replicas_api_validate.c  the body's fields, per operation, into
 *                                     the script's arguments
 */

#ifndef NGX_HTTP_REPLICAS_API_H
#define NGX_HTTP_REPLICAS_API_H

#include "ngx_http_replicas.h"


#define NGX_HTTP_REPLICAS_API_ARGS   16


/* the operations, in lua/api.lua's names (ngx_http_replicas_api.c) */
typedef enum {
    RP_API_LIST = 0,
    RP_API_CREATE,
    RP_API_GET,
    RP_API_DELETE,
    RP_API_MESSAGE,
    RP_API_SLEEP,
    RP_API_WAKE,
    RP_API_PREVIEWS_LIST,
    RP_API_PREVIEW_ADD,
    RP_API_PREVIEW_DELETE,
    RP_API_SHARE_CREATE,
    RP_API_SHARE_DELETE,
    RP_API_EVENTS,
    RP_API_ENV_LIST,
    RP_API_ENV_GET,
    RP_API_ENV_PUT,
    RP_API_ENV_DELETE,
    RP_API_ENV_AUTH,         /* a PUT's first call: whose key is it */
    RP_API_HOOKS,
    RP_API_COLLABORATORS,    /* who besides the owner may act on it */
    RP_API_SHARES_LIST,
    RP_API_USERS_LIST,       /* admins: the organisation's users */
    RP_API_USER_DISABLE,     /* admins: offboarding (common/rp_offboard.h) */
    RP_API_USER_DELETE,      /* (the script's first call checks the key) */
    RP_API_GIT,              /* the engine's GET /git, proxied (dashboard) */
    RP_API_DIFF,             /* the engine's GET /diff?repo=, proxied */
    RP_API_INTERRUPT,        /* POST .../chats/{name}/interrupt, proxied */
    RP_API_FILES,            /* the engine's GET /files?repo=&path=, proxied */
    RP_API_FILE_CONTENT,     /* its GET /files/content?repo=&path=, proxied */
    RP_API_GIT_ACTION,       /* its POST /git/{update,push,pull-request} */
    RP_API_HISTORY,          /* a sleeping one's events, from Redis */
    RP_API_ORG_EVENTS,       /* GET /v1/events: the stream's snapshot */
    RP_API_WATCH,            /* one of its changes (never a path's) */
    RP_API_PRESENCE,         /* POST .../presence: the caller views it */
    RP_API_PRESENCE_LEAVE,   /* DELETE .../presence: no longer */
    RP_API_KEYS_LIST,        /* GET /v1/keys: by prefix, never the key */
    RP_API_KEY_CREATE,       /* POST /v1/keys: the key answered once */
    RP_API_KEY_REVOKE,       /* DELETE /v1/keys/{prefix} (then
                                common/rp_offboard.h, as control's) */
    RP_API_USER_CREATE,      /* admins: POST /v1/users */
    RP_API_LOGIN_LINK,       /* POST /v1/users/{id}/login-link */
    RP_API_ENV_PATCH,        /* PATCH /v1/environments/{name}: a merge */
    RP_API_STATS,            /* GET /v1/stats?days=N: the Stats page */
    RP_API_PREWARM,          /* POST /v1/prewarm: warm while typing */
    RP_API_ENGINE,           /* its GET /healthz, proxied; never a wake */
    RP_API_OPS
} rp_api_op_e;


typedef struct {
    ngx_uint_t                     op;
    ngx_uint_t                     answered;    /* events: outcome known */
    ngx_uint_t                     status;      /* events: the answer */
    ngx_uint_t                     error;       /* events: or this row of
                                                   the errors table */
    ngx_uint_t                     waking;      /* events: hold, ask again */
    ngx_str_t                      body;
    time_t                         retry_after;
    ngx_str_t                      ws;          /* workspace id, or empty */
    ngx_str_t                      port;        /* preview port from path */
    ngx_str_t                      share;       /* share id from path */
    ngx_str_t                      env;         /* environment from path */
    ngx_str_t                      user;        /* user id from path */
    ngx_str_t                      prefix;      /* key prefix from path */
    ngx_str_t                      secret;      /* a new key or login
                                                   token: in the answer
                                                   once, never in Redis */
    ngx_uint_t                     then;        /* env_auth: PUT or PATCH */
    ngx_http_replicas_env_t       *env_values;  /* a PUT's, until sealed */
    ngx_str_t                      key_hash;
    ngx_uint_t                     nargs;
    ngx_str_t                      args[NGX_HTTP_REPLICAS_API_ARGS];
} ngx_http_replicas_api_ctx_t;


/*
 * Sets ctx->op and what the path names (ws, port, share, env, user,
 * prefix).
 * Returns NGX_OK, NGX_HTTP_NOT_FOUND or NGX_HTTP_NOT_ALLOWED.
 */
ngx_int_t ngx_http_replicas_api_route(ngx_http_request_t *r,
    ngx_http_replicas_api_ctx_t *ctx);

/*
 * Checks the path's values and the body (NULL when none was sent) for
 * ctx->op and appends the script's arguments to ctx->args.  Returns
 * NGX_OK; NGX_DECLINED when the operation needs a body and has none;
 * NGX_ERROR with a message in err (400) or err empty (500).
 */
ngx_int_t ngx_http_replicas_api_validate(ngx_http_request_t *r,
    ngx_http_replicas_api_ctx_t *ctx, json_t *body, char *err,
    size_t err_size);

/*
 * lua/api.lua's op for ctx's credential and ctx->ws, answered to handler
 * (NGX_OK: in flight; NGX_DECLINED: no Redis link now).
 */
ngx_int_t ngx_http_replicas_api_call_op(ngx_http_request_t *r,
    ngx_http_replicas_api_ctx_t *ctx, ngx_http_replicas_eval_pt handler);
/* a script's reply answered as the API answers it (JSON, status) */
void ngx_http_replicas_api_answer(ngx_http_request_t *r, void *reply);

/* GET /v1/events (ngx_http_replicas_stream.c): the opening call's
 * handler */
void ngx_http_replicas_stream_open(ngx_http_request_t *r, void *reply);

#endif /* NGX_HTTP_REPLICAS_API_H */
