/*
 * The engine's one way out to the platform: the gateway's HTTP API, with
 * a key scoped to this workspace that control hands over in /start
 * (kept in memory only: never in a file, an environment or a log; a new
 * one at every start).  Used for previews: the agent's `replicas preview
 * create 3000` reaches the engine on 3737, and the engine registers the
 * preview with the platform, which answers its URL.
 */

#ifndef RE_PLATFORM_H
#define RE_PLATFORM_H

#include <jansson.h>


/* from a /start (url NULL: forget); copies */
void re_platform_set(const char *url, const char *host, const char *token);

/* is there a platform to talk to */
int re_platform_ready(void);

/*
 * One call to the API for this workspace: method, path under
 * /v1/workspaces/<id> ("/previews", "/previews/3000"), body or NULL.
 * Returns the HTTP status (0: no answer) and the JSON answer in *reply.
 */
long re_platform_call(const char *method, const char *path, json_t *body,
    json_t **reply);

#endif /* RE_PLATFORM_H */
