/* The engine's HTTP API from control: see rc_engine.h. */

#define _GNU_SOURCE

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "common/rp_buf.h"
#include "common/rp_crypt.h"
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


long
rc_engine_call(const char *addr, const char *method, const char *path,
    json_t *body, long timeout_ms, json_t **reply)
{
    char               url[256], *text;
    long               status;
    CURLcode           rc;
    rp_buf_t           buf;
    struct curl_slist *headers;

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

    curl_easy_reset(rc_curl);

    snprintf(url, sizeof(url), "http://%s:3737%s", addr, path);

    buf.data = NULL;
    buf.len = 0;
    buf.max = RC_ENGINE_REPLY_MAX;
    text = NULL;
    headers = NULL;

    curl_easy_setopt(rc_curl, CURLOPT_URL, url);
    curl_easy_setopt(rc_curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(rc_curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(rc_curl, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(rc_curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(rc_curl, CURLOPT_CONNECTTIMEOUT_MS,
                     timeout_ms < 1000 ? timeout_ms : 1000L);
    curl_easy_setopt(rc_curl, CURLOPT_WRITEFUNCTION, rp_buf_append);
    curl_easy_setopt(rc_curl, CURLOPT_WRITEDATA, &buf);

    if (body) {
        text = json_dumps(body, JSON_COMPACT);
        if (text == NULL) {
            return 0;
        }

        headers = curl_slist_append(headers,
                                    "Content-Type: application/json");
        curl_easy_setopt(rc_curl, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(rc_curl, CURLOPT_POSTFIELDS, text);
    }

    rc = curl_easy_perform(rc_curl);

    status = 0;

    if (rc == CURLE_OK) {
        curl_easy_getinfo(rc_curl, CURLINFO_RESPONSE_CODE, &status);

        if (reply && buf.data) {
            *reply = json_loadb(buf.data, buf.len, 0, NULL);
        }
    }

    curl_slist_free_all(headers);

    if (text) {
        /* a /start body carries the environment's secrets */
        rp_crypt_wipe(text, strlen(text));
        free(text);
    }

    free(buf.data);

    return status;
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
