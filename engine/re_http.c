/*
 * The engine's HTTP API on libmicrohttpd: routing, bounded bodies, JSON
 * answers and errors.  A thread per connection (an event stream waits in
 * its own); handlers only take short locks (a hook runs in a thread of
 * its own), the longest being the fsync of a stored message.
 */

#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <microhttpd.h>

#include "re_engine.h"
#include "re_http.h"
#include "re_log.h"
#include "re_chats.h"
#include "re_events.h"
#include "re_git.h"
#include "re_messages.h"
#include "re_desktop.h"
#include "re_platform.h"
#include "re_previews.h"
#include "re_health.h"
#include "re_request.h"
#include "re_start.h"


#define RE_HOOK_LOG_TAIL  (64 * 1024)


typedef enum {
    RE_ROUTE_NONE = 0,
    RE_ROUTE_HEALTHZ,
    RE_ROUTE_START,
    RE_ROUTE_HOOKS,
    RE_ROUTE_HOOK_LOG,
    RE_ROUTE_MESSAGES,
    RE_ROUTE_EVENTS
} re_route_e;


typedef struct {
    const char  *path;
    re_route_e   route;
    const char  *allow;            /* methods, as the Allow header says */
} re_route_t;


static const re_route_t  re_routes[] = {
    { "/healthz",          RE_ROUTE_HEALTHZ,   "GET, HEAD" },
    { "/start",            RE_ROUTE_START,     "POST" },
    { "/hooks",            RE_ROUTE_HOOKS,     "GET, HEAD" },
    { "/hooks/start/log",  RE_ROUTE_HOOK_LOG,  "GET, HEAD" },
    { "/messages",         RE_ROUTE_MESSAGES,  "GET, HEAD, POST" },
    { "/events",           RE_ROUTE_EVENTS,    "GET, HEAD" },
    { NULL,                RE_ROUTE_NONE,      NULL }
};


/* one per request, from its first call to the completed notice */
typedef struct {
    char        *body;
    size_t       len;
    size_t       cap;
    int          too_large;
} re_http_req_t;


static struct MHD_Daemon  *re_daemon;

/* the claim of a warm engine by /start: handlers run concurrently */
static pthread_mutex_t     re_claim_lock = PTHREAD_MUTEX_INITIALIZER;


enum MHD_Result
re_http_queue(struct MHD_Connection *c, unsigned status,
    struct MHD_Response *resp, const char *type, const char *allow)
{
    enum MHD_Result  rc;

    if (resp == NULL) {
        return MHD_NO;
    }

    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");

    if (allow) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    }

    rc = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);

    return rc;
}


enum MHD_Result
re_http_send(struct MHD_Connection *c, unsigned status, json_t *j,
    const char *allow)
{
    char                 *text;
    struct MHD_Response  *resp;

    text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);

    if (text == NULL) {
        status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        text = strdup("{\"error\":{\"code\":\"internal\","
                      "\"message\":\"out of memory\"}}");
        if (text == NULL) {
            return MHD_NO;
        }
    }

    resp = MHD_create_response_from_buffer(strlen(text), text,
                                           MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(text);
        return MHD_NO;
    }

    return re_http_queue(c, status, resp, "application/json", allow);
}


enum MHD_Result
re_http_error(struct MHD_Connection *c, unsigned status, const char *code,
    const char *message, const char *allow)
{
    /* the code is ours; the message may come from a validator, which
     * never quotes the client's values */
    re_info("http.error", "status=%u code=%s", status, code);

    return re_http_send(c, status,
                        json_pack("{s:{s:s, s:s}}", "error", "code", code,
                                  "message", message),
                        allow);
}


static const char *
re_http_workspace(void)
{
    const char  *ws;

    pthread_mutex_lock(&re_claim_lock);
    ws = re_engine.workspace;
    pthread_mutex_unlock(&re_claim_lock);

    return ws;
}


/* what /healthz and an event stream's first event (engine.status) say */
static json_t *
re_http_status(void)
{
    size_t           count;
    long long        last_seq;
    re_hook_state_e  start;

    start = re_start_state();
    re_messages_counts(&count, &last_seq);

    return json_pack("{s:s, s:s?, s:b, s:{s:s}, s:{s:I, s:I}}",
                  "version", RE_VERSION,
                  "workspace", re_http_workspace(),
                  /* what control counts as activity */
                  "busy", start == RE_HOOK_RUNNING || re_chats_busy(),
                  "hooks", "start", re_hook_state_name(start),
                  "messages", "count", (json_int_t) count,
                  "last_seq", (json_int_t) last_seq);
}


