/*
 * The JSON HTTP client (common/rp_http_json.c): its pure parts, then real
 * calls to a server on loopback in a thread of this test (what was sent,
 * status and JSON, no redirect followed, the size cap, the deadline, a
 * refused connection, a reused handle).
 */

#define _GNU_SOURCE

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tap.h"
#include "common/rp_http_json.h"


static struct {
    pthread_mutex_t  lock;
    int              fd;
    int              port;
    const char      *answer;      /* the whole HTTP answer */
    int              silent_ms;   /* wait this long, then close unanswered */
    int              accepted;
    char             request[4096];
} srv = { .lock = PTHREAD_MUTEX_INITIALIZER };


static void *
serve(void *arg)
{
    int          c, silent;
    char         req[4096];
    size_t       len;
    ssize_t      n;
    const char  *answer, *end, *cl;

    (void) arg;

    for ( ;; ) {
        c = accept(srv.fd, NULL, NULL);
        if (c < 0) {
            return NULL;
        }

        len = 0;

        /* the head, then as much body as Content-Length says */
        for ( ;; ) {
            n = read(c, req + len, sizeof(req) - 1 - len);
            if (n <= 0) {
                break;
            }

            len += n;
            req[len] = '\0';
            end = strstr(req, "\r\n\r\n");

            if (end == NULL) {
                continue;
            }

            cl = strcasestr(req, "Content-Length: ");

            if (cl == NULL
                || (size_t) (end + 4 - req) + (size_t) atoi(cl + 16) <= len)
            {
                break;
            }
        }

        pthread_mutex_lock(&srv.lock);
        srv.accepted++;
        memcpy(srv.request, req, len + 1);
        answer = srv.answer;
        silent = srv.silent_ms;
        pthread_mutex_unlock(&srv.lock);

        if (silent) {
            usleep(silent * 1000);

        } else if (write(c, answer, strlen(answer)) < 0) {
            /* the client gave up: nothing to do */
        }

        close(c);
    }
}


static void
expect(const char *answer, int silent_ms)
{
    pthread_mutex_lock(&srv.lock);
    srv.answer = answer;
    srv.silent_ms = silent_ms;
    srv.request[0] = '\0';
    pthread_mutex_unlock(&srv.lock);
}


static void
call(rp_http_json_req_t *req, rp_http_json_res_t *res, int *rc)
{
    *rc = rp_http_json(req, res);
}


