#ifndef RC_WORKSPACE_H
#define RC_WORKSPACE_H

#include <hiredis/hiredis.h>

/* argv[0] is the verb (put, show, delete); -1 means a usage error. */
int rc_workspace_main(redisContext *rc, int argc, char **argv);

#endif /* RC_WORKSPACE_H */
