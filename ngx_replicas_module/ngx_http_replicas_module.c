/*
 * ngx_http_replicas_module: directives, configuration and the module's
 * hooks.  The work itself is in the files listed in ngx_http_replicas.h;
 * directives are documented in README.md beside this file.
 */

#include "ngx_http_replicas.h"


static ngx_int_t ngx_http_replicas_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_replicas_postconfiguration(ngx_conf_t *cf);
static void *ngx_http_replicas_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_replicas_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_replicas_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_replicas_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_replicas_redis(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_replicas_cache_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_replicas_domain(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_replicas_upstream_error(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_replicas_api(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_replicas_scripts(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_replicas_session(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_replicas_signing_keys(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_replicas_secrets_key(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_replicas_init_process(ngx_cycle_t *cycle);
static void ngx_http_replicas_exit_process(ngx_cycle_t *cycle);


#define NGX_HTTP_REPLICAS_CACHE_DEFAULT  (1024 * 1024)


static char *ngx_http_replicas_alias(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_replicas_trusted_proxies(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);


static ngx_command_t  ngx_http_replicas_commands[] = {

    { ngx_string("replicas_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_replicas_redis,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("replicas_redis_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_replicas_main_conf_t, redis_timeout),
      NULL },

    { ngx_string("replicas_cache_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_replicas_cache_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("replicas_cache_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_replicas_main_conf_t, cache_ttl),
      NULL },

    { ngx_string("replicas_domain"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_replicas_domain,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("replicas_route"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_replicas_loc_conf_t, route),
      NULL },

    { ngx_string("replicas_cache"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_replicas_loc_conf_t, cache),
      NULL },

    { ngx_string("replicas_upstream_error"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_replicas_upstream_error,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("replicas_api"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_replicas_api,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("replicas_scripts"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_replicas_scripts,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("replicas_session"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_replicas_session,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("replicas_api_events"),
      NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_replicas_loc_conf_t, api_events),
      NULL },

    { ngx_string("replicas_auth"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_replicas_loc_conf_t, auth),
      NULL },

    { ngx_string("replicas_signing_keys"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_replicas_signing_keys,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("replicas_secrets_key"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_replicas_secrets_key,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("replicas_session_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_replicas_main_conf_t, session_ttl),
      NULL },

    { ngx_string("replicas_preview_cookie_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_replicas_main_conf_t, preview_cookie_ttl),
      NULL },

    { ngx_string("replicas_api_rate"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_replicas_loc_conf_t, api_rate),
      NULL },

    { ngx_string("replicas_api_body_max"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_replicas_loc_conf_t, api_body_max),
      NULL },

    { ngx_string("replicas_wake_hold"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_replicas_loc_conf_t, wake_hold),
      NULL },

    { ngx_string("replicas_main_site"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_replicas_loc_conf_t, main_site),
      NULL },

    { ngx_string("replicas_alias"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_1MORE,
      ngx_http_replicas_alias,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("replicas_balancer"),
      NGX_HTTP_UPS_CONF|NGX_CONF_NOARGS,
      ngx_http_replicas_balancer,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("replicas_trusted_proxies"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_1MORE,
      ngx_http_replicas_trusted_proxies,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_replicas_module_ctx = {
    ngx_http_replicas_preconfiguration,    /* preconfiguration */
    ngx_http_replicas_postconfiguration,   /* postconfiguration */

    ngx_http_replicas_create_main_conf,    /* create main configuration */
    ngx_http_replicas_init_main_conf,      /* init main configuration */

    ngx_http_replicas_balancer_create_conf, /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_replicas_create_loc_conf,     /* create location configuration */
    ngx_http_replicas_merge_loc_conf       /* merge location configuration */
};


ngx_module_t  ngx_http_replicas_module = {
    NGX_MODULE_V1,
    &ngx_http_replicas_module_ctx,         /* module context */
    ngx_http_replicas_commands,            /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_replicas_init_process,        /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_replicas_exit_process,        /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_int_t
ngx_http_replicas_preconfiguration(ngx_conf_t *cf)
{
    return ngx_http_replicas_add_variables(cf);
}


static ngx_int_t
ngx_http_replicas_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_replicas_access_handler;

    /* before any location, so "return" ones (health) are covered too */
    h = ngx_array_push(&cmcf->phases[NGX_HTTP_SERVER_REWRITE_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_replicas_site_handler;

    if (ngx_http_replicas_balancer_postconfiguration(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_replicas_filter_init(cf);
}


static void *
ngx_http_replicas_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_replicas_main_conf_t  *rmcf;

    rmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_replicas_main_conf_t));
    if (rmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     rmcf->redis_host = { 0, NULL };
     *     rmcf->cache_zone = NULL;
     */

    rmcf->redis_port = NGX_CONF_UNSET;
    rmcf->redis_timeout = NGX_CONF_UNSET_MSEC;
    rmcf->cache_ttl = NGX_CONF_UNSET_MSEC;
    rmcf->session_ttl = NGX_CONF_UNSET;
    rmcf->preview_cookie_ttl = NGX_CONF_UNSET;

    return rmcf;
}


static char *
ngx_http_replicas_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_replicas_main_conf_t *rmcf = conf;

    if (rmcf->redis_port == NGX_CONF_UNSET) {
        ngx_str_set(&rmcf->redis_host, "127.0.0.1");
        rmcf->redis_port = 6379;
    }

    ngx_conf_init_msec_value(rmcf->redis_timeout, 1000);
    ngx_conf_init_msec_value(rmcf->cache_ttl, 30000);
    ngx_conf_init_value(rmcf->session_ttl, 14 * 86400);
    ngx_conf_init_value(rmcf->preview_cookie_ttl, 12 * 3600);

    if (rmcf->cache_zone == NULL) {
        rmcf->cache_zone = ngx_http_replicas_cache_add_zone(cf,
                                              NGX_HTTP_REPLICAS_CACHE_DEFAULT);
        if (rmcf->cache_zone == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_replicas_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_replicas_loc_conf_t  *rlcf;

    rlcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_replicas_loc_conf_t));
    if (rlcf == NULL) {
        return NULL;
    }

    rlcf->route = NGX_CONF_UNSET;
    rlcf->cache = NGX_CONF_UNSET;
    rlcf->auth = NGX_CONF_UNSET;
    rlcf->api_events = NGX_CONF_UNSET;
    rlcf->api_rate = NGX_CONF_UNSET_UINT;
    rlcf->api_body_max = NGX_CONF_UNSET_SIZE;
    rlcf->wake_hold = NGX_CONF_UNSET_MSEC;
    rlcf->main_site = NGX_CONF_UNSET;
    rlcf->aliases = NGX_CONF_UNSET_PTR;
    rlcf->trusted = NGX_CONF_UNSET_PTR;

    return rlcf;
}


static char *
ngx_http_replicas_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_replicas_loc_conf_t *prev = parent;
    ngx_http_replicas_loc_conf_t *conf = child;

    ngx_conf_merge_value(conf->route, prev->route, 0);
    ngx_conf_merge_value(conf->cache, prev->cache, 1);
    ngx_conf_merge_value(conf->auth, prev->auth, 1);
    ngx_conf_merge_value(conf->api_events, prev->api_events, 0);

    if (conf->api_events) {
        ngx_http_replicas_main_conf_t  *amcf;

        amcf = ngx_http_conf_get_module_main_conf(cf,
                                                  ngx_http_replicas_module);
        if (amcf->api_script.len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"replicas_api_events\" needs "
                               "\"replicas_scripts\"");
            return NGX_CONF_ERROR;
        }
    }

    if (conf->route && conf->auth) {
        /* checked here, where the preview locations are known */
        ngx_http_replicas_main_conf_t  *rmcf;

        rmcf = ngx_http_conf_get_module_main_conf(cf,
                                                  ngx_http_replicas_module);
        if (rmcf->nkeys == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"replicas_route\" with \"replicas_auth\" "
                               "needs \"replicas_signing_keys\"");
            return NGX_CONF_ERROR;
        }
    }
    ngx_conf_merge_str_value(conf->domain, prev->domain, "replicas.localhost");
    ngx_conf_merge_uint_value(conf->api_rate, prev->api_rate, 600);
    ngx_conf_merge_size_value(conf->api_body_max, prev->api_body_max,
                              64 * 1024);
    ngx_conf_merge_msec_value(conf->wake_hold, prev->wake_hold, 60000);
    ngx_conf_merge_value(conf->main_site, prev->main_site, 0);
    ngx_conf_merge_ptr_value(conf->aliases, prev->aliases, NULL);
    ngx_conf_merge_ptr_value(conf->trusted, prev->trusted, NULL);

    return NGX_CONF_OK;
}


/*
 * replicas_redis 127.0.0.1:6379 | unix:/path.  A hostname is refused:
 * resolving it in a worker would block, and hiredis 0.14 cannot do it
 * asynchronously.
 */

static char *
ngx_http_replicas_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_replicas_main_conf_t *rmcf = conf;

    u_char     *p;
    ngx_str_t  *value;
    ngx_url_t   u;

    if (rmcf->redis_port != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len > 5 && ngx_strncmp(value[1].data, "unix:", 5) == 0) {
        p = ngx_pnalloc(cf->pool, value[1].len - 5 + 1);
        if (p == NULL) {
            return NGX_CONF_ERROR;
        }

        *ngx_cpymem(p, value[1].data + 5, value[1].len - 5) = '\0';
        rmcf->redis_host.data = p;
        rmcf->redis_host.len = value[1].len - 5;
        rmcf->redis_port = 0;

        return NGX_CONF_OK;
    }

    ngx_memzero(&u, sizeof(ngx_url_t));
    u.url = value[1];
    u.no_resolve = 1;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK || u.no_port) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "replicas_redis \"%V\" must be IP:port or "
                           "unix:/path", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (ngx_inet_addr(u.host.data, u.host.len) == INADDR_NONE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "replicas_redis \"%V\" must be an IPv4 address, "
                           "not a name: resolving would block a worker",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    p = ngx_pnalloc(cf->pool, u.host.len + 1);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    *ngx_cpymem(p, u.host.data, u.host.len) = '\0';
    rmcf->redis_host.data = p;
    rmcf->redis_host.len = u.host.len;
    rmcf->redis_port = u.port;

    return NGX_CONF_OK;
}


/* replicas_cache_zone size; one zone per http block, shared by workers */

static char *
ngx_http_replicas_cache_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_replicas_main_conf_t *rmcf = conf;

    ssize_t     size;
    ngx_str_t  *value;

    if (rmcf->cache_zone) {
        return "is duplicate";
    }

    value = cf->args->elts;

    size = ngx_parse_size(&value[1]);

    if (size == NGX_ERROR || size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "replicas_cache_zone \"%V\" is too small",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    rmcf->cache_zone = ngx_http_replicas_cache_add_zone(cf, size);
    if (rmcf->cache_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_replicas_domain(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_replicas_loc_conf_t *rlcf = conf;

    ngx_str_t  *value;

    if (rlcf->domain.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    rlcf->domain.len = value[1].len;

    while (rlcf->domain.len && value[1].data[rlcf->domain.len - 1] == '.') {
        rlcf->domain.len--;
    }

    if (rlcf->domain.len == 0) {
        return "must not be empty";
    }

    rlcf->domain.data = ngx_pnalloc(cf->pool, rlcf->domain.len);
    if (rlcf->domain.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_strlow(rlcf->domain.data, value[1].data, rlcf->domain.len);

    return NGX_CONF_OK;
}


/*
 * replicas_trusted_proxies CIDR ...;  peers whose X-Forwarded-Proto: https
 * is believed (a TLS proxy in front): cookies get Secure, URLs https://
 */

static char *
ngx_http_replicas_trusted_proxies(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_replicas_loc_conf_t *rlcf = conf;

    ngx_int_t    rc;
    ngx_str_t   *value;
    ngx_uint_t   i;
    ngx_cidr_t  *cidr;

    if (rlcf->trusted == NGX_CONF_UNSET_PTR) {
        rlcf->trusted = ngx_array_create(cf->pool, 2, sizeof(ngx_cidr_t));
        if (rlcf->trusted == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        cidr = ngx_array_push(rlcf->trusted);
        if (cidr == NULL) {
            return NGX_CONF_ERROR;
        }

        rc = ngx_ptocidr(&value[i], cidr);

        if (rc == NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid trusted proxy \"%V\": an address "
                               "or CIDR", &value[i]);
            return NGX_CONF_ERROR;
        }

        if (rc == NGX_DONE) {
            ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                               "low address bits of %V are meaningless",
                               &value[i]);
        }
    }

    return NGX_CONF_OK;
}


/*
 * replicas_alias name ...;  more names the main site answers for (a
 * proxy's public name, say), lowercased, without a trailing dot, as
 * nginx compares Host.
 */

static char *
ngx_http_replicas_alias(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_replicas_loc_conf_t *rlcf = conf;

    size_t       len;
    ngx_str_t   *value, *alias;
    ngx_uint_t   i;

    if (rlcf->aliases == NGX_CONF_UNSET_PTR) {
        rlcf->aliases = ngx_array_create(cf->pool, 2, sizeof(ngx_str_t));
        if (rlcf->aliases == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        len = value[i].len;

        while (len && value[i].data[len - 1] == '.') {
            len--;
        }

        if (len == 0 || ngx_strlchr(value[i].data, value[i].data + len, ':')
            || ngx_strlchr(value[i].data, value[i].data + len, '*'))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid alias \"%V\": a host name without "
                               "port or wildcard", &value[i]);
            return NGX_CONF_ERROR;
        }

        alias = ngx_array_push(rlcf->aliases);
        if (alias == NULL) {
            return NGX_CONF_ERROR;
        }

        alias->data = ngx_pnalloc(cf->pool, len);
        if (alias->data == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_strlow(alias->data, value[i].data, len);
        alias->len = len;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_replicas_upstream_error(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_replicas_upstream_error_handler;

    return NGX_CONF_OK;
}


static char *
ngx_http_replicas_api(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t       *clcf;
    ngx_http_replicas_main_conf_t  *rmcf;

    rmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_replicas_module);

    if (rmcf->api_script.len == 0) {
        return "needs \"replicas_scripts\" earlier in the http block";
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_replicas_api_handler;

    return NGX_CONF_OK;
}


static char *
ngx_http_replicas_session(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t       *clcf;
    ngx_http_replicas_main_conf_t  *rmcf;

    rmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_replicas_module);

    if (rmcf->session_script.len == 0) {
        return "needs \"replicas_scripts\" earlier in the http block";
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_replicas_session_handler;

    return NGX_CONF_OK;
}


/* Reads a whole small file at configuration time. */

static char *
ngx_http_replicas_read_file(ngx_conf_t *cf, ngx_str_t *name, size_t max,
    ngx_str_t *out)
{
    ssize_t          n;
    ngx_file_t       file;
    ngx_file_info_t  fi;

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.name = *name;
    file.log = cf->log;

    file.fd = ngx_open_file(name->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (file.fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", name);
        return NGX_CONF_ERROR;
    }

    if (ngx_fd_info(file.fd, &fi) == NGX_FILE_ERROR
        || ngx_file_size(&fi) == 0 || ngx_file_size(&fi) > (off_t) max)
    {
        ngx_close_file(file.fd);
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" is empty, too large or unreadable", name);
        return NGX_CONF_ERROR;
    }

    out->len = (size_t) ngx_file_size(&fi);
    out->data = ngx_pnalloc(cf->pool, out->len + 1);

    if (out->data == NULL) {
        ngx_close_file(file.fd);
        return NGX_CONF_ERROR;
    }

    n = ngx_read_file(&file, out->data, out->len, 0);

    ngx_close_file(file.fd);

    if (n != (ssize_t) out->len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" could not be read whole", name);
        return NGX_CONF_ERROR;
    }

    out->data[out->len] = '\0';

    return NGX_CONF_OK;
}


/*
 * replicas_scripts /path/lua: api.lua and session.lua are read once
 * here, at configuration time, and sent with each EVAL (Redis caches the
 * compiled script).
 */

static char *
ngx_http_replicas_scripts(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_replicas_main_conf_t *rmcf = conf;

    u_char     *p;
    ngx_str_t  *value, name;

    if (rmcf->api_script.len) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_conf_full_name(cf->cycle, &value[1], 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    name.data = ngx_pnalloc(cf->pool, value[1].len + sizeof("/session.lua"));
    if (name.data == NULL) {
        return NGX_CONF_ERROR;
    }

    p = ngx_sprintf(name.data, "%V/api.lua%Z", &value[1]);
    name.len = p - 1 - name.data;

    if (ngx_http_replicas_read_file(cf, &name, 1024 * 1024, &rmcf->api_script)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    p = ngx_sprintf(name.data, "%V/session.lua%Z", &value[1]);
    name.len = p - 1 - name.data;

    return ngx_http_replicas_read_file(cf, &name, 1024 * 1024,
                                       &rmcf->session_script);
}


/*
 * replicas_signing_keys /path/file: one "<kid> <64 hex chars>" per line,
 * the newest first (it signs); every key listed verifies.  Rotating is:
 * put a new key first, reload, drop the old one once its tokens expired.
 */

static char *
ngx_http_replicas_signing_keys(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_replicas_main_conf_t *rmcf = conf;

    u_char     *p, *end, *line;
    ngx_str_t  *value, text;

    if (rmcf->nkeys) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_conf_full_name(cf->cycle, &value[1], 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_replicas_read_file(cf, &value[1], 64 * 1024, &text)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    p = text.data;
    end = text.data + text.len;

    while (p < end) {
        line = p;

        while (p < end && *p != '\n') {
            p++;
        }

        if (p > line && line[0] != '#') {
            if (rmcf->nkeys == NGX_HTTP_REPLICAS_KEYS_MAX
                || rp_sign_key_parse((char *) line, p - line,
                                     &rmcf->keys[rmcf->nkeys]) != 0)
            {
                ngx_memzero(text.data, text.len);
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"%V\": each line must be \"<key id> "
                                   "<64 hex characters>\", at most %d keys",
                                   &value[1], NGX_HTTP_REPLICAS_KEYS_MAX);
                return NGX_CONF_ERROR;
            }

            rmcf->nkeys++;
        }

        p++;
    }

    ngx_memzero(text.data, text.len);

    if (rmcf->nkeys == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" has no keys",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * replicas_secrets_key /path/file: 64 hex characters (AES-256), the key
 * environment values are sealed with before they are stored; control
 * opens them with the same file (--secrets-key).  Without it environment
 * writes are refused, never stored in clear.
 */

static char *
ngx_http_replicas_secrets_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_replicas_main_conf_t *rmcf = conf;

    int         rc;
    ngx_str_t  *value, text;

    if (rmcf->secrets_set) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_conf_full_name(cf->cycle, &value[1], 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_replicas_read_file(cf, &value[1], 1024, &text)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    rc = rp_crypt_parse_key((char *) text.data, text.len, rmcf->secrets_key);

    rp_crypt_wipe(text.data, text.len);

    if (rc != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must hold 64 hex characters (a 256-bit "
                           "key; \"openssl rand -hex 32\" makes one)",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    rmcf->secrets_set = 1;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_replicas_init_process(ngx_cycle_t *cycle)
{
    ngx_http_replicas_main_conf_t  *rmcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    rmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_replicas_module);
    if (rmcf == NULL) {
        return NGX_OK;          /* no http block */
    }

    ngx_http_replicas_activity_init_worker(cycle);
    ngx_http_replicas_meter_init_worker(cycle);

    return ngx_http_replicas_redis_init_worker(cycle, rmcf);
}


static void
ngx_http_replicas_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_replicas_redis_exit_worker();
}
