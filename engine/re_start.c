/* The start hook: see re_start.h. */

#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "re_engine.h"
#include "re_events.h"
#include "re_files.h"
#include "re_instructions.h"
#include "re_log.h"
#include "re_health.h"
#include "re_start.h"


/* a log past this is started afresh at the next run, not grown forever */
#define RE_START_LOG_ROTATE  (16 * 1024 * 1024)


typedef struct {
    re_hook_t    hook;
    char        *cwd;
    char       **envp;
    int          log_fd;
} re_start_job_t;


static struct {
    pthread_mutex_t   lock;
    char              json_path[4200];
    char              log_path[4200];
    char             *workdir;

    re_hook_state_e   state;
    int               exit_code;       /* -1: none */
    long long         started_at;      /* unix seconds, 0: none */
    long long         ended_at;

    int               thread_live;     /* created, not joined yet */
    pthread_t         thread;
    atomic_int        stop;

    char            **envp;            /* the last /start's environment:
                                          agents run with it too */
    char             *cwd;             /* and its directory (the first
                                          repository): agents work there */
    char              agent[16];       /* and its agent for new chats */
    char             *system_prompt;   /* and the repository's prompt */
} re_start = { .lock = PTHREAD_MUTEX_INITIALIZER, .exit_code = -1 };


static json_t *
re_start_json(void)
{
    return json_pack("{s:s, s:o, s:o, s:o}",
        "state", re_hook_state_name(re_start.state),
        "exit", re_start.exit_code >= 0 ? json_integer(re_start.exit_code)
                                        : json_null(),
        "started_at", re_start.started_at ? json_integer(re_start.started_at)
                                          : json_null(),
        "ended_at", re_start.ended_at ? json_integer(re_start.ended_at)
                                      : json_null());
}


/* called with the lock held */
static void
re_start_save(void)
{
    char    *text;
    json_t  *j;

    j = re_start_json();
    text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);

    if (text == NULL || re_write_atomic(re_start.json_path, text,
                                        strlen(text)) != 0)
    {
        /* the state in memory is still right: only a restart loses it */
        re_error("hook.save_failed", "hook=start errno=%d", errno);
    }

    free(text);
}


int
re_start_init(const char *state_dir, const char *workdir)
{
    int           fd;
    char          dir[4200];
    json_t       *j, *v;
    json_error_t  jerr;

    if ((size_t) snprintf(dir, sizeof(dir), "%s/hooks", state_dir)
            >= sizeof(dir) - 16
        || (size_t) snprintf(re_start.json_path, sizeof(re_start.json_path),
                             "%s/start.json", dir)
           >= sizeof(re_start.json_path)
        || (size_t) snprintf(re_start.log_path, sizeof(re_start.log_path),
                             "%s/start.log", dir)
           >= sizeof(re_start.log_path))
    {
        re_error("engine.path_too_long", "what=state_dir");
        return -1;
    }

    if (re_mkdir_p(dir, 0755) != 0) {
        re_error("engine.mkdir_failed", "dir=%s errno=%d", dir, errno);
        return -1;
    }

    re_start.workdir = strdup(workdir);
    if (re_start.workdir == NULL) {
        return -1;
    }

    j = json_load_file(re_start.json_path, 0, &jerr);

    if (j == NULL) {
        return 0;
    }

    re_start.state = re_hook_state_from_name(
                         json_string_value(json_object_get(j, "state")));

    v = json_object_get(j, "exit");
    re_start.exit_code = json_is_integer(v) ? (int) json_integer_value(v) : -1;
    v = json_object_get(j, "started_at");
    re_start.started_at = json_is_integer(v) ? json_integer_value(v) : 0;
    v = json_object_get(j, "ended_at");
    re_start.ended_at = json_is_integer(v) ? json_integer_value(v) : 0;

    json_decref(j);

    if (re_start.state == RE_HOOK_RUNNING) {
        /* the engine stopped (the workspace slept, or it crashed) while
         * the hook ran: it never finished */
        re_start.state = RE_HOOK_FAILED;

        fd = open(re_start.log_path, O_WRONLY | O_APPEND | O_CLOEXEC);
        if (fd != -1) {
            dprintf(fd, "[replicas] the engine stopped while the start hook "
                    "ran\n");
            close(fd);
        }

        re_start_save();
        re_events_emit("hook.completed",
                       json_pack("{s:s, s:s, s:n, s:s}", "hook", "start",
                                 "state", "failed", "exit",
                                 "reason", "engine_stopped"));
    }

    return 0;
}


