/*
 * Bringing the default branch into the workspace's branch on request
 * (POST /git/update): fetch origin, then rebase the branch onto
 * origin/<default> or merge origin/<default> into it.  Both are worked
 * out in memory first (libgit2's in-memory rebase, git_merge_commits), so
 * a conflict changes nothing at all: no half-done rebase, no conflict
 * markers, the work tree as it was; the answer names the files.  Only a
 * clean result is checked out and the branch moved, then pushed (forced
 * after a rebase: the workspace's own branch, never the default one).
 * A rebase keeps every commit's author and message; the bot commits.  A
 * merge commit is the bot's.  Not while an agent works: the tree is the
 * agent's then; a turn that starts during an update waits for its end
 * (re_git_wait, the same lock).
 */

#define _GNU_SOURCE

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <git2.h>

#include "re_chats.h"
#include "re_engine.h"
#include "re_events.h"
#include "re_git.h"
#include "re_git_int.h"
#include "re_hooks.h"
#include "re_log.h"
#include "re_start.h"


#define RE_GIT_CONFLICTS_MAX  200


/* the conflicted paths of an index, sorted and unique enough for people */
static json_t *
re_git_conflicts(git_index *index)
{
    json_t                     *files;
    const char                 *path;
    const git_index_entry      *anc, *ours, *theirs;
    git_index_conflict_iterator *it;

    files = json_array();

    if (files == NULL || git_index_conflict_iterator_new(&it, index) != 0) {
        return files;
    }

    while (json_array_size(files) < RE_GIT_CONFLICTS_MAX
           && git_index_conflict_next(&anc, &ours, &theirs, it) == 0)
    {
        path = ours ? ours->path : theirs ? theirs->path
               : anc ? anc->path : NULL;

        if (path) {
            json_array_append_new(files, json_string(path));
        }
    }

    git_index_conflict_iterator_free(it);

    return files;
}


/* fetches origin; the remote's default branch into def if it says */
static int
re_git_fetch(git_repository *repo, char *const *envp, char *def,
    size_t defsize, char *err, size_t errlen)
{
    int                 rc;
    const char         *url, *token;
    git_buf             head = { NULL, 0, 0 };
    git_remote         *remote;
    re_git_push_t       p;
    git_fetch_options   opts;

    if (git_remote_lookup(&remote, repo, "origin") != 0) {
        snprintf(err, errlen, "no remote \"origin\"");
        return -1;
    }

    url = git_remote_url(remote) ? git_remote_url(remote) : "";
    token = re_git_token(envp);

    memset(&p, 0, sizeof(p));
    p.token = re_git_url_local(url) ? NULL : token;

    git_fetch_options_init(&opts, GIT_FETCH_OPTIONS_VERSION);
    opts.callbacks.credentials = re_git_credentials;
    opts.callbacks.payload = &p;

    rc = git_remote_fetch(remote, NULL, &opts, "fetch");

    if (rc != 0) {
        re_git_error("fetch", token, err, errlen);

    } else if (git_remote_default_branch(&head, remote) == 0
               && head.ptr && strncmp(head.ptr, "refs/heads/", 11) == 0)
    {
        snprintf(def, defsize, "%s", head.ptr + 11);
    }

    git_buf_dispose(&head);
    git_remote_free(remote);

    return rc == 0 ? 0 : -1;
}


/*
 * Rebases head's commits since the merge base onto upstream, in memory.
 * 0 with *out (upstream itself if every commit was there already), 1 a
 * conflict (*files), -1 failed.
 */
