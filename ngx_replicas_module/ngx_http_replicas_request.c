/*
 * What the module reads from a request, shared by previews, the API and
 * the login pages: headers, cookies, the scheme and main origin, a body
 * read into memory.
 */

#include "ngx_http_replicas.h"


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


const char *
ngx_http_replicas_scheme(ngx_http_request_t *r)
{
#if (NGX_HTTP_SSL)
    if (r->connection->ssl) {
        return "https";
    }
#endif

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
 * The value of cookie "name" from the request's Cookie headers (the
 * first found): NGX_OK or NGX_DECLINED.
 */

ngx_int_t
ngx_http_replicas_get_cookie(ngx_http_request_t *r, const char *name,
    ngx_str_t *value)
{
    size_t             len;
    ngx_uint_t         i;
    const char        *v;
    ngx_table_elt_t  **h;

    h = r->headers_in.cookies.elts;

    for (i = 0; i < r->headers_in.cookies.nelts; i++) {
        if (rp_cookie_get((char *) h[i]->value.data, h[i]->value.len, name,
                          &v, &len))
        {
            value->data = (u_char *) v;
            value->len = len;
            return NGX_OK;
        }
    }

    return NGX_DECLINED;
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
