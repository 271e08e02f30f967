/*
 * The engine watch: a thread of control asks every awake workspace's
 * engine for /healthz (all at once, libcurl multi, each bounded) about
 * once a second, off the job loop; the loop's once-a-second pass
 * (rc_lifecycle.c) tells it which engines to watch and reads its verdicts:
 * an engine that refuses or does not answer twice in a row is dead or
 * hung, and gets a restart job (rc_jobs.c); the desktop's state, as the
 * engine reports it, is copied to the workspace's health on change, and
 * for the Stats page whether an agent is working ("working" in the
 * workspace) and what its turns spent (the increase added to the day's
 * counters, once: rc_watch_record's script), and for the list the
 * repositories' branch, ahead and pull request ("git", when the summary's
 * hash changed: rc_history_git_put, the sleep's writer too).
 */

#ifndef RC_WATCH_H
#define RC_WATCH_H

#include "rc_worker.h"


#define RC_WATCH_EVERY_MS     1000
#define RC_WATCH_TIMEOUT_MS   800
/* failed probes in a row before a restart */
#define RC_WATCH_FAILS        2
/* restarts in RC_WATCH_WINDOW_S before the workspace is failed */
#define RC_WATCH_RESTARTS     3
#define RC_WATCH_WINDOW_S     300


typedef struct {
    int   fails;            /* probes in a row without a 200 */
    int   refused;          /* the last one: connection refused */
    int   probed;           /* at least one probe since watched */
    int   busy;             /* the last answer's "busy": a hook or an agent */
    char  desktop[24];      /* the engine's word: off, running, ... */
} rc_watch_verdict_t;


/* what the engine's turns spent, its /healthz "usage" (kept by the engine
 * across restarts, named by id: a new id is a new count from 0) */
typedef struct {
    char       id[33];
    long long  turns;
    long long  in;
    long long  out;
    long long  cost;        /* micro-USD */
} rc_watch_usage_t;


/* the loop's side, all from the job loop's thread.  check: an awake
 * workspace's sandbox, once a pass: watched, and acted on if its engine
 * failed; trouble: a restart job (once, however often it is asked) */
void rc_watch_check(rc_worker_t *w, const rc_sandbox_t *sb);
void rc_watch_trouble(rc_worker_t *w, const char *ws, const char *reason);

void rc_watch_want(const char *ws, const char *addr);
/* ends a pass: engines not wanted in it are no longer watched */
void rc_watch_sweep(void);
/* 0 and v, or -1 when the workspace is not watched */
int rc_watch_verdict(const char *ws, rc_watch_verdict_t *v);
/* forgets what was seen (after a restart: the new engine starts afresh) */
void rc_watch_reset(const char *ws);
/* the desktop state last written for ws, kept by the caller's pass */
int rc_watch_desktop_changed(const char *ws, const char *desktop);
/* the Stats page's: whether an agent runs a turn ("working"), and what
 * turns spent, each 1 (with *working or *u) when it changed since it was
 * last written for ws (then it counts as written) */
int rc_watch_working_changed(const char *ws, int *working);
int rc_watch_usage_changed(const char *ws, rc_watch_usage_t *u);
/* the repositories' summary (rc_git_state.h's text, *git the caller's to
 * free) when it changed since it was last written for ws; unwritten: the
 * write failed or had to wait, try again next pass */
int rc_watch_git_changed(const char *ws, char **git);
void rc_watch_git_unwritten(const char *ws);

#endif /* RC_WATCH_H */
