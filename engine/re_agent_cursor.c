/*
 * Cursor's CLI (cursor-agent, installed by the user: it is on no package
 * registry) as an agent: one turn is
 *   cursor-agent -p --output-format stream-json --force
 *                [--resume SESSION] PROMPT
 * with the prompt as the last argument (stdin gets nothing), the key in
 * CURSOR_API_KEY.  Its output, as Cursor documents it, one JSON object a
 * line, each with the session's id ("session_id"): "system"/"init"
 * (session_id, model), "user" (the prompt, echoed), "assistant" (text
 * parts of message.content), "tool_call" with subtype "started" or
 * "completed" (call_id; tool_call holds one key naming the tool,
 * "readToolCall", "writeToolCall", "shellToolCall", ..., or "function"
 * {name, arguments}, with its args and, once completed, its result:
 * {"success": {...}} or {"error": {...}}), "result" (subtype, is_error,
 * result: the answer, duration_ms, and usage where the CLI reports it).
 * --force lets it run commands and write files without asking: nobody is
 * there to answer.
 *
 * Cursor's CLI takes no system prompt: a new session's first prompt
 * carries the workspace's instructions ahead of the message; a resumed
 * one has them already.  It reports no cost.
 */

#define _GNU_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "re_agent.h"


static const char *const  re_cursor_keys[] = {
    "CURSOR_API_KEY", NULL
};


static int
re_cursor_argv(re_turn_t *t, char **argv, size_t max)
{
    int     resume;
    size_t  n, len;

    if (max < 10) {
        return -1;
    }

    resume = t->session && t->session[0] && t->session[0] != '-';

    n = 0;
    argv[n++] = (char *) t->bin;
    argv[n++] = "-p";
    argv[n++] = "--output-format";
    argv[n++] = "stream-json";
    argv[n++] = "--force";

    if (resume) {
        argv[n++] = "--resume";
        argv[n++] = (char *) t->session;
    }

    /* "--" ends the options: a prompt may start with a dash */
    argv[n++] = "--";

    if (!resume && t->system_prompt && t->system_prompt[0]) {
        len = strlen(t->system_prompt) + strlen(t->text) + 64;
        t->buf = malloc(len);

        if (t->buf == NULL) {
            return -1;
        }

        snprintf(t->buf, len, "<instructions>\n%s\n</instructions>\n\n%s",
                 t->system_prompt, t->text);
        argv[n++] = t->buf;

    } else {
        argv[n++] = (char *) t->text;
    }

    argv[n] = NULL;

    return 0;
}


static char *
re_cursor_input(re_turn_t *t)
{
    (void) t;

    return strdup("");
}


/* the tool of a tool_call: its name ("readToolCall": "read"; "function":
 * the function's name), its input, its result object or NULL */
static void
re_cursor_tool_call(json_t *call, char *name, size_t size, json_t **input,
    json_t **result)
{
    size_t       len;
    json_t      *tool, *v;
    const char  *key, *fn;

    *input = NULL;
    *result = NULL;
    tool = NULL;
    snprintf(name, size, "tool");

    /* one key: the tool */
    json_object_foreach(call, key, tool) {
        break;
    }

    if (key == NULL || !json_is_object(tool)) {
        return;
    }

    if (strcmp(key, "function") == 0) {
        fn = json_string_value(json_object_get(tool, "name"));
        snprintf(name, size, "%s", fn ? fn : "function");

        /* arguments: a JSON text, as OpenAI's function calls have them */
        v = json_object_get(tool, "arguments");
        *input = json_is_string(v) ? json_loads(json_string_value(v), 0, NULL)
                                   : json_incref(v);
        if (*input == NULL && v) {
            *input = json_incref(v);
        }

        *result = json_object_get(tool, "result");
        return;
    }

    len = strlen(key);
    if (len > 8 && strcmp(key + len - 8, "ToolCall") == 0) {
        len -= 8;
    }

    snprintf(name, size, "%.*s", (int) len, key);
    *input = json_incref(json_object_get(tool, "args"));
    *result = json_object_get(tool, "result");
}


/* a tool's result as text: what it printed or read, else its JSON */
static json_t *
re_cursor_tool_output(json_t *value)
{
    char        *text;
    json_t      *out;
    const char  *s;
    const char  *const  *k;

    static const char *const  keys[] = {
        "stdout", "content", "output", "message", "errorMessage", "error",
        NULL
    };

    if (json_is_string(value)) {
        return re_agent_cut(json_string_value(value));
    }

    for (k = keys; *k; k++) {
        s = json_string_value(json_object_get(value, *k));

        if (s) {
            return re_agent_cut(s);
        }
    }

    text = value ? json_dumps(value, JSON_COMPACT) : NULL;
    out = re_agent_cut(text);
    free(text);

    return out;
}


