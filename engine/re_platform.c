/* The platform's API from the engine (common/rp_http_json.h): see
 * re_platform.h. */

#define _GNU_SOURCE

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rp_http_json.h"
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
    char                 url[1024], auth[320], host[340];
    const char          *headers[3];
    rp_http_json_req_t   req;
    rp_http_json_res_t   res;

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

    headers[0] = auth;
    /* the API builds preview URLs from the Host it was reached by */
    headers[1] = host[6] != '\0' ? host : NULL;
    headers[2] = NULL;

    memset(&req, 0, sizeof(req));
    req.method = method;
    req.url = url;
    req.body = body;
    req.headers = headers;
    req.timeout_ms = 10000;
    req.connect_ms = 3000;
    req.max = RE_PLATFORM_REPLY_MAX;
    req.direct = 1;

    (void) rp_http_json(&req, &res);

    /* the key: the client wiped its copies, this is the last */
    explicit_bzero(auth, sizeof(auth));

    *reply = res.json;

    return res.status;
}
