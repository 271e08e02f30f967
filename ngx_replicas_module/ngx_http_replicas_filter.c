/*
 * A workspace's app never sets a platform cookie: the header filter drops
 * every Set-Cookie naming a "replicas_*" cookie from proxied responses of
 * previews and of the API's engine streams.  A preview could otherwise
 * plant "replicas_preview=...; Domain=<domain>" (or replicas_session) for
 * every host of the platform, and lock the owner out or log the victim
 * into the attacker's account.  Each worker logs it once per workspace
 * (the last NGX_HTTP_REPLICAS_FILTER_SEEN remembered), so an app that
 * keeps trying does not flood the log.
 */

#include "ngx_http_replicas.h"


#define NGX_HTTP_REPLICAS_FILTER_SEEN  64


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;

static char        ngx_http_replicas_filter_seen[NGX_HTTP_REPLICAS_FILTER_SEEN]
                                            [RP_WS_ID_MAX + 1];
static ngx_uint_t  ngx_http_replicas_filter_next;


/* 1 the first time this worker drops one for workspace "id" */

static ngx_uint_t
ngx_http_replicas_filter_first(rp_preview_host_t *host)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_REPLICAS_FILTER_SEEN; i++) {
        if (ngx_strcmp(ngx_http_replicas_filter_seen[i], host->id) == 0) {
            return 0;
        }
    }

    ngx_memcpy(ngx_http_replicas_filter_seen[ngx_http_replicas_filter_next],
               host->id, host->id_len + 1);
    ngx_http_replicas_filter_next = (ngx_http_replicas_filter_next + 1)
                                    % NGX_HTTP_REPLICAS_FILTER_SEEN;

    return 1;
}


static ngx_int_t
ngx_http_replicas_header_filter(ngx_http_request_t *r)
{
    ngx_uint_t                i, dropped;
    ngx_list_part_t          *part;
    ngx_table_elt_t          *h;
    ngx_http_replicas_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_replicas_module);

    /* only what came from a workspace: our own answers have no upstream */
    if (r->upstream == NULL || ctx == NULL || ctx->host.id_len == 0) {
        return ngx_http_next_header_filter(r);
    }

    dropped = 0;
    part = &r->headers_out.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash == 0 || h[i].key.len != sizeof("Set-Cookie") - 1
            || ngx_strncasecmp(h[i].key.data, (u_char *) "Set-Cookie",
                               sizeof("Set-Cookie") - 1) != 0
            || !rp_set_cookie_is_own((char *) h[i].value.data,
                                     h[i].value.len))
        {
            continue;
        }

        h[i].hash = 0;                  /* the header filters skip it */
        dropped++;
    }

    if (dropped && ngx_http_replicas_filter_first(&ctx->host)) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "replicas: workspace %s (port %ui) tried to set a "
                      "platform cookie; dropped (logged once per workspace)",
                      ctx->host.id, (ngx_uint_t) ctx->host.port);
    }

    return ngx_http_next_header_filter(r);
}


ngx_int_t
ngx_http_replicas_filter_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_replicas_header_filter;

    return NGX_OK;
}
