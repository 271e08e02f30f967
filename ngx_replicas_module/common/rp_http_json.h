/*
 * One blocking JSON call over HTTP with libcurl, for the programs that
 * make them: control to engines (rc_engine.c), the engine to the platform
 * (re_platform.c) and to GitHub (re_github.c), the `replicas` command to
 * the engine (re_cli.c).  Never redirected, under a deadline, the answer
 * bounded; the answer's status and its body parsed as JSON.  Headers the
 * caller passes (a token) and a body it marks secret are wiped from memory
 * once sent.  Not for the nginx module: it blocks.
 *
 * libcurl and jansson: linked by name (auto/lib.sh), not with the other
 * pure helpers.  rp_http_json_answer() and rp_http_json_failed() are pure
 * (t/unit/test_http_json.c).
 */

#ifndef RP_HTTP_JSON_H
#define RP_HTTP_JSON_H

#include <stddef.h>

#include <curl/curl.h>
#include <jansson.h>


typedef struct {
    const char          *method;        /* "GET", "POST", ... */
    const char          *url;
    json_t              *body;          /* sent as JSON, or NULL for none */
    unsigned             body_secret;   /* the body's text wiped once sent */
    const char *const   *headers;       /* "Name: value" lines, NULL-ended;
                                           wiped once sent */
    long                 timeout_ms;    /* the whole call */
    long                 connect_ms;    /* 0: timeout_ms */
    size_t               max;           /* the answer's bytes at most */
    unsigned             direct;        /* no proxy, whatever the
                                           environment says */
    const char          *user_agent;    /* NULL: libcurl's none */
    const char          *ca_file;       /* NULL or "": the system's */
    CURL                *handle;        /* one to reuse (its connections
                                           kept alive), or NULL */
} rp_http_json_req_t;


typedef struct {
    long                 status;        /* 0: no answer (see error) */
    json_t              *json;          /* the body, NULL if empty or not
                                           JSON; json_decref() it */
    unsigned             too_large;     /* the answer passed max */
    char                 error[256];    /* why status is 0 */
} rp_http_json_res_t;


/*
 * The call.  0 with an answer (res->status, res->json), or -1 with
 * res->error: not reached, timed out, too large, or out of memory.
 */
int rp_http_json(const rp_http_json_req_t *req, rp_http_json_res_t *res);

/* an answer received: its status and its body (len bytes) parsed */
void rp_http_json_answer(rp_http_json_res_t *res, long status,
    const char *data, size_t len);

/* a call that got no answer: libcurl's code as text for res->error */
void rp_http_json_failed(rp_http_json_res_t *res, CURLcode cc, size_t max);

#endif /* RP_HTTP_JSON_H */
