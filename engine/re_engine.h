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


/* the HTTP server (re_http.c): starts its own thread; 0 or -1 */
int re_http_start(void);
void re_http_stop(void);

#endif /* RE_ENGINE_H */
