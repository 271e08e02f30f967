/*
 * Per-worker Redis links driven by the nginx event loop.
 *
 * Each worker holds two hiredis async contexts made in init_process: one
 * for commands (route lookups) and one subscribed to the workspace change
 * channel (a subscribed connection cannot send other commands).  Nothing
 * here ever blocks: connects go to an IP address or a unix socket, every
 * deadline is an nginx timer (hiredis 0.14 has none), and a lost link is
 * rebuilt with exponential backoff on a timer.
 */

#include "ngx_http_replicas.h"

#include <hiredis/hiredis.h>
#include <hiredis/async.h>


#define NGX_HTTP_REPLICAS_BACKOFF_MIN  50
#define NGX_HTTP_REPLICAS_BACKOFF_MAX  2000


typedef struct ngx_http_replicas_link_s  ngx_http_replicas_link_t;

struct ngx_http_replicas_link_s {
    const char                     *name;
    redisAsyncContext              *ac;
    ngx_connection_t               *conn;
    ngx_event_t                     reconnect;   /* backoff, and connect deadline */
    ngx_msec_t                      backoff;
    ngx_msec_t                      last_reply;
    ngx_uint_t                      pending;
    unsigned                        connected:1;
    void                          (*start)(ngx_http_replicas_link_t *link);
};


static void ngx_http_replicas_link_connect(ngx_http_replicas_link_t *link);
static void ngx_http_replicas_link_lost(ngx_http_replicas_link_t *link);
static void ngx_http_replicas_link_reset(ngx_http_replicas_link_t *link);


static ngx_http_replicas_main_conf_t  *ngx_http_replicas_rmcf;
static ngx_log_t                      *ngx_http_replicas_log;
static ngx_uint_t                      ngx_http_replicas_exiting;

static ngx_http_replicas_link_t        ngx_http_replicas_cmd;
static ngx_http_replicas_link_t        ngx_http_replicas_sub;


/* hiredis event adapter: hiredis asks for interest, nginx delivers it */

static void
ngx_http_replicas_ev_read(ngx_event_t *ev)
{
    ngx_connection_t  *c = ev->data;

    redisAsyncHandleRead(c->data);
}


static void
ngx_http_replicas_ev_write(ngx_event_t *ev)
{
    ngx_connection_t  *c = ev->data;

    redisAsyncHandleWrite(c->data);
}


/*
 * Level-triggered interest (flags 0): hiredis reads at most 16 KiB a call,
 * so an edge-triggered event could leave buffered replies unread.
 */

static void
ngx_http_replicas_ev_add_read(void *privdata)
{
    ngx_http_replicas_link_t  *link = privdata;

    if (link->conn && !link->conn->read->active) {
        (void) ngx_add_event(link->conn->read, NGX_READ_EVENT, 0);
    }
}


static void
ngx_http_replicas_ev_del_read(void *privdata)
{
    ngx_http_replicas_link_t  *link = privdata;

    if (link->conn && link->conn->read->active) {
        (void) ngx_del_event(link->conn->read, NGX_READ_EVENT, 0);
    }
}


static void
ngx_http_replicas_ev_add_write(void *privdata)
{
    ngx_http_replicas_link_t  *link = privdata;

    if (link->conn && !link->conn->write->active) {
        (void) ngx_add_event(link->conn->write, NGX_WRITE_EVENT, 0);
    }
}


static void
ngx_http_replicas_ev_del_write(void *privdata)
{
    ngx_http_replicas_link_t  *link = privdata;

    if (link->conn && link->conn->write->active) {
        (void) ngx_del_event(link->conn->write, NGX_WRITE_EVENT, 0);
    }
}


static void
ngx_http_replicas_ev_cleanup(void *privdata)
{
    redisAsyncContext         *ac;
    ngx_http_replicas_link_t  *link = privdata;

    if (link->conn == NULL) {
        return;
    }

    /*
     * nginx closes the socket; hiredis must not close it a second time,
     * when its number may already belong to another connection.
     */
    ac = link->conn->data;
    ngx_close_connection(link->conn);
    link->conn = NULL;
    ac->c.fd = -1;
}


