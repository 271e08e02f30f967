/*
 * The upstream balancer of preview traffic, so connections to workspaces
 * are reused:
 *
 *     upstream replicas { replicas_balancer; keepalive 64; }
 *     location / { replicas_route on; proxy_pass http://replicas; }
 *
 * "proxy_pass http://$replicas_upstream" has no upstream block, hence no
 * keepalive cache: nginx opened a connection per request.  Here the peer
 * of every request is the address the access phase resolved
 * (ctx->upstream, "addr:port", ngx_http_replicas_route.c), and nginx's
 * keepalive module caches idle connections by that address.
 *
 * An address is not a workspace, though: a workspace that sleeps gives
 * its address back and another may wake on it, and two records may name
 * one address.  The keepalive module matches cached connections by
 * address alone, so a balancer beneath it cannot stop a connection opened
 * for one workspace from carrying another's requests.  This file is
 * therefore on both sides of it (the guard is put around it at
 * postconfiguration, once every "keepalive" has wrapped its balancer):
 *
 *   guard       tags each connection with the workspace it was opened
 *               for when the request frees it, and closes a cached one
 *               that the cache hands to another workspace's request
 *   keepalive   nginx's, unchanged: caches idle connections by address
 *   peer        the request's address, one try
 *
 * So reuse is keyed by (address, workspace) whatever Redis says or fails
 * to say.  And when a workspace's change is published (it slept, woke
 * elsewhere, was deleted), ngx_http_replicas_balancer_forget() closes its
 * idle connections at once: none lingers to a sandbox that is gone, and
 * one still busy is not cached when its request ends.
 *
 * WebSocket upgrades go through here too; nginx never caches an upgraded
 * connection (the proxy module clears u->keepalive on 101).
 */

#include "ngx_http_replicas.h"


typedef struct {
    ngx_flag_t                      enabled;
    ngx_http_upstream_init_peer_pt  init_cached;  /* keepalive's peer init */
} ngx_http_replicas_balancer_conf_t;


/* per request */
typedef struct {
    ngx_http_upstream_t            *upstream;
    ngx_addr_t                      addr;
    u_char                         *id;           /* the workspace */
    size_t                          id_len;

    /* the layer between the guard and the peer (keepalive's) */
    void                           *cache_data;
    ngx_event_get_peer_pt           cache_get;
    ngx_event_free_peer_pt          cache_free;
    ngx_event_notify_peer_pt        cache_notify;
#if (NGX_HTTP_SSL)
    ngx_event_set_peer_session_pt   cache_set_session;
    ngx_event_save_peer_session_pt  cache_save_session;
#endif
} ngx_http_replicas_balancer_peer_t;


/*
 * Per upstream connection, in its pool: so it lives exactly as long as
 * the connection (the pool's cleanup takes it off the worker's list).
 */
typedef struct {
    ngx_queue_t                     queue;
    ngx_connection_t               *connection;
    ngx_uint_t                      retired;      /* never cache it again */
    size_t                          id_len;
    u_char                          id[RP_WS_ID_MAX];
} ngx_http_replicas_balancer_tag_t;


static ngx_int_t ngx_http_replicas_balancer_init_upstream(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us);
static ngx_int_t ngx_http_replicas_balancer_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us);
static ngx_int_t ngx_http_replicas_balancer_init_guard(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us);
static void ngx_http_replicas_balancer_tag_cleanup(void *data);


/* this worker's tagged upstream connections, idle or busy */
static ngx_queue_t  ngx_http_replicas_balancer_conns = {
    &ngx_http_replicas_balancer_conns, &ngx_http_replicas_balancer_conns
};


void *
ngx_http_replicas_balancer_create_conf(ngx_conf_t *cf)
{
    ngx_http_replicas_balancer_conf_t  *bcf;

    bcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_replicas_balancer_conf_t));
    if (bcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     bcf->enabled = 0;
     *     bcf->init_cached = NULL;
     */

    return bcf;
}


