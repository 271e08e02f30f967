/*
 * Codex (npm @openai/codex) as an agent: one turn is
 *   codex exec [resume] --json --skip-git-repo-check
 *         --dangerously-bypass-approvals-and-sandbox
 *         [-c model_provider=replicas -c model_providers.replicas={...}]
 *         [-c developer_instructions="..."] [THREAD] -
 * with the prompt on stdin ("-").  Its output, one JSON object a line:
 * "thread.started" (thread_id: the session), "turn.started",
 * "item.started/updated/completed" (agent_message, reasoning,
 * command_execution, file_change, mcp_tool_call, web_search, ...),
 * "turn.completed" (usage), "turn.failed" (error), "error" (reconnects,
 * also reported by turn.failed when they give up).  The workspace is the
 * agent's sandbox: approvals and Codex's own sandbox are off.
 *
 * Codex's CLI takes no base URL from the environment: OPENAI_BASE_URL, if
 * the workspace sets it, becomes a custom model provider ("responses"
 * wire API, key from CODEX_API_KEY, which the engine fills in from
 * OPENAI_API_KEY).  It reports no cost, and its usage figures are the
 * thread's running totals: a turn's are the difference from the totals
 * the last turn left.
 */

#define _GNU_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "re_agent.h"
#include "re_events.h"
#include "re_hooks.h"


static const char *const  re_codex_keys[] = {
    "OPENAI_API_KEY", "CODEX_API_KEY", NULL
};


/* appends a literal; -1 if it does not fit */
static int
re_codex_put(char *buf, size_t size, size_t *len, const char *s)
{
    size_t  n;

    n = strlen(s);

    if (*len + n + 1 > size) {
        return -1;
    }

    memcpy(buf + *len, s, n + 1);
    *len += n;

    return 0;
}


/* appends s to buf as a TOML basic string ("..."); -1 if it is full */
static int
re_codex_toml(char *buf, size_t size, size_t *len, const char *s)
{
    int             n;
    unsigned char   ch;

    if (re_codex_put(buf, size, len, "\"") != 0) {
        return -1;
    }

    for ( /* void */ ; *s; s++) {
        ch = (unsigned char) *s;

        if (ch == '"' || ch == '\\') {
            n = snprintf(buf + *len, size - *len, "\\%c", ch);
        } else if (ch < 0x20 || ch == 0x7f) {
            n = snprintf(buf + *len, size - *len, "\\u%04x", ch);
        } else {
            n = snprintf(buf + *len, size - *len, "%c", ch);
        }

        if (n < 0 || (size_t) n >= size - *len) {
            return -1;
        }

        *len += (size_t) n;
    }

    return re_codex_put(buf, size, len, "\"");
}


static int
re_codex_argv(re_turn_t *t, char **argv, size_t max)
{
    char        *buf;
    size_t       n, len, size;
    const char  *url;

    if (max < 16) {
        return -1;
    }

    buf = t->args;
    size = sizeof(t->args);
    len = 0;

    n = 0;
    argv[n++] = (char *) t->bin;
    argv[n++] = "exec";

    if (t->session && t->session[0] && t->session[0] != '-') {
        argv[n++] = "resume";
    }

    argv[n++] = "--json";
    argv[n++] = "--skip-git-repo-check";
    argv[n++] = "--dangerously-bypass-approvals-and-sandbox";

    /* a base URL of the workspace's: a provider of its own */
    url = t->envp ? re_env_get(t->envp, "OPENAI_BASE_URL") : NULL;

    if (url && url[0]) {
        argv[n++] = "-c";
        argv[n++] = "model_provider=\"replicas\"";
        argv[n++] = "-c";
        argv[n++] = buf + len;

        if (re_codex_put(buf, size, &len, "model_providers.replicas={name=")
               != 0
            || re_codex_toml(buf, size, &len, "OpenAI (OPENAI_BASE_URL)") != 0
            || re_codex_put(buf, size, &len, ", base_url=") != 0
            || re_codex_toml(buf, size, &len, url) != 0
            || re_codex_put(buf, size, &len, ", env_key=\"CODEX_API_KEY\", "
                            "wire_api=\"responses\"}") != 0)
        {
            return -1;
        }

        len++;
    }

    if (t->system_prompt && t->system_prompt[0]) {
        argv[n++] = "-c";
        argv[n++] = buf + len;

        if (re_codex_put(buf, size, &len, "developer_instructions=") != 0
            || re_codex_toml(buf, size, &len, t->system_prompt) != 0)
        {
            return -1;
        }

        len++;
    }

    if (t->session && t->session[0] && t->session[0] != '-') {
        argv[n++] = (char *) t->session;
    }

    /* the prompt from stdin */
    argv[n++] = "-";
    argv[n] = NULL;

    return 0;
}


