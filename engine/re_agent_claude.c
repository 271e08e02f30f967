/*
 * Claude Code (npm @anthropic-ai/claude-code) as an agent: one turn is
 *   claude -p --input-format stream-json --output-format stream-json
 *          --verbose --dangerously-skip-permissions [--resume SESSION]
 *          [--append-system-prompt PROMPT]
 * with the prompt as one stream-json user message on stdin.  Its output,
 * one JSON object a line: "system"/"init" (the session id), "assistant"
 * (text and tool_use parts), "user" (tool_result parts), "result" (the
 * outcome: is_error, total_cost_usd, usage, session_id).  The workspace is
 * the agent's sandbox, so permission prompts are off: nobody is there to
 * answer them.
 */

#define _GNU_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "re_agent.h"
#include "re_events.h"


static const char *const  re_claude_keys[] = {
    "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN",
    NULL
};


static int
re_claude_argv(re_turn_t *t, char **argv, size_t max)
{
    size_t  n;

    if (max < 14) {
        return -1;
    }

    n = 0;
    argv[n++] = (char *) t->bin;
    argv[n++] = "-p";
    argv[n++] = "--input-format";
    argv[n++] = "stream-json";
    argv[n++] = "--output-format";
    argv[n++] = "stream-json";
    argv[n++] = "--verbose";
    argv[n++] = "--dangerously-skip-permissions";

    if (t->session && t->session[0]) {
        argv[n++] = "--resume";
        argv[n++] = (char *) t->session;
    }

    if (t->system_prompt && t->system_prompt[0]) {
        argv[n++] = "--append-system-prompt";
        argv[n++] = (char *) t->system_prompt;
    }

    argv[n] = NULL;

    return 0;
}


static char *
re_claude_input(re_turn_t *t)
{
    char    *text, *line;
    size_t   len;
    json_t  *msg;

    msg = json_pack("{s:s, s:{s:s, s:s}}", "type", "user", "message",
                    "role", "user", "content", t->text);
    text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
    json_decref(msg);

    if (text == NULL) {
        return NULL;
    }

    len = strlen(text);
    line = realloc(text, len + 2);

    if (line == NULL) {
        free(text);
        return NULL;
    }

    line[len] = '\n';
    line[len + 1] = '\0';

    return line;
}


/* a tool's output, as text, cut to a size an event can carry (in bytes,
 * where they fall, unlike re_agent_cut) */
static json_t *
re_claude_tool_output(json_t *content)
{
    char        *text, *p;
    size_t       i, len, n;
    json_t      *part, *out;
    const char  *s;

    if (json_is_string(content)) {
        return re_agent_cut(json_string_value(content));
    }

    /* a list of parts: their texts */
    text = NULL;
    len = 0;

    json_array_foreach(content, i, part) {
        s = json_string_value(json_object_get(part, "text"));
        if (s == NULL) {
            continue;
        }

        /* a few bytes over: re_agent_cut ends it on a character */
        n = strlen(s);
        if (len + n > RE_AGENT_OUTPUT_MAX + 4) {
            n = RE_AGENT_OUTPUT_MAX + 4 - len;
        }

        p = realloc(text, len + n + 1);
        if (p == NULL) {
            break;
        }

        text = p;
        memcpy(text + len, s, n);
        len += n;
        text[len] = '\0';

        if (len >= RE_AGENT_OUTPUT_MAX + 4) {
            break;
        }
    }

    out = re_agent_cut(text);
    free(text);

    return out;
}


static void
re_claude_assistant(re_turn_t *t, json_t *msg)
{
    size_t   i;
    json_t  *content, *part, *type;

    content = json_object_get(json_object_get(msg, "message"), "content");

    json_array_foreach(content, i, part) {
        type = json_object_get(part, "type");

        if (json_is_string(type)
            && strcmp(json_string_value(type), "text") == 0
            && json_is_string(json_object_get(part, "text")))
        {
            re_agent_delta(t, json_object_get(part, "text"));

        } else if (json_is_string(type)
                   && strcmp(json_string_value(type), "tool_use") == 0)
        {
            re_agent_tool_use(t,
                json_string_value(json_object_get(part, "name")),
                json_object_get(part, "id"), json_object_get(part, "input"));
        }
    }
}


