/* Previews through the platform: see re_previews.h. */

#define _GNU_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "re_desktop.h"
#include "re_engine.h"
#include "re_events.h"
#include "re_platform.h"
#include "re_previews.h"


#define RE_PORT_ENGINE   3737
#define RE_PORT_DESKTOP  6080


static json_t *
re_previews_error(const char *code, const char *message)
{
    return json_pack("{s:{s:s, s:s}}", "error", "code", code, "message",
                     message);
}


/* the platform's answer, passed on; its errors as ours */
static unsigned
re_previews_relay(long status, json_t *reply, json_t **answer)
{
    if (status == 0) {
        json_decref(reply);
        *answer = re_previews_error("platform_unreachable", "the platform "
                                    "did not answer; retry shortly");
        return 502;
    }

    if (reply == NULL) {
        *answer = re_previews_error("platform_error", "the platform's "
                                    "answer was not JSON");
        return 502;
    }

    *answer = reply;

    return (unsigned) status;
}


void
re_previews_announce(void)
{
    long     status;
    json_t  *list;

    status = re_platform_call("GET", "/previews", NULL, &list);

    if (status == 200 && json_is_object(list)) {
        re_events_emit("previews.changed",
                       json_pack("{s:O}", "previews",
                                 json_object_get(list, "previews")));
    }

    json_decref(list);
}


/* "3000" -> 3000, 0 if not a port */
static long
re_previews_port(const char *s)
{
    char  *end;
    long   port;

    if (s == NULL || *s < '1' || *s > '9') {
        return 0;
    }

    port = strtol(s, &end, 10);

    return *end == '\0' && port >= 1 && port <= 65535 ? port : 0;
}


static unsigned
re_previews_create(const char *body, size_t len, json_t **answer)
{
    long          port, status;
    json_t       *req, *p, *pub, *reply;
    const char   *key;
    json_error_t  jerr;

    req = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &jerr);

    if (!json_is_object(req)) {
        json_decref(req);
        *answer = re_previews_error("invalid_json", "the body must be a JSON "
                                    "object {port, public?}");
        return 400;
    }

    json_object_foreach(req, key, p) {
        if (strcmp(key, "port") != 0 && strcmp(key, "public") != 0) {
            json_decref(req);
            *answer = re_previews_error("invalid_request", "unknown field: "
                                        "a preview is {port, public?}");
            return 400;
        }
    }

    p = json_object_get(req, "port");
    pub = json_object_get(req, "public");
    port = json_is_integer(p) ? (long) json_integer_value(p) : 0;

    if (port < 1 || port > 65535 || (pub && !json_is_boolean(pub))) {
        json_decref(req);
        *answer = re_previews_error("invalid_request", "port must be 1 to "
                                    "65535, public a boolean");
        return 400;
    }

    if (json_is_true(pub)
        && (port == RE_PORT_ENGINE || port == RE_PORT_DESKTOP))
    {
        json_decref(req);
        *answer = re_previews_error("invalid_request", "the engine (3737) "
                                    "and the desktop (6080) are never "
                                    "public");
        return 400;
    }

    status = re_platform_call("POST", "/previews",
                              json_pack("{s:I, s:s}", "port",
                                        (json_int_t) port, "visibility",
                                        json_is_true(pub) ? "public"
                                                          : "authenticated"),
                              &reply);
    json_decref(req);

    if (status >= 200 && status < 300) {
        re_previews_announce();
    }

    return re_previews_relay(status, reply, answer);
}


unsigned
re_previews_handle(const char *method, const char *url, const char *body,
    size_t len, json_t **answer)
{
    int      get, post, del;
    long     port, status;
    char     path[64];
    json_t  *reply;

    get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    post = strcmp(method, "POST") == 0;
    del = strcmp(method, "DELETE") == 0;

    if (!re_platform_ready()) {
        *answer = re_previews_error("no_platform", "this workspace is not "
                                    "connected to the platform (the engine "
                                    "has no key for its API yet)");
        return 503;
    }

    if (strcmp(url, "/computer") == 0) {
        if (!get) {
            *answer = re_previews_error("method_not_allowed", "GET only");
            return 405;
        }

        status = re_platform_call("GET", "/previews", NULL, &reply);

        if (status != 200) {
            return re_previews_relay(status, reply, answer);
        }

        *answer = json_pack("{s:s, s:s, s:b, s:O, s:o}", "workspace",
                            re_engine.workspace, "engine", RE_VERSION,
                            "platform", 1, "previews",
                            json_object_get(reply, "previews"), "desktop",
                            re_desktop_status());
        json_decref(reply);

        return 200;
    }

    if (strcmp(url, "/previews") == 0) {
        if (get) {
            status = re_platform_call("GET", "/previews", NULL, &reply);
            return re_previews_relay(status, reply, answer);
        }

        if (post) {
            return re_previews_create(body, len, answer);
        }

        *answer = re_previews_error("method_not_allowed", "GET or POST");
        return 405;
    }

    /* /previews/{port} */
    port = strncmp(url, "/previews/", 10) == 0 ? re_previews_port(url + 10)
                                                : 0;

    if (port == 0) {
        *answer = re_previews_error("not_found", "no such endpoint");
        return 404;
    }

    if (!del) {
        *answer = re_previews_error("method_not_allowed", "DELETE only");
        return 405;
    }

    snprintf(path, sizeof(path), "/previews/%ld", port);
    status = re_platform_call("DELETE", path, NULL, &reply);

    if (status >= 200 && status < 300) {
        re_previews_announce();
    }

    return re_previews_relay(status, reply, answer);
}
