/*
 * The agents: see rp_agents.h.
 */

#include <string.h>

#include "rp_agents.h"


#define RP_AGENT(s)  { s, sizeof(s) - 1 }

/* in rp_agent_e's order; RP_AGENT_NAMES lists the same */
const rp_agent_info_t  rp_agents[RP_AGENT_COUNT] = {
    RP_AGENT("claude"),
    RP_AGENT("codex"),
    RP_AGENT("opencode"),
    RP_AGENT("cursor"),
};


int
rp_agent_index(const char *name, size_t len)
{
    int  i;

    for (i = 0; i < RP_AGENT_COUNT; i++) {
        if (rp_agents[i].len == len
            && memcmp(rp_agents[i].name, name, len) == 0)
        {
            return i;
        }
    }

    return -1;
}
