/*
 * Releasing a lock value: the one compare-and-delete every holder of a
 * workspace's or an image build's lock uses.  The lock is deleted only if
 * it still holds our value, so a holder whose lock expired and was taken
 * over never removes its successor's.
 */

#include <hiredis/hiredis.h>

#include "rc_worker.h"


#define RC_LOCK_RELEASE_LUA                                                 \
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "                        \
    "return redis.call('DEL', KEYS[1]) end return 0"


void
rc_lock_release(rc_worker_t *w, const char *key, const char *value)
{
    freeReplyObject(rc_cmd(w, "EVAL %s 1 %s %s", RC_LOCK_RELEASE_LUA,
                           key, value));
}
