/* Chats, their queues and the turns that run them: see re_chats.h. */

#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "re_agent.h"
#include "re_chats.h"
#include "re_engine.h"
#include "re_events.h"
#include "re_files.h"
#include "re_git.h"
#include "re_health.h"
#include "re_hooks.h"
#include "re_instructions.h"
#include "re_log.h"
#include "re_model.h"
#include "re_start.h"


#define RE_CHAT_LINE_MAX   (8 * 1024 * 1024)   /* one line of agent output */
#define RE_CHAT_KILL_AFTER_MS  5000         /* SIGTERM, then SIGKILL */

/* between the texts of folded messages */
#define RE_FOLD_SEPARATOR  "\n\n---\n\n"



typedef struct re_entry_s  re_entry_t;

struct re_entry_s {
    long long      seq;
    char          *text;
    char          *user;
    char          *author_name;   /* the commit's author, or NULL */
    char          *author_email;
    char          *kind;          /* messages of one kind fold: NULL never */
    long long      count;         /* messages folded into it, 1 or more */
    re_entry_t    *next;
};


typedef struct {
    char               name[RE_NAME_MAX + 1];
    const re_agent_t  *agent;
    char               session[128];
    long long          tokens_in;     /* the session's running totals, for */
    long long          tokens_out;    /* agents that report those (Codex) */
    re_entry_t        *head;          /* the running one first, while it runs */
    re_entry_t        *tail;
    size_t             queued;        /* entries, the running one included */
    int                running;
    pid_t              pid;           /* its process group, 0: none yet */
    int                interrupted;
    long long          interrupted_at;   /* ms, when SIGTERM was sent */
    int                killed;           /* SIGKILL sent after it */
} re_chat_t;


static struct {
    pthread_mutex_t    lock;
    char               path[4200];
    char               logdir[4200];
    char              *agents_dir;
    re_chat_t          chats[RE_CHATS_MAX];
    size_t             n;
    /* what every turn of this workspace spent, kept in chats.json across
     * restarts and sleeps (never lowered, a deleted chat's too); the id
     * names this count: a new one (state lost) starts again from 0, and
     * control's watch, which adds the increases to the day's counters,
     * then counts it from 0 rather than from the old one's total */
    char               usage_id[33];
    long long          turns;
    long long          spent_in;
    long long          spent_out;
    long long          spent_cost;   /* micro-USD */
} re_chats = { .lock = PTHREAD_MUTEX_INITIALIZER };


static void *re_chat_thread(void *arg);


static void
re_entry_free(re_entry_t *e)
{
    if (e) {
        free(e->text);
        free(e->user);
        free(e->author_name);
        free(e->author_email);
        free(e->kind);
        free(e);
    }
}


/* chats.json, rewritten whole at each change (under the lock) */
static void
re_chats_save(void)
{
    char        *text;
    size_t       i;
    json_t      *all, *chat, *queue, *doc;
    re_chat_t   *c;
    re_entry_t  *e;

    all = json_array();

    for (i = 0; all && i < re_chats.n; i++) {
        c = &re_chats.chats[i];

        if (c->name[0] == '\0') {
            continue;
        }

        queue = json_array();

        for (e = c->head; queue && e; e = e->next) {
            json_array_append_new(queue,
                json_pack("{s:I, s:s, s:s?, s:s?, s:s?, s:s?, s:I}",
                          "seq", (json_int_t) e->seq, "text", e->text,
                          "user", e->user, "author_name", e->author_name,
                          "author_email", e->author_email, "kind", e->kind,
                          "count", (json_int_t) e->count));
        }

        chat = json_pack("{s:s, s:s, s:s, s:o, s:b, s:[I, I]}",
                         "name", c->name,
                         "agent", c->agent->name, "session_id", c->session,
                         "queue", queue ? queue : json_array(),
                         "running", c->running,
                         "session_tokens", (json_int_t) c->tokens_in,
                         (json_int_t) c->tokens_out);
        json_array_append_new(all, chat);
    }

    doc = all ? json_pack("{s:o, s:{s:s, s:I, s:I, s:I, s:I}}", "chats", all,
                          "usage", "id", re_chats.usage_id,
                          "turns", (json_int_t) re_chats.turns,
                          "input_tokens", (json_int_t) re_chats.spent_in,
                          "output_tokens", (json_int_t) re_chats.spent_out,
                          "cost_micro_usd", (json_int_t) re_chats.spent_cost)
              : NULL;
    text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);

    if (text == NULL || re_write_atomic(re_chats.path, text, strlen(text))
                        != 0)
    {
        re_error("chats.save_failed", "errno=%d", errno);
    }

    free(text);
}