static void *
re_start_thread(void *arg)
{
    int               exit_code;
    long long         t0;
    re_hook_run_t     run;
    re_hook_state_e   state;
    re_start_job_t   *job = arg;

    t0 = re_now_ms();

    run.hook = &job->hook;
    run.cwd = job->cwd;
    run.envp = job->envp;
    run.out_fd = job->log_fd;
    run.err_fd = job->log_fd;
    run.stop = &re_start.stop;

    state = re_hook_run(&run, &exit_code);

    dprintf(job->log_fd, "[replicas] start hook %s\n",
            re_hook_state_name(state));

    pthread_mutex_lock(&re_start.lock);
    re_start.state = state;
    re_health_touch();
    re_start.exit_code = exit_code;
    re_start.ended_at = (long long) time(NULL);
    re_start_save();
    /* under the lock: before the next run's hook.started */
    re_events_emit("hook.completed",
                   json_pack("{s:s, s:s, s:o, s:I}", "hook", "start",
                             "state", re_hook_state_name(state),
                             "exit", exit_code >= 0 ? json_integer(exit_code)
                                                    : json_null(),
                             "ms", (json_int_t) (re_now_ms() - t0)));
    /* the last thing done under the lock: re_start_begin joins this
     * thread with the lock held once the state is no longer running */
    pthread_mutex_unlock(&re_start.lock);

    re_info("hook.end", "hook=start state=%s exit=%d ms=%lld",
            re_hook_state_name(state), exit_code, re_now_ms() - t0);

    close(job->log_fd);
    re_hook_free(&job->hook);
    free(job->cwd);
    re_env_free(job->envp);
    free(job);

    return NULL;
}


static int
re_start_log(const re_hook_t *hook, const char *cwd)
{
    int          fd, flags;
    char         ts[32];
    time_t       now;
    struct tm    tm;
    struct stat  st;

    flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC;

    if (stat(re_start.log_path, &st) == 0 && st.st_size > RE_START_LOG_ROTATE) {
        flags |= O_TRUNC;
    }

    fd = open(re_start.log_path, flags, 0644);
    if (fd == -1) {
        return -1;
    }

    now = time(NULL);
    gmtime_r(&now, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);

    dprintf(fd, "[replicas] start hook at %s: %zu command%s, %s, timeout "
            "%lld ms, in %s\n", ts, hook->ncommands,
            hook->ncommands == 1 ? "" : "s",
            hook->separate ? "separate" : "one script", hook->timeout_ms, cwd);

    return fd;
}


int
re_start_begin(re_start_t *req)
{
    int              rc;
    json_t          *started;
    const char      *home;
    re_start_job_t  *job;

    pthread_mutex_lock(&re_start.lock);

    if (re_start.state == RE_HOOK_RUNNING) {
        /* a redelivered /start (control retried, or a wake raced a
         * create): the hook under way is the one wanted */
        pthread_mutex_unlock(&re_start.lock);
        return RE_HOOK_RUNNING;
    }

    if (re_start.thread_live) {
        pthread_join(re_start.thread, NULL);
        re_start.thread_live = 0;
    }

    /* the workspace's variables, for agents too, until the next /start
     * (in memory only: they hold its secrets) */
    re_env_free(re_start.envp);
    re_start.envp = re_env_merge(environ, req->env, req->nenv);

    /* the standing instructions as a skill file too, where the agent
     * looks for its skills */
    if (re_start.envp
        && re_instructions_skill(re_env_get(re_start.envp, "HOME")) != 0)
    {
        re_warn("start.skill_failed", "errno=%d", errno);
    }

    if (req->cwd) {
        free(re_start.cwd);
        re_start.cwd = strdup(req->cwd);
    }

    free(re_start.system_prompt);
    re_start.system_prompt = req->system_prompt ? strdup(req->system_prompt)
                                                : NULL;

    if (req->agent) {
        snprintf(re_start.agent, sizeof(re_start.agent), "%s", req->agent);
    }

    if (req->hook == NULL) {
        re_start.state = RE_HOOK_NONE;
        re_start.exit_code = -1;
        re_start.started_at = 0;
        re_start.ended_at = 0;
        re_start_save();
        pthread_mutex_unlock(&re_start.lock);

        re_info("hook.none", "hook=start");
        return RE_HOOK_NONE;
    }

    job = calloc(1, sizeof(re_start_job_t));
    if (job == NULL) {
        goto failed;
    }

    job->log_fd = -1;
    job->envp = re_env_merge(environ, req->env, req->nenv);
    job->cwd = strdup(req->cwd ? req->cwd : re_start.workdir);

    if (job->envp == NULL || job->cwd == NULL) {
        goto failed;
    }

    /* tools write below $HOME (caches, config): it must exist */
    home = re_env_get(job->envp, "HOME");
    if (home && home[0] == '/' && re_mkdir_p(home, 0700) != 0) {
        re_warn("hook.home_failed", "errno=%d", errno);
    }

    job->log_fd = re_start_log(req->hook, job->cwd);
    if (job->log_fd == -1) {
        re_error("hook.log_failed", "hook=start errno=%d", errno);
        goto failed;
    }

    /* the hook moves into the job */
    job->hook = *req->hook;
    memset(req->hook, 0, sizeof(re_hook_t));

    atomic_store(&re_start.stop, 0);
    re_start.state = RE_HOOK_RUNNING;
    re_start.exit_code = -1;
    re_start.started_at = (long long) time(NULL);
    re_start.ended_at = 0;

    /* logged now: once the thread runs, the job is its to free */
    re_info("hook.start", "hook=start commands=%zu separate=%d timeout_ms=%lld",
            job->hook.ncommands, job->hook.separate, job->hook.timeout_ms);
    started = json_pack("{s:s, s:s, s:I, s:b, s:I}", "hook", "start",
                        "state", "running",
                        "commands", (json_int_t) job->hook.ncommands,
                        "separate", job->hook.separate,
                        "timeout", (json_int_t) job->hook.timeout_ms);

    rc = pthread_create(&re_start.thread, NULL, re_start_thread, job);

    if (rc != 0) {
        re_start.state = RE_HOOK_FAILED;
        re_start.ended_at = re_start.started_at;
        re_start_save();
        pthread_mutex_unlock(&re_start.lock);

        re_error("hook.thread_failed", "hook=start rc=%d", rc);
        json_decref(started);
        close(job->log_fd);
        re_hook_free(&job->hook);
        free(job->cwd);
        re_env_free(job->envp);
        free(job);
        return -1;
    }

    re_start.thread_live = 1;
    re_start_save();
    /* under the lock: the thread's hook.completed waits for it */
    re_events_emit("hook.started", started);
    pthread_mutex_unlock(&re_start.lock);

    return RE_HOOK_RUNNING;

failed:

    pthread_mutex_unlock(&re_start.lock);

    if (job) {
        if (job->log_fd != -1) {
            close(job->log_fd);
        }
        free(job->cwd);
        re_env_free(job->envp);
        free(job);
    }

    return -1;
}