static void
re_claude_tool_results(re_turn_t *t, json_t *msg)
{
    size_t   i;
    json_t  *content, *part, *type;

    content = json_object_get(json_object_get(msg, "message"), "content");

    json_array_foreach(content, i, part) {
        type = json_object_get(part, "type");

        if (!json_is_string(type)
            || strcmp(json_string_value(type), "tool_result") != 0)
        {
            continue;
        }

        re_agent_tool_result(t, json_object_get(part, "tool_use_id"),
            json_is_true(json_object_get(part, "is_error")),
            re_claude_tool_output(json_object_get(part, "content")));
    }
}


static void
re_claude_result(re_turn_t *t, json_t *msg)
{
    json_t  *usage, *v;

    t->completed = 1;
    t->is_error = json_is_true(json_object_get(msg, "is_error"));

    v = json_object_get(msg, "total_cost_usd");
    if (json_is_number(v)) {
        t->cost_usd = json_number_value(v);
    }

    usage = json_object_get(msg, "usage");

    /* one result per model round: a background task's notification
     * starts another before the CLI exits; the cost is a running total,
     * the tokens are each round's own */
    v = json_object_get(usage, "input_tokens");
    if (json_is_integer(v)) {
        t->input_tokens += json_integer_value(v);
    }

    v = json_object_get(usage, "output_tokens");
    if (json_is_integer(v)) {
        t->output_tokens += json_integer_value(v);
    }

    v = json_object_get(msg, "session_id");
    if (json_is_string(v)) {
        snprintf(t->session_out, sizeof(t->session_out), "%s",
                 json_string_value(v));
    }

    v = json_object_get(msg, "result");
    if (json_is_string(v)) {
        re_agent_answer(t, v);
    }
}


/*
 * Background work: shells the agent runs with run_in_background and
 * subagents (Task).  Claude Code reports them as "system" lines:
 * task_started, task_progress, task_notification (status completed,
 * failed, stopped or killed).  They become task.started, task.progress
 * and task.completed / task.failed / task.stopped; the output file's
 * path stays in the agent's log.
 */
static void
re_claude_task(re_turn_t *t, json_t *msg, const char *sub)
{
    const char  *type, *kind, *status, *ev;

    type = json_string_value(json_object_get(msg, "task_type"));
    kind = type == NULL ? NULL
           : strcmp(type, "local_bash") == 0 ? "shell"
           : strcmp(type, "local_agent") == 0 ? "agent" : type;

    if (strcmp(sub, "task_started") == 0) {
        re_events_emit("task.started",
            json_pack("{s:s, s:I, s:O?, s:s?, s:O?, s:b, s:O?}",
                      "chat", t->chat, "seq", (json_int_t) t->seq,
                      "task_id", json_object_get(msg, "task_id"),
                      "kind", kind,
                      "description", json_object_get(msg, "description"),
                      "background",
                      json_is_true(json_object_get(msg, "is_backgrounded")),
                      "parent_task_id",
                      json_object_get(msg, "parent_task_id")));
        return;
    }

    if (strcmp(sub, "task_progress") == 0) {
        re_events_emit("task.progress",
            json_pack("{s:s, s:I, s:O?, s:O?, s:O?}",
                      "chat", t->chat, "seq", (json_int_t) t->seq,
                      "task_id", json_object_get(msg, "task_id"),
                      "description", json_object_get(msg, "description"),
                      "last_tool", json_object_get(msg, "last_tool_name")));
        return;
    }

    status = json_string_value(json_object_get(msg, "status"));

    if (status == NULL) {
        return;
    }

    ev = strcmp(status, "completed") == 0 ? "task.completed"
         : strcmp(status, "failed") == 0 ? "task.failed"
         : (strcmp(status, "stopped") == 0 || strcmp(status, "killed") == 0)
           ? "task.stopped" : NULL;

    if (ev) {
        re_events_emit(ev,
            json_pack("{s:s, s:I, s:O?, s:s, s:O?}",
                      "chat", t->chat, "seq", (json_int_t) t->seq,
                      "task_id", json_object_get(msg, "task_id"),
                      "status", status,
                      "summary", json_object_get(msg, "summary")));
    }
}