static enum MHD_Result
re_http_healthz(struct MHD_Connection *c)
{
    int           fresh;
    char          agent[16];
    json_t       *j, *chats, *v;
    const char   *q;

    /* ?ports=now: scanned for this answer (a sleep remembering them must
     * not get a list from before the dev server listened) */
    q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "ports");
    fresh = q && strcmp(q, "now") == 0;

    /* ports, repositories and desktop from re_health.c's cache: control
     * asks often (its watch, a wake waiting for the dev servers) */
    j = json_pack("{s:b, s:s, s:s?, s:I}", "ok", 1, "version", RE_VERSION,
                  "workspace", re_http_workspace(),
                  "uptime", (json_int_t) ((re_now_ms() - re_engine.started_ms)
                                          / 1000));

    /* the agents: the workspace's, and each chat's state */
    re_start_agent(agent, sizeof(agent));
    chats = re_chats_list();
    v = chats ? json_object_get(chats, "chats") : NULL;

    if (j == NULL || json_object_update_new(j, re_http_status()) != 0
        || json_object_set_new(j, "ports", fresh ? re_health_ports_now()
                                                 : re_health_ports()) != 0
        || json_object_set_new(j, "agent", agent[0] ? json_string(agent)
                                                    : json_string("claude"))
           != 0
        || json_object_set_new(j, "chats", v ? json_incref(v) : json_array())
           != 0
        || json_object_set_new(j, "repositories", re_health_repositories())
           != 0
        || json_object_set_new(j, "desktop", re_health_desktop()) != 0
        || json_object_set_new(j, "disk", re_health_disk()) != 0
        /* a turn running now, and what turns spent (control's Stats) */
        || json_object_set_new(j, "working", json_boolean(re_chats_busy()))
           != 0
        || json_object_set_new(j, "usage", re_chats_usage()) != 0)
    {
        json_decref(j);
        j = NULL;
    }

    json_decref(chats);

    return re_http_send(c, MHD_HTTP_OK, j, NULL);
}


static enum MHD_Result
re_http_start_hook(struct MHD_Connection *c, re_http_req_t *rq)
{
    int         state;
    char        err[256];
    re_req_e    rc;
    re_start_t  req;

    rc = re_parse_start(rq->body, rq->len, &req, err, sizeof(err));

    if (rc != RE_REQ_OK) {
        return re_http_error(c, MHD_HTTP_BAD_REQUEST,
                             rc == RE_REQ_BAD_JSON ? "invalid_json"
                                                   : "invalid_request",
                             err, NULL);
    }

    if (req.workspace) {
        pthread_mutex_lock(&re_claim_lock);

        if (re_engine.workspace == NULL) {
            /* a warm sandbox, claimed: from now on it is this one's
             * (set once, never freed: readers may hold the pointer) */
            re_engine.workspace = strdup(req.workspace);
            re_info("engine.claimed", "workspace=%s", req.workspace);
            re_events_emit("workspace.claimed",
                           json_pack("{s:s}", "workspace", req.workspace));

        } else if (strcmp(re_engine.workspace, req.workspace) != 0) {
            pthread_mutex_unlock(&re_claim_lock);
            re_start_free(&req);
            return re_http_error(c, MHD_HTTP_CONFLICT, "other_workspace",
                                 "this engine serves another workspace",
                                 NULL);
        }

        pthread_mutex_unlock(&re_claim_lock);
    }

    /* the platform's address and this start's key for it */
    if (req.platform_url) {
        re_platform_set(req.platform_url, req.platform_host,
                        req.platform_token);
    }

    /* a repository that wants no desktop ("desktop": false) */
    re_desktop_enable(req.desktop != 0);

    if (req.platform_url) {
        /* the desktop as an authenticated preview, from its own thread */
        re_desktop_register();
    }

    state = re_start_begin(&req);
    re_start_free(&req);

    /* the desktop setting and the repositories may have changed */
    re_health_touch();

    if (state < 0) {
        return re_http_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                             "the start hook could not be started", NULL);
    }

    return re_http_send(c, MHD_HTTP_ACCEPTED,
                        json_pack("{s:s}", "hook",
                                  re_hook_state_name(state)),
                        NULL);
}


