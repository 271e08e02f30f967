/*
 * OpenCode (npm opencode-ai) as an agent: one turn is
 *   opencode run --format json --auto [--session SESSION]
 * with the prompt on stdin (no message arguments: it reads stdin).  Its
 * output, one JSON object a line, each with the session's id
 * ("sessionID"): "step_start" (a model call begins), "text" (a finished
 * text part), "reasoning", "tool_use" (a finished tool call: part.tool,
 * part.callID, part.state {status, input, output, error, metadata}),
 * "step_finish" (part.reason: "tool-calls" when more steps follow, else
 * the turn's end; part.tokens, part.cost of that step), "error" (the
 * session's error: error.name, error.data.message).  --auto approves
 * what its permissions would ask about: nobody is there to answer.
 *
 * OpenCode takes its settings from OPENCODE_CONFIG_CONTENT (JSON, over
 * its config files), which the engine fills in: no session sharing, no
 * self-update, the workspace's instructions (a file: it has no flag for
 * a system prompt), and ANTHROPIC_BASE_URL / OPENAI_BASE_URL as the
 * base URLs of those providers (OpenCode's Anthropic provider wants the
 * "/v1" that Claude Code's variable leaves out).  A config the workspace
 * sets itself is kept: the engine adds only what it leaves unset.  Models
 * come from the list built into the CLI (OPENCODE_DISABLE_MODELS_FETCH),
 * and LSP servers are not downloaded, unless the workspace says
 * otherwise: a turn needs no network but the model's (and the package
 * its config folder wants is there already: re_opencode_plugin).  PWD is
 * set to the directory the turn runs in: OpenCode takes its project from
 * PWD.
 */

#define _GNU_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "re_agent.h"
#include "re_engine.h"
#include "re_files.h"
#include "re_hooks.h"
#include "re_request.h"
#include "re_start.h"


static const char *const  re_opencode_keys[] = {
    "ANTHROPIC_API_KEY", "OPENAI_API_KEY", "OPENROUTER_API_KEY",
    "GOOGLE_GENERATIVE_AI_API_KEY", "OPENCODE_API_KEY", NULL
};


static int
re_opencode_argv(re_turn_t *t, char **argv, size_t max)
{
    size_t  n;

    if (max < 10) {
        return -1;
    }

    n = 0;
    argv[n++] = (char *) t->bin;
    argv[n++] = "run";
    argv[n++] = "--format";
    argv[n++] = "json";
    argv[n++] = "--auto";

    if (t->session && t->session[0] && t->session[0] != '-') {
        argv[n++] = "--session";
        argv[n++] = (char *) t->session;
    }

    argv[n] = NULL;

    return 0;
}


static char *
re_opencode_input(re_turn_t *t)
{
    return strdup(t->text);
}


/* sets obj.key to value unless the workspace's config has it */
static void
re_opencode_default(json_t *obj, const char *key, json_t *value)
{
    if (json_object_get(obj, key) == NULL) {
        json_object_set(obj, key, value);
    }

    json_decref(value);
}


/* provider.NAME.options.baseURL, unless set */
static void
re_opencode_base_url(json_t *config, const char *provider, const char *url,
    const char *suffix)
{
    char    buf[2048];
    json_t  *providers, *p, *options;
    size_t   len;

    len = strlen(url);
    while (len > 0 && url[len - 1] == '/') {
        len--;
    }

    /* Claude Code's ANTHROPIC_BASE_URL has no "/v1"; a URL that has it
     * already keeps it as it is */
    if (len >= 3 && strncmp(url + len - 3, "/v1", 3) == 0) {
        suffix = "";
    }

    if ((size_t) snprintf(buf, sizeof(buf), "%.*s%s", (int) len, url, suffix)
        >= sizeof(buf))
    {
        return;
    }

    providers = json_object_get(config, "provider");
    if (!json_is_object(providers)) {
        providers = json_object();
        json_object_set_new(config, "provider", providers);
    }

    p = json_object_get(providers, provider);
    if (!json_is_object(p)) {
        p = json_object();
        json_object_set_new(providers, provider, p);
    }

    options = json_object_get(p, "options");
    if (!json_is_object(options)) {
        options = json_object();
        json_object_set_new(p, "options", options);
    }

    re_opencode_default(options, "baseURL", json_string(buf));
}


/* the workspace's instructions as a file OpenCode's config can name; its
 * path, or NULL */
static json_t *
re_opencode_instructions(re_turn_t *t)
{
    char  path[4200];

    if (t->system_prompt == NULL || t->system_prompt[0] == '\0'
        || re_engine.state_dir == NULL)
    {
        return NULL;
    }

    snprintf(path, sizeof(path), "%s/agents", re_engine.state_dir);
    (void) re_mkdir_p(path, 0700);

    snprintf(path, sizeof(path), "%s/agents/%s.opencode.md",
             re_engine.state_dir, t->chat);

    if (re_write_atomic(path, t->system_prompt, strlen(t->system_prompt))
        != 0)
    {
        return NULL;
    }

    return json_string(path);
}


