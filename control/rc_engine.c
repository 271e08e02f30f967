/* The engine's HTTP API from control: see rc_engine.h. */

#define _GNU_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/rp_http_json.h"
#include "rc_engine.h"
#include "rc_log.h"


#define RC_ENGINE_REPLY_MAX  (4 * 1024 * 1024)


/* one per thread (job threads, the timers): keeps connections to engines
 * alive without sharing a handle */
static __thread CURL  *rc_curl;


void
rc_engine_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}


void
rc_engine_thread_done(void)
{
    if (rc_curl) {
        curl_easy_cleanup(rc_curl);
        rc_curl = NULL;
    }
}


long
rc_engine_call(const char *addr, const char *method, const char *path,
    json_t *body, long timeout_ms, json_t **reply)
{
    char                 url[256];
    rp_http_json_req_t   req;
    rp_http_json_res_t   res;

    if (reply) {
        *reply = NULL;
    }

    /* one handle, reused: keeps connections to engines alive */
    if (rc_curl == NULL) {
        rc_curl = curl_easy_init();
        if (rc_curl == NULL) {
            return 0;
        }
    }

    snprintf(url, sizeof(url), "http://%s:3737%s", addr, path);

    memset(&req, 0, sizeof(req));
    req.method = method;
    req.url = url;
    req.body = body;
    req.body_secret = 1;            /* a /start body carries secrets */
    req.timeout_ms = timeout_ms;
    req.connect_ms = timeout_ms < 1000 ? timeout_ms : 1000L;
    req.max = RC_ENGINE_REPLY_MAX;
    req.direct = 1;
    req.handle = rc_curl;

    (void) rp_http_json(&req, &res);

    if (reply) {
        *reply = res.json;

    } else {
        json_decref(res.json);
    }

    return res.status;
}


int
rc_engine_wait_healthy(const char *addr, long deadline_ms,
    void (*tick)(void *data), void *data)
{
    long long        start, last_tick, now;
    struct timespec  ts = { 0, 5 * 1000 * 1000 };

    start = rc_now_ms();
    last_tick = start;

    for ( ;; ) {
        if (rc_engine_call(addr, "GET", "/healthz", NULL, 500, NULL) == 200) {
            return 0;
        }

        now = rc_now_ms();

        if (now - start >= deadline_ms) {
            return -1;
        }

        if (tick && now - last_tick >= 1000) {
            tick(data);
            last_tick = now;
        }

        /* the engine is starting: connection refused comes back at once */
        nanosleep(&ts, NULL);
    }
}
