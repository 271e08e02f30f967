/* The workspace's desktop: see re_desktop.h. */

#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "re_desktop.h"
#include "re_engine.h"
#include "re_hooks.h"
#include "re_log.h"
#include "re_platform.h"
#include "re_ports.h"
#include "re_previews.h"


#define RE_DESKTOP_TICK_MS      250
#define RE_DESKTOP_BACKOFF_MIN  1000
#define RE_DESKTOP_BACKOFF_MAX  30000
/* a program that ran this long before it died starts again at once */
#define RE_DESKTOP_STABLE_MS    30000
#define RE_DESKTOP_STOP_MS      3000
/* the log is started afresh when the engine starts past this */
#define RE_DESKTOP_LOG_MAX      (4 * 1024 * 1024)

#define RE_DESKTOP_VNC_PORT     5900
#define RE_DESKTOP_VNC_PORT_S   "5900"

#define RE_DESKTOP_X_DIR        "/tmp/.X11-unix"
#define RE_DESKTOP_X_SOCKET     RE_DESKTOP_X_DIR "/X1"


typedef struct {
    const char   *name;
    char *const  *argv;
    int           needs_x;      /* waits for the X server's socket */
    pid_t         pid;          /* 0: not running */
    long long     started_ms;
    long long     next_ms;      /* not before this */
    unsigned      backoff_ms;
    unsigned      starts;
} re_desktop_proc_t;


/* "-wr": a white root window, so the first sight is not a black screen */
static char *const  re_desktop_xvfb[] = {
    "/usr/bin/Xvfb", RE_DESKTOP_DISPLAY, "-screen", "0", "1920x1080x24",
    "-wr", "-nolisten", "tcp", NULL
};

static char *const  re_desktop_openbox[] = {
    "/usr/bin/openbox", NULL
};

/* the desktop's card: which workspace this is and what shows here, in
 * the middle of the screen under whatever the agent opens (no buttons:
 * it stays; closed, it is started again like any program here) */
static char  re_desktop_card_text[256] =
    "  Replicas workspace  \n\n  This is the agent's desktop: the browsers\n"
    "  and apps it opens show here.  ";

/* large, dark and without scroll bars, so that it reads at the Desktop
 * tab's scale (a 1920x1080 screen in a frame of a third of that); the
 * font is one of fonts-urw-base35's scalable ones, and xmessage falls
 * back to its default font where it is missing */
static char *const  re_desktop_card[] = {
    "/usr/bin/xmessage", "-center", "-buttons", "",
    "-bg", "#1e293b", "-fg", "#f1f5f9",
    "-fn", "-*-helvetica-bold-r-normal--40-*-*-*-p-*-iso8859-1",
    "-xrm", "*message.scrollVertical: never",
    "-xrm", "*message.scrollHorizontal: never",
    re_desktop_card_text, NULL
};

/* on the workspace's loopback only, without a password: only websockify
 * (in the same network namespace) reaches it, and the gateway
 * authenticates everyone who reaches websockify */
static char *const  re_desktop_x11vnc[] = {
    "/usr/bin/x11vnc", "-display", RE_DESKTOP_DISPLAY, "-localhost",
    "-rfbport", RE_DESKTOP_VNC_PORT_S, "-forever", "-shared", "-nopw",
    "-quiet", NULL
};

static char *const  re_desktop_websockify[] = {
    "/usr/bin/websockify", "--web", "/usr/share/novnc", "0.0.0.0:6080",
    "127.0.0.1:" RE_DESKTOP_VNC_PORT_S, NULL
};


static struct {
    pthread_mutex_t     lock;
    pthread_cond_t      wake;
    int                 on;
    int                 unavailable;
    int                 disabled;      /* by the repository, at /start */
    int                 stop;
    int                 ever_up;       /* was "running" once: a program
                                          down since is "restarting" */
    int                 register_due;
    long long           register_ms;   /* next try */
    unsigned            register_backoff;
    char               *url;           /* the platform's, once registered */
    char                log_path[4200];
    pthread_t           thread;
    int                 thread_live;
    re_desktop_proc_t   procs[5];
} re_desktop = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
    .procs = {
        { "Xvfb", re_desktop_xvfb, 0, 0, 0, 0, 0, 0 },
        { "openbox", re_desktop_openbox, 1, 0, 0, 0, 0, 0 },
        { "card", re_desktop_card, 1, 0, 0, 0, 0, 0 },
        { "x11vnc", re_desktop_x11vnc, 1, 0, 0, 0, 0, 0 },
        { "websockify", re_desktop_websockify, 0, 0, 0, 0, 0, 0 },
    },
};