char *
ngx_http_replicas_balancer(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_replicas_balancer_conf_t *bcf = conf;

    ngx_http_upstream_server_t    *us;
    ngx_http_upstream_srv_conf_t  *uscf;

    if (bcf->enabled) {
        return "is duplicate";
    }

    uscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_upstream_module);

    /* as with every balancer: one set before it (or a keepalive, which
     * wraps what is there when it is read) is replaced */
    if (uscf->peer.init_upstream) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "load balancing method redefined: "
                           "\"replicas_balancer\" goes first in its "
                           "upstream block, before \"keepalive\"");
    }

    uscf->peer.init_upstream = ngx_http_replicas_balancer_init_upstream;

    /*
     * nginx wants a server in every upstream block; this one stands for
     * the workspaces (no address: only this balancer reads the list, and
     * its init refuses any other server)
     */
    if (uscf->servers == NULL) {
        uscf->servers = ngx_array_create(cf->pool, 1,
                                         sizeof(ngx_http_upstream_server_t));
        if (uscf->servers == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    us = ngx_array_push(uscf->servers);
    if (us == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(us, sizeof(ngx_http_upstream_server_t));
    ngx_str_set(&us->name, "replicas_balancer");
    us->weight = 1;

    bcf->enabled = 1;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_replicas_balancer_init_upstream(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us)
{
    if (us->servers->nelts != 1) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "upstream \"%V\" has \"replicas_balancer\" and "
                      "\"server\" lines: its peers are the workspaces, "
                      "remove the servers", &us->host);
        return NGX_ERROR;
    }

#if (NGX_HTTP_UPSTREAM_ZONE)
    /* a zone shares round-robin peers between workers: there are none */
    if (us->shm_zone) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "upstream \"%V\" has \"replicas_balancer\" and "
                      "\"zone\": remove the zone", &us->host);
        return NGX_ERROR;
    }
#endif

    us->peer.init = ngx_http_replicas_balancer_init_peer;

    return NGX_OK;
}


/*
 * At postconfiguration every upstream's peer init is final: for one with
 * replicas_balancer and keepalive it is keepalive's, wrapping ours.  The
 * guard goes around that.  (Without keepalive nothing is cached and there
 * is nothing to guard.)
 */

ngx_int_t
ngx_http_replicas_balancer_postconfiguration(ngx_conf_t *cf)
{
    ngx_uint_t                           i;
    ngx_http_upstream_srv_conf_t       **uscfp;
    ngx_http_upstream_main_conf_t       *umcf;
    ngx_http_replicas_balancer_conf_t   *bcf;

    umcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_upstream_module);
    uscfp = umcf->upstreams.elts;

    for (i = 0; i < umcf->upstreams.nelts; i++) {

        /* implicit upstreams (proxy_pass http://host) have no srv_conf */
        if (uscfp[i]->srv_conf == NULL) {
            continue;
        }

        bcf = ngx_http_conf_upstream_srv_conf(uscfp[i],
                                              ngx_http_replicas_module);

        if (bcf == NULL || !bcf->enabled
            || uscfp[i]->peer.init == ngx_http_replicas_balancer_init_peer)
        {
            continue;
        }

        bcf->init_cached = uscfp[i]->peer.init;
        uscfp[i]->peer.init = ngx_http_replicas_balancer_init_guard;
    }

    return NGX_OK;
}


/* ---- the peer: the address the access phase resolved ------------------- */


static ngx_http_replicas_balancer_peer_t *
ngx_http_replicas_balancer_peer_create(ngx_http_request_t *r)
{
    ngx_http_replicas_ctx_t            *ctx;
    ngx_http_replicas_balancer_peer_t  *bp;

    ctx = ngx_http_get_module_ctx(r, ngx_http_replicas_module);

    if (ctx == NULL || ctx->upstream.len == 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "replicas: no workspace address for the upstream "
                      "with \"replicas_balancer\" (is \"replicas_route on\" "
                      "set in this location?)");
        return NULL;
    }

    bp = ngx_pcalloc(r->pool, sizeof(ngx_http_replicas_balancer_peer_t));
    if (bp == NULL) {
        return NULL;
    }

    if (ngx_parse_addr_port(r->pool, &bp->addr, ctx->upstream.data,
                            ctx->upstream.len)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "replicas: workspace \"%s\" has the invalid address "
                      "\"%V\"", ctx->host.id, &ctx->upstream);
        return NULL;
    }

    bp->addr.name = ctx->upstream;
    bp->upstream = r->upstream;
    bp->id = (u_char *) ctx->host.id;
    bp->id_len = ctx->host.id_len;

    return bp;
}


static ngx_int_t
ngx_http_replicas_balancer_get_peer(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_replicas_balancer_peer_t  *bp = data;

    pc->sockaddr = bp->addr.sockaddr;
    pc->socklen = bp->addr.socklen;
    pc->name = &bp->addr.name;
    pc->cached = 0;
    pc->connection = NULL;

    return NGX_OK;
}


static void
ngx_http_replicas_balancer_free_peer(ngx_peer_connection_t *pc, void *data,
    ngx_uint_t state)
{
    /* one address, one try (a failed cached connection gets one more:
     * ngx_http_upstream_next adds it) */
    if (pc->tries) {
        pc->tries--;
    }
}


#if (NGX_HTTP_SSL)

/* nothing to resume: sessions are not kept (workspaces speak plain HTTP) */