static re_chat_t *
re_chat_find(const char *name)
{
    size_t  i;

    for (i = 0; i < re_chats.n; i++) {
        if (re_chats.chats[i].name[0]
            && strcmp(re_chats.chats[i].name, name) == 0)
        {
            return &re_chats.chats[i];
        }
    }

    return NULL;
}


/* a chat keeps its slot for life (its runner holds a pointer to it); a
 * deleted one leaves a free slot, name "" */
static re_chat_t *
re_chat_add(const char *name, const re_agent_t *agent)
{
    size_t      i;
    re_chat_t  *c;

    if (name[0] == '\0' || strlen(name) > RE_NAME_MAX) {
        return NULL;
    }

    for (i = 0; i < re_chats.n; i++) {
        if (re_chats.chats[i].name[0] == '\0'
            && !re_chats.chats[i].running)
        {
            break;
        }
    }

    if (i == RE_CHATS_MAX) {
        return NULL;
    }

    if (i == re_chats.n) {
        re_chats.n++;
    }

    c = &re_chats.chats[i];
    memset(c, 0, sizeof(*c));
    snprintf(c->name, sizeof(c->name), "%s", name);
    c->agent = agent;

    return c;
}


static int
re_chat_push(re_chat_t *c, long long seq, const char *text, const char *user,
    const char *author_name, const char *author_email, const char *kind,
    long long count)
{
    re_entry_t  *e;

    e = calloc(1, sizeof(re_entry_t));
    if (e == NULL) {
        return -1;
    }

    e->seq = seq;
    e->text = strdup(text);
    e->user = user ? strdup(user) : NULL;
    e->author_name = author_name ? strdup(author_name) : NULL;
    e->author_email = author_email ? strdup(author_email) : NULL;
    e->kind = kind ? strdup(kind) : NULL;
    e->count = count > 1 ? count : 1;

    if (e->text == NULL || (user && e->user == NULL)
        || (author_name && e->author_name == NULL)
        || (author_email && e->author_email == NULL)
        || (kind && e->kind == NULL))
    {
        re_entry_free(e);
        return -1;
    }

    if (c->tail) {
        c->tail->next = e;
    } else {
        c->head = e;
    }

    c->tail = e;
    c->queued++;

    return 0;
}


static void
re_chat_pop(re_chat_t *c)
{
    re_entry_t  *e;

    e = c->head;
    if (e == NULL) {
        return;
    }

    c->head = e->next;
    if (c->head == NULL) {
        c->tail = NULL;
    }

    c->queued--;
    re_entry_free(e);
}


/* starts the chat's runner if it has work and none runs (under the lock) */
static void
re_chat_kick(re_chat_t *c)
{
    pthread_t       th;
    pthread_attr_t  attr;

    if (c->running || c->head == NULL || atomic_load(&re_engine.stopping)) {
        return;
    }

    c->running = 1;
    c->interrupted = 0;
    c->pid = 0;

    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);

    if (pthread_create(&th, &attr, re_chat_thread, c) != 0) {
        c->running = 0;
        re_error("chat.thread_failed", "chat=%s", c->name);
    }

    pthread_attr_destroy(&attr);
}


/* the kept usage, or a new count with a new id */
static void
re_chats_usage_load(json_t *u)
{
    size_t          i;
    const char     *id;
    unsigned char   rnd[16];

    id = json_string_value(json_object_get(u, "id"));

    if (id && strlen(id) == 32) {
        snprintf(re_chats.usage_id, sizeof(re_chats.usage_id), "%s", id);
        re_chats.turns = json_integer_value(json_object_get(u, "turns"));
        re_chats.spent_in = json_integer_value(
            json_object_get(u, "input_tokens"));
        re_chats.spent_out = json_integer_value(
            json_object_get(u, "output_tokens"));
        re_chats.spent_cost = json_integer_value(
            json_object_get(u, "cost_micro_usd"));
        return;
    }

    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t) sizeof(rnd)) {
        /* unique enough for a count's name: its time and pid */
        snprintf((char *) rnd, sizeof(rnd), "%llx%x",
                 (unsigned long long) re_now_ms(), (unsigned) getpid());
    }

    for (i = 0; i < sizeof(rnd); i++) {
        snprintf(re_chats.usage_id + 2 * i, 3, "%02x", rnd[i]);
    }
}