/*
 * "system"/"api_retry": the model API failed (no answer, a 5xx, 529
 * overloaded) and the CLI tries again after retry_delay_ms, up to
 * max_retries times: agent.error says so as it happens, and the runner's
 * watchdog looks at whether the model can be reached at all.
 */
static void
re_claude_retry(re_turn_t *t, json_t *msg)
{
    char         text[256], code[32];
    json_t      *status;
    const char  *err;

    t->retries++;

    err = json_string_value(json_object_get(msg, "error"));
    status = json_object_get(msg, "error_status");

    if (json_is_integer(status)) {
        snprintf(code, sizeof(code), ", HTTP %lld",
                 (long long) json_integer_value(status));
    } else {
        code[0] = '\0';
    }

    snprintf(text, sizeof(text), "the model API failed (%s%s): retry %lld "
             "of %lld in %lld ms", err ? err : "unknown", code,
             (long long) json_integer_value(json_object_get(msg, "attempt")),
             (long long) json_integer_value(json_object_get(msg,
                                                            "max_retries")),
             (long long) json_integer_value(json_object_get(msg,
                                                            "retry_delay_ms")));

    re_events_emit("agent.error",
        json_pack("{s:s, s:I, s:s, s:s, s:O?, s:O?, s:O?, s:O?}",
                  "chat", t->chat, "seq", (json_int_t) t->seq,
                  "agent", "claude", "message", text,
                  "attempt", json_object_get(msg, "attempt"),
                  "max_retries", json_object_get(msg, "max_retries"),
                  "retry_delay_ms", json_object_get(msg, "retry_delay_ms"),
                  "error_status", json_object_get(msg, "error_status")));
}


static void
re_claude_line(re_turn_t *t, const char *line, size_t len)
{
    json_t       *msg, *sub, *sid;
    const char   *ty;

    msg = re_agent_parse(line, len, &ty);
    if (msg == NULL) {
        return;
    }

    sub = json_object_get(msg, "subtype");

    if (strcmp(ty, "system") == 0 && json_is_string(sub)
        && strcmp(json_string_value(sub), "init") == 0)
    {
        sid = json_object_get(msg, "session_id");

        if (json_is_string(sid)) {
            re_agent_session(t, "claude", json_string_value(sid));
        }

    } else if (strcmp(ty, "system") == 0 && json_is_string(sub)
               && (strcmp(json_string_value(sub), "task_started") == 0
                   || strcmp(json_string_value(sub), "task_progress") == 0
                   || strcmp(json_string_value(sub), "task_notification")
                      == 0))
    {
        re_claude_task(t, msg, json_string_value(sub));

    } else if (strcmp(ty, "system") == 0 && json_is_string(sub)
               && strcmp(json_string_value(sub), "api_retry") == 0)
    {
        re_claude_retry(t, msg);

    } else if (strcmp(ty, "assistant") == 0) {
        re_claude_assistant(t, msg);

    } else if (strcmp(ty, "user") == 0) {
        re_claude_tool_results(t, msg);

    } else if (strcmp(ty, "result") == 0) {
        re_claude_result(t, msg);
    }

    json_decref(msg);
}


static const char *const  re_claude_url_vars[] = {
    "ANTHROPIC_BASE_URL", NULL
};


const re_agent_t  re_agent_claude = {
    "claude",
    "node_modules/.bin/claude",
    "claude",
    re_claude_keys,
    re_claude_argv,
    re_claude_input,
    re_claude_line,
    NULL,
    re_claude_url_vars,
    "https://api.anthropic.com"
};
