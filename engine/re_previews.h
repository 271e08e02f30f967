/*
 * Previews and the computer, as the workspace sees them: the `replicas`
 * CLI (or an agent, or anyone inside) asks the engine on 3737, and the
 * engine asks the platform (re_platform.h), which knows the URLs.
 *   POST   /previews          {port, public?: bool}  -> 201 {port, url, visibility}
 *   GET    /previews                                  -> {previews:[...]}
 *   DELETE /previews/{port}                           -> {port, deleted}
 *   GET    /computer                                  -> {workspace, platform, previews, desktop}
 * Each change is a "previews.changed" event.
 */

#ifndef RE_PREVIEWS_H
#define RE_PREVIEWS_H

#include <stddef.h>

#include <jansson.h>


/*
 * One request: method, url (starting /previews or /computer), body.
 * Returns the status and sets *answer (a JSON object: the answer or an
 * error envelope).
 */
unsigned re_previews_handle(const char *method, const char *url,
    const char *body, size_t len, json_t **answer);

/* asks the platform for the list and sends it as a previews.changed
 * event (after a change made here, or the desktop's registration) */
void re_previews_announce(void);

#endif /* RE_PREVIEWS_H */
