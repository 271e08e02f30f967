/*
 * The workspace's desktop: a virtual screen (Xvfb, 1920x1080, 24-bit) with
 * a window manager (openbox), shared over VNC by x11vnc on the
 * workspace's own loopback only, and served to browsers as noVNC by
 * websockify on 0.0.0.0:6080.  The platform proxies 6080 as an
 * authenticated preview (the dashboard's Desktop tab); agents and hooks
 * get DISPLAY, so a browser they start shows there.
 *
 * The engine starts the four programs when it starts (`serve --desktop
 * on`), restarts one that dies (with a growing pause, so a program that
 * cannot run does not spin), and stops them when it stops.  A thread of
 * its own does all of it: nothing here ever blocks a request.  After each
 * /start (which brings the platform's key) the same thread registers 6080
 * with the platform.
 */

#ifndef RE_DESKTOP_H
#define RE_DESKTOP_H

#include <jansson.h>


#define RE_DESKTOP_DISPLAY  ":1"
#define RE_DESKTOP_PORT     6080


/*
 * Before any other thread starts (it sets DISPLAY in the engine's
 * environment, which hooks and agents inherit).  on = 0: nothing runs.
 * 0, or -1 if the thread could not start.
 */
int re_desktop_init(const char *state_dir, int on);

/* from each /start: 0 stops the programs (the repository says
 * "desktop": false), 1 has them run again; nothing if --desktop off */
void re_desktop_enable(int on);

/* the platform is known (a /start): register 6080 with it, soon, from
 * the desktop's thread */
void re_desktop_register(void);

/* {state: off|unavailable|starting|running|restarting|stopping,
 *  display, port, url}: for /healthz and /computer */
json_t *re_desktop_status(void);

/* stops the programs (SIGTERM, SIGKILL 3 s later) and the thread */
void re_desktop_shutdown(void);

#endif /* RE_DESKTOP_H */