static ngx_int_t
ngx_http_replicas_balancer_set_session(ngx_peer_connection_t *pc, void *data)
{
    return NGX_OK;
}


static void
ngx_http_replicas_balancer_save_session(ngx_peer_connection_t *pc,
    void *data)
{
}

#endif


static ngx_int_t
ngx_http_replicas_balancer_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us)
{
    ngx_http_replicas_balancer_peer_t  *bp;

    /* the guard made it already, and left it here for us; nginx leaves
     * peer.data NULL until a balancer's init sets it */
    bp = r->upstream->peer.data;

    if (bp == NULL) {
        bp = ngx_http_replicas_balancer_peer_create(r);
        if (bp == NULL) {
            return NGX_ERROR;
        }
    }

    r->upstream->peer.data = bp;
    r->upstream->peer.get = ngx_http_replicas_balancer_get_peer;
    r->upstream->peer.free = ngx_http_replicas_balancer_free_peer;
    r->upstream->peer.tries = 1;

#if (NGX_HTTP_SSL)
    r->upstream->peer.set_session = ngx_http_replicas_balancer_set_session;
    r->upstream->peer.save_session = ngx_http_replicas_balancer_save_session;
#endif

    return NGX_OK;
}


/* ---- the guard: a cached connection serves only its own workspace ------- */


static ngx_http_replicas_balancer_tag_t *
ngx_http_replicas_balancer_tag_of(ngx_connection_t *c)
{
    ngx_pool_cleanup_t  *cln;

    if (c->pool == NULL) {
        return NULL;
    }

    for (cln = c->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_replicas_balancer_tag_cleanup) {
            return cln->data;
        }
    }

    return NULL;
}


static void
ngx_http_replicas_balancer_tag_cleanup(void *data)
{
    ngx_http_replicas_balancer_tag_t  *tag = data;

    ngx_queue_remove(&tag->queue);
}


static ngx_int_t
ngx_http_replicas_balancer_tag(ngx_connection_t *c,
    ngx_http_replicas_balancer_peer_t *bp)
{
    ngx_pool_cleanup_t                *cln;
    ngx_http_replicas_balancer_tag_t  *tag;

    if (bp->id_len == 0 || bp->id_len > RP_WS_ID_MAX || c->pool == NULL) {
        return NGX_ERROR;           /* no workspace to key it by */
    }

    tag = ngx_http_replicas_balancer_tag_of(c);

    if (tag == NULL) {
        cln = ngx_pool_cleanup_add(c->pool,
                                   sizeof(ngx_http_replicas_balancer_tag_t));
        if (cln == NULL) {
            return NGX_ERROR;
        }

        tag = cln->data;
        tag->connection = c;
        tag->retired = 0;
        tag->id_len = 0;
        ngx_queue_insert_tail(&ngx_http_replicas_balancer_conns, &tag->queue);

        cln->handler = ngx_http_replicas_balancer_tag_cleanup;

    } else if (tag->retired) {
        return NGX_ERROR;
    }

    tag->id_len = bp->id_len;
    ngx_memcpy(tag->id, bp->id, bp->id_len);

    return NGX_OK;
}


static void
ngx_http_replicas_balancer_close(ngx_connection_t *c)
{
#if (NGX_HTTP_SSL)

    if (c->ssl) {
        c->ssl->no_wait_shutdown = 1;
        c->ssl->no_send_shutdown = 1;

        if (ngx_ssl_shutdown(c) == NGX_AGAIN) {
            c->ssl->handler = ngx_http_replicas_balancer_close;
            return;
        }
    }

#endif

    if (c->pool) {
        ngx_destroy_pool(c->pool);
    }

    ngx_close_connection(c);
}


static ngx_int_t
ngx_http_replicas_balancer_get_guard(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_replicas_balancer_peer_t  *bp = data;

    ngx_int_t                          rc;
    ngx_connection_t                  *c;
    ngx_http_replicas_balancer_tag_t  *tag;

    for ( ;; ) {
        rc = bp->cache_get(pc, bp->cache_data);

        if (rc != NGX_DONE) {
            return rc;              /* a new connection (NGX_OK), or none */
        }

        c = pc->connection;
        tag = ngx_http_replicas_balancer_tag_of(c);

        if (tag && !tag->retired && tag->id_len == bp->id_len
            && ngx_memcmp(tag->id, bp->id, bp->id_len) == 0)
        {
            return NGX_DONE;        /* opened for this workspace: reuse */
        }

        /* opened for another workspace on this address: never carry this
         * one's requests; closed, and the cache asked again (each turn
         * takes one connection out of it) */
        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, pc->log, 0,
                       "replicas balancer: closing cached connection %p "
                       "of workspace \"%*s\"", c,
                       tag ? tag->id_len : 0, tag ? tag->id : (u_char *) "");

        pc->connection = NULL;
        pc->cached = 0;
        ngx_http_replicas_balancer_close(c);
    }
}