/* a turn's tokens and cost added to the workspace's (under the lock) */
static void
re_chats_spent(const re_turn_t *t)
{
    if (t->completed) {
        re_chats.turns++;
    }

    if (t->input_tokens > 0) {
        re_chats.spent_in += t->input_tokens;
    }

    if (t->output_tokens > 0) {
        re_chats.spent_out += t->output_tokens;
    }

    if (t->cost_usd > 0) {
        re_chats.spent_cost += (long long) (t->cost_usd * 1e6 + 0.5);
    }
}


json_t *
re_chats_usage(void)
{
    json_t  *j;

    pthread_mutex_lock(&re_chats.lock);

    j = json_pack("{s:s, s:I, s:I, s:I, s:I}", "id", re_chats.usage_id,
                  "turns", (json_int_t) re_chats.turns,
                  "input_tokens", (json_int_t) re_chats.spent_in,
                  "output_tokens", (json_int_t) re_chats.spent_out,
                  "cost_micro_usd", (json_int_t) re_chats.spent_cost);

    pthread_mutex_unlock(&re_chats.lock);

    return j;
}


int
re_chats_init(const char *state_dir, const char *agents_dir)
{
    size_t        i, j;
    json_t       *doc, *chat, *entry, *seq, *text;
    re_chat_t    *c;
    const char   *name, *agent, *sid;
    json_error_t  jerr;

    snprintf(re_chats.path, sizeof(re_chats.path), "%s/chats.json",
             state_dir);
    snprintf(re_chats.logdir, sizeof(re_chats.logdir), "%s/agents",
             state_dir);
    re_chats.agents_dir = strdup(agents_dir ? agents_dir : "");

    if (re_mkdir_p(re_chats.logdir, 0700) != 0) {
        re_error("chats.dir_failed", "errno=%d", errno);
        return -1;
    }

    doc = json_load_file(re_chats.path, 0, &jerr);

    re_chats_usage_load(json_object_get(doc, "usage"));

    json_array_foreach(json_object_get(doc, "chats"), i, chat) {
        name = json_string_value(json_object_get(chat, "name"));
        agent = json_string_value(json_object_get(chat, "agent"));
        sid = json_string_value(json_object_get(chat, "session_id"));

        if (name == NULL || re_agent_find(agent) == NULL
            || (c = re_chat_add(name, re_agent_find(agent))) == NULL)
        {
            continue;
        }

        snprintf(c->session, sizeof(c->session), "%s", sid ? sid : "");
        c->tokens_in = json_integer_value(
            json_array_get(json_object_get(chat, "session_tokens"), 0));
        c->tokens_out = json_integer_value(
            json_array_get(json_object_get(chat, "session_tokens"), 1));

        json_array_foreach(json_object_get(chat, "queue"), j, entry) {
            seq = json_object_get(entry, "seq");
            text = json_object_get(entry, "text");

            if (!json_is_integer(seq) || !json_is_string(text)) {
                continue;
            }

            /* a turn that was running when the engine stopped is not run
             * again (it may have done half its work): it is reported */
            if (j == 0 && json_is_true(json_object_get(chat, "running"))) {
                re_events_emit("chat.turn.interrupted",
                    json_pack("{s:s, s:O, s:s}", "chat", c->name, "seq", seq,
                              "reason", "the engine stopped during the "
                              "turn (the workspace slept or restarted)"));
                continue;
            }

            (void) re_chat_push(c, json_integer_value(seq),
                json_string_value(text),
                json_string_value(json_object_get(entry, "user")),
                json_string_value(json_object_get(entry, "author_name")),
                json_string_value(json_object_get(entry, "author_email")),
                json_string_value(json_object_get(entry, "kind")),
                json_integer_value(json_object_get(entry, "count")));
        }
    }

    json_decref(doc);

    pthread_mutex_lock(&re_chats.lock);

    for (i = 0; i < re_chats.n; i++) {
        re_chat_kick(&re_chats.chats[i]);
    }

    re_chats_save();
    pthread_mutex_unlock(&re_chats.lock);

    return 0;
}


/* the agent of a chat made without one: the workspace's (the last
 * /start's), else Claude Code */
static const re_agent_t *
re_chat_default_agent(void)
{
    char               name[16];
    const re_agent_t  *a;

    re_start_agent(name, sizeof(name));
    a = name[0] ? re_agent_find(name) : NULL;

    return a ? a : &re_agent_claude;
}