static enum MHD_Result
re_http_hooks(struct MHD_Connection *c)
{
    return re_http_send(c, MHD_HTTP_OK,
                        json_pack("{s:o, s:o}", "start",
                                  re_start_status(RE_HOOK_LOG_TAIL), "warm",
                                  re_warm_status(RE_HOOK_LOG_TAIL)),
                        NULL);
}


static enum MHD_Result
re_http_hook_log(struct MHD_Connection *c)
{
    int                   fd;
    struct stat           st;
    struct MHD_Response  *resp;

    fd = re_start_log_open();

    if (fd == -1 && errno != ENOENT) {
        return re_http_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                             "the log cannot be read", NULL);
    }

    if (fd == -1) {
        /* no run yet: an empty log */
        resp = MHD_create_response_from_buffer(0, (void *) "",
                                               MHD_RESPMEM_PERSISTENT);

    } else if (fstat(fd, &st) != 0) {
        close(fd);
        return re_http_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                             "the log cannot be read", NULL);

    } else {
        /* sent from the file: the log may be large; what a running hook
         * adds meanwhile comes with the next request.  MHD closes fd */
        resp = MHD_create_response_from_fd((uint64_t) st.st_size, fd);
        if (resp == NULL) {
            close(fd);
        }
    }

    return re_http_queue(c, MHD_HTTP_OK, resp, "text/plain; charset=utf-8",
                         NULL);
}


static enum MHD_Result
re_http_message(struct MHD_Connection *c, re_http_req_t *rq)
{
    char             err[256];
    size_t           position;
    long long        seq;
    json_t          *answer;
    re_req_e         rc;
    re_msg_e         r;
    re_chat_e        chat;
    re_message_t     msg;
    re_chat_place_t  place;

    rc = re_parse_message(rq->body, rq->len, &msg, err, sizeof(err));

    if (rc != RE_REQ_OK) {
        return re_http_error(c, MHD_HTTP_BAD_REQUEST,
                             rc == RE_REQ_BAD_JSON ? "invalid_json"
                                                   : "invalid_request",
                             err, NULL);
    }

    position = 0;
    seq = msg.seq;
    memset(&place, 0, sizeof(place));
    r = re_messages_add(&msg, &position);

    /* stored: now its chat's agent takes it, at once or in its turn */
    chat = r == RE_MSG_QUEUED ? re_chats_submit(&msg, &place)
                              : RE_CHAT_ERROR;
    re_message_free(&msg);

    if (r == RE_MSG_DUPLICATE) {
        /* control redelivers after a crash: already here, nothing to do */
        return re_http_send(c, MHD_HTTP_OK,
                            json_pack("{s:s, s:I}", "status", "duplicate",
                                      "seq", (json_int_t) seq),
                            NULL);
    }

    if (r == RE_MSG_FAILED) {
        return re_http_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                             "the message could not be stored", NULL);
    }

    if (chat == RE_CHAT_FULL || chat == RE_CHAT_NO_CHAT) {
        return re_http_error(c, MHD_HTTP_TOO_MANY_REQUESTS, "queue_full",
                             chat == RE_CHAT_FULL
                             ? "the chat's queue is full"
                             : "too many chats in this workspace", NULL);
    }

    if (chat == RE_CHAT_ERROR) {
        return re_http_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                             "the message was stored but not queued", NULL);
    }

    answer = json_pack("{s:s, s:I, s:I}", "status",
                       chat == RE_CHAT_SENT ? "sent" : "queued",
                       "position", (json_int_t) place.position,
                       "seq", (json_int_t) seq);

    /* folded: which waiting turn it joined, and how many that holds */
    if (answer && chat == RE_CHAT_FOLDED) {
        json_object_set_new(answer, "folded",
                            json_pack("{s:I, s:I}",
                                      "into", (json_int_t) place.into,
                                      "count", (json_int_t) place.count));
    }

    return re_http_send(c, MHD_HTTP_ACCEPTED, answer, NULL);
}


