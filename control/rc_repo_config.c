/* replicas.json / replicas.yaml: see rc_repo_config.h. */

#define _GNU_SOURCE

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rc_repo_config.h"
#include "rc_yaml.h"


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
            && strcmp(key, "separate") && strcmp(key, "ports"))
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


/*
 * Reads name in repo_dir into a new buffer: a regular file of sane size,
 * opened without following a link (the workspace's own checkout is the
 * sandbox user's to change, between any check and the open).
 * 1 read, 0 no such file, -1 with err.
 */
static int
rc_repo_config_read(const char *repo_dir, const char *name, char **buf,
    size_t *len, char *err, size_t errlen)
{
    int          fd;
    char         path[4096];
    ssize_t      n;
    struct stat  st;

    snprintf(path, sizeof(path), "%s/%s", repo_dir, name);

    fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

    if (fd < 0) {
        if (errno == ENOENT) {
            return 0;
        }

        snprintf(err, errlen, "%s must be a regular file under %d KiB", name,
                 RC_CONFIG_SIZE_MAX / 1024);
        return -1;
    }

    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)
        || st.st_size > RC_CONFIG_SIZE_MAX)
    {
        close(fd);
        snprintf(err, errlen, "%s must be a regular file under %d KiB", name,
                 RC_CONFIG_SIZE_MAX / 1024);
        return -1;
    }

    *buf = malloc(st.st_size + 1);
    if (*buf == NULL) {
        close(fd);
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    n = read(fd, *buf, st.st_size);
    close(fd);

    if (n != st.st_size) {
        free(*buf);
        *buf = NULL;
        snprintf(err, errlen, "cannot read %s", name);
        return -1;
    }

    (*buf)[n] = '\0';
    *len = (size_t) n;

    return 1;
}


/* startHook.ports: what the hook's servers listen on, so a workspace is
 * called awake only once they do (control waits, bounded) */
static int
rc_hook_ports(json_t *hook, json_t **out, char *err, size_t errlen)
{
    size_t   i;
    json_t  *v, *p;

    *out = NULL;
    v = json_object_get(hook, "ports");

    if (v == NULL) {
        return 0;
    }

    if (!json_is_array(v) || json_array_size(v) > 16) {
        snprintf(err, errlen, "startHook.ports must be a list of at most 16 "
                 "ports");
        return -1;
    }

    json_array_foreach(v, i, p) {
        if (!json_is_integer(p) || json_integer_value(p) < 1
            || json_integer_value(p) > 65535 || json_integer_value(p) == 3737)
        {
            snprintf(err, errlen, "startHook.ports: each a port, 1 to 65535 "
                     "(not 3737, the engine's)");
            return -1;
        }
    }

    *out = json_incref(v);

    return 0;
}


int
rc_repo_config_load(const char *repo_dir, rc_repo_config_t *cfg, char *err,
    size_t errlen)
{
    int           rc;
    char         *buf;
    size_t        len;
    json_t       *root, *v;
    const char   *key;
    json_error_t  jerr;

    memset(cfg, 0, sizeof(*cfg));

    buf = NULL;
    root = NULL;

    /* replicas.json first, then replicas.yaml: the first found wins */
    rc = rc_repo_config_read(repo_dir, "replicas.json", &buf, &len, err,
                             errlen);

    if (rc == 1) {
        strcpy(cfg->file, "replicas.json");
        root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);

        if (root == NULL) {
            /* line and reason only: the text may not be ours to show */
            snprintf(err, errlen, "replicas.json line %d: not valid JSON",
                     jerr.line);
        }

    } else if (rc == 0) {
        rc = rc_repo_config_read(repo_dir, "replicas.yaml", &buf, &len, err,
                                 errlen);

        if (rc == 0) {
            return 0;
        }

        if (rc == 1) {
            strcpy(cfg->file, "replicas.yaml");
            root = rc_yaml_to_json(buf, len, err, errlen);
        }
    }

    free(buf);

    if (root == NULL) {
        return -1;
    }

    if (!json_is_object(root)) {
        snprintf(err, errlen, "%s must hold an object", cfg->file);
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
            if (cfg->start_hook == NULL
                || rc_hook_ports(v, &cfg->start_ports, err, errlen) != 0)
            {
                goto failed;
            }

        } else if (strcmp(key, "systemPrompt") == 0) {
            if (!json_is_string(v)) {
                snprintf(err, errlen, "systemPrompt must be a string");
                goto failed;
            }
            cfg->system_prompt = strdup(json_string_value(v));

        } else if (strcmp(key, "desktop") == 0) {
            if (!json_is_boolean(v)) {
                snprintf(err, errlen, "desktop must be true or false");
                goto failed;
            }
            cfg->no_desktop = json_is_false(v);

        } else if (key[0] != '$') {
            /* unknown settings are refused, so a typo is not silent */
            snprintf(err, errlen, "%s: unknown setting \"%s\"", cfg->file,
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
    json_decref(cfg->start_ports);
    free(cfg->system_prompt);
    memset(cfg, 0, sizeof(*cfg));
}
