/* Git in the engine: see re_git.h. */

#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>

#include "common/rp_url.h"
#include "re_engine.h"
#include "re_events.h"
#include "re_git.h"
#include "re_git_int.h"
#include "re_hooks.h"
#include "re_log.h"
#include "re_request.h"
#include "re_start.h"


#define RE_GIT_REPOS_MAX     64
#define RE_GIT_FILES_MAX     1000      /* paths listed in git.committed */
#define RE_GIT_SUBJECT_MAX   72


/* commits and pushes, one at a time (two chats may end turns together);
 * readers (GET /git, /diff) take no lock: git's own files are replaced
 * atomically */
pthread_mutex_t         re_git_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t   re_git_once = PTHREAD_ONCE_INIT;


static void
re_git_init_once(void)
{
    const char  *ca;

    git_libgit2_init();

    /* no one's ~/.gitconfig or /etc/gitconfig (as control): the agent may
     * write one, but what the engine commits and pushes does not change
     * with it */
    (void) git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, GIT_CONFIG_LEVEL_GLOBAL,
                            "");
    (void) git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, GIT_CONFIG_LEVEL_XDG, "");
    (void) git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, GIT_CONFIG_LEVEL_SYSTEM,
                            "");

    ca = getenv("REPLICAS_GIT_CA_FILE");

    if (ca && *ca) {
        (void) git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, ca, NULL);
    }
}


void
re_git_init(void)
{
    pthread_once(&re_git_once, re_git_init_once);
}


/* libgit2's last error, without any "user:secret@" of a URL, nor the
 * token itself should a message quote it */
void
re_git_error(const char *what, const char *token, char *err, size_t errlen)
{
    char              msg[RE_GIT_ERR_MAX], *p;
    size_t            tlen;
    const git_error  *e;

    e = git_error_last();
    snprintf(msg, sizeof(msg), "%s", e && e->message ? e->message : "failed");
    rp_url_strip_userinfo(msg);

    tlen = token ? strlen(token) : 0;

    while (tlen && (p = strstr(msg, token)) != NULL) {
        memset(p, '*', tlen);
    }

    for (p = msg; *p; p++) {
        if ((unsigned char) *p < 0x20) {
            *p = ' ';
        }
    }

    snprintf(err, errlen, "%s: %s", what, msg);
}


/* a repository's name: a plain directory name, not hidden */
static int
re_git_name_ok(const char *name)
{
    size_t  len;

    len = strlen(name);

    return len >= 1 && len <= 255 && name[0] != '.' && !strchr(name, '/');
}


int
re_git_repo_path(const char *name, char *path, size_t size)
{
    char         dotgit[4400];
    struct stat  st;

    if (!re_git_name_ok(name)) {
        return 0;
    }

    if ((size_t) snprintf(path, size, "%s/%s", re_engine.workdir, name)
        >= size)
    {
        return 0;
    }

    snprintf(dotgit, sizeof(dotgit), "%s/.git", path);

    /* the directory itself, not a link to elsewhere; .git a directory or
     * a gitfile (a worktree) */
    return lstat(path, &st) == 0 && S_ISDIR(st.st_mode)
           && lstat(dotgit, &st) == 0
           && (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode));
}


static int
re_git_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}


/* the repositories' names, sorted (free each, then the array) */
static size_t
re_git_repos(char **names, size_t max)
{
    char            path[4200];
    DIR            *d;
    size_t          n;
    struct dirent  *de;

    n = 0;
    d = opendir(re_engine.workdir);

    if (d == NULL) {
        return 0;
    }

    while (n < max && (de = readdir(d)) != NULL) {
        if (re_git_repo_path(de->d_name, path, sizeof(path))) {
            names[n] = strdup(de->d_name);
            n += names[n] != NULL;
        }
    }

    closedir(d);

    qsort(names, n, sizeof(char *), re_git_cmp);

    return n;
}