static int
re_git_rebase(git_repository *repo, const git_oid *head,
    const git_oid *upstream, const git_signature *committer, git_oid *out,
    size_t *count, json_t **files, char *err, size_t errlen)
{
    int                    rc, step;
    git_oid                id;
    git_index             *index;
    git_rebase            *rb;
    git_rebase_options     opts;
    git_rebase_operation  *op;
    git_annotated_commit  *branch, *onto;

    rb = NULL;
    branch = NULL;
    onto = NULL;
    rc = -1;
    *count = 0;
    git_oid_cpy(out, upstream);

    git_rebase_options_init(&opts, GIT_REBASE_OPTIONS_VERSION);
    opts.inmemory = 1;

    if (git_annotated_commit_lookup(&branch, repo, head) != 0
        || git_annotated_commit_lookup(&onto, repo, upstream) != 0
        || git_rebase_init(&rb, repo, branch, onto, NULL, &opts) != 0)
    {
        re_git_error("rebase", NULL, err, errlen);
        goto done;
    }

    while ((step = git_rebase_next(&op, rb)) == 0) {
        if (git_rebase_inmemory_index(&index, rb) != 0) {
            re_git_error("rebase", NULL, err, errlen);
            goto abort;
        }

        if (git_index_has_conflicts(index)) {
            *files = re_git_conflicts(index);
            git_index_free(index);
            rc = 1;
            goto abort;
        }

        git_index_free(index);

        /* NULL author and message: the original commit's */
        step = git_rebase_commit(&id, rb, NULL, committer, NULL, NULL);

        if (step == GIT_EAPPLIED) {
            continue;               /* upstream has that change already */
        }

        if (step != 0) {
            re_git_error("rebase", NULL, err, errlen);
            goto abort;
        }

        git_oid_cpy(out, &id);
        (*count)++;
    }

    if (step != GIT_ITEROVER) {
        re_git_error("rebase", NULL, err, errlen);
        goto abort;
    }

    (void) git_rebase_finish(rb, committer);
    rc = 0;
    goto done;

abort:

    (void) git_rebase_abort(rb);

done:

    git_rebase_free(rb);
    git_annotated_commit_free(branch);
    git_annotated_commit_free(onto);

    return rc;
}


/* a merge commit of head and upstream by the bot, in memory: as rebase */
static int
re_git_merge(git_repository *repo, const git_oid *head,
    const git_oid *upstream, const char *base, const char *branch,
    const git_signature *bot, git_oid *out, json_t **files, char *err,
    size_t errlen)
{
    int                 rc;
    char                msg[700];
    git_oid             tree_oid;
    git_tree           *tree;
    git_index          *index;
    git_commit         *ours, *theirs;
    git_merge_options   opts;
    const git_commit   *parents[2];

    ours = NULL;
    theirs = NULL;
    index = NULL;
    tree = NULL;
    rc = -1;

    git_merge_options_init(&opts, GIT_MERGE_OPTIONS_VERSION);

    if (git_commit_lookup(&ours, repo, head) != 0
        || git_commit_lookup(&theirs, repo, upstream) != 0
        || git_merge_commits(&index, repo, ours, theirs, &opts) != 0)
    {
        re_git_error("merge", NULL, err, errlen);
        goto done;
    }

    if (git_index_has_conflicts(index)) {
        *files = re_git_conflicts(index);
        rc = 1;
        goto done;
    }

    snprintf(msg, sizeof(msg), "Merge remote-tracking branch 'origin/%s' "
             "into %s\n", base, branch);
    parents[0] = ours;
    parents[1] = theirs;

    if (git_index_write_tree_to(&tree_oid, index, repo) != 0
        || git_tree_lookup(&tree, repo, &tree_oid) != 0
        || git_commit_create(out, repo, NULL, bot, bot, NULL, msg, tree, 2,
                             parents) != 0)
    {
        re_git_error("merge", NULL, err, errlen);
        goto done;
    }

    rc = 0;

done:

    git_tree_free(tree);
    git_index_free(index);
    git_commit_free(ours);
    git_commit_free(theirs);

    return rc;
}


/* the work tree and index to commit id (safely: from HEAD's tree), then
 * the branch moved to it */
static int
re_git_move(git_repository *repo, const char *branch, const git_oid *id,
    const char *why, char *err, size_t errlen)
{
    int                    rc;
    char                   refname[600];
    git_commit            *commit;
    git_reference         *ref, *moved;
    git_checkout_options   opts;

    if (git_commit_lookup(&commit, repo, id) != 0) {
        re_git_error("checkout", NULL, err, errlen);
        return -1;
    }

    git_checkout_options_init(&opts, GIT_CHECKOUT_OPTIONS_VERSION);
    opts.checkout_strategy = GIT_CHECKOUT_SAFE;

    rc = git_checkout_tree(repo, (git_object *) commit, &opts);
    git_commit_free(commit);

    if (rc != 0) {
        re_git_error("checkout", NULL, err, errlen);
        return -1;
    }

    snprintf(refname, sizeof(refname), "refs/heads/%s", branch);

    if (git_reference_lookup(&ref, repo, refname) != 0
        || git_reference_set_target(&moved, ref, id, why) != 0)
    {
        re_git_error("update the branch", NULL, err, errlen);
        return -1;
    }

    git_reference_free(moved);
    git_reference_free(ref);

    return 0;
}


void
re_git_wait(void)
{
    pthread_mutex_lock(&re_git_lock);
    pthread_mutex_unlock(&re_git_lock);
}


