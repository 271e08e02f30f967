/* The model API's reachability and the turn's watchdog: see re_model.h. */

#define _GNU_SOURCE

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <jansson.h>

#include "common/rp_url.h"
#include "re_events.h"
#include "re_hooks.h"
#include "re_log.h"
#include "re_model.h"


void
re_model_watch_init(re_model_watch_t *w, const re_agent_t *agent,
    char *const *envp)
{
    size_t       i;
    const char  *v;

    memset(w, 0, sizeof(*w));
    w->last_output = re_now_ms();

    v = NULL;

    for (i = 0; agent->url_vars && agent->url_vars[i]; i++) {
        v = re_env_get(envp, agent->url_vars[i]);

        if (v && v[0]) {
            break;
        }

        v = NULL;
    }

    if (v == NULL) {
        v = agent->url_default;
    }

    if (v == NULL
        || (strncasecmp(v, "http://", 7) != 0
            && strncasecmp(v, "https://", 8) != 0))
    {
        return;                             /* nothing we can probe */
    }

    snprintf(w->url, sizeof(w->url), "%s", v);
    rp_url_strip_userinfo(w->url);
}


/* the proxy the CLI would use for url, as the turn's environment says
 * (not the engine's own): "" for none */
static const char *
re_model_proxy(const char *url, char *const *envp)
{
    const char  *const *names, *v;
    size_t       i;

    static const char *const  https[] = {
        "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", NULL
    };
    static const char *const  http[] = {
        "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY", NULL
    };

    names = strncasecmp(url, "https://", 8) == 0 ? https : http;

    for (i = 0; names[i]; i++) {
        v = re_env_get(envp, names[i]);

        if (v && v[0]) {
            return v;
        }
    }

    return "";
}


static size_t
re_model_discard(char *data, size_t size, size_t n, void *arg)
{
    (void) data;
    (void) arg;

    return size * n;
}


int
re_model_probe(const char *url, char *const *envp, char *error,
    size_t errlen, char *detail, size_t detlen)
{
    char         buf[CURL_ERROR_SIZE];
    long         oserr;
    CURL        *curl;
    CURLcode     rc;
    const char  *noproxy;

    curl = curl_easy_init();
    if (curl == NULL) {
        return 1;                   /* no verdict: never stop a turn */
    }

    buf[0] = '\0';
    noproxy = re_env_get(envp, "no_proxy");
    if (noproxy == NULL) {
        noproxy = re_env_get(envp, "NO_PROXY");
    }

    /* reachability, not trust: no key is sent, so a private CA the CLI
     * is told about (NODE_EXTRA_CA_CERTS) must not make it "unreachable" */
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long) RE_MODEL_PROBE_MS);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long) RE_MODEL_PROBE_MS);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(curl, CURLOPT_PROXY, re_model_proxy(url, envp));
    curl_easy_setopt(curl, CURLOPT_NOPROXY, noproxy);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "replicas-engine (model probe)");
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, buf);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, re_model_discard);

    rc = curl_easy_perform(curl);

    oserr = 0;
    (void) curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &oserr);
    curl_easy_cleanup(curl);

    /* any HTTP answer, 404 or 401 included: something serves there */
    if (rc == CURLE_OK) {
        return 1;
    }

    if (rc == CURLE_OPERATION_TIMEDOUT) {
        snprintf(error, errlen, "timed out");

    } else if (rc == CURLE_COULDNT_RESOLVE_HOST
               || rc == CURLE_COULDNT_RESOLVE_PROXY)
    {
        snprintf(error, errlen, "could not resolve host");

    } else if (oserr != 0) {
        snprintf(error, errlen, "%s", strerror((int) oserr));
        error[0] = (char) (error[0] >= 'A' && error[0] <= 'Z'
                           ? error[0] - 'A' + 'a' : error[0]);

    } else {
        snprintf(error, errlen, "%s", curl_easy_strerror(rc));
    }

    snprintf(detail, detlen, "%s", buf[0] ? buf : curl_easy_strerror(rc));
    rp_url_strip_userinfo(detail);

    return 0;
}


/* is a probe due now? */
static int
re_model_due(re_model_watch_t *w, re_turn_t *t, long long now)
{
    int  retried;

    retried = t->retries != w->retries_seen;
    w->retries_seen = t->retries;

    if (w->last_probe == 0) {
        return retried || now - w->last_output >= RE_MODEL_QUIET_MS;
    }

    /* unreachable: look again soon, whatever the CLI prints meanwhile */
    if (w->failures) {
        return now - w->last_probe >= RE_MODEL_AGAIN_MS;
    }

    return (retried || now - w->last_output >= RE_MODEL_QUIET_MS)
           && now - w->last_probe >= RE_MODEL_RECHECK_MS;
}


void
re_model_watch(re_model_watch_t *w, re_turn_t *t, const char *agent,
    pid_t pgid)
{
    char       msg[1600];
    long long  now;

    now = re_now_ms();

    if (w->stopped) {
        if (!w->killed && now - w->stopped_at >= RE_MODEL_GRACE_MS) {
            (void) kill(-pgid, SIGKILL);
            w->killed = 1;
        }
        return;
    }

    if (w->url[0] == '\0' || !re_model_due(w, t, now)) {
        return;
    }

    w->last_probe = now;

    if (re_model_probe(w->url, t->envp, w->error, sizeof(w->error),
                       w->detail, sizeof(w->detail)))
    {
        if (w->failures) {
            re_info("model.reachable", "chat=%s seq=%lld", t->chat, t->seq);
        }

        w->failures = 0;
        w->first_failure = 0;
        return;
    }

    if (w->failures++ == 0) {
        w->first_failure = now;

        snprintf(msg, sizeof(msg), "the model API at %s cannot be reached "
                 "(%s): %s", w->url, w->error, w->detail);
        re_warn("model.unreachable", "chat=%s seq=%lld error=\"%s\"",
                t->chat, t->seq, w->error);
        re_events_emit("agent.error",
            json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:b}", "chat", t->chat,
                      "seq", (json_int_t) t->seq, "agent", agent,
                      "message", msg, "url", w->url, "error", w->error,
                      "reachable", 0));
    }

    /* two failures, far enough apart to be more than a blip: the turn
     * cannot go on, and the CLI would retry for minutes */
    if (w->failures >= 2 && now - w->first_failure >= RE_MODEL_AGAIN_MS) {
        re_warn("model.stop_turn", "chat=%s seq=%lld error=\"%s\"", t->chat,
                t->seq, w->error);
        (void) kill(-pgid, SIGTERM);
        w->stopped = 1;
        w->stopped_at = re_now_ms();
    }
}
