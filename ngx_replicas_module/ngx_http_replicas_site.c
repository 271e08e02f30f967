/*
 * The main site answers only for its own names (directive
 * replicas_main_site, in the main site's server block; called in the
 * server-rewrite phase, before any location, "return" ones included):
 *
 *   Host is replicas_domain or a replicas_alias      -> on, below
 *   Host is a bare IP (or none), URI /healthz        -> on
 *   anything else                                    -> 421
 *
 * A DNS-rebinding page reaches the gateway under its own name: refusing
 * every name but ours keeps the API and the login pages out of its reach.
 * Then, for the names it serves, a state-changing request a browser sent
 * from another site (a foreign Origin, or Sec-Fetch-Site cross-site or
 * same-site: every preview is same-site) gets 403 - login and logout
 * CSRF, API calls made with a browser's credentials.  Programs send
 * neither header.
 */

#include "ngx_http_replicas.h"


#define RP_HEALTH_PATH  "/healthz"


static ngx_uint_t
ngx_http_replicas_site_name(ngx_http_replicas_loc_conf_t *rlcf,
    ngx_str_t *host)
{
    ngx_str_t   *alias;
    ngx_uint_t   i;

    if (host->len == rlcf->domain.len
        && ngx_strncmp(host->data, rlcf->domain.data, host->len) == 0)
    {
        return 1;
    }

    if (rlcf->aliases == NULL) {
        return 0;
    }

    alias = rlcf->aliases->elts;

    for (i = 0; i < rlcf->aliases->nelts; i++) {
        if (host->len == alias[i].len
            && ngx_strncmp(host->data, alias[i].data, host->len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


ngx_int_t
ngx_http_replicas_site_handler(ngx_http_request_t *r)
{
    ngx_str_t                     *host, msg;
    ngx_http_replicas_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_replicas_module);

    if (!rlcf->main_site) {
        return NGX_DECLINED;
    }

    /* nginx's validated Host: lowercased, no port, no trailing dot */
    host = &r->headers_in.server;

    if (ngx_http_replicas_site_name(rlcf, host)) {
        if (ngx_http_replicas_unsafe_method(r)
            && ngx_http_replicas_cross_site(r))
        {
            ngx_str_set(&msg, "This request came from another site. "
                        "Requests that change something must come from "
                        "Replicas' own pages, or from a program (with an "
                        "API key and no Origin).");
            return ngx_http_replicas_send_error(r, NGX_HTTP_FORBIDDEN,
                                                "origin_forbidden", &msg, 0);
        }

        return NGX_DECLINED;
    }

    if ((host->len == 0 || rp_host_is_ip((char *) host->data, host->len))
        && r->uri.len == sizeof(RP_HEALTH_PATH) - 1
        && ngx_strncmp(r->uri.data, RP_HEALTH_PATH, r->uri.len) == 0)
    {
        return NGX_DECLINED;
    }

    ngx_str_set(&msg, "This gateway does not serve that host name. Use the "
                "Replicas domain or a preview address under it.");

    return ngx_http_replicas_send_error(r, NGX_HTTP_MISDIRECTED_REQUEST,
                                        "misdirected_host", &msg, 0);
}
