/*
 * Activity: which workspaces had traffic, so idle ones can be put to
 * sleep.  A worker notes the workspaces it proxies to and writes them in
 * one ZADD every few seconds (replicas:activity, score = unix time), not
 * one write per request.
 */

#include "ngx_http_replicas.h"


#define NGX_HTTP_REPLICAS_ACTIVITY_MAX       256
#define NGX_HTTP_REPLICAS_ACTIVITY_INTERVAL  5000


static u_char      ngx_http_replicas_touched[NGX_HTTP_REPLICAS_ACTIVITY_MAX]
                                            [RP_WS_ID_MAX + 1];
static size_t      ngx_http_replicas_touched_len[NGX_HTTP_REPLICAS_ACTIVITY_MAX];
static ngx_uint_t  ngx_http_replicas_ntouched;
static ngx_event_t ngx_http_replicas_activity_timer;


static void
ngx_http_replicas_activity_flush(void)
{
    u_char       now[NGX_TIME_T_LEN];
    size_t       argvlen[2 + 2 * NGX_HTTP_REPLICAS_ACTIVITY_MAX], nowlen;
    ngx_uint_t   i, n;
    const char  *argv[2 + 2 * NGX_HTTP_REPLICAS_ACTIVITY_MAX];

    if (ngx_http_replicas_ntouched == 0) {
        return;
    }

    nowlen = ngx_sprintf(now, "%T", ngx_time()) - now;

    n = 0;
    argv[n] = "ZADD"; argvlen[n++] = 4;
    argv[n] = RP_KEY_ACTIVITY; argvlen[n++] = sizeof(RP_KEY_ACTIVITY) - 1;

    for (i = 0; i < ngx_http_replicas_ntouched; i++) {
        argv[n] = (char *) now; argvlen[n++] = nowlen;
        argv[n] = (char *) ngx_http_replicas_touched[i];
        argvlen[n++] = ngx_http_replicas_touched_len[i];
    }

    /* lost if Redis is away: the next request notes it again */
    (void) ngx_http_replicas_redis_command((int) n, argv, argvlen, NULL,
                                           NULL);

    ngx_http_replicas_ntouched = 0;
}


static void
ngx_http_replicas_activity_handler(ngx_event_t *ev)
{
    ngx_http_replicas_activity_flush();

    ngx_add_timer(ev, NGX_HTTP_REPLICAS_ACTIVITY_INTERVAL);
}


void
ngx_http_replicas_activity_touch(const char *id, size_t len)
{
    ngx_uint_t  i;

    for (i = 0; i < ngx_http_replicas_ntouched; i++) {
        if (ngx_http_replicas_touched_len[i] == len
            && ngx_memcmp(ngx_http_replicas_touched[i], id, len) == 0)
        {
            return;
        }
    }

    if (ngx_http_replicas_ntouched == NGX_HTTP_REPLICAS_ACTIVITY_MAX) {
        ngx_http_replicas_activity_flush();
    }

    i = ngx_http_replicas_ntouched++;
    ngx_memcpy(ngx_http_replicas_touched[i], id, len);
    ngx_http_replicas_touched_len[i] = len;
}


void
ngx_http_replicas_activity_init_worker(ngx_cycle_t *cycle)
{
    ngx_event_t  *ev = &ngx_http_replicas_activity_timer;

    ngx_http_replicas_ntouched = 0;

    ev->handler = ngx_http_replicas_activity_handler;
    ev->log = cycle->log;
    ev->data = ev;

    /* never keeps a gracefully exiting worker alive */
    ev->cancelable = 1;

    ngx_add_timer(ev, NGX_HTTP_REPLICAS_ACTIVITY_INTERVAL);
}
