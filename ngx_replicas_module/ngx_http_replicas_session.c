/*
 * Browser sessions on the main domain (directive replicas_session):
 *
 *   GET  /login?token=T      a one-time login link (replicas-control
 *                            login-link): session cookie, then "next"
 *   GET  /login[?next=/p]    the login page: paste an API key, or use a
 *                            login link; "next" is remembered
 *   POST /login              key=...&next=...: session from an API key
 *   POST /logout             ends the session and every preview cookie
 *                            made from it
 *   GET  /auth/preview?to=U  a preview host sent a browser here: logged
 *                            in and allowed -> a one-time ticket back to
 *                            U's host (ngx_http_replicas_auth.c turns it
 *                            into a host-only cookie); not logged in ->
 *                            the login page, then back here
 *
 * The session cookie is host-only on the main domain, so preview hosts
 * (untrusted content) never receive it.  Redis work is lua/session.lua.
 */

#include "ngx_http_replicas.h"


#define NGX_HTTP_REPLICAS_TICKET_TTL  "60"
#define NGX_HTTP_REPLICAS_NEXT_MAX    2048


typedef struct {
    ngx_str_t   next;           /* where to go after login, validated */
    ngx_str_t   cookie;         /* Set-Cookie for the new session */
    ngx_str_t   location;       /* ticket redirect */
} ngx_http_replicas_session_t;


