#ifndef RC_IDENTITY_H
#define RC_IDENTITY_H

#include <stddef.h>

#include <hiredis/hiredis.h>

/* argv[0] is org|user|key|login-link; -1 means a usage error. */
int rc_identity_main(redisContext *rc, int argc, char **argv);

/*
 * A new API key for user of org (scoped to workspace ws, or NULL): the key
 * into key (at least 128 bytes), its prefix into prefix (the prefix
 * length + 1); stored hashed and announced.  0 or -1.
 */
int rc_apikey_make(redisContext *rc, const char *user, const char *org,
    const char *ws, char *key, size_t keylen, char *prefix);

/* 0 revoked (refused at once everywhere), 1 no such key, -1 Redis */
int rc_apikey_revoke(redisContext *rc, const char *org, const char *prefix);

#endif /* RC_IDENTITY_H */
