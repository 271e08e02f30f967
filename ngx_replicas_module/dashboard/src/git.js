// The Git tab: each repository's branch, how far it is ahead of its base,
// its pull request, and the engine's git actions through the API: Rebase
// on the base, Merge it in, Push, Open a pull request (POST
// /v1/workspaces/{id}/git/{update,push,pull-request}?repo=). What the
// engine answers (moved, already there, a conflict's files, GitHub's
// refusal) is said in the page.
import { h } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import htm from 'htm';
import { api } from './api.js';

const html = htm.bind(h);

function outcome(action, r) {
    if (action === 'push') return 'Pushed ' + r.branch + ' (' + String(r.sha || '').slice(0, 7) + ').';
    if (action === 'pull-request') return (r.created ? 'Opened ' : 'Already open: ') + r.url;
    if (!r.updated) return r.branch + ' already has ' + r.base + '.';
    return (r.strategy === 'merge' ? 'Merged ' : 'Rebased on ') + r.base + ': '
        + String(r.sha || '').slice(0, 7) + (r.pushed ? ', pushed' : r.pushError ? ', not pushed: ' + r.pushError : '') + '.';
}

function RepoGit({ ws, repo, reload }) {
    const [busy, setBusy] = useState(null);
    const [said, setSaid] = useState(null);
    const run = async (action, body) => {
        setBusy(action);
        setSaid(null);
        try {
            const r = await api('POST', '/v1/workspaces/' + ws.id + '/git/' + action + '?repo='
                + encodeURIComponent(repo.name), body || {});
            setSaid({ ok: true, text: outcome(action, r) });
            reload();
        } catch (e) {
            setSaid({ ok: false, text: e.message });
        } finally {
            setBusy(null);
        }
    };
    return html`<li class="card git-repo" data-repo=${repo.name}>
        <h3>${repo.name}</h3>
        <p class="meta" data-test="git-state">branch ${repo.branch || '(detached)'} · ${repo.ahead || 0} ${repo.ahead === 1 ? 'commit' : 'commits'} ahead of its branch point
            ${repo.dirty ? ' · uncommitted changes' : ''}
            ${repo.pullRequest ? html` · <a href=${repo.pullRequest.url} target="_blank" rel="noopener noreferrer">pull request #${repo.pullRequest.number}</a>` : ''}</p>
        <div class="preview-actions">
            <button disabled=${!!busy} onClick=${() => run('update', { strategy: 'rebase' })} data-test="rebase">Rebase on the default branch</button>
            <button disabled=${!!busy} onClick=${() => run('update', { strategy: 'merge' })} data-test="merge">Merge in the default branch</button>
            <button disabled=${!!busy} onClick=${() => run('push')} data-test="push">Push</button>
            <button disabled=${!!busy} onClick=${() => run('pull-request')} data-test="pr">Open pull request</button>
        </div>
        ${busy && html`<p class="loading">${busy}…</p>`}
        ${said && html`<p class=${said.ok ? 'info' : 'form-error'} role=${said.ok ? 'status' : 'alert'} data-test="git-said">${said.text}</p>`}
    </li>`;
}

export function GitTab({ ws }) {
    const [repos, setRepos] = useState(null);
    const [error, setError] = useState(null);
    const [n, setN] = useState(0);
    const awake = ws.state === 'awake';
    useEffect(() => {
        if (!awake) return;
        api('GET', '/v1/workspaces/' + ws.id + '/git').then((r) => { setRepos(r.repositories || []); setError(null); }, setError);
    }, [ws.id, awake, n]);
    if (!awake) {
        return html`<section class="card"><p class="info">Git is read from the workspace's engine:
            it shows once the workspace is awake (${ws.state} now).</p></section>`;
    }
    if (error) return html`<section class="card"><p class="form-error" role="alert">${error.message}</p></section>`;
    if (!repos) return html`<section class="card"><p class="loading">Loading…</p></section>`;
    return html`<ul class="git">${repos.map((r) => html`<${RepoGit} key=${r.name} ws=${ws} repo=${r}
        reload=${() => setN((x) => x + 1)} />`)}</ul>`;
}
