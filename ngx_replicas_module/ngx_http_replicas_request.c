/*
 * What the module reads from a request, shared by previews, the API and
 * the login pages: headers, cookies, the scheme and main origin, a body
 * read into memory; and the request's ctx, with the re-run of the phases
 * of a request that waited (a Redis reply, a released hold).
 */

#include "ngx_http_replicas.h"


ngx_http_replicas_ctx_t *
ngx_http_replicas_get_ctx(ngx_http_request_t *r)
{
    ngx_http_replicas_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_replicas_module);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_replicas_ctx_t));
        if (ctx == NULL) {
            return NULL;
        }

        ngx_http_set_ctx(r, ctx, ngx_http_replicas_module);
    }

    return ctx;
}


void
ngx_http_replicas_resume(ngx_http_request_t *r)
{
    ngx_connection_t  *c = r->connection;

    r->read_event_handler = ngx_http_block_reading;
    r->write_event_handler = ngx_http_core_run_phases;

    ngx_http_core_run_phases(r);
    ngx_http_run_posted_requests(c);
}


/* Browsers ask for HTML; programs get JSON. */

ngx_int_t
ngx_http_replicas_wants_html(ngx_http_request_t *r)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return 0;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == 6
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Accept", 6) == 0
            && ngx_strlcasestrn(h[i].value.data,
                                h[i].value.data + h[i].value.len,
                                (u_char *) "text/html", 9 - 1)
               != NULL)
        {
            return 1;
        }
    }
}


/* The first header of that name, or NULL. */

ngx_table_elt_t *
ngx_http_replicas_header(ngx_http_request_t *r, const char *name)
{
    size_t            len;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    len = ngx_strlen(name);
    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == len
            && ngx_strncasecmp(h[i].key.data, (u_char *) name, len) == 0)
        {
            return &h[i];
        }
    }
}


/*
 * The scheme the browser used: TLS here, or X-Forwarded-Proto: https from
 * a peer in replicas_trusted_proxies (from anyone else the header is
 * ignored: a client could otherwise claim it).  It decides Secure on the
 * cookies, the redirects' URLs and the Origin a browser sends.
 */

const char *
ngx_http_replicas_scheme(ngx_http_request_t *r)
{
    ngx_table_elt_t               *h;
    ngx_http_replicas_loc_conf_t  *rlcf;

#if (NGX_HTTP_SSL)
    if (r->connection->ssl) {
        return "https";
    }
#endif

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_replicas_module);

    if (rlcf->trusted == NULL
        || ngx_cidr_match(r->connection->sockaddr, rlcf->trusted) != NGX_OK)
    {
        return "http";
    }

    h = ngx_http_replicas_header(r, "X-Forwarded-Proto");

    if (h && h->value.len == 5
        && ngx_strncasecmp(h->value.data, (u_char *) "https", 5) == 0)
    {
        return "https";
    }

    return "http";
}


ngx_int_t
ngx_http_replicas_main_origin(ngx_http_request_t *r, ngx_str_t *out)
{
    u_char                        *p, *colon;
    ngx_str_t                      port;
    ngx_http_replicas_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_replicas_module);

    /* the port the browser used, from its Host header */
    ngx_str_null(&port);

    if (r->headers_in.host) {
        colon = ngx_strlchr(r->headers_in.host->value.data,
                            r->headers_in.host->value.data
                            + r->headers_in.host->value.len, ':');
        if (colon) {
            port.data = colon;
            port.len = r->headers_in.host->value.data
                       + r->headers_in.host->value.len - colon;
        }
    }

    if (port.len > 6) {
        port.len = 0;
    }

    out->data = ngx_pnalloc(r->pool, sizeof("https://") + rlcf->domain.len
                                     + port.len);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(out->data, "%s://%V%V", ngx_http_replicas_scheme(r),
                    &rlcf->domain, &port);
    out->len = p - out->data;

    return NGX_OK;
}


/*
 * The i-th Cookie header, or NULL.  nginx 1.23 replaced the array
 * headers_in.cookies with a list linked through ->next (headers_in.cookie):
 * every cookie reader goes through here, so only this knows which.
 */

ngx_table_elt_t *
ngx_http_replicas_cookie_header(ngx_http_request_t *r, ngx_uint_t i)
{
#if (nginx_version >= 1023000)
    ngx_table_elt_t  *h;

    for (h = r->headers_in.cookie; h && i; h = h->next) {
        i--;
    }

    return h;
#else
    ngx_table_elt_t  **h;

    if (i >= r->headers_in.cookies.nelts) {
        return NULL;
    }

    h = r->headers_in.cookies.elts;

    return h[i];
#endif
}


