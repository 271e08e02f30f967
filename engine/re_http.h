/*
 * The answers every part of the engine's HTTP API gives the same way
 * (re_http.c): JSON with Cache-Control: no-store, and errors as
 * {"error":{"code","message"}} (logged by code, never by message).
 */

#ifndef RE_HTTP_H
#define RE_HTTP_H

#include <jansson.h>
#include <microhttpd.h>


/*
 * Queues resp (consumed: destroyed here, also on failure) with our
 * headers: the content type, Cache-Control: no-store, nosniff, and Allow
 * when given.  resp NULL: MHD_NO.
 */
enum MHD_Result re_http_queue(struct MHD_Connection *c, unsigned status,
    struct MHD_Response *resp, const char *type, const char *allow);

/* j is stolen (NULL: a 500); allow: the Allow header, or NULL */
enum MHD_Result re_http_send(struct MHD_Connection *c, unsigned status,
    json_t *j, const char *allow);

enum MHD_Result re_http_error(struct MHD_Connection *c, unsigned status,
    const char *code, const char *message, const char *allow);

#endif /* RE_HTTP_H */
