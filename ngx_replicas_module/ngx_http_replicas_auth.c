/*
 * Who may open a preview: the access decision for preview hosts, made
 * after the route lookup (it needs the workspace's organisation and its
 * public ports) and before the workspace's state is acted on (a stranger
 * must not wake a workspace).
 *
 *   public port (never 3737 or 6080)                      -> allowed
 *   WebSocket with a foreign Origin, or a state-changing
 *     request to 3737/6080 from another site              -> 403
 *   API key: X-Replicas-Preview-Token, Authorization:
 *     Bearer or ?replicas_token= (WebSockets)             -> what the
 *                                          key's user may act on: an
 *                                          admin its organisation's, a
 *                                          member its own and those it
 *                                          collaborates on; a scoped key
 *                                          only its workspace
 *   ?replicas_share= signed share link, still in Redis    -> allowed
 *   replicas_preview cookie: signed, bound to this host,
 *     unexpired, its session or share still in Redis      -> allowed
 *   /.replicas/auth?replicas_ticket=  one-time ticket     -> cookie + 302
 *   nothing valid: a browser navigation is sent to the main domain's
 *   /auth/preview (login, then a ticket); anything else gets 401 JSON.
 *
 * Signed tokens are "<kid>.<payload>.<mac>" (common/rp_token.h) with
 * payload "kind|host|subject|ref|expires": kind "c" a preview cookie,
 * "s" a share link; ref names what must still exist in Redis ("s:<sha256
 * of the session>" or "h:<share id>"), so logout and revocation end
 * every cookie derived from them at once.
 */

#include "ngx_http_replicas.h"


#define NGX_HTTP_REPLICAS_REF_MAX   (2 + RP_SHA256_HEX)

#define RP_AUTH_PATH     "/.replicas/auth"


typedef enum {
    RP_CRED_NONE = 0,
    RP_CRED_KEY,
    RP_CRED_SHARE,
    RP_CRED_COOKIE,
    RP_CRED_TICKET
} rp_cred_e;


typedef struct {
    ngx_uint_t    kind;                 /* rp_cred_e */
    ngx_uint_t    program;              /* a key: no redirects, ever */
    ngx_uint_t    looked;               /* credential searched for */
    ngx_str_t     token;                /* ?replicas_token= */
    ngx_str_t     share;                /* ?replicas_share= */
    ngx_str_t     host;                 /* "<port>-<id>.<domain>" */
    ngx_str_t     path;                 /* raw path and stripped args */
    time_t        expires;
    size_t        cache_key_len;
    char          cache_key[NGX_HTTP_REPLICAS_REF_MAX + 1];
    ngx_str_t     subject;              /* user id, or "share:<id>" */
    ngx_str_t     key;                  /* an API key's text (never logged) */
} ngx_http_replicas_auth_t;


static ngx_int_t
ngx_http_replicas_auth_fail(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *text, ngx_uint_t page)
{
    ngx_int_t  rc;
    ngx_str_t  msg;

    msg.data = (u_char *) text;
    msg.len = ngx_strlen(text);

    rc = page ? ngx_http_replicas_send_error(r, status, code, &msg, 0)
              : ngx_http_replicas_send_json_error(r, status, code, &msg, 0);

    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}


ngx_int_t
ngx_http_replicas_sign(ngx_http_request_t *r, ngx_str_t *payload,
    ngx_str_t *token)
{
    ngx_http_replicas_main_conf_t  *rmcf;

    rmcf = ngx_http_get_module_main_conf(r, ngx_http_replicas_module);

    if (rmcf->nkeys == 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "replicas: no signing keys (replicas_signing_keys)");
        return NGX_ERROR;
    }

    token->data = ngx_pnalloc(r->pool, RP_TOKEN_MAX);
    if (token->data == NULL) {
        return NGX_ERROR;
    }

    token->len = rp_token_sign(&rmcf->keys[0], (char *) payload->data,
                               payload->len, (char *) token->data,
                               RP_TOKEN_MAX);

    return token->len ? NGX_OK : NGX_ERROR;
}


