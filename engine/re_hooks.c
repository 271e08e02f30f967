/* The hook runner: see re_hooks.h. */

#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "re_hooks.h"
#include "re_log.h"


#define RE_HOOK_GRACE_MS  3000      /* SIGTERM to SIGKILL */
#define RE_HOOK_POLL_MS   20


static const char *const  re_hook_states[] = {
    "none", "running", "succeeded", "failed", "timed_out"
};


const char *
re_hook_state_name(re_hook_state_e state)
{
    return re_hook_states[state];
}


re_hook_state_e
re_hook_state_from_name(const char *name)
{
    size_t  i;

    for (i = 0; i < sizeof(re_hook_states) / sizeof(re_hook_states[0]); i++) {
        if (name && strcmp(name, re_hook_states[i]) == 0) {
            return (re_hook_state_e) i;
        }
    }

    return RE_HOOK_NONE;
}


static void
re_sleep_ms(long ms)
{
    struct timespec  ts;

    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000;

    (void) nanosleep(&ts, NULL);
}


/* async-signal-safe calls only, since the engine has other threads whose
 * locks may be held */
void
re_child_setup(int out_fd, int err_fd)
{
    int               fd;
    sigset_t          none;
    struct sigaction  sa;

    /* its own session and process group: stopping it ends the program and
     * everything it started, and nothing else */
    (void) setsid();

    sigemptyset(&none);
    (void) sigprocmask(SIG_SETMASK, &none, NULL);

    /* an ignored signal stays ignored across exec: the engine ignores
     * SIGPIPE, the commands must not */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    (void) sigaction(SIGPIPE, &sa, NULL);

    fd = open("/dev/null", O_RDONLY);
    if (fd != -1 && fd != STDIN_FILENO) {
        (void) dup2(fd, STDIN_FILENO);
        (void) close(fd);
    }

    if (out_fd != -1 && out_fd != STDOUT_FILENO) {
        (void) dup2(out_fd, STDOUT_FILENO);
    }

    if (err_fd != -1 && err_fd != STDERR_FILENO) {
        (void) dup2(err_fd, STDERR_FILENO);
    }

    /* nothing else of the engine leaks in (its listening socket, say, which
     * a server started by a hook would otherwise keep open) */
    if (close_range(3, ~0U, 0) != 0) {
        for (fd = 3; fd < 1024; fd++) {
            (void) close(fd);
        }
    }
}


/* the child, between fork and exec */
static void
re_hook_child(re_hook_run_t *run, char *const argv[])
{
    static const char msg[] = "[replicas] cannot start /bin/sh in the hook's "
                              "directory\n";

    re_child_setup(run->out_fd, run->err_fd);

    if (chdir(run->cwd) == 0) {
        execve("/bin/sh", argv, run->envp);
    }

    (void) write(STDERR_FILENO, msg, sizeof(msg) - 1);
    _exit(127);
}


static void
re_hook_signal(pid_t pid, int sig)
{
    /* the group, or the process alone if it has not called setsid yet */
    if (kill(-pid, sig) != 0) {
        (void) kill(pid, sig);
    }
}


/* runs one /bin/sh; returns its exit status (128 + signal), 124 if the
 * deadline passed, -1 if it could not start */
static int
re_hook_one(re_hook_run_t *run, char *const argv[], long long deadline,
    int *timed_out)
{
    int        status, stopping;
    pid_t      pid, r;
    long long  now, kill_at;

    pid = fork();

    if (pid == -1) {
        dprintf(run->err_fd, "[replicas] cannot fork: %s\n", strerror(errno));
        return -1;
    }

    if (pid == 0) {
        re_hook_child(run, argv);
    }

    stopping = 0;
    kill_at = 0;

    for ( ;; ) {
        r = waitpid(pid, &status, WNOHANG);

        if (r == pid) {
            break;
        }

        if (r == -1 && errno != EINTR) {
            /* not ours any more: cannot happen unless SIGCHLD is ignored */
            return -1;
        }

        now = re_now_ms();

        if (!stopping && (now >= deadline || atomic_load(run->stop))) {
            *timed_out = now >= deadline;
            stopping = 1;
            kill_at = now + RE_HOOK_GRACE_MS;
            re_hook_signal(pid, SIGTERM);

        } else if (stopping == 1 && now >= kill_at) {
            stopping = 2;
            re_hook_signal(pid, SIGKILL);
        }

        re_sleep_ms(RE_HOOK_POLL_MS);
    }

    if (stopping) {
        /* what the group still runs is cut off too: a timeout ends the
         * command with everything it started.  The group only: pid itself
         * is reaped, and may already be someone else's */
        (void) kill(-pid, SIGKILL);
    }

    if (*timed_out) {
        return 124;
    }

    if (WIFEXITED(status)) {
        return WEXITSTATUS(status);
    }

    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
}


