/*
 * What /healthz says about the workspace that costs a scan to learn (the
 * ports that listen, the repositories' branch and head, the desktop, how
 * full the disk is), kept by a thread of its own and read from memory:
 * /healthz answers in microseconds however often control asks.  The ports
 * are looked at every RE_HEALTH_FAST_MS while the engine is young or its
 * start hook runs (a wake waits for them), every RE_HEALTH_SLOW_MS after;
 * git, the desktop and the disk every RE_HEALTH_SLOW_MS.
 * re_health_touch() asks for a refresh soon (a start hook's end);
 * re_health_git_changed() rescans git at once (a turn's commit, a rebase,
 * a push, a pull request opened); a branch switched in a shell is seen at
 * the next RE_HEALTH_SLOW_MS scan.  Never any git work per /healthz.
 */

#ifndef RE_HEALTH_H
#define RE_HEALTH_H

#include <jansson.h>


#define RE_HEALTH_FAST_MS   50
#define RE_HEALTH_SLOW_MS   2000

int re_health_start(void);
void re_health_touch(void);
/* the repositories' branch and head scanned again, now, in the caller's
 * thread: after a turn's commit or a rebase, so the next /healthz has
 * them (call with no git lock held) */
void re_health_git_changed(void);

/* copies, the caller's to free */
json_t *re_health_ports(void);
json_t *re_health_repositories(void);
json_t *re_health_desktop(void);
json_t *re_health_disk(void);
/* the ports scanned now (the cache too): for what must not be a moment
 * stale, as the ports a sleep remembers */
json_t *re_health_ports_now(void);

#endif /* RE_HEALTH_H */
