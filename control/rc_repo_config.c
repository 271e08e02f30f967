/* replicas.json: see rc_repo_config.h. */

#define _GNU_SOURCE

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rc_repo_config.h"


#define RC_HOOK_TIMEOUT_DEFAULT  300000
#define RC_HOOK_COMMANDS_MAX     64
#define RC_CONFIG_SIZE_MAX       (256 * 1024)


/* checks a hook and returns it with every default filled in */
static json_t *
rc_hook_normalise(json_t *hook, const char *name, char *err, size_t errlen)
{
    size_t       i;
    json_t      *out, *commands, *list, *v;
    const char  *key;
    json_int_t   timeout;

    if (!json_is_object(hook)) {
        snprintf(err, errlen, "%s must be an object", name);
        return NULL;
    }

    json_object_foreach(hook, key, v) {
        if (strcmp(key, "commands") && strcmp(key, "timeout")
            && strcmp(key, "separate"))
        {
            snprintf(err, errlen, "%s: unknown field \"%s\"", name, key);
            return NULL;
        }
    }

    commands = json_object_get(hook, "commands");
    list = json_array();

    if (json_is_string(commands)) {
        json_array_append(list, commands);

    } else if (json_is_array(commands)
               && json_array_size(commands) <= RC_HOOK_COMMANDS_MAX)
    {
        json_array_foreach(commands, i, v) {
            if (!json_is_string(v)) {
                snprintf(err, errlen, "%s.commands must be strings", name);
                json_decref(list);
                return NULL;
            }
            json_array_append(list, v);
        }

    } else {
        snprintf(err, errlen, "%s.commands must be a list of at most %d "
                 "commands", name, RC_HOOK_COMMANDS_MAX);
        json_decref(list);
        return NULL;
    }

    v = json_object_get(hook, "timeout");
    timeout = RC_HOOK_TIMEOUT_DEFAULT;

    if (v) {
        if (!json_is_integer(v) || json_integer_value(v) <= 0
            || json_integer_value(v) > 24 * 3600 * 1000)
        {
            snprintf(err, errlen, "%s.timeout is milliseconds, 1 to 86400000",
                     name);
            json_decref(list);
            return NULL;
        }
        timeout = json_integer_value(v);
    }

    v = json_object_get(hook, "separate");

    if (v && !json_is_boolean(v)) {
        snprintf(err, errlen, "%s.separate must be true or false", name);
        json_decref(list);
        return NULL;
    }

    out = json_pack("{s:o, s:I, s:b}", "commands", list, "timeout", timeout,
                    "separate", v ? json_is_true(v) : 1);

    return out;
}


int
rc_repo_config_load(const char *repo_dir, rc_repo_config_t *cfg, char *err,
    size_t errlen)
{
    char          path[4096];
    json_t       *root, *v;
    const char   *key;
    struct stat   st;
    json_error_t  jerr;

    memset(cfg, 0, sizeof(*cfg));

    snprintf(path, sizeof(path), "%s/replicas.json", repo_dir);

    if (lstat(path, &st) != 0) {
        snprintf(path, sizeof(path), "%s/replicas.yaml", repo_dir);

        if (lstat(path, &st) == 0) {
            snprintf(err, errlen, "replicas.yaml is not read yet: use "
                     "replicas.json");
            return -1;
        }

        return 0;
    }

    strcpy(cfg->file, "replicas.json");

    /* the repository is untrusted: a regular file of sane size only */
    if (!S_ISREG(st.st_mode) || st.st_size > RC_CONFIG_SIZE_MAX) {
        snprintf(err, errlen, "replicas.json must be a regular file under "
                 "%d KiB", RC_CONFIG_SIZE_MAX / 1024);
        return -1;
    }

    root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        snprintf(err, errlen, "replicas.json line %d: %s", jerr.line,
                 jerr.text);
        return -1;
    }

    if (!json_is_object(root)) {
        snprintf(err, errlen, "replicas.json must hold an object");
        goto failed;
    }

    json_object_foreach(root, key, v) {
        if (strcmp(key, "warmHook") == 0) {
            cfg->warm_hook = rc_hook_normalise(v, key, err, errlen);
            if (cfg->warm_hook == NULL) {
                goto failed;
            }

        } else if (strcmp(key, "startHook") == 0) {
            cfg->start_hook = rc_hook_normalise(v, key, err, errlen);
            if (cfg->start_hook == NULL) {
                goto failed;
            }

        } else if (strcmp(key, "systemPrompt") == 0) {
            if (!json_is_string(v)) {
                snprintf(err, errlen, "systemPrompt must be a string");
                goto failed;
            }
            cfg->system_prompt = strdup(json_string_value(v));

        } else if (key[0] != '$') {
            /* unknown settings are refused, so a typo is not silent */
            snprintf(err, errlen, "replicas.json: unknown setting \"%s\"",
                     key);
            goto failed;
        }
    }

    json_decref(root);

    return 0;

failed:

    json_decref(root);
    rc_repo_config_free(cfg);

    return -1;
}


void
rc_repo_config_free(rc_repo_config_t *cfg)
{
    json_decref(cfg->warm_hook);
    json_decref(cfg->start_hook);
    free(cfg->system_prompt);
    memset(cfg, 0, sizeof(*cfg));
}
