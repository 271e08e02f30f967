/*
 * replicas-engine: arguments and the two subcommands.
 *   serve  the workspace's engine: the HTTP API on --listen (re_http.c)
 *   hook   runs one hook, JSON on stdin, and exits with its result: what
 *          the image build runs for a repository's warm hook
 */

#define _GNU_SOURCE

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "re_engine.h"
#include "re_health.h"
#include "re_files.h"
#include "re_hooks.h"
#include "re_log.h"
#include "re_chats.h"
#include "re_cli.h"
#include "re_desktop.h"
#include "re_events.h"
#include "re_messages.h"
#include "re_request.h"
#include "re_start.h"


re_engine_t  re_engine;

static atomic_int  re_hook_stop;


static void
re_usage(FILE *f)
{
    fprintf(f,
        "usage: replicas-engine serve [--listen HOST:PORT] [--state-dir DIR] "
        "[--workdir DIR]\n"
        "                             [--agents-dir DIR] [--desktop on|off]\n"
        "       replicas-engine hook [--cwd DIR] < hook.json\n"
        "       replicas-engine --version\n"
        "\n"
        "serve  the engine's HTTP API (default 0.0.0.0:3737, state in\n"
        "       /workspace/.replicas, work in /workspace); --desktop on:\n"
        "       the workspace's desktop on :6080 (off by default)\n"
        "hook   runs {\"commands\":[...],\"timeout\":ms,\"separate\":bool}\n"
        "       and exits 0 if it succeeded, 124 if it timed out, else the\n"
        "       first failing command's status\n");
}


/* --name VALUE: the value, or NULL (usage error) */
static const char *
re_arg(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "replicas-engine: %s needs a value\n", argv[*i]);
        return NULL;
    }

    return argv[++*i];
}


static int
re_serve(int argc, char **argv)
{
    int          i, sig, desktop;
    const char  *ws, *agents, *v;
    sigset_t     set;

    /* where the image put the agents' CLIs (npm prefix) */
    agents = "/opt/replicas/agents";

    re_engine.listen = "0.0.0.0:3737";
    re_engine.state_dir = "/workspace/.replicas";
    re_engine.workdir = "/workspace";
    desktop = 0;

    for (i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0) {
            re_engine.listen = re_arg(argc, argv, &i);
        } else if (strcmp(argv[i], "--state-dir") == 0) {
            re_engine.state_dir = re_arg(argc, argv, &i);
        } else if (strcmp(argv[i], "--workdir") == 0) {
            re_engine.workdir = re_arg(argc, argv, &i);
        } else if (strcmp(argv[i], "--agents-dir") == 0) {
            agents = re_arg(argc, argv, &i);
            if (agents == NULL) {
                return 2;
            }
        } else if (strcmp(argv[i], "--desktop") == 0) {
            v = re_arg(argc, argv, &i);
            if (v == NULL
                || (strcmp(v, "on") != 0 && strcmp(v, "off") != 0))
            {
                fprintf(stderr, "replicas-engine: --desktop is on or off\n");
                return 2;
            }
            desktop = strcmp(v, "on") == 0;
        } else {
            re_usage(stderr);
            return 2;
        }

        if (re_engine.listen == NULL || re_engine.state_dir == NULL
            || re_engine.workdir == NULL)
        {
            return 2;
        }
    }

    if (strlen(re_engine.state_dir) > 4000 || re_engine.state_dir[0] == '\0'
        || re_engine.workdir[0] != '/')
    {
        fprintf(stderr, "replicas-engine: --state-dir must be a path of at "
                "most 4000 bytes, --workdir an absolute path\n");
        return 2;
    }

    /*
     * What the agent runs (hooks, the CLIs and their tools) is the same
     * user in the same PID namespace; the engine holds the workspace's
     * platform key in memory.  Not dumpable, its /proc/PID/environ, mem,
     * maps, fd and the like are root's and ptrace, process_vm_readv and
     * core dumps are refused to them, who have no capability in the
     * sandbox's user namespace.  The programs it starts are dumpable
     * again from their exec on (the kernel's rule): only the engine is
     * shut.  Before anything is read.
     */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
        re_error("engine.not_dumpable_failed", "errno=%d", errno);
        return 1;
    }

    ws = getenv("REPLICAS_WORKSPACE");
    re_engine.workspace = ws && ws[0] ? ws : NULL;
    re_engine.started_ms = re_now_ms();

    /* a client gone mid-answer is an error to handle, not a death */
    signal(SIGPIPE, SIG_IGN);

    /* stop signals are taken by sigwait below: blocked before any thread
     * starts, so every thread inherits the mask */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    if (re_mkdir_p(re_engine.state_dir, 0755) != 0) {
        re_error("engine.mkdir_failed", "dir=%s errno=%d",
                 re_engine.state_dir, errno);
        return 1;
    }

    /* the desktop before any thread: it sets DISPLAY for hooks and agents */
    if (re_desktop_init(re_engine.state_dir, desktop) != 0) {
        return 1;
    }

    /* events first: the others' start-up may emit some */
    if (re_events_init(re_engine.state_dir) != 0
        || re_messages_init(re_engine.state_dir) != 0
        || re_start_init(re_engine.state_dir, re_engine.workdir) != 0
        || re_chats_init(re_engine.state_dir, agents) != 0
        || re_health_start() != 0
        || re_http_start() != 0)
    {
        return 1;
    }

    re_info("engine.ready", "version=%s listen=%s workspace=%s", RE_VERSION,
            re_engine.listen, re_engine.workspace ? re_engine.workspace : "-");
    re_events_emit("engine.ready", json_pack("{s:s, s:s?}", "version",
                                             RE_VERSION, "workspace",
                                             re_engine.workspace));

    do {
        if (sigwait(&set, &sig) != 0) {
            sig = 0;
        }
    } while (sig != SIGTERM && sig != SIGINT);

    re_info("engine.stopping", "signal=%d", sig);

    atomic_store(&re_engine.stopping, 1);

    /* agents at work stop with the engine (their turns are reported
     * interrupted at the next start) */
    re_chats_shutdown();

    /* the desktop's programs end with the engine (SIGTERM, then SIGKILL) */
    re_desktop_shutdown();

    /* event streams end once they have sent this; MHD waits for them */
    re_events_emit("engine.stopping", json_pack("{s:i}", "signal", sig));
    re_events_shutdown();

    /* no request is served past this; then a running hook is ended */
    re_http_stop();
    re_start_shutdown();

    re_info("engine.stopped", "ms=%lld", re_now_ms() - re_engine.started_ms);

    return 0;
}


