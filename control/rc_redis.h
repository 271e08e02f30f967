/*
 * control's Redis library (rc_redis.c).  The worker's half, on an
 * rc_worker_t (rc_cmd, rc_hget, rc_field, rc_enqueue, rc_redis_lost), is
 * declared in rc_worker.h; this is the admin CLI's half, on a plain
 * context, its errors written to stderr.
 */

#ifndef RC_REDIS_H
#define RC_REDIS_H

#include <hiredis/hiredis.h>


/* 1 if the reply is no error (and there is one), else 0 with the reason
 * on stderr, "what" naming the command; the reply is freed */
int rc_redis_ok(redisContext *rc, redisReply *reply, const char *what);

/* MULTI: 1 or 0 */
int rc_redis_multi(redisContext *rc);

/* ends a MULTI: EXEC if ok (1 when every queued command succeeded), else
 * DISCARD (0), so no transaction is left open on the connection */
int rc_redis_exec(redisContext *rc, int ok);

#endif /* RC_REDIS_H */