static void
re_cursor_tool(re_turn_t *t, json_t *msg, int done)
{
    int      is_error;
    char     name[128];
    json_t  *id, *input, *result, *v;

    id = json_object_get(msg, "call_id");
    re_cursor_tool_call(json_object_get(msg, "tool_call"), name, sizeof(name),
                        &input, &result);

    /* a tool's use, once (a completed call whose start was missed has
     * one too) */
    if (re_agent_tool_new(t, id)) {
        re_agent_tool_use(t, name, id, input);
    }

    json_decref(input);

    if (!done) {
        return;
    }

    /* {"success": {...}}, or an error of some kind: "error", "failure",
     * "rejected" */
    v = json_object_get(result, "success");
    is_error = v == NULL && result != NULL;

    if (is_error) {
        v = json_object_get(result, "error");
        v = v ? v : json_object_get(result, "failure");
        v = v ? v : json_object_get(result, "rejected");
        v = v ? v : result;

    } else if (v) {
        /* a command that exited non-zero */
        is_error = json_is_integer(json_object_get(v, "exitCode"))
                   && json_integer_value(json_object_get(v, "exitCode")) != 0;
    }

    re_agent_tool_result(t, id, is_error, re_cursor_tool_output(v));
}


static void
re_cursor_assistant(re_turn_t *t, json_t *msg)
{
    size_t   i;
    json_t  *content, *part, *text;

    content = json_object_get(json_object_get(msg, "message"), "content");

    if (json_is_string(content)) {
        re_agent_delta(t, content);
        return;
    }

    json_array_foreach(content, i, part) {
        text = json_object_get(part, "text");

        if (json_is_string(json_object_get(part, "type"))
            && strcmp(json_string_value(json_object_get(part, "type")),
                      "text") == 0
            && json_is_string(text))
        {
            re_agent_delta(t, text);
        }
    }
}


/* a number of usage's under either spelling, or -1 */
static long long
re_cursor_usage(json_t *usage, const char *snake, const char *camel)
{
    json_t  *v;

    v = json_object_get(usage, snake);
    v = v ? v : json_object_get(usage, camel);

    return json_is_integer(v) ? json_integer_value(v) : -1;
}


static void
re_cursor_result(re_turn_t *t, json_t *msg)
{
    json_t      *usage, *v;
    long long    n;
    const char  *sub;

    t->completed = 1;
    sub = json_string_value(json_object_get(msg, "subtype"));
    t->is_error = json_is_true(json_object_get(msg, "is_error"))
                  || (sub && strcmp(sub, "success") != 0);

    usage = json_object_get(msg, "usage");

    n = re_cursor_usage(usage, "input_tokens", "inputTokens");
    if (n >= 0) {
        t->input_tokens = n;
    }

    n = re_cursor_usage(usage, "output_tokens", "outputTokens");
    if (n >= 0) {
        t->output_tokens = n;
    }

    v = json_object_get(msg, "result");
    if (!json_is_string(v)) {
        v = json_object_get(msg, "error");
        v = json_is_string(v) ? v
                              : json_object_get(v, "message");
    }

    if (json_is_string(v)) {
        re_agent_answer(t, v);
    }
}


static void
re_cursor_line(re_turn_t *t, const char *line, size_t len)
{
    json_t       *msg, *sub, *sid;
    const char   *ty, *st;

    msg = re_agent_parse(line, len, &ty);
    if (msg == NULL) {
        return;
    }

    sub = json_object_get(msg, "subtype");
    st = json_is_string(sub) ? json_string_value(sub) : "";

    /* every line names the session: the first one tells */
    sid = json_object_get(msg, "session_id");

    if (t->session_out[0] == '\0' && json_is_string(sid)
        && json_string_length(sid) > 0)
    {
        re_agent_session(t, "cursor", json_string_value(sid));
    }

    if (strcmp(ty, "assistant") == 0) {
        re_cursor_assistant(t, msg);

    } else if (strcmp(ty, "tool_call") == 0) {
        re_cursor_tool(t, msg, strcmp(st, "completed") == 0);

    } else if (strcmp(ty, "result") == 0) {
        re_cursor_result(t, msg);
    }

    /* "system" (but its session id), "user" (the prompt), "thinking":
     * not events */

    json_decref(msg);
}


const re_agent_t  re_agent_cursor = {
    "cursor",
    "bin/cursor-agent",
    "cursor-agent",
    re_cursor_keys,
    re_cursor_argv,
    re_cursor_input,
    re_cursor_line,
    NULL,
    NULL,
    NULL
};
