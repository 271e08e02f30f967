/*
 * What the agent adapters' unit tests (test_agent_*.c) share: they link
 * the adapters (engine/re_agent*.c) with the engine's pure files, and
 * this stands in for the rest of the engine the adapters use: the events
 * they emit are caught in an array, the turn's directory is agent_cwd.
 * Included by one test file a program.
 */

#ifndef AGENT_HARNESS_H
#define AGENT_HARNESS_H

#include <stdio.h>

#include <jansson.h>

#include "re_agent.h"
#include "re_engine.h"
#include "re_events.h"
#include "re_start.h"


re_engine_t  re_engine;

/* the events the adapter emits, caught; the turn's directory */
static json_t  *events;
static char     agent_cwd[256];


long long
re_events_emit(const char *type, json_t *payload)
{
    json_array_append_new(events, json_pack("{s:s, s:o}", "type", type,
                                            "payload", payload));
    return (long long) json_array_size(events);
}


void
re_start_cwd(char *buf, size_t size)
{
    snprintf(buf, size, "%s", agent_cwd);
}


/* the n-th event's type, "" if there is none */
static const char *
type_of(size_t n)
{
    const char  *s;

    s = json_string_value(json_object_get(json_array_get(events, n), "type"));

    return s ? s : "";
}


static json_t *
payload_of(size_t n)
{
    return json_object_get(json_array_get(events, n), "payload");
}


static const char *
str(json_t *obj, const char *key)
{
    const char  *s;

    s = json_string_value(json_object_get(obj, key));

    return s ? s : "";
}

#endif /* AGENT_HARNESS_H */
