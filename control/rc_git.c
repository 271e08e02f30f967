/* Git through libgit2: see rc_git.h. */

#define _GNU_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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


int
rc_git_clone(const char *url, const char *token, const char *dest,
    void (*tick)(void *data), void *data, char *err, size_t errlen)
{
    int                 rc;
    git_repository     *repo;
    rc_git_cred_t       cred;
    git_clone_options   opts;

    rc_git_init();

    /* the library's own initialiser (its macro trips -Wextra) */
    git_clone_options_init(&opts, GIT_CLONE_OPTIONS_VERSION);

    cred.token = token && *token ? token : NULL;
    cred.tries = 0;
    cred.tick = tick;
    cred.data = data;

    opts.fetch_opts.callbacks.credentials = rc_git_credentials;
    opts.fetch_opts.callbacks.transfer_progress = rc_git_progress;
    opts.fetch_opts.callbacks.payload = &cred;

    repo = NULL;
    rc = git_clone(&repo, url, dest, &opts);

    if (rc != 0) {
        rc_git_error("clone", err, errlen);
        return -1;
    }

    git_repository_free(repo);

    return 0;
}


int
rc_git_remote_head(const char *url, const char *token, char oid_hex[41],
    char *branch, size_t branchlen, char *err, size_t errlen)
{
    int                      rc;
    size_t                   i, n;
    git_buf                  def = { NULL, 0, 0 };
    git_remote              *remote;
    rc_git_cred_t            cred;
    const git_remote_head  **heads;
    git_remote_callbacks     cb;

    rc_git_init();

    oid_hex[0] = '\0';

    if (branch && branchlen) {
        branch[0] = '\0';
    }

    if (git_remote_create_detached(&remote, url) != 0) {
        rc_git_error("remote", err, errlen);
        return -1;
    }

    git_remote_init_callbacks(&cb, GIT_REMOTE_CALLBACKS_VERSION);

    cred.token = token && *token ? token : NULL;
    cred.tries = 0;
    cred.tick = NULL;
    cred.data = NULL;
    cb.credentials = rc_git_credentials;
    cb.payload = &cred;

    rc = -1;

    if (git_remote_connect(remote, GIT_DIRECTION_FETCH, &cb, NULL, NULL) != 0
        || git_remote_ls(&heads, &n, remote) != 0)
    {
        rc_git_error("ls-remote", err, errlen);
        goto done;
    }

    /* HEAD is what a clone checks out: the default branch */
    for (i = 0; i < n; i++) {
        if (strcmp(heads[i]->name, "HEAD") == 0) {
            git_oid_tostr(oid_hex, 41, &heads[i]->oid);
            rc = 0;
            break;
        }
    }

    if (rc != 0) {
        snprintf(err, errlen, "ls-remote: the remote has no HEAD");
        goto done;
    }

    if (branch && branchlen && git_remote_default_branch(&def, remote) == 0
        && def.ptr)
    {
        snprintf(branch, branchlen, "%s",
                 strncmp(def.ptr, "refs/heads/", 11) == 0 ? def.ptr + 11
                                                          : def.ptr);
    }

done:

    git_buf_dispose(&def);
    (void) git_remote_disconnect(remote);
    git_remote_free(remote);

    return rc;
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