/* one update's state, passed through its steps */
typedef struct {
    const char        *name;
    int                merge;
    const char        *strategy;
    char             **envp;
    git_repository    *repo;
    git_signature     *bot;
    json_t            *files;       /* in conflict */

    char               branch[256];
    char               base[256];
    char               prev[GIT_OID_HEXSZ + 1];
    git_oid            head;
    git_oid            upstream;
    git_oid            mb;          /* their merge base */
    git_oid            out;         /* the branch's new commit */
    int                ff;
} re_git_up_t;


/* step 1: nothing runs and the tree is clean, on a branch with commits */
static re_git_update_e
re_git_update_check(re_git_up_t *u, char *err, size_t errlen)
{
    int  rc;

    /* under the lock: a turn's own commit and push hold it too */
    if (re_chats_busy()) {
        snprintf(err, errlen, "an agent is working: update once it is done");
        return RE_GIT_UPDATE_BUSY;
    }

    re_git_branch(u->repo, u->branch, sizeof(u->branch));

    if (u->branch[0] == '\0'
        || git_reference_name_to_id(&u->head, u->repo, "HEAD") != 0)
    {
        snprintf(err, errlen, "HEAD is not on a branch with commits");
        return RE_GIT_UPDATE_REFUSED;
    }

    rc = re_git_dirty(u->repo);

    if (rc != 0) {
        snprintf(err, errlen, rc > 0 ? "the work tree has changes that are "
                 "not committed" : "the work tree's status is unknown");
        return RE_GIT_UPDATE_REFUSED;
    }

    return RE_GIT_UPDATE_OK;
}


/* step 2: fetch, and find the base on origin and its merge base */
static re_git_update_e
re_git_update_base(re_git_up_t *u, const char *want_base, char *err,
    size_t errlen)
{
    char     tracking[600];
    git_oid  dummy;

    u->base[0] = '\0';

    if (re_git_fetch(u->repo, u->envp, u->base, sizeof(u->base), err, errlen)
        != 0)
    {
        return RE_GIT_UPDATE_FETCH_FAILED;
    }

    if (want_base) {
        snprintf(u->base, sizeof(u->base), "%s", want_base);

    } else if (u->base[0] == '\0'
               && re_git_default(u->repo, &dummy, u->base, sizeof(u->base))
                  != 0)
    {
        snprintf(err, errlen, "origin's default branch is unknown: give "
                 "\"base\"");
        return RE_GIT_UPDATE_REFUSED;
    }

    if (strcmp(u->base, u->branch) == 0) {
        snprintf(err, errlen, "the workspace is on the default branch");
        return RE_GIT_UPDATE_REFUSED;
    }

    snprintf(tracking, sizeof(tracking), "refs/remotes/origin/%s", u->base);

    if (git_reference_name_to_id(&u->upstream, u->repo, tracking) != 0) {
        snprintf(err, errlen, "origin has no branch \"%s\"", u->base);
        return RE_GIT_UPDATE_REFUSED;
    }

    if (git_merge_base(&u->mb, u->repo, &u->head, &u->upstream) != 0) {
        snprintf(err, errlen, "the branch and origin/%s share no history",
                 u->base);
        return RE_GIT_UPDATE_REFUSED;
    }

    git_oid_tostr(u->prev, sizeof(u->prev), &u->head);

    return RE_GIT_UPDATE_OK;
}


/* step 3: the new commit (fast-forward, merge or rebase) in u->out, not
 * yet on the branch; a conflict changes nothing */
static re_git_update_e
re_git_update_apply(re_git_up_t *u, json_t **result, char *err,
    size_t errlen)
{
    int     rc;
    char    cname[RE_AUTHOR_NAME_MAX + 1];
    char    cemail[RE_AUTHOR_EMAIL_MAX + 1];
    size_t  count;

    re_git_committer(u->envp, cname, sizeof(cname), cemail, sizeof(cemail));

    if (git_signature_now(&u->bot, cname, cemail) != 0
        && git_signature_now(&u->bot, RE_GIT_BOT_NAME, RE_GIT_BOT_EMAIL) != 0)
    {
        re_git_error("signature", NULL, err, errlen);
        return RE_GIT_UPDATE_FAILED;
    }

    /* nothing of the branch's own: both strategies fast-forward */
    u->ff = git_oid_equal(&u->mb, &u->head);
    count = 0;
    rc = 0;

    if (u->ff) {
        git_oid_cpy(&u->out, &u->upstream);

    } else if (u->merge) {
        rc = re_git_merge(u->repo, &u->head, &u->upstream, u->base, u->branch,
                          u->bot, &u->out, &u->files, err, errlen);

    } else {
        rc = re_git_rebase(u->repo, &u->head, &u->upstream, u->bot, &u->out,
                           &count, &u->files, err, errlen);
    }

    if (rc == 1) {
        u->files = u->files ? u->files : json_array();
        snprintf(err, errlen, "%s onto origin/%s stopped on conflicts: "
                 "nothing changed", u->strategy, u->base);
        re_info("git.update_conflict", "repository=%s branch=%s strategy=%s "
                "files=%zu", u->name, u->branch, u->strategy,
                json_array_size(u->files));
        re_events_emit("git.update_failed",
            json_pack("{s:s, s:s, s:s, s:s, s:s, s:O}", "repository", u->name,
                      "branch", u->branch, "base", u->base,
                      "strategy", u->strategy, "reason", "conflict",
                      "files", u->files));
        *result = json_pack("{s:O}", "files", u->files);
        return RE_GIT_UPDATE_CONFLICT;
    }

    return rc == 0 ? RE_GIT_UPDATE_OK : RE_GIT_UPDATE_FAILED;
}


