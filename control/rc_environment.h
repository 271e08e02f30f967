/*
 * Environments in control: a workspace's variables and files, opened from
 * Redis with the deployment's secrets key, and the files written into the
 * workspace's disk.
 *
 * What is stored (by the API, lua/api.lua): per organisation the hash
 * RP_KEY_ENV_PREFIX "<org>:<name>" with "var:NAME" and "file:path" fields
 * holding values sealed for "org|name|field" (common/rp_crypt.h).  A
 * workspace gets "global" with its own environment (the workspace hash's
 * "environment", may be empty) merged over it: a variable or a file path
 * of the named one wins.
 *
 * How to call (rc_jobs.c, when a workspace's sandbox starts):
 *
 *     json_t  *vars, *files;
 *     char     err[512];
 *
 *     if (rc_environment_load(w, org, environment, &vars, &files, err,
 *                             sizeof(err)) != 0)
 *     {
 *         fail the workspace with reason err: it names the environment and
 *         the field (e.g. "var:TOKEN"), never a value
 *     }
 *
 *     if (rc_environment_write_files(root, files, w->local.uid,
 *                                    w->local.gid, err, sizeof(err)) != 0)
 *     {
 *         fail the workspace with reason err (names the path)
 *     }
 *
 *     json_object_set(start_body, "env", vars);   the engine's POST /start
 *     ... send it; then wipe what json_dumps made of the body if you
 *     ... dumped it yourself (rp_crypt_wipe), and:
 *
 *     rc_environment_free(vars);
 *     rc_environment_free(files);
 *
 *   - org: the workspace hash's "org"; environment: its "environment"
 *     (NULL, "" or "global" for Global only).  A named environment that
 *     does not exist is an error; a missing Global is not.
 *   - vars is a JSON object {NAME: "value"}, files {"relative/path":
 *     "content"}; both always set on success (maybe empty), NULL on error.
 *   - root is the directory that is /workspace inside the sandbox, as this
 *     machine sees it (the driver's root() + "/workspace" for the local
 *     one).  Files land at root/path, mode 600, owned by uid:gid; missing
 *     directories are made (700, uid:gid).  No symbolic link is followed
 *     anywhere under root (nor root itself, its last part): a path whose
 *     part is a link or not a directory is refused.  Each file is written
 *     to a fresh name and renamed over the target, so a link or hard link
 *     already at the target is replaced, never written through.
 *   - rc_environment_free wipes every string value, then frees: values
 *     are secrets; never log them.
 *   - Without --secrets-key (w->have_secrets 0) an environment with any
 *     value is an error that says so.
 */

#ifndef RC_ENVIRONMENT_H
#define RC_ENVIRONMENT_H

#include <stddef.h>
#include <sys/types.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "rc_worker.h"


/* serve --secrets-key FILE: loads it into w; 0, or -1 (said on stderr) */
int rc_environment_key(rc_worker_t *w, const char *path);

int rc_environment_load(rc_worker_t *w, const char *org, const char *name,
    json_t **vars, json_t **files, char *err, size_t errlen);

int rc_environment_write_files(const char *root, json_t *files, uid_t uid,
    gid_t gid, char *err, size_t errlen);

/* wipes the string values of obj, then json_decref (NULL is fine) */
void rc_environment_free(json_t *obj);

/*
 * replicas-control environment check --org ORG [--name NAME]
 *     --secrets-key FILE [--write DIR]
 * Loads and merges like a workspace start, prints variable names and file
 * paths (never values); --write DIR writes the files there as this user.
 * 0 done, 1 failed (the reason on stderr), 2 usage.
 */
int rc_environment_main(redisContext *redis, int argc, char **argv);

/*
 * The token for private https repositories: REPLICAS_GIT_TOKEN, else
 * GITHUB_TOKEN, of the environment (name over Global), where a team keeps
 * it sealed.  *token is NULL when there is none; the caller wipes
 * (rp_crypt_wipe) and frees it.  It goes to libgit2's credentials
 * callback only: never into a URL, a log or a workspace's .git/config.
 */
int rc_environment_git_token(rc_worker_t *w, const char *org,
    const char *name, char **token, char *err, size_t errlen);

#endif /* RC_ENVIRONMENT_H */