static void
ngx_http_replicas_on_connect(const redisAsyncContext *ac, int status)
{
    ngx_http_replicas_link_t  *link = ac->data;

    if (status != REDIS_OK) {
        ngx_log_error(NGX_LOG_WARN, ngx_http_replicas_log, 0,
                      "replicas: redis %s link: connect failed: %s",
                      link->name, ac->errstr);

        /* hiredis frees the context itself after this callback */
        link->ac = NULL;
        ngx_http_replicas_link_lost(link);
        return;
    }

    link->connected = 1;
    link->backoff = NGX_HTTP_REPLICAS_BACKOFF_MIN;
    link->last_reply = ngx_current_msec;

    if (link->reconnect.timer_set) {
        ngx_del_timer(&link->reconnect);
    }

    ngx_log_error(NGX_LOG_INFO, ngx_http_replicas_log, 0,
                  "replicas: redis %s link up", link->name);
}


static void
ngx_http_replicas_on_disconnect(const redisAsyncContext *ac, int status)
{
    ngx_http_replicas_link_t  *link = ac->data;

    if (!ngx_http_replicas_exiting) {
        ngx_log_error(NGX_LOG_WARN, ngx_http_replicas_log, 0,
                      "replicas: redis %s link lost: %s", link->name,
                      status == REDIS_OK ? "closed" : ac->errstr);
    }

    link->ac = NULL;
    ngx_http_replicas_link_lost(link);
}


static void
ngx_http_replicas_reconnect_handler(ngx_event_t *ev)
{
    ngx_http_replicas_link_t  *link = ev->data;

    if (link->ac) {
        /* the connect deadline passed: drop the attempt, back off */
        ngx_log_error(NGX_LOG_WARN, ngx_http_replicas_log, 0,
                      "replicas: redis %s link: connect timed out",
                      link->name);
        ngx_http_replicas_link_reset(link);
        return;
    }

    ngx_http_replicas_link_connect(link);
}


static void
ngx_http_replicas_link_connect(ngx_http_replicas_link_t *link)
{
    redisAsyncContext              *ac;
    ngx_connection_t               *c;
    ngx_http_replicas_main_conf_t  *rmcf = ngx_http_replicas_rmcf;

    if (rmcf->redis_port) {
        ac = redisAsyncConnect((char *) rmcf->redis_host.data,
                               (int) rmcf->redis_port);
    } else {
        ac = redisAsyncConnectUnix((char *) rmcf->redis_host.data);
    }

    if (ac == NULL) {
        ngx_http_replicas_link_lost(link);
        return;
    }

    if (ac->err) {
        ngx_log_error(NGX_LOG_WARN, ngx_http_replicas_log, 0,
                      "replicas: redis %s link: %s", link->name, ac->errstr);
        redisAsyncFree(ac);
        ngx_http_replicas_link_lost(link);
        return;
    }

    c = ngx_get_connection(ac->c.fd, ngx_http_replicas_log);
    if (c == NULL) {
        redisAsyncFree(ac);
        ngx_http_replicas_link_lost(link);
        return;
    }

    c->data = ac;
    c->read->handler = ngx_http_replicas_ev_read;
    c->write->handler = ngx_http_replicas_ev_write;
    c->read->log = ngx_http_replicas_log;
    c->write->log = ngx_http_replicas_log;

    link->ac = ac;
    link->conn = c;
    link->connected = 0;
    link->pending = 0;

    ac->data = link;
    ac->ev.data = link;
    ac->ev.addRead = ngx_http_replicas_ev_add_read;
    ac->ev.delRead = ngx_http_replicas_ev_del_read;
    ac->ev.addWrite = ngx_http_replicas_ev_add_write;
    ac->ev.delWrite = ngx_http_replicas_ev_del_write;
    ac->ev.cleanup = ngx_http_replicas_ev_cleanup;

    redisAsyncSetConnectCallback(ac, ngx_http_replicas_on_connect);
    redisAsyncSetDisconnectCallback(ac, ngx_http_replicas_on_disconnect);

    /* hiredis finishes a connect only once a command wants the socket */
    link->start(link);

    ngx_add_timer(&link->reconnect, ngx_http_replicas_rmcf->redis_timeout);
}


/* The context is gone (or never was): try again after a backoff. */