/* /chats, /chats/{name}, /chats/{name}/interrupt */
static enum MHD_Result
re_http_chats(struct MHD_Connection *c, const char *url, int get, int post,
    int del, re_http_req_t *rq)
{
    int            rc;
    char           name[RE_NAME_MAX + 2], err[256];
    size_t         len;
    re_req_e       prc;
    const char    *rest, *slash;
    re_chat_req_t  req;

    if (strcmp(url, "/chats") == 0) {
        if (get) {
            return re_http_send(c, MHD_HTTP_OK, re_chats_list(), NULL);
        }

        if (!post) {
            return re_http_error(c, MHD_HTTP_METHOD_NOT_ALLOWED,
                                 "method_not_allowed", "GET or POST",
                                 "GET, HEAD, POST");
        }

        prc = re_parse_chat(rq->body, rq->len, &req, err, sizeof(err));

        if (prc != RE_REQ_OK) {
            return re_http_error(c, MHD_HTTP_BAD_REQUEST,
                                 prc == RE_REQ_BAD_JSON ? "invalid_json"
                                                        : "invalid_request",
                                 err, NULL);
        }

        rc = re_chats_create(req.name, req.agent, err, sizeof(err));
        re_chat_req_free(&req);

        if (rc < 0) {
            return re_http_error(c, MHD_HTTP_BAD_REQUEST, "invalid_request",
                                 err, NULL);
        }

        return re_http_send(c, rc == 0 ? MHD_HTTP_CREATED : MHD_HTTP_OK,
                            re_chats_list(), NULL);
    }

    /* /chats/{name}[/interrupt] */
    rest = url + sizeof("/chats/") - 1;
    slash = strchr(rest, '/');
    len = slash ? (size_t) (slash - rest) : strlen(rest);

    if (len == 0 || len > RE_NAME_MAX) {
        return re_http_error(c, MHD_HTTP_NOT_FOUND, "not_found",
                             "no such chat", NULL);
    }

    memcpy(name, rest, len);
    name[len] = '\0';

    if (!re_chat_name_ok(name)
        || (slash && strcmp(slash, "/interrupt") != 0))
    {
        return re_http_error(c, MHD_HTTP_NOT_FOUND, "not_found",
                             "no such chat", NULL);
    }

    if (slash) {
        if (!post) {
            return re_http_error(c, MHD_HTTP_METHOD_NOT_ALLOWED,
                                 "method_not_allowed", "POST only", "POST");
        }

        rc = re_chats_interrupt(name);

        if (rc < 0) {
            return re_http_error(c, MHD_HTTP_NOT_FOUND, "chat_not_found",
                                 "no such chat", NULL);
        }

        return re_http_send(c, MHD_HTTP_ACCEPTED,
                            json_pack("{s:s, s:b}", "chat", name,
                                      "interrupted", rc == 1),
                            NULL);
    }

    if (!del) {
        return re_http_error(c, MHD_HTTP_METHOD_NOT_ALLOWED,
                             "method_not_allowed", "DELETE only", "DELETE");
    }

    rc = re_chats_delete(name);

    if (rc < 0) {
        return re_http_error(c, MHD_HTTP_NOT_FOUND, "chat_not_found",
                             "no such chat", NULL);
    }

    if (rc == 1) {
        return re_http_error(c, MHD_HTTP_CONFLICT, "chat_working",
                             "the chat was working: its turn is being "
                             "interrupted; delete it again once it stops",
                             NULL);
    }

    return re_http_send(c, MHD_HTTP_OK,
                        json_pack("{s:s, s:b}", "chat", name, "deleted", 1),
                        NULL);
}


static enum MHD_Result
re_http_events(struct MHD_Connection *c)
{
    int          rc;
    const char  *err;

    err = NULL;
    rc = re_events_http(c, re_http_status(), &err);

    if (rc < 0) {
        return re_http_error(c, MHD_HTTP_BAD_REQUEST, "invalid_request",
                             err, NULL);
    }

    return rc == MHD_YES ? MHD_YES : MHD_NO;
}


