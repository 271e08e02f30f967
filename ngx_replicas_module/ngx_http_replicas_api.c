/*
 * The HTTP API v1 on the main domain (contract in README.md, "HTTP API v1").
 *
 * The gateway does what needs no state: route the path, check the bearer
 * credential's form, bound and parse the JSON body (jansson), validate
 * every field.  Then one EVAL of lua/api.lua does the rest in Redis
 * atomically: authenticate the key (stored as its SHA-256), rate-limit,
 * authorise, write state together with the job it needs.  The request
 * waits for the reply without blocking the worker, under a deadline.
 */

#include "ngx_http_replicas.h"
#include "common/rp_token.h"
#include "common/rp_url.h"
#include "common/rp_offboard.h"
#include "common/rp_agents.h"


#define NGX_HTTP_REPLICAS_API_ARGS   16


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
    RP_API_GIT_ACTION        /* its POST /git/{update,push,pull-request} */
} rp_api_op_e;


static const char  *rp_api_op_names[] = {
    "list", "create", "get", "delete", "message", "sleep", "wake",
    "previews_list", "preview_add", "preview_delete", "share_create",
    "share_delete", "events", "env_list", "env_get", "env_put",
    "env_delete", "env_auth", "hooks", "collaborators", "shares_list",
    "users_list", "user_disable", "user_delete", "git", "diff", "interrupt",
    "files", "file_content", "git_action"
};


/* what the engine answers, proxied by a location with replicas_api_events
 * once the script has authenticated the call: events, hooks, git, diff,
 * files, a chat's interrupt (the dashboard's Stop), git's actions */
static ngx_uint_t
ngx_http_replicas_api_proxied(ngx_uint_t op)
{
    return op == RP_API_EVENTS || op == RP_API_HOOKS || op == RP_API_GIT
           || op == RP_API_DIFF || op == RP_API_INTERRUPT || op == RP_API_FILES
           || op == RP_API_FILE_CONTENT || op == RP_API_GIT_ACTION;
}


typedef struct {
    ngx_uint_t                     op;
    ngx_uint_t                     pending;     /* events: EVAL in flight */
    ngx_uint_t                     answered;    /* events: outcome known */
    ngx_uint_t                     status;      /* events: error to send */
    ngx_uint_t                     waking;      /* events: hold, ask again */
    ngx_str_t                      body;
    time_t                         retry_after;
    ngx_str_t                      ws;          /* workspace id, or empty */
    ngx_str_t                      port;        /* preview port from path */
    ngx_str_t                      share;       /* share id from path */
    ngx_str_t                      env;         /* environment from path */
    ngx_str_t                      user;        /* user id from path */
    ngx_http_replicas_env_t       *env_values;  /* a PUT's, until sealed */
    ngx_str_t                      key_hash;
    ngx_uint_t                     nargs;
    ngx_str_t                      args[NGX_HTTP_REPLICAS_API_ARGS];
} ngx_http_replicas_api_ctx_t;


static ngx_http_replicas_api_ctx_t *
ngx_http_replicas_api_ctx(ngx_http_request_t *r)
{
    ngx_http_replicas_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_replicas_module);

    return ctx ? ctx->api : NULL;
}


static ngx_int_t
ngx_http_replicas_api_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *text)
{
    ngx_str_t  msg;

    msg.data = (u_char *) text;
    msg.len = ngx_strlen(text);

    return ngx_http_replicas_send_json_error(r, status, code, &msg, 0);
}


/* ---- routing ------------------------------------------------------------ */

/*
 * /v1/environments[/{name}]: the name is checked with the body (400).
 * Returns NGX_OK with ctx->op set, NGX_HTTP_NOT_FOUND, or
 * NGX_HTTP_NOT_ALLOWED.
 */

static ngx_int_t
ngx_http_replicas_api_route_env(ngx_http_request_t *r,
    ngx_http_replicas_api_ctx_t *ctx, u_char *p, u_char *end)
{
    ngx_uint_t  m;

    m = r->method;

    if (p < end && *(end - 1) == '/') {
        end--;                                  /* one trailing slash */
    }

    if (p == end) {
        ctx->op = RP_API_ENV_LIST;
        return m == NGX_HTTP_GET ? NGX_OK : NGX_HTTP_NOT_ALLOWED;
    }

    if (*p != '/' || end - p < 2
        || ngx_strlchr(p + 1, end, '/') != NULL)
    {
        return NGX_HTTP_NOT_FOUND;
    }

    ctx->env.data = p + 1;
    ctx->env.len = end - p - 1;

    ctx->op = (m == NGX_HTTP_GET) ? RP_API_ENV_GET
              : (m == NGX_HTTP_PUT) ? RP_API_ENV_PUT
              : (m == NGX_HTTP_DELETE) ? RP_API_ENV_DELETE : (ngx_uint_t) -1;

    return ctx->op == (ngx_uint_t) -1 ? NGX_HTTP_NOT_ALLOWED : NGX_OK;
}


/*
 * /v1/users (GET), /v1/users/{id} (DELETE), /v1/users/{id}/disable
 * (POST): admins offboard, with the same script as replicas-control.
 */

static ngx_int_t
ngx_http_replicas_api_route_users(ngx_http_request_t *r,
    ngx_http_replicas_api_ctx_t *ctx, u_char *p, u_char *end)
{
    u_char      *id;
    ngx_uint_t   m;

    static const char  disable[] = "/disable";

    m = r->method;

    if (p < end && *(end - 1) == '/') {
        end--;                                  /* one trailing slash */
    }

    if (p == end) {
        ctx->op = RP_API_USERS_LIST;
        return m == NGX_HTTP_GET ? NGX_OK : NGX_HTTP_NOT_ALLOWED;
    }

    if (*p != '/') {
        return NGX_HTTP_NOT_FOUND;
    }

    id = ++p;

    while (p < end && *p != '/') {
        p++;
    }

    if (p - id > NGX_HTTP_REPLICAS_USER_MAX
        || !rp_ws_id_valid((char *) id, p - id))
    {
        return NGX_HTTP_NOT_FOUND;
    }

    ctx->user.data = id;
    ctx->user.len = p - id;

    if (p == end) {
        ctx->op = RP_API_USER_DELETE;
        return m == NGX_HTTP_DELETE ? NGX_OK : NGX_HTTP_NOT_ALLOWED;
    }

    if ((size_t) (end - p) != sizeof(disable) - 1
        || ngx_strncmp(p, disable, sizeof(disable) - 1) != 0)
    {
        return NGX_HTTP_NOT_FOUND;
    }

    ctx->op = RP_API_USER_DISABLE;
    return m == NGX_HTTP_POST ? NGX_OK : NGX_HTTP_NOT_ALLOWED;
}


/*
 * /v1/workspaces[/{id}[/messages|sleep|wake|events|previews[/{port}]]]
 * and /v1/environments[/{name}].  Returns NGX_OK with ctx->op set,
 * NGX_HTTP_NOT_FOUND, or NGX_HTTP_NOT_ALLOWED.
 */