static void
re_hook_signal(int sig)
{
    (void) sig;
    atomic_store(&re_hook_stop, 1);
}


static int
re_hook(int argc, char **argv)
{
    int               i, exit_code;
    char             *buf, err[256], cwd_buf[4096];
    size_t            len;
    ssize_t           n;
    re_req_e          rc;
    re_hook_t         hook;
    const char       *cwd, *home;
    re_hook_run_t     run;
    re_hook_state_e   state;
    struct sigaction  sa;

    cwd = NULL;

    for (i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--cwd") == 0) {
            cwd = re_arg(argc, argv, &i);
            if (cwd == NULL) {
                return 2;
            }
        } else {
            re_usage(stderr);
            return 2;
        }
    }

    if (cwd == NULL) {
        cwd = getcwd(cwd_buf, sizeof(cwd_buf));
        if (cwd == NULL) {
            fprintf(stderr, "replicas-engine: no current directory\n");
            return 2;
        }
    }

    buf = malloc(RE_BODY_MAX + 1);
    if (buf == NULL) {
        return 1;
    }

    /* one byte more than allowed, to tell "too large" from "just fits" */
    for (len = 0; len <= RE_BODY_MAX; len += (size_t) n) {
        n = read(STDIN_FILENO, buf + len, RE_BODY_MAX + 1 - len);

        if (n < 0 && errno == EINTR) {
            n = 0;
            continue;
        }

        if (n <= 0) {
            break;
        }
    }

    if (len > RE_BODY_MAX) {
        fprintf(stderr, "replicas-engine: the hook is larger than 1 MiB\n");
        free(buf);
        return 2;
    }

    rc = re_parse_hook(buf, len, &hook, err, sizeof(err));
    free(buf);

    if (rc != RE_REQ_OK) {
        fprintf(stderr, "replicas-engine: %s\n", err);
        return 2;
    }

    /* SIGTERM (the build's own deadline) ends the running command's group
     * too, rather than leaving it behind */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = re_hook_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    home = getenv("HOME");
    if (home && home[0] == '/') {
        (void) re_mkdir_p(home, 0700);
    }

    run.hook = &hook;
    run.cwd = cwd;
    run.envp = environ;
    run.out_fd = STDOUT_FILENO;
    run.err_fd = STDERR_FILENO;
    run.stop = &re_hook_stop;

    state = re_hook_run(&run, &exit_code);
    re_hook_free(&hook);

    dprintf(STDOUT_FILENO, "[replicas] hook %s\n", re_hook_state_name(state));

    if (state == RE_HOOK_SUCCEEDED) {
        return 0;
    }

    if (state == RE_HOOK_TIMED_OUT) {
        return 124;
    }

    /* 124 is kept for the timeout, 0 for success */
    return exit_code <= 0 || exit_code == 124 || exit_code > 255 ? 1
                                                                 : exit_code;
}


int
main(int argc, char **argv)
{
    const char  *name;

    /* installed as "replicas" too: the workspace's command line */
    name = strrchr(argv[0], '/');
    name = name ? name + 1 : argv[0];

    if (strcmp(name, "replicas") == 0) {
        return re_cli_main(argc, argv);
    }

    if (argc >= 2 && strcmp(argv[1], "serve") == 0) {
        return re_serve(argc, argv);
    }

    if (argc >= 2 && strcmp(argv[1], "hook") == 0) {
        return re_hook(argc, argv);
    }

    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("replicas-engine %s\n", RE_VERSION);
        return 0;
    }

    if (argc == 2 && (strcmp(argv[1], "--help") == 0
                      || strcmp(argv[1], "-h") == 0))
    {
        re_usage(stdout);
        return 0;
    }

    re_usage(stderr);
    return 2;
}