/*
 * A message of a kind ("ci_failure") joins a waiting entry of the same
 * kind in the chat's queue instead of queueing a turn of its own: three
 * CI failures while the agent works make one turn that sees all three.
 * The running turn never takes more; messages without a kind never fold.
 * The entry keeps its first message's seq and author; its text grows by
 * the new one.  Returns it, with its position, or NULL (under the lock).
 */
static re_entry_t *
re_chat_fold(re_chat_t *c, const re_message_t *msg, size_t *position)
{
    char        *text;
    size_t       pos, len;
    re_entry_t  *e;

    if (msg->kind == NULL) {
        return NULL;
    }

    pos = 0;

    for (e = c->head; e; e = e->next, pos++) {
        if ((e != c->head || !c->running) && e->kind
            && strcmp(e->kind, msg->kind) == 0)
        {
            break;
        }
    }

    if (e == NULL) {
        return NULL;
    }

    len = strlen(e->text) + strlen(msg->text) + sizeof(RE_FOLD_SEPARATOR);

    text = malloc(len);
    if (text == NULL) {
        return NULL;
    }

    snprintf(text, len, "%s" RE_FOLD_SEPARATOR "%s", e->text, msg->text);
    free(e->text);
    e->text = text;
    e->count++;

    *position = pos;

    return e;
}


re_chat_e
re_chats_submit(const re_message_t *msg, re_chat_place_t *place)
{
    re_entry_t  *folded;

    re_chat_e    rc;
    re_chat_t   *c;
    const char  *name;

    name = msg->chat ? msg->chat : "default";

    pthread_mutex_lock(&re_chats.lock);

    c = re_chat_find(name);
    if (c == NULL) {
        /* a message to a chat not made yet makes it, with the default
         * agent: the API's "chat" is free-form */
        c = re_chat_add(name, re_chat_default_agent());
    }

    if (c == NULL) {
        rc = RE_CHAT_NO_CHAT;

    } else if ((folded = re_chat_fold(c, msg, &place->position)) != NULL) {
        rc = RE_CHAT_FOLDED;
        place->into = folded->seq;
        place->count = folded->count;

        re_events_emit("chat.turn.folded",
            json_pack("{s:s, s:I, s:I, s:s, s:I, s:I}", "chat", c->name,
                      "seq", (json_int_t) msg->seq,
                      "into", (json_int_t) folded->seq,
                      "kind", folded->kind,
                      "count", (json_int_t) folded->count,
                      "position", (json_int_t) place->position));

        re_chats_save();

    } else if (c->queued >= RE_CHAT_QUEUE_MAX) {
        rc = RE_CHAT_FULL;

    } else if (re_chat_push(c, msg->seq, msg->text, msg->user,
                            msg->author_name, msg->author_email, msg->kind, 1)
               != 0)
    {
        rc = RE_CHAT_ERROR;

    } else {
        /* turns ahead of it: the running one and those waiting */
        place->position = c->queued - 1;
        rc = c->running ? RE_CHAT_QUEUED : RE_CHAT_SENT;

        re_events_emit(rc == RE_CHAT_SENT ? "chat.turn.accepted"
                                          : "chat.turn.queued",
            json_pack("{s:s, s:I, s:I, s:s?}", "chat", c->name,
                      "seq", (json_int_t) msg->seq,
                      "position", (json_int_t) place->position,
                      "kind", msg->kind));

        re_chat_kick(c);
        re_chats_save();
    }

    pthread_mutex_unlock(&re_chats.lock);

    return rc;
}


json_t *
re_chats_list(void)
{
    size_t      i;
    json_t     *list;
    re_chat_t  *c;

    list = json_array();

    pthread_mutex_lock(&re_chats.lock);

    for (i = 0; list && i < re_chats.n; i++) {
        c = &re_chats.chats[i];

        if (c->name[0] == '\0') {
            continue;
        }

        json_array_append_new(list,
            json_pack("{s:s, s:s, s:s?, s:s, s:I}", "name", c->name,
                      "agent", c->agent->name,
                      "session_id", c->session[0] ? c->session : NULL,
                      "state", c->running ? "working" : "idle",
                      "queued", (json_int_t) (c->queued - (c->running ? 1
                                                                      : 0))));
    }

    pthread_mutex_unlock(&re_chats.lock);

    return json_pack("{s:o}", "chats", list ? list : json_array());
}


