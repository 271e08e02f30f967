/* Request bodies: see re_request.h. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "re_request.h"
#include "common/rp_agents.h"


#define re_fail(...)  snprintf(err, errlen, __VA_ARGS__)


static json_t *
re_load(const char *buf, size_t len, char *err, size_t errlen)
{
    json_t        *root;
    json_error_t   jerr;

    /* duplicate keys are refused: which of the two wins is a guess */
    root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);

    if (root == NULL) {
        re_fail("the body is not JSON (line %d, column %d)", jerr.line,
                jerr.column);
        return NULL;
    }

    if (!json_is_object(root)) {
        re_fail("the body must be a JSON object");
        json_decref(root);
        return NULL;
    }

    return root;
}


/* refuses every field not in the NULL-terminated list: a typo is never
 * silently ignored */
static int
re_known_fields(json_t *obj, const char *const *known, const char *what,
    char *err, size_t errlen)
{
    size_t       i;
    json_t      *v;
    const char  *key;

    json_object_foreach(obj, key, v) {
        for (i = 0; known[i]; i++) {
            if (strcmp(key, known[i]) == 0) {
                break;
            }
        }

        if (known[i] == NULL) {
            /* the key is the client's: shown only when short and plain */
            if (strlen(key) <= 32 && strspn(key, "abcdefghijklmnopqrstuvwxyz"
                    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == strlen(key))
            {
                re_fail("%s: unknown field \"%s\"", what, key);
            } else {
                re_fail("%s: unknown field", what);
            }
            return -1;
        }
    }

    return 0;
}


/* a JSON string as a C string: no NUL inside, at most max bytes */
static char *
re_string(json_t *v, size_t min, size_t max)
{
    size_t       len;
    const char  *s;

    if (!json_is_string(v)) {
        return NULL;
    }

    s = json_string_value(v);
    len = json_string_length(v);

    if (len < min || len > max || strlen(s) != len) {
        return NULL;
    }

    return strdup(s);
}


static int
re_hook_from_json(json_t *obj, re_hook_t *hook, char *err, size_t errlen)
{
    size_t       i, n;
    json_t      *commands, *v;
    static const char *const known[] = { "commands", "timeout", "separate",
                                         NULL };

    memset(hook, 0, sizeof(*hook));

    if (!json_is_object(obj)) {
        re_fail("the hook must be an object");
        return -1;
    }

    if (re_known_fields(obj, known, "hook", err, errlen) != 0) {
        return -1;
    }

    commands = json_object_get(obj, "commands");

    /* one command may be given as a string, as replicas.json allows */
    if (json_is_string(commands)) {
        n = 1;

    } else if (json_is_array(commands)
               && json_array_size(commands) <= RE_HOOK_COMMANDS_MAX)
    {
        n = json_array_size(commands);

    } else {
        re_fail("hook.commands must be a list of at most %d strings",
                RE_HOOK_COMMANDS_MAX);
        return -1;
    }

    hook->commands = calloc(n + 1, sizeof(char *));
    if (hook->commands == NULL) {
        re_fail("out of memory");
        return -1;
    }

    for (i = 0; i < n; i++) {
        v = json_is_string(commands) ? commands : json_array_get(commands, i);

        hook->commands[i] = re_string(v, 1, RE_HOOK_COMMAND_MAX);

        if (hook->commands[i] == NULL) {
            re_fail("hook.commands: each must be a non-empty string of at "
                    "most %d bytes", RE_HOOK_COMMAND_MAX);
            re_hook_free(hook);
            return -1;
        }

        hook->ncommands++;
    }

    hook->timeout_ms = RE_HOOK_TIMEOUT_DEFAULT;
    v = json_object_get(obj, "timeout");

    if (v && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) <= 0
            || json_integer_value(v) > RE_HOOK_TIMEOUT_MAX)
        {
            re_fail("hook.timeout is milliseconds, 1 to %d",
                    RE_HOOK_TIMEOUT_MAX);
            re_hook_free(hook);
            return -1;
        }
        hook->timeout_ms = json_integer_value(v);
    }

    hook->separate = 1;
    v = json_object_get(obj, "separate");

    if (v && !json_is_null(v)) {
        if (!json_is_boolean(v)) {
            re_fail("hook.separate must be true or false");
            re_hook_free(hook);
            return -1;
        }
        hook->separate = json_is_true(v);
    }

    return 0;
}


