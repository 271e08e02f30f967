/*
 * replicas-engine: the process inside each workspace.  What the server's
 * parts share: its settings and whether it is stopping.
 */

#ifndef RE_ENGINE_H
#define RE_ENGINE_H

#include <stdatomic.h>

#define RE_VERSION  "0.1.0"


typedef struct {
    const char   *listen;       /* HOST:PORT, [V6]:PORT */
    const char   *state_dir;
    const char   *workdir;
    const char   *workspace;    /* NULL when REPLICAS_WORKSPACE is empty */
    long long     started_ms;
    atomic_int    stopping;
} re_engine_t;

extern re_engine_t  re_engine;


/*
 * Threads and locks.
 *
 * Threads: the HTTP server runs a thread per connection (an SSE or
 * WebSocket stream keeps its thread for its life); each chat with a
 * turn running has one (re_chats.c); the start hook, the health checker
 * and the desktop each have one; a POST /git/update runs in its request's
 * thread.
 *
 * Each file keeps its state in one static struct behind one mutex.  A
 * thread that holds more than one takes them in this order (a lock may
 * be taken while holding any lock above it, never one below it):
 *
 *   1. re_git_lock        (re_git.c: the work tree; re_git_update.c
 *                          asks re_chats_busy while holding it)
 *   2. re_chats.lock      (re_chats.c)
 *      re_msgs.lock       (re_messages.c)
 *      re_start.lock      (re_start.c: takes re_health.lock, then events)
 *      re_desktop.lock    (re_desktop.c: takes re_platform.lock)
 *      re_claim_lock      (re_http.c)
 *   3. re_health.lock, re_platform.lock, re_git_ahead_lock (re_git.c:
 *                          the ahead counts of /healthz's summary; a leaf)
 *   4. re_ev.lock         (re_events.c): the innermost; re_events_emit
 *                          is called under most of the above, and
 *                          nothing is called out of re_events.c while
 *                          it is held.
 *
 * Locks on one level are never held together.  A chat's turn thread
 * takes re_git_lock (re_git_wait) only with no lock held.  The log
 * (rp_log.c) takes no lock: one write(2) a line.
 */


/* the HTTP server (re_http.c): starts its own thread; 0 or -1 */
int re_http_start(void);
void re_http_stop(void);

#endif /* RE_ENGINE_H */