int
re_chats_create(const char *name, const char *agent, char *err,
    size_t errlen)
{
    int                rc;
    const re_agent_t  *a;

    a = agent ? re_agent_find(agent) : re_chat_default_agent();
    if (a == NULL) {
        snprintf(err, errlen, "unknown agent (this engine runs: claude, "
                 "codex, opencode, cursor)");
        return -1;
    }

    pthread_mutex_lock(&re_chats.lock);

    if (re_chat_find(name)) {
        rc = 1;

    } else if (re_chat_add(name, a) == NULL) {
        snprintf(err, errlen, "at most %d chats", RE_CHATS_MAX);
        rc = -1;

    } else {
        re_chats_save();
        re_events_emit("chat.created",
                       json_pack("{s:s, s:s}", "chat", name, "agent",
                                 a->name));
        rc = 0;
    }

    pthread_mutex_unlock(&re_chats.lock);

    return rc;
}


/* the running turn's process group gets SIGTERM (under the lock) */
static int
re_chat_stop(re_chat_t *c)
{
    if (!c->running) {
        return 0;
    }

    c->interrupted = 1;
    c->interrupted_at = re_now_ms();
    c->killed = 0;

    if (c->pid > 0) {
        (void) kill(-c->pid, SIGTERM);
    }

    return 1;
}


/*
 * An interrupt always ends the turn: an agent whose SIGTERM handler waits
 * (on its model, on a child) gets SIGKILL, its whole group, a few seconds
 * later.  Called from the turn's read loop, at least once a second.
 */
static void
re_chat_escalate(re_chat_t *c, pid_t pid)
{
    pthread_mutex_lock(&re_chats.lock);

    if (c->interrupted && !c->killed
        && re_now_ms() - c->interrupted_at >= RE_CHAT_KILL_AFTER_MS)
    {
        c->killed = 1;
        (void) kill(-pid, SIGKILL);
    }

    pthread_mutex_unlock(&re_chats.lock);
}


int
re_chats_interrupt(const char *name)
{
    int         rc;
    re_chat_t  *c;

    pthread_mutex_lock(&re_chats.lock);

    c = re_chat_find(name);
    rc = c ? re_chat_stop(c) : -1;

    pthread_mutex_unlock(&re_chats.lock);

    return rc;
}


int
re_chats_delete(const char *name)
{
    re_chat_t  *c;

    pthread_mutex_lock(&re_chats.lock);

    c = re_chat_find(name);

    if (c == NULL || c->running) {
        /* a running chat is interrupted first; its runner is using it */
        if (c) {
            (void) re_chat_stop(c);
        }

        pthread_mutex_unlock(&re_chats.lock);
        return c ? 1 : -1;
    }

    while (c->head) {
        re_chat_pop(c);
    }

    c->name[0] = '\0';
    re_chats_save();
    re_events_emit("chat.deleted", json_pack("{s:s}", "chat", name));

    pthread_mutex_unlock(&re_chats.lock);

    return 0;
}


int
re_chats_busy(void)
{
    int     busy;
    size_t  i;

    busy = 0;

    pthread_mutex_lock(&re_chats.lock);

    for (i = 0; i < re_chats.n; i++) {
        busy |= re_chats.chats[i].running;
    }

    pthread_mutex_unlock(&re_chats.lock);

    return busy;
}


void
re_chats_shutdown(void)
{
    size_t  i;

    pthread_mutex_lock(&re_chats.lock);

    for (i = 0; i < re_chats.n; i++) {
        if (re_chats.chats[i].running && re_chats.chats[i].pid > 0) {
            (void) kill(-re_chats.chats[i].pid, SIGTERM);
        }
    }

    pthread_mutex_unlock(&re_chats.lock);
}


/* ---- one turn --------------------------------------------------------- */

/* the CLI: under the agents dir, else on PATH; NULL if neither */
static char *
re_chat_bin(const re_agent_t *agent, char *const *envp)
{
    char         path[4200], *dirs, *dir, *save;
    const char  *p;

    if (re_chats.agents_dir[0]) {
        snprintf(path, sizeof(path), "%s/%s", re_chats.agents_dir,
                 agent->bin_rel);

        if (access(path, X_OK) == 0) {
            return strdup(path);
        }
    }

    p = re_env_get(envp, "PATH");
    dirs = strdup(p ? p : "/usr/local/bin:/usr/bin:/bin");

    for (dir = strtok_r(dirs, ":", &save); dir;
         dir = strtok_r(NULL, ":", &save))
    {
        snprintf(path, sizeof(path), "%s/%s", dir, agent->bin_name);

        if (access(path, X_OK) == 0) {
            free(dirs);
            return strdup(path);
        }
    }

    free(dirs);

    return NULL;
}


