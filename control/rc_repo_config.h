/*
 * A repository's own settings: replicas.json at its root (replicas.yaml
 * is the same document in YAML; the first found wins):
 *   { "systemPrompt": "...",
 *     "warmHook":  { "commands": [...], "timeout": ms, "separate": bool },
 *     "startHook": { ... },
 *     "desktop": false }            (no desktop in its workspaces)
 * timeout defaults to 300000 ms, separate to true.
 */

#ifndef RC_REPO_CONFIG_H
#define RC_REPO_CONFIG_H

#include <stddef.h>

#include <jansson.h>


typedef struct {
    json_t  *warm_hook;      /* normalised hook objects, or NULL */
    json_t  *start_hook;
    json_t  *start_ports;    /* startHook.ports: [3000, ...] or NULL */
    char    *system_prompt;  /* or NULL */
    int      no_desktop;     /* "desktop": false */
    char     file[16];       /* the file read, "" if none */
} rc_repo_config_t;


/* 0 (also when there is no file), -1 with err if the file is invalid */
int rc_repo_config_load(const char *repo_dir, rc_repo_config_t *cfg,
    char *err, size_t errlen);
void rc_repo_config_free(rc_repo_config_t *cfg);

#endif /* RC_REPO_CONFIG_H */