git_repository *
re_git_open(const char *name)
{
    char             path[4200], err[RE_GIT_ERR_MAX], *q;
    git_repository  *repo;

    re_git_init();

    if (!re_git_repo_path(name, path, sizeof(path))) {
        return NULL;
    }

    if (git_repository_open_ext(&repo, path, GIT_REPOSITORY_OPEN_NO_SEARCH,
                                NULL) != 0)
    {
        /* say why (a repository owned by another user, a broken .git) */
        re_git_error("open", NULL, err, sizeof(err));

        for (q = err; *q; q++) {
            *q = *q == '"' ? '\'' : *q;
        }

        re_warn("git.open_failed", "repository=%s error=\"%s\"", name, err);
        return NULL;
    }

    if (git_repository_is_bare(repo)) {
        git_repository_free(repo);
        return NULL;
    }

    return repo;
}


/* the current branch's short name ("" when HEAD is detached or missing);
 * an unborn branch (no commit yet) has its name too */
void
re_git_branch(git_repository *repo, char *branch, size_t size)
{
    const char     *target;
    git_reference  *head;

    branch[0] = '\0';

    if (git_reference_lookup(&head, repo, "HEAD") != 0) {
        return;
    }

    target = git_reference_symbolic_target(head);

    if (target && strncmp(target, "refs/heads/", 11) == 0) {
        snprintf(branch, size, "%s", target + 11);
    }

    git_reference_free(head);
}


/* the remote's default branch as this clone knows it: origin/HEAD, else
 * origin/main, origin/master; 0 or -1 */
int
re_git_default(git_repository *repo, git_oid *oid, char *name, size_t size)
{
    size_t          i;
    const char     *t;
    git_reference  *ref, *res;
    static const char *const refs[] = { "refs/remotes/origin/HEAD",
                                        "refs/remotes/origin/main",
                                        "refs/remotes/origin/master", NULL };

    for (i = 0; refs[i]; i++) {
        if (git_reference_lookup(&ref, repo, refs[i]) != 0) {
            continue;
        }

        if (git_reference_resolve(&res, ref) == 0) {
            git_oid_cpy(oid, git_reference_target(res));
            t = git_reference_name(res);

            if (name) {
                snprintf(name, size, "%s",
                         strncmp(t, "refs/remotes/origin/", 20) == 0 ? t + 20
                                                                     : t);
            }

            git_reference_free(res);
            git_reference_free(ref);
            return 0;
        }

        git_reference_free(ref);
    }

    return -1;
}


/* the branch point of head: its merge base with the remote's default
 * branch, else the first commit of its history; 0 or -1 */
static int
re_git_base(git_repository *repo, const git_oid *head, git_oid *base)
{
    int           rc;
    git_oid       def;
    git_revwalk  *walk;

    if (re_git_default(repo, &def, NULL, 0) == 0
        && git_merge_base(base, repo, head, &def) == 0)
    {
        return 0;
    }

    if (git_revwalk_new(&walk, repo) != 0) {
        return -1;
    }

    git_revwalk_sorting(walk, GIT_SORT_TOPOLOGICAL | GIT_SORT_REVERSE);

    rc = git_revwalk_push(walk, head) == 0 && git_revwalk_next(base, walk) == 0
         ? 0 : -1;

    git_revwalk_free(walk);

    return rc;
}


int
re_git_dirty(git_repository *repo)
{
    int                  dirty;
    git_status_list     *st;
    git_status_options   opts;

    git_status_options_init(&opts, GIT_STATUS_OPTIONS_VERSION);
    opts.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
    opts.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED
                 | GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS
                 | GIT_STATUS_OPT_EXCLUDE_SUBMODULES;

    if (git_status_list_new(&st, repo, &opts) != 0) {
        return -1;
    }

    dirty = git_status_list_entrycount(st) > 0;
    git_status_list_free(st);

    return dirty;
}


/* ---- commit after a turn ---------------------------------------------- */

/* the prompt's first non-empty line, at most 72 bytes (cut between UTF-8
 * characters), control characters as spaces */
