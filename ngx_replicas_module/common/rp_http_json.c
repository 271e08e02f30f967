/* One blocking JSON call over HTTP with libcurl: see rp_http_json.h. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rp_buf.h"
#include "rp_http_json.h"


/* not optimised away, unlike a memset before free() */
static void
rp_http_json_wipe(char *s, size_t len)
{
    volatile char  *p = s;

    while (len--) {
        *p++ = 0;
    }
}


static void
rp_http_json_wipe_list(struct curl_slist *list)
{
    for (/* void */; list; list = list->next) {
        rp_http_json_wipe(list->data, strlen(list->data));
    }
}


void
rp_http_json_answer(rp_http_json_res_t *res, long status, const char *data,
    size_t len)
{
    res->status = status;
    res->too_large = 0;
    res->error[0] = '\0';
    res->json = (data && len) ? json_loadb(data, len, 0, NULL) : NULL;
}


void
rp_http_json_failed(rp_http_json_res_t *res, CURLcode cc, size_t max)
{
    res->status = 0;
    res->json = NULL;

    /* rp_buf_append refusing more is libcurl's write error */
    res->too_large = (cc == CURLE_WRITE_ERROR);

    if (res->too_large) {
        snprintf(res->error, sizeof(res->error),
                 "the answer is too large (over %zu bytes)", max);

    } else {
        snprintf(res->error, sizeof(res->error), "%s",
                 curl_easy_strerror(cc));
    }
}


int
rp_http_json(const rp_http_json_req_t *req, rp_http_json_res_t *res)
{
    int                  rc;
    long                 status;
    char                *text;
    CURL                *h;
    CURLcode             cc;
    rp_buf_t             buf;
    const char *const   *hdr;
    struct curl_slist   *list, *more;

    memset(res, 0, sizeof(*res));
    memset(&buf, 0, sizeof(buf));
    buf.max = req->max;
    list = NULL;
    text = NULL;
    rc = -1;

    h = req->handle ? req->handle : curl_easy_init();

    if (h == NULL) {
        snprintf(res->error, sizeof(res->error), "libcurl could not start");
        return -1;
    }

    if (req->handle) {
        curl_easy_reset(h);
    }

    for (hdr = req->headers; hdr && *hdr; hdr++) {
        more = curl_slist_append(list, *hdr);
        if (more == NULL) {
            goto nomem;
        }

        list = more;
    }

    if (req->body) {
        text = json_dumps(req->body, JSON_COMPACT);
        if (text == NULL) {
            goto nomem;
        }

        /* "Expect:": no 100-continue round trip for a small body */
        more = curl_slist_append(list, "Content-Type: application/json");
        more = more ? curl_slist_append(more, "Expect:") : NULL;
        if (more == NULL) {
            goto nomem;
        }

        list = more;

        curl_easy_setopt(h, CURLOPT_POSTFIELDS, text);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long) strlen(text));
    }

    curl_easy_setopt(h, CURLOPT_URL, req->url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);      /* threads: no alarm */
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, req->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     req->connect_ms ? req->connect_ms : req->timeout_ms);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, rp_buf_append);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &buf);

    if (req->direct) {
        curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    }

    if (req->user_agent) {
        curl_easy_setopt(h, CURLOPT_USERAGENT, req->user_agent);
    }

    if (req->ca_file && req->ca_file[0]) {
        curl_easy_setopt(h, CURLOPT_CAINFO, req->ca_file);
    }

    cc = curl_easy_perform(h);

    if (cc == CURLE_OK) {
        status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        rp_http_json_answer(res, status, buf.data, buf.len);
        rc = 0;

    } else {
        rp_http_json_failed(res, cc, req->max);
    }

    goto done;

nomem:

    snprintf(res->error, sizeof(res->error), "out of memory");

done:

    rp_http_json_wipe_list(list);
    curl_slist_free_all(list);

    if (req->handle) {
        /* the reused handle must not keep pointers to what goes now */
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, NULL);

    } else {
        curl_easy_cleanup(h);
    }

    if (text) {
        if (req->body_secret) {
            rp_http_json_wipe(text, strlen(text));
        }

        free(text);
    }

    free(buf.data);

    return rc;
}
