/*
 * The TCP ports something listens on inside the workspace (its network
 * namespace is the engine's), read from /proc/net/tcp and tcp6.  Control
 * records them before a workspace sleeps and, after a wake, waits for the
 * start hook to have them listening again before it calls the workspace
 * awake: a request held through the wake then reaches a dev server that
 * is up, not a refused connection.
 */

#ifndef RE_PORTS_H
#define RE_PORTS_H

#include <stddef.h>


#define RE_PORTS_MAX  64

/* sorted, without duplicates; returns how many (at most max) */
size_t re_ports_listening(unsigned *ports, size_t max);

/* the same from the text of a /proc/net/tcp file (pure, for tests) */
size_t re_ports_parse(const char *text, unsigned *ports, size_t n,
    size_t max);

#endif /* RE_PORTS_H */