static void
re_git_subject(const char *prompt, const char *chat, char *out, size_t size)
{
    size_t  len, i;

    while (*prompt == ' ' || *prompt == '\t' || *prompt == '\n'
           || *prompt == '\r')
    {
        prompt++;
    }

    len = strcspn(prompt, "\r\n");

    if (len > RE_GIT_SUBJECT_MAX) {
        len = RE_GIT_SUBJECT_MAX;

        while (len > 0 && ((unsigned char) prompt[len] & 0xc0) == 0x80) {
            len--;
        }
    }

    while (len > 0 && (prompt[len - 1] == ' ' || prompt[len - 1] == '\t')) {
        len--;
    }

    if (len == 0) {
        snprintf(out, size, "Work from chat %s", chat);
        return;
    }

    if (len >= size) {
        len = size - 1;
    }

    for (i = 0; i < len; i++) {
        out[i] = (unsigned char) prompt[i] < 0x20 || prompt[i] == 0x7f
                 ? ' ' : prompt[i];
    }

    out[len] = '\0';
}


typedef struct {
    const char  *chat;
    long long    seq;
    const char  *prompt;
    char         author_name[RE_AUTHOR_NAME_MAX + 1];
    char         author_email[RE_AUTHOR_EMAIL_MAX + 1];
    char         committer_name[RE_AUTHOR_NAME_MAX + 1];
    char         committer_email[RE_AUTHOR_EMAIL_MAX + 1];
} re_git_turn_t;


/* a signature, or the bot's should the name or address be refused */
static int
re_git_signature(git_signature **sig, const char *name, const char *email)
{
    if (git_signature_now(sig, name, email) == 0) {
        return 0;
    }

    return git_signature_now(sig, RE_GIT_BOT_NAME, RE_GIT_BOT_EMAIL);
}


/* the changed paths between two trees (a NULL one: empty) */
static json_t *
re_git_changed(git_repository *repo, git_tree *from, git_tree *to)
{
    size_t                i, n;
    json_t               *files;
    git_diff             *diff;
    const git_diff_delta *d;

    files = json_array();

    if (files == NULL || git_diff_tree_to_tree(&diff, repo, from, to, NULL)
                         != 0)
    {
        return files;
    }

    n = git_diff_num_deltas(diff);

    for (i = 0; i < n && i < RE_GIT_FILES_MAX; i++) {
        d = git_diff_get_delta(diff, i);
        json_array_append_new(files, json_string(d->status == GIT_DELTA_DELETED
                                                 ? d->old_file.path
                                                 : d->new_file.path));
    }

    git_diff_free(diff);

    return files;
}


/* what `git add -A` would add, but a repository inside the work tree
 * (one an agent cloned or a scaffolder made: "sub/") is left out instead
 * of failing the whole commit */
static int
re_git_add_cb(const char *path, const char *matched, void *payload)
{
    size_t  len;

    (void) matched;
    (void) payload;

    len = strlen(path);

    return len && path[len - 1] == '/' ? 1 : 0;
}


/* commits the work tree of one repository if it changed: 1 committed, 0
 * nothing to commit, -1 failed (an event says why) */
