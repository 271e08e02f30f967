/*
 * Cursor's CLI as an agent (engine/re_agent_cursor.c): its argv, and its
 * stream-json lines, as Cursor documents them, mapped onto the engine's
 * events and the turn's outcome.  Not an end-to-end test: cursor-agent is
 * on no registry and cursor.com is not reachable from the test machines,
 * so the lines are written here, not produced by the CLI.
 */

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tap.h"
#include "agent_harness.h"


static void
feed(re_turn_t *t, const char *line)
{
    re_agent_cursor.line(t, line, strlen(line));
}


int
main(void)
{
    char        *argv[RE_AGENT_ARGS_MAX], *in;
    json_t      *p;
    size_t       n;
    re_turn_t    t;

    events = json_array();

    ok(strcmp(re_agent_cursor.bin_name, "cursor-agent") == 0
       && strcmp(re_agent_cursor.keys[0], "CURSOR_API_KEY") == 0,
       "cursor-agent on PATH, CURSOR_API_KEY");

    /* ---- argv: a new session, then a resumed one ---------------------- */

    memset(&t, 0, sizeof(t));
    t.chat = "default";
    t.seq = 7;
    t.text = "write the greeting";
    t.bin = "/usr/local/bin/cursor-agent";
    t.system_prompt = "Publish previews with replicas preview create.";

    ok(re_agent_cursor.argv(&t, argv, RE_AGENT_ARGS_MAX) == 0, "argv");

    for (n = 0; argv[n]; n++) { /* void */ }

    ok(n == 7 && strcmp(argv[1], "-p") == 0
       && strcmp(argv[2], "--output-format") == 0
       && strcmp(argv[3], "stream-json") == 0
       && strcmp(argv[4], "--force") == 0 && strcmp(argv[5], "--") == 0,
       "-p --output-format stream-json --force -- PROMPT");
    ok(strstr(argv[6], "replicas preview create")
       && strstr(argv[6], "write the greeting")
       && strstr(argv[6], "replicas preview") < strstr(argv[6], "greeting"),
       "a new session's prompt carries the instructions first");

    in = re_agent_cursor.input(&t);
    ok(in && in[0] == '\0', "nothing on stdin");
    free(in);
    free(t.buf);

    memset(&t, 0, sizeof(t));
    t.chat = "default";
    t.seq = 8;
    t.text = "-v is not an option here";
    t.bin = "cursor-agent";
    t.session = "c2f1e7b0-9c1d-4d0e-8a61-3f5b6a7c8d9e";
    t.system_prompt = "instructions";

    ok(re_agent_cursor.argv(&t, argv, RE_AGENT_ARGS_MAX) == 0
       && strcmp(argv[5], "--resume") == 0
       && strcmp(argv[6], t.session) == 0 && strcmp(argv[7], "--") == 0
       && strcmp(argv[8], t.text) == 0 && argv[9] == NULL,
       "a resumed one: --resume SESSION -- PROMPT, the prompt as it is");
    free(t.buf);

    /* ---- a turn's lines ----------------------------------------------- */

    memset(&t, 0, sizeof(t));
    t.chat = "default";
    t.seq = 9;

    feed(&t, "{\"type\":\"system\",\"subtype\":\"init\",\"apiKeySource\":"
         "\"env\",\"cwd\":\"/work/app\",\"session_id\":\"c2f1e7b0-9c1d-4d0e-"
         "8a61-3f5b6a7c8d9e\",\"model\":\"Claude 4 Sonnet\","
         "\"permissionMode\":\"default\"}");
    ok(json_array_size(events) == 1 && strcmp(type_of(0), "chat.session") == 0
       && strcmp(str(payload_of(0), "session_id"),
                 "c2f1e7b0-9c1d-4d0e-8a61-3f5b6a7c8d9e") == 0
       && strcmp(str(payload_of(0), "agent"), "cursor") == 0,
       "system/init: the session");
    ok(strcmp(t.session_out, "c2f1e7b0-9c1d-4d0e-8a61-3f5b6a7c8d9e") == 0,
       "the turn's session");

    feed(&t, "{\"type\":\"user\",\"message\":{\"role\":\"user\",\"content\":"
         "[{\"type\":\"text\",\"text\":\"write the greeting\"}]},"
         "\"session_id\":\"c2f1e7b0-9c1d-4d0e-8a61-3f5b6a7c8d9e\"}");
    ok(json_array_size(events) == 1, "the prompt echoed: no event");

    feed(&t, "{\"type\":\"assistant\",\"message\":{\"role\":\"assistant\","
         "\"content\":[{\"type\":\"text\",\"text\":\"I will write it.\"}]},"
         "\"session_id\":\"c2f1e7b0-9c1d-4d0e-8a61-3f5b6a7c8d9e\"}");
    ok(strcmp(type_of(1), "chat.turn.delta") == 0
       && strcmp(str(payload_of(1), "text"), "I will write it.") == 0
       && json_integer_value(json_object_get(payload_of(1), "seq")) == 9,
       "assistant text: a delta");

    feed(&t, "{\"type\":\"tool_call\",\"subtype\":\"started\",\"call_id\":"
         "\"toolu_1\",\"tool_call\":{\"writeToolCall\":{\"args\":{\"path\":"
         "\"hello.txt\",\"fileText\":\"hello\\n\",\"toolCallId\":"
         "\"toolu_1\"}}},\"session_id\":\"c2f1e7b0-9c1d-4d0e-8a61-"
         "3f5b6a7c8d9e\"}");
    p = payload_of(2);
    ok(strcmp(type_of(2), "tool.use") == 0 && strcmp(str(p, "tool"), "write")
       == 0 && strcmp(str(p, "id"), "toolu_1") == 0
       && strcmp(str(json_object_get(p, "input"), "path"), "hello.txt") == 0,
       "tool_call started: tool.use write, its args");

    feed(&t, "{\"type\":\"tool_call\",\"subtype\":\"completed\",\"call_id\":"
         "\"toolu_1\",\"tool_call\":{\"writeToolCall\":{\"args\":{\"path\":"
         "\"hello.txt\",\"fileText\":\"hello\\n\"},\"result\":{\"success\":"
         "{\"path\":\"/work/app/hello.txt\",\"linesCreated\":1,\"fileSize\":"
         "6}}}},\"session_id\":\"c2f1e7b0-9c1d-4d0e-8a61-3f5b6a7c8d9e\"}");
    p = payload_of(3);
    ok(json_array_size(events) == 4 && strcmp(type_of(3), "tool.result") == 0
       && strcmp(str(p, "id"), "toolu_1") == 0
       && json_is_false(json_object_get(p, "is_error"))
       && strstr(str(p, "output"), "linesCreated"),
       "tool_call completed: tool.result (no second tool.use)");

    /* a completed call whose start did not come: its use, then result */
    feed(&t, "{\"type\":\"tool_call\",\"subtype\":\"completed\",\"call_id\":"
         "\"toolu_2\",\"tool_call\":{\"shellToolCall\":{\"args\":{\"command\":"
         "\"false\"},\"result\":{\"success\":{\"command\":\"false\","
         "\"exitCode\":1,\"stdout\":\"\",\"stderr\":\"\"}}}},"
         "\"session_id\":\"c2f1e7b0-9c1d-4d0e-8a61-3f5b6a7c8d9e\"}");
    ok(strcmp(type_of(4), "tool.use") == 0
       && strcmp(str(payload_of(4), "tool"), "shell") == 0
       && strcmp(str(json_object_get(payload_of(4), "input"), "command"),
                 "false") == 0,
       "shellToolCall: tool.use shell");
    ok(strcmp(type_of(5), "tool.result") == 0
       && json_is_true(json_object_get(payload_of(5), "is_error")),
       "a command that exits non-zero is an error");

    feed(&t, "{\"type\":\"tool_call\",\"subtype\":\"completed\",\"call_id\":"
         "\"toolu_3\",\"tool_call\":{\"readToolCall\":{\"args\":{\"path\":"
         "\"missing.txt\"},\"result\":{\"error\":{\"errorMessage\":\"File "
         "not found\"}}}},\"session_id\":\"c2f1e7b0-9c1d-4d0e-8a61-"
         "3f5b6a7c8d9e\"}");
    ok(strcmp(type_of(6), "tool.use") == 0
       && strcmp(str(payload_of(6), "tool"), "read") == 0
       && strcmp(type_of(7), "tool.result") == 0
       && json_is_true(json_object_get(payload_of(7), "is_error"))
       && strstr(str(payload_of(7), "output"), "File not found"),
       "a failed read: an error with its message");

    feed(&t, "{\"type\":\"tool_call\",\"subtype\":\"started\",\"call_id\":"
         "\"toolu_4\",\"tool_call\":{\"function\":{\"name\":\"web_search\","
         "\"arguments\":\"{\\\"query\\\":\\\"nginx\\\"}\"}},"
         "\"session_id\":\"c2f1e7b0-9c1d-4d0e-8a61-3f5b6a7c8d9e\"}");
    ok(strcmp(type_of(8), "tool.use") == 0
       && strcmp(str(payload_of(8), "tool"), "web_search") == 0
       && strcmp(str(json_object_get(payload_of(8), "input"), "query"),
                 "nginx") == 0,
       "a function call: its name, its arguments decoded");

    n = json_array_size(events);
    feed(&t, "not json at all");
    feed(&t, "{\"no\":\"type\"}");
    feed(&t, "{\"type\":\"thinking\",\"subtype\":\"delta\",\"text\":\"hm\"}");
    ok(json_array_size(events) == n && !t.completed,
       "other lines: no events");

    feed(&t, "{\"type\":\"result\",\"subtype\":\"success\",\"duration_ms\":"
         "1234,\"duration_api_ms\":1234,\"is_error\":false,\"result\":"
         "\"I will write it.\",\"session_id\":\"c2f1e7b0-9c1d-4d0e-8a61-"
         "3f5b6a7c8d9e\",\"request_id\":\"r1\"}");
    ok(t.completed && !t.is_error, "result success: the turn completed");
    ok(json_is_string(t.result)
       && strcmp(json_string_value(t.result), "I will write it.") == 0,
       "with its answer");
    ok(t.cost_usd == 0 && t.input_tokens == 0 && t.output_tokens == 0,
       "no cost or tokens when none are reported");
    json_decref(t.result);

    /* ---- a failed turn, with usage ------------------------------------ */

    memset(&t, 0, sizeof(t));
    t.chat = "default";
    t.seq = 10;
    t.session = "c2f1e7b0-9c1d-4d0e-8a61-3f5b6a7c8d9e";
    n = json_array_size(events);

    feed(&t, "{\"type\":\"result\",\"subtype\":\"error\",\"is_error\":true,"
         "\"result\":\"The model is not available\",\"usage\":{"
         "\"inputTokens\":120,\"outputTokens\":25},\"session_id\":"
         "\"c2f1e7b0-9c1d-4d0e-8a61-3f5b6a7c8d9e\"}");
    ok(t.completed && t.is_error, "result is_error: a failed turn");
    ok(t.input_tokens == 120 && t.output_tokens == 25, "usage, if reported");
    ok(json_array_size(events) == n + 1
       && strcmp(type_of(n), "chat.session") == 0,
       "the session of a resumed turn is told too");
    json_decref(t.result);

    json_decref(events);

    return done_testing();
}