static void
ngx_http_replicas_link_lost(ngx_http_replicas_link_t *link)
{
    link->connected = 0;
    link->pending = 0;

    if (link->reconnect.timer_set) {
        ngx_del_timer(&link->reconnect);
    }

    if (ngx_http_replicas_exiting || ngx_exiting || ngx_quit
        || ngx_terminate)
    {
        return;
    }

    ngx_add_timer(&link->reconnect, link->backoff);

    link->backoff = ngx_min(link->backoff * 2, NGX_HTTP_REPLICAS_BACKOFF_MAX);
}


/* Tear down a live context on purpose (stalled or too slow). */

static void
ngx_http_replicas_link_reset(ngx_http_replicas_link_t *link)
{
    redisAsyncContext  *ac = link->ac;

    link->ac = NULL;

    /*
     * redisAsyncFree answers every pending callback with a NULL reply and
     * calls the disconnect callback only for a connected context: so the
     * link is marked lost here, once, whatever hiredis does.
     */
    ac->onDisconnect = NULL;
    redisAsyncFree(ac);

    ngx_http_replicas_link_lost(link);
}


/* The command link */

static void
ngx_http_replicas_ping_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    ngx_http_replicas_link_t  *link = privdata;

    if (r != NULL) {
        link->last_reply = ngx_current_msec;
    }

    if (link->pending) {
        link->pending--;
    }
}


static void
ngx_http_replicas_cmd_start(ngx_http_replicas_link_t *link)
{
    if (redisAsyncCommand(link->ac, ngx_http_replicas_ping_reply, link,
                          "PING")
        == REDIS_OK)
    {
        link->pending++;
    }
}


static void
ngx_http_replicas_copy_org(redisReply *org, ngx_http_replicas_route_t *route)
{
    route->org_len = 0;

    if (org->type == REDIS_REPLY_STRING && org->len > 0
        && org->len <= NGX_HTTP_REPLICAS_ORG_MAX)
    {
        route->org_len = org->len;
        ngx_memcpy(route->org, org->str, org->len);
    }
}


/* "3000,8080": at most NGX_HTTP_REPLICAS_PUBLIC_MAX ports, never 3737/6080 */

static void
ngx_http_replicas_parse_public(redisReply *v, ngx_http_replicas_route_t *route)
{
    u_char     *p, *end, *start;
    ngx_int_t   port;

    route->npublic = 0;

    if (v->type != REDIS_REPLY_STRING) {
        return;
    }

    p = (u_char *) v->str;
    end = p + v->len;

    while (p < end && route->npublic < NGX_HTTP_REPLICAS_PUBLIC_MAX) {
        start = p;

        while (p < end && *p != ',') {
            p++;
        }

        port = ngx_atoi(start, p - start);

        if (port > 0 && port <= 65535 && port != RP_PORT_ENGINE
            && port != RP_PORT_DESKTOP)
        {
            route->public_ports[route->npublic++] = (uint16_t) port;
        }

        p++;
    }
}


/* a user id; one that does not fit is no one */

static void
ngx_http_replicas_copy_user(redisReply *v, ngx_http_replicas_route_t *rec)
{
    rec->user_len = 0;

    if (v->type == REDIS_REPLY_STRING && v->len > 0
        && v->len <= NGX_HTTP_REPLICAS_USER_MAX)
    {
        rec->user_len = v->len;
        ngx_memcpy(rec->user, v->str, v->len);
    }
}


/* HMGET <workspace key> state addr org public user collaborators */

ngx_int_t
ngx_http_replicas_redis_parse_route(void *r, ngx_http_replicas_route_t *route)
{
    redisReply  *reply = r, *state, *addr;
    in_addr_t    inaddr;

    if (reply == NULL) {
        return NGX_ERROR;
    }

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 6) {
        return NGX_ERROR;
    }

    state = reply->element[0];
    addr = reply->element[1];

    if (state->type == REDIS_REPLY_NIL) {
        return NGX_DECLINED;
    }

    if (state->type != REDIS_REPLY_STRING) {
        return NGX_ERROR;
    }

    route->state = rp_state_parse(state->str, state->len);
    route->addr_len = 0;

    ngx_http_replicas_copy_org(reply->element[2], route);
    ngx_http_replicas_parse_public(reply->element[3], route);
    ngx_http_replicas_copy_user(reply->element[4], route);

    /* too long to cache: no collaborator's key opens it (closed) */
    route->collab_len = 0;

    if (reply->element[5]->type == REDIS_REPLY_STRING
        && reply->element[5]->len <= NGX_HTTP_REPLICAS_COLLAB_MAX)
    {
        route->collab_len = reply->element[5]->len;
        ngx_memcpy(route->collab, reply->element[5]->str, route->collab_len);
    }

    if (route->state == RP_STATE_AWAKE) {

        /*
         * Only an IPv4 literal is accepted: proxy_pass must never need a
         * resolver, and a corrupted field must not send traffic elsewhere.
         */
        if (addr->type != REDIS_REPLY_STRING
            || addr->len >= NGX_HTTP_REPLICAS_ADDR_MAX)
        {
            route->state = RP_STATE_INVALID;
            return NGX_OK;
        }

        inaddr = ngx_inet_addr((u_char *) addr->str, addr->len);
        if (inaddr == INADDR_NONE) {
            route->state = RP_STATE_INVALID;
            return NGX_OK;
        }

        route->addr_len = addr->len;
        ngx_memcpy(route->addr, addr->str, addr->len);
    }

    return NGX_OK;
}


