/*
 * libFuzzer target for the engine's request bodies (engine/re_request.c):
 * any bytes as POST /start, POST /messages, a hook on stdin and a
 * Content-Type header.  Beyond
 * memory safety: what is accepted keeps the documented limits, a stored
 * message parses back to the same message, and the UTF-8 cleaner's output
 * is always valid UTF-8.
 */

#define _GNU_SOURCE                 /* strcasestr */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "re_request.h"


static void
fuzz_check_hook(const re_hook_t *hook)
{
    size_t  i;

    if (hook->ncommands > RE_HOOK_COMMANDS_MAX || hook->timeout_ms < 1
        || hook->timeout_ms > RE_HOOK_TIMEOUT_MAX
        || (hook->separate != 0 && hook->separate != 1))
    {
        abort();
    }

    for (i = 0; i < hook->ncommands; i++) {
        if (hook->commands[i] == NULL || hook->commands[i][0] == '\0'
            || strlen(hook->commands[i]) > RE_HOOK_COMMAND_MAX)
        {
            abort();
        }
    }

    if (hook->commands[hook->ncommands] != NULL) {
        abort();
    }
}


static void
fuzz_message_again(const re_message_t *msg)
{
    char          *text, err[256];
    json_t        *j;
    re_message_t   again;

    j = re_message_json(msg, 1);
    if (j == NULL) {
        abort();
    }

    /* received_at is the engine's own field, not one a client sends */
    json_object_del(j, "received_at");
    text = json_dumps(j, JSON_COMPACT);
    json_decref(j);

    if (text == NULL
        || re_parse_message(text, strlen(text), &again, err, sizeof(err))
           != RE_REQ_OK)
    {
        abort();
    }

    if (again.seq != msg->seq || strcmp(again.text, msg->text) != 0
        || (again.chat == NULL) != (msg->chat == NULL)
        || (again.chat && strcmp(again.chat, msg->chat) != 0)
        || (again.user == NULL) != (msg->user == NULL)
        || (again.user && strcmp(again.user, msg->user) != 0)
        || again.has_at != msg->has_at || again.at != msg->at
        || (again.author_name == NULL) != (msg->author_name == NULL)
        || (again.author_name
            && (strcmp(again.author_name, msg->author_name) != 0
                || strcmp(again.author_email, msg->author_email) != 0)))
    {
        abort();
    }

    re_message_free(&again);
    free(text);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char          *clean, err[256];
    size_t         i, len;
    json_t        *s;
    re_hook_t      hook;
    re_start_t     start;
    re_message_t   msg;
    const char    *buf = (const char *) data;

    if (re_parse_hook(buf, size, &hook, err, sizeof(err)) == RE_REQ_OK) {
        fuzz_check_hook(&hook);
        re_hook_free(&hook);
    }

    if (re_parse_start(buf, size, &start, err, sizeof(err)) == RE_REQ_OK) {
        if (start.nenv > RE_ENV_MAX || (start.cwd && start.cwd[0] != '/')) {
            abort();
        }

        for (i = 0; i < start.nenv; i++) {
            if (start.env[i].name[0] == '\0'
                || strchr(start.env[i].name, '=') != NULL)
            {
                abort();
            }
        }

        if (start.hook) {
            fuzz_check_hook(start.hook);
        }

        re_start_free(&start);
    }

    if (re_parse_message(buf, size, &msg, err, sizeof(err)) == RE_REQ_OK) {
        if (msg.seq < 1 || msg.text[0] == '\0'
            || strlen(msg.text) > RE_TEXT_MAX
            || (msg.chat && strlen(msg.chat) > RE_NAME_MAX))
        {
            abort();
        }

        fuzz_message_again(&msg);
        re_message_free(&msg);
    }

    /* the same bytes as a Content-Type header (up to a NUL): one that
     * passes starts with the JSON type */
    clean = malloc(size + 1);
    if (clean == NULL) {
        return 0;
    }

    memcpy(clean, buf, size);
    clean[size] = '\0';

    if (re_json_type_ok(clean)
        && strcasestr(clean, "application/json") == NULL)
    {
        abort();
    }

    free(clean);

    clean = malloc(size * 3 + 1);
    if (clean == NULL) {
        return 0;
    }

    len = re_utf8_clean(buf, size, clean);

    /* jansson refuses invalid UTF-8: what the cleaner gives must pass */
    s = json_stringn(clean, len);
    if (s == NULL || len > size * 3 || memchr(clean, '\0', len) != NULL) {
        abort();
    }

    json_decref(s);
    free(clean);

    return 0;
}