static char *
re_codex_input(re_turn_t *t)
{
    return strdup(t->text);
}


/* what a file change did, one "kind path" a line */
static json_t *
re_codex_changes_text(json_t *changes)
{
    char        *text;
    size_t       i, len;
    json_t      *change, *out;
    FILE        *f;

    text = NULL;
    len = 0;
    f = open_memstream(&text, &len);

    if (f == NULL) {
        return json_string("");
    }

    json_array_foreach(changes, i, change) {
        fprintf(f, "%s %s\n",
                json_string_value(json_object_get(change, "kind"))
                ? json_string_value(json_object_get(change, "kind")) : "?",
                json_string_value(json_object_get(change, "path"))
                ? json_string_value(json_object_get(change, "path")) : "?");
    }

    fclose(f);
    out = re_agent_cut(text);
    free(text);

    return out ? out : json_string("");
}


/* a tool's use, once per item (it may come with item.completed only) */
static void
re_codex_tool_use(re_turn_t *t, json_t *item, const char *type)
{
    json_t      *input, *id;
    const char  *tool;
    char         name[200];

    id = json_object_get(item, "id");

    if (!re_agent_tool_new(t, id)) {
        return;
    }

    tool = type;

    if (strcmp(type, "command_execution") == 0) {
        tool = "shell";
        input = json_pack("{s:O?}", "command",
                          json_object_get(item, "command"));

    } else if (strcmp(type, "file_change") == 0) {
        input = json_pack("{s:O?}", "changes",
                          json_object_get(item, "changes"));

    } else if (strcmp(type, "mcp_tool_call") == 0) {
        snprintf(name, sizeof(name), "mcp:%s/%s",
                 json_string_value(json_object_get(item, "server"))
                 ? json_string_value(json_object_get(item, "server")) : "",
                 json_string_value(json_object_get(item, "tool"))
                 ? json_string_value(json_object_get(item, "tool")) : "");
        tool = name;
        input = json_incref(json_object_get(item, "arguments"));

    } else {
        /* web_search */
        input = json_pack("{s:O?}", "query", json_object_get(item, "query"));
    }

    re_agent_tool_use(t, tool, id, input);
    json_decref(input);
}


static void
re_codex_tool_result(re_turn_t *t, json_t *item, const char *type)
{
    int          is_error;
    char        *text;
    json_t      *output, *v;
    const char  *status;

    status = json_string_value(json_object_get(item, "status"));
    is_error = status && (strcmp(status, "failed") == 0
                          || strcmp(status, "declined") == 0);

    if (strcmp(type, "command_execution") == 0) {
        v = json_object_get(item, "exit_code");
        is_error |= json_is_integer(v) && json_integer_value(v) != 0;
        output = re_agent_cut(json_string_value(
                                  json_object_get(item, "aggregated_output")));

    } else if (strcmp(type, "file_change") == 0) {
        output = re_codex_changes_text(json_object_get(item, "changes"));

    } else if (strcmp(type, "mcp_tool_call") == 0) {
        v = json_object_get(item, "error");
        is_error |= v && !json_is_null(v);
        v = v && !json_is_null(v) ? v : json_object_get(item, "result");
        text = json_is_string(v) ? strdup(json_string_value(v))
               : v && !json_is_null(v) ? json_dumps(v, JSON_COMPACT) : NULL;
        output = re_agent_cut(text);
        free(text);

    } else {
        output = json_string("");
    }

    re_agent_tool_result(t, json_object_get(item, "id"), is_error,
                         output ? output : json_string(""));
}