/*
 * The key script's {org, scope, workspace, user, role, limited until}
 * (route.c): org "" for a key that is unknown, revoked, or whose user is
 * disabled.
 */

ngx_int_t
ngx_http_replicas_redis_parse_key(void *r, ngx_http_replicas_route_t *cred)
{
    time_t       until;
    ngx_uint_t   i;
    redisReply  *reply = r, *org, *scope, *ws, *role, *limited;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements != 6)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < 6; i++) {
        if (reply->element[i]->type != REDIS_REPLY_STRING) {
            return NGX_ERROR;
        }
    }

    org = reply->element[0];
    scope = reply->element[1];
    ws = reply->element[2];
    role = reply->element[4];
    limited = reply->element[5];

    cred->state = RP_STATE_NONE;
    cred->addr_len = 0;
    cred->npublic = 0;

    ngx_http_replicas_copy_org(org, cred);

    if (cred->org_len == 0) {
        return NGX_DECLINED;                /* unknown or revoked */
    }

    if (scope->len == 9 && ngx_strncmp(scope->str, "workspace", 9) == 0) {
        /* a scoped key without a valid workspace is worth nothing */
        if (!rp_ws_id_valid(ws->str, ws->len)
            || ws->len > NGX_HTTP_REPLICAS_ADDR_MAX)
        {
            return NGX_DECLINED;
        }

        cred->addr_len = ws->len;
        ngx_memcpy(cred->addr, ws->str, ws->len);
    }

    ngx_http_replicas_copy_user(reply->element[3], cred);
    cred->admin = role->len == 5 && ngx_strncmp(role->str, "admin", 5) == 0;

    /* "" or the end of the minute its rate limit is spent for */
    until = limited->len ? ngx_atotm((u_char *) limited->str, limited->len)
                         : 0;
    cred->limited_until = until == NGX_ERROR ? 0 : until;

    cred->state = RP_STATE_AWAKE;

    return NGX_OK;
}


/* EXISTS <session or share key> */

ngx_int_t
ngx_http_replicas_redis_parse_ref(void *r, ngx_http_replicas_route_t *cred)
{
    redisReply  *reply = r;

    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) {
        return NGX_ERROR;
    }

    ngx_memzero(cred, sizeof(ngx_http_replicas_route_t));
    cred->state = reply->integer == 1 ? RP_STATE_AWAKE : RP_STATE_NONE;

    return reply->integer == 1 ? NGX_OK : NGX_DECLINED;
}


/* A string reply copied into pool: NGX_OK, NGX_DECLINED for nil. */

ngx_int_t
ngx_http_replicas_redis_copy_string(void *r, ngx_pool_t *pool, ngx_str_t *out)
{
    redisReply  *reply = r;

    if (reply == NULL) {
        return NGX_ERROR;
    }

    if (reply->type == REDIS_REPLY_NIL) {
        return NGX_DECLINED;
    }

    if (reply->type != REDIS_REPLY_STRING) {
        return NGX_ERROR;
    }

    out->data = ngx_pnalloc(pool, reply->len + 1);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(out->data, reply->str, reply->len);
    out->len = reply->len;

    return NGX_OK;
}


/*
 * Any command, for callers that read the reply themselves (the API's
 * scripts).  The handler gets NULL when Redis failed or went away; it
 * must copy what it needs, hiredis frees the reply after it returns.
 */