static ngx_int_t
ngx_http_replicas_page(ngx_http_request_t *r, ngx_uint_t status,
    const char *title, ngx_str_t *html, ngx_str_t *cookie)
{
    u_char     *p;
    ngx_str_t   body;

    body.data = ngx_pnalloc(r->pool, 512 + ngx_strlen(title) + html->len);
    if (body.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(body.data, "<!DOCTYPE html>\n<html><head>"
                    "<meta charset=\"utf-8\"><title>%s &middot; Replicas"
                    "</title><style>body{font:16px system-ui,sans-serif;"
                    "max-width:40em;margin:4em auto;color:#222}"
                    "input{font:inherit;width:100%%;padding:.4em}"
                    "button{font:inherit;padding:.4em 1em;margin-top:.6em}"
                    "</style></head><body><h1>%s</h1>%V</body></html>\n",
                    title, title, html);
    body.len = p - body.data;

    return ngx_http_replicas_send_html(r, status, &body, cookie);
}


static ngx_int_t
ngx_http_replicas_page_text(ngx_http_request_t *r, ngx_uint_t status,
    const char *title, const char *text)
{
    u_char     *p;
    size_t      len;
    ngx_str_t   html;

    len = ngx_strlen(text);

    html.data = ngx_pnalloc(r->pool, 16 + 6 * len);
    if (html.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(html.data, "<p>", 3);
    p = (u_char *) ngx_escape_html(p, (u_char *) text, len);
    p = ngx_cpymem(p, "</p>", 4);
    html.len = p - html.data;

    return ngx_http_replicas_page(r, status, title, &html, NULL);
}


/*
 * "next" must be a path on this site ("/..." but not "//..." nor
 * "/\..."), so the login cannot be used to send people elsewhere.
 */

static ngx_uint_t
ngx_http_replicas_next_ok(ngx_str_t *next)
{
    ngx_uint_t  i;

    if (next->len == 0 || next->len > NGX_HTTP_REPLICAS_NEXT_MAX
        || next->data[0] != '/'
        || (next->len > 1 && (next->data[1] == '/' || next->data[1] == '\\')))
    {
        return 0;
    }

    for (i = 0; i < next->len; i++) {
        if (next->data[i] < 0x21 || next->data[i] >= 0x7f) {
            return 0;
        }
    }

    return 1;
}


/* A parameter from a query string or a form body, decoded. */

static ngx_int_t
ngx_http_replicas_param(ngx_http_request_t *r, u_char *args, size_t len,
    const char *name, ngx_str_t *out)
{
    size_t       vlen;
    const char  *val;

    ngx_str_null(out);

    if (!rp_query_get((char *) args, len, name, &val, &vlen)) {
        return NGX_DECLINED;
    }

    out->data = ngx_pnalloc(r->pool, vlen + 1);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    out->len = rp_url_decode(val, vlen, (char *) out->data, 1);

    if (out->len == (size_t) -1) {
        ngx_str_null(out);
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * The SHA-256 of every session cookie the browser sent (at most
 * RP_COOKIE_TRIES), joined by ",": the script uses the first that is a
 * live session, so a cookie planted beside the real one cannot lock its
 * owner out.  NGX_DECLINED: none.
 */

static ngx_int_t
ngx_http_replicas_session_from_cookie(ngx_http_request_t *r,
    ngx_str_t *hashes)
{
    u_char     *p;
    ngx_uint_t  i, n;
    ngx_str_t   v[RP_COOKIE_TRIES];

    n = ngx_http_replicas_get_cookies(r, RP_COOKIE_SESSION, v,
                                      RP_COOKIE_TRIES);

    hashes->data = ngx_pnalloc(r->pool, RP_COOKIE_TRIES
                                        * (RP_SHA256_HEX + 1) + 1);
    if (hashes->data == NULL) {
        return NGX_ERROR;
    }

    p = hashes->data;

    for (i = 0; i < n; i++) {
        if (v[i].len == 0 || v[i].len > 128) {
            continue;
        }

        if (p != hashes->data) {
            *p++ = ',';
        }

        rp_sha256_hex(v[i].data, v[i].len, (char *) p);
        p += RP_SHA256_HEX;
    }

    hashes->len = p - hashes->data;

    return hashes->len ? NGX_OK : NGX_DECLINED;
}


static ngx_int_t
ngx_http_replicas_session_eval(ngx_http_request_t *r, ngx_str_t *args,
    ngx_uint_t n, ngx_http_replicas_eval_pt handler)
{
    ngx_int_t                       rc;
    ngx_http_replicas_main_conf_t  *rmcf;

    rmcf = ngx_http_get_module_main_conf(r, ngx_http_replicas_module);

    rc = ngx_http_replicas_eval(r, &rmcf->session_script, n, args, handler);

    if (rc == NGX_OK) {
        return NGX_DONE;
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_replicas_page_text(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                   "Unavailable", "Replicas cannot reach its state store "
                   "right now. Retry in a moment.");
    }

    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}


/*
 * $replicas_actor for a request the script found a session (or a login
 * link) for: "user:<id>", the form the preview cookies' requests log.
 * Copied: the reply is freed once its handler returns.
 */

static void
ngx_http_replicas_session_actor(ngx_http_request_t *r, ngx_str_t *user)
{
    u_char                   *p;
    ngx_http_replicas_ctx_t  *ctx;

    if (user->len == 0 || user->len > NGX_HTTP_REPLICAS_USER_MAX
        || !rp_ws_id_valid((char *) user->data, user->len))
    {
        return;                 /* not a user id: name no one */
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_replicas_module);

    p = ngx_pnalloc(r->pool, sizeof("user:") - 1 + user->len);
    if (ctx == NULL || p == NULL) {
        return;
    }

    ctx->actor.data = p;
    p = ngx_cpymem(p, "user:", sizeof("user:") - 1);
    p = ngx_cpymem(p, user->data, user->len);
    ctx->actor.len = p - ctx->actor.data;
}


static ngx_int_t
ngx_http_replicas_script_status(ngx_http_request_t *r, void *reply,
    ngx_http_replicas_script_reply_t *v)
{
    if (ngx_http_replicas_redis_script_reply(reply, v) != NGX_OK) {
        if (reply) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "replicas: session script failed: %V", &v->error);
        }

        return NGX_ERROR;
    }

    ngx_http_replicas_session_actor(r, &v->actor);

    return NGX_OK;
}


/* ---- login -------------------------------------------------------------- */

static void
ngx_http_replicas_login_done(ngx_http_request_t *r, void *reply)
{
    u_char                            *p;
    ngx_str_t                          location, origin, clear;
    ngx_http_replicas_ctx_t           *ctx;
    ngx_http_replicas_session_t       *s;
    ngx_http_replicas_script_reply_t   v;

    if (ngx_http_replicas_script_status(r, reply, &v) != NGX_OK) {
        ngx_http_replicas_finish(r,
            ngx_http_replicas_page_text(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                "Unavailable", "Replicas cannot reach its state store right "
                "now. Retry in a moment."));
        return;
    }

    if (v.status != NGX_HTTP_OK) {
        ngx_http_replicas_finish(r,
            ngx_http_replicas_page_text(r, NGX_HTTP_UNAUTHORIZED,
                "Login failed", "That login link or API key is unknown, "
                "expired or already used. Ask an administrator for a new "
                "login link (replicas-control login-link --user ID)."));
        return;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_replicas_module);
    s = ctx->api;

    if (ngx_http_replicas_main_origin(r, &origin) != NGX_OK) {
        ngx_http_replicas_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    location.data = ngx_pnalloc(r->pool, origin.len + s->next.len + 1);
    if (location.data == NULL) {
        ngx_http_replicas_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    p = ngx_sprintf(location.data, "%V%V", &origin, &s->next);
    location.len = p - location.data;

    /* the remembered destination is used: forget it */
    ngx_str_set(&clear, RP_COOKIE_NEXT "=; Path=/; Max-Age=0; HttpOnly;"
                " SameSite=Lax");

    if (ngx_http_replicas_add_cookie(r, &clear) != NGX_OK) {
        ngx_http_replicas_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_replicas_finish(r,
        ngx_http_replicas_redirect(r, NGX_HTTP_SEE_OTHER, &location,
                                   &s->cookie));
}


static ngx_int_t
ngx_http_replicas_login_start(ngx_http_request_t *r,
    ngx_http_replicas_session_t *s, const char *op, ngx_str_t *secret)
{
    char                            token[64], sid_hash[RP_SHA256_HEX + 1];
    char                            secret_hash[RP_SHA256_HEX + 1];
    u_char                         *p;
    ngx_str_t                       args[5], value;
    ngx_http_replicas_main_conf_t  *rmcf;

    rmcf = ngx_http_get_module_main_conf(r, ngx_http_replicas_module);

    if (secret->len == 0 || secret->len > 256
        || rp_random_b64url(32, token) != 0)
    {
        return ngx_http_replicas_page_text(r, NGX_HTTP_BAD_REQUEST,
                   "Login failed", "That login link or API key is not "
                   "well formed.");
    }

    rp_sha256_hex(secret->data, secret->len, secret_hash);
    rp_sha256_hex(token, ngx_strlen(token), sid_hash);

    value.data = (u_char *) token;
    value.len = ngx_strlen(token);

    if (ngx_http_replicas_cookie(r, RP_COOKIE_SESSION, &value,
                                         rmcf->session_ttl, &s->cookie)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_pnalloc(r->pool, 3 * RP_SHA256_HEX + 2 * NGX_TIME_T_LEN);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    args[0].data = (u_char *) op;
    args[0].len = ngx_strlen(op);

    args[1].data = p;
    p = ngx_sprintf(p, "%T", ngx_time());
    args[1].len = p - args[1].data;

    args[2].data = p;
    p = ngx_cpymem(p, secret_hash, RP_SHA256_HEX);
    args[2].len = RP_SHA256_HEX;

    args[3].data = p;
    p = ngx_cpymem(p, sid_hash, RP_SHA256_HEX);
    args[3].len = RP_SHA256_HEX;

    args[4].data = p;
    p = ngx_sprintf(p, "%T", rmcf->session_ttl);
    args[4].len = p - args[4].data;

    return ngx_http_replicas_session_eval(r, args, 5,
                                          ngx_http_replicas_login_done);
}


static ngx_int_t
ngx_http_replicas_login_page(ngx_http_request_t *r,
    ngx_http_replicas_session_t *s, ngx_uint_t remember)
{
    u_char     *p;
    ngx_str_t   html, cookie, enc;

    enc.data = ngx_pnalloc(r->pool, 6 * s->next.len + 1);
    html.data = ngx_pnalloc(r->pool, 1024 + 6 * s->next.len);
    if (enc.data == NULL || html.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    enc.len = (u_char *) ngx_escape_html(enc.data, s->next.data, s->next.len)
              - enc.data;

    p = ngx_sprintf(html.data,
        "<p>Sign in with a login link from your administrator "
        "(<code>replicas-control login-link --user ID</code>), or with an "
        "API key:</p>"
        "<form method=\"post\" action=\"/login\">"
        "<input type=\"password\" name=\"key\" placeholder=\"rk_...\" "
        "autocomplete=\"off\" required>"
        "<input type=\"hidden\" name=\"next\" value=\"%V\">"
        "<button type=\"submit\">Sign in</button></form>", &enc);
    html.len = p - html.data;

    ngx_str_null(&cookie);

    /* a login link opened next lands where the browser wanted to go */
    if (remember) {
        enc.data = ngx_pnalloc(r->pool, 3 * s->next.len);
        if (enc.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        enc.len = rp_url_encode((char *) s->next.data, s->next.len,
                                (char *) enc.data);

        if (ngx_http_replicas_cookie(r, RP_COOKIE_NEXT, &enc, 900,
                                             &cookie)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_http_replicas_page(r, NGX_HTTP_OK, "Sign in to Replicas",
                                  &html, &cookie);
}


/* "next" from the form or query, else the remembered one, else "/" */

static ngx_int_t
ngx_http_replicas_find_next(ngx_http_request_t *r, u_char *args, size_t len,
    ngx_http_replicas_session_t *s)
{
    ngx_str_t  v;

    if (ngx_http_replicas_param(r, args, len, "next", &s->next) == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (ngx_http_replicas_next_ok(&s->next)) {
        return NGX_OK;
    }

    if (ngx_http_replicas_get_cookie(r, RP_COOKIE_NEXT, &v) == NGX_OK
        && v.len <= 3 * NGX_HTTP_REPLICAS_NEXT_MAX)
    {
        s->next.data = ngx_pnalloc(r->pool, v.len + 1);
        if (s->next.data == NULL) {
            return NGX_ERROR;
        }

        s->next.len = rp_url_decode((char *) v.data, v.len,
                                    (char *) s->next.data, 0);

        if (s->next.len != (size_t) -1
            && ngx_http_replicas_next_ok(&s->next))
        {
            return NGX_OK;
        }
    }

    ngx_str_set(&s->next, "/");

    return NGX_OK;
}


/* ---- logout ------------------------------------------------------------- */

static void
ngx_http_replicas_logout_done(ngx_http_request_t *r, void *reply)
{
    ngx_str_t                          clear, html;
    ngx_http_replicas_script_reply_t   v;

    if (ngx_http_replicas_script_status(r, reply, &v) != NGX_OK) {
        ngx_http_replicas_finish(r,
            ngx_http_replicas_page_text(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                "Unavailable", "Replicas cannot reach its state store right "
                "now; you are not logged out yet. Retry in a moment."));
        return;
    }

    ngx_str_set(&clear, RP_COOKIE_SESSION "=; Path=/; Max-Age=0; HttpOnly;"
                " SameSite=Lax");
    ngx_str_set(&html, "<p>You are logged out, and every preview you opened "
                "with this session is closed to this browser.</p>"
                "<p><a href=\"/login\">Sign in again</a></p>");

    ngx_http_replicas_finish(r,
        ngx_http_replicas_page(r, NGX_HTTP_OK, "Logged out", &html, &clear));
}


static ngx_int_t
ngx_http_replicas_logout(ngx_http_request_t *r)
{
    u_char    *p;
    ngx_int_t  rc;
    ngx_str_t  args[3], html, hashes;

    if (r->method != NGX_HTTP_POST) {
        ngx_str_set(&html, "<form method=\"post\" action=\"/logout\">"
                    "<button type=\"submit\">Log out</button></form>");
        return ngx_http_replicas_page(r, NGX_HTTP_OK, "Log out", &html, NULL);
    }

    rc = ngx_http_replicas_session_from_cookie(r, &hashes);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc != NGX_OK) {
        ngx_str_set(&html, "<p>You were not logged in.</p>");
        return ngx_http_replicas_page(r, NGX_HTTP_OK, "Logged out", &html,
                                      NULL);
    }

    p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* every session cookie this browser sent ends: logging out is "this
     * browser", whichever of them was the live one */
    ngx_str_set(&args[0], "logout");
    args[1].data = p;
    p = ngx_sprintf(p, "%T", ngx_time());
    args[1].len = p - args[1].data;
    args[2] = hashes;

    return ngx_http_replicas_session_eval(r, args, 3,
                                          ngx_http_replicas_logout_done);
}


/* ---- tickets for preview hosts ------------------------------------------ */

static void
ngx_http_replicas_ticket_done(ngx_http_request_t *r, void *reply)
{
    u_char                            *p;
    ngx_str_t                          origin, location;
    ngx_http_replicas_ctx_t           *ctx;
    ngx_http_replicas_session_t       *s;
    ngx_http_replicas_script_reply_t   v;

    if (ngx_http_replicas_script_status(r, reply, &v) != NGX_OK) {
        ngx_http_replicas_finish(r,
            ngx_http_replicas_page_text(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                "Unavailable", "Replicas cannot reach its state store right "
                "now. Retry in a moment."));
        return;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_replicas_module);
    s = ctx->api;

    if (v.status == NGX_HTTP_UNAUTHORIZED) {
        /* not logged in (or the session ended): log in, then come back */
        if (ngx_http_replicas_main_origin(r, &origin) != NGX_OK) {
            ngx_http_replicas_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        location.data = ngx_pnalloc(r->pool, origin.len + 16
                                             + 3 * r->unparsed_uri.len);
        if (location.data == NULL) {
            ngx_http_replicas_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        p = ngx_sprintf(location.data, "%V/login?next=", &origin);
        p += rp_url_encode((char *) r->unparsed_uri.data,
                           r->unparsed_uri.len, (char *) p);
        location.len = p - location.data;

        ngx_http_replicas_finish(r,
            ngx_http_replicas_redirect(r, NGX_HTTP_MOVED_TEMPORARILY,
                                       &location, NULL));
        return;
    }

    if (v.status == NGX_HTTP_FORBIDDEN
        && ngx_strlcasestrn(v.body.data, v.body.data + v.body.len,
                            (u_char *) "belongs to another user",
                            sizeof("belongs to another user") - 2)
           != NULL)
    {
        /* a member and another's workspace (lua/session.lua) */
        ngx_http_replicas_finish(r,
            ngx_http_replicas_page_text(r, NGX_HTTP_FORBIDDEN, "Forbidden",
                "This workspace belongs to another user of your "
                "organisation; ask its owner to add you as a "
                "collaborator."));
        return;
    }

    if (v.status != NGX_HTTP_OK) {
        ngx_http_replicas_finish(r,
            ngx_http_replicas_page_text(r, v.status == NGX_HTTP_NOT_FOUND
                                           ? NGX_HTTP_NOT_FOUND
                                           : NGX_HTTP_FORBIDDEN,
                v.status == NGX_HTTP_NOT_FOUND ? "Not found" : "Forbidden",
                v.status == NGX_HTTP_NOT_FOUND
                ? "This workspace does not exist."
                : "Your organisation does not own this workspace; ask its "
                  "owner for a share link."));
        return;
    }

    ngx_http_replicas_finish(r,
        ngx_http_replicas_redirect(r, NGX_HTTP_MOVED_TEMPORARILY,
                                   &s->location, NULL));
}


/*
 * "to" must be a preview URL of this Replicas, on the scheme and port the
 * browser reached the main site by: the ticket goes only there.  Parsed
 * by the one URL parser (common/rp_url_parse.c); what the browser is sent
 * to is built from the parsed parts, never copied from the text.
 */

static ngx_int_t
ngx_http_replicas_ticket_target(ngx_http_request_t *r, ngx_str_t *to,
    rp_preview_host_t *host, rp_url_t *u)
{
    u_char                        *colon, *end;
    ngx_int_t                      port;
    ngx_http_replicas_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_replicas_module);

    if (rp_url_parse((char *) to->data, to->len, u) != 0
        || rp_host_parse(u->host, u->host_len, (char *) rlcf->domain.data,
                         rlcf->domain.len, host)
           != RP_HOST_PREVIEW
        || u->https != (ngx_strcmp(ngx_http_replicas_scheme(r), "https") == 0)
        || (u->path_len && ngx_strlchr((u_char *) u->path,
                                       (u_char *) u->path + u->path_len, '|'))
        || (u->has_query
            && ngx_strlchr((u_char *) u->query,
                           (u_char *) u->query + u->query_len, '|')))
    {
        return NGX_DECLINED;
    }

    /* the port of this request's Host: the same listener serves both */
    port = 0;

    if (r->headers_in.host) {
        end = r->headers_in.host->value.data + r->headers_in.host->value.len;
        colon = ngx_strlchr(r->headers_in.host->value.data, end, ':');

        if (colon) {
            port = ngx_atoi(colon + 1, end - colon - 1);
        }
    }

    if (port == NGX_ERROR || (ngx_uint_t) port != u->port) {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_replicas_ticket(ngx_http_request_t *r,
    ngx_http_replicas_session_t *s)
{
    char                           ticket[64], ticket_hash[RP_SHA256_HEX + 1];
    u_char                        *p;
    ngx_int_t                      rc;
    ngx_str_t                      to, args[9], location, path, hashes;
    rp_url_t                       u;
    rp_preview_host_t              host;
    ngx_http_replicas_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_replicas_module);

    if (ngx_http_replicas_param(r, r->args.data, r->args.len, "to", &to)
        != NGX_OK
        || to.len > NGX_HTTP_REPLICAS_NEXT_MAX)
    {
        return ngx_http_replicas_page_text(r, NGX_HTTP_BAD_REQUEST,
                   "Bad request", "This address needs a preview URL in "
                   "\"to\".");
    }

    if (ngx_http_replicas_ticket_target(r, &to, &host, &u) != NGX_OK) {
        return ngx_http_replicas_page_text(r, NGX_HTTP_BAD_REQUEST,
                   "Bad request", "\"to\" is not a preview address of this "
                   "Replicas.");
    }

    rc = ngx_http_replicas_session_from_cookie(r, &hashes);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc != NGX_OK) {
        /* the script would say the same: skip the round trip */
        hashes.data = ngx_pnalloc(r->pool, RP_SHA256_HEX);
        if (hashes.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_memset(hashes.data, '0', RP_SHA256_HEX);
        hashes.len = RP_SHA256_HEX;
    }

    if (rp_random_b64url(32, ticket) != 0) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rp_sha256_hex(ticket, ngx_strlen(ticket), ticket_hash);

    /* where the browser goes with the ticket: the canonical preview host */
    location.data = ngx_pnalloc(r->pool, 64 + RP_WS_ID_MAX + rlcf->domain.len
                                         + sizeof(RP_ARG_TICKET) + 64);
    if (location.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(location.data, "%s://%ui-%s.%V",
                    u.https ? "https" : "http", (ngx_uint_t) host.port,
                    host.id, &rlcf->domain);

    if (u.port) {
        p = ngx_sprintf(p, ":%ui", (ngx_uint_t) u.port);
    }

    p = ngx_sprintf(p, "/.replicas/auth?" RP_ARG_TICKET "=%s", ticket);
    location.len = p - location.data;
    s->location = location;

    /* and where it lands after: the path and query, checked by the parser
     * (visible ASCII only), "/" when there was none */
    path.data = ngx_pnalloc(r->pool, 2 + u.path_len + u.query_len);
    if (path.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = u.path_len ? ngx_cpymem(path.data, u.path, u.path_len)
                   : ngx_cpymem(path.data, "/", 1);

    if (u.has_query) {
        *p++ = '?';
        p = ngx_cpymem(p, u.query, u.query_len);
    }

    path.len = p - path.data;

    p = ngx_pnalloc(r->pool, 2 * RP_SHA256_HEX + 3 * NGX_TIME_T_LEN
                             + rlcf->domain.len + RP_WS_ID_MAX + 16);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_str_set(&args[0], "ticket");

    args[1].data = p;
    p = ngx_sprintf(p, "%T", ngx_time());
    args[1].len = p - args[1].data;

    args[2] = hashes;

    args[3].data = (u_char *) host.id;
    args[3].len = host.id_len;

    args[4].data = p;
    p = ngx_cpymem(p, ticket_hash, RP_SHA256_HEX);
    args[4].len = RP_SHA256_HEX;

    args[5].data = p;
    p = ngx_sprintf(p, "%ui-%s.%V", (ngx_uint_t) host.port, host.id,
                    &rlcf->domain);
    args[5].len = p - args[5].data;

    args[6] = path;

    ngx_str_set(&args[7], NGX_HTTP_REPLICAS_TICKET_TTL);

    /* host.id lives on this stack frame: keep a copy for the call */
    args[3].data = ngx_pstrdup(r->pool, &args[3]);
    if (args[3].data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_replicas_session_eval(r, args, 8,
                                          ngx_http_replicas_ticket_done);
}


/* ---- dispatch ----------------------------------------------------------- */

static void
ngx_http_replicas_session_body(ngx_http_request_t *r)
{
    size_t                        vlen;
    ngx_int_t                     rc;
    const char                   *val;
    ngx_str_t                     secret, body;
    ngx_http_replicas_ctx_t      *ctx;
    ngx_http_replicas_session_t  *s;

    ctx = ngx_http_get_module_ctx(r, ngx_http_replicas_module);
    s = ctx->api;

#define rp_uri_is(u)                                                         \
    (r->uri.len == sizeof(u) - 1                                             \
     && ngx_strncmp(r->uri.data, u, sizeof(u) - 1) == 0)

    if (rp_uri_is("/logout")) {
        rc = ngx_http_replicas_logout(r);

    } else if (rp_uri_is("/auth/preview")) {
        rc = r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)
             ? ngx_http_replicas_ticket(r, s) : NGX_HTTP_NOT_ALLOWED;

    } else if (rp_uri_is("/login") && r->method == NGX_HTTP_POST) {
        /* key=...&next=... from the login form (none if it was too big) */
        if (ngx_http_replicas_body(r, &body) == NGX_ERROR) {
            ngx_http_replicas_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        if (ngx_http_replicas_find_next(r, body.data, body.len, s) != NGX_OK
            || ngx_http_replicas_param(r, body.data, body.len, "key", &secret)
               == NGX_ERROR)
        {
            rc = NGX_HTTP_INTERNAL_SERVER_ERROR;

        } else {
            /* logged as the key's prefix, as on the API (a 401: no one) */
            if (secret.len) {
                ngx_http_replicas_actor_key(r, ctx, secret.data, secret.len);
            }

            rc = ngx_http_replicas_login_start(r, s, "login_key", &secret);
        }

    } else if (rp_uri_is("/login")
               && (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)))
    {
        if (ngx_http_replicas_find_next(r, r->args.data, r->args.len, s)
            != NGX_OK
            || ngx_http_replicas_param(r, r->args.data, r->args.len, "token",
                                       &secret)
               == NGX_ERROR)
        {
            rc = NGX_HTTP_INTERNAL_SERVER_ERROR;

        } else if (secret.data) {
            rc = ngx_http_replicas_login_start(r, s, "login_link", &secret);

        } else {
            rc = ngx_http_replicas_login_page(r, s,
                                              rp_query_get((char *)
                                                           r->args.data,
                                                           r->args.len,
                                                           "next", &val,
                                                           &vlen));
        }

    } else if (rp_uri_is("/login")) {
        rc = NGX_HTTP_NOT_ALLOWED;

    } else {
        rc = ngx_http_replicas_page_text(r, NGX_HTTP_NOT_FOUND, "Not found",
                                         "There is no such page.");
    }

#undef rp_uri_is

    if (rc != NGX_DONE) {
        ngx_http_replicas_finish(r, rc);
    }
}


ngx_int_t
ngx_http_replicas_session_handler(ngx_http_request_t *r)
{
    ngx_int_t                     rc;
    ngx_http_replicas_ctx_t      *ctx;
    ngx_http_replicas_session_t  *s;

    ctx = ngx_http_replicas_get_ctx(r);
    s = ngx_pcalloc(r->pool, sizeof(ngx_http_replicas_session_t));
    if (ctx == NULL || s == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->api = s;

    if (r->headers_in.content_length_n > 8192) {
        return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
    }

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r, ngx_http_replicas_session_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}