/* step 4: the branch moved to the new commit, announced and pushed */
static re_git_update_e
re_git_update_finish(re_git_up_t *u, json_t **result, char *err,
    size_t errlen)
{
    int   rc;
    char  sha[GIT_OID_HEXSZ + 1], why[700], perr[RE_GIT_ERR_MAX];

    snprintf(why, sizeof(why), "replicas: %s onto origin/%s", u->strategy,
             u->base);

    if (re_git_move(u->repo, u->branch, &u->out, why, err, errlen) != 0) {
        return RE_GIT_UPDATE_FAILED;
    }

    git_oid_tostr(sha, sizeof(sha), &u->out);

    re_info("git.updated", "repository=%s branch=%s strategy=%s sha=%s",
            u->name, u->branch, u->strategy, sha);
    re_events_emit("git.updated",
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "repository",
                  u->name, "branch", u->branch, "base", u->base,
                  "strategy", u->strategy, "sha", sha, "previous", u->prev,
                  "fastForward", u->ff));

    /* a rebase rewrote the branch: origin's copy is replaced (forced) */
    perr[0] = '\0';
    rc = re_git_push(u->name, u->repo, u->envp, 1, !u->merge && !u->ff, NULL,
                     perr, sizeof(perr));

    *result = json_pack("{s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:b, s:b, "
                        "s:s?}",
                        "repository", u->name, "branch", u->branch,
                        "base", u->base, "strategy", u->strategy,
                        "updated", 1, "sha", sha, "previous", u->prev,
                        "fastForward", u->ff, "pushed", rc == RE_GIT_PUSHED,
                        "pushError", rc == RE_GIT_PUSHED ? NULL : perr);

    return RE_GIT_UPDATE_OK;
}


re_git_update_e
re_git_update(const char *name, int merge, const char *want_base,
    json_t **result, char *err, size_t errlen)
{
    re_git_up_t      u;
    re_git_update_e  status;

    re_git_init();

    memset(&u, 0, sizeof(u));
    u.name = name;
    u.merge = merge;
    u.strategy = merge ? "merge" : "rebase";
    *result = NULL;

    u.repo = re_git_open(name);

    if (u.repo == NULL) {
        return RE_GIT_UPDATE_NO_REPO;
    }

    u.envp = re_start_env();

    pthread_mutex_lock(&re_git_lock);

    status = re_git_update_check(&u, err, errlen);

    if (status == RE_GIT_UPDATE_OK) {
        status = re_git_update_base(&u, want_base, err, errlen);
    }

    if (status == RE_GIT_UPDATE_OK) {
        if (git_oid_equal(&u.mb, &u.upstream)) {
            *result = json_pack("{s:s, s:s, s:s, s:s, s:b, s:s}",
                                "repository", name, "branch", u.branch,
                                "base", u.base, "strategy", u.strategy,
                                "updated", 0, "sha", u.prev);
            status = RE_GIT_UPDATE_UP_TO_DATE;

        } else {
            status = re_git_update_apply(&u, result, err, errlen);

            if (status == RE_GIT_UPDATE_OK) {
                status = re_git_update_finish(&u, result, err, errlen);
            }
        }
    }

    pthread_mutex_unlock(&re_git_lock);

    if (status >= RE_GIT_UPDATE_BUSY && status != RE_GIT_UPDATE_CONFLICT) {
        re_warn("git.update_failed", "repository=%s strategy=%s status=%d",
                name, u.strategy, (int) status);
    }

    json_decref(u.files);
    git_signature_free(u.bot);
    git_repository_free(u.repo);
    re_env_free(u.envp);

    return status;
}
