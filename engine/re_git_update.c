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


re_git_update_e
re_git_update(const char *name, int merge, const char *want_base,
    json_t **result, char *err, size_t errlen)
{
    int                rc, ff;
    char             **envp, branch[256], base[256], tracking[600];
    char               cname[RE_AUTHOR_NAME_MAX + 1];
    char               cemail[RE_AUTHOR_EMAIL_MAX + 1];
    char               sha[GIT_OID_HEXSZ + 1], prev[GIT_OID_HEXSZ + 1];
    char               why[700], perr[RE_GIT_ERR_MAX];
    size_t             count;
    json_t            *files;
    git_oid            head, upstream, mb, out, dummy;
    git_signature     *bot;
    git_repository    *repo;
    re_git_update_e    status;
    const char        *strategy;

    re_git_init();

    repo = re_git_open(name);

    if (repo == NULL) {
        return RE_GIT_UPDATE_NO_REPO;
    }

    envp = re_start_env();
    bot = NULL;
    files = NULL;
    *result = NULL;
    strategy = merge ? "merge" : "rebase";
    status = RE_GIT_UPDATE_FAILED;

    pthread_mutex_lock(&re_git_lock);

    /* under the lock: a turn's own commit and push hold it too */
    if (re_chats_busy()) {
        snprintf(err, errlen, "an agent is working: update once it is done");
        status = RE_GIT_UPDATE_BUSY;
        goto done;
    }

    re_git_branch(repo, branch, sizeof(branch));

    if (branch[0] == '\0'
        || git_reference_name_to_id(&head, repo, "HEAD") != 0)
    {
        snprintf(err, errlen, "HEAD is not on a branch with commits");
        status = RE_GIT_UPDATE_REFUSED;
        goto done;
    }

    rc = re_git_dirty(repo);

    if (rc != 0) {
        snprintf(err, errlen, rc > 0 ? "the work tree has changes that are "
                 "not committed" : "the work tree's status is unknown");
        status = RE_GIT_UPDATE_REFUSED;
        goto done;
    }

    base[0] = '\0';

    if (re_git_fetch(repo, envp, base, sizeof(base), err, errlen) != 0) {
        status = RE_GIT_UPDATE_FETCH_FAILED;
        goto done;
    }

    if (want_base) {
        snprintf(base, sizeof(base), "%s", want_base);

    } else if (base[0] == '\0'
               && re_git_default(repo, &dummy, base, sizeof(base)) != 0)
    {
        snprintf(err, errlen, "origin's default branch is unknown: give "
                 "\"base\"");
        status = RE_GIT_UPDATE_REFUSED;
        goto done;
    }

    if (strcmp(base, branch) == 0) {
        snprintf(err, errlen, "the workspace is on the default branch");
        status = RE_GIT_UPDATE_REFUSED;
        goto done;
    }

    snprintf(tracking, sizeof(tracking), "refs/remotes/origin/%s", base);

    if (git_reference_name_to_id(&upstream, repo, tracking) != 0) {
        snprintf(err, errlen, "origin has no branch \"%s\"", base);
        status = RE_GIT_UPDATE_REFUSED;
        goto done;
    }

    if (git_merge_base(&mb, repo, &head, &upstream) != 0) {
        snprintf(err, errlen, "the branch and origin/%s share no history",
                 base);
        status = RE_GIT_UPDATE_REFUSED;
        goto done;
    }

    git_oid_tostr(prev, sizeof(prev), &head);

    if (git_oid_equal(&mb, &upstream)) {
        *result = json_pack("{s:s, s:s, s:s, s:s, s:b, s:s}",
                            "repository", name, "branch", branch,
                            "base", base, "strategy", strategy,
                            "updated", 0, "sha", prev);
        status = RE_GIT_UPDATE_UP_TO_DATE;
        goto done;
    }

    re_git_committer(envp, cname, sizeof(cname), cemail, sizeof(cemail));

    if (git_signature_now(&bot, cname, cemail) != 0
        && git_signature_now(&bot, RE_GIT_BOT_NAME, RE_GIT_BOT_EMAIL) != 0)
    {
        re_git_error("signature", NULL, err, errlen);
        goto done;
    }

    /* nothing of the branch's own: both strategies fast-forward */
    ff = git_oid_equal(&mb, &head);
    count = 0;
    rc = 0;

    if (ff) {
        git_oid_cpy(&out, &upstream);

    } else if (merge) {
        rc = re_git_merge(repo, &head, &upstream, base, branch, bot, &out,
                          &files, err, errlen);

    } else {
        rc = re_git_rebase(repo, &head, &upstream, bot, &out, &count, &files,
                           err, errlen);
    }

    if (rc == 1) {
        files = files ? files : json_array();
        snprintf(err, errlen, "%s onto origin/%s stopped on conflicts: "
                 "nothing changed", strategy, base);
        re_info("git.update_conflict", "repository=%s branch=%s strategy=%s "
                "files=%zu", name, branch, strategy, json_array_size(files));
        re_events_emit("git.update_failed",
            json_pack("{s:s, s:s, s:s, s:s, s:s, s:O}", "repository", name,
                      "branch", branch, "base", base, "strategy", strategy,
                      "reason", "conflict", "files", files));
        *result = json_pack("{s:O}", "files", files);
        status = RE_GIT_UPDATE_CONFLICT;
        goto done;
    }

    if (rc != 0) {
        goto done;
    }

    snprintf(why, sizeof(why), "replicas: %s onto origin/%s", strategy, base);

    if (re_git_move(repo, branch, &out, why, err, errlen) != 0) {
        goto done;
    }

    git_oid_tostr(sha, sizeof(sha), &out);

    re_info("git.updated", "repository=%s branch=%s strategy=%s sha=%s",
            name, branch, strategy, sha);
    re_events_emit("git.updated",
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "repository", name,
                  "branch", branch, "base", base, "strategy", strategy,
                  "sha", sha, "previous", prev, "fastForward", ff));

    /* a rebase rewrote the branch: origin's copy is replaced (forced) */
    perr[0] = '\0';
    rc = re_git_push(name, repo, envp, 1, !merge && !ff, NULL, perr,
                     sizeof(perr));

    *result = json_pack("{s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:b, s:b, "
                        "s:s?}",
                        "repository", name, "branch", branch, "base", base,
                        "strategy", strategy, "updated", 1, "sha", sha,
                        "previous", prev, "fastForward", ff,
                        "pushed", rc == RE_GIT_PUSHED,
                        "pushError", rc == RE_GIT_PUSHED ? NULL : perr);
    status = RE_GIT_UPDATE_OK;

done:

    pthread_mutex_unlock(&re_git_lock);

    if (status >= RE_GIT_UPDATE_BUSY && status != RE_GIT_UPDATE_CONFLICT) {
        re_warn("git.update_failed", "repository=%s strategy=%s status=%d",
                name, strategy, (int) status);
    }

    json_decref(files);
    git_signature_free(bot);
    git_repository_free(repo);
    re_env_free(envp);

    return status;
}
