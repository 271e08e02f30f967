/* The platform's API from the engine, with libcurl: see re_platform.h. */

#define _GNU_SOURCE

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "common/rp_buf.h"
#include "re_engine.h"
#include "re_platform.h"


#define RE_PLATFORM_REPLY_MAX  (1024 * 1024)


static struct {
    pthread_mutex_t   lock;
    char             *url;
    char             *host;
    char             *token;
} re_platform = { .lock = PTHREAD_MUTEX_INITIALIZER };


static void
re_platform_wipe_free(char *s)
{
    if (s) {
        memset(s, 0, strlen(s));
        free(s);
    }
}


void
re_platform_set(const char *url, const char *host, const char *token)
{
    pthread_mutex_lock(&re_platform.lock);

    free(re_platform.url);
    free(re_platform.host);
    re_platform_wipe_free(re_platform.token);

    re_platform.url = url ? strdup(url) : NULL;
    re_platform.host = url && host ? strdup(host) : NULL;
    re_platform.token = url && token ? strdup(token) : NULL;

    pthread_mutex_unlock(&re_platform.lock);
}


int
re_platform_ready(void)
{
    int  ready;

    pthread_mutex_lock(&re_platform.lock);
    ready = re_platform.url != NULL && re_platform.token != NULL
            && re_engine.workspace != NULL;
    pthread_mutex_unlock(&re_platform.lock);

    return ready;
}


long
re_platform_call(const char *method, const char *path, json_t *body,
    json_t **reply)
{
    char               url[1024], auth[320], host[340], *text;
    long               status;
    CURL              *curl;
    rp_buf_t           buf;
    struct curl_slist *headers, *h;

    *reply = NULL;

    pthread_mutex_lock(&re_platform.lock);

    if (re_platform.url == NULL || re_platform.token == NULL
        || re_engine.workspace == NULL)
    {
        pthread_mutex_unlock(&re_platform.lock);
        return 0;
    }

    snprintf(url, sizeof(url), "%s/v1/workspaces/%s%s", re_platform.url,
             re_engine.workspace, path);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
             re_platform.token);
    snprintf(host, sizeof(host), "Host: %s",
             re_platform.host ? re_platform.host : "");

    pthread_mutex_unlock(&re_platform.lock);

    curl = curl_easy_init();
    if (curl == NULL) {
        memset(auth, 0, sizeof(auth));
        return 0;
    }

    headers = curl_slist_append(NULL, auth);
    memset(auth, 0, sizeof(auth));

    /* the API builds preview URLs from the Host it was reached by */
    if (host[6] != '\0') {
        headers = curl_slist_append(headers, host);
    }

    text = NULL;

    if (body) {
        text = json_dumps(body, JSON_COMPACT);
        headers = curl_slist_append(headers, "Content-Type: application/json");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, text ? text : "{}");
    }

    buf.data = NULL;
    buf.len = 0;
    buf.max = RE_PLATFORM_REPLY_MAX;

    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, rp_buf_append);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &buf);

    status = 0;

    if (curl_easy_perform(curl) == CURLE_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);

        if (buf.data) {
            *reply = json_loadb(buf.data, buf.len, 0, NULL);
        }
    }

    /* the key was in a header: clear the list's copy before it goes */
    for (h = headers; h; h = h->next) {
        memset(h->data, 0, strlen(h->data));
    }

    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    free(text);
    free(buf.data);

    return status;
}