typedef struct {
    ngx_http_replicas_reply_pt      handler;
    void                           *data;
} ngx_http_replicas_call_t;


ngx_int_t
ngx_http_replicas_redis_copy_pair(void *r, ngx_pool_t *pool, ngx_str_t *first,
    ngx_str_t *second)
{
    ngx_str_t   *out[2];
    ngx_uint_t   i;
    redisReply  *reply = r, *e;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements != 2)
    {
        return NGX_ERROR;
    }

    out[0] = first;
    out[1] = second;

    for (i = 0; i < 2; i++) {
        e = reply->element[i];

        if (e->type != REDIS_REPLY_STRING) {
            return NGX_ERROR;
        }

        out[i]->data = ngx_pnalloc(pool, e->len + 1);
        if (out[i]->data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(out[i]->data, e->str, e->len);
        out[i]->data[e->len] = '\0';
        out[i]->len = e->len;
    }

    return NGX_OK;
}


static void
ngx_http_replicas_call_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    redisReply                *reply = r;
    ngx_http_replicas_call_t   call;
    ngx_http_replicas_link_t  *link = &ngx_http_replicas_cmd;

    call = *(ngx_http_replicas_call_t *) privdata;
    ngx_free(privdata);

    if (link->pending) {
        link->pending--;
    }

    if (reply != NULL) {
        link->last_reply = ngx_current_msec;
    }

    if (ngx_http_replicas_exiting || call.handler == NULL) {
        return;
    }

    call.handler(reply, call.data);
}


ngx_int_t
ngx_http_replicas_redis_command(int argc, const char **argv,
    const size_t *argvlen, ngx_http_replicas_reply_pt handler, void *data)
{
    ngx_http_replicas_call_t  *call;
    ngx_http_replicas_link_t  *link = &ngx_http_replicas_cmd;

    if (link->ac == NULL || !link->connected) {
        return NGX_ERROR;
    }

    call = ngx_alloc(sizeof(ngx_http_replicas_call_t), ngx_http_replicas_log);
    if (call == NULL) {
        return NGX_ERROR;
    }

    call->handler = handler;
    call->data = data;

    if (redisAsyncCommandArgv(link->ac, ngx_http_replicas_call_reply, call,
                              argc, argv, argvlen)
        != REDIS_OK)
    {
        ngx_free(call);
        return NGX_ERROR;
    }

    link->pending++;

    return NGX_OK;
}


/*
 * Reads lua/api.lua's {status, body, retry-after} answer, and
 * lua/session.lua's, which may add a fourth: the user the request acted
 * as (for $replicas_actor).
 */

ngx_int_t
ngx_http_replicas_redis_script_reply(void *r,
    ngx_http_replicas_script_reply_t *out)
{
    redisReply  *reply = r, **e;

    ngx_str_null(&out->error);
    ngx_str_null(&out->actor);

    if (reply == NULL) {
        return NGX_ERROR;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        out->error.data = (u_char *) reply->str;
        out->error.len = reply->len;
        return NGX_ERROR;
    }

    e = reply->element;

    if (reply->type != REDIS_REPLY_ARRAY
        || (reply->elements != 3 && reply->elements != 4)
        || (reply->elements == 4 && e[3]->type != REDIS_REPLY_STRING)
        || e[0]->type != REDIS_REPLY_INTEGER
        || e[1]->type != REDIS_REPLY_STRING
        || e[2]->type != REDIS_REPLY_INTEGER
        || e[0]->integer < 200 || e[0]->integer > 599)
    {
        ngx_str_set(&out->error, "unexpected reply shape");
        return NGX_ERROR;
    }

    out->status = (ngx_uint_t) e[0]->integer;
    out->body.data = (u_char *) e[1]->str;
    out->body.len = e[1]->len;
    out->retry_after = (time_t) e[2]->integer;

    if (reply->elements == 4) {
        out->actor.data = (u_char *) e[3]->str;
        out->actor.len = e[3]->len;
    }

    return NGX_OK;
}


/*
 * A lookup missed its deadline.  If the link has had nothing back for a
 * whole timeout while commands wait, Redis is stuck or the path to it is:
 * drop the link so the next requests fail fast, and reconnect.
 */