/* a file of src's, copied into dir (both folders); -1 if it cannot be */
static int
re_opencode_copy(const char *src, const char *dir, const char *name)
{
    int     rc;
    char    path[4200], *data;
    size_t  len;

    snprintf(path, sizeof(path), "%s/%s", src, name);
    data = re_read_tail(path, 4 * 1024 * 1024, &len);

    if (data == NULL || len == 0) {
        free(data);
        return -1;
    }

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    rc = re_write_atomic(path, data, len);
    free(data);

    return rc;
}


/*
 * OpenCode installs @opencode-ai/plugin from npm into its config folder
 * (~/.config/opencode) in the background unless node_modules is there and
 * its package-lock.json has the package: auto/ installs it with the CLI
 * (agents/opencode-plugin), and a config folder without node_modules gets
 * that one's package files and a link to its node_modules.  A folder
 * with node_modules, or with a package.json of the user's, is left alone.
 */
static void
re_opencode_plugin(re_turn_t *t)
{
    char         agents[4096], src[4200], dir[4200], path[4300];
    size_t       len;
    const char  *v;
    struct stat  st;

    static const char  bin[] = "/node_modules/.bin/opencode";

    len = strlen(t->bin);

    if (len <= sizeof(bin) - 1 || len - (sizeof(bin) - 1) >= sizeof(agents)
        || strcmp(t->bin + len - (sizeof(bin) - 1), bin) != 0)
    {
        return;
    }

    snprintf(agents, sizeof(agents), "%.*s", (int) (len - (sizeof(bin) - 1)),
             t->bin);
    snprintf(src, sizeof(src), "%s/opencode-plugin", agents);

    v = re_env_get(t->envp, "XDG_CONFIG_HOME");

    if (v && v[0] == '/') {
        snprintf(dir, sizeof(dir), "%s/opencode", v);

    } else {
        v = re_env_get(t->envp, "HOME");
        if (v == NULL || v[0] != '/') {
            return;
        }

        snprintf(dir, sizeof(dir), "%s/.config/opencode", v);
    }

    snprintf(path, sizeof(path), "%s/node_modules", dir);
    if (lstat(path, &st) == 0) {
        return;
    }

    snprintf(path, sizeof(path), "%s/package.json", dir);
    if (lstat(path, &st) == 0) {
        return;
    }

    snprintf(path, sizeof(path), "%s/node_modules", src);
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        return;
    }

    if (re_mkdir_p(dir, 0700) != 0
        || re_opencode_copy(src, dir, "package-lock.json") != 0
        || re_opencode_copy(src, dir, "package.json") != 0)
    {
        return;
    }

    snprintf(path, sizeof(path), "%s/node_modules", dir);
    snprintf(src + strlen(src), sizeof(src) - strlen(src), "/node_modules");
    (void) symlink(src, path);
}


static char **
re_opencode_env(re_turn_t *t)
{
    char          *text, cwd[4200];
    char         **envp;
    size_t         n;
    json_t        *config, *list, *file;
    const char    *v;
    re_env_var_t   add[6];

    re_opencode_plugin(t);

    /* the workspace's own config, if it is JSON, else a new one */
    v = re_env_get(t->envp, "OPENCODE_CONFIG_CONTENT");
    config = v ? json_loads(v, 0, NULL) : NULL;

    if (!json_is_object(config)) {
        json_decref(config);
        config = json_object();
    }

    if (config == NULL) {
        return NULL;
    }

    re_opencode_default(config, "share", json_string("disabled"));
    re_opencode_default(config, "autoupdate", json_false());

    file = re_opencode_instructions(t);

    if (file) {
        list = json_object_get(config, "instructions");
        if (!json_is_array(list)) {
            list = json_array();
            json_object_set_new(config, "instructions", list);
        }

        json_array_append_new(list, file);
    }

    v = re_env_get(t->envp, "ANTHROPIC_BASE_URL");
    if (v && v[0]) {
        re_opencode_base_url(config, "anthropic", v, "/v1");
    }

    v = re_env_get(t->envp, "OPENAI_BASE_URL");
    if (v && v[0]) {
        re_opencode_base_url(config, "openai", v, "");
    }

    text = json_dumps(config, JSON_COMPACT);
    json_decref(config);

    if (text == NULL) {
        return NULL;
    }

    n = 0;
    add[n].name = "OPENCODE_CONFIG_CONTENT";
    add[n++].value = text;

    /* OpenCode takes its project's directory from PWD, not from where it
     * runs: the engine's own would be stale */
    re_start_cwd(cwd, sizeof(cwd));
    add[n].name = "PWD";
    add[n++].value = cwd;

    if (re_env_get(t->envp, "OPENCODE_DISABLE_AUTOUPDATE") == NULL) {
        add[n].name = "OPENCODE_DISABLE_AUTOUPDATE";
        add[n++].value = "1";
    }

    if (re_env_get(t->envp, "OPENCODE_DISABLE_MODELS_FETCH") == NULL) {
        add[n].name = "OPENCODE_DISABLE_MODELS_FETCH";
        add[n++].value = "1";
    }

    if (re_env_get(t->envp, "OPENCODE_DISABLE_LSP_DOWNLOAD") == NULL) {
        add[n].name = "OPENCODE_DISABLE_LSP_DOWNLOAD";
        add[n++].value = "1";
    }

    if (re_env_get(t->envp, "OPENCODE_DISABLE_SHARE") == NULL) {
        add[n].name = "OPENCODE_DISABLE_SHARE";
        add[n++].value = "1";
    }

    envp = re_env_merge(t->envp, add, n);
    free(text);

    return envp;
}