re_req_e
re_parse_hook(const char *buf, size_t len, re_hook_t *out, char *err,
    size_t errlen)
{
    int      rc;
    json_t  *root;

    memset(out, 0, sizeof(*out));

    root = re_load(buf, len, err, errlen);
    if (root == NULL) {
        return RE_REQ_BAD_JSON;
    }

    rc = re_hook_from_json(root, out, err, errlen);
    json_decref(root);

    return rc == 0 ? RE_REQ_OK : RE_REQ_INVALID;
}


/* a variable name a shell can use: [A-Za-z_][A-Za-z0-9_]* */
static int
re_env_name_ok(const char *s, size_t len)
{
    size_t  i;

    if (len == 0 || len > RE_ENV_NAME_MAX || (s[0] >= '0' && s[0] <= '9')) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')
              || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
        {
            return 0;
        }
    }

    return 1;
}


re_req_e
re_parse_start(const char *buf, size_t len, re_start_t *out, char *err,
    size_t errlen)
{
    size_t       n;
    json_t      *root, *env, *v;
    const char  *key;
    static const char *const known[] = { "env", "startHook", "cwd",
                                         "workspace", "platform", "agent",
                                         "systemPrompt", "desktop",
                                         NULL };
    static const char *const pknown[] = { "url", "host", "token", NULL };

    memset(out, 0, sizeof(*out));

    root = re_load(buf, len, err, errlen);
    if (root == NULL) {
        return RE_REQ_BAD_JSON;
    }

    if (re_known_fields(root, known, "start", err, errlen) != 0) {
        goto invalid;
    }

    env = json_object_get(root, "env");

    if (env && !json_is_null(env)) {
        if (!json_is_object(env) || json_object_size(env) > RE_ENV_MAX) {
            re_fail("env must be an object of at most %d variables",
                    RE_ENV_MAX);
            goto invalid;
        }

        out->env = calloc(json_object_size(env) + 1, sizeof(re_env_var_t));
        if (out->env == NULL) {
            re_fail("out of memory");
            goto invalid;
        }

        json_object_foreach(env, key, v) {
            n = out->nenv;

            if (!re_env_name_ok(key, strlen(key))) {
                re_fail("env: names are letters, digits and _, not starting "
                        "with a digit, at most %d bytes", RE_ENV_NAME_MAX);
                goto invalid;
            }

            out->env[n].value = re_string(v, 0, RE_ENV_VALUE_MAX);

            if (out->env[n].value == NULL) {
                re_fail("env: each value must be a string of at most %d "
                        "bytes", RE_ENV_VALUE_MAX);
                goto invalid;
            }

            out->env[n].name = strdup(key);
            out->nenv++;

            if (out->env[n].name == NULL) {
                re_fail("out of memory");
                goto invalid;
            }
        }
    }

    v = json_object_get(root, "startHook");

    if (v && !json_is_null(v)) {
        out->hook = calloc(1, sizeof(re_hook_t));

        if (out->hook == NULL) {
            re_fail("out of memory");
            goto invalid;
        }

        if (re_hook_from_json(v, out->hook, err, errlen) != 0) {
            /* the message says "hook": fine for startHook too */
            goto invalid;
        }
    }

    v = json_object_get(root, "platform");

    if (v && !json_is_null(v)) {
        if (!json_is_object(v)
            || re_known_fields(v, pknown, "platform", err, errlen) != 0)
        {
            if (!json_is_object(v)) {
                re_fail("platform must be an object");
            }
            goto invalid;
        }

        out->platform_url = re_string(json_object_get(v, "url"), 8, 512);
        out->platform_host = re_string(json_object_get(v, "host"), 0, 300);
        out->platform_token = re_string(json_object_get(v, "token"), 8, 256);

        if (out->platform_url == NULL || out->platform_host == NULL
            || out->platform_token == NULL
            || strncmp(out->platform_url, "http", 4) != 0)
        {
            re_fail("platform: url (http...), host and token are strings");
            goto invalid;
        }
    }

    v = json_object_get(root, "workspace");

    if (v && !json_is_null(v)) {
        out->workspace = re_string(v, 1, 32);

        if (out->workspace == NULL
            || strspn(out->workspace, "abcdefghijklmnopqrstuvwxyz0123456789")
               != strlen(out->workspace))
        {
            re_fail("workspace must be 1 to 32 lowercase letters and digits");
            goto invalid;
        }
    }

    v = json_object_get(root, "desktop");
    out->desktop = v == NULL || json_is_null(v) ? -1 : json_is_true(v);

    if (v && !json_is_null(v) && !json_is_boolean(v)) {
        re_fail("desktop must be true or false");
        goto invalid;
    }

    v = json_object_get(root, "systemPrompt");

    if (v && !json_is_null(v)) {
        out->system_prompt = re_string(v, 0, RE_SYSTEM_PROMPT_MAX);

        if (out->system_prompt == NULL) {
            re_fail("systemPrompt must be a string of at most %d bytes",
                    RE_SYSTEM_PROMPT_MAX);
            goto invalid;
        }
    }

    v = json_object_get(root, "agent");

    if (v && !json_is_null(v)) {
        out->agent = re_string(v, 1, 16);

        if (out->agent == NULL
            || rp_agent_index(out->agent, strlen(out->agent)) < 0)
        {
            re_fail("agent must be one of " RP_AGENT_NAMES);
            goto invalid;
        }
    }

    v = json_object_get(root, "cwd");

    if (v && !json_is_null(v)) {
        out->cwd = re_string(v, 1, RE_PATH_MAX);

        if (out->cwd == NULL || out->cwd[0] != '/') {
            re_fail("cwd must be an absolute path");
            goto invalid;
        }
    }

    json_decref(root);
    return RE_REQ_OK;

invalid:

    json_decref(root);
    re_start_free(out);
    return RE_REQ_INVALID;
}


