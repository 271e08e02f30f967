/*
 * Request bodies of the engine's API, checked and turned into structs.
 * Pure: no I/O, no globals, so every function here can be fuzzed
 * (t/fuzz/fuzz_engine_request.c).  A function returning RE_REQ_OK has
 * filled its struct (free it with the matching _free); on any other
 * result the struct is empty and err holds a message safe to show (it
 * never quotes a value, only field names).
 */

#ifndef RE_REQUEST_H
#define RE_REQUEST_H

#include <stddef.h>

#include <jansson.h>


#define RE_BODY_MAX              (1024 * 1024)
#define RE_TEXT_MAX              100000
#define RE_NAME_MAX              64          /* chat and user */
#define RE_SYSTEM_PROMPT_MAX     32768       /* replicas.json's */
#define RE_PATH_MAX              4096
#define RE_HOOK_COMMANDS_MAX     64
#define RE_HOOK_COMMAND_MAX      (64 * 1024)
#define RE_HOOK_TIMEOUT_DEFAULT  300000
#define RE_HOOK_TIMEOUT_MAX      (24 * 3600 * 1000)
#define RE_ENV_MAX               256
#define RE_ENV_NAME_MAX          256
#define RE_ENV_VALUE_MAX         (128 * 1024)
#define RE_AUTHOR_NAME_MAX       128
#define RE_AUTHOR_EMAIL_MAX      254


typedef enum {
    RE_REQ_OK = 0,
    RE_REQ_BAD_JSON,        /* not JSON at all */
    RE_REQ_INVALID          /* JSON, but not what the endpoint takes */
} re_req_e;


/* a hook as replicas.json has it: {commands, timeout, separate} */
typedef struct {
    char       **commands;
    size_t       ncommands;
    long long    timeout_ms;
    int          separate;
} re_hook_t;

typedef struct {
    char        *name;
    char        *value;
} re_env_var_t;

/* POST /start: {env, startHook, cwd, workspace, platform, agent,
 * systemPrompt, desktop} */
typedef struct {
    char          *workspace;   /* NULL: not given; a warm sandbox learns
                                   its workspace from its first /start */
    char          *platform_url;    /* the gateway's API as this workspace
                                       reaches it, or NULL */
    char          *platform_host;   /* the Host to send it */
    char          *platform_token;  /* a key scoped to this workspace */
    re_env_var_t  *env;
    size_t         nenv;
    re_hook_t     *hook;        /* NULL: no start hook */
    char          *cwd;         /* NULL: the engine's workdir */
    char          *system_prompt;  /* replicas.json's systemPrompt */
    char          *agent;       /* the workspace's agent for new chats
                                   (claude, codex, opencode, cursor), or
                                   NULL */
    int            desktop;     /* -1 not said; 0: replicas.json's
                                   "desktop": false; 1 */
} re_start_t;

/* POST /messages: the message as control stored it */
typedef struct {
    long long    seq;
    char        *text;
    char        *chat;          /* NULL: the default chat */
    char        *user;          /* NULL: not given */
    char        *author_name;   /* "author": {name, email}, both or NULL */
    char        *author_email;
    char        *kind;          /* NULL, or what it is ("ci_failure"):
                                   waiting messages of one kind fold into
                                   one turn */
    long long    at;
    int          has_at;
} re_message_t;


re_req_e re_parse_hook(const char *buf, size_t len, re_hook_t *out,
    char *err, size_t errlen);
re_req_e re_parse_start(const char *buf, size_t len, re_start_t *out,
    char *err, size_t errlen);
re_req_e re_parse_message(const char *buf, size_t len, re_message_t *out,
    char *err, size_t errlen);

/* POST /chats {name, agent?}: name [a-z0-9_-]{1,64}, agent a name or
 * NULL; out strings are malloc'ed (re_chat_req_free) */
typedef struct {
    char  *name;
    char  *agent;
} re_chat_req_t;

re_req_e re_parse_chat(const char *buf, size_t len, re_chat_req_t *out,
    char *err, size_t errlen);
void re_chat_req_free(re_chat_req_t *req);

/* a chat name from a path: 1 if [a-z0-9_-]{1,64} */
int re_chat_name_ok(const char *s);

/* a message's kind: 1 if [a-z0-9._-]{1,64} */
int re_kind_ok(const char *s);

/*
 * A Content-Type that says JSON: "application/json", any case, with at
 * most a charset of utf-8 after it (";charset=utf-8", quoted or not, with
 * spaces or tabs around).  1 if so, 0 for anything else (NULL included):
 * text/plain and form bodies are what a cross-site page can send without
 * asking, so the engine refuses them on every state-changing request.
 */
int re_json_type_ok(const char *v);

void re_hook_free(re_hook_t *hook);
void re_start_free(re_start_t *start);
void re_message_free(re_message_t *msg);

/* the stored form of a message, with the time it arrived */
json_t *re_message_json(const re_message_t *msg, long long received_at);

/*
 * Copies len bytes of any text (a command's output) into out as valid
 * UTF-8: each invalid byte becomes U+FFFD, NUL becomes U+FFFD too.  out
 * must hold 3 * len bytes; returns the bytes written.
 */
size_t re_utf8_clean(const char *in, size_t len, char *out);

#endif /* RE_REQUEST_H */
