/*
 * What people and programs see when a preview cannot be served: an HTML
 * page for browsers (Accept: text/html), otherwise the API's JSON shape
 * {"error":{"code":"...","message":"..."}}.  Retryable answers carry
 * Retry-After, and their pages reload themselves at the same URL.
 */

#include "ngx_http_replicas.h"


/* Escapes for both HTML text and JSON strings: the message is ours, but
 * it quotes pieces of the request, so nothing is trusted. */

static u_char *
ngx_http_replicas_escape(u_char *p, ngx_str_t *s, ngx_uint_t html)
{
    u_char      c;
    ngx_uint_t  i;

    for (i = 0; i < s->len; i++) {
        c = s->data[i];

        if (html && (c == '<' || c == '>' || c == '&' || c == '"')) {
            p = ngx_sprintf(p, "&#%ud;", (ngx_uint_t) c);

        } else if (!html && (c == '"' || c == '\\')) {
            *p++ = '\\';
            *p++ = c;

        } else if (c < 0x20 || c >= 0x7f) {
            *p++ = '?';

        } else {
            *p++ = c;
        }
    }

    return p;
}


/* Sends b as the whole response: status, type, no-store, Retry-After. */

static ngx_int_t
ngx_http_replicas_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_uint_t html, ngx_buf_t *b, time_t retry_after)
{
    ngx_int_t         rc;
    ngx_chain_t       out;
    ngx_table_elt_t  *h;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = status;
    r->headers_out.content_length_n = b->last - b->pos;

    if (html) {
        ngx_str_set(&r->headers_out.content_type, "text/html; charset=utf-8");
    } else {
        ngx_str_set(&r->headers_out.content_type, "application/json");
    }

    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Cache-Control");
    ngx_str_set(&h->value, "no-store");

    if (retry_after) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->value.data = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
        if (h->value.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "Retry-After");
        h->value.len = ngx_sprintf(h->value.data, "%T", retry_after)
                       - h->value.data;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* A body that lives in the pool already, sent as it is. */

static ngx_int_t
ngx_http_replicas_send_str(ngx_http_request_t *r, ngx_uint_t status,
    ngx_uint_t html, ngx_str_t *body, time_t retry_after)
{
    ngx_buf_t  *b;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = body->data;
    b->last = body->data + body->len;
    b->memory = 1;

    return ngx_http_replicas_send(r, status, html, b, retry_after);
}


static ngx_int_t
ngx_http_replicas_send_message(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, ngx_str_t *message, time_t retry_after,
    ngx_uint_t html)
{
    u_char     *p;
    ngx_buf_t  *b;

    /* every byte of the message may grow to "&#NN;" */
    b = ngx_create_temp_buf(r->pool, 1024 + ngx_strlen(code)
                                     + 5 * message->len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = b->last;

    if (html) {
        p = ngx_cpymem(p, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">",
                       sizeof("<!DOCTYPE html>\n<html><head>"
                              "<meta charset=\"utf-8\">") - 1);

        if (retry_after) {
            p = ngx_sprintf(p, "<meta http-equiv=\"refresh\" content=\"%T\">",
                            retry_after);
        }

        p = ngx_sprintf(p, "<title>%ui &middot; Replicas</title>"
                        "<style>body{font:16px system-ui,sans-serif;"
                        "max-width:40em;margin:4em auto;color:#222}"
                        "code{color:#777}</style></head><body>"
                        "<h1>%ui</h1><p>", status, status);
        p = ngx_http_replicas_escape(p, message, 1);
        p = ngx_sprintf(p, "</p><p><code>%s</code></p>", code);

        if (retry_after) {
            p = ngx_sprintf(p, "<p>This page retries by itself every %T s. "
                            "<a href=\"\">Retry now</a></p>", retry_after);
        }

        p = ngx_cpymem(p, "</body></html>\n",
                       sizeof("</body></html>\n") - 1);

    } else {
        p = ngx_sprintf(p, "{\"error\":{\"code\":\"%s\",\"message\":\"", code);
        p = ngx_http_replicas_escape(p, message, 0);
        p = ngx_cpymem(p, "\"}}\n", sizeof("\"}}\n") - 1);
    }

    b->last = p;

    return ngx_http_replicas_send(r, status, html, b, retry_after);
}


/*
 * Every error of the request path, once: its status, its code, its
 * Retry-After, whether browsers get it as a page, and its message (a
 * format: its arguments come with the call, see ngx_http_replicas.h).
 * NGX_HTTP_REPLICAS_PAGE: an HTML page when the request wants one, else
 * JSON; 0: always JSON (an answer only programs are meant to read).
 */

#define NGX_HTTP_REPLICAS_PAGE  1

typedef struct {
    ngx_uint_t   status;
    const char  *code;
    time_t       retry_after;      /* NGX_HTTP_REPLICAS_RETRY_ARG: given */
    ngx_uint_t   page;
    const char  *message;
} ngx_http_replicas_error_t;


static ngx_http_replicas_error_t
    ngx_http_replicas_errors[NGX_HTTP_REPLICAS_ERR_LAST] =
{
    /* the arguments each message takes, in order, above its row */

    [NGX_HTTP_REPLICAS_ERR_BAD_HOST] =
      { NGX_HTTP_BAD_REQUEST, "bad_host", 0, NGX_HTTP_REPLICAS_PAGE,
      "This is not a valid preview address. Preview addresses look like "
      "<port>-<workspace>.<domain>, with a port from 1 to 65535." },

    [NGX_HTTP_REPLICAS_ERR_STATE_UNAVAILABLE] =
      { NGX_HTTP_SERVICE_UNAVAILABLE, "state_unavailable", 1,
      NGX_HTTP_REPLICAS_PAGE,
      "The gateway cannot read workspace state right now. Retry in a "
      "moment." },

    /* the id */
    [NGX_HTTP_REPLICAS_ERR_WORKSPACE_NOT_FOUND] =
      { NGX_HTTP_NOT_FOUND, "workspace_not_found", 0, NGX_HTTP_REPLICAS_PAGE,
      "workspace not found: %s" },

    /* the id */
    [NGX_HTTP_REPLICAS_ERR_WORKSPACE_FAILED] =
      { NGX_HTTP_BAD_GATEWAY, "workspace_failed", 0, NGX_HTTP_REPLICAS_PAGE,
      "Workspace %s has failed." },

    /* the id */
    [NGX_HTTP_REPLICAS_ERR_WORKSPACE_INVALID] =
      { NGX_HTTP_BAD_GATEWAY, "workspace_invalid", 0, NGX_HTTP_REPLICAS_PAGE,
      "Workspace %s has an invalid record." },

    [NGX_HTTP_REPLICAS_ERR_WAKE_UNAVAILABLE] =
      { NGX_HTTP_SERVICE_UNAVAILABLE, "state_unavailable", 2,
      NGX_HTTP_REPLICAS_PAGE,
      "The gateway cannot reach workspace state to wake it. Retry in a "
      "moment." },

    /* NGX_HTTP_REPLICAS_ERR_AWAKE_LIMIT: the id, the limit (ngx_str_t *) */
    { NGX_HTTP_TOO_MANY_REQUESTS, "awake_limit", 30, NGX_HTTP_REPLICAS_PAGE,
      "Workspace %s cannot wake: its organisation already has %V "
      "workspaces awake, its limit. Put one to sleep and retry." },

    /* the id, the limit */
    [NGX_HTTP_REPLICAS_ERR_USER_AWAKE_LIMIT] =
      { NGX_HTTP_TOO_MANY_REQUESTS, "user_awake_limit", 30,
      NGX_HTTP_REPLICAS_PAGE,
      "Workspace %s cannot wake: its owner already has %V workspaces "
      "awake, the limit per user. Put one to sleep and retry." },

    /* the id */
    [NGX_HTTP_REPLICAS_ERR_WORKSPACE_WAKING] =
      { NGX_HTTP_SERVICE_UNAVAILABLE, "workspace_waking", 2,
      NGX_HTTP_REPLICAS_PAGE,
      "Waking workspace %s\xe2\x80\xa6 This page reloads by itself when it "
      "is ready." },

    /* the id, replicas_wake_hold */
    [NGX_HTTP_REPLICAS_ERR_WAKE_TIMEOUT] =
      { NGX_HTTP_GATEWAY_TIME_OUT, "wake_timeout", 5, NGX_HTTP_REPLICAS_PAGE,
      "Workspace %s is not ready: its wake did not finish within %M ms "
      "(replicas_wake_hold). Retry in a few seconds." },

    [NGX_HTTP_REPLICAS_ERR_ORIGIN_WEBSOCKET] =
      { NGX_HTTP_FORBIDDEN, "origin_forbidden", 0, 0,
      "WebSocket connections to this preview must come from the preview "
      "itself or the main domain" },

    [NGX_HTTP_REPLICAS_ERR_ORIGIN_WRITE] =
      { NGX_HTTP_FORBIDDEN, "origin_forbidden", 0, 0,
      "requests that change something here must come from this preview "
      "itself or the main domain, not another site" },

    [NGX_HTTP_REPLICAS_ERR_CREDENTIAL_MISSING] =
      { NGX_HTTP_UNAUTHORIZED, "unauthorized", 0, 0,
      "this preview needs a credential: an API key as \"Authorization: "
      "Bearer <key>\" or \"X-Replicas-Preview-Token\", or a browser login" },

    [NGX_HTTP_REPLICAS_ERR_KEY_UNKNOWN] =
      { NGX_HTTP_UNAUTHORIZED, "unauthorized", 0, 0,
      "unknown or revoked API key" },

    [NGX_HTTP_REPLICAS_ERR_NOT_YOUR_WORKSPACE] =
      { NGX_HTTP_FORBIDDEN, "not_your_workspace", 0, 0,
      "this workspace belongs to another user: only its owner, its "
      "collaborators and admins may open its previews" },

    [NGX_HTTP_REPLICAS_ERR_KEY_FORBIDDEN] =
      { NGX_HTTP_FORBIDDEN, "forbidden", 0, 0,
      "this API key may not open this workspace's previews" },

    [NGX_HTTP_REPLICAS_ERR_CREDENTIAL_UNAVAILABLE] =
      { NGX_HTTP_SERVICE_UNAVAILABLE, "state_unavailable", 0,
      NGX_HTTP_REPLICAS_PAGE,
      "The gateway cannot check credentials right now. Retry in a "
      "moment." },

    [NGX_HTTP_REPLICAS_ERR_TICKET_UNAVAILABLE] =
      { NGX_HTTP_SERVICE_UNAVAILABLE, "state_unavailable", 1,
      NGX_HTTP_REPLICAS_PAGE,
      "The gateway cannot check sign-ins right now. Retry in a moment." },

    [NGX_HTTP_REPLICAS_ERR_TICKET_INVALID] =
      { NGX_HTTP_FORBIDDEN, "ticket_invalid", 0, NGX_HTTP_REPLICAS_PAGE,
      "This sign-in link has expired or was already used. Open the "
      "preview again to get a new one." },

    /* the seconds to wait (time_t) */
    [NGX_HTTP_REPLICAS_ERR_RATE_LIMITED] =
      { NGX_HTTP_TOO_MANY_REQUESTS, "rate_limited", NGX_HTTP_REPLICAS_RETRY_ARG,
      0,
      "too many requests for this API key or its user (preview requests "
      "with a key count against the API's rate limit)" },

    [NGX_HTTP_REPLICAS_ERR_UPSTREAM] =
      { NGX_HTTP_BAD_GATEWAY, "bad_gateway", 5, NGX_HTTP_REPLICAS_PAGE,
      "The upstream did not answer." },

    /* the port, the id */
    [NGX_HTTP_REPLICAS_ERR_PORT_TIMEOUT] =
      { NGX_HTTP_GATEWAY_TIME_OUT, "port_timeout", 5, NGX_HTTP_REPLICAS_PAGE,
      "Port %ui of workspace %s did not answer in time." },

    /* the port, the id */
    [NGX_HTTP_REPLICAS_ERR_PORT_NOT_OPEN] =
      { NGX_HTTP_BAD_GATEWAY, "port_not_open", 5, NGX_HTTP_REPLICAS_PAGE,
      "Nothing is listening on port %ui of workspace %s. Start a server on "
      "that port, then retry." },

    /* the API's events streams (ngx_http_replicas_api.c) */

    [NGX_HTTP_REPLICAS_ERR_API_NOT_FOUND] =
      { NGX_HTTP_NOT_FOUND, "not_found", 0, 0, "no such API endpoint" },

    [NGX_HTTP_REPLICAS_ERR_API_METHOD] =
      { NGX_HTTP_NOT_ALLOWED, "method_not_allowed", 0, 0,
        "no such API endpoint" },

    [NGX_HTTP_REPLICAS_ERR_API_UNAUTHORIZED] =
      { NGX_HTTP_UNAUTHORIZED, "unauthorized", 0, 0,
        "send an API key as \"Authorization: Bearer <key>\"" },

    [NGX_HTTP_REPLICAS_ERR_API_UNAVAILABLE] =
      { NGX_HTTP_SERVICE_UNAVAILABLE, "state_unavailable", 1, 0,
        "the API cannot reach its state store right now; retry shortly" },

    [NGX_HTTP_REPLICAS_ERR_ENGINE_ADDRESS] =
      { NGX_HTTP_BAD_GATEWAY, "workspace_invalid", 0, 0,
        "the workspace has no valid address" },

    /* nginx's own 502/504 from an engine the API proxies to */
    [NGX_HTTP_REPLICAS_ERR_ENGINE_UNREACHABLE] =
      { NGX_HTTP_BAD_GATEWAY, "engine_unreachable", 5, 0,
        "the gateway could not reach the workspace's engine: nothing "
        "listens on its port 3737, or the connection failed" },

    [NGX_HTTP_REPLICAS_ERR_ENGINE_TIMEOUT] =
      { NGX_HTTP_GATEWAY_TIME_OUT, "engine_timeout", 5, 0,
        "the workspace's engine did not answer the gateway in time" },
};


static ngx_int_t
ngx_http_replicas_error_va(ngx_http_request_t *r, ngx_uint_t err,
    va_list args)
{
    time_t                      retry_after;
    ngx_str_t                   msg;
    ngx_uint_t                  html, json;
    ngx_http_replicas_error_t  *e;
    u_char                      buf[NGX_HTTP_REPLICAS_MESSAGE_MAX];

    json = err & NGX_HTTP_REPLICAS_AS_JSON;
    err &= ~NGX_HTTP_REPLICAS_AS_JSON;

    if (err == NGX_HTTP_REPLICAS_ERR_NONE
        || err >= NGX_HTTP_REPLICAS_ERR_LAST)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;      /* not a row */
    }

    e = &ngx_http_replicas_errors[err];

    retry_after = e->retry_after;

    if (retry_after == NGX_HTTP_REPLICAS_RETRY_ARG) {
        retry_after = va_arg(args, time_t);
    }

    msg.data = buf;
    msg.len = ngx_vslprintf(buf, buf + sizeof(buf), e->message, args) - buf;

    html = e->page && !json && ngx_http_replicas_wants_html(r);

    return ngx_http_replicas_send_message(r, e->status, e->code, &msg,
                                          retry_after, html);
}


ngx_int_t
ngx_http_replicas_error(ngx_http_request_t *r, ngx_uint_t err, ...)
{
    va_list    args;
    ngx_int_t  rc;

    va_start(args, err);
    rc = ngx_http_replicas_error_va(r, err, args);
    va_end(args);

    return rc;
}


ngx_int_t
ngx_http_replicas_fail(ngx_http_request_t *r, ngx_uint_t err, ...)
{
    va_list    args;
    ngx_int_t  rc;

    va_start(args, err);
    rc = ngx_http_replicas_error_va(r, err, args);
    va_end(args);

    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}


/* Finalizes a request answered outside its phase handler (a timer, a
 * reply), and runs what that posted. */

void
ngx_http_replicas_finish(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_connection_t  *c = r->connection;

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


/* For previews: a page for browsers, JSON for everyone else. */

ngx_int_t
ngx_http_replicas_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, ngx_str_t *message, time_t retry_after)
{
    return ngx_http_replicas_send_message(r, status, code, message,
                                          retry_after,
                                          ngx_http_replicas_wants_html(r));
}


/* For the API: always JSON. */

ngx_int_t
ngx_http_replicas_send_json_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, ngx_str_t *message, time_t retry_after)
{
    return ngx_http_replicas_send_message(r, status, code, message,
                                          retry_after, 0);
}