static int
re_user_ok(const char *s)
{
    size_t  i;

    for (i = 0; s[i]; i++) {
        if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f) {
            return 0;
        }
    }

    return i >= 1 && i <= RE_NAME_MAX;
}


/* a commit's author: no control characters, nor what would end the
 * name or the address in a commit header */
static int
re_author_ok(const char *s)
{
    size_t  i;

    for (i = 0; s[i]; i++) {
        if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f || s[i] == '<'
            || s[i] == '>')
        {
            return 0;
        }
    }

    return 1;
}


/* "author": null or {name, email} */
static int
re_parse_author(json_t *v, re_message_t *out, char *err, size_t errlen)
{
    static const char *const known[] = { "name", "email", NULL };

    if (v == NULL || json_is_null(v)) {
        return 0;
    }

    if (!json_is_object(v)) {
        re_fail("author must be null or an object {name, email}");
        return -1;
    }

    if (re_known_fields(v, known, "author", err, errlen) != 0) {
        return -1;
    }

    out->author_name = re_string(json_object_get(v, "name"), 1,
                                 RE_AUTHOR_NAME_MAX);
    out->author_email = re_string(json_object_get(v, "email"), 1,
                                  RE_AUTHOR_EMAIL_MAX);

    if (out->author_name == NULL || !re_author_ok(out->author_name)
        || out->author_email == NULL || !re_author_ok(out->author_email))
    {
        re_fail("author.name (1 to %d bytes) and author.email (1 to %d "
                "bytes) must be strings without control characters or "
                "angle brackets", RE_AUTHOR_NAME_MAX, RE_AUTHOR_EMAIL_MAX);
        return -1;
    }

    return 0;
}


