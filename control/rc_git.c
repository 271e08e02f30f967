/* Git through libgit2: see rc_git.h. */

#define _GNU_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <git2.h>

#include "common/rp_url.h"
#include "rc_git.h"


typedef struct {
    const char  *token;
    int          tries;
    void       (*tick)(void *data);
    void        *data;
} rc_git_cred_t;


/* a long clone: the worker's heartbeats go on (rate-limited by the tick) */
static int
rc_git_progress(const git_indexer_progress *stats, void *payload)
{
    rc_git_cred_t  *cred = payload;

    (void) stats;

    if (cred->tick) {
        cred->tick(cred->data);
    }

    return 0;
}


static int  rc_git_ready;


void
rc_git_init(void)
{
    const char  *ca;

    if (rc_git_ready) {
        return;
    }

    git_libgit2_init();
    rc_git_ready = 1;

    /* no one's ~/.gitconfig or /etc/gitconfig: the same clone everywhere,
     * and a child running as the sandbox user cannot read root's anyway */
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


/* libgit2's last error, with any "user:secret@" in a URL cut out */
static void
rc_git_error(const char *what, char *err, size_t errlen)
{
    char             msg[512];
    const git_error *e;

    e = git_error_last();
    snprintf(msg, sizeof(msg), "%s", e && e->message ? e->message : "failed");
    rp_url_strip_userinfo(msg);

    snprintf(err, errlen, "%s: %s", what, msg);
}


static int
rc_git_credentials(git_credential **out, const char *url,
    const char *username, unsigned int allowed, void *payload)
{
    rc_git_cred_t  *cred = payload;

    (void) url;
    (void) username;

    /* one attempt: a wrong token must fail, not loop */
    if (cred->token == NULL || cred->tries++ > 0
        || !(allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT))
    {
        return GIT_PASSTHROUGH;
    }

    return git_credential_userpass_plaintext_new(out, "x-access-token",
                                                 cred->token);
}


/* what the child hands back through its pipe (one write, < PIPE_BUF) */
typedef struct {
    int   rc;
    char  oid[41];
    char  branch[256];
    char  err[512];
} rc_git_result_t;


static int
rc_git_write_file(const char *path, const char *text)
{
    FILE  *f;
    int    rc;

    f = fopen(path, "w");
    if (f == NULL) {
        return -1;
    }

    rc = fputs(text, f) < 0 ? -1 : 0;

    if (fclose(f) != 0) {
        rc = -1;
    }

    return rc;
}


/* in the child: over /etc/path, a file with text, seen by this process
 * (and what it starts) only */
static int
rc_git_bind_text(const char *name, const char *text, char *err,
    size_t errlen)
{
    int   fd, rc;
    char  tmp[64], target[64];

    snprintf(tmp, sizeof(tmp), "/tmp/replicas-pin-XXXXXX");
    snprintf(target, sizeof(target), "/etc/%s", name);

    fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(err, errlen, "pin: %s", strerror(errno));
        return -1;
    }

    close(fd);

    rc = rc_git_write_file(tmp, text) == 0
         && mount(tmp, target, NULL, MS_BIND, NULL) == 0 ? 0 : -1;

    if (rc != 0) {
        snprintf(err, errlen, "pin %s: %s", target, strerror(errno));
    }

    (void) unlink(tmp);    /* the mount keeps the file */

    return rc;
}


