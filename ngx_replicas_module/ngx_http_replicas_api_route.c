/*
 * The HTTP API v1's routing: a request's method and path to one of the
 * operations of ngx_http_replicas_api.h, with what the path names (the
 * workspace, a port, a share, an environment, a user, a key's prefix).  No I/O: the
 * handler and the events endpoint both start here.
 */

#include "ngx_http_replicas_api.h"


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
              : (m == NGX_HTTP_PATCH) ? RP_API_ENV_PATCH
              : (m == NGX_HTTP_DELETE) ? RP_API_ENV_DELETE : (ngx_uint_t) -1;

    return ctx->op == (ngx_uint_t) -1 ? NGX_HTTP_NOT_ALLOWED : NGX_OK;
}


/*
 * /v1/users (GET, POST), /v1/users/{id} (DELETE), /v1/users/{id}/disable
 * and /login-link (POST): admins add and offboard users (offboarding with
 * the same script as replicas-control); a login link for a user.
 */

static ngx_int_t
ngx_http_replicas_api_route_users(ngx_http_request_t *r,
    ngx_http_replicas_api_ctx_t *ctx, u_char *p, u_char *end)
{
    u_char      *id;
    ngx_uint_t   m;

    static const char  disable[] = "/disable";
    static const char  login[] = "/login-link";

    m = r->method;

    if (p < end && *(end - 1) == '/') {
        end--;                                  /* one trailing slash */
    }

    if (p == end) {
        ctx->op = (m == NGX_HTTP_GET) ? RP_API_USERS_LIST
                  : (m == NGX_HTTP_POST) ? RP_API_USER_CREATE
                  : (ngx_uint_t) -1;
        return ctx->op == (ngx_uint_t) -1 ? NGX_HTTP_NOT_ALLOWED : NGX_OK;
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

    if ((size_t) (end - p) == sizeof(login) - 1
        && ngx_strncmp(p, login, sizeof(login) - 1) == 0)
    {
        ctx->op = RP_API_LOGIN_LINK;
        return m == NGX_HTTP_POST ? NGX_OK : NGX_HTTP_NOT_ALLOWED;
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
 * /v1/keys (GET, POST), /v1/keys/{prefix} (DELETE): API keys by their
 * public prefix (8 of [a-z0-9], rp_keys.h).
 */

static ngx_int_t
ngx_http_replicas_api_route_keys(ngx_http_request_t *r,
    ngx_http_replicas_api_ctx_t *ctx, u_char *p, u_char *end)
{
    ngx_uint_t  m;

    m = r->method;

    if (p < end && *(end - 1) == '/') {
        end--;                                  /* one trailing slash */
    }

    if (p == end) {
        ctx->op = (m == NGX_HTTP_GET) ? RP_API_KEYS_LIST
                  : (m == NGX_HTTP_POST) ? RP_API_KEY_CREATE
                  : (ngx_uint_t) -1;
        return ctx->op == (ngx_uint_t) -1 ? NGX_HTTP_NOT_ALLOWED : NGX_OK;
    }

    if (*p != '/' || end - p - 1 != RP_APIKEY_PREFIX_LEN
        || !rp_ws_id_valid((char *) p + 1, end - p - 1))
    {
        return NGX_HTTP_NOT_FOUND;
    }

    ctx->prefix.data = p + 1;
    ctx->prefix.len = end - p - 1;
    ctx->op = RP_API_KEY_REVOKE;

    return m == NGX_HTTP_DELETE ? NGX_OK : NGX_HTTP_NOT_ALLOWED;
}


/*
 * /v1/workspaces[/{id}[/messages|sleep|wake|events|engine|presence|
 *     previews[/{port}]]],
 * /v1/environments[/{name}], /v1/users..., /v1/keys[/{prefix}], /v1/events,
 * /v1/stats and /v1/prewarm.  Returns NGX_OK with ctx->op set,
 * NGX_HTTP_NOT_FOUND, or NGX_HTTP_NOT_ALLOWED.
 */

ngx_int_t
ngx_http_replicas_api_route(ngx_http_request_t *r,
    ngx_http_replicas_api_ctx_t *ctx)
{
    u_char      *p, *end, *seg[5];
    size_t       len[5];
    ngx_uint_t   n, m;

    static const char  prefix[] = "/v1/workspaces";
    static const char  env_prefix[] = "/v1/environments";
    static const char  users_prefix[] = "/v1/users";
    static const char  keys_prefix[] = "/v1/keys";
    static const char  events[] = "/v1/events";
    static const char  stats[] = "/v1/stats";
    static const char  prewarm[] = "/v1/prewarm";

    p = r->uri.data;
    end = r->uri.data + r->uri.len;

    if ((r->uri.len == sizeof(events) - 1
         || (r->uri.len == sizeof(events) && p[r->uri.len - 1] == '/'))
        && ngx_strncmp(p, events, sizeof(events) - 1) == 0)
    {
        ctx->op = RP_API_ORG_EVENTS;
        return r->method == NGX_HTTP_GET ? NGX_OK : NGX_HTTP_NOT_ALLOWED;
    }

    if ((r->uri.len == sizeof(stats) - 1
         || (r->uri.len == sizeof(stats) && p[r->uri.len - 1] == '/'))
        && ngx_strncmp(p, stats, sizeof(stats) - 1) == 0)
    {
        ctx->op = RP_API_STATS;
        return r->method == NGX_HTTP_GET ? NGX_OK : NGX_HTTP_NOT_ALLOWED;
    }

    /* the New workspace form's repository, before the create */
    if ((r->uri.len == sizeof(prewarm) - 1
         || (r->uri.len == sizeof(prewarm) && p[r->uri.len - 1] == '/'))
        && ngx_strncmp(p, prewarm, sizeof(prewarm) - 1) == 0)
    {
        ctx->op = RP_API_PREWARM;
        return r->method == NGX_HTTP_POST ? NGX_OK : NGX_HTTP_NOT_ALLOWED;
    }

    if (r->uri.len >= sizeof(users_prefix) - 1
        && ngx_strncmp(p, users_prefix, sizeof(users_prefix) - 1) == 0
        && (r->uri.len == sizeof(users_prefix) - 1
            || p[sizeof(users_prefix) - 1] == '/'))
    {
        return ngx_http_replicas_api_route_users(r, ctx,
                                                 p + sizeof(users_prefix) - 1,
                                                 end);
    }

    if (r->uri.len >= sizeof(keys_prefix) - 1
        && ngx_strncmp(p, keys_prefix, sizeof(keys_prefix) - 1) == 0
        && (r->uri.len == sizeof(keys_prefix) - 1
            || p[sizeof(keys_prefix) - 1] == '/'))
    {
        return ngx_http_replicas_api_route_keys(r, ctx,
                                                p + sizeof(keys_prefix) - 1,
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

    if (n == 2 && rp_seg_is(1, "history")) {
        ctx->op = RP_API_HISTORY;
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

    /* the dashboard's engine check: its /healthz, never a wake */
    if (n == 2 && rp_seg_is(1, "engine")) {
        ctx->op = RP_API_ENGINE;
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

    /* who is viewing it now (the dashboard's "Also here") */
    if (n == 2 && rp_seg_is(1, "presence")) {
        ctx->op = (m == NGX_HTTP_POST) ? RP_API_PRESENCE
                  : (m == NGX_HTTP_DELETE) ? RP_API_PRESENCE_LEAVE
                  : (ngx_uint_t) -1;
        return ctx->op == (ngx_uint_t) -1 ? NGX_HTTP_NOT_ALLOWED : NGX_OK;
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
