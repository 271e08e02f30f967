/*
 * Agent adapters: how one coding agent's CLI runs a turn and how its
 * output maps onto the engine's common events.  A turn is one process:
 * the engine writes the prompt to its stdin, reads its stdout a line at a
 * time and hands each line to the adapter, which emits events
 * (re_events.h) and fills in the turn's outcome (session id, cost,
 * tokens).  Claude Code (re_agent_claude.c), Codex (re_agent_codex.c),
 * OpenCode (re_agent_opencode.c) and Cursor's CLI (re_agent_cursor.c);
 * what they share, re_agent.c.
 */

#ifndef RE_AGENT_H
#define RE_AGENT_H

#include <stddef.h>

#include <jansson.h>


#define RE_AGENT_ARGS_MAX  24


/* one turn, as the chat runner sees it */
typedef struct {
    const char   *chat;
    long long     seq;            /* the message that started it */
    const char   *text;           /* the prompt */
    const char   *session;        /* to resume, or NULL the first time */
    const char   *system_prompt;  /* appended to the agent's own, or NULL */
    const char   *bin;            /* the CLI */
    char *const  *envp;           /* the environment it runs with */

    /* the session's running token totals the last turn left (agents
     * that report those rather than a turn's own figures: Codex) */
    long long     prior_input_tokens;
    long long     prior_output_tokens;

    /* filled in by the adapter from the output */
    char          session_out[128];
    int           completed;      /* a final result was seen */
    int           is_error;
    double        cost_usd;
    long long     input_tokens;   /* this turn's */
    long long     output_tokens;
    long long     total_input_tokens;   /* the session's, 0: not reported */
    long long     total_output_tokens;
    json_t       *result;         /* the final text, or NULL */

    /* the adapter's own: the strings its argv points into, the tool use
     * it reported last, a buffer of its own (malloc'ed, freed by the
     * runner after the turn), what it added up over the turn */
    char          args[8192];
    char          tool_id[128];
    char         *buf;
    int           steps;

    /* bumped by the adapter each time the CLI says it retries the model
     * API (Claude Code's api_retry, Codex's "Reconnecting..."): the
     * runner's watchdog probes the model then (re_model.h) */
    int           retries;
} re_turn_t;


typedef struct {
    const char  *name;

    /* where the CLI is below the agents dir, and its name on PATH */
    const char  *bin_rel;
    const char  *bin_name;

    /* the environment variables of which one must be set for it to reach
     * a model (NULL-terminated); none set: the turn fails saying so */
    const char *const  *keys;

    /* argv for the turn (argv[0] the CLI), NULL-terminated */
    int        (*argv)(re_turn_t *t, char **argv, size_t max);

    /* what goes to its stdin, malloc'ed (then stdin is closed) */
    char      *(*input)(re_turn_t *t);

    /* one line of its stdout */
    void       (*line)(re_turn_t *t, const char *line, size_t len);

    /* the environment the turn runs with, made from t->envp once the
     * system prompt is known (a new array, re_env_free'd by the runner),
     * or NULL: t->envp as it is; NULL for agents that need nothing */
    char     **(*env)(re_turn_t *t);

    /* where its model API is: the variables the base URL may be in (the
     * first set wins; NULL-terminated, or NULL), else the CLI's default
     * (NULL: unknown, not watched) */
    const char *const  *url_vars;
    const char         *url_default;
} re_agent_t;


extern const re_agent_t  re_agent_claude;
extern const re_agent_t  re_agent_codex;
extern const re_agent_t  re_agent_opencode;
extern const re_agent_t  re_agent_cursor;

/* by name ("claude", "codex", "opencode", "cursor"; NULL: "claude"), or
 * NULL */
const re_agent_t *re_agent_find(const char *name);


/*
 * For the adapters (re_agent.c): every agent's output, whatever its
 * format, becomes the same events with the same payloads, so what makes
 * them is here once rather than in each adapter.
 */

#define RE_AGENT_OUTPUT_MAX  4096   /* a tool output's bytes in an event */

/* a line of JSON output with a string "type" (*type points into it), or
 * NULL: not ours to understand, left to the agent's log */
json_t *re_agent_parse(const char *line, size_t len, const char **type);

/* s (NULL: "") cut to RE_AGENT_OUTPUT_MAX on a UTF-8 boundary */
json_t *re_agent_cut(const char *s);

/* the turn's session is id (kept in t->session_out): chat.session */
void re_agent_session(re_turn_t *t, const char *agent, const char *id);

/* a part of the answer's text: chat.turn.delta */
void re_agent_delta(re_turn_t *t, json_t *text);

/* is id another tool use than the last one reported (then it becomes the
 * last one, in t->tool_id): for CLIs that report a tool more than once */
int re_agent_tool_new(re_turn_t *t, json_t *id);

/* tool.use; id and input are borrowed, either may be NULL */
void re_agent_tool_use(re_turn_t *t, const char *name, json_t *id,
    json_t *input);

/* tool.result; output is taken over */
void re_agent_tool_result(re_turn_t *t, json_t *id, int is_error,
    json_t *output);

/* text (borrowed) is the turn's answer, or its error, so far */
void re_agent_answer(re_turn_t *t, json_t *text);

#endif /* RE_AGENT_H */