re_hook_state_e
re_hook_run(re_hook_run_t *run, int *exit_code)
{
    int              rc, timed_out;
    char            *argv[5], *script, *p;
    size_t           i, len;
    long long        deadline;
    struct stat      st;
    const re_hook_t *hook;

    hook = run->hook;
    *exit_code = 0;
    timed_out = 0;
    deadline = re_now_ms() + hook->timeout_ms;

    if (stat(run->cwd, &st) != 0 || !S_ISDIR(st.st_mode)) {
        dprintf(run->err_fd, "[replicas] the hook's directory %s is missing\n",
                run->cwd);
        *exit_code = 1;
        return RE_HOOK_FAILED;
    }

    argv[0] = "sh";

    if (hook->separate) {
        argv[1] = "-c";
        argv[3] = NULL;

        for (i = 0; i < hook->ncommands; i++) {
            if (atomic_load(run->stop)) {
                break;
            }

            dprintf(run->out_fd, "$ %s\n", hook->commands[i]);

            argv[2] = hook->commands[i];
            rc = re_hook_one(run, argv, deadline, &timed_out);

            if (rc != 0) {
                dprintf(run->out_fd, "[replicas] exit %d\n", rc);

                if (*exit_code == 0) {
                    *exit_code = rc < 0 ? 1 : rc;
                }
            }

            if (timed_out) {
                break;
            }
        }

    } else {
        len = 1;
        for (i = 0; i < hook->ncommands; i++) {
            len += strlen(hook->commands[i]) + 1;
        }

        script = malloc(len);
        if (script == NULL) {
            *exit_code = 1;
            return RE_HOOK_FAILED;
        }

        p = script;
        for (i = 0; i < hook->ncommands; i++) {
            dprintf(run->out_fd, "$ %s\n", hook->commands[i]);

            len = strlen(hook->commands[i]);
            memcpy(p, hook->commands[i], len);
            p += len;
            *p++ = '\n';
        }
        *p = '\0';

        argv[1] = "-e";
        argv[2] = "-c";
        argv[3] = script;
        argv[4] = NULL;

        rc = hook->ncommands ? re_hook_one(run, argv, deadline, &timed_out) : 0;
        free(script);

        if (rc != 0) {
            dprintf(run->out_fd, "[replicas] exit %d\n", rc);
            *exit_code = rc < 0 ? 1 : rc;
        }
    }

    if (timed_out) {
        dprintf(run->out_fd, "[replicas] timed out after %lld ms\n",
                hook->timeout_ms);
        *exit_code = 124;
        return RE_HOOK_TIMED_OUT;
    }

    if (atomic_load(run->stop) && *exit_code == 0 && hook->ncommands) {
        *exit_code = 1;
    }

    return *exit_code == 0 ? RE_HOOK_SUCCEEDED : RE_HOOK_FAILED;
}


/* is the NAME=value entry set again by vars? */
static int
re_env_overridden(const char *entry, const re_env_var_t *vars, size_t n)
{
    size_t  i, len;

    len = strcspn(entry, "=");

    for (i = 0; i < n; i++) {
        if (strlen(vars[i].name) == len
            && strncmp(vars[i].name, entry, len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


char **
re_env_merge(char *const *base, const re_env_var_t *vars, size_t n)
{
    char   **envp;
    size_t   i, k, count, len;

    for (count = 0; base && base[count]; count++) { /* void */ }

    envp = calloc(count + n + 1, sizeof(char *));
    if (envp == NULL) {
        return NULL;
    }

    k = 0;

    for (i = 0; i < count; i++) {
        if (re_env_overridden(base[i], vars, n)) {
            continue;
        }

        envp[k] = strdup(base[i]);
        if (envp[k++] == NULL) {
            goto failed;
        }
    }

    for (i = 0; i < n; i++) {
        len = strlen(vars[i].name) + strlen(vars[i].value) + 2;

        envp[k] = malloc(len);
        if (envp[k] == NULL) {
            goto failed;
        }

        snprintf(envp[k++], len, "%s=%s", vars[i].name, vars[i].value);
    }

    return envp;

failed:

    re_env_free(envp);
    return NULL;
}


void
re_env_free(char **envp)
{
    size_t  i;

    for (i = 0; envp && envp[i]; i++) {
        free(envp[i]);
    }

    free(envp);
}


const char *
re_env_get(char *const *envp, const char *name)
{
    size_t  i, len;

    len = strlen(name);

    for (i = 0; envp && envp[i]; i++) {
        if (strncmp(envp[i], name, len) == 0 && envp[i][len] == '=') {
            return envp[i] + len + 1;
        }
    }

    return NULL;
}