ngx_int_t
ngx_http_replicas_send_json(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *body, time_t retry_after)
{
    return ngx_http_replicas_send_str(r, status, 0, body, retry_after);
}


/*
 * Content handler for the location that error_page sends nginx's own
 * 502/504 to: the workspace is awake but nothing answered on the port.
 * On the main site, the engine behind an API path (its events, hooks,
 * health...): always JSON, the API's.
 */

ngx_int_t
ngx_http_replicas_upstream_error_handler(ngx_http_request_t *r)
{
    ngx_uint_t                     timeout;
    rp_preview_host_t              host;
    ngx_http_replicas_loc_conf_t  *rlcf;

    static const char  api[] = "/v1/workspaces/";

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_replicas_module);
    timeout = r->err_status == NGX_HTTP_GATEWAY_TIME_OUT;

    if (rp_host_parse((char *) r->headers_in.server.data,
                      r->headers_in.server.len,
                      (char *) rlcf->domain.data, rlcf->domain.len, &host)
        != RP_HOST_PREVIEW)
    {
        if (r->uri.len > sizeof(api) - 1
            && ngx_strncmp(r->uri.data, api, sizeof(api) - 1) == 0)
        {
            return ngx_http_replicas_error(r, NGX_HTTP_REPLICAS_AS_JSON
                       | (timeout ? NGX_HTTP_REPLICAS_ERR_ENGINE_TIMEOUT
                                  : NGX_HTTP_REPLICAS_ERR_ENGINE_UNREACHABLE));
        }

        return ngx_http_replicas_error(r, NGX_HTTP_REPLICAS_ERR_UPSTREAM);
    }

    return ngx_http_replicas_error(r,
               timeout
               ? NGX_HTTP_REPLICAS_ERR_PORT_TIMEOUT
               : NGX_HTTP_REPLICAS_ERR_PORT_NOT_OPEN,
               (ngx_uint_t) host.port, host.id);
}


