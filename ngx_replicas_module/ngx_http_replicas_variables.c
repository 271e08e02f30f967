/*
 * The module's variables, set by the request path and read by
 * proxy_pass (through the balancer), proxy_set_header and the access log.
 */

#include "ngx_http_replicas.h"


/*
 * "key:<prefix>" from an API key's text "rk_<prefix>_<secret>": only the
 * public prefix, never the secret; a key of any other form is named
 * "key:?" (it cannot be a valid one anyway).
 */

void
ngx_http_replicas_actor_key(ngx_http_request_t *r,
    ngx_http_replicas_ctx_t *ctx, u_char *key, size_t len)
{
    size_t      tag, i;
    u_char     *p, c;

    tag = sizeof(RP_APIKEY_TAG) - 1;

    p = ngx_pnalloc(r->pool, sizeof("key:") - 1 + RP_APIKEY_PREFIX_LEN);
    if (p == NULL) {
        return;
    }

    ctx->actor.data = p;
    p = ngx_cpymem(p, "key:", sizeof("key:") - 1);

    if (len > tag + RP_APIKEY_PREFIX_LEN
        && ngx_strncmp(key, RP_APIKEY_TAG, tag) == 0
        && key[tag + RP_APIKEY_PREFIX_LEN] == '_')
    {
        for (i = 0; i < RP_APIKEY_PREFIX_LEN; i++) {
            c = key[tag + i];

            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                  || (c >= '0' && c <= '9')))
            {
                break;
            }
        }

        if (i == RP_APIKEY_PREFIX_LEN) {
            p = ngx_cpymem(p, key + tag, RP_APIKEY_PREFIX_LEN);
            ctx->actor.len = p - ctx->actor.data;
            return;
        }
    }

    *p++ = '?';
    ctx->actor.len = p - ctx->actor.data;
}


/*
 * $replicas_actor: who the request acted as, for the access log.  A
 * credential that was refused (401) names no one: the log must not
 * attribute a request to a key someone merely claimed.
 */

static ngx_int_t
ngx_http_replicas_actor_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_replicas_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_replicas_module);

    if (ctx == NULL || ctx->actor.len == 0
        || r->headers_out.status == NGX_HTTP_UNAUTHORIZED)
    {
        v->data = (u_char *) "-";
        v->len = 1;

    } else {
        v->data = ctx->actor.data;
        v->len = ctx->actor.len;
    }

    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}

typedef enum {
    NGX_HTTP_REPLICAS_VAR_UPSTREAM = 0,
    NGX_HTTP_REPLICAS_VAR_WORKSPACE,
    NGX_HTTP_REPLICAS_VAR_PORT,
    NGX_HTTP_REPLICAS_VAR_STATE
} ngx_http_replicas_var_e;


static ngx_int_t
ngx_http_replicas_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                   *p;
    const char               *s;
    ngx_http_replicas_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_replicas_module);

    if (ctx == NULL || ctx->host.id_len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    switch (data) {

    case NGX_HTTP_REPLICAS_VAR_UPSTREAM:
        if (ctx->upstream.len == 0) {
            v->not_found = 1;
            return NGX_OK;
        }

        v->data = ctx->upstream.data;
        v->len = ctx->upstream.len;
        break;

    case NGX_HTTP_REPLICAS_VAR_WORKSPACE:
        v->data = (u_char *) ctx->host.id;
        v->len = ctx->host.id_len;
        break;

    case NGX_HTTP_REPLICAS_VAR_PORT:
        p = ngx_pnalloc(r->pool, sizeof("65535") - 1);
        if (p == NULL) {
            return NGX_ERROR;
        }

        v->data = p;
        v->len = ngx_sprintf(p, "%ui", (ngx_uint_t) ctx->host.port) - p;
        break;

    default: /* NGX_HTTP_REPLICAS_VAR_STATE */
        if (!ctx->route_known || ctx->route_rc != NGX_OK) {
            v->not_found = 1;
            return NGX_OK;
        }

        s = rp_state_name(ctx->route.state);
        v->data = (u_char *) s;
        v->len = ngx_strlen(s);
        break;
    }

    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_http_variable_t  ngx_http_replicas_vars[] = {

    { ngx_string("replicas_upstream"), NULL, ngx_http_replicas_variable,
      NGX_HTTP_REPLICAS_VAR_UPSTREAM, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("replicas_workspace"), NULL, ngx_http_replicas_variable,
      NGX_HTTP_REPLICAS_VAR_WORKSPACE, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("replicas_port"), NULL, ngx_http_replicas_variable,
      NGX_HTTP_REPLICAS_VAR_PORT, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("replicas_state"), NULL, ngx_http_replicas_variable,
      NGX_HTTP_REPLICAS_VAR_STATE, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("replicas_cookie"), NULL, ngx_http_replicas_cookie_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("replicas_actor"), NULL, ngx_http_replicas_actor_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


ngx_int_t
ngx_http_replicas_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_replicas_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}
