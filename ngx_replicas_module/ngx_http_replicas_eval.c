/*
 * One Lua script call to Redis on behalf of a request (the API's and the
 * session pages' work), without blocking the worker: EVAL goes out on the
 * worker's async link, a deadline timer bounds the wait, and whichever
 * comes first hands the outcome to the caller's handler, which answers.
 *
 * The hiredis callback's privdata is a heap "call" that outlives the
 * request if the client leaves; the pool cleanup and the deadline clear
 * its pointer to the request.
 */

#include "ngx_http_replicas.h"


typedef struct ngx_http_replicas_eval_call_s  ngx_http_replicas_eval_call_t;

typedef struct {
    ngx_event_t                     deadline;
    ngx_http_replicas_eval_call_t  *call;
    ngx_http_replicas_eval_pt       handler;
} ngx_http_replicas_eval_t;


struct ngx_http_replicas_eval_call_s {
    ngx_http_request_t             *request;     /* NULL once it left */
    ngx_http_replicas_eval_t       *eval;
};


#define NGX_HTTP_REPLICAS_EVAL_ARGS  32


static void
ngx_http_replicas_eval_reply(void *reply, void *data)
{
    ngx_http_request_t             *r;
    ngx_http_replicas_eval_t       *ev;
    ngx_http_replicas_eval_call_t  *call = data;

    r = call->request;
    ev = call->eval;
    ngx_free(call);

    if (r == NULL) {
        return;
    }

    ev->call = NULL;

    if (ev->deadline.timer_set) {
        ngx_del_timer(&ev->deadline);
    }

    ev->handler(r, reply);
}


static void
ngx_http_replicas_eval_deadline(ngx_event_t *e)
{
    ngx_http_request_t        *r = e->data;
    ngx_http_replicas_eval_t  *ev;

    ev = (ngx_http_replicas_eval_t *) ((u_char *) e
                           - offsetof(ngx_http_replicas_eval_t, deadline));

    if (ev->call) {
        ev->call->request = NULL;
        ev->call = NULL;
    }

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "replicas: redis script call timed out");

    ngx_http_replicas_redis_lookup_timed_out();

    ev->handler(r, NULL);
}


static void
ngx_http_replicas_eval_cleanup(void *data)
{
    ngx_http_replicas_eval_t  *ev = data;

    if (ev->call) {
        ev->call->request = NULL;
        ev->call = NULL;
    }

    if (ev->deadline.timer_set) {
        ngx_del_timer(&ev->deadline);
    }
}


/*
 * EVAL script nkeys argv...  NGX_OK: the handler will be called (with NULL
 * for no answer); NGX_DECLINED: no Redis link now; NGX_ERROR.
 */

ngx_int_t
ngx_http_replicas_eval(ngx_http_request_t *r, ngx_str_t *script,
    ngx_uint_t argc, ngx_str_t *args, ngx_http_replicas_eval_pt handler)
{
    return ngx_http_replicas_eval_keys(r, script, 0, argc, args, handler);
}


ngx_int_t
ngx_http_replicas_eval_keys(ngx_http_request_t *r, ngx_str_t *script,
    ngx_uint_t nkeys, ngx_uint_t argc, ngx_str_t *args,
    ngx_http_replicas_eval_pt handler)
{
    u_char                          numkeys[NGX_INT_T_LEN];
    size_t                          argvlen[3 + NGX_HTTP_REPLICAS_EVAL_ARGS];
    ngx_uint_t                      i, n;
    const char                     *argv[3 + NGX_HTTP_REPLICAS_EVAL_ARGS];
    ngx_pool_cleanup_t             *cln;
    ngx_http_replicas_eval_t       *ev;
    ngx_http_replicas_eval_call_t  *call;
    ngx_http_replicas_main_conf_t  *rmcf;

    if (argc > NGX_HTTP_REPLICAS_EVAL_ARGS || nkeys > argc) {
        return NGX_ERROR;
    }

    rmcf = ngx_http_get_module_main_conf(r, ngx_http_replicas_module);

    n = 0;
    argv[n] = "EVAL"; argvlen[n++] = 4;
    argv[n] = (char *) script->data; argvlen[n++] = script->len;
    argv[n] = (char *) numkeys;
    argvlen[n++] = ngx_sprintf(numkeys, "%ui", nkeys) - numkeys;

    for (i = 0; i < argc; i++) {
        argv[n] = (char *) args[i].data;
        argvlen[n++] = args[i].len;
    }

    ev = ngx_pcalloc(r->pool, sizeof(ngx_http_replicas_eval_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (ev == NULL || cln == NULL) {
        return NGX_ERROR;
    }

    call = ngx_alloc(sizeof(ngx_http_replicas_eval_call_t),
                     r->connection->log);
    if (call == NULL) {
        return NGX_ERROR;
    }

    call->request = r;
    call->eval = ev;

    if (ngx_http_replicas_redis_command((int) n, argv, argvlen,
                                        ngx_http_replicas_eval_reply, call)
        != NGX_OK)
    {
        ngx_free(call);
        return NGX_DECLINED;
    }

    ev->call = call;
    ev->handler = handler;

    cln->handler = ngx_http_replicas_eval_cleanup;
    cln->data = ev;

    ev->deadline.handler = ngx_http_replicas_eval_deadline;
    ev->deadline.data = r;
    ev->deadline.log = r->connection->log;
    ngx_add_timer(&ev->deadline, rmcf->redis_timeout);

    return NGX_OK;
}
