/* Workspace state names: see rp_state.h. */

#include <string.h>

#include "rp_state.h"


static const char  *rp_state_names[] = {
    "none", "booting", "provisioning", "awake", "sleeping", "failed",
    "deleted", "invalid"
};


rp_state_e
rp_state_parse(const char *s, size_t len)
{
    size_t  i;

    for (i = RP_STATE_BOOTING; i < RP_STATE_INVALID; i++) {
        if (strlen(rp_state_names[i]) == len
            && memcmp(rp_state_names[i], s, len) == 0)
        {
            return (rp_state_e) i;
        }
    }

    return RP_STATE_INVALID;
}


const char *
rp_state_name(rp_state_e state)
{
    if ((size_t) state > RP_STATE_INVALID) {
        state = RP_STATE_INVALID;
    }

    return rp_state_names[state];
}