static ngx_int_t
ngx_http_replicas_api_route(ngx_http_request_t *r,
    ngx_http_replicas_api_ctx_t *ctx)
{
    u_char      *p, *end, *seg[5];
    size_t       len[5];
    ngx_uint_t   n, m;

    static const char  prefix[] = "/v1/workspaces";
    static const char  env_prefix[] = "/v1/environments";
    static const char  users_prefix[] = "/v1/users";

    p = r->uri.data;
    end = r->uri.data + r->uri.len;

    if (r->uri.len >= sizeof(users_prefix) - 1
        && ngx_strncmp(p, users_prefix, sizeof(users_prefix) - 1) == 0
        && (r->uri.len == sizeof(users_prefix) - 1
            || p[sizeof(users_prefix) - 1] == '/'))
    {
        return ngx_http_replicas_api_route_users(r, ctx,
                                                 p + sizeof(users_prefix) - 1,
                                                 end);
    }

    if (r->uri.len >= sizeof(env_prefix) - 1
        && ngx_strncmp(p, env_prefix, sizeof(env_prefix) - 1) == 0)
    {
        return ngx_http_replicas_api_route_env(r, ctx,
                                               p + sizeof(env_prefix) - 1,
                                               end);
    }

    if (r->uri.len < sizeof(prefix) - 1
        || ngx_strncmp(p, prefix, sizeof(prefix) - 1) != 0)
    {
        return NGX_HTTP_NOT_FOUND;
    }

    p += sizeof(prefix) - 1;

    if (p < end && *(end - 1) == '/') {
        end--;                                  /* one trailing slash */
    }

    for (n = 0; p < end; n++) {
        if (*p != '/' || n == 5) {
            return NGX_HTTP_NOT_FOUND;
        }

        seg[n] = ++p;

        while (p < end && *p != '/') {
            p++;
        }

        len[n] = p - seg[n];

        if (len[n] == 0) {
            return NGX_HTTP_NOT_FOUND;
        }
    }

    m = r->method;

    if (n == 0) {
        ctx->op = (m == NGX_HTTP_GET) ? RP_API_LIST
                  : (m == NGX_HTTP_POST) ? RP_API_CREATE : (ngx_uint_t) -1;
        return ctx->op == (ngx_uint_t) -1 ? NGX_HTTP_NOT_ALLOWED : NGX_OK;
    }

    if (!rp_ws_id_valid((char *) seg[0], len[0])) {
        return NGX_HTTP_NOT_FOUND;
    }

    ctx->ws.data = seg[0];
    ctx->ws.len = len[0];

    if (n == 1) {
        ctx->op = (m == NGX_HTTP_GET) ? RP_API_GET
                  : (m == NGX_HTTP_DELETE) ? RP_API_DELETE : (ngx_uint_t) -1;
        return ctx->op == (ngx_uint_t) -1 ? NGX_HTTP_NOT_ALLOWED : NGX_OK;
    }

#define rp_seg_is(i, s)                                                      \
    (len[i] == sizeof(s) - 1 && ngx_strncmp(seg[i], s, sizeof(s) - 1) == 0)

    if (n == 2 && rp_seg_is(1, "messages")) {
        ctx->op = RP_API_MESSAGE;
        return m == NGX_HTTP_POST ? NGX_OK : NGX_HTTP_NOT_ALLOWED;
    }

    if (n == 2 && rp_seg_is(1, "sleep")) {
        ctx->op = RP_API_SLEEP;
        return m == NGX_HTTP_POST ? NGX_OK : NGX_HTTP_NOT_ALLOWED;
    }

    if (n == 2 && rp_seg_is(1, "wake")) {
        ctx->op = RP_API_WAKE;
        return m == NGX_HTTP_POST ? NGX_OK : NGX_HTTP_NOT_ALLOWED;
    }

    if (n == 2 && rp_seg_is(1, "events")) {
        ctx->op = RP_API_EVENTS;
        return m == NGX_HTTP_GET ? NGX_OK : NGX_HTTP_NOT_ALLOWED;
    }

    if (n == 2 && rp_seg_is(1, "hooks")) {
        ctx->op = RP_API_HOOKS;
        return m == NGX_HTTP_GET ? NGX_OK : NGX_HTTP_NOT_ALLOWED;
    }

    if (n == 2 && rp_seg_is(1, "git")) {
        ctx->op = RP_API_GIT;
        return m == NGX_HTTP_GET ? NGX_OK : NGX_HTTP_NOT_ALLOWED;
    }

    if (n == 2 && rp_seg_is(1, "diff")) {
        ctx->op = RP_API_DIFF;
        return m == NGX_HTTP_GET ? NGX_OK : NGX_HTTP_NOT_ALLOWED;
    }

    if (n == 2 && rp_seg_is(1, "files")) {
        ctx->op = RP_API_FILES;
        return m == NGX_HTTP_GET ? NGX_OK : NGX_HTTP_NOT_ALLOWED;
    }

    if (n == 3 && rp_seg_is(1, "git")
        && (rp_seg_is(2, "update") || rp_seg_is(2, "push")
            || rp_seg_is(2, "pull-request")))
    {
        ctx->op = RP_API_GIT_ACTION;
        return m == NGX_HTTP_POST ? NGX_OK : NGX_HTTP_NOT_ALLOWED;
    }

    if (n == 3 && rp_seg_is(1, "files") && rp_seg_is(2, "content")) {
        ctx->op = RP_API_FILE_CONTENT;
        return m == NGX_HTTP_GET ? NGX_OK : NGX_HTTP_NOT_ALLOWED;
    }

    /* the chat's name is checked by the location's regex */
    if (n == 4 && rp_seg_is(1, "chats") && rp_seg_is(3, "interrupt")) {
        ctx->op = RP_API_INTERRUPT;
        return m == NGX_HTTP_POST ? NGX_OK : NGX_HTTP_NOT_ALLOWED;
    }

    if (n == 2 && rp_seg_is(1, "collaborators")) {
        ctx->op = RP_API_COLLABORATORS;
        return m == NGX_HTTP_PUT ? NGX_OK : NGX_HTTP_NOT_ALLOWED;
    }

    if (n == 2 && rp_seg_is(1, "previews")) {
        ctx->op = (m == NGX_HTTP_GET) ? RP_API_PREVIEWS_LIST
                  : (m == NGX_HTTP_POST) ? RP_API_PREVIEW_ADD
                  : (m == NGX_HTTP_DELETE) ? RP_API_PREVIEW_DELETE
                  : (ngx_uint_t) -1;
        return ctx->op == (ngx_uint_t) -1 ? NGX_HTTP_NOT_ALLOWED : NGX_OK;
    }

    if (n == 4 && rp_seg_is(1, "previews") && rp_seg_is(3, "shares")) {
        ctx->op = (m == NGX_HTTP_GET) ? RP_API_SHARES_LIST
                  : (m == NGX_HTTP_POST) ? RP_API_SHARE_CREATE
                  : (ngx_uint_t) -1;
        ctx->port.data = seg[2];
        ctx->port.len = len[2];
        return ctx->op == (ngx_uint_t) -1 ? NGX_HTTP_NOT_ALLOWED : NGX_OK;
    }

    if (n == 5 && rp_seg_is(1, "previews") && rp_seg_is(3, "shares")) {
        if (!rp_ws_id_valid((char *) seg[4], len[4]) || len[4] > 32) {
            return NGX_HTTP_NOT_FOUND;
        }

        ctx->op = RP_API_SHARE_DELETE;
        ctx->port.data = seg[2];
        ctx->port.len = len[2];
        ctx->share.data = seg[4];
        ctx->share.len = len[4];
        return m == NGX_HTTP_DELETE ? NGX_OK : NGX_HTTP_NOT_ALLOWED;
    }

    if (n == 3 && rp_seg_is(1, "previews")) {
        ctx->op = RP_API_PREVIEW_DELETE;
        ctx->port.data = seg[2];
        ctx->port.len = len[2];
        return m == NGX_HTTP_DELETE ? NGX_OK : NGX_HTTP_NOT_ALLOWED;
    }

#undef rp_seg_is

    return NGX_HTTP_NOT_FOUND;
}