static enum MHD_Result
re_http_dispatch(struct MHD_Connection *c, const char *url,
    const char *method, re_http_req_t *rq)
{
    int                get, post;
    unsigned           status;
    json_t            *answer;
    const re_route_t  *r;

    get = strcmp(method, MHD_HTTP_METHOD_GET) == 0
          || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;

    /* /git, /git/push, /git/update, /git/pull-request, /diff, /files,
     * /files/content (re_git_http.c) */
    if (re_git_http_route(url)) {
        return re_git_http(c, url, method, rq->body, rq->len, rq->too_large)
               == MHD_YES ? MHD_YES : MHD_NO;
    }

    if (strcmp(url, "/previews") == 0 || strncmp(url, "/previews/", 10) == 0
        || strcmp(url, "/computer") == 0)
    {
        if (rq->too_large && post) {
            return re_http_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
                                 "the body is larger than 1 MiB", NULL);
        }

        status = re_previews_handle(method, url, rq->body, rq->len, &answer);

        return re_http_send(c, status, answer, NULL);
    }

    if (strcmp(url, "/chats") == 0 || strncmp(url, "/chats/", 7) == 0) {
        if (rq->too_large && post) {
            return re_http_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
                                 "the body is larger than 1 MiB", NULL);
        }

        return re_http_chats(c, url, get, post,
                             strcmp(method, MHD_HTTP_METHOD_DELETE) == 0, rq);
    }

    for (r = re_routes; r->path; r++) {
        if (strcmp(url, r->path) == 0) {
            break;
        }
    }

    if (r->path == NULL) {
        return re_http_error(c, MHD_HTTP_NOT_FOUND, "not_found",
                             "no such endpoint", NULL);
    }

    if (rq->too_large && post) {
        return re_http_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
                             "the body is larger than 1 MiB", NULL);
    }

    if (atomic_load(&re_engine.stopping) && post) {
        return re_http_error(c, MHD_HTTP_CONFLICT, "stopping",
                             "the engine is stopping", NULL);
    }

    switch (r->route) {

    case RE_ROUTE_HEALTHZ:
        if (get) {
            return re_http_healthz(c);
        }
        break;

    case RE_ROUTE_START:
        if (post) {
            return re_http_start_hook(c, rq);
        }
        break;

    case RE_ROUTE_HOOKS:
        if (get) {
            return re_http_hooks(c);
        }
        break;

    case RE_ROUTE_HOOK_LOG:
        if (get) {
            return re_http_hook_log(c);
        }
        break;

    case RE_ROUTE_MESSAGES:
        if (get) {
            return re_http_send(c, MHD_HTTP_OK, re_messages_list(), NULL);
        }
        if (post) {
            return re_http_message(c, rq);
        }
        break;

    case RE_ROUTE_EVENTS:
        if (get) {
            return re_http_events(c);
        }
        break;

    default:
        break;
    }

    return re_http_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                         "the endpoint does not take this method", r->allow);
}


/*
 * A state-changing request is JSON or nothing: every POST, PUT and PATCH
 * (empty ones too: a cross-site fetch() without a body sends no type),
 * and any other method that carries a body, must say Content-Type:
 * application/json.  A page of another site can send text/plain, form
 * and multipart bodies (and bodiless POSTs) with the user's preview
 * cookie and without asking (no CORS preflight), never a JSON one: so
 * none of them can queue a message or push.  Decided before the body is
 * read.
 */
static int
re_http_type_ok(struct MHD_Connection *c, const char *method, const char *cl)
{
    int          writes;
    const char  *te;

    writes = strcmp(method, MHD_HTTP_METHOD_POST) == 0
             || strcmp(method, MHD_HTTP_METHOD_PUT) == 0
             || strcmp(method, MHD_HTTP_METHOD_PATCH) == 0;

    if (!writes) {
        te = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                         MHD_HTTP_HEADER_TRANSFER_ENCODING);

        if (te == NULL && (cl == NULL || strtoul(cl, NULL, 10) == 0)) {
            return 1;                       /* a GET, a bodiless DELETE */
        }
    }

    return re_json_type_ok(MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                               MHD_HTTP_HEADER_CONTENT_TYPE));
}


static enum MHD_Result
re_http_handler(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
    char           *p;
    size_t          n, cap;
    const char     *cl;
    re_http_req_t  *rq;

    (void) cls;
    (void) version;

    rq = *con_cls;

    if (rq == NULL) {
        rq = calloc(1, sizeof(re_http_req_t));
        if (rq == NULL) {
            return MHD_NO;
        }
        *con_cls = rq;

        /* a body announced too large is refused before it is read; MHD
         * then closes the connection */
        cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                         MHD_HTTP_HEADER_CONTENT_LENGTH);

        if (cl && strlen(cl) > 7) {
            rq->too_large = 1;
        } else if (cl && strtoul(cl, NULL, 10) > RE_BODY_MAX) {
            rq->too_large = 1;
        }

        if (rq->too_large) {
            return re_http_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
                                 "the body is larger than 1 MiB", NULL);
        }

        if (!re_http_type_ok(c, method, cl)) {
            return re_http_error(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                 "unsupported_media_type",
                                 "the body must be JSON (Content-Type: "
                                 "application/json)", NULL);
        }

        return MHD_YES;
    }

    if (*upload_data_size != 0) {
        n = *upload_data_size;
        *upload_data_size = 0;

        /* a chunked body has no length up front: read and dropped once
         * past the limit, refused at its end */
        if (rq->too_large || rq->len + n > RE_BODY_MAX) {
            rq->too_large = 1;
            return MHD_YES;
        }

        if (rq->len + n + 1 > rq->cap) {
            cap = rq->cap ? rq->cap : 4096;
            while (cap < rq->len + n + 1) {
                cap *= 2;
            }

            p = realloc(rq->body, cap);
            if (p == NULL) {
                return MHD_NO;
            }

            rq->body = p;
            rq->cap = cap;
        }

        memcpy(rq->body + rq->len, upload_data, n);
        rq->len += n;
        rq->body[rq->len] = '\0';

        return MHD_YES;
    }

    if (rq->body == NULL) {
        rq->body = strdup("");
        if (rq->body == NULL) {
            return MHD_NO;
        }
    }

    return re_http_dispatch(c, url, method, rq);
}