#define RE_DESKTOP_NPROCS                                                     \
    (sizeof(re_desktop.procs) / sizeof(re_desktop_proc_t))


/* the child, between fork and exec: async-signal-safe calls only */
static void
re_desktop_child(char *const argv[], int log_fd)
{
    static const char msg[] = "[replicas] cannot execute the program\n";

    /* its own group: stopped with everything it started, nothing else */
    re_child_setup(log_fd, log_fd);

    if (chdir("/tmp") != 0) {
        (void) chdir("/");
    }

    execve(argv[0], argv, environ);

    (void) write(STDERR_FILENO, msg, sizeof(msg) - 1);
    _exit(127);
}


static void
re_desktop_spawn(re_desktop_proc_t *p, long long now)
{
    int    fd;
    pid_t  pid;

    fd = open(re_desktop.log_path,
              O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);

    if (fd != -1) {
        dprintf(fd, "[replicas] starting %s\n", p->name);
    }

    pid = fork();

    if (pid == 0) {
        re_desktop_child(p->argv, fd);
    }

    if (fd != -1) {
        close(fd);
    }

    p->starts++;
    p->started_ms = now;

    if (pid < 0) {
        re_error("desktop.spawn_failed", "program=%s errno=%d", p->name,
                 errno);
        p->next_ms = now + RE_DESKTOP_BACKOFF_MAX;
        return;
    }

    p->pid = pid;
    re_info("desktop.start", "program=%s pid=%d starts=%u", p->name,
            (int) pid, p->starts);
}


/* reaps the programs that ended; sets when they may start again */
static void
re_desktop_reap(long long now)
{
    int                 status;
    size_t              i;
    pid_t               done;
    re_desktop_proc_t  *p;

    for (i = 0; i < RE_DESKTOP_NPROCS; i++) {
        p = &re_desktop.procs[i];

        if (p->pid == 0) {
            continue;
        }

        done = waitpid(p->pid, &status, WNOHANG);

        if (done == 0 || (done < 0 && errno == EINTR)) {
            continue;
        }

        if (now - p->started_ms >= RE_DESKTOP_STABLE_MS) {
            p->backoff_ms = RE_DESKTOP_BACKOFF_MIN;

        } else {
            p->backoff_ms = p->backoff_ms == 0
                            ? RE_DESKTOP_BACKOFF_MIN
                            : p->backoff_ms * 2;
            if (p->backoff_ms > RE_DESKTOP_BACKOFF_MAX) {
                p->backoff_ms = RE_DESKTOP_BACKOFF_MAX;
            }
        }

        re_warn("desktop.exit", "program=%s pid=%d status=%d ran_ms=%lld "
                "restart_in_ms=%u", p->name, (int) p->pid,
                done < 0 ? -1
                : WIFEXITED(status) ? WEXITSTATUS(status)
                                    : 128 + WTERMSIG(status),
                now - p->started_ms, p->backoff_ms);

        p->pid = 0;
        p->next_ms = now + p->backoff_ms;
    }
}


/* the platform call, outside the lock: it may take seconds */
static void
re_desktop_register_now(long long now)
{
    long         status;
    json_t      *reply;
    unsigned     retry;
    const char  *url;

    status = re_platform_call("POST", "/previews",
                              json_pack("{s:i, s:s}", "port",
                                        RE_DESKTOP_PORT, "visibility",
                                        "authenticated"),
                              &reply);

    url = json_string_value(json_object_get(reply, "url"));

    pthread_mutex_lock(&re_desktop.lock);

    if (status >= 200 && status < 300) {
        free(re_desktop.url);
        re_desktop.url = url ? strdup(url) : NULL;
        re_desktop.register_due = 0;
        re_desktop.register_backoff = 0;

    } else {
        re_desktop.register_backoff = re_desktop.register_backoff == 0
                                      ? RE_DESKTOP_BACKOFF_MIN
                                      : re_desktop.register_backoff * 2;
        if (re_desktop.register_backoff > RE_DESKTOP_BACKOFF_MAX) {
            re_desktop.register_backoff = RE_DESKTOP_BACKOFF_MAX;
        }
        re_desktop.register_ms = now + re_desktop.register_backoff;
    }

    retry = re_desktop.register_backoff;

    pthread_mutex_unlock(&re_desktop.lock);

    json_decref(reply);

    if (status >= 200 && status < 300) {
        re_info("desktop.registered", "port=%d status=%ld", RE_DESKTOP_PORT,
                status);
        re_previews_announce();

    } else {
        re_warn("desktop.register_failed", "port=%d status=%ld retry_ms=%u",
                RE_DESKTOP_PORT, status, retry);
    }
}