/* ---- validation ----------------------------------------------------------- */

static ngx_int_t
ngx_http_replicas_api_add(ngx_http_request_t *r,
    ngx_http_replicas_api_ctx_t *ctx, const char *s, size_t len)
{
    u_char  *p;

    if (ctx->nargs == NGX_HTTP_REPLICAS_API_ARGS) {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(r->pool, len ? len : 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(p, s, len);
    ctx->args[ctx->nargs].data = p;
    ctx->args[ctx->nargs].len = len;
    ctx->nargs++;

    return NGX_OK;
}


/* A printable UTF-8 string without control characters, 1..max bytes. */

static ngx_int_t
ngx_http_replicas_api_text_ok(const char *s, size_t len, size_t max,
    ngx_uint_t newlines)
{
    size_t  i;

    if (len == 0 || len > max) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if ((u_char) s[i] < 0x20 && !(newlines && (s[i] == '\n'
                                                   || s[i] == '\t'
                                                   || s[i] == '\r')))
        {
            return 0;
        }

        if (s[i] == 0x7f) {
            return 0;
        }
    }

    return 1;
}


static ngx_int_t
ngx_http_replicas_api_slug_ok(const char *s, size_t len, size_t max,
    const char *extra)
{
    size_t  i;

    if (len == 0 || len > max) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')
              || (s[i] >= 'A' && s[i] <= 'Z' && extra[0] == 'A')
              || ngx_strlchr((u_char *) extra, (u_char *) extra
                             + ngx_strlen(extra), s[i]) != NULL))
        {
            return 0;
        }
    }

    return 1;
}


typedef struct {
    const char  *name;
    int          type;           /* JSON_STRING or JSON_INTEGER */
    ngx_uint_t   required;
} rp_api_field_t;


/*
 * Checks that body is an object whose members are among fields, of the
 * right types, with the required ones present.  Fills out[i] (NULL when
 * absent).  On failure writes a message into err.
 */