/*
 * The values of every cookie "name" in the request's Cookie headers, in
 * the order sent, at most max: how many.  Several of one name happen (a
 * cookie planted for a parent domain beside the real one): the caller
 * tries each and takes the one that verifies.
 */

ngx_uint_t
ngx_http_replicas_get_cookies(ngx_http_request_t *r, const char *name,
    ngx_str_t *values, ngx_uint_t max)
{
    size_t            pos, len;
    ngx_uint_t        i, n;
    const char       *v;
    ngx_table_elt_t  *h;

    n = 0;

    for (i = 0; n < max; i++) {
        h = ngx_http_replicas_cookie_header(r, i);

        if (h == NULL) {
            break;
        }

        pos = 0;

        while (n < max
               && rp_cookie_find((char *) h->value.data, h->value.len, &pos,
                                 name, &v, &len))
        {
            values[n].data = (u_char *) v;
            values[n].len = len;
            n++;
        }
    }

    return n;
}


/* The first cookie "name": NGX_OK or NGX_DECLINED. */

ngx_int_t
ngx_http_replicas_get_cookie(ngx_http_request_t *r, const char *name,
    ngx_str_t *value)
{
    return ngx_http_replicas_get_cookies(r, name, value, 1) ? NGX_OK
                                                             : NGX_DECLINED;
}


/* 1 for methods that change state: anything but GET, HEAD, OPTIONS */

ngx_uint_t
ngx_http_replicas_unsafe_method(ngx_http_request_t *r)
{
    return !(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_OPTIONS));
}


/*
 * 1 if a browser sent this from another site: its Origin is neither the
 * target host itself ("<scheme>://<Host>") nor the main site; without an
 * Origin, Sec-Fetch-Site says "cross-site" or "same-site".  Every preview
 * host shares one registrable site, so SameSite cookies ride along on a
 * POST from any other workspace's app: only the Origin tells them apart.
 * Programs send neither header and are never refused here.
 */

ngx_uint_t
ngx_http_replicas_cross_site(ngx_http_request_t *r)
{
    size_t            slen;
    ngx_str_t         origin, main, host;
    const char       *scheme;
    ngx_table_elt_t  *h;

    h = ngx_http_replicas_header(r, "Origin");

    if (h == NULL) {
        h = ngx_http_replicas_header(r, "Sec-Fetch-Site");

        return h
               && ((h->value.len == 10
                    && ngx_strncasecmp(h->value.data, (u_char *) "cross-site",
                                       10) == 0)
                   || (h->value.len == 9
                       && ngx_strncasecmp(h->value.data,
                                          (u_char *) "same-site", 9) == 0));
    }

    origin = h->value;
    scheme = ngx_http_replicas_scheme(r);
    slen = ngx_strlen(scheme);

    if (r->headers_in.host) {
        host = r->headers_in.host->value;

        if (origin.len == slen + 3 + host.len
            && ngx_strncmp(origin.data, scheme, slen) == 0
            && ngx_strncmp(origin.data + slen, "://", 3) == 0
            && ngx_strncasecmp(origin.data + slen + 3, host.data, host.len)
               == 0)
        {
            return 0;
        }
    }

    if (ngx_http_replicas_main_origin(r, &main) != NGX_OK) {
        return 1;
    }

    return !(origin.len == main.len
             && ngx_strncasecmp(origin.data, main.data, main.len) == 0);
}


/*
 * The request body in one piece, from memory: NGX_OK (empty when there is
 * none), NGX_DECLINED when it went to a temp file (too large), NGX_ERROR.
 */

ngx_int_t
ngx_http_replicas_body(ngx_http_request_t *r, ngx_str_t *body)
{
    u_char       *p;
    ngx_chain_t  *cl;

    ngx_str_null(body);

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return NGX_OK;
    }

    if (r->request_body->temp_file) {
        return NGX_DECLINED;
    }

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        body->len += cl->buf->last - cl->buf->pos;
    }

    body->data = ngx_pnalloc(r->pool, body->len + 1);
    if (body->data == NULL) {
        return NGX_ERROR;
    }

    p = body->data;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        p = ngx_cpymem(p, cl->buf->pos, cl->buf->last - cl->buf->pos);
    }

    return NGX_OK;
}