void
ngx_http_replicas_redis_lookup_timed_out(void)
{
    ngx_http_replicas_link_t  *link = &ngx_http_replicas_cmd;

    if (link->ac && link->pending
        && ngx_current_msec - link->last_reply
           >= ngx_http_replicas_rmcf->redis_timeout)
    {
        ngx_log_error(NGX_LOG_WARN, ngx_http_replicas_log, 0,
                      "replicas: redis command link stalled, reconnecting");
        ngx_http_replicas_link_reset(link);
    }
}


/* The subscriber link: cache invalidation for every worker */

static void
ngx_http_replicas_sub_message(redisAsyncContext *ac, void *r, void *privdata)
{
    redisReply      *reply = r, *kind, *payload;
    ngx_shm_zone_t  *zone = ngx_http_replicas_rmcf->cache_zone;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements != 3)
    {
        return;
    }

    kind = reply->element[0];
    payload = reply->element[2];

    if (kind->type != REDIS_REPLY_STRING) {
        return;
    }

    if (kind->len == 9 && ngx_strncmp(kind->str, "subscribe", 9) == 0) {
        /* changes made while we were not listening are unknown: forget all */
        ngx_http_replicas_cache_flush(zone);
        ngx_http_replicas_balancer_forget(NULL, 0);
        ngx_http_replicas_wake_notify(NULL, 0);
        ngx_http_replicas_stream_notify(NULL, 0);
        return;
    }

    if (kind->len == 7 && ngx_strncmp(kind->str, "message", 7) == 0
        && payload->type == REDIS_REPLY_STRING)
    {
        ngx_http_replicas_cache_invalidate(zone, payload->str, payload->len);

        /* no idle connection to it outlives its old state */
        ngx_http_replicas_balancer_forget(payload->str, payload->len);

        /* after the cache: released requests must not find the old state */
        ngx_http_replicas_wake_notify(payload->str, payload->len);

        /* the org event streams (GET /v1/events) ask what it was */
        ngx_http_replicas_stream_notify(payload->str, payload->len);
    }
}


static void
ngx_http_replicas_sub_start(ngx_http_replicas_link_t *link)
{
    (void) redisAsyncCommand(link->ac, ngx_http_replicas_sub_message, NULL,
                             "SUBSCRIBE " RP_CHANNEL_WS_CHANGED);
}


ngx_int_t
ngx_http_replicas_redis_init_worker(ngx_cycle_t *cycle,
    ngx_http_replicas_main_conf_t *rmcf)
{
    ngx_http_replicas_link_t  *links[2];
    ngx_uint_t                 i;

    ngx_http_replicas_rmcf = rmcf;
    ngx_http_replicas_log = cycle->log;
    ngx_http_replicas_exiting = 0;

    ngx_http_replicas_cmd.name = "command";
    ngx_http_replicas_cmd.start = ngx_http_replicas_cmd_start;
    ngx_http_replicas_sub.name = "subscriber";
    ngx_http_replicas_sub.start = ngx_http_replicas_sub_start;

    links[0] = &ngx_http_replicas_cmd;
    links[1] = &ngx_http_replicas_sub;

    for (i = 0; i < 2; i++) {
        links[i]->backoff = NGX_HTTP_REPLICAS_BACKOFF_MIN;
        links[i]->reconnect.handler = ngx_http_replicas_reconnect_handler;
        links[i]->reconnect.data = links[i];
        links[i]->reconnect.log = cycle->log;

        /* these timers must not keep a gracefully exiting worker alive */
        links[i]->reconnect.cancelable = 1;

        ngx_http_replicas_link_connect(links[i]);
    }

    return NGX_OK;
}


void
ngx_http_replicas_redis_exit_worker(void)
{
    ngx_http_replicas_link_t  *links[2];
    ngx_uint_t                 i;
    redisAsyncContext         *ac;

    ngx_http_replicas_exiting = 1;

    links[0] = &ngx_http_replicas_cmd;
    links[1] = &ngx_http_replicas_sub;

    for (i = 0; i < 2; i++) {
        if (links[i]->reconnect.timer_set) {
            ngx_del_timer(&links[i]->reconnect);
        }

        ac = links[i]->ac;

        if (ac) {
            links[i]->ac = NULL;
            ac->onDisconnect = NULL;
            redisAsyncFree(ac);
        }
    }
}