int
main(void)
{
    int                  rc, accepted;
    char                 url[64], big[2048];
    json_t              *body;
    pthread_t            tid;
    socklen_t            alen;
    const char          *headers[] = { "X-Token: sekrit", NULL };
    struct sockaddr_in   sa;
    rp_http_json_req_t   req;
    rp_http_json_res_t   res;

    /* ---- pure ---- */

    rp_http_json_answer(&res, 200, "{\"a\":1}", 7);
    ok(res.status == 200 && json_integer_value(json_object_get(res.json, "a"))
       == 1, "an answer: status and JSON");
    json_decref(res.json);

    rp_http_json_answer(&res, 204, NULL, 0);
    ok(res.status == 204 && res.json == NULL, "no body: no JSON");

    rp_http_json_answer(&res, 502, "<html>bad gateway", 17);
    ok(res.status == 502 && res.json == NULL, "a body that is not JSON: none");

    rp_http_json_answer(&res, 200, "{\"a\":1} trailing", 16);
    ok(res.json == NULL, "JSON with something after it: none");

    rp_http_json_failed(&res, CURLE_WRITE_ERROR, 1024);
    ok(res.status == 0 && res.too_large
       && strcmp(res.error, "the answer is too large (over 1024 bytes)") == 0,
       "the size cap named: %s", res.error);

    rp_http_json_failed(&res, CURLE_COULDNT_CONNECT, 1024);
    ok(!res.too_large && strcmp(res.error,
                                curl_easy_strerror(CURLE_COULDNT_CONNECT)) == 0,
       "another failure in libcurl's words: %s", res.error);

    /* ---- a server on loopback ---- */

    curl_global_init(CURL_GLOBAL_DEFAULT);

    srv.fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    alen = sizeof(sa);

    if (srv.fd < 0 || bind(srv.fd, (struct sockaddr *) &sa, sizeof(sa)) != 0
        || listen(srv.fd, 8) != 0
        || getsockname(srv.fd, (struct sockaddr *) &sa, &alen) != 0
        || pthread_create(&tid, NULL, serve, NULL) != 0)
    {
        ok(0, "a loopback server");
        return done_testing();
    }

    srv.port = ntohs(sa.sin_port);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", srv.port);

    memset(&req, 0, sizeof(req));
    req.url = url;
    req.timeout_ms = 5000;
    req.max = 1024;
    req.direct = 1;

    /* a POST with a body and a header */
    expect("HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
           "Content-Length: 11\r\nConnection: close\r\n\r\n{\"ok\":true}", 0);
    body = json_pack("{s:i}", "a", 1);
    req.method = "POST";
    req.body = body;
    req.body_secret = 1;
    req.headers = headers;
    req.user_agent = "rp-test";
    call(&req, &res, &rc);
    ok(rc == 0 && res.status == 201, "POST: 201");
    ok(json_is_true(json_object_get(res.json, "ok")), "its JSON parsed");
    json_decref(res.json);
    pthread_mutex_lock(&srv.lock);
    ok(strncmp(srv.request, "POST /x HTTP/1.1\r\n", 18) == 0, "the method");
    ok(strcasestr(srv.request, "\r\nContent-Type: application/json\r\n")
       != NULL, "the body as JSON");
    ok(strstr(srv.request, "\r\n\r\n{\"a\":1}") != NULL, "the body sent");
    ok(strstr(srv.request, "\r\nX-Token: sekrit\r\n") != NULL,
       "the caller's header");
    ok(strstr(srv.request, "\r\nUser-Agent: rp-test\r\n") != NULL,
       "the user agent");
    ok(strcasestr(srv.request, "Expect:") == NULL, "no 100-continue");
    pthread_mutex_unlock(&srv.lock);
    ok(strcmp(headers[0], "X-Token: sekrit") == 0,
       "the caller's own header is left to the caller");
    json_decref(body);

    /* a GET: no body, no Content-Type */
    req.method = "GET";
    req.body = NULL;
    req.headers = NULL;
    req.user_agent = NULL;
    call(&req, &res, &rc);
    pthread_mutex_lock(&srv.lock);
    ok(rc == 0 && strncmp(srv.request, "GET /x ", 7) == 0
       && strcasestr(srv.request, "Content-Type") == NULL, "GET: no body");
    pthread_mutex_unlock(&srv.lock);
    json_decref(res.json);

    /* a redirect is an answer, not followed */
    expect("HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n"
           "Connection: close\r\n\r\n", 0);
    pthread_mutex_lock(&srv.lock);
    accepted = srv.accepted;
    pthread_mutex_unlock(&srv.lock);
    call(&req, &res, &rc);
    pthread_mutex_lock(&srv.lock);
    ok(rc == 0 && res.status == 302 && res.json == NULL
       && srv.accepted == accepted + 1, "a 302 is the answer, not followed");
    pthread_mutex_unlock(&srv.lock);

    /* the answer is not JSON */
    expect("HTTP/1.1 500 Oops\r\nContent-Length: 5\r\nConnection: close\r\n"
           "\r\noops!", 0);
    call(&req, &res, &rc);
    ok(rc == 0 && res.status == 500 && res.json == NULL,
       "an answer that is not JSON: its status, no JSON");

    /* past the size cap */
    memset(big, 'x', sizeof(big));
    snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\nContent-Length: 1900\r\n"
             "Connection: close\r\n\r\n");
    big[strlen(big)] = 'x';
    big[sizeof(big) - 1] = '\0';
    expect(big, 0);
    call(&req, &res, &rc);
    ok(rc == -1 && res.status == 0 && res.too_large,
       "an answer past max: refused (%s)", res.error);

    /* the deadline */
    expect(NULL, 800);
    req.timeout_ms = 300;
    call(&req, &res, &rc);
    ok(rc == -1 && res.status == 0
       && strcmp(res.error, curl_easy_strerror(CURLE_OPERATION_TIMEDOUT)) == 0,
       "no answer within timeout_ms: %s", res.error);
    req.timeout_ms = 5000;

    /* a reused handle, twice */
    expect("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n"
           "\r\n[]", 0);
    req.handle = curl_easy_init();
    call(&req, &res, &rc);
    ok(rc == 0 && json_is_array(res.json), "a reused handle: first call");
    json_decref(res.json);
    call(&req, &res, &rc);
    ok(rc == 0 && json_is_array(res.json), "and the second");
    json_decref(res.json);
    curl_easy_cleanup(req.handle);
    req.handle = NULL;

    /* nobody listening */
    shutdown(srv.fd, SHUT_RDWR);            /* wakes the accept() */
    pthread_join(tid, NULL);
    close(srv.fd);
    call(&req, &res, &rc);
    ok(rc == -1 && res.status == 0 && res.error[0] != '\0',
       "a refused connection: %s", res.error);

    curl_global_cleanup();

    return done_testing();
}
