/*
 * OpenCode as an agent (engine/re_agent_opencode.c): its argv, the
 * environment it gets (its config in OPENCODE_CONFIG_CONTENT), and lines
 * its CLI (opencode-ai 1.18.33, `run --format json`) printed in a run
 * against the tests' Messages-API stand-in, mapped onto the engine's
 * events and the turn's outcome; among them the error line, which
 * t/49-agent-opencode.t does not provoke.
 */

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "tap.h"
#include "agent_harness.h"
#include "re_hooks.h"


static void
feed(re_turn_t *t, const char *line)
{
    re_agent_opencode.line(t, line, strlen(line));
}


#define SID  "\"sessionID\":\"ses_ddb467273ffeOcje46pVv2PDky\""


int
main(void)
{
    char        *argv[RE_AGENT_ARGS_MAX], **envp, *in, state[64], path[300];
    json_t      *config, *p;
    size_t       n;
    re_turn_t    t;
    const char  *v;

    char *base[] = {
        "HOME=/nonexistent",
        "ANTHROPIC_BASE_URL=http://127.0.0.1:4000/",
        "ANTHROPIC_API_KEY=sk-test",
        "OPENCODE_CONFIG_CONTENT={\"model\":\"anthropic/claude-sonnet-4-5\","
            "\"share\":\"manual\"}",
        "OPENCODE_DISABLE_MODELS_FETCH=0",
        NULL
    };

    events = json_array();

    snprintf(state, sizeof(state), "/tmp/rp-unit-opencode-XXXXXX");
    ok(mkdtemp(state) != NULL, "a state dir");
    re_engine.state_dir = state;
    snprintf(agent_cwd, sizeof(agent_cwd), "/work/app");

    /* ---- argv and stdin ----------------------------------------------- */

    memset(&t, 0, sizeof(t));
    t.chat = "default";
    t.seq = 3;
    t.text = "write the greeting";
    t.bin = "/opt/replicas/agents/node_modules/.bin/opencode";
    t.system_prompt = "Publish previews with replicas preview create.";
    t.envp = base;

    ok(re_agent_opencode.argv(&t, argv, RE_AGENT_ARGS_MAX) == 0
       && strcmp(argv[1], "run") == 0 && strcmp(argv[2], "--format") == 0
       && strcmp(argv[3], "json") == 0 && strcmp(argv[4], "--auto") == 0
       && argv[5] == NULL,
       "run --format json --auto");
    in = re_agent_opencode.input(&t);
    ok(in && strcmp(in, "write the greeting") == 0, "the prompt on stdin");
    free(in);

    t.session = "ses_ddb467273ffeOcje46pVv2PDky";
    ok(re_agent_opencode.argv(&t, argv, RE_AGENT_ARGS_MAX) == 0
       && strcmp(argv[5], "--session") == 0
       && strcmp(argv[6], t.session) == 0 && argv[7] == NULL,
       "--session SESSION");

    /* ---- the environment ---------------------------------------------- */

    envp = re_agent_opencode.env(&t);
    ok(envp != NULL, "an environment");

    v = re_env_get(envp, "OPENCODE_CONFIG_CONTENT");
    config = v ? json_loads(v, 0, NULL) : NULL;
    ok(json_is_object(config), "OPENCODE_CONFIG_CONTENT is JSON");
    ok(strcmp(str(config, "model"), "anthropic/claude-sonnet-4-5") == 0
       && strcmp(str(config, "share"), "manual") == 0,
       "the workspace's own settings kept");
    ok(json_is_false(json_object_get(config, "autoupdate")),
       "autoupdate off");
    ok(strcmp(str(json_object_get(json_object_get(json_object_get(config,
                  "provider"), "anthropic"), "options"), "baseURL"),
              "http://127.0.0.1:4000/v1") == 0,
       "ANTHROPIC_BASE_URL + /v1 as the Anthropic provider's base URL");

    snprintf(path, sizeof(path), "%s/agents/default.opencode.md", state);
    p = json_array_get(json_object_get(config, "instructions"), 0);
    ok(strcmp(json_string_value(p) ? json_string_value(p) : "", path) == 0
       && access(path, R_OK) == 0,
       "the instructions as a file the config names");
    json_decref(config);

    v = re_env_get(envp, "OPENCODE_DISABLE_MODELS_FETCH");
    ok(v && strcmp(v, "0") == 0, "a flag the workspace sets is kept");
    v = re_env_get(envp, "OPENCODE_DISABLE_AUTOUPDATE");
    ok(v && strcmp(v, "1") == 0, "others set");
    v = re_env_get(envp, "PWD");
    ok(v && strcmp(v, "/work/app") == 0, "PWD: the turn's directory");
    re_env_free(envp);
    (void) unlink(path);
    snprintf(path, sizeof(path), "%s/agents", state);
    (void) rmdir(path);
    (void) rmdir(state);

    /* ---- a turn's lines, as the CLI printed them ---------------------- */

    memset(&t, 0, sizeof(t));
    t.chat = "default";
    t.seq = 3;

    feed(&t, "{\"type\":\"step_start\",\"timestamp\":1795912478110," SID ","
         "\"part\":{\"id\":\"prt_1\",\"messageID\":\"msg_1\"," SID ","
         "\"type\":\"step-start\"}}");
    ok(json_array_size(events) == 1 && strcmp(type_of(0), "chat.session") == 0
       && strcmp(str(payload_of(0), "session_id"),
                 "ses_ddb467273ffeOcje46pVv2PDky") == 0
       && strcmp(str(payload_of(0), "agent"), "opencode") == 0,
       "the first line: the session");

    feed(&t, "{\"type\":\"text\",\"timestamp\":1795912478111," SID ","
         "\"part\":{\"id\":\"prt_2\",\"messageID\":\"msg_1\"," SID ","
         "\"type\":\"text\",\"text\":\"Using write.\",\"time\":{\"start\":1,"
         "\"end\":2}}}");
    ok(strcmp(type_of(1), "chat.turn.delta") == 0
       && strcmp(str(payload_of(1), "text"), "Using write.") == 0,
       "text: a delta");

    feed(&t, "{\"type\":\"tool_use\",\"timestamp\":1795912478113," SID ","
         "\"part\":{\"type\":\"tool\",\"tool\":\"write\",\"callID\":"
         "\"toolu_837989691\",\"state\":{\"status\":\"completed\",\"input\":"
         "{\"content\":\"hello\\n\",\"filePath\":\"/work/app/hello.txt\"},"
         "\"output\":\"Wrote file successfully.\",\"metadata\":{"
         "\"diagnostics\":{},\"filepath\":\"/work/app/hello.txt\","
         "\"exists\":false,\"truncated\":false},\"title\":\"hello.txt\","
         "\"time\":{\"start\":1,\"end\":2}},\"id\":\"prt_3\"," SID ","
         "\"messageID\":\"msg_1\"}}");
    p = payload_of(2);
    ok(strcmp(type_of(2), "tool.use") == 0 && strcmp(str(p, "tool"), "write")
       == 0 && strcmp(str(p, "id"), "toolu_837989691") == 0
       && strcmp(str(json_object_get(p, "input"), "filePath"),
                 "/work/app/hello.txt") == 0,
       "tool_use: tool.use");
    ok(strcmp(type_of(3), "tool.result") == 0
       && json_is_false(json_object_get(payload_of(3), "is_error"))
       && strcmp(str(payload_of(3), "output"), "Wrote file successfully.")
          == 0,
       "then tool.result");

    feed(&t, "{\"type\":\"step_finish\",\"timestamp\":1795912478113," SID ","
         "\"part\":{\"id\":\"prt_4\",\"reason\":\"tool-calls\",\"messageID\":"
         "\"msg_1\"," SID ",\"type\":\"step-finish\",\"tokens\":{\"total\":"
         "145,\"input\":120,\"output\":25,\"reasoning\":0,\"cache\":{"
         "\"write\":0,\"read\":0}},\"cost\":0.000735}}");
    ok(!t.completed, "a step that calls tools does not end the turn");

    feed(&t, "{\"type\":\"tool_use\",\"timestamp\":1795912480671," SID ","
         "\"part\":{\"type\":\"tool\",\"tool\":\"bash\",\"callID\":\"toolu_2\","
         "\"state\":{\"status\":\"completed\",\"input\":{\"command\":"
         "\"false\"},\"output\":\"\",\"metadata\":{\"output\":\"\","
         "\"exit\":1}}}}");
    ok(strcmp(type_of(5), "tool.result") == 0
       && json_is_true(json_object_get(payload_of(5), "is_error")),
       "a command that exits non-zero is an error");

    feed(&t, "{\"type\":\"step_start\"," SID ",\"part\":{}}");
    feed(&t, "{\"type\":\"text\"," SID ",\"part\":{\"type\":\"text\","
         "\"text\":\"Wrote it.\"}}");
    feed(&t, "{\"type\":\"step_finish\"," SID ",\"part\":{\"reason\":"
         "\"stop\",\"tokens\":{\"input\":120,\"output\":25},\"cost\":"
         "0.000735}}");
    ok(t.completed && !t.is_error, "a step that stops: the turn completed");
    ok(json_is_string(t.result)
       && strcmp(json_string_value(t.result), "Wrote it.") == 0,
       "the last text is its answer");
    ok(t.input_tokens == 240 && t.output_tokens == 50
       && t.cost_usd > 0.00146 && t.cost_usd < 0.00148,
       "tokens and cost added up over the steps");

    n = json_array_size(events);
    feed(&t, "not json");
    feed(&t, "{\"type\":\"reasoning\"," SID ",\"part\":{\"text\":\"hm\"}}");
    ok(json_array_size(events) == n, "other lines: no events");
    json_decref(t.result);

    /* ---- an error ----------------------------------------------------- */

    memset(&t, 0, sizeof(t));
    t.chat = "default";
    t.seq = 4;

    feed(&t, "{\"type\":\"error\",\"timestamp\":1795912565214,\"sessionID\":"
         "\"ses_ddb450cc8ffevVTvs8VtfoJtuW\",\"error\":{\"name\":\"APIError\","
         "\"data\":{\"message\":\"no POST /nope/messages here\","
         "\"statusCode\":404,\"isRetryable\":false}}}");
    ok(t.completed && t.is_error, "error: a failed turn");
    ok(json_is_string(t.result)
       && strcmp(json_string_value(t.result), "no POST /nope/messages here")
          == 0,
       "with the error's message");
    ok(strcmp(t.session_out, "ses_ddb450cc8ffevVTvs8VtfoJtuW") == 0,
       "and its session");
    json_decref(t.result);

    json_decref(events);

    return done_testing();
}