static ngx_int_t
ngx_http_replicas_add_header(ngx_http_request_t *r, const char *key,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    /* every value we write may quote the request (a Location's path):
     * nothing that could end the header or start another goes out */
    if (!rp_header_value_ok((char *) value->data, value->len)) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "replicas: refused a control character in %s", key);
        return NGX_ERROR;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value = *value;

    return NGX_OK;
}


/*
 * Set-Cookie value for one of ours: Path=/, HttpOnly, SameSite=Lax,
 * Secure under https, host-only (no Domain attribute).
 */

ngx_int_t
ngx_http_replicas_cookie(ngx_http_request_t *r, const char *name,
    ngx_str_t *value, time_t max_age, ngx_str_t *out)
{
    out->data = ngx_pnalloc(r->pool, 128 + value->len);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    out->len = ngx_sprintf(out->data, "%s=%V; Path=/; Max-Age=%T; HttpOnly;"
                           " SameSite=Lax%s", name, value, max_age,
                           ngx_strcmp(ngx_http_replicas_scheme(r), "https")
                           == 0 ? "; Secure" : "")
               - out->data;

    return NGX_OK;
}


ngx_int_t
ngx_http_replicas_add_cookie(ngx_http_request_t *r, ngx_str_t *cookie)
{
    return ngx_http_replicas_add_header(r, "Set-Cookie", cookie);
}


/*
 * A redirect the browser follows at once.  Location is absolute (ours),
 * so nginx leaves it alone; the small body is for humans with curl.
 */

ngx_int_t
ngx_http_replicas_redirect(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *location, ngx_str_t *cookie)
{
    ngx_buf_t  *b;
    ngx_str_t   loc;

    b = ngx_create_temp_buf(r->pool, location->len + 64);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    loc = *location;

    if (ngx_http_replicas_add_header(r, "Location", &loc) != NGX_OK
        || (cookie && cookie->len
            && ngx_http_replicas_add_header(r, "Set-Cookie", cookie)
               != NGX_OK))
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_sprintf(b->last, "{\"redirect\":\"%V\"}\n", location);

    return ngx_http_replicas_send(r, status, 0, b, 0);
}


ngx_int_t
ngx_http_replicas_send_html(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *body, ngx_str_t *cookie)
{
    if (cookie && cookie->len
        && ngx_http_replicas_add_header(r, "Set-Cookie", cookie) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_replicas_send_str(r, status, 1, body, 0);
}