/* the status reads pids under the lock */
static void
re_desktop_gone(re_desktop_proc_t *p)
{
    pthread_mutex_lock(&re_desktop.lock);
    p->pid = 0;
    pthread_mutex_unlock(&re_desktop.lock);
}


/* called without the lock */
static void
re_desktop_stop_all(void)
{
    int                 alive;
    size_t              i;
    long long           deadline;
    re_desktop_proc_t  *p;
    struct timespec     ts = { 0, 50 * 1000 * 1000 };

    /* the clients before the server they use */
    for (i = RE_DESKTOP_NPROCS; i-- > 0; ) {
        p = &re_desktop.procs[i];
        if (p->pid > 0 && kill(-p->pid, SIGTERM) != 0) {
            (void) kill(p->pid, SIGTERM);
        }
    }

    deadline = re_now_ms() + RE_DESKTOP_STOP_MS;

    for ( ;; ) {
        alive = 0;

        for (i = 0; i < RE_DESKTOP_NPROCS; i++) {
            p = &re_desktop.procs[i];
            if (p->pid > 0) {
                if (waitpid(p->pid, NULL, WNOHANG) == 0) {
                    alive++;
                } else {
                    re_desktop_gone(p);
                }
            }
        }

        if (alive == 0 || re_now_ms() >= deadline) {
            break;
        }

        nanosleep(&ts, NULL);
    }

    for (i = 0; i < RE_DESKTOP_NPROCS; i++) {
        p = &re_desktop.procs[i];
        if (p->pid > 0) {
            re_warn("desktop.kill", "program=%s pid=%d", p->name,
                    (int) p->pid);
            if (kill(-p->pid, SIGKILL) != 0) {
                (void) kill(p->pid, SIGKILL);
            }
            while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR) {
                /* reaped */
            }
            re_desktop_gone(p);
        }
    }
}


static void *
re_desktop_run(void *arg)
{
    int                 x_up, reg;
    size_t              i;
    long long           now;
    struct timespec     ts;
    re_desktop_proc_t  *p;

    (void) arg;

    pthread_mutex_lock(&re_desktop.lock);

    while (!re_desktop.stop) {
        now = re_now_ms();

        /* the programs are this thread's alone: the lock guards what
         * the status reads */
        re_desktop_reap(now);

        if (re_desktop.disabled) {
            /* stopping takes up to 3 s: not under the lock */
            pthread_mutex_unlock(&re_desktop.lock);
            re_desktop_stop_all();
            pthread_mutex_lock(&re_desktop.lock);

            /* until a /start turns it on again, or the engine stops */
            while (re_desktop.disabled && !re_desktop.stop) {
                (void) pthread_cond_wait(&re_desktop.wake, &re_desktop.lock);
            }

            continue;
        }

        x_up = re_desktop.procs[0].pid > 0
               && access(RE_DESKTOP_X_SOCKET, F_OK) == 0;

        for (i = 0; i < RE_DESKTOP_NPROCS; i++) {
            p = &re_desktop.procs[i];

            if (p->pid == 0 && now >= p->next_ms && (!p->needs_x || x_up)) {
                re_desktop_spawn(p, now);
            }
        }

        reg = re_desktop.register_due && now >= re_desktop.register_ms
              && re_platform_ready();

        if (reg) {
            pthread_mutex_unlock(&re_desktop.lock);
            re_desktop_register_now(now);
            pthread_mutex_lock(&re_desktop.lock);
            continue;
        }

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += RE_DESKTOP_TICK_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }

        (void) pthread_cond_timedwait(&re_desktop.wake, &re_desktop.lock,
                                      &ts);
    }

    pthread_mutex_unlock(&re_desktop.lock);

    re_desktop_stop_all();

    return NULL;
}