/*
 * Verifies a signed token of "kind" bound to this host and unexpired;
 * fills the ref to check in Redis and the subject.
 */

static ngx_int_t
ngx_http_replicas_auth_verify(ngx_http_request_t *r,
    ngx_http_replicas_auth_t *a, char kind, u_char *tok, size_t len)
{
    char                           payload[RP_TOKEN_MAX];
    time_t                         expires;
    rp_token_fields_t              f;
    ngx_http_replicas_main_conf_t  *rmcf;

    rmcf = ngx_http_get_module_main_conf(r, ngx_http_replicas_module);

    if (rp_token_verify(rmcf->keys, rmcf->nkeys, (char *) tok, len, payload,
                        sizeof(payload), &f)
        != RP_TOKEN_OK)
    {
        return NGX_DECLINED;
    }

    if (f.n != 5 || f.len[0] != 1 || f.field[0][0] != kind
        || f.len[1] != a->host.len
        || ngx_strncmp(f.field[1], a->host.data, a->host.len) != 0
        || f.len[3] < 3 || f.len[3] > NGX_HTTP_REPLICAS_REF_MAX)
    {
        return NGX_DECLINED;
    }

    expires = ngx_atotm((u_char *) f.field[4], f.len[4]);

    if (expires == NGX_ERROR || expires <= ngx_time()) {
        return NGX_DECLINED;
    }

    if (!((f.field[3][0] == 's' || f.field[3][0] == 'h')
          && f.field[3][1] == ':'))
    {
        return NGX_DECLINED;
    }

    a->expires = expires;
    a->cache_key_len = f.len[3];
    ngx_memcpy(a->cache_key, f.field[3], f.len[3]);
    a->cache_key[f.len[3]] = '\0';

    a->subject.data = ngx_pnalloc(r->pool, f.len[2]);
    if (a->subject.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(a->subject.data, f.field[2], f.len[2]);
    a->subject.len = f.len[2];

    return NGX_OK;
}


static void
ngx_http_replicas_auth_key(ngx_http_replicas_auth_t *a, u_char *key,
    size_t len)
{
    a->key.data = key;
    a->key.len = len;

    char  hash[RP_SHA256_HEX + 1];

    rp_sha256_hex(key, len, hash);

    a->kind = RP_CRED_KEY;
    a->program = 1;
    a->cache_key_len = ngx_sprintf((u_char *) a->cache_key,
                                   RP_CACHE_KEY_APIKEY "%s", hash)
                       - (u_char *) a->cache_key;
    a->cache_key[a->cache_key_len] = '\0';
}


/* "<port>-<id>.<domain>": what tokens and tickets are bound to */

static ngx_int_t
ngx_http_replicas_auth_host(ngx_http_request_t *r,
    ngx_http_replicas_ctx_t *ctx, ngx_http_replicas_auth_t *a)
{
    ngx_http_replicas_loc_conf_t  *rlcf;

    if (a->host.len) {
        return NGX_OK;
    }

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_replicas_module);

    a->host.data = ngx_pnalloc(r->pool, 8 + ctx->host.id_len
                                        + rlcf->domain.len);
    if (a->host.data == NULL) {
        return NGX_ERROR;
    }

    a->host.len = ngx_sprintf(a->host.data, "%ui-%s.%V",
                              (ngx_uint_t) ctx->host.port, ctx->host.id,
                              &rlcf->domain)
                  - a->host.data;

    return NGX_OK;
}


/*
 * The URI, for every request (public ports too): the platform's own query
 * parameters are taken out of what the upstream sees, and a ticket
 * landing is recognised.  a->path is the raw path as the browser sent it
 * with what is left of its query; it costs a copy only when something
 * was taken out.
 */