static int
re_git_commit(const char *name, git_repository *repo, const char *branch,
    const re_git_turn_t *turn)
{
    int             rc, dirty;
    char            msg[RE_GIT_SUBJECT_MAX + 256];
    char            subject[RE_GIT_SUBJECT_MAX + 1];
    char            sha[GIT_OID_HEXSZ + 1], err[RE_GIT_ERR_MAX];
    size_t          nparents;
    json_t         *files;
    git_oid         tree_oid, oid, parent_oid;
    git_tree       *tree, *parent_tree;
    git_index      *index;
    git_commit     *parent;
    git_signature  *author, *committer;
    const git_commit  *parents[1];

    dirty = re_git_dirty(repo);

    if (dirty == 0) {
        return 0;
    }

    rc = -1;
    index = NULL;
    tree = NULL;
    parent = NULL;
    parent_tree = NULL;
    author = NULL;
    committer = NULL;

    if (dirty < 0) {
        re_git_error("status", NULL, err, sizeof(err));
        goto done;
    }

    /* everything, as `git add -A`: new and changed files (ignored ones
     * stay out), and deleted ones removed */
    if (git_repository_index(&index, repo) != 0
        || git_index_add_all(index, NULL, GIT_INDEX_ADD_DEFAULT,
                             re_git_add_cb, NULL) != 0
        || git_index_update_all(index, NULL, NULL, NULL) != 0
        || git_index_write(index) != 0
        || git_index_write_tree(&tree_oid, index) != 0
        || git_tree_lookup(&tree, repo, &tree_oid) != 0)
    {
        re_git_error("stage", NULL, err, sizeof(err));
        goto done;
    }

    nparents = 0;

    /* an unborn branch (no commit yet) has no parent */
    if (git_reference_name_to_id(&parent_oid, repo, "HEAD") == 0) {
        if (git_commit_lookup(&parent, repo, &parent_oid) != 0
            || git_commit_tree(&parent_tree, parent) != 0)
        {
            re_git_error("head", NULL, err, sizeof(err));
            goto done;
        }

        nparents = 1;

        /* changes git does not keep (an empty directory): no commit */
        if (git_oid_equal(&tree_oid, git_tree_id(parent_tree))) {
            rc = 0;
            goto done;
        }
    }

    if (re_git_signature(&author, turn->author_name, turn->author_email) != 0
        || re_git_signature(&committer, turn->committer_name,
                            turn->committer_email) != 0)
    {
        re_git_error("signature", NULL, err, sizeof(err));
        goto done;
    }

    re_git_subject(turn->prompt, turn->chat, subject, sizeof(subject));
    snprintf(msg, sizeof(msg), "%s\n\nReplicas-Chat: %s\nReplicas-Seq: %lld\n",
             subject, turn->chat, turn->seq);

    parents[0] = parent;

    if (git_commit_create(&oid, repo, "HEAD", author, committer, NULL, msg,
                          tree, nparents, parents) != 0)
    {
        re_git_error("commit", NULL, err, sizeof(err));
        goto done;
    }

    git_oid_tostr(sha, sizeof(sha), &oid);
    files = re_git_changed(repo, parent_tree, tree);

    re_info("git.committed", "repository=%s branch=%s sha=%s files=%zu",
            name, branch, sha, json_array_size(files));

    re_events_emit("git.committed",
        json_pack("{s:s, s:s, s:s, s:o, s:{s:s, s:s}, s:s, s:I}",
                  "repository", name, "branch", branch, "sha", sha,
                  "files", files ? files : json_array(),
                  "author", "name", author->name, "email", author->email,
                  "chat", turn->chat, "seq", (json_int_t) turn->seq));
    rc = 1;

done:

    if (rc < 0) {
        re_warn("git.commit_failed", "repository=%s", name);
        re_events_emit("git.commit_failed",
                       json_pack("{s:s, s:s, s:s}", "repository", name,
                                 "branch", branch, "error", err));
    }

    git_signature_free(author);
    git_signature_free(committer);
    git_tree_free(parent_tree);
    git_commit_free(parent);
    git_tree_free(tree);
    git_index_free(index);

    return rc;
}


/* ---- push --------------------------------------------------------------- */

int
re_git_credentials(git_credential **out, const char *url,
    const char *username, unsigned int allowed, void *payload)
{
    re_git_push_t  *p = payload;

    (void) username;

    /* one attempt: a wrong token must fail, not loop */
    if (p->token == NULL || p->tries++ > 0
        || strncmp(url, "https://", 8) != 0
        || !(allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT))
    {
        return GIT_PASSTHROUGH;
    }

    return git_credential_userpass_plaintext_new(out, "x-access-token",
                                                 p->token);
}


/* the server refused the update (not a fast-forward, a protected branch) */
static int
re_git_push_status(const char *refname, const char *status, void *data)
{
    re_git_push_t  *p = data;
    char           *c;

    if (status && p->rejected[0] == '\0') {
        snprintf(p->rejected, sizeof(p->rejected), "%s rejected: %s",
                 refname, status);

        for (c = p->rejected; *c; c++) {
            if ((unsigned char) *c < 0x20) {
                *c = ' ';
            }
        }
    }

    return 0;
}


const char *
re_git_token(char *const *envp)
{
    const char  *token;

    token = envp ? re_env_get(envp, "REPLICAS_GIT_TOKEN") : NULL;

    if (envp && (token == NULL || token[0] == '\0')) {
        token = re_env_get(envp, "GITHUB_TOKEN");
    }

    return token && token[0] ? token : NULL;
}


int
re_git_url_local(const char *url)
{
    return strncmp(url, "file://", 7) == 0 || url[0] == '/'
           || strncmp(url, "http://", 7) == 0
           || (strchr(url, ':') == NULL && url[0] != '\0');
}