static void
re_codex_item(re_turn_t *t, json_t *msg, int done)
{
    json_t      *item, *text;
    const char  *type;

    item = json_object_get(msg, "item");
    type = json_string_value(json_object_get(item, "type"));

    if (type == NULL) {
        return;
    }

    if (strcmp(type, "agent_message") == 0) {
        text = json_object_get(item, "text");

        if (done && json_is_string(text)) {
            re_agent_delta(t, text);

            /* the last one is the turn's answer */
            re_agent_answer(t, text);
        }

    } else if (strcmp(type, "command_execution") == 0
               || strcmp(type, "file_change") == 0
               || strcmp(type, "mcp_tool_call") == 0
               || strcmp(type, "web_search") == 0)
    {
        re_codex_tool_use(t, item, type);

        if (done) {
            re_codex_tool_result(t, item, type);
        }
    }

    /* reasoning, todo_list, and "error" items (warnings): not events */
}


/* the thread's running totals: this turn's are what they grew by */
static void
re_codex_usage(re_turn_t *t, json_t *usage)
{
    json_t     *v;
    long long   in, out;

    v = json_object_get(usage, "input_tokens");
    in = json_is_integer(v) ? json_integer_value(v) : 0;
    v = json_object_get(usage, "output_tokens");
    out = json_is_integer(v) ? json_integer_value(v) : 0;

    t->total_input_tokens = in;
    t->total_output_tokens = out;

    /* the same thread as last time: the difference (a new one, or
     * totals that went down, start from nothing) */
    if (t->session && strcmp(t->session, t->session_out) == 0
        && in >= t->prior_input_tokens && out >= t->prior_output_tokens)
    {
        in -= t->prior_input_tokens;
        out -= t->prior_output_tokens;
    }

    t->input_tokens = in;
    t->output_tokens = out;
}


static void
re_codex_line(re_turn_t *t, const char *line, size_t len)
{
    json_t       *msg, *v;
    const char   *ty;

    msg = re_agent_parse(line, len, &ty);
    if (msg == NULL) {
        return;
    }

    if (strcmp(ty, "thread.started") == 0) {
        v = json_object_get(msg, "thread_id");

        if (json_is_string(v)) {
            re_agent_session(t, "codex", json_string_value(v));
        }

    } else if (strcmp(ty, "item.started") == 0
               || strcmp(ty, "item.updated") == 0)
    {
        re_codex_item(t, msg, 0);

    } else if (strcmp(ty, "item.completed") == 0) {
        re_codex_item(t, msg, 1);

    } else if (strcmp(ty, "turn.completed") == 0) {
        t->completed = 1;
        re_codex_usage(t, json_object_get(msg, "usage"));

    } else if (strcmp(ty, "turn.failed") == 0) {
        t->completed = 1;
        t->is_error = 1;
        v = json_object_get(json_object_get(msg, "error"), "message");

        if (json_is_string(v)) {
            re_agent_answer(t, v);
        }

    } else if (strcmp(ty, "error") == 0) {
        /* the CLI's own trouble (a lost connection it retries): shown as it
         * happens; turn.failed follows if it gives up */
        v = json_object_get(msg, "message");
        t->retries++;

        re_events_emit("agent.error",
            json_pack("{s:s, s:I, s:s, s:O?}", "chat", t->chat,
                      "seq", (json_int_t) t->seq, "agent", "codex",
                      "message", json_is_string(v) ? v : NULL));
    }

    json_decref(msg);
}


static const char *const  re_codex_url_vars[] = {
    "OPENAI_BASE_URL", NULL
};


const re_agent_t  re_agent_codex = {
    "codex",
    "node_modules/.bin/codex",
    "codex",
    re_codex_keys,
    re_codex_argv,
    re_codex_input,
    re_codex_line,
    NULL,
    re_codex_url_vars,
    "https://api.openai.com/v1"
};
