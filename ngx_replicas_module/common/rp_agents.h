/*
 * The agents a chat may run, named once: the API's validation (module),
 * the engine's request parser and its agent table (re_agent_find) all
 * read this list.  Plain C, no allocation.
 */

#ifndef RP_AGENTS_H
#define RP_AGENTS_H

#include <stddef.h>

/* what a chat gets when its request names none */
#define RP_AGENT_DEFAULT  "claude"
/* for error messages: the names of rp_agents, in order */
#define RP_AGENT_NAMES    "claude, codex, opencode, cursor"

typedef enum {
    RP_AGENT_CLAUDE = 0,
    RP_AGENT_CODEX,
    RP_AGENT_OPENCODE,
    RP_AGENT_CURSOR,
    RP_AGENT_COUNT
} rp_agent_e;

typedef struct {
    const char  *name;
    size_t       len;
} rp_agent_info_t;

extern const rp_agent_info_t  rp_agents[RP_AGENT_COUNT];

/* the agent called name (len bytes, no NUL needed), or -1 */
int rp_agent_index(const char *name, size_t len);

#endif /* RP_AGENTS_H */