void
re_git_committer(char *const *envp, char *name, size_t nsize, char *email,
    size_t esize)
{
    const char  *v;

    v = envp ? re_env_get(envp, "REPLICAS_GIT_COMMITTER_NAME") : NULL;
    snprintf(name, nsize, "%s", v && v[0] ? v : RE_GIT_BOT_NAME);
    v = envp ? re_env_get(envp, "REPLICAS_GIT_COMMITTER_EMAIL") : NULL;
    snprintf(email, esize, "%s", v && v[0] ? v : RE_GIT_BOT_EMAIL);
}


/*
 * Pushes the current branch to origin; always: even when origin's branch
 * as this clone knows it is the same.  Never the remote's default branch
 * (the workspace's work goes to its own branch, for a pull request).
 * Emits git.pushed or git.push_failed.
 */
re_git_push_e
re_git_push(const char *name, git_repository *repo, char *const *envp,
    int always, int force, json_t **result, char *err, size_t errlen)
{
    int                  local;
    char                 refspec[600], tracking[600], sha[GIT_OID_HEXSZ + 1];
    char                 branch[256], def[256];
    char                *specs[1];
    git_oid              head, known, dummy;
    git_remote          *remote;
    git_reference       *ref;
    git_strarray         arr;
    re_git_push_e        rc;
    re_git_push_t        p;
    const char          *url, *token;
    git_push_options     opts;

    re_git_branch(repo, branch, sizeof(branch));

    if (branch[0] == '\0'
        || git_reference_name_to_id(&head, repo, "HEAD") != 0)
    {
        snprintf(err, errlen, "HEAD is not on a branch with commits");
        return RE_GIT_NO_PUSH;
    }

    git_oid_tostr(sha, sizeof(sha), &head);

    if (re_git_default(repo, &dummy, def, sizeof(def)) == 0
        && strcmp(def, branch) == 0)
    {
        snprintf(err, errlen, "the branch is the remote's default branch "
                 "(%s): the engine pushes only the workspace's own", def);
        return RE_GIT_NO_PUSH;
    }

    if (git_remote_lookup(&remote, repo, "origin") != 0) {
        snprintf(err, errlen, "no remote \"origin\"");
        return RE_GIT_NO_PUSH;
    }

    snprintf(tracking, sizeof(tracking), "refs/remotes/origin/%s", branch);

    if (!always && git_reference_name_to_id(&known, repo, tracking) == 0
        && git_oid_equal(&known, &head))
    {
        git_remote_free(remote);
        return RE_GIT_UP_TO_DATE;
    }

    url = git_remote_pushurl(remote) ? git_remote_pushurl(remote)
                                     : git_remote_url(remote);
    url = url ? url : "";

    token = re_git_token(envp);

    /* a path, file://, or http:// (a local server) need no credentials;
     * https needs the token; ssh and the rest are not for the engine */
    local = re_git_url_local(url);

    if (!local && (strncmp(url, "https://", 8) != 0 || token == NULL)) {
        git_remote_free(remote);
        snprintf(err, errlen, strncmp(url, "https://", 8) == 0
                 ? "no token to push with (set REPLICAS_GIT_TOKEN)"
                 : "the remote is neither https nor local");
        return RE_GIT_NO_PUSH;
    }

    memset(&p, 0, sizeof(p));
    p.token = local ? NULL : token;

    git_push_options_init(&opts, GIT_PUSH_OPTIONS_VERSION);
    opts.callbacks.credentials = re_git_credentials;
    opts.callbacks.push_update_reference = re_git_push_status;
    opts.callbacks.payload = &p;

    /* forced only after a rebase of the workspace's own branch */
    snprintf(refspec, sizeof(refspec), "%srefs/heads/%s:refs/heads/%s",
             force ? "+" : "", branch, branch);
    specs[0] = refspec;
    arr.strings = specs;
    arr.count = 1;

    if (git_remote_push(remote, &arr, &opts) != 0) {
        re_git_error("push", token, err, errlen);
        rc = RE_GIT_PUSH_FAILED;

    } else if (p.rejected[0]) {
        snprintf(err, errlen, "push: %s", p.rejected);
        rc = RE_GIT_PUSH_FAILED;

    } else {
        /* origin's branch as this clone knows it (a push updates it when
         * the remote has the usual fetch refspec; this makes sure) */
        if (git_reference_create(&ref, repo, tracking, &head, 1, "push")
            == 0)
        {
            git_reference_free(ref);
        }

        rc = RE_GIT_PUSHED;
    }

    git_remote_free(remote);

    if (rc == RE_GIT_PUSHED) {
        re_info("git.pushed", "repository=%s branch=%s sha=%s", name, branch,
                sha);
        re_events_emit("git.pushed",
                       json_pack("{s:s, s:s, s:s, s:s}", "repository", name,
                                 "branch", branch, "sha", sha,
                                 "remote", "origin"));

        if (result) {
            *result = json_pack("{s:s, s:s, s:s, s:s}", "repository", name,
                                "branch", branch, "sha", sha,
                                "remote", "origin");
        }

    } else {
        re_warn("git.push_failed", "repository=%s branch=%s", name, branch);
        re_events_emit("git.push_failed",
                       json_pack("{s:s, s:s, s:s}", "repository", name,
                                 "branch", branch, "error", err));
    }

    return rc;
}