re_hook_state_e
re_start_state(void)
{
    re_hook_state_e  state;

    pthread_mutex_lock(&re_start.lock);
    state = re_start.state;
    pthread_mutex_unlock(&re_start.lock);

    return state;
}


void
re_start_cwd(char *buf, size_t size)
{
    pthread_mutex_lock(&re_start.lock);
    snprintf(buf, size, "%s", re_start.cwd ? re_start.cwd : re_start.workdir);
    pthread_mutex_unlock(&re_start.lock);
}


char *
re_start_system_prompt(void)
{
    char  *p;

    pthread_mutex_lock(&re_start.lock);
    p = re_start.system_prompt ? strdup(re_start.system_prompt) : NULL;
    pthread_mutex_unlock(&re_start.lock);

    return p;
}


void
re_start_agent(char *buf, size_t size)
{
    pthread_mutex_lock(&re_start.lock);
    snprintf(buf, size, "%s", re_start.agent);
    pthread_mutex_unlock(&re_start.lock);
}


char **
re_start_env(void)
{
    char  **envp;

    pthread_mutex_lock(&re_start.lock);
    envp = re_env_merge(re_start.envp ? re_start.envp : environ, NULL, 0);
    pthread_mutex_unlock(&re_start.lock);

    return envp;
}


json_t *
re_start_status(size_t log_max)
{
    char    *log, *clean;
    size_t   len;
    json_t  *j;

    pthread_mutex_lock(&re_start.lock);
    j = re_start_json();
    pthread_mutex_unlock(&re_start.lock);

    if (j == NULL || log_max == 0) {
        return j;
    }

    log = re_read_tail(re_start.log_path, log_max, &len);
    clean = log ? malloc(len * 3 + 1) : NULL;

    if (clean) {
        /* output is any bytes: JSON strings must be UTF-8 */
        len = re_utf8_clean(log, len, clean);
        json_object_set_new(j, "log", json_stringn(clean, len));
    } else {
        json_object_set_new(j, "log", json_string(""));
    }

    free(log);
    free(clean);

    return j;
}


/*
 * The warm hook ran when the workspace's image was built, by control,
 * which leaves its outcome in the state dir (hooks/warm.json and
 * hooks/warm.log, written without following links): shown beside the
 * start hook's.  Missing: {"state":"none"}.
 */
json_t *
re_warm_status(size_t log_max)
{
    char          path[4200], *log, *clean;
    size_t        len;
    json_t       *j, *state;
    json_error_t  jerr;

    snprintf(path, sizeof(path), "%s/hooks/warm.json", re_engine.state_dir);
    j = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);

    if (!json_is_object(j)) {
        json_decref(j);
        return json_pack("{s:s}", "state", "none");
    }

    state = json_object_get(j, "state");
    if (!json_is_string(state)) {
        json_object_set_new(j, "state", json_string("unknown"));
    }

    snprintf(path, sizeof(path), "%s/hooks/warm.log", re_engine.state_dir);
    log = re_read_tail(path, log_max, &len);
    clean = log ? malloc(len * 3 + 1) : NULL;

    if (clean) {
        len = re_utf8_clean(log, len, clean);
        json_object_set_new(j, "log", json_stringn(clean, len));
    } else {
        json_object_set_new(j, "log", json_string(""));
    }

    free(log);
    free(clean);

    return j;
}


int
re_start_log_open(void)
{
    return open(re_start.log_path, O_RDONLY | O_CLOEXEC);
}


void
re_start_shutdown(void)
{
    int  live;

    atomic_store(&re_start.stop, 1);

    pthread_mutex_lock(&re_start.lock);
    live = re_start.thread_live;
    re_start.thread_live = 0;
    pthread_mutex_unlock(&re_start.lock);

    if (live) {
        pthread_join(re_start.thread, NULL);
    }
}