static void
re_http_completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
    re_http_req_t  *rq = *con_cls;

    (void) cls;
    (void) c;
    (void) toe;

    if (rq) {
        free(rq->body);
        free(rq);
        *con_cls = NULL;
    }
}


static void
re_http_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char    msg[512];
    size_t  i;

    (void) cls;

    vsnprintf(msg, sizeof(msg), fmt, ap);

    /* one line, no quotes that would break key=value */
    for (i = 0; msg[i]; i++) {
        if (msg[i] == '\n' || msg[i] == '\r' || msg[i] == '"') {
            msg[i] = msg[i + 1] ? ' ' : '\0';
        }
    }

    re_warn("http.mhd", "msg=\"%s\"", msg);
}


/* HOST:PORT or [V6]:PORT, numeric only */
static int
re_http_addr(const char *listen, struct sockaddr_storage *ss)
{
    char                 host[64], *end;
    const char          *colon;
    size_t               len;
    unsigned long        port;
    struct sockaddr_in  *sin;
    struct sockaddr_in6 *sin6;

    colon = strrchr(listen, ':');
    if (colon == NULL) {
        return -1;
    }

    port = strtoul(colon + 1, &end, 10);
    if (*end != '\0' || colon[1] == '\0' || port > 65535) {
        return -1;
    }

    len = (size_t) (colon - listen);

    if (len >= 2 && listen[0] == '[' && listen[len - 1] == ']') {
        listen++;
        len -= 2;
    }

    if (len == 0 || len >= sizeof(host)) {
        return -1;
    }

    memcpy(host, listen, len);
    host[len] = '\0';

    memset(ss, 0, sizeof(*ss));
    sin = (struct sockaddr_in *) ss;
    sin6 = (struct sockaddr_in6 *) ss;

    if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t) port);
        return 0;
    }

    if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t) port);
        return 0;
    }

    return -1;
}


int
re_http_start(void)
{
    unsigned int             flags;
    struct sockaddr_storage  ss;

    if (re_http_addr(re_engine.listen, &ss) != 0) {
        re_error("engine.bad_listen", "listen=%s", re_engine.listen);
        return -1;
    }

    /* a thread per connection: an event stream waits in its own.  The
     * timeout counts from the last byte sent or received: a stream's
     * heartbeats, more often, keep it open */
    flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD
            | MHD_USE_AUTO | MHD_ALLOW_UPGRADE | MHD_USE_ERROR_LOG;

    if (ss.ss_family == AF_INET6) {
        flags |= MHD_USE_IPv6;
    }

    re_daemon = MHD_start_daemon(flags, 0, NULL, NULL,
                    re_http_handler, NULL,
                    /* first, or MHD logs the other options its own way */
                    MHD_OPTION_EXTERNAL_LOGGER, re_http_mhd_log, NULL,
                    MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &ss,
                    MHD_OPTION_NOTIFY_COMPLETED, re_http_completed, NULL,
                    MHD_OPTION_CONNECTION_LIMIT, (unsigned int) 256,
                    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) 60,
                    MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int) 1,
                    MHD_OPTION_END);

    if (re_daemon == NULL) {
        re_error("engine.listen_failed", "listen=%s", re_engine.listen);
        return -1;
    }

    return 0;
}


void
re_http_stop(void)
{
    if (re_daemon) {
        MHD_stop_daemon(re_daemon);
        re_daemon = NULL;
    }
}