static ngx_int_t
ngx_http_replicas_auth_uri(ngx_http_request_t *r, ngx_http_replicas_auth_t *a)
{
    u_char       *p, *q, *path_end;
    size_t        len, vlen;
    ngx_str_t     args, v, ticket;
    const char   *val;

    ngx_str_null(&ticket);

    args = r->args;

    if (args.len) {
        if (rp_query_get((char *) args.data, args.len, RP_ARG_TOKEN, &val,
                         &vlen))
        {
            a->token.data = (u_char *) val;
            a->token.len = vlen;
        }

        if (rp_query_get((char *) args.data, args.len, RP_ARG_SHARE, &val,
                         &vlen))
        {
            a->share.data = (u_char *) val;
            a->share.len = vlen;
        }

        if (rp_query_get((char *) args.data, args.len, RP_ARG_TICKET, &val,
                         &vlen))
        {
            ticket.data = (u_char *) val;
            ticket.len = vlen;
        }

        if (a->token.data || a->share.data || ticket.data) {
            p = ngx_pnalloc(r->pool, args.len);
            if (p == NULL) {
                return NGX_ERROR;
            }

            len = rp_query_strip((char *) args.data, args.len, RP_ARG_TOKEN,
                                 (char *) p);
            len = rp_query_strip((char *) p, len, RP_ARG_SHARE, (char *) p);
            len = rp_query_strip((char *) p, len, RP_ARG_TICKET, (char *) p);

            args.data = p;
            args.len = len;
        }
    }

    if (r->valid_unparsed_uri && args.len == r->args.len) {
        a->path = r->unparsed_uri;              /* nothing taken out */

    } else {
        /* the raw path as the browser sent it, and what is left of its query */
        path_end = r->valid_unparsed_uri
                   ? ngx_strlchr(r->unparsed_uri.data,
                                 r->unparsed_uri.data + r->unparsed_uri.len,
                                 '?')
                   : NULL;

        if (r->valid_unparsed_uri) {
            v.data = r->unparsed_uri.data;
            v.len = (path_end ? path_end : r->unparsed_uri.data
                                           + r->unparsed_uri.len) - v.data;
        } else {
            v = r->uri;
        }

        a->path.data = ngx_pnalloc(r->pool, v.len + 1 + args.len);
        if (a->path.data == NULL) {
            return NGX_ERROR;
        }

        q = ngx_cpymem(a->path.data, v.data, v.len);

        if (args.len) {
            *q++ = '?';
            q = ngx_cpymem(q, args.data, args.len);
        }

        a->path.len = q - a->path.data;

        if (args.len != r->args.len) {
            /* the upstream gets exactly the browser's URI minus our tokens */
            r->args = args;
            r->unparsed_uri = a->path;
            r->valid_unparsed_uri = 1;
        }
    }

    if (ticket.len && ticket.len <= 128
        && r->uri.len == sizeof(RP_AUTH_PATH) - 1
        && ngx_strncmp(r->uri.data, RP_AUTH_PATH,
                       sizeof(RP_AUTH_PATH) - 1) == 0)
    {
        a->kind = RP_CRED_TICKET;
        a->cache_key_len = ngx_sprintf((u_char *) a->cache_key, "t:") -
                           (u_char *) a->cache_key;
        rp_sha256_hex(ticket.data, ticket.len, a->cache_key + 2);
        a->cache_key_len += RP_SHA256_HEX;
    }

    return NGX_OK;
}


/*
 * The credential, strongest first; only for ports that need one, so a
 * public preview costs no header search and no HMAC.
 */