/* a finished tool call: its use, then its result (OpenCode reports
 * tools once, when they are done) */
static void
re_opencode_tool(re_turn_t *t, json_t *part)
{
    int          is_error;
    json_t      *state, *id, *v;
    const char  *status, *out;

    state = json_object_get(part, "state");
    id = json_object_get(part, "callID");
    status = json_string_value(json_object_get(state, "status"));

    re_agent_tool_use(t, json_string_value(json_object_get(part, "tool")), id,
                      json_object_get(state, "input"));

    is_error = status && strcmp(status, "error") == 0;

    /* a command that failed is an error as Claude Code reports it */
    v = json_object_get(json_object_get(state, "metadata"), "exit");
    is_error |= json_is_integer(v) && json_integer_value(v) != 0;

    /* a failed tool's error, else what it printed */
    v = is_error ? json_object_get(state, "error") : NULL;
    out = json_string_value(json_is_string(v) ? v
                                              : json_object_get(state,
                                                                "output"));

    re_agent_tool_result(t, id, is_error, re_agent_cut(out));
}


/* a model call ended: its figures add up to the turn's; any reason but
 * more tool calls ends the turn */
static void
re_opencode_step_finish(re_turn_t *t, json_t *part)
{
    json_t      *tokens, *v;
    const char  *reason;

    tokens = json_object_get(part, "tokens");

    v = json_object_get(tokens, "input");
    if (json_is_integer(v)) {
        t->input_tokens += json_integer_value(v);
    }

    v = json_object_get(tokens, "output");
    if (json_is_integer(v)) {
        t->output_tokens += json_integer_value(v);
    }

    v = json_object_get(part, "cost");
    if (json_is_number(v)) {
        t->cost_usd += json_number_value(v);
    }

    t->steps++;

    reason = json_string_value(json_object_get(part, "reason"));
    t->completed = reason == NULL || strcmp(reason, "tool-calls") != 0;
}


static void
re_opencode_line(re_turn_t *t, const char *line, size_t len)
{
    json_t       *msg, *part, *v;
    const char   *ty;

    msg = re_agent_parse(line, len, &ty);
    if (msg == NULL) {
        return;
    }

    part = json_object_get(msg, "part");

    /* every event names the session: the first one tells */
    v = json_object_get(msg, "sessionID");

    if (t->session_out[0] == '\0' && json_is_string(v)) {
        re_agent_session(t, "opencode", json_string_value(v));
    }

    if (strcmp(ty, "step_start") == 0) {
        /* another model call: the turn goes on */
        t->completed = 0;

    } else if (strcmp(ty, "text") == 0) {
        v = json_object_get(part, "text");

        if (json_is_string(v)) {
            re_agent_delta(t, v);

            /* the last one is the turn's answer */
            re_agent_answer(t, v);
        }

    } else if (strcmp(ty, "tool_use") == 0) {
        re_opencode_tool(t, part);

    } else if (strcmp(ty, "step_finish") == 0) {
        re_opencode_step_finish(t, part);

    } else if (strcmp(ty, "error") == 0) {
        t->completed = 1;
        t->is_error = 1;

        v = json_object_get(json_object_get(json_object_get(msg, "error"),
                                            "data"), "message");
        if (!json_is_string(v)) {
            v = json_object_get(json_object_get(msg, "error"), "name");
        }

        if (json_is_string(v)) {
            re_agent_answer(t, v);
        }
    }

    /* "reasoning": not an event */

    json_decref(msg);
}


static const char *const  re_opencode_url_vars[] = {
    "ANTHROPIC_BASE_URL", "OPENAI_BASE_URL", NULL
};


const re_agent_t  re_agent_opencode = {
    "opencode",
    "node_modules/.bin/opencode",
    "opencode",
    re_opencode_keys,
    re_opencode_argv,
    re_opencode_input,
    re_opencode_line,
    re_opencode_env,
    re_opencode_url_vars,
    NULL
};
