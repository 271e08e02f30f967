/*
 * Shared-memory cache used by every worker, of workspace routes and of
 * credentials (see ngx_http_replicas_route_t): an rbtree keyed by the
 * crc32 of the name for lookups and a queue for LRU eviction, in the
 * manner of ngx_http_limit_req_module.
 *
 * Invalidation races: a lookup may read Redis before a change and land
 * after the change's invalidation.  Every invalidation bumps "epoch", and
 * a lookup stores its answer only if no invalidation happened since it
 * began, so a stale answer can never outlive the message that killed it.
 */

#include "ngx_http_replicas.h"


typedef struct {
    u_char                       color;
    u_char                       id_len;
    ngx_queue_t                  queue;
    ngx_msec_t                   expires;
    ngx_http_replicas_route_t    route;       /* the whole record */
    u_char                       id[1];
} ngx_http_replicas_cache_node_t;


typedef struct {
    ngx_rbtree_t                 rbtree;
    ngx_rbtree_node_t            sentinel;
    ngx_queue_t                  queue;
    ngx_uint_t                   epoch;
} ngx_http_replicas_cache_sh_t;


typedef struct {
    ngx_http_replicas_cache_sh_t  *sh;
    ngx_slab_pool_t               *shpool;
} ngx_http_replicas_cache_t;


#define ngx_http_replicas_cache_data(node)                                   \
    ((ngx_http_replicas_cache_node_t *) &(node)->color)


static ngx_int_t ngx_http_replicas_cache_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);


ngx_shm_zone_t *
ngx_http_replicas_cache_add_zone(ngx_conf_t *cf, size_t size)
{
    ngx_str_t                   name = ngx_string("replicas_cache");
    ngx_shm_zone_t             *zone;
    ngx_http_replicas_cache_t  *cache;

    zone = ngx_shared_memory_add(cf, &name, size, &ngx_http_replicas_module);
    if (zone == NULL) {
        return NULL;
    }

    if (zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "replicas cache zone is already defined");
        return NULL;
    }

    cache = ngx_pcalloc(cf->pool, sizeof(ngx_http_replicas_cache_t));
    if (cache == NULL) {
        return NULL;
    }

    zone->init = ngx_http_replicas_cache_init_zone;
    zone->data = cache;

    return zone;
}