static ngx_int_t
ngx_http_replicas_auth_credential(ngx_http_request_t *r,
    ngx_http_replicas_auth_t *a)
{
    ngx_uint_t         i, n;
    ngx_str_t          cookies[RP_COOKIE_TRIES];
    ngx_table_elt_t   *h;

    h = ngx_http_replicas_header(r, "X-Replicas-Preview-Token");

    if (h && h->value.len && h->value.len <= 256) {
        ngx_http_replicas_auth_key(a, h->value.data, h->value.len);
        return NGX_OK;
    }

    h = r->headers_in.authorization;

    if (h && h->value.len > 7 && h->value.len <= 256 + 7
        && ngx_strncasecmp(h->value.data, (u_char *) "Bearer ", 7) == 0)
    {
        ngx_http_replicas_auth_key(a, h->value.data + 7, h->value.len - 7);
        return NGX_OK;
    }

    if (a->token.len && a->token.len <= 256) {
        ngx_http_replicas_auth_key(a, a->token.data, a->token.len);
        return NGX_OK;
    }

    if (a->share.len && a->share.len < RP_TOKEN_MAX) {
        switch (ngx_http_replicas_auth_verify(r, a, 's', a->share.data,
                                              a->share.len))
        {
        case NGX_OK:
            a->kind = RP_CRED_SHARE;
            return NGX_OK;
        case NGX_ERROR:
            return NGX_ERROR;
        default:
            break;
        }
    }

    /*
     * every candidate, in the order sent, until one verifies: a cookie
     * planted for a parent domain must not hide the real one (bounded,
     * so a flood of them costs a few HMACs at most)
     */
    n = ngx_http_replicas_get_cookies(r, RP_COOKIE_PREVIEW, cookies,
                                      RP_COOKIE_TRIES);

    for (i = 0; i < n; i++) {
        if (cookies[i].len >= RP_TOKEN_MAX) {
            continue;
        }

        switch (ngx_http_replicas_auth_verify(r, a, 'c', cookies[i].data,
                                              cookies[i].len))
        {
        case NGX_OK:
            a->kind = RP_CRED_COOKIE;
            return NGX_OK;
        case NGX_ERROR:
            return NGX_ERROR;
        default:
            break;
        }
    }

    return NGX_OK;
}


/*
 * A WebSocket to an authenticated port, and any state-changing request to
 * the engine or the desktop, may come only from the preview itself or the
 * main domain: other previews are "same-site", so the SameSite=Lax cookie
 * would ride along on their forms and fetches.  The user's own app ports
 * decide for themselves.
 */

static ngx_uint_t
ngx_http_replicas_origin_ok(ngx_http_request_t *r, ngx_uint_t port)
{
    if (r->headers_in.upgrade == NULL
        && !((port == RP_PORT_ENGINE || port == RP_PORT_DESKTOP)
             && ngx_http_replicas_unsafe_method(r)))
    {
        return 1;
    }

    return !ngx_http_replicas_cross_site(r);
}


static ngx_uint_t
ngx_http_replicas_is_navigation(ngx_http_request_t *r)
{
    return (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))
           && r->headers_in.upgrade == NULL
           && ngx_http_replicas_wants_html(r);
}


/* replicas_preview=<token>: host-only, HttpOnly, Lax, Secure under TLS */