/* in the child: the checked addresses are the only answer for the name */
static int
rc_git_pin(const char *hosts, char *err, size_t errlen)
{
    if (unshare(CLONE_NEWNS) != 0
        || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
    {
        snprintf(err, errlen, "pin: a mount namespace: %s", strerror(errno));
        return -1;
    }

    return rc_git_bind_text("hosts", hosts, err, errlen) != 0
           || rc_git_bind_text("nsswitch.conf", "passwd: files\n"
                               "group: files\nhosts: files\n", err, errlen)
              != 0 ? -1 : 0;
}


static void
rc_git_do_clone(const char *url, const char *token, const char *dest,
    rc_git_result_t *res)
{
    git_repository     *repo;
    rc_git_cred_t       cred;
    git_clone_options   opts;

    /* the library's own initialiser (its macro trips -Wextra) */
    git_clone_options_init(&opts, GIT_CLONE_OPTIONS_VERSION);

    cred.token = token && *token ? token : NULL;
    cred.tries = 0;
    cred.tick = NULL;
    cred.data = NULL;

    opts.fetch_opts.callbacks.credentials = rc_git_credentials;
    opts.fetch_opts.callbacks.transfer_progress = rc_git_progress;
    opts.fetch_opts.callbacks.payload = &cred;
    opts.fetch_opts.proxy_opts.type = GIT_PROXY_NONE;
    opts.fetch_opts.follow_redirects = GIT_REMOTE_REDIRECT_NONE;

    repo = NULL;

    if (git_clone(&repo, url, dest, &opts) != 0) {
        rc_git_error("clone", res->err, sizeof(res->err));
        return;
    }

    git_repository_free(repo);
    res->rc = 0;
}


static void
rc_git_do_head(const char *url, const char *token, rc_git_result_t *res)
{
    size_t                       i, n;
    git_buf                      def = { NULL, 0, 0 };
    git_remote                  *remote;
    rc_git_cred_t                cred;
    const git_remote_head      **heads;
    git_remote_connect_options   opts;

    if (git_remote_create_detached(&remote, url) != 0) {
        rc_git_error("remote", res->err, sizeof(res->err));
        return;
    }

    git_remote_connect_options_init(&opts,
                                    GIT_REMOTE_CONNECT_OPTIONS_VERSION);

    cred.token = token && *token ? token : NULL;
    cred.tries = 0;
    cred.tick = NULL;
    cred.data = NULL;
    opts.callbacks.credentials = rc_git_credentials;
    opts.callbacks.payload = &cred;
    opts.proxy_opts.type = GIT_PROXY_NONE;
    opts.follow_redirects = GIT_REMOTE_REDIRECT_NONE;

    if (git_remote_connect_ext(remote, GIT_DIRECTION_FETCH, &opts) != 0
        || git_remote_ls(&heads, &n, remote) != 0)
    {
        rc_git_error("ls-remote", res->err, sizeof(res->err));
        goto done;
    }

    /* HEAD is what a clone checks out: the default branch */
    for (i = 0; i < n; i++) {
        if (strcmp(heads[i]->name, "HEAD") == 0) {
            git_oid_tostr(res->oid, sizeof(res->oid), &heads[i]->oid);
            res->rc = 0;
            break;
        }
    }

    if (res->rc != 0) {
        snprintf(res->err, sizeof(res->err),
                 "ls-remote: the remote has no HEAD");
        goto done;
    }

    if (git_remote_default_branch(&def, remote) == 0 && def.ptr) {
        snprintf(res->branch, sizeof(res->branch), "%s",
                 strncmp(def.ptr, "refs/heads/", 11) == 0 ? def.ptr + 11
                                                          : def.ptr);
    }

done:

    git_buf_dispose(&def);
    (void) git_remote_disconnect(remote);
    git_remote_free(remote);
}


/* in the child: resolve and check, pin, then the libgit2 call */
static void
rc_git_child(const char *url, const char *token, const char *dest,
    const rc_repo_policy_t *policy, rc_git_result_t *res)
{
    char  host[256], hosts[RC_REPO_HOSTS_MAX];

    if (rc_repo_url_resolve(url, policy, host, sizeof(host), hosts,
                            sizeof(hosts), res->err, sizeof(res->err)) != 0)
    {
        return;
    }

    if (hosts[0] && rc_git_pin(hosts, res->err, sizeof(res->err)) != 0) {
        return;
    }

    rc_git_init();

    if (dest) {
        rc_git_do_clone(url, token, dest, res);
    } else {
        rc_git_do_head(url, token, res);
    }
}


/* the child runs, the caller's tick goes on beating until it answers */
static int
rc_git_run(const char *url, const char *token, const char *dest,
    const rc_repo_policy_t *policy, void (*tick)(void *data), void *data,
    rc_git_result_t *res)
{
    int            fds[2], status;
    pid_t          pid;
    ssize_t        n;
    struct pollfd  pfd;

    memset(res, 0, sizeof(*res));
    res->rc = -1;

    if (pipe2(fds, O_CLOEXEC) != 0) {
        snprintf(res->err, sizeof(res->err), "pipe: %s", strerror(errno));
        return -1;
    }

    pid = fork();

    if (pid < 0) {
        snprintf(res->err, sizeof(res->err), "fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return -1;
    }

    if (pid == 0) {
        close(fds[0]);
        rc_git_child(url, token, dest, policy, res);
        n = write(fds[1], res, sizeof(*res));
        _exit(n == (ssize_t) sizeof(*res) ? 0 : 1);
    }

    close(fds[1]);
    pfd.fd = fds[0];
    pfd.events = POLLIN;

    for ( ;; ) {
        if (poll(&pfd, 1, 250) != 0) {
            break;               /* an answer, the end, or an error */
        }

        if (tick) {
            tick(data);
        }
    }

    do {
        n = read(fds[0], res, sizeof(*res));
    } while (n < 0 && errno == EINTR);

    close(fds[0]);

    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        /* void */
    }

    if (n != (ssize_t) sizeof(*res)) {
        memset(res, 0, sizeof(*res));
        res->rc = -1;
        snprintf(res->err, sizeof(res->err), "the fetch process died");
    }

    res->err[sizeof(res->err) - 1] = '\0';
    res->oid[sizeof(res->oid) - 1] = '\0';
    res->branch[sizeof(res->branch) - 1] = '\0';

    return res->rc;
}


int
rc_git_clone(const char *url, const char *token, const char *dest,
    const rc_repo_policy_t *policy, void (*tick)(void *data), void *data,
    char *err, size_t errlen)
{
    rc_git_result_t  res;

    if (rc_git_run(url, token, dest, policy, tick, data, &res) != 0) {
        snprintf(err, errlen, "%s", res.err);
        return -1;
    }

    return 0;
}


int
rc_git_remote_head(const char *url, const char *token,
    const rc_repo_policy_t *policy, char oid_hex[41], char *branch,
    size_t branchlen, char *err, size_t errlen)
{
    rc_git_result_t  res;

    oid_hex[0] = '\0';

    if (branch && branchlen) {
        branch[0] = '\0';
    }

    if (rc_git_run(url, token, NULL, policy, NULL, NULL, &res) != 0) {
        snprintf(err, errlen, "%s", res.err);
        return -1;
    }

    memcpy(oid_hex, res.oid, 41);

    if (branch && branchlen) {
        snprintf(branch, branchlen, "%s", res.branch);
    }

    return 0;
}


int
rc_git_head(const char *repo_dir, char sha[41], char *branch,
    size_t branchlen)
{
    git_reference   *head;
    git_repository  *repo;
    const git_oid   *oid;

    rc_git_init();

    if (git_repository_open(&repo, repo_dir) != 0) {
        return -1;
    }

    if (git_repository_head(&head, repo) != 0) {
        git_repository_free(repo);
        return -1;
    }

    oid = git_reference_target(head);

    if (oid) {
        git_oid_tostr(sha, 41, oid);
    } else {
        sha[0] = '\0';
    }

    snprintf(branch, branchlen, "%s", git_reference_shorthand(head));

    git_reference_free(head);
    git_repository_free(repo);

    return 0;
}


int
rc_git_start_branch(const char *repo_dir, const char *branch, char *err,
    size_t errlen)
{
    int              rc;
    char             ref[320];
    git_commit      *commit;
    git_reference   *head, *b;
    git_repository  *repo;

    rc_git_init();

    if (git_repository_open(&repo, repo_dir) != 0) {
        rc_git_error("open", err, errlen);
        return -1;
    }

    rc = -1;
    head = NULL;
    commit = NULL;
    b = NULL;

    if (git_reference_name_is_valid(&rc, branch) != 0 || !rc) {
        snprintf(err, errlen, "\"%s\" is not a valid branch name", branch);
        rc = -1;
        goto done;
    }

    rc = -1;

    if (git_repository_head(&head, repo) != 0
        || git_commit_lookup(&commit, repo, git_reference_target(head)) != 0)
    {
        rc_git_error("head", err, errlen);
        goto done;
    }

    if (git_branch_lookup(&b, repo, branch, GIT_BRANCH_LOCAL) != 0
        && git_branch_create(&b, repo, branch, commit, 0) != 0)
    {
        rc_git_error("branch", err, errlen);
        goto done;
    }

    snprintf(ref, sizeof(ref), "refs/heads/%s", branch);

    if (git_repository_set_head(repo, ref) != 0) {
        rc_git_error("checkout", err, errlen);
        goto done;
    }

    rc = 0;

done:

    git_reference_free(b);
    git_commit_free(commit);
    git_reference_free(head);
    git_repository_free(repo);

    return rc;
}


int
rc_git_repo_name(const char *url, char *name, size_t len)
{
    size_t       n, i;
    const char  *end, *start;

    end = url + strlen(url);

    while (end > url && end[-1] == '/') {
        end--;
    }

    if (end - url > 4 && strncmp(end - 4, ".git", 4) == 0) {
        end -= 4;
    }

    start = end;

    while (start > url && start[-1] != '/' && start[-1] != ':') {
        start--;
    }

    n = end - start;

    if (n == 0 || n >= len) {
        return -1;
    }

    for (i = 0; i < n; i++) {
        if (!((start[i] >= 'a' && start[i] <= 'z')
              || (start[i] >= 'A' && start[i] <= 'Z')
              || (start[i] >= '0' && start[i] <= '9')
              || start[i] == '.' || start[i] == '_' || start[i] == '-'))
        {
            return -1;
        }
    }

    memcpy(name, start, n);
    name[n] = '\0';

    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || name[0] == '.') {
        return -1;
    }

    return 0;
}
