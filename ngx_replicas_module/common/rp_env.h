/*
 * Environments (variables and files placed into workspaces): the grammar
 * and limits of their names, shared by the gateway, which validates what
 * the API is given, and control, which checks again before it writes a
 * file into a workspace.
 *
 * An environment is stored per organisation in the hash
 * RP_KEY_ENV_PREFIX "<org>:<name>" (common/rp_keys.h): one field per
 * variable ("var:NAME") and per file ("file:path") whose value is sealed
 * with the deployment's secrets key for "org|name|field"
 * (common/rp_crypt.h), and "updated" (unix time).  A workspace gets
 * "global" with its named environment merged over it: a variable or a
 * file path of the named one wins.
 */

#ifndef RP_ENV_H
#define RP_ENV_H

#include <stddef.h>


#define RP_ENV_GLOBAL          "global"  /* merged under every other one */
#define RP_ENV_NAME_MAX        64
#define RP_ENV_VARS_MAX        200
#define RP_ENV_VAR_NAME_MAX    128
#define RP_ENV_VALUE_MAX       32768
#define RP_ENV_FILES_MAX       32
#define RP_ENV_FILE_MAX        65536     /* bytes of one file: 64 KiB */
#define RP_ENV_PATH_MAX        255
#define RP_ENV_PER_ORG_MAX     100       /* environments per organisation */

/* Redis hash fields of an environment: "var:" NAME, "file:" path, updated */
#define RP_ENV_FIELD_VAR       "var:"
#define RP_ENV_FIELD_FILE      "file:"
#define RP_ENV_FIELD_UPDATED   "updated"


/* [a-z0-9][a-z0-9_-]{0,63} ("global" is the Global environment) */
int rp_env_name_ok(const char *s, size_t len);

/* [A-Za-z_][A-Za-z0-9_]{0,127} */
int rp_env_var_name_ok(const char *s, size_t len);

/*
 * A relative path of 1..255 bytes: no leading '/', no empty, "." or ".."
 * part (so no trailing '/' either), no NUL or other control character.
 */
int rp_env_path_ok(const char *s, size_t len);

/*
 * Where an environment's file may not land, whoever writes it: anything
 * with a ".git" part (hooks, config: code git runs) and the home
 * folder's shell start-up files (".home/.bashrc", ".home/.profile", ...:
 * the list in rp_env.c).  1 when the path (already rp_env_path_ok) is
 * allowed.
 */
int rp_env_path_allowed(const char *s, size_t len);

/*
 * A variable that changes how programs load (LD_*, PATH, NODE_OPTIONS,
 * PYTHONPATH, ...: the list in rp_env.c): refused unless an admin sets
 * the environment's "allow_loader_variables".  1 when it is one.
 */
int rp_env_var_loader(const char *s, size_t len);

#endif /* RP_ENV_H */