/* what a user id can be in an address; else "unknown" */
static int
re_git_user_ok(const char *user)
{
    size_t  len;

    len = user ? strlen(user) : 0;

    return len >= 1 && len <= 64
           && strspn(user, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV"
                           "WXYZ0123456789._-") == len;
}


void
re_git_after_turn(const char *chat, long long seq, const char *prompt,
    const char *user, const char *author_name, const char *author_email)
{
    int             pushed[RE_GIT_REPOS_MAX];
    char           *names[RE_GIT_REPOS_MAX], err[RE_GIT_ERR_MAX];
    char            branch[256], **envp;
    size_t          i, n;
    re_git_push_e   rc;
    re_git_turn_t   turn;
    git_repository *repo;

    re_git_init();

    memset(&turn, 0, sizeof(turn));
    turn.chat = chat;
    turn.seq = seq;
    turn.prompt = prompt;

    if (author_name && author_email) {
        snprintf(turn.author_name, sizeof(turn.author_name), "%s",
                 author_name);
        snprintf(turn.author_email, sizeof(turn.author_email), "%s",
                 author_email);
    } else {
        snprintf(turn.author_name, sizeof(turn.author_name), "Replicas user");
        snprintf(turn.author_email, sizeof(turn.author_email),
                 "%s@users.noreply.local",
                 re_git_user_ok(user) ? user : "unknown");
    }

    envp = re_start_env();

    re_git_committer(envp, turn.committer_name, sizeof(turn.committer_name),
                     turn.committer_email, sizeof(turn.committer_email));

    pthread_mutex_lock(&re_git_lock);

    n = re_git_repos(names, RE_GIT_REPOS_MAX);

    for (i = 0; i < n; i++) {
        pushed[i] = 0;
        repo = re_git_open(names[i]);

        if (repo == NULL) {
            continue;
        }

        re_git_branch(repo, branch, sizeof(branch));

        /* a detached HEAD (the agent checked out a commit): nothing
         * committed, the work stays in the tree */
        if (branch[0]) {
            (void) re_git_commit(names[i], repo, branch, &turn);

            /* a commit of the agent's own counts too: pushed when origin
             * does not have it yet */
            rc = envp ? re_git_push(names[i], repo, envp, 0, 0, NULL, err,
                                    sizeof(err))
                      : RE_GIT_NO_PUSH;

            if (rc == RE_GIT_NO_PUSH) {
                re_info("git.push_skipped", "repository=%s", names[i]);
            }

            pushed[i] = rc == RE_GIT_PUSHED;
        }

        git_repository_free(repo);
    }

    pthread_mutex_unlock(&re_git_lock);

    /* the pull request of what was pushed (GitHub asked without the lock) */
    for (i = 0; i < n; i++) {
        if (pushed[i]) {
            re_git_pr_after_push(names[i]);
        }

        free(names[i]);
    }

    re_env_free(envp);
}


/* ---- reading ------------------------------------------------------------ */