re_req_e
re_parse_message(const char *buf, size_t len, re_message_t *out, char *err,
    size_t errlen)
{
    json_t  *root, *v;
    static const char *const known[] = { "seq", "text", "chat", "user", "at",
                                         "author", "kind", NULL };

    memset(out, 0, sizeof(*out));

    root = re_load(buf, len, err, errlen);
    if (root == NULL) {
        return RE_REQ_BAD_JSON;
    }

    if (re_known_fields(root, known, "message", err, errlen) != 0) {
        goto invalid;
    }

    v = json_object_get(root, "seq");

    if (!json_is_integer(v) || json_integer_value(v) < 1) {
        re_fail("seq must be an integer, 1 or more");
        goto invalid;
    }

    out->seq = json_integer_value(v);

    out->text = re_string(json_object_get(root, "text"), 1, RE_TEXT_MAX);

    if (out->text == NULL) {
        re_fail("text must be a non-empty string of at most %d bytes",
                RE_TEXT_MAX);
        goto invalid;
    }

    v = json_object_get(root, "chat");

    if (v && !json_is_null(v)) {
        out->chat = re_string(v, 1, RE_NAME_MAX);

        if (out->chat == NULL || !re_chat_name_ok(out->chat)) {
            re_fail("chat must be null or 1 to %d lowercase letters, digits, "
                    "dashes or underscores", RE_NAME_MAX);
            goto invalid;
        }
    }

    v = json_object_get(root, "user");

    if (v && !json_is_null(v)) {
        out->user = re_string(v, 1, RE_NAME_MAX);

        if (out->user == NULL || !re_user_ok(out->user)) {
            re_fail("user must be a string of 1 to %d bytes, no control "
                    "characters", RE_NAME_MAX);
            goto invalid;
        }
    }

    v = json_object_get(root, "at");

    if (v && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            re_fail("at must be an integer: seconds since 1970");
            goto invalid;
        }

        out->at = json_integer_value(v);
        out->has_at = 1;
    }

    if (re_parse_author(json_object_get(root, "author"), out, err, errlen)
        != 0)
    {
        goto invalid;
    }

    v = json_object_get(root, "kind");

    if (v && !json_is_null(v)) {
        out->kind = re_string(v, 1, RE_NAME_MAX);

        if (out->kind == NULL || !re_kind_ok(out->kind)) {
            re_fail("kind must be null or 1 to %d lowercase letters, digits, "
                    "dots, dashes or underscores", RE_NAME_MAX);
            goto invalid;
        }
    }

    json_decref(root);
    return RE_REQ_OK;

invalid:

    json_decref(root);
    re_message_free(out);
    return RE_REQ_INVALID;
}


json_t *
re_message_json(const re_message_t *msg, long long received_at)
{
    json_t  *j;

    j = json_pack("{s:I, s:s, s:s?, s:s?, s:o, s:I}",
                  "seq", (json_int_t) msg->seq,
                  "text", msg->text,
                  "chat", msg->chat,
                  "user", msg->user,
                  "at", msg->has_at ? json_integer(msg->at) : json_null(),
                  "received_at", (json_int_t) received_at);

    if (j && msg->kind) {
        json_object_set_new(j, "kind", json_string(msg->kind));
    }

    if (j && msg->author_name && msg->author_email) {
        json_object_set_new(j, "author",
                            json_pack("{s:s, s:s}", "name", msg->author_name,
                                      "email", msg->author_email));
    }

    return j;
}


void
re_hook_free(re_hook_t *hook)
{
    size_t  i;

    if (hook->commands) {
        for (i = 0; i < hook->ncommands; i++) {
            free(hook->commands[i]);
        }
        free(hook->commands);
    }

    memset(hook, 0, sizeof(*hook));
}


void
re_start_free(re_start_t *start)
{
    size_t  i;

    for (i = 0; start->env && i <= start->nenv; i++) {
        /* the entry being filled when a check failed is freed too */
        free(start->env[i].name);
        free(start->env[i].value);
    }

    free(start->env);

    if (start->hook) {
        re_hook_free(start->hook);
        free(start->hook);
    }

    free(start->cwd);
    free(start->agent);
    free(start->workspace);
    free(start->system_prompt);
    free(start->platform_url);
    free(start->platform_host);

    if (start->platform_token) {
        /* the engine's credential: not left in freed memory */
        memset(start->platform_token, 0, strlen(start->platform_token));
        free(start->platform_token);
    }

    memset(start, 0, sizeof(*start));
}


void
re_message_free(re_message_t *msg)
{
    free(msg->text);
    free(msg->chat);
    free(msg->user);
    free(msg->author_name);
    free(msg->author_email);
    free(msg->kind);
    memset(msg, 0, sizeof(*msg));
}