static int
re_chat_has_key(const re_agent_t *agent, char *const *envp)
{
    size_t       i;
    const char  *v;

    for (i = 0; agent->keys[i]; i++) {
        v = re_env_get(envp, agent->keys[i]);

        if (v && v[0]) {
            return 1;
        }
    }

    return 0;
}


/* the engine's environment for agents: the workspace's variables, and
 * no telemetry or update checks unless the workspace asked for them */
static char **
re_chat_env(void)
{
    char          **base, **envp;
    size_t          n;
    const char     *v;
    re_env_var_t    add[3];

    base = re_start_env();
    if (base == NULL) {
        return NULL;
    }

    n = 0;

    if (re_env_get(base, "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC") == NULL) {
        add[n].name = "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC";
        add[n++].value = "1";
    }

    /* as root (tests, some sandboxes) Claude Code refuses to skip
     * permission prompts unless told it is in a sandbox ("1"): it is */
    if (geteuid() == 0) {
        add[n].name = "IS_SANDBOX";
        add[n++].value = "1";
    }

    /* Codex's CLI takes its key from CODEX_API_KEY only, not from the
     * name OpenAI's tools use */
    v = re_env_get(base, "OPENAI_API_KEY");

    if (re_env_get(base, "CODEX_API_KEY") == NULL && v && v[0]) {
        add[n].name = "CODEX_API_KEY";
        add[n++].value = (char *) v;
    }

    envp = re_env_merge(base, add, n);
    re_env_free(base);

    return envp;
}


/* runs the CLI, feeding its lines to the adapter and watching that its
 * model can be reached (w); its exit status */
static int
re_chat_run(re_chat_t *c, re_turn_t *t, char *const *envp,
    re_model_watch_t *w)
{
    struct pollfd  pfd;
    int       in[2], out[2], logfd, status, devnull;
    char     *argv[RE_AGENT_ARGS_MAX], *input, *buf, *nl, logpath[4400];
    char      cwd[4200];
    sigset_t  none;
    char     *p;
    size_t    len, cap;
    ssize_t   n;
    pid_t     pid;

    if (c->agent->argv(t, argv, RE_AGENT_ARGS_MAX) != 0) {
        return -1;
    }

    input = c->agent->input(t);
    if (input == NULL) {
        return -1;
    }

    /* computed here: after fork only async-signal-safe calls */
    re_start_cwd(cwd, sizeof(cwd));

    snprintf(logpath, sizeof(logpath), "%s/%s.log", re_chats.logdir,
             c->name);
    logfd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

    if (pipe2(in, O_CLOEXEC) != 0) {
        free(input);
        if (logfd >= 0) {
            close(logfd);
        }
        return -1;
    }

    if (pipe2(out, O_CLOEXEC) != 0) {
        close(in[0]);
        close(in[1]);
        free(input);
        if (logfd >= 0) {
            close(logfd);
        }
        return -1;
    }

    pid = fork();

    if (pid == 0) {
        /* the engine's threads block the stop signals (sigwait takes
         * them): the agent must not inherit that */
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);

        /* a session of its own: an interrupt stops all it started */
        (void) setsid();
        devnull = open("/dev/null", O_WRONLY);
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(logfd >= 0 ? logfd : devnull, 2);

        if (chdir(cwd) != 0 && chdir(re_engine.workdir) != 0) {
            _exit(126);
        }

        execve(argv[0], argv, envp);
        _exit(127);
    }

    close(in[0]);
    close(out[1]);

    if (logfd >= 0) {
        close(logfd);
    }

    if (pid < 0) {
        close(in[1]);
        close(out[0]);
        free(input);
        return -1;
    }

    pthread_mutex_lock(&re_chats.lock);
    c->pid = pid;

    if (c->interrupted) {
        (void) kill(-pid, SIGTERM);
    }

    pthread_mutex_unlock(&re_chats.lock);

    /* the prompt, then end of input: one message a turn (a CLI that
     * stopped reading just gets its end of input) */
    (void) re_write_all(in[1], input, strlen(input));

    close(in[1]);
    free(input);

    /* its output, a line at a time */
    cap = 64 * 1024;
    buf = malloc(cap);
    len = 0;

    pfd.fd = out[0];
    pfd.events = POLLIN;

    while (buf) {
        /* woken once a second without output: the watchdog's step */
        re_model_watch(w, t, c->agent->name, pid);
        re_chat_escalate(c, pid);

        if (poll(&pfd, 1, 1000) <= 0) {
            continue;
        }

        if (len == cap) {
            if (cap >= RE_CHAT_LINE_MAX) {
                len = 0;             /* an endless line: dropped */
            } else {
                p = realloc(buf, cap * 2);
                if (p == NULL) {
                    break;
                }
                buf = p;
                cap *= 2;
            }
        }

        n = read(out[0], buf + len, cap - len);

        if (n < 0 && errno == EINTR) {
            continue;
        }

        if (n <= 0) {
            break;
        }

        len += (size_t) n;
        w->last_output = re_now_ms();

        while ((nl = memchr(buf, '\n', len)) != NULL) {
            c->agent->line(t, buf, (size_t) (nl - buf));
            len -= (size_t) (nl - buf) + 1;
            memmove(buf, nl + 1, len);
        }
    }

    if (buf && len) {
        c->agent->line(t, buf, len);
    }

    free(buf);
    close(out[0]);

    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            status = 127 << 8;
            break;
        }
    }

    return WIFEXITED(status) ? WEXITSTATUS(status)
                             : 128 + (WIFSIGNALED(status) ? WTERMSIG(status)
                                                          : 0);
}