static ngx_int_t
ngx_http_replicas_api_fields(json_t *body, const rp_api_field_t *fields,
    json_t **out, char *err, size_t err_size)
{
    const char  *name;
    json_t      *value;
    ngx_uint_t   i;

    if (!json_is_object(body)) {
        ngx_snprintf((u_char *) err, err_size, "the body must be a JSON object%Z");
        return NGX_ERROR;
    }

    json_object_foreach(body, name, value) {
        for (i = 0; fields[i].name; i++) {
            if (ngx_strcmp(name, fields[i].name) == 0) {
                break;
            }
        }

        if (fields[i].name == NULL) {
            ngx_snprintf((u_char *) err, err_size, "unknown field \"%*s\"%Z",
                         ngx_min(ngx_strlen(name), 64), name);
            return NGX_ERROR;
        }
    }

    for (i = 0; fields[i].name; i++) {
        out[i] = json_object_get(body, fields[i].name);

        if (out[i] == NULL || json_is_null(out[i])) {
            out[i] = NULL;

            if (fields[i].required) {
                ngx_snprintf((u_char *) err, err_size,
                             "\"%s\" is required%Z", fields[i].name);
                return NGX_ERROR;
            }

            continue;
        }

        if ((int) json_typeof(out[i]) != fields[i].type) {
            ngx_snprintf((u_char *) err, err_size, "\"%s\" must be %s%Z",
                         fields[i].name, fields[i].type == JSON_STRING
                         ? "a string" : fields[i].type == JSON_ARRAY
                         ? "an array" : "an integer");
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


#define RP_API_REPOS_MAX  8      /* repositories in one workspace */


#define rp_api_invalid(text)                                                 \
    do { ngx_cpystrn((u_char *) err, (u_char *) (text), err_size);           \
         return NGX_ERROR; } while (0)


/*
 * A share link: a token signed here, "s|<preview host>|<share id>|
 * h:<share id>|<expiry>", that the preview host accepts without a login
 * while Redis still holds the share (revoking deletes it).
 */

static ngx_int_t
ngx_http_replicas_api_share(ngx_http_request_t *r,
    ngx_http_replicas_api_ctx_t *ctx, json_t *body, char *err,
    size_t err_size)
{
    char                          id[17];
    u_char                       *p;
    json_t                       *f[1];
    time_t                        ttl, expires;
    ngx_int_t                     port;
    ngx_str_t                     payload, token, num;
    ngx_http_replicas_loc_conf_t  *rlcf;

    static const rp_api_field_t  fields[] = {
        { "expires_in", JSON_INTEGER, 0 }, { NULL, 0, 0 }
    };

    port = ctx->port.data[0] == '0'
           ? NGX_ERROR : ngx_atoi(ctx->port.data, ctx->port.len);

    if (port < 1 || port > 65535) {
        rp_api_invalid("the port must be an integer from 1 to 65535");
    }

    if (port == RP_PORT_ENGINE || port == RP_PORT_DESKTOP) {
        rp_api_invalid("ports 3737 (engine) and 6080 (desktop) cannot be "
                       "shared");
    }

    num.data = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (num.data == NULL) {
        return NGX_ERROR;
    }

    num.len = ngx_sprintf(num.data, "%i", port) - num.data;

    if (ngx_http_replicas_api_add(r, ctx, (char *) num.data, num.len)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ctx->op == RP_API_SHARE_DELETE) {
        return ngx_http_replicas_api_add(r, ctx, (char *) ctx->share.data,
                                         ctx->share.len);
    }

    if (ctx->op == RP_API_SHARES_LIST) {
        return NGX_OK;
    }

    ttl = 3600;

    if (body) {
        if (ngx_http_replicas_api_fields(body, fields, f, err, err_size)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (f[0]) {
            if (json_integer_value(f[0]) < 60
                || json_integer_value(f[0]) > 7 * 86400)
            {
                rp_api_invalid("\"expires_in\" must be from 60 seconds to "
                               "7 days (604800)");
            }

            ttl = (time_t) json_integer_value(f[0]);
        }
    }

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_replicas_module);

    if (rp_random_id(16, id) != 0) {
        return NGX_ERROR;
    }

    expires = ngx_time() + ttl;

    payload.data = ngx_pnalloc(r->pool, 128 + rlcf->domain.len);
    if (payload.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(payload.data, "s|%i-%V.%V|%s|" RP_CACHE_KEY_SHARE "%s|%T",
                    port, &ctx->ws, &rlcf->domain, id, id, expires);
    payload.len = p - payload.data;

    if (ngx_http_replicas_sign(r, &payload, &token) != NGX_OK) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(num.data, "%T", expires);

    if (ngx_http_replicas_api_add(r, ctx, id, 16) != NGX_OK
        || ngx_http_replicas_api_add(r, ctx, (char *) num.data,
                                     p - num.data) != NGX_OK
        || ngx_http_replicas_api_add(r, ctx, (char *) token.data, token.len)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * PUT .../collaborators {"collaborators": ["<user id>", ...]}: the whole
 * list (at most 32), as JSON for the script, which checks each is a user
 * of the organisation.
 */

static ngx_int_t
ngx_http_replicas_api_collaborators(ngx_http_request_t *r,
    ngx_http_replicas_api_ctx_t *ctx, json_t *body, char *err,
    size_t err_size)
{
    char       *text;
    size_t      i;
    json_t     *f[1], *v;
    ngx_int_t   rc;

    static const rp_api_field_t  fields[] = {
        { "collaborators", JSON_ARRAY, 1 }, { NULL, 0, 0 }
    };

    if (ngx_http_replicas_api_fields(body, fields, f, err, err_size)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (json_array_size(f[0]) > 32) {
        rp_api_invalid("\"collaborators\" holds at most 32 user ids");
    }

    json_array_foreach(f[0], i, v) {
        if (!json_is_string(v)
            || !rp_ws_id_valid(json_string_value(v), json_string_length(v)))
        {
            rp_api_invalid("\"collaborators\" must be a list of user ids");
        }
    }

    text = json_dumps(f[0], JSON_COMPACT);
    if (text == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_replicas_api_add(r, ctx, text, ngx_strlen(text));
    free(text);

    return rc;
}


static ngx_int_t
ngx_http_replicas_api_validate(ngx_http_request_t *r,
    ngx_http_replicas_api_ctx_t *ctx, json_t *body, char *err,
    size_t err_size)
{
    char         id[RP_WS_ID_MAX + 1];
    size_t       len, i;
    json_t      *f[7], *all, *v;
    const char  *s;
    char        *text, why[256];
    ngx_int_t    port, rc;

    static const rp_api_field_t  create[] = {
        { "repository", JSON_STRING, 1 }, { "name", JSON_STRING, 0 },
        { "environment", JSON_STRING, 0 }, { "agent", JSON_STRING, 0 },
        { "message", JSON_STRING, 0 }, { "repositories", JSON_ARRAY, 0 },
        { NULL, 0, 0 }
    };

    static const rp_api_field_t  message[] = {
        { "text", JSON_STRING, 1 }, { "chat", JSON_STRING, 0 },
        { "kind", JSON_STRING, 0 }, { NULL, 0, 0 }
    };

    static const rp_api_field_t  preview[] = {
        { "port", JSON_INTEGER, 1 }, { "visibility", JSON_STRING, 0 },
        { NULL, 0, 0 }
    };

    static const rp_api_field_t  preview_delete[] = {
        { "port", JSON_INTEGER, 1 }, { NULL, 0, 0 }
    };

    switch (ctx->op) {

    case RP_API_CREATE:
        if (ngx_http_replicas_api_fields(body, create, f, err, err_size)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        /* a fresh id now; the script keeps an earlier one on a repeat */
        if (rp_random_id(12, id) != 0
            || ngx_http_replicas_api_add(r, ctx, id, 12) != NGX_OK
            || ngx_http_replicas_api_add(r, ctx, (char *) ctx->key_hash.data
                                         + ctx->key_hash.len + 1,
                                         ngx_strlen(ctx->key_hash.data
                                                    + ctx->key_hash.len + 1))
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        s = json_string_value(f[0]);
        len = json_string_length(f[0]);

        if (!ngx_http_replicas_api_text_ok(s, len, 512, 0)
            || ngx_strlchr((u_char *) s, (u_char *) s + len, ' ') != NULL)
        {
            rp_api_invalid("\"repository\" must be a URL or path of 1 to 512 "
                           "characters without spaces");
        }

        if (rp_url_has_userinfo(s, len)) {
            rp_api_invalid("no credentials in a repository URL: put the "
                           "token in an environment as REPLICAS_GIT_TOKEN");
        }

        /* this machine or a range no setting allows: refused before any
         * job; names are resolved and checked by control */
        if (rp_repo_url_refused(s, len, why, sizeof(why))) {
            rp_api_invalid(why);
        }

        if (ngx_http_replicas_api_add(r, ctx, s, len) != NGX_OK) {
            return NGX_ERROR;
        }

        s = f[1] ? json_string_value(f[1]) : "";
        len = f[1] ? json_string_length(f[1]) : 0;

        if (f[1] && !ngx_http_replicas_api_slug_ok(s, len, 100, "A ._-")) {
            rp_api_invalid("\"name\" must be 1 to 100 letters, digits, "
                           "spaces, dots, dashes or underscores");
        }

        if (ngx_http_replicas_api_add(r, ctx, s, len) != NGX_OK) {
            return NGX_ERROR;
        }

        s = f[2] ? json_string_value(f[2]) : "";
        len = f[2] ? json_string_length(f[2]) : 0;

        if (f[2] && !rp_env_name_ok(s, len)) {
            rp_api_invalid("\"environment\" must be 1 to 64 lowercase "
                           "letters, digits, dashes or underscores, "
                           "starting with a letter or digit");
        }

        if (ngx_http_replicas_api_add(r, ctx, s, len) != NGX_OK) {
            return NGX_ERROR;
        }

        s = f[3] ? json_string_value(f[3]) : RP_AGENT_DEFAULT;
        len = ngx_strlen(s);

        if (rp_agent_index(s, len) < 0) {
            rp_api_invalid("\"agent\" must be one of " RP_AGENT_NAMES);
        }

        if (ngx_http_replicas_api_add(r, ctx, s, len) != NGX_OK) {
            return NGX_ERROR;
        }

        s = f[4] ? json_string_value(f[4]) : "";
        len = f[4] ? json_string_length(f[4]) : 0;

        if (f[4] && !ngx_http_replicas_api_text_ok(s, len, 32768, 1)) {
            rp_api_invalid("\"message\" must be 1 to 32768 characters");
        }

        if (ngx_http_replicas_api_add(r, ctx, s, len) != NGX_OK) {
            return NGX_ERROR;
        }

        /* more repositories beside the first, each its own directory
         * under /workspace: the whole list, or "" for one */
        if (f[5] == NULL || json_array_size(f[5]) == 0) {
            return ngx_http_replicas_api_add(r, ctx, "", 0);
        }

        if (json_array_size(f[5]) > RP_API_REPOS_MAX - 1) {
            rp_api_invalid("\"repositories\" holds at most 7 more "
                           "repositories");
        }

        all = json_array();
        if (all == NULL || json_array_append(all, f[0]) != 0) {
            json_decref(all);
            return NGX_ERROR;
        }

        json_array_foreach(f[5], i, v) {
            s = json_string_value(v);
            len = json_string_length(v);

            if (!json_is_string(v)
                || !ngx_http_replicas_api_text_ok(s, len, 512, 0)
                || ngx_strlchr((u_char *) s, (u_char *) s + len, ' ') != NULL
                || rp_url_has_userinfo(s, len)
                || json_array_append(all, v) != 0)
            {
                json_decref(all);
                rp_api_invalid("\"repositories\" must be URLs or paths of 1 "
                               "to 512 characters without spaces or "
                               "credentials");
            }

            if (rp_repo_url_refused(s, len, why, sizeof(why))) {
                json_decref(all);
                rp_api_invalid(why);
            }
        }

        text = json_dumps(all, JSON_COMPACT);
        json_decref(all);

        if (text == NULL) {
            return NGX_ERROR;
        }

        rc = ngx_http_replicas_api_add(r, ctx, text, ngx_strlen(text));
        free(text);

        return rc;

    case RP_API_MESSAGE:
        if (ngx_http_replicas_api_fields(body, message, f, err, err_size)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        s = json_string_value(f[0]);
        len = json_string_length(f[0]);

        if (!ngx_http_replicas_api_text_ok(s, len, 32768, 1)) {
            rp_api_invalid("\"text\" must be 1 to 32768 characters");
        }

        if (ngx_http_replicas_api_add(r, ctx, s, len) != NGX_OK) {
            return NGX_ERROR;
        }

        s = f[1] ? json_string_value(f[1]) : "default";
        len = ngx_strlen(s);

        if (!ngx_http_replicas_api_slug_ok(s, len, 64, "_-")) {
            rp_api_invalid("\"chat\" must be 1 to 64 lowercase letters, "
                           "digits, dashes or underscores");
        }

        if (ngx_http_replicas_api_add(r, ctx, s, len) != NGX_OK) {
            return NGX_ERROR;
        }

        /* what it is ("ci_failure"): waiting messages of one kind fold
         * into one turn in the engine; "" for a person's message */
        s = f[2] ? json_string_value(f[2]) : "";
        len = f[2] ? json_string_length(f[2]) : 0;

        if (f[2] && !ngx_http_replicas_api_slug_ok(s, len, 64, "._-")) {
            rp_api_invalid("\"kind\" must be 1 to 64 lowercase letters, "
                           "digits, dots, dashes or underscores");
        }

        return ngx_http_replicas_api_add(r, ctx, s, len);

    case RP_API_SHARE_CREATE:
    case RP_API_SHARE_DELETE:
    case RP_API_SHARES_LIST:
        return ngx_http_replicas_api_share(r, ctx, body, err, err_size);

    case RP_API_COLLABORATORS:
        return ngx_http_replicas_api_collaborators(r, ctx, body, err,
                                                   err_size);

    case RP_API_USER_DISABLE:
    case RP_API_USER_DELETE:
        return ngx_http_replicas_api_add(r, ctx, (char *) ctx->user.data,
                                         ctx->user.len);

    case RP_API_ENV_GET:
    case RP_API_ENV_PUT:
    case RP_API_ENV_DELETE:
        if (!rp_env_name_ok((char *) ctx->env.data, ctx->env.len)) {
            rp_api_invalid("an environment name is 1 to 64 lowercase "
                           "letters, digits, dashes or underscores, "
                           "starting with a letter or digit");
        }

        if (ctx->op == RP_API_ENV_PUT) {
            switch (ngx_http_replicas_env_parse(r, body, &ctx->env_values,
                                                err, err_size))
            {
            case NGX_OK:
                break;
            case NGX_DECLINED:
                return NGX_ERROR;       /* a message in err: 400 */
            default:
                err[0] = '\0';
                return NGX_ERROR;
            }
        }

        return ngx_http_replicas_api_add(r, ctx, (char *) ctx->env.data,
                                         ctx->env.len);

    case RP_API_PREVIEW_ADD:
    case RP_API_PREVIEW_DELETE:
        if (ctx->port.len) {
            port = ctx->port.data[0] == '0'
                   ? NGX_ERROR : ngx_atoi(ctx->port.data, ctx->port.len);

        } else {
            if (ngx_http_replicas_api_fields(body, ctx->op == RP_API_PREVIEW_ADD
                                             ? preview : preview_delete,
                                             f, err, err_size)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            port = (ngx_int_t) json_integer_value(f[0]);
        }

        if (port < 1 || port > 65535) {
            rp_api_invalid("\"port\" must be an integer from 1 to 65535");
        }

        id[0] = '\0';
        len = ngx_sprintf((u_char *) id, "%i", port) - (u_char *) id;

        if (ngx_http_replicas_api_add(r, ctx, id, len) != NGX_OK) {
            return NGX_ERROR;
        }

        if (ctx->op == RP_API_PREVIEW_DELETE) {
            return NGX_OK;
        }

        s = f[1] ? json_string_value(f[1]) : "authenticated";

        if (ngx_strcmp(s, "public") != 0
            && ngx_strcmp(s, "authenticated") != 0)
        {
            rp_api_invalid("\"visibility\" must be public or authenticated");
        }

        if (ngx_strcmp(s, "public") == 0
            && (port == RP_PORT_ENGINE || port == RP_PORT_DESKTOP))
        {
            rp_api_invalid("ports 3737 (engine) and 6080 (desktop) are "
                           "always authenticated");
        }

        return ngx_http_replicas_api_add(r, ctx, s, ngx_strlen(s));

    default:
        return NGX_OK;
    }
}


/* ---- the Redis call --------------------------------------------------------- */

static void
ngx_http_replicas_api_reply(ngx_http_request_t *r, void *reply)
{
    ngx_str_t                         body, msg;
    ngx_http_replicas_script_reply_t  v;

    if (ngx_http_replicas_redis_script_reply(reply, &v) != NGX_OK) {
        if (reply != NULL) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "replicas: api script failed: %V", &v.error);
        }

        ngx_str_set(&msg, "the API cannot reach its state store right now; "
                    "retry shortly");
        ngx_http_replicas_finish(r,
            ngx_http_replicas_send_json_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                              "state_unavailable", &msg, 1));
        return;
    }

    /* the reply is freed when this returns: the answer keeps a copy */
    body.data = ngx_pnalloc(r->pool, v.body.len);
    if (body.data == NULL) {
        ngx_http_replicas_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_memcpy(body.data, v.body.data, v.body.len);
    body.len = v.body.len;

    ngx_http_replicas_finish(r,
        ngx_http_replicas_send_json(r, v.status, &body, v.retry_after));
}


static ngx_int_t
ngx_http_replicas_api_call_with(ngx_http_request_t *r,
    ngx_http_replicas_api_ctx_t *ctx, ngx_http_replicas_eval_pt handler)
{
    u_char                         *p;
    ngx_str_t                       host, args[6 + NGX_HTTP_REPLICAS_API_ARGS];
    ngx_uint_t                      i, n;
    ngx_http_replicas_loc_conf_t   *rlcf;
    ngx_http_replicas_main_conf_t  *rmcf;

    rmcf = ngx_http_get_module_main_conf(r, ngx_http_replicas_module);
    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_replicas_module);

    /* preview URLs as the caller reached us: scheme and Host with port */
    if (r->headers_in.host) {
        host = r->headers_in.host->value;
    } else {
        host = rlcf->domain;
    }

    n = 0;

    args[n].data = (u_char *) rp_api_op_names[ctx->op];
    args[n++].len = ngx_strlen(rp_api_op_names[ctx->op]);

    args[n++] = ctx->key_hash;

    p = ngx_pnalloc(r->pool, host.len + 32 + 2 * NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    args[n].data = p;
    p = ngx_sprintf(p, "%T", ngx_time());
    args[n].len = p - args[n].data;
    n++;

    args[n].data = p;
    p = ngx_sprintf(p, "%ui", rlcf->api_rate);
    args[n].len = p - args[n].data;
    n++;

    args[n].data = p;
    p = ngx_sprintf(p, "%s://{port}-{id}.%V", ngx_http_replicas_scheme(r),
                    &host);
    args[n].len = p - args[n].data;
    n++;

    args[n++] = ctx->ws;

    for (i = 0; i < ctx->nargs; i++) {
        args[n++] = ctx->args[i];
    }

    return ngx_http_replicas_eval(r, &rmcf->api_script, n, args, handler);
}


static ngx_int_t
ngx_http_replicas_api_call(ngx_http_request_t *r,
    ngx_http_replicas_api_ctx_t *ctx)
{
    return ngx_http_replicas_api_call_with(r, ctx,
                                           ngx_http_replicas_api_reply);
}


/*
 * PUT /v1/environments/{name}, second step.  The first call (env_auth)
 * authenticated the key and named its organisation; the values are
 * sealed for that organisation here, then the second call (env_put)
 * stores the tokens, checking the key is still of that organisation.
 */

static void
ngx_http_replicas_api_env_authed(ngx_http_request_t *r, void *reply)
{
    u_char                            *p;
    json_t                            *json, *org;
    ngx_int_t                          rc;
    ngx_str_t                          msg, o, sealed, usable, allow;
    ngx_http_replicas_api_ctx_t       *ctx;
    ngx_http_replicas_main_conf_t     *rmcf;
    ngx_http_replicas_script_reply_t   v;

    ctx = ngx_http_replicas_api_ctx(r);
    rmcf = ngx_http_get_module_main_conf(r, ngx_http_replicas_module);

    if (ngx_http_replicas_redis_script_reply(reply, &v) != NGX_OK
        || v.status != NGX_HTTP_OK)
    {
        /* unauthorised, rate-limited, no Redis: answered as any call */
        ngx_http_replicas_api_reply(r, reply);
        return;
    }

    if (!rmcf->secrets_set) {
        ngx_str_set(&msg, "this deployment has no secrets key "
                    "(replicas_secrets_key), so environment values cannot "
                    "be stored");
        ngx_http_replicas_finish(r,
            ngx_http_replicas_send_json_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                              "secrets_unconfigured", &msg,
                                              0));
        return;
    }

    json = json_loadb((char *) v.body.data, v.body.len, 0, NULL);
    org = json ? json_object_get(json, "org") : NULL;

    if (!json_is_string(org) || json_string_length(org) == 0
        || json_string_length(org) > NGX_HTTP_REPLICAS_ORG_MAX)
    {
        if (json) {
            json_decref(json);
        }

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "replicas: env_auth answered without an organisation");
        ngx_http_replicas_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    o.len = json_string_length(org);
    p = ngx_pnalloc(r->pool, o.len);

    if (p != NULL) {
        ngx_memcpy(p, json_string_value(org), o.len);
    }

    o.data = p;
    json_decref(json);

    ngx_http_replicas_env_access(ctx->env_values, &usable, &allow);

    if (p == NULL
        || ngx_http_replicas_env_seal(r, ctx->env_values, &o, &ctx->env,
                                      &sealed) != NGX_OK
        || ctx->nargs + 4 > NGX_HTTP_REPLICAS_API_ARGS)
    {
        ngx_http_replicas_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx->env_values = NULL;

    /* ARGV 7 name (already there), 8 organisation, 9 {field: token},
     * 10 usable_by ("", "all", JSON list), 11 allow_loader_variables */
    ctx->args[ctx->nargs++] = o;
    ctx->args[ctx->nargs++] = sealed;
    ctx->args[ctx->nargs++] = usable;
    ctx->args[ctx->nargs++] = allow;
    ctx->op = RP_API_ENV_PUT;

    rc = ngx_http_replicas_api_call(r, ctx);

    if (rc == NGX_OK) {
        return;
    }

    if (rc == NGX_DECLINED) {
        ngx_str_set(&msg, "the API cannot reach its state store right now; "
                    "retry shortly");
        ngx_http_replicas_finish(r,
            ngx_http_replicas_send_json_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                              "state_unavailable", &msg, 1));
        return;
    }

    ngx_http_replicas_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
}


/*
 * POST /v1/users/{id}/disable, DELETE /v1/users/{id}, second step: the
 * first call (lua/api.lua's user_disable or user_delete) checked the key is an admin's and named its
 * organisation; then the offboarding script, the one replicas-control
 * runs, confined to that organisation.
 */

static void
ngx_http_replicas_api_user_authed(ngx_http_request_t *r, void *reply)
{
    u_char                            *p;
    json_t                            *json, *org;
    ngx_int_t                          rc;
    ngx_str_t                          msg, script, args[5];
    ngx_http_replicas_api_ctx_t       *ctx;
    ngx_http_replicas_script_reply_t   v;

    ctx = ngx_http_replicas_api_ctx(r);

    if (ngx_http_replicas_redis_script_reply(reply, &v) != NGX_OK
        || v.status != NGX_HTTP_OK)
    {
        ngx_http_replicas_api_reply(r, reply);
        return;
    }

    json = json_loadb((char *) v.body.data, v.body.len, 0, NULL);
    org = json ? json_object_get(json, "org") : NULL;

    if (!json_is_string(org) || json_string_length(org) == 0
        || json_string_length(org) > NGX_HTTP_REPLICAS_ORG_MAX)
    {
        if (json) {
            json_decref(json);
        }

        ngx_http_replicas_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    p = ngx_pnalloc(r->pool, NGX_HTTP_REPLICAS_ORG_MAX + NGX_TIME_T_LEN);
    if (p == NULL) {
        json_decref(json);
        ngx_http_replicas_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    args[4].data = p;
    args[4].len = json_string_length(org);
    p = ngx_cpymem(p, json_string_value(org), args[4].len);
    json_decref(json);

    args[3].data = p;
    args[3].len = ngx_sprintf(p, "%T", ngx_time()) - p;

    ngx_str_set(&args[0], "user");
    args[1] = ctx->user;

    if (ctx->op == RP_API_USER_DELETE) {
        ngx_str_set(&args[2], "delete");
    } else {
        ngx_str_set(&args[2], "disable");
    }

    script.data = (u_char *) rp_offboard_lua;
    script.len = rp_offboard_lua_len;

    rc = ngx_http_replicas_eval(r, &script, 5, args,
                                ngx_http_replicas_api_reply);

    if (rc == NGX_OK) {
        return;
    }

    if (rc == NGX_DECLINED) {
        ngx_str_set(&msg, "the API cannot reach its state store right now; "
                    "retry shortly");
        ngx_http_replicas_finish(r,
            ngx_http_replicas_send_json_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                              "state_unavailable", &msg, 1));
        return;
    }

    ngx_http_replicas_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
}


/* ---- the handler -------------------------------------------------------------- */

static ngx_int_t
ngx_http_replicas_api_run(ngx_http_request_t *r)
{
    char                          err[256];
    ngx_str_t                     msg, body;
    json_t                       *json;
    ngx_int_t                     rc;
    json_error_t                  jerr;
    ngx_http_replicas_api_ctx_t   *ctx;
    ngx_http_replicas_loc_conf_t  *rlcf;

    ctx = ngx_http_replicas_api_ctx(r);
    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_replicas_module);

    json = NULL;

    rc = ngx_http_replicas_body(r, &body);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED || body.len > rlcf->api_body_max) {
        return ngx_http_replicas_api_error(r,
                   NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, "body_too_large",
                   "the request body is too large");
    }

    if (body.len) {
        json = json_loadb((char *) body.data, body.len,
                          JSON_REJECT_DUPLICATES, &jerr);

        if (ctx->op == RP_API_ENV_PUT) {
            /* environment values: only jansson's copies are left */
            ngx_http_replicas_env_wipe_body(r, &body);
        }

        if (json == NULL) {
            ngx_snprintf((u_char *) err, sizeof(err),
                         "the body is not valid JSON: %s%Z", jerr.text);
            return ngx_http_replicas_api_error(r, NGX_HTTP_BAD_REQUEST,
                                               "invalid_json", err);
        }
    }

    if (json == NULL
        && (ctx->op == RP_API_CREATE || ctx->op == RP_API_MESSAGE
            || ctx->op == RP_API_COLLABORATORS
            || (ctx->op == RP_API_PREVIEW_ADD) || ctx->op == RP_API_ENV_PUT
            || (ctx->op == RP_API_PREVIEW_DELETE && ctx->port.len == 0)))
    {
        return ngx_http_replicas_api_error(r, NGX_HTTP_BAD_REQUEST,
                                           "invalid_json",
                                           "this request needs a JSON body");
    }

    err[0] = '\0';
    rc = ngx_http_replicas_api_validate(r, ctx, json, err, sizeof(err));

    if (ctx->op == RP_API_ENV_PUT) {
        /* environment values: only the copies to seal are left */
        ngx_http_replicas_env_wipe_json(json);
    }

    if (json) {
        json_decref(json);
    }

    if (rc != NGX_OK) {
        if (err[0] == '\0') {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_replicas_api_error(r, NGX_HTTP_BAD_REQUEST,
                                           "invalid_request", err);
    }

    if (ngx_http_replicas_api_proxied(ctx->op)) {
        /* only a location with replicas_api_events proxies them */
        return ngx_http_replicas_api_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                           "events, hooks, git, diff, files "
                                           "and interrupt are served by a "
                                           "location with replicas_api_events");
    }

    if (ctx->op == RP_API_ENV_PUT) {
        ctx->op = RP_API_ENV_AUTH;
        rc = ngx_http_replicas_api_call_with(r, ctx,
                                             ngx_http_replicas_api_env_authed);

    } else if (ctx->op == RP_API_USER_DISABLE
               || ctx->op == RP_API_USER_DELETE)
    {
        rc = ngx_http_replicas_api_call_with(r, ctx,
                                             ngx_http_replicas_api_user_authed);

    } else {
        rc = ngx_http_replicas_api_call(r, ctx);
    }

    if (rc == NGX_OK) {
        return NGX_DONE;
    }

    if (rc == NGX_DECLINED) {
        ngx_str_set(&msg, "the API cannot reach its state store right now; "
                    "retry shortly");
        return ngx_http_replicas_send_json_error(r,
                   NGX_HTTP_SERVICE_UNAVAILABLE, "state_unavailable", &msg, 1);
    }

    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}


static void
ngx_http_replicas_api_body_read(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    rc = ngx_http_replicas_api_run(r);

    if (rc != NGX_DONE) {
        ngx_http_replicas_finish(r, rc);
    }
}


/* "Bearer <key>": the key is only ever handled as its SHA-256 */

static ngx_int_t
ngx_http_replicas_api_credential(ngx_http_request_t *r,
    ngx_http_replicas_ctx_t *rctx, ngx_http_replicas_api_ctx_t *ctx)
{
    u_char           *hash;
    ngx_str_t         v;
    ngx_table_elt_t  *idem;

    if (r->headers_in.authorization == NULL) {
        /* the dashboard's session cookie (ngx_http_replicas_dashboard.c) */
        return ngx_http_replicas_dashboard_credential(r, &ctx->key_hash);
    }

    v = r->headers_in.authorization->value;

    if (v.len <= 7 || ngx_strncasecmp(v.data, (u_char *) "Bearer ", 7) != 0) {
        return NGX_DECLINED;
    }

    v.data += 7;
    v.len -= 7;

    while (v.len && v.data[0] == ' ') {
        v.data++;
        v.len--;
    }

    if (v.len == 0 || v.len > 256) {
        return NGX_DECLINED;
    }

    /* the key's hash, then (for create) the Idempotency-Key's */
    hash = ngx_pnalloc(r->pool, 2 * (RP_SHA256_HEX + 1));
    if (hash == NULL) {
        return NGX_ERROR;
    }

    rp_sha256_hex(v.data, v.len, (char *) hash);
    hash[RP_SHA256_HEX + 1] = '\0';

    /* the log's actor; a 401 from the script names no one */
    ngx_http_replicas_actor_key(r, rctx, v.data, v.len);

    ctx->key_hash.data = hash;
    ctx->key_hash.len = RP_SHA256_HEX;

    idem = ngx_http_replicas_header(r, "Idempotency-Key");

    if (idem) {
        if (idem->value.len == 0 || idem->value.len > 255) {
            return NGX_ABORT;
        }

        rp_sha256_hex(idem->value.data, idem->value.len,
                      (char *) hash + RP_SHA256_HEX + 1);
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_replicas_api_handler(ngx_http_request_t *r)
{
    ngx_int_t                      rc;
    ngx_http_replicas_ctx_t       *rctx;
    ngx_http_replicas_api_ctx_t   *ctx;
    ngx_http_replicas_loc_conf_t  *rlcf;

    rctx = ngx_http_replicas_get_ctx(r);
    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_replicas_api_ctx_t));
    if (rctx == NULL || ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rctx->api = ctx;

    rc = ngx_http_replicas_api_route(r, ctx);

    if (rc == NGX_HTTP_NOT_FOUND) {
        return ngx_http_replicas_api_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                           "no such API endpoint");
    }

    if (rc == NGX_HTTP_NOT_ALLOWED) {
        return ngx_http_replicas_api_error(r, NGX_HTTP_NOT_ALLOWED,
                                           "method_not_allowed",
                                           "this endpoint does not take that "
                                           "method");
    }

    rc = ngx_http_replicas_api_credential(r, rctx, ctx);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_replicas_api_error(r, NGX_HTTP_UNAUTHORIZED,
                                           "unauthorized",
                                           "send an API key as "
                                           "\"Authorization: Bearer <key>\"");
    }

    if (rc == NGX_ABORT) {
        return ngx_http_replicas_api_error(r, NGX_HTTP_BAD_REQUEST,
                                           "invalid_request",
                                           "Idempotency-Key must be 1 to 255 "
                                           "characters");
    }

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_replicas_module);

    if (r->headers_in.content_length_n > (off_t) rlcf->api_body_max) {
        return ngx_http_replicas_api_error(r,
                   NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, "body_too_large",
                   "the request body is too large");
    }

    /* the whole body in one memory buffer, never a temp file */
    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r, ngx_http_replicas_api_body_read);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


/* ---- events: authenticated here, proxied to the workspace's engine ------ */

/*
 * GET /v1/workspaces/{id}/events in a location with replicas_api_events:
 * in the access phase, the same EVAL as every API call authenticates the
 * key (a workspace-scoped one only for its own workspace), rate-limits
 * and finds the workspace's address; then nginx's proxy module streams
 * the engine's server-sent events (proxy_pass http://$replicas_upstream).
 */

static void
ngx_http_replicas_api_events_reply(ngx_http_request_t *r, void *reply)
{
    u_char                            *p;
    json_t                            *json, *addr;
    ngx_http_replicas_ctx_t           *rctx;
    ngx_http_replicas_api_ctx_t       *ctx;
    ngx_http_replicas_script_reply_t   v;

    rctx = ngx_http_get_module_ctx(r, ngx_http_replicas_module);
    ctx = rctx->api;
    ctx->pending = 0;
    rctx->pending = 0;
    ctx->answered = 1;
    ctx->waking = 0;
    ctx->status = NGX_HTTP_SERVICE_UNAVAILABLE;
    ctx->retry_after = 1;
    ngx_str_set(&ctx->body, "{\"error\":{\"code\":\"state_unavailable\","
                "\"message\":\"the API cannot reach its state store right "
                "now; retry shortly\"}}\n");

    if (ngx_http_replicas_redis_script_reply(reply, &v) == NGX_OK) {
        ctx->status = v.status;
        ctx->retry_after = v.retry_after;
        ctx->body.data = ngx_pnalloc(r->pool, v.body.len);

        if (ctx->body.data == NULL) {
            ctx->status = NGX_HTTP_INTERNAL_SERVER_ERROR;
            ctx->body.len = 0;

        } else {
            ngx_memcpy(ctx->body.data, v.body.data, v.body.len);
            ctx->body.len = v.body.len;
        }
    }

    /* asleep, and the script asked for the wake: held like a program's
     * preview request, and asked again when the change is published */
    if (ctx->status == NGX_HTTP_SERVICE_UNAVAILABLE
        && ngx_strlcasestrn(ctx->body.data, ctx->body.data + ctx->body.len,
                            (u_char *) "\"workspace_waking\"", 18 - 1)
           != NULL)
    {
        ctx->waking = 1;
    }

    if (ctx->status == NGX_HTTP_OK) {
        json = json_loadb((char *) ctx->body.data, ctx->body.len, 0, NULL);
        addr = json ? json_object_get(json, "addr") : NULL;

        if (addr && json_is_string(addr)
            && json_string_length(addr) < NGX_HTTP_REPLICAS_ADDR_MAX
            && ngx_inet_addr((u_char *) json_string_value(addr),
                             json_string_length(addr)) != INADDR_NONE)
        {
            p = ngx_pnalloc(r->pool, NGX_HTTP_REPLICAS_ADDR_MAX + 8);

            if (p) {
                rctx->upstream.data = p;
                rctx->upstream.len = ngx_sprintf(p, "%s:%d",
                                                 json_string_value(addr),
                                                 RP_PORT_ENGINE) - p;
            }
        }

        if (rctx->upstream.len == 0) {
            ctx->status = NGX_HTTP_BAD_GATEWAY;
            ngx_str_set(&ctx->body, "{\"error\":{\"code\":"
                        "\"workspace_invalid\",\"message\":\"the workspace "
                        "has no valid address\"}}\n");
        }

        if (json) {
            json_decref(json);
        }
    }

    ngx_http_replicas_resume(r);
}


/*
 * A stream asked for while its workspace wakes: held in the wake module's
 * list (released by the published change, 504 past replicas_wake_hold),
 * then the script is asked again; awake, it is proxied.
 */

static ngx_int_t
ngx_http_replicas_api_events_held(ngx_http_request_t *r,
    ngx_http_replicas_ctx_t *rctx, ngx_http_replicas_api_ctx_t *ctx)
{
    ngx_int_t  rc;

    if (rctx->held && !rctx->route_fresh && !rctx->renotify) {
        /* held, and nothing published since the last answer: wait on */
        rctx->pending = 1;
        return NGX_AGAIN;
    }

    if (rctx->held == NULL) {
        rc = ngx_http_replicas_wake_hold(r, rctx);

        if (rc == NGX_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    rctx->route_fresh = 0;
    rctx->renotify = 0;

    rc = ngx_http_replicas_api_call_with(r, ctx,
                                         ngx_http_replicas_api_events_reply);

    if (rc != NGX_OK) {
        ngx_http_replicas_wake_done(rctx);
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    /* in flight: a change published meanwhile marks renotify (see
     * ngx_http_replicas_wake_notify), so it is not missed */
    ctx->pending = 1;
    rctx->pending = 2;

    return NGX_AGAIN;
}


ngx_int_t
ngx_http_replicas_api_events_access(ngx_http_request_t *r)
{
    ngx_int_t                     rc;
    ngx_str_t                     msg;
    ngx_http_replicas_ctx_t      *rctx;
    ngx_http_replicas_api_ctx_t  *ctx;

    rctx = ngx_http_replicas_get_ctx(r);
    if (rctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx = rctx->api;

    if (ctx) {
        if (ctx->pending) {
            return NGX_AGAIN;
        }

        if (rctx->upstream.len) {
            ngx_http_replicas_wake_done(rctx);
            return NGX_OK;
        }

        if (ctx->waking) {
            return ngx_http_replicas_api_events_held(r, rctx, ctx);
        }

        ngx_http_replicas_wake_done(rctx);
        ngx_http_finalize_request(r,
            ngx_http_replicas_send_json(r, ctx->status, &ctx->body,
                                        ctx->retry_after));
        return NGX_DONE;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_replicas_api_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rctx->api = ctx;

    rc = ngx_http_replicas_api_route(r, ctx);

    if (rc != NGX_OK
        || !ngx_http_replicas_api_proxied(ctx->op))
    {
        ngx_str_set(&msg, "no such API endpoint");
        ngx_http_finalize_request(r,
            ngx_http_replicas_send_json_error(r, rc == NGX_HTTP_NOT_ALLOWED
                                              ? NGX_HTTP_NOT_ALLOWED
                                              : NGX_HTTP_NOT_FOUND,
                                              rc == NGX_HTTP_NOT_ALLOWED
                                              ? "method_not_allowed"
                                              : "not_found", &msg, 0));
        return NGX_DONE;
    }

    /* the engine identifies the stream by the path's workspace */
    ngx_memcpy(rctx->host.id, ctx->ws.data, ctx->ws.len);
    rctx->host.id[ctx->ws.len] = '\0';
    rctx->host.id_len = ctx->ws.len;
    rctx->host.port = RP_PORT_ENGINE;

    rc = ngx_http_replicas_api_credential(r, rctx, ctx);

    if (rc != NGX_OK) {
        if (rc == NGX_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_str_set(&msg, "send an API key as \"Authorization: Bearer "
                    "<key>\"");
        ngx_http_finalize_request(r,
            ngx_http_replicas_send_json_error(r, NGX_HTTP_UNAUTHORIZED,
                                              "unauthorized", &msg, 0));
        return NGX_DONE;
    }

    rc = ngx_http_replicas_api_call_with(r, ctx,
                                         ngx_http_replicas_api_events_reply);

    if (rc == NGX_OK) {
        ctx->pending = 1;
        r->read_event_handler = ngx_http_test_reading;
        r->write_event_handler = ngx_http_request_empty_handler;
        return NGX_AGAIN;
    }

    if (rc == NGX_DECLINED) {
        ngx_str_set(&msg, "the API cannot reach its state store right now; "
                    "retry shortly");
        ngx_http_finalize_request(r,
            ngx_http_replicas_send_json_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                              "state_unavailable", &msg, 1));
        return NGX_DONE;
    }

    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}