/*
 * How far each repository's head is past its branch point, as last
 * counted: the branch point's walk is the one part of a repository's
 * summary that costs more than reading a few files (a history without
 * origin's default branch is walked to its first commit), so /healthz's
 * summary, scanned every few seconds, counts again only when head or the
 * default branch's tip moved.  re_git_ahead_lock is a leaf.
 */
typedef struct {
    char     name[256];
    git_oid  head;
    git_oid  def;
    size_t   ahead;
} re_git_ahead_t;

static pthread_mutex_t  re_git_ahead_lock = PTHREAD_MUTEX_INITIALIZER;
static re_git_ahead_t   re_git_aheads[RE_GIT_REPOS_MAX];
static size_t           re_git_naheads;


/* commits of head past its branch point (base gets it; 0 when unknown) */
static size_t
re_git_ahead_count(git_repository *repo, const git_oid *head, git_oid *base,
    int *has_base)
{
    size_t  ahead, behind;

    *has_base = re_git_base(repo, head, base) == 0;

    if (!*has_base
        || git_graph_ahead_behind(&ahead, &behind, repo, head, base) != 0)
    {
        return 0;
    }

    return ahead;
}


static size_t
re_git_ahead_cached(const char *name, git_repository *repo,
    const git_oid *head)
{
    int              has_base;
    size_t           i, ahead;
    git_oid          def, base;
    re_git_ahead_t  *a;

    memset(&def, 0, sizeof(def));
    (void) re_git_default(repo, &def, NULL, 0);

    if (strlen(name) >= sizeof(re_git_aheads[0].name)) {
        return re_git_ahead_count(repo, head, &base, &has_base);
    }

    pthread_mutex_lock(&re_git_ahead_lock);

    for (i = 0; i < re_git_naheads; i++) {
        a = &re_git_aheads[i];

        if (strcmp(a->name, name) == 0 && git_oid_equal(&a->head, head)
            && git_oid_equal(&a->def, &def))
        {
            ahead = a->ahead;
            pthread_mutex_unlock(&re_git_ahead_lock);
            return ahead;
        }
    }

    pthread_mutex_unlock(&re_git_ahead_lock);

    ahead = re_git_ahead_count(repo, head, &base, &has_base);

    pthread_mutex_lock(&re_git_ahead_lock);

    for (i = 0; i < re_git_naheads; i++) {
        if (strcmp(re_git_aheads[i].name, name) == 0) {
            break;
        }
    }

    if (i == re_git_naheads && re_git_naheads < RE_GIT_REPOS_MAX) {
        re_git_naheads++;
    }

    if (i < re_git_naheads) {
        a = &re_git_aheads[i];
        snprintf(a->name, sizeof(a->name), "%s", name);
        git_oid_cpy(&a->head, head);
        git_oid_cpy(&a->def, &def);
        a->ahead = ahead;
    }

    pthread_mutex_unlock(&re_git_ahead_lock);

    return ahead;
}


/*
 * One repository: {name, branch, head, ahead, pullRequest?}, the summary
 * /healthz carries and control keeps as the workspace's "git"; full (GET
 * /git) adds base and dirty, which cost a walk and a status scan.
 */
static json_t *
re_git_repo_json(const char *name, int full)
{
    int              dirty, has_base;
    char             branch[256], head_hex[GIT_OID_HEXSZ + 1];
    char             base_hex[GIT_OID_HEXSZ + 1];
    size_t           ahead;
    json_t          *j, *pr;
    git_oid          head, base;
    git_repository  *repo;

    repo = re_git_open(name);

    if (repo == NULL) {
        return NULL;
    }

    re_git_branch(repo, branch, sizeof(branch));

    head_hex[0] = '\0';
    base_hex[0] = '\0';
    ahead = 0;

    if (git_reference_name_to_id(&head, repo, "HEAD") == 0) {
        git_oid_tostr(head_hex, sizeof(head_hex), &head);

        if (full) {
            ahead = re_git_ahead_count(repo, &head, &base, &has_base);

            if (has_base) {
                git_oid_tostr(base_hex, sizeof(base_hex), &base);
            }

        } else {
            ahead = re_git_ahead_cached(name, repo, &head);
        }
    }

    j = json_pack("{s:s, s:s?, s:s?, s:I}", "name", name,
                  "branch", branch[0] ? branch : NULL,
                  "head", head_hex[0] ? head_hex : NULL,
                  "ahead", (json_int_t) ahead);

    if (j && full) {
        dirty = re_git_dirty(repo);
        json_object_set_new(j, "base", base_hex[0] ? json_string(base_hex)
                                                   : json_null());
        json_object_set_new(j, "dirty", json_boolean(dirty > 0));
    }

    /* the branch's pull request, once one was opened or found */
    pr = j ? re_git_pr_json(repo, branch) : NULL;

    if (pr) {
        json_object_set_new(j, "pullRequest", pr);
    }

    git_repository_free(repo);

    return j;
}


