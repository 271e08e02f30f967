/*
 * Can the agent reach its model API?  The CLIs retry an unreachable one
 * with backoff for minutes (Claude Code 10 times, up to 10 minutes a
 * request; Codex "Reconnecting..." five times a request), printing little
 * or nothing, so a turn whose ANTHROPIC_BASE_URL is wrong would just hang.
 * The chat runner (re_chats.c) watches each turn: when the CLI goes quiet
 * or says it retries, it asks here whether the model's base URL answers
 * HTTP at all, and stops a turn whose model stays unreachable (the
 * watchdog's steps, re_model_watch).  Agent-agnostic: the adapter names
 * only the variable its base URL is in (re_agent_t.url_vars).
 */

#ifndef RE_MODEL_H
#define RE_MODEL_H

#include <stddef.h>
#include <sys/types.h>

#include "re_agent.h"


#define RE_MODEL_QUIET_MS    10000  /* a quiet CLI this long: probe */
#define RE_MODEL_PROBE_MS    10000  /* one probe's bound, DNS included */
#define RE_MODEL_AGAIN_MS    10000  /* after a failed probe, the next */
#define RE_MODEL_RECHECK_MS  30000  /* after a good one, the next */
#define RE_MODEL_GRACE_MS     3000  /* SIGTERM, then SIGKILL */


/* one turn's watch, zeroed by re_model_watch_init */
typedef struct {
    char        url[1024];      /* probed, with no userinfo; "": none */
    char        error[128];     /* the last failure: "connection refused" */
    char        detail[256];    /* libcurl's words for it */
    long long   last_output;    /* ms: the CLI's last line */
    long long   last_probe;     /* ms: when the last probe started */
    long long   first_failure;  /* ms: the first of the failed run, 0 none */
    int         failures;       /* failed probes in a row */
    int         retries_seen;   /* the adapter's t->retries, seen */
    int         stopped;        /* the watchdog sent SIGTERM */
    int         killed;         /* and SIGKILL */
    long long   stopped_at;
} re_model_watch_t;


/* the agent's model base URL from the turn's environment (its url_vars,
 * else its default), or "" when it has none to probe */
void re_model_watch_init(re_model_watch_t *w, const re_agent_t *agent,
    char *const *envp);

/*
 * One step of the watchdog, called by the runner at least once a second
 * while the CLI (process group pgid) runs: probes when due (blocking this
 * thread for at most RE_MODEL_PROBE_MS; the runner's thread is the
 * chat's own), emits agent.error at the first failure, and SIGTERMs the
 * CLI once the model failed two probes RE_MODEL_AGAIN_MS apart (SIGKILL
 * RE_MODEL_GRACE_MS later).
 */
void re_model_watch(re_model_watch_t *w, re_turn_t *t, const char *agent,
    pid_t pgid);

/*
 * Whether url answers HTTP within RE_MODEL_PROBE_MS: a HEAD with no
 * credentials, through the proxy envp names; any status counts.  1 yes;
 * 0 no, with a short error ("connection refused", "timed out", "could
 * not resolve host") and libcurl's message.
 */
int re_model_probe(const char *url, char *const *envp, char *error,
    size_t errlen, char *detail, size_t detlen);

#endif /* RE_MODEL_H */
