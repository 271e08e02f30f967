/*
 * Workspace states (contract in ngx_replicas_module/README.md, "Redis
 * schema") and their names as stored in the "state" field of a workspace
 * hash.
 */

#ifndef RP_STATE_H
#define RP_STATE_H

#include <stddef.h>


typedef enum {
    RP_STATE_NONE = 0,        /* no such workspace */
    RP_STATE_BOOTING,
    RP_STATE_PROVISIONING,
    RP_STATE_AWAKE,
    RP_STATE_SLEEPING,
    RP_STATE_FAILED,
    RP_STATE_DELETED,
    RP_STATE_INVALID          /* a value nobody should have written */
} rp_state_e;


rp_state_e rp_state_parse(const char *s, size_t len);
const char *rp_state_name(rp_state_e state);

#endif /* RP_STATE_H */
