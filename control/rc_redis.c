/*
 * control's Redis library: commands with their failures logged, replies
 * read, and MULTI/EXEC that never leaves a transaction open.  Two sets,
 * because two kinds of caller:
 *   - the worker's (rc_worker_t): errors are log lines (rc_log.h), a lost
 *     connection is rc_redis_lost() and the job loop reconnects;
 *   - the admin CLI's (a plain redisContext): errors go to stderr for the
 *     person who ran the command.
 * A MULTI whose queued command failed is DISCARDed: left open, every
 * later command on the connection (the worker keeps its own) would only
 * be QUEUED.
 */

#define _GNU_SOURCE

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/rp_keys.h"
#include "rc_log.h"
#include "rc_redis.h"
#include "rc_worker.h"


redisReply *
rc_cmd(rc_worker_t *w, const char *fmt, ...)
{
    va_list      ap;
    redisReply  *reply;

    va_start(ap, fmt);
    reply = redisvCommand(w->redis, fmt, ap);
    va_end(ap);

    if (reply == NULL) {
        rc_error("redis.failed", "error=\"%s\"", w->redis->errstr);

    } else if (reply->type == REDIS_REPLY_ERROR) {
        rc_error("redis.error", "error=\"%s\"", reply->str);
    }

    return reply;
}


redisReply *
rc_cmdargv(rc_worker_t *w, int argc, const char **argv)
{
    redisReply  *reply;

    reply = redisCommandArgv(w->redis, argc, argv, NULL);

    if (reply == NULL) {
        rc_error("redis.failed", "error=\"%s\"", w->redis->errstr);

    } else if (reply->type == REDIS_REPLY_ERROR) {
        rc_error("redis.error", "error=\"%s\"", reply->str);
    }

    return reply;
}


char *
rc_hget(rc_worker_t *w, const char *key, const char *field)
{
    char        *s;
    redisReply  *r;

    r = rc_cmd(w, "HGET %s %s", key, field);

    s = (r && r->type == REDIS_REPLY_STRING) ? strdup(r->str) : NULL;

    freeReplyObject(r);

    return s;
}


int
rc_redis_lost(rc_worker_t *w)
{
    return w->redis->err != 0;
}


int
rc_enqueue(rc_worker_t *w, const char *type, const char *ws, ...)
{
    int          argc;
    char         now[32];
    va_list      ap;
    const char  *argv[32], *s;
    redisReply  *r;

    snprintf(now, sizeof(now), "%ld", (long) time(NULL));

    argc = 0;
    argv[argc++] = "XADD";
    argv[argc++] = RP_KEY_JOBS;
    argv[argc++] = "MAXLEN";
    argv[argc++] = "~";
    argv[argc++] = "100000";
    argv[argc++] = "*";
    argv[argc++] = "type";
    argv[argc++] = type;
    argv[argc++] = "workspace";
    argv[argc++] = ws;
    argv[argc++] = "at";
    argv[argc++] = now;

    va_start(ap, ws);

    while (argc < 30 && (s = va_arg(ap, const char *)) != NULL) {
        argv[argc++] = s;
        argv[argc++] = va_arg(ap, const char *);
    }

    va_end(ap);

    r = rc_cmdargv(w, argc, argv);

    argc = (r && r->type == REDIS_REPLY_STRING) ? 0 : -1;
    freeReplyObject(r);

    return argc;
}


const char *
rc_field(redisReply *fields, const char *name)
{
    size_t  i;

    for (i = 0; fields && i + 1 < fields->elements; i += 2) {
        if (fields->element[i]->type == REDIS_REPLY_STRING
            && strcmp(fields->element[i]->str, name) == 0
            && fields->element[i + 1]->type == REDIS_REPLY_STRING)
        {
            return fields->element[i + 1]->str;
        }
    }

    return "";
}


int
rc_redis_ok(redisContext *rc, redisReply *reply, const char *what)
{
    int  ok;

    if (reply == NULL) {
        fprintf(stderr, "replicas-control: %s: %s\n", what, rc->errstr);
        return 0;
    }

    ok = reply->type != REDIS_REPLY_ERROR;

    if (!ok) {
        fprintf(stderr, "replicas-control: %s: %s\n", what, reply->str);
    }

    freeReplyObject(reply);

    return ok;
}


int
rc_redis_multi(redisContext *rc)
{
    return rc_redis_ok(rc, redisCommand(rc, "MULTI"), "MULTI");
}


int
rc_redis_exec(redisContext *rc, int ok)
{
    size_t       i;
    redisReply  *reply;

    if (!ok) {
        freeReplyObject(redisCommand(rc, "DISCARD"));
        return 0;
    }

    reply = redisCommand(rc, "EXEC");

    /* nil: aborted (a queued command was refused); errors: one failed */
    ok = reply != NULL && reply->type == REDIS_REPLY_ARRAY;

    for (i = 0; ok && i < reply->elements; i++) {
        if (reply->element[i]->type == REDIS_REPLY_ERROR) {
            fprintf(stderr, "replicas-control: EXEC: %s\n",
                    reply->element[i]->str);
            ok = 0;
        }
    }

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        (void) rc_redis_ok(rc, reply, "EXEC");
        return 0;
    }

    freeReplyObject(reply);

    return ok;
}


redisContext *
rc_redis_connect_like(redisContext *c)
{
    redisContext    *n;
    struct timeval   tv = { 10, 0 };

    if (c->connection_type == REDIS_CONN_UNIX) {
        n = redisConnectUnixWithTimeout(c->unix_sock.path, tv);
    } else {
        n = redisConnectWithTimeout(c->tcp.host, c->tcp.port, tv);
    }

    if (n == NULL) {
        return NULL;
    }

    /* a Redis that hangs (stopped, cut off) counts as lost, not forever;
     * one not there yet is reconnected to like a lost one */
    (void) redisSetTimeout(n, tv);

    return n;
}


void
rc_redis_reconnect(rc_worker_t *w, volatile int *stop)
{
    long             delay;
    redisReply      *r;
    struct timespec  ts;

    delay = 100;

    while (!*stop) {
        ts.tv_sec = delay / 1000;
        ts.tv_nsec = (delay % 1000) * 1000000L;
        nanosleep(&ts, NULL);

        if (redisReconnect(w->redis) == REDIS_OK) {
            /* up, and done loading its AOF */
            r = redisCommand(w->redis, "PING");

            if (r && r->type == REDIS_REPLY_STATUS) {
                freeReplyObject(r);
                return;
            }

            freeReplyObject(r);
        }

        delay = delay * 2 > 2000 ? 2000 : delay * 2;
    }
}