static json_t *
re_git_repos_json(int full)
{
    char    *names[RE_GIT_REPOS_MAX];
    size_t   i, n;
    json_t  *list, *j;

    re_git_init();

    list = json_array();
    n = re_git_repos(names, RE_GIT_REPOS_MAX);

    for (i = 0; i < n; i++) {
        j = list ? re_git_repo_json(names[i], full) : NULL;

        if (j) {
            json_array_append_new(list, j);
        }

        free(names[i]);
    }

    return list;
}


json_t *
re_git_list(void)
{
    json_t  *list = re_git_repos_json(1);

    return list ? json_pack("{s:o}", "repositories", list) : NULL;
}


json_t *
re_git_summary(void)
{
    return re_git_repos_json(0);
}


int
re_git_diff(const char *name, char **buf, size_t *len)
{
    int                rc;
    git_buf            out = { NULL, 0, 0 };
    git_oid            head, base;
    git_diff          *diff;
    git_tree          *tree;
    git_commit        *commit;
    git_repository    *repo;
    git_diff_options   opts;

    repo = re_git_open(name);

    if (repo == NULL) {
        return -1;
    }

    rc = -2;
    tree = NULL;
    commit = NULL;
    diff = NULL;

    /* no commit yet: against the empty tree */
    if (git_reference_name_to_id(&head, repo, "HEAD") == 0) {
        if (re_git_base(repo, &head, &base) != 0
            || git_commit_lookup(&commit, repo, &base) != 0
            || git_commit_tree(&tree, commit) != 0)
        {
            goto done;
        }
    }

    git_diff_options_init(&opts, GIT_DIFF_OPTIONS_VERSION);
    opts.flags = GIT_DIFF_INCLUDE_UNTRACKED | GIT_DIFF_RECURSE_UNTRACKED_DIRS
                 | GIT_DIFF_SHOW_UNTRACKED_CONTENT;
    opts.ignore_submodules = GIT_SUBMODULE_IGNORE_ALL;

    if (git_diff_tree_to_workdir_with_index(&diff, repo, tree, &opts) != 0
        || git_diff_to_buf(&out, diff, GIT_DIFF_FORMAT_PATCH) != 0)
    {
        goto done;
    }

    if (out.size > RE_GIT_BODY_MAX) {
        rc = -3;
        goto done;
    }

    *buf = malloc(out.size + 1);

    if (*buf) {
        memcpy(*buf, out.ptr ? out.ptr : "", out.size);
        (*buf)[out.size] = '\0';
        *len = out.size;
        rc = 0;
    }

done:

    git_buf_dispose(&out);
    git_diff_free(diff);
    git_tree_free(tree);
    git_commit_free(commit);
    git_repository_free(repo);

    return rc;
}


int
re_git_push_now(const char *name, json_t **result, char *err, size_t errlen)
{
    char            **envp;
    re_git_push_e     rc;
    git_repository   *repo;

    repo = re_git_open(name);

    if (repo == NULL) {
        return -1;
    }

    envp = re_start_env();

    if (envp == NULL) {
        git_repository_free(repo);
        snprintf(err, errlen, "out of memory");
        return -2;
    }

    pthread_mutex_lock(&re_git_lock);
    rc = re_git_push(name, repo, envp, 1, 0, result, err, errlen);
    pthread_mutex_unlock(&re_git_lock);

    git_repository_free(repo);
    re_env_free(envp);

    return rc == RE_GIT_PUSHED ? 0 : -2;
}