static void
ngx_http_replicas_balancer_free_guard(ngx_peer_connection_t *pc, void *data,
    ngx_uint_t state)
{
    ngx_http_replicas_balancer_peer_t  *bp = data;

    /* tagged before the cache may keep it; one that cannot be tagged (or
     * was retired) is not kept: keepalive caches only if u->keepalive */
    if (pc->connection && !(state & NGX_PEER_FAILED)
        && ngx_http_replicas_balancer_tag(pc->connection, bp) != NGX_OK)
    {
        bp->upstream->keepalive = 0;
    }

    bp->cache_free(pc, bp->cache_data, state);
}


static void
ngx_http_replicas_balancer_notify_guard(ngx_peer_connection_t *pc,
    void *data, ngx_uint_t type)
{
    ngx_http_replicas_balancer_peer_t  *bp = data;

    bp->cache_notify(pc, bp->cache_data, type);
}


#if (NGX_HTTP_SSL)

static ngx_int_t
ngx_http_replicas_balancer_set_session_guard(ngx_peer_connection_t *pc,
    void *data)
{
    ngx_http_replicas_balancer_peer_t  *bp = data;

    return bp->cache_set_session(pc, bp->cache_data);
}


static void
ngx_http_replicas_balancer_save_session_guard(ngx_peer_connection_t *pc,
    void *data)
{
    ngx_http_replicas_balancer_peer_t  *bp = data;

    bp->cache_save_session(pc, bp->cache_data);
}

#endif


static ngx_int_t
ngx_http_replicas_balancer_init_guard(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us)
{
    ngx_peer_connection_t              *pc;
    ngx_http_replicas_balancer_peer_t  *bp;
    ngx_http_replicas_balancer_conf_t  *bcf;

    bcf = ngx_http_conf_upstream_srv_conf(us, ngx_http_replicas_module);

    bp = ngx_http_replicas_balancer_peer_create(r);
    if (bp == NULL) {
        return NGX_ERROR;
    }

    pc = &r->upstream->peer;

    /* keepalive's init runs ours (ngx_http_replicas_balancer_init_peer),
     * which takes bp from here, then wraps it */
    pc->data = bp;

    if (bcf->init_cached(r, us) != NGX_OK) {
        return NGX_ERROR;
    }

    bp->cache_data = pc->data;
    bp->cache_get = pc->get;
    bp->cache_free = pc->free;

    pc->data = bp;
    pc->get = ngx_http_replicas_balancer_get_guard;
    pc->free = ngx_http_replicas_balancer_free_guard;

    if (pc->notify) {
        bp->cache_notify = pc->notify;
        pc->notify = ngx_http_replicas_balancer_notify_guard;
    }

#if (NGX_HTTP_SSL)
    bp->cache_set_session = pc->set_session;
    bp->cache_save_session = pc->save_session;
    pc->set_session = ngx_http_replicas_balancer_set_session_guard;
    pc->save_session = ngx_http_replicas_balancer_save_session_guard;
#endif

    return NGX_OK;
}


/*
 * A workspace changed (id, len), or anything may have (NULL: the change
 * channel was just subscribed again): its idle connections are closed
 * the way nginx closes idle connections at shutdown (close flag, then
 * the read handler: keepalive's, which closes and frees its cache slot);
 * a busy one is retired, so it is closed when its request ends.
 */

void
ngx_http_replicas_balancer_forget(const char *id, size_t len)
{
    ngx_queue_t                       *q, *next;
    ngx_connection_t                  *c;
    ngx_http_replicas_balancer_tag_t  *tag;

    for (q = ngx_queue_head(&ngx_http_replicas_balancer_conns);
         q != ngx_queue_sentinel(&ngx_http_replicas_balancer_conns);
         q = next)
    {
        next = ngx_queue_next(q);
        tag = ngx_queue_data(q, ngx_http_replicas_balancer_tag_t, queue);

        if (id != NULL
            && (tag->id_len != len || ngx_memcmp(tag->id, id, len) != 0))
        {
            continue;
        }

        c = tag->connection;

        if (!c->idle) {
            tag->retired = 1;
            continue;
        }

        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, c->log, 0,
                       "replicas balancer: closing idle connection %p of "
                       "workspace \"%*s\"", c, tag->id_len, tag->id);

        c->close = 1;
        c->read->handler(c->read);      /* takes tag off the list */
    }
}