static void
ngx_http_replicas_cache_rbtree_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t               **p;
    ngx_http_replicas_cache_node_t   *cn, *cnt;

    for ( ;; ) {

        if (node->key < temp->key) {
            p = &temp->left;

        } else if (node->key > temp->key) {
            p = &temp->right;

        } else {
            cn = ngx_http_replicas_cache_data(node);
            cnt = ngx_http_replicas_cache_data(temp);

            p = (ngx_memn2cmp(cn->id, cnt->id, cn->id_len, cnt->id_len) < 0)
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


static ngx_rbtree_node_t *
ngx_http_replicas_cache_find(ngx_http_replicas_cache_t *cache,
    ngx_uint_t hash, const char *id, size_t id_len)
{
    ngx_int_t                        rc;
    ngx_rbtree_node_t               *node, *sentinel;
    ngx_http_replicas_cache_node_t  *cn;

    node = cache->sh->rbtree.root;
    sentinel = cache->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (hash < node->key) {
            node = node->left;
            continue;
        }

        if (hash > node->key) {
            node = node->right;
            continue;
        }

        cn = ngx_http_replicas_cache_data(node);

        rc = ngx_memn2cmp((u_char *) id, cn->id, id_len, cn->id_len);

        if (rc == 0) {
            return node;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


static void
ngx_http_replicas_cache_delete(ngx_http_replicas_cache_t *cache,
    ngx_rbtree_node_t *node)
{
    ngx_http_replicas_cache_node_t  *cn;

    cn = ngx_http_replicas_cache_data(node);

    ngx_queue_remove(&cn->queue);
    ngx_rbtree_delete(&cache->sh->rbtree, node);
    ngx_slab_free_locked(cache->shpool, node);
}


/* Frees up to n least recently used entries; returns how many went. */

static ngx_uint_t
ngx_http_replicas_cache_evict(ngx_http_replicas_cache_t *cache, ngx_uint_t n)
{
    ngx_uint_t                       freed;
    ngx_queue_t                     *q;
    ngx_rbtree_node_t               *node;
    ngx_http_replicas_cache_node_t  *cn;

    for (freed = 0; freed < n; freed++) {

        if (ngx_queue_empty(&cache->sh->queue)) {
            break;
        }

        q = ngx_queue_last(&cache->sh->queue);
        cn = ngx_queue_data(q, ngx_http_replicas_cache_node_t, queue);
        node = (ngx_rbtree_node_t *)
                   ((u_char *) cn - offsetof(ngx_rbtree_node_t, color));

        ngx_http_replicas_cache_delete(cache, node);
    }

    return freed;
}


ngx_int_t
ngx_http_replicas_cache_get(ngx_shm_zone_t *zone, const char *id,
    size_t id_len, ngx_http_replicas_route_t *route)
{
    ngx_int_t                        rc;
    ngx_uint_t                       hash;
    ngx_rbtree_node_t               *node;
    ngx_http_replicas_cache_t       *cache = zone->data;
    ngx_http_replicas_cache_node_t  *cn;

    hash = ngx_crc32_short((u_char *) id, id_len);
    rc = NGX_DECLINED;

    ngx_shmtx_lock(&cache->shpool->mutex);

    node = ngx_http_replicas_cache_find(cache, hash, id, id_len);

    if (node) {
        cn = ngx_http_replicas_cache_data(node);

        if ((ngx_msec_int_t) (cn->expires - ngx_current_msec) <= 0) {
            ngx_http_replicas_cache_delete(cache, node);

        } else {
            /* copied out under the lock: the node may go once unlocked */
            *route = cn->route;

            ngx_queue_remove(&cn->queue);
            ngx_queue_insert_head(&cache->sh->queue, &cn->queue);
            rc = NGX_OK;
        }
    }

    ngx_shmtx_unlock(&cache->shpool->mutex);

    return rc;
}


void
ngx_http_replicas_cache_put(ngx_shm_zone_t *zone, const char *id,
    size_t id_len, ngx_http_replicas_route_t *route, ngx_msec_t ttl,
    ngx_uint_t epoch)
{
    size_t                           size;
    ngx_uint_t                       hash;
    ngx_rbtree_node_t               *node;
    ngx_http_replicas_cache_t       *cache = zone->data;
    ngx_http_replicas_cache_node_t  *cn;

    hash = ngx_crc32_short((u_char *) id, id_len);

    ngx_shmtx_lock(&cache->shpool->mutex);

    if (cache->sh->epoch != epoch) {
        goto done;
    }

    node = ngx_http_replicas_cache_find(cache, hash, id, id_len);

    if (node == NULL) {
        size = offsetof(ngx_rbtree_node_t, color)
               + offsetof(ngx_http_replicas_cache_node_t, id)
               + id_len;

        node = ngx_slab_alloc_locked(cache->shpool, size);

        while (node == NULL) {
            if (ngx_http_replicas_cache_evict(cache, 16) == 0) {
                goto done;
            }

            node = ngx_slab_alloc_locked(cache->shpool, size);
        }

        node->key = hash;
        cn = ngx_http_replicas_cache_data(node);
        cn->id_len = (u_char) id_len;
        ngx_memcpy(cn->id, id, id_len);

        ngx_rbtree_insert(&cache->sh->rbtree, node);

    } else {
        cn = ngx_http_replicas_cache_data(node);
        ngx_queue_remove(&cn->queue);
    }

    cn->route = *route;
    cn->expires = ngx_current_msec + ttl;

    ngx_queue_insert_head(&cache->sh->queue, &cn->queue);

done:

    ngx_shmtx_unlock(&cache->shpool->mutex);
}


void
ngx_http_replicas_cache_invalidate(ngx_shm_zone_t *zone, const char *id,
    size_t id_len)
{
    ngx_rbtree_node_t          *node;
    ngx_http_replicas_cache_t  *cache = zone->data;

    ngx_shmtx_lock(&cache->shpool->mutex);

    cache->sh->epoch++;

    node = ngx_http_replicas_cache_find(cache,
                                        ngx_crc32_short((u_char *) id, id_len),
                                        id, id_len);
    if (node) {
        ngx_http_replicas_cache_delete(cache, node);
    }

    ngx_shmtx_unlock(&cache->shpool->mutex);
}


/*
 * The preview rate count's verdict (ngx_http_replicas_meter.c), written
 * into the entry in place: not a new answer of Redis, so no epoch check,
 * and an entry not cached is left alone (its next lookup reads the
 * counters itself).
 */

void
ngx_http_replicas_cache_limit(ngx_shm_zone_t *zone, const char *id,
    size_t id_len, time_t until)
{
    ngx_rbtree_node_t               *node;
    ngx_http_replicas_cache_t       *cache = zone->data;
    ngx_http_replicas_cache_node_t  *cn;

    ngx_shmtx_lock(&cache->shpool->mutex);

    node = ngx_http_replicas_cache_find(cache,
                                        ngx_crc32_short((u_char *) id, id_len),
                                        id, id_len);
    if (node) {
        cn = ngx_http_replicas_cache_data(node);

        if (cn->route.limited_until < until) {
            cn->route.limited_until = until;
        }
    }

    ngx_shmtx_unlock(&cache->shpool->mutex);
}


void
ngx_http_replicas_cache_flush(ngx_shm_zone_t *zone)
{
    ngx_http_replicas_cache_t  *cache = zone->data;

    ngx_shmtx_lock(&cache->shpool->mutex);

    cache->sh->epoch++;
    (void) ngx_http_replicas_cache_evict(cache, NGX_MAX_UINT32_VALUE);

    ngx_shmtx_unlock(&cache->shpool->mutex);
}


ngx_uint_t
ngx_http_replicas_cache_epoch(ngx_shm_zone_t *zone)
{
    ngx_uint_t                  epoch;
    ngx_http_replicas_cache_t  *cache = zone->data;

    ngx_shmtx_lock(&cache->shpool->mutex);
    epoch = cache->sh->epoch;
    ngx_shmtx_unlock(&cache->shpool->mutex);

    return epoch;
}


static ngx_int_t
ngx_http_replicas_cache_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    size_t                      len;
    ngx_http_replicas_cache_t  *ocache = data;
    ngx_http_replicas_cache_t  *cache = shm_zone->data;

    if (ocache) {
        /* a reload: keep the entries the previous cycle cached */
        cache->sh = ocache->sh;
        cache->shpool = ocache->shpool;
        return NGX_OK;
    }

    cache->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        cache->sh = cache->shpool->data;
        return NGX_OK;
    }

    cache->sh = ngx_slab_alloc(cache->shpool,
                               sizeof(ngx_http_replicas_cache_sh_t));
    if (cache->sh == NULL) {
        return NGX_ERROR;
    }

    cache->shpool->data = cache->sh;

    ngx_rbtree_init(&cache->sh->rbtree, &cache->sh->sentinel,
                    ngx_http_replicas_cache_rbtree_insert);
    ngx_queue_init(&cache->sh->queue);
    cache->sh->epoch = 0;

    len = sizeof(" in replicas cache zone \"\"") + shm_zone->shm.name.len;

    cache->shpool->log_ctx = ngx_slab_alloc(cache->shpool, len);
    if (cache->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(cache->shpool->log_ctx, " in replicas cache zone \"%V\"%Z",
                &shm_zone->shm.name);

    cache->shpool->log_nomem = 0;

    return NGX_OK;
}