static ngx_int_t
ngx_http_replicas_preview_cookie(ngx_http_request_t *r,
    ngx_http_replicas_auth_t *a, ngx_str_t *subject, ngx_str_t *ref,
    time_t expires, ngx_str_t *cookie)
{
    u_char     *p;
    ngx_str_t   payload, token;

    payload.data = ngx_pnalloc(r->pool, a->host.len + subject->len
                                        + ref->len + 32);
    if (payload.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(payload.data, "c|%V|%V|%V|%T", &a->host, subject, ref,
                    expires);
    payload.len = p - payload.data;

    if (ngx_http_replicas_sign(r, &payload, &token) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_replicas_cookie(r, RP_COOKIE_PREVIEW, &token,
                                    expires - ngx_time(), cookie);
}


/* "<scheme>://<Host><path>": where the browser should land */

static ngx_int_t
ngx_http_replicas_here(ngx_http_request_t *r, ngx_http_replicas_auth_t *a,
    ngx_str_t *path, ngx_str_t *out)
{
    ngx_str_t  host;

    host = r->headers_in.host ? r->headers_in.host->value : a->host;

    out->data = ngx_pnalloc(r->pool, 8 + host.len + path->len);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    out->len = ngx_sprintf(out->data, "%s://%V%V",
                           ngx_http_replicas_scheme(r), &host, path)
               - out->data;

    return NGX_OK;
}


/* No credential: browsers go and get one, programs are told. */

static ngx_int_t
ngx_http_replicas_auth_missing(ngx_http_request_t *r,
    ngx_http_replicas_auth_t *a)
{
    u_char     *p;
    ngx_str_t   main, here, location;

    if (r->method == NGX_HTTP_OPTIONS || !ngx_http_replicas_is_navigation(r)) {
        return ngx_http_replicas_auth_fail(r, NGX_HTTP_UNAUTHORIZED,
                   "unauthorized", "this preview needs a credential: an API "
                   "key as \"Authorization: Bearer <key>\" or "
                   "\"X-Replicas-Preview-Token\", or a browser login", 0);
    }

    if (ngx_http_replicas_main_origin(r, &main) != NGX_OK
        || ngx_http_replicas_here(r, a, &a->path, &here) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    location.data = ngx_pnalloc(r->pool, main.len + 32 + 3 * here.len);
    if (location.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(location.data, "%V/auth/preview?to=", &main);
    p += rp_url_encode((char *) here.data, here.len, (char *) p);
    location.len = p - location.data;

    ngx_http_finalize_request(r,
        ngx_http_replicas_redirect(r, NGX_HTTP_MOVED_TEMPORARILY, &location,
                                   NULL));

    return NGX_DONE;
}


/*
 * The ticket's value, "host|user|ref|path", written by the main domain's
 * /auth/preview after it checked the session and the organisation.
 */

static ngx_int_t
ngx_http_replicas_auth_ticket(ngx_http_request_t *r,
    ngx_http_replicas_ctx_t *ctx, ngx_http_replicas_auth_t *a)
{
    u_char                         *f[4], *p, *end;
    size_t                          len[4];
    ngx_uint_t                      n;
    ngx_str_t                       user, ref, path, cookie, location;
    ngx_http_replicas_main_conf_t  *rmcf;

    if (ctx->ticket_rc == NGX_ERROR) {
        return ngx_http_replicas_auth_fail(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                   "state_unavailable", "The gateway cannot check sign-ins "
                   "right now. Retry in a moment.", 1);
    }

    p = ctx->ticket.data;
    end = p + ctx->ticket.len;

    for (n = 0; n < 4 && p <= end; n++) {
        f[n] = p;

        while (p < end && (*p != '|' || n == 3)) {
            p++;
        }

        len[n] = p - f[n];
        p++;
    }

    if (ctx->ticket_rc != NGX_OK || n != 4
        || len[0] != a->host.len
        || ngx_strncmp(f[0], a->host.data, a->host.len) != 0
        || len[3] == 0 || f[3][0] != '/' || (len[3] > 1 && f[3][1] == '/')
        || !rp_url_chars_ok((char *) f[3], len[3])
        || ngx_strlchr(f[3], f[3] + len[3], '\\') != NULL)
    {
        return ngx_http_replicas_auth_fail(r, NGX_HTTP_FORBIDDEN,
                   "ticket_invalid", "This sign-in link has expired or was "
                   "already used. Open the preview again to get a new one.",
                   1);
    }

    rmcf = ngx_http_get_module_main_conf(r, ngx_http_replicas_module);

    user.data = f[1];
    user.len = len[1];
    ref.data = f[2];
    ref.len = len[2];
    path.data = f[3];
    path.len = len[3];

    if (ngx_http_replicas_preview_cookie(r, a, &user, &ref,
                                         ngx_time() + rmcf->preview_cookie_ttl,
                                         &cookie)
        != NGX_OK
        || ngx_http_replicas_here(r, a, &path, &location) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_finalize_request(r,
        ngx_http_replicas_redirect(r, NGX_HTTP_MOVED_TEMPORARILY, &location,
                                   &cookie));

    return NGX_DONE;
}


/*
 * An API key opens what its user may act on (common/rp_access.h): its
 * organisation's workspaces for an admin, a member's own and those it
 * collaborates on, the engine's key its workspace.
 */

static ngx_int_t
ngx_http_replicas_auth_key_may(ngx_http_request_t *r,
    ngx_http_replicas_ctx_t *ctx)
{
    rp_access_ws_t   ws;
    rp_access_key_t  key;

    key.org = (char *) ctx->cred.org;
    key.org_len = ctx->cred.org_len;
    key.workspace = (char *) ctx->cred.addr;
    key.workspace_len = ctx->cred.addr_len;
    key.user = (char *) ctx->cred.user;
    key.user_len = ctx->cred.user_len;
    key.admin = ctx->cred.admin != 0;

    ws.id = ctx->host.id;
    ws.id_len = ctx->host.id_len;
    ws.org = (char *) ctx->route.org;
    ws.org_len = ctx->route.org_len;
    ws.owner = (char *) ctx->route.user;
    ws.owner_len = ctx->route.user_len;
    ws.collaborators = (char *) ctx->route.collab;
    ws.collaborators_len = ctx->route.collab_len;

    switch (rp_access_key_open(&key, &ws)) {

    case RP_ACCESS_OK:
        return NGX_OK;

    case RP_ACCESS_NOT_YOURS:
        return ngx_http_replicas_auth_fail(r, NGX_HTTP_FORBIDDEN,
                   "not_your_workspace", "this workspace belongs to another "
                   "user: only its owner, its collaborators and admins may "
                   "open its previews", 0);

    default:
        return ngx_http_replicas_auth_fail(r, NGX_HTTP_FORBIDDEN,
                   "forbidden", "this API key may not open this "
                   "workspace's previews", 0);
    }
}


/*
 * $replicas_actor once the credential is known valid: a key's public
 * prefix, a cookie's subject (a user id, or "share:<id>" already), a share
 * link's id.
 */

static ngx_int_t
ngx_http_replicas_auth_actor(ngx_http_request_t *r,
    ngx_http_replicas_ctx_t *ctx, ngx_http_replicas_auth_t *a)
{
    u_char  *p;

    if (a->kind == RP_CRED_KEY) {
        ngx_http_replicas_actor_key(r, ctx, a->key.data, a->key.len);
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, sizeof("share:") - 1 + a->subject.len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ctx->actor.data = p;

    if (a->kind == RP_CRED_SHARE) {
        p = ngx_cpymem(p, "share:", sizeof("share:") - 1);

    } else if (!(a->subject.len > 6
                 && ngx_strncmp(a->subject.data, "share:", 6) == 0))
    {
        p = ngx_cpymem(p, "user:", sizeof("user:") - 1);
    }

    p = ngx_cpymem(p, a->subject.data, a->subject.len);
    ctx->actor.len = p - ctx->actor.data;

    return NGX_OK;
}


ngx_int_t
ngx_http_replicas_auth(ngx_http_request_t *r, ngx_http_replicas_ctx_t *ctx)
{
    ngx_int_t                      rc;
    ngx_uint_t                     i, port;
    ngx_str_t                      subject, ref, cookie, location;
    ngx_http_replicas_auth_t      *a;
    ngx_http_replicas_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_replicas_module);

    if (!rlcf->auth) {
        return NGX_OK;
    }

    a = ctx->auth;

    if (a == NULL) {
        a = ngx_pcalloc(r->pool, sizeof(ngx_http_replicas_auth_t));
        if (a == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ctx->auth = a;

        if (ngx_http_replicas_auth_uri(r, a) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (a->kind == RP_CRED_TICKET) {
        if (ngx_http_replicas_auth_host(r, ctx, a) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (!ctx->ticket_known) {
            rc = ngx_http_replicas_lookup(r, ctx,
                                          NGX_HTTP_REPLICAS_LOOKUP_TICKET,
                                          a->cache_key, a->cache_key_len);
            if (rc != NGX_OK) {
                return rc == NGX_AGAIN ? NGX_AGAIN
                                       : NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
        }

        return ngx_http_replicas_auth_ticket(r, ctx, a);
    }

    port = ctx->host.port;

    if (port != RP_PORT_ENGINE && port != RP_PORT_DESKTOP) {
        for (i = 0; i < ctx->route.npublic; i++) {
            if (ctx->route.public_ports[i] == port) {
                return NGX_OK;
            }
        }
    }

    if (!ngx_http_replicas_origin_ok(r, port)) {
        return ngx_http_replicas_auth_fail(r, NGX_HTTP_FORBIDDEN,
                   "origin_forbidden", r->headers_in.upgrade
                   ? "WebSocket connections to this preview must come from "
                     "the preview itself or the main domain"
                   : "requests that change something here must come from "
                     "this preview itself or the main domain, not another "
                     "site", 0);
    }

    if (!a->looked) {
        a->looked = 1;

        if (ngx_http_replicas_auth_host(r, ctx, a) != NGX_OK
            || ngx_http_replicas_auth_credential(r, a) != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (a->kind == RP_CRED_NONE) {
        return ngx_http_replicas_auth_missing(r, a);
    }

    if (!ctx->cred_known) {
        rc = ngx_http_replicas_lookup(r, ctx,
                                      a->kind == RP_CRED_KEY
                                      ? NGX_HTTP_REPLICAS_LOOKUP_KEY
                                      : NGX_HTTP_REPLICAS_LOOKUP_REF,
                                      a->cache_key, a->cache_key_len);
        if (rc != NGX_OK) {
            return rc == NGX_AGAIN ? NGX_AGAIN
                                   : NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (ctx->cred_rc == NGX_ERROR) {
        return ngx_http_replicas_auth_fail(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                   "state_unavailable", "The gateway cannot check "
                   "credentials right now. Retry in a moment.",
                   !a->program && ngx_http_replicas_wants_html(r));
    }

    if (ctx->cred.state != RP_STATE_AWAKE) {
        if (a->kind == RP_CRED_KEY) {
            return ngx_http_replicas_auth_fail(r, NGX_HTTP_UNAUTHORIZED,
                       "unauthorized", "unknown or revoked API key", 0);
        }

        /* an ended session or a revoked share: as if there were none */
        return ngx_http_replicas_auth_missing(r, a);
    }

    if (ngx_http_replicas_auth_actor(r, ctx, a) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (a->kind == RP_CRED_KEY) {
        rc = ngx_http_replicas_auth_key_may(r, ctx);

        /* counted against the key's (and its user's) API rate limit */
        return rc == NGX_OK
               ? ngx_http_replicas_meter_key(r, ctx, a->cache_key + 2) : rc;
    }

    if (a->kind == RP_CRED_SHARE && ngx_http_replicas_is_navigation(r)) {
        /* swap the link for a cookie, and take the token out of the URL */
        subject.data = ngx_pnalloc(r->pool, sizeof("share:") + a->subject.len);
        if (subject.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        subject.len = ngx_sprintf(subject.data, "share:%V", &a->subject)
                      - subject.data;
        ref.data = (u_char *) a->cache_key;
        ref.len = a->cache_key_len;

        if (ngx_http_replicas_preview_cookie(r, a, &subject, &ref, a->expires,
                                             &cookie)
            != NGX_OK
            || ngx_http_replicas_here(r, a, &a->path, &location) != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_http_finalize_request(r,
            ngx_http_replicas_redirect(r, NGX_HTTP_MOVED_TEMPORARILY,
                                       &location, &cookie));
        return NGX_DONE;
    }

    return NGX_OK;
}


/*
 * $replicas_cookie: the request's cookies without the platform's own, for
 * "proxy_set_header Cookie $replicas_cookie;" (empty: no header sent).
 */

ngx_int_t
ngx_http_replicas_cookie_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char           *p;
    size_t            len, n;
    ngx_uint_t        i;
    ngx_table_elt_t  *h;

    len = 0;

    for (i = 0; (h = ngx_http_replicas_cookie_header(r, i)); i++) {
        len += 2 * h->value.len + 2;
    }

    p = ngx_pnalloc(r->pool, len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->data = p;

    for (i = 0; (h = ngx_http_replicas_cookie_header(r, i)); i++) {
        if (p != v->data) {
            *p++ = ';';
            *p++ = ' ';
        }

        n = rp_cookie_strip_own((char *) h->value.data, h->value.len,
                                (char *) p);

        if (n == 0 && p != v->data) {
            p -= 2;
        }

        p += n;
    }

    v->len = p - v->data;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}