/* the turn stopped (or the CLI gave up) with its model unreachable */
static void
re_chat_unreachable(re_chat_t *c, re_entry_t *e, re_model_watch_t *w)
{
    char  msg[1600];

    snprintf(msg, sizeof(msg), "the model API at %s could not be reached "
             "(%s: %s); the turn was stopped. Check the workspace's "
             "network and its base URL (%s), then send the message again",
             w->url, w->error, w->detail,
             c->agent->url_vars && c->agent->url_vars[0]
             ? c->agent->url_vars[0] : "the agent's configuration");

    re_events_emit("chat.turn.failed",
        json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:s}", "chat", c->name,
                  "seq", (json_int_t) e->seq, "reason", "model_unreachable",
                  "url", w->url, "error", w->error, "message", msg,
                  "agent", c->agent->name));
}


static void
re_chat_turn(re_chat_t *c, re_entry_t *e)
{
    int          rc, interrupted;
    char        *bin, **envp, **agent_env, *prompt, *repo_prompt, *folded;
    long long          start;
    re_turn_t          t;
    re_model_watch_t   watch;

    /* a rebase or merge of the work tree (POST /git/update) ends first */
    re_git_wait();

    memset(&t, 0, sizeof(t));
    prompt = NULL;
    folded = NULL;
    t.chat = c->name;
    t.seq = e->seq;
    t.text = e->text;

    t.session = c->session[0] ? c->session : NULL;
    t.prior_input_tokens = c->tokens_in;
    t.prior_output_tokens = c->tokens_out;

    envp = re_chat_env();
    bin = envp ? re_chat_bin(c->agent, envp) : NULL;

    if (envp == NULL || bin == NULL) {
        snprintf(t.args, sizeof(t.args), "%s is not installed in this "
                 "workspace", c->agent->bin_name);
        re_events_emit("chat.turn.failed",
            json_pack("{s:s, s:I, s:s, s:s}", "chat", c->name,
                      "seq", (json_int_t) e->seq, "reason", "no_agent",
                      "message", t.args));
        re_env_free(envp);
        return;
    }

    if (!re_chat_has_key(c->agent, envp)) {
        snprintf(t.args, sizeof(t.args), "no model API key is configured: "
                 "put %s in the workspace's environment (PUT "
                 "/v1/environments/global) and send the message again",
                 c->agent->keys[0]);
        re_events_emit("chat.turn.failed",
            json_pack("{s:s, s:I, s:s, s:s}", "chat", c->name,
                      "seq", (json_int_t) e->seq, "reason", "no_model_key",
                      "message", t.args));
        free(bin);
        re_env_free(envp);
        return;
    }

    /* several messages in one turn: the agent is told so, and how many */
    if (e->count > 1) {
        if (asprintf(&folded, "%lld messages of the kind \"%s\" arrived "
                     "while you were busy; they are together here, "
                     "separated by lines of ---.\n\n%s", e->count,
                     e->kind ? e->kind : "same", e->text)
            < 0)
        {
            folded = NULL;

        } else {
            t.text = folded;
        }
    }

    t.bin = bin;
    t.envp = envp;

    /* how to live in the workspace, and the repository's own prompt */
    repo_prompt = re_start_system_prompt();
    prompt = re_instructions(repo_prompt);
    t.system_prompt = prompt;
    free(repo_prompt);

    /* what this agent needs set besides (its config) */
    agent_env = c->agent->env ? c->agent->env(&t) : NULL;

    if (agent_env) {
        re_env_free(envp);
        envp = agent_env;
        t.envp = envp;
    }

    start = re_now_ms();

    re_events_emit("chat.turn.started",
        json_pack("{s:s, s:I, s:s, s:s?, s:I}", "chat", c->name,
                  "seq", (json_int_t) e->seq, "agent", c->agent->name,
                  "session_id", t.session, "messages", (json_int_t) e->count));
    re_info("chat.turn_start", "chat=%s seq=%lld agent=%s", c->name, e->seq,
            c->agent->name);

    re_model_watch_init(&watch, c->agent, envp);

    rc = re_chat_run(c, &t, envp, &watch);

    pthread_mutex_lock(&re_chats.lock);

    interrupted = c->interrupted;
    c->pid = 0;

    /* the conversation goes on from here next time */
    if (t.session_out[0]) {
        snprintf(c->session, sizeof(c->session), "%s", t.session_out);
    }

    if (t.total_input_tokens || t.total_output_tokens) {
        c->tokens_in = t.total_input_tokens;
        c->tokens_out = t.total_output_tokens;
    }

    re_chats_spent(&t);

    /* kept now: the workspace may sleep before the turn's commit and push
     * are done, and the next turn must resume this session */
    re_chats_save();

    pthread_mutex_unlock(&re_chats.lock);

    if (interrupted) {
        re_events_emit("chat.turn.interrupted",
            json_pack("{s:s, s:I, s:s}", "chat", c->name,
                      "seq", (json_int_t) e->seq, "reason", "interrupted"));

    } else if (watch.stopped || (!t.completed && watch.failures)) {
        re_chat_unreachable(c, e, &watch);
        t.completed = 0;

    } else if (t.completed) {
        re_events_emit("chat.turn.completed",
            json_pack("{s:s, s:I, s:s, s:s?, s:b, s:O?, s:f, s:{s:I, s:I}, "
                      "s:I}", "chat", c->name, "seq", (json_int_t) e->seq,
                      "agent", c->agent->name,
                      "session_id", c->session[0] ? c->session : NULL,
                      "is_error", t.is_error, "result", t.result,
                      "cost_usd", t.cost_usd,
                      "usage", "input_tokens", (json_int_t) t.input_tokens,
                      "output_tokens", (json_int_t) t.output_tokens,
                      "ms", (json_int_t) (re_now_ms() - start)));

    } else {
        re_events_emit("chat.turn.failed",
            json_pack("{s:s, s:I, s:s, s:i, s:s}", "chat", c->name,
                      "seq", (json_int_t) e->seq, "reason", "agent_exited",
                      "exit", rc, "message", "the agent stopped without an "
                      "answer: see its log"));
    }

    re_info("chat.turn_end", "chat=%s seq=%lld exit=%d completed=%d ms=%lld",
            c->name, e->seq, rc, t.completed, re_now_ms() - start);

    /* the turn's work committed (and pushed) in every repository */
    if (!interrupted && t.completed) {
        re_git_after_turn(c->name, e->seq, e->text, e->user, e->author_name,
                          e->author_email);
        re_health_git_changed();
    }

    json_decref(t.result);
    free(folded);
    free(t.buf);
    free(prompt);
    free(bin);
    re_env_free(envp);
}


/* a chat's runner: its queue, a turn at a time, until it is empty */
static void *
re_chat_thread(void *arg)
{
    re_chat_t   *c = arg;
    re_entry_t  *e;

    for ( ;; ) {
        pthread_mutex_lock(&re_chats.lock);

        e = c->head;

        if (e == NULL || atomic_load(&re_engine.stopping)) {
            c->running = 0;
            re_chats_save();
            pthread_mutex_unlock(&re_chats.lock);
            return NULL;
        }

        c->interrupted = 0;
        re_chats_save();
        pthread_mutex_unlock(&re_chats.lock);

        /* the entry stays at the head while it runs: only this thread
         * removes it, and nothing else frees a running chat's head */
        re_chat_turn(c, e);

        pthread_mutex_lock(&re_chats.lock);
        re_chat_pop(c);
        re_chats_save();
        pthread_mutex_unlock(&re_chats.lock);
    }
}
