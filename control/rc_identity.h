#ifndef RC_IDENTITY_H
#define RC_IDENTITY_H

#include <hiredis/hiredis.h>

/* argv[0] is org|user|key|login-link; -1 means a usage error. */
int rc_identity_main(redisContext *rc, int argc, char **argv);

#endif /* RC_IDENTITY_H */