size_t
re_utf8_clean(const char *in, size_t len, char *out)
{
    size_t                i, j, n, k;
    unsigned              cp, min;
    const unsigned char  *s;

    s = (const unsigned char *) in;
    j = 0;

    for (i = 0; i < len; i += n) {
        if (s[i] >= 0x01 && s[i] < 0x80) {
            out[j++] = (char) s[i];
            n = 1;
            continue;
        }

        if ((s[i] & 0xe0) == 0xc0) {
            n = 2; cp = s[i] & 0x1f; min = 0x80;
        } else if ((s[i] & 0xf0) == 0xe0) {
            n = 3; cp = s[i] & 0x0f; min = 0x800;
        } else if ((s[i] & 0xf8) == 0xf0) {
            n = 4; cp = s[i] & 0x07; min = 0x10000;
        } else {
            n = 0; cp = 0; min = 1;     /* NUL, a stray continuation, 0xf8+ */
        }

        for (k = 1; n && k < n; k++) {
            if (i + k >= len || (s[i + k] & 0xc0) != 0x80) {
                n = 0;
                break;
            }
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }

        /* overlong forms, surrogates and beyond U+10FFFF are invalid too */
        if (n == 0 || cp < min || cp > 0x10ffff
            || (cp >= 0xd800 && cp <= 0xdfff))
        {
            out[j++] = (char) 0xef;
            out[j++] = (char) 0xbf;
            out[j++] = (char) 0xbd;
            n = 1;
            continue;
        }

        memcpy(out + j, s + i, n);
        j += n;
    }

    return j;
}


#define RE_SLUG_CHARS  "abcdefghijklmnopqrstuvwxyz0123456789"

/* 1 to RE_NAME_MAX of the characters */
static int
re_slug_ok(const char *s, const char *chars)
{
    size_t  len;

    len = strlen(s);

    return len >= 1 && len <= RE_NAME_MAX && strspn(s, chars) == len;
}


int
re_chat_name_ok(const char *s)
{
    return re_slug_ok(s, RE_SLUG_CHARS "_-");
}


int
re_kind_ok(const char *s)
{
    return re_slug_ok(s, RE_SLUG_CHARS "._-");
}


re_req_e
re_parse_chat(const char *buf, size_t len, re_chat_req_t *out, char *err,
    size_t errlen)
{
    json_t  *root, *v;

    static const char *const known[] = { "name", "agent", NULL };

    memset(out, 0, sizeof(*out));

    root = re_load(buf, len, err, errlen);
    if (root == NULL) {
        return RE_REQ_BAD_JSON;
    }

    if (re_known_fields(root, known, "chat", err, errlen) != 0) {
        goto invalid;
    }

    v = json_object_get(root, "name");
    out->name = re_string(v, 1, RE_NAME_MAX);

    if (out->name == NULL || !re_chat_name_ok(out->name)) {
        re_fail("name must be 1 to %d lowercase letters, digits, _ or -",
                RE_NAME_MAX);
        goto invalid;
    }

    v = json_object_get(root, "agent");

    if (v && !json_is_null(v)) {
        out->agent = re_string(v, 1, 32);

        if (out->agent == NULL) {
            re_fail("agent must be a name");
            goto invalid;
        }
    }

    json_decref(root);
    return RE_REQ_OK;

invalid:

    json_decref(root);
    re_chat_req_free(out);
    return RE_REQ_INVALID;
}


void
re_chat_req_free(re_chat_req_t *req)
{
    free(req->name);
    free(req->agent);
    memset(req, 0, sizeof(*req));
}


static const char *
re_skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t') {
        p++;
    }

    return p;
}


int
re_json_type_ok(const char *v)
{
    const char  *p;

    if (v == NULL) {
        return 0;
    }

    p = re_skip_ws(v);

    if (strncasecmp(p, "application/json", 16) != 0) {
        return 0;
    }

    p = re_skip_ws(p + 16);

    if (*p == '\0') {
        return 1;
    }

    if (*p != ';') {
        return 0;           /* application/jsonx, application/json5 */
    }

    p = re_skip_ws(p + 1);

    if (strncasecmp(p, "charset", 7) != 0) {
        return 0;
    }

    p = re_skip_ws(p + 7);

    if (*p++ != '=') {
        return 0;
    }

    p = re_skip_ws(p);

    if (strncasecmp(p, "\"utf-8\"", 7) == 0) {
        p += 7;

    } else if (strncasecmp(p, "utf-8", 5) == 0) {
        p += 5;

    } else {
        return 0;
    }

    return *re_skip_ws(p) == '\0';
}
