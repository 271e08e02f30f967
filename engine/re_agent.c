/*
 * What the agent adapters share (re_agent.h): each adapter reads its own
 * CLI's output format, but they all report it as the same events, with
 * the same payloads, and cut tool output the same way; those are here
 * once, so the events cannot drift apart between agents.  Also the
 * adapters by name.
 */

#include <stdio.h>
#include <string.h>

#include "re_agent.h"
#include "re_events.h"
#include "common/rp_agents.h"


const re_agent_t *
re_agent_find(const char *name)
{
    /* in rp_agent_e's order (common/rp_agents.h) */
    static const re_agent_t  *agents[RP_AGENT_COUNT] = {
        &re_agent_claude, &re_agent_codex, &re_agent_opencode,
        &re_agent_cursor
    };

    int  i;

    if (name == NULL) {
        name = RP_AGENT_DEFAULT;
    }

    i = rp_agent_index(name, strlen(name));

    return i < 0 ? NULL : agents[i];
}


json_t *
re_agent_parse(const char *line, size_t len, const char **type)
{
    json_t  *msg, *v;

    msg = json_loadb(line, len, 0, NULL);
    v = json_object_get(msg, "type");

    if (!json_is_string(v)) {
        json_decref(msg);
        return NULL;
    }

    *type = json_string_value(v);

    return msg;
}


json_t *
re_agent_cut(const char *s)
{
    size_t  len;

    len = s ? strlen(s) : 0;

    if (len > RE_AGENT_OUTPUT_MAX) {
        len = RE_AGENT_OUTPUT_MAX;

        while (len > 0 && ((unsigned char) s[len] & 0xc0) == 0x80) {
            len--;
        }
    }

    return json_stringn(s ? s : "", len);
}


void
re_agent_session(re_turn_t *t, const char *agent, const char *id)
{
    snprintf(t->session_out, sizeof(t->session_out), "%s", id);

    re_events_emit("chat.session",
        json_pack("{s:s, s:I, s:s, s:s}", "chat", t->chat,
                  "seq", (json_int_t) t->seq, "agent", agent,
                  "session_id", t->session_out));
}


void
re_agent_delta(re_turn_t *t, json_t *text)
{
    re_events_emit("chat.turn.delta",
        json_pack("{s:s, s:I, s:O}", "chat", t->chat,
                  "seq", (json_int_t) t->seq, "text", text));
}


int
re_agent_tool_new(re_turn_t *t, json_t *id)
{
    if (json_is_string(id)
        && strcmp(t->tool_id, json_string_value(id)) == 0)
    {
        return 0;
    }

    snprintf(t->tool_id, sizeof(t->tool_id), "%s",
             json_is_string(id) ? json_string_value(id) : "");

    return 1;
}


void
re_agent_tool_use(re_turn_t *t, const char *name, json_t *id, json_t *input)
{
    re_events_emit("tool.use",
        json_pack("{s:s, s:I, s:s?, s:O?, s:O?}", "chat", t->chat,
                  "seq", (json_int_t) t->seq, "tool", name, "id", id,
                  "input", input));
}


void
re_agent_tool_result(re_turn_t *t, json_t *id, int is_error, json_t *output)
{
    re_events_emit("tool.result",
        json_pack("{s:s, s:I, s:O?, s:b, s:o}", "chat", t->chat,
                  "seq", (json_int_t) t->seq, "id", id,
                  "is_error", is_error, "output", output));
}


void
re_agent_answer(re_turn_t *t, json_t *text)
{
    json_decref(t->result);
    t->result = json_incref(text);
}