int
re_desktop_init(const char *state_dir, int on)
{
    int          fd;
    size_t       i;
    const char  *ws;
    struct stat  st;

    re_desktop.on = on;

    if (!on) {
        return 0;
    }

    for (i = 0; i < RE_DESKTOP_NPROCS; i++) {
        if (access(re_desktop.procs[i].argv[0], X_OK) != 0) {
            /* the image lacks the packages: said in /healthz, the engine
             * goes on without a desktop */
            re_error("desktop.unavailable", "missing=%s",
                     re_desktop.procs[i].argv[0]);
            re_desktop.unavailable = 1;
            return 0;
        }
    }

    snprintf(re_desktop.log_path, sizeof(re_desktop.log_path),
             "%s/desktop.log", state_dir);

    ws = getenv("REPLICAS_WORKSPACE");

    if (ws != NULL && ws[0] != '\0' && strlen(ws) < 64) {
        snprintf(re_desktop_card_text, sizeof(re_desktop_card_text),
                 "  Replicas workspace %s  \n\n  This is the agent's "
                 "desktop: the browsers\n  and apps it opens show here.  ",
                 ws);
    }

    if (stat(re_desktop.log_path, &st) == 0
        && st.st_size > RE_DESKTOP_LOG_MAX)
    {
        fd = open(re_desktop.log_path,
                  O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
        if (fd != -1) {
            close(fd);
        }
    }

    /* the X server's socket directory: Xvfb, not root, does not make it
     * (the sandbox's /tmp is its own, empty at each start) */
    if (mkdir(RE_DESKTOP_X_DIR, 01777) == 0 || errno == EEXIST) {
        (void) chmod(RE_DESKTOP_X_DIR, 01777);
    }

    /* hooks and agents inherit it (a workspace's own DISPLAY wins) */
    setenv("DISPLAY", RE_DESKTOP_DISPLAY, 1);

    if (pthread_create(&re_desktop.thread, NULL, re_desktop_run, NULL) != 0)
    {
        re_error("desktop.thread_failed", "errno=%d", errno);
        return -1;
    }

    re_desktop.thread_live = 1;
    re_info("desktop.init", "display=%s port=%d", RE_DESKTOP_DISPLAY,
            RE_DESKTOP_PORT);

    return 0;
}


void
re_desktop_enable(int on)
{
    if (!re_desktop.on || re_desktop.unavailable) {
        return;
    }

    pthread_mutex_lock(&re_desktop.lock);

    if (re_desktop.disabled != !on) {
        re_info("desktop.enable", "on=%d", on);
    }

    re_desktop.disabled = !on;
    pthread_cond_signal(&re_desktop.wake);
    pthread_mutex_unlock(&re_desktop.lock);
}


void
re_desktop_register(void)
{
    if (!re_desktop.on || re_desktop.unavailable) {
        return;
    }

    pthread_mutex_lock(&re_desktop.lock);
    re_desktop.register_due = 1;
    re_desktop.register_ms = 0;
    re_desktop.register_backoff = 0;
    pthread_cond_signal(&re_desktop.wake);
    pthread_mutex_unlock(&re_desktop.lock);
}


json_t *
re_desktop_status(void)
{
    int          all, listening;
    size_t       i, n;
    json_t      *j;
    unsigned     ports[RE_PORTS_MAX];
    const char  *state;

    if (!re_desktop.on) {
        return json_pack("{s:s, s:n, s:n, s:n}", "state", "off", "display",
                         "port", "url");
    }

    if (re_desktop.unavailable) {
        return json_pack("{s:s, s:n, s:n, s:n}", "state", "unavailable",
                         "display", "port", "url");
    }

    /* the desktop answers once websockify (6080) and x11vnc (5900, on
     * loopback) both listen */
    listening = 0;
    n = re_ports_listening(ports, RE_PORTS_MAX);
    for (i = 0; i < n; i++) {
        listening |= ports[i] == RE_DESKTOP_PORT ? 1
                     : ports[i] == RE_DESKTOP_VNC_PORT ? 2 : 0;
    }

    listening = listening == 3;

    pthread_mutex_lock(&re_desktop.lock);

    if (re_desktop.disabled) {
        pthread_mutex_unlock(&re_desktop.lock);
        return json_pack("{s:s, s:n, s:n, s:n}", "state", "off", "display",
                         "port", "url");
    }

    all = 1;
    for (i = 0; i < RE_DESKTOP_NPROCS; i++) {
        all = all && re_desktop.procs[i].pid > 0;
    }

    if (all && listening) {
        re_desktop.ever_up = 1;
    }

    state = re_desktop.stop ? "stopping"
            : all && listening ? "running"
            : re_desktop.ever_up ? "restarting"
            : "starting";

    j = json_pack("{s:s, s:s, s:i, s:s?}", "state", state, "display",
                  RE_DESKTOP_DISPLAY, "port", RE_DESKTOP_PORT, "url",
                  re_desktop.url);

    pthread_mutex_unlock(&re_desktop.lock);

    return j;
}


void
re_desktop_shutdown(void)
{
    if (!re_desktop.thread_live) {
        return;
    }

    pthread_mutex_lock(&re_desktop.lock);
    re_desktop.stop = 1;
    pthread_cond_signal(&re_desktop.wake);
    pthread_mutex_unlock(&re_desktop.lock);

    pthread_join(re_desktop.thread, NULL);
    re_desktop.thread_live = 0;
}
