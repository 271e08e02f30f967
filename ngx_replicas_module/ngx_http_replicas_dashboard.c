/*
 * The dashboard's credential for the /v1 API: the browser's session
 * cookie (made by POST /login, ngx_http_replicas_session.c), taken when a
 * request has no Authorization header.  Called by the API's credential
 * step (ngx_http_replicas_api.c).
 *
 * The script gets "s:<sha256>,<sha256>..." in place of a key's hash and
 * uses the first that is a live session (lua/api.lua), as the login pages
 * do, so a cookie planted beside the real one cannot lock its owner out.
 * CSRF: a state-changing request a browser sends from another site has
 * already been refused in the server-rewrite phase (replicas_main_site,
 * ngx_http_replicas_site.c), before this runs.
 */

#include "ngx_http_replicas.h"


ngx_int_t
ngx_http_replicas_dashboard_credential(ngx_http_request_t *r,
    ngx_str_t *key_hash)
{
    u_char      *p;
    ngx_str_t    v[RP_COOKIE_TRIES];
    ngx_uint_t   i, n;

    n = ngx_http_replicas_get_cookies(r, RP_COOKIE_SESSION, v,
                                      RP_COOKIE_TRIES);
    if (n == 0) {
        return NGX_DECLINED;
    }

    key_hash->data = ngx_pnalloc(r->pool,
                                 2 + RP_COOKIE_TRIES * (RP_SHA256_HEX + 1) + 2);
    if (key_hash->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(key_hash->data, "s:", 2);

    for (i = 0; i < n; i++) {
        if (v[i].len == 0 || v[i].len > 128) {
            continue;
        }

        if (p != key_hash->data + 2) {
            *p++ = ',';
        }

        rp_sha256_hex(v[i].data, v[i].len, (char *) p);
        p += RP_SHA256_HEX;
    }

    if (p == key_hash->data + 2) {
        return NGX_DECLINED;
    }

    /* and an empty Idempotency-Key's hash after it (create reads it) */
    p[0] = '\0';
    p[1] = '\0';
    key_hash->len = p - key_hash->data;

    return NGX_OK;
}
