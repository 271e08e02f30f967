// The Files tab: a repository's tree and a file viewer, from the engine's
// GET /files and /files/content (proxied as /v1/workspaces/{id}/files and
// /files/content). Where it is (repository, folder, file) is in the URL's
// query, so a reload or a shared link opens the same file.
import { h } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import htm from 'htm';
import { api, apiText } from './api.js';
import { highlightFile } from './diff.js';

const html = htm.bind(h);
const SHOWN_MAX = 1 << 20;     // a larger file is cut in the viewer

function query() {
    const q = new URLSearchParams(window.location.search);
    return { repo: q.get('repo') || '', path: q.get('path') || '', file: q.get('file') || '' };
}

export function FilesTab({ ws, navigate }) {
    const [repos, setRepos] = useState(null);
    const [listing, setListing] = useState(null);
    const [content, setContent] = useState(null);
    const [error, setError] = useState(null);
    const here = query();
    const awake = ws.state === 'awake';
    const go = (to) => {
        const q = new URLSearchParams();
        for (const k of ['repo', 'path', 'file']) if (to[k]) q.set(k, to[k]);
        navigate('/w/' + ws.id + '/files?' + q.toString(), true);
    };
    useEffect(() => {
        if (!awake) return;
        api('GET', '/v1/workspaces/' + ws.id + '/git')
            .then((r) => setRepos(r.repositories || []), setError);
    }, [ws.id, awake]);
    const repo = here.repo || (repos && repos[0] && repos[0].name) || '';
    useEffect(() => {
        if (!awake || !repo) return;
        setListing(null);
        api('GET', '/v1/workspaces/' + ws.id + '/files?repo=' + encodeURIComponent(repo)
            + (here.path ? '&path=' + encodeURIComponent(here.path) : ''))
            .then((r) => { setListing(r); setError(null); }, setError);
    }, [ws.id, awake, repo, here.path]);
    useEffect(() => {
        if (!awake || !repo || !here.file) { setContent(null); return; }
        apiText('GET', '/v1/workspaces/' + ws.id + '/files/content?repo=' + encodeURIComponent(repo)
            + '&path=' + encodeURIComponent(here.file))
            .then((text) => setContent({ path: here.file, text }), (e) => setContent({ path: here.file, error: e }));
    }, [ws.id, awake, repo, here.file]);
    if (!awake) {
        return html`<section class="card"><p class="info">Files are read from the workspace's engine:
            they show once it is awake (${ws.state} now).</p></section>`;
    }
    if (error) return html`<section class="card"><p class="form-error" role="alert">${error.message}</p></section>`;
    if (!repos) return html`<section class="card"><p class="loading">Loading…</p></section>`;
    const parts = here.path ? here.path.split('/') : [];
    const join = (name) => (here.path ? here.path + '/' + name : name);
    const entries = listing ? [...listing.entries].sort((a, b) =>
        (a.type === 'dir' ? 0 : 1) - (b.type === 'dir' ? 0 : 1) || a.name.localeCompare(b.name)) : [];
    let viewer = null;
    if (content) {
        if (content.error) {
            viewer = html`<p class="form-error" role="alert">${content.path}: ${content.error.message}</p>`;
        } else if (content.text.includes('\u0000')) {
            viewer = html`<p class="empty">${content.path} is a binary file.</p>`;
        } else {
            const text = content.text.length > SHOWN_MAX ? content.text.slice(0, SHOWN_MAX) : content.text;
            viewer = html`<div class="file-view" data-test="file-view">
                <h3>${content.path}${content.text.length > SHOWN_MAX ? ' (first 1 MiB)' : ''}</h3>
                <pre class="hljs"><code dangerouslySetInnerHTML=${{ __html: highlightFile(text, content.path) }}></code></pre>
            </div>`;
        }
    }
    return html`<section class="card files">
        <div class="files-bar">
            ${repos.length > 1 && html`<select aria-label="Repository" value=${repo}
                onChange=${(e) => go({ repo: e.target.value })}>
                ${repos.map((r) => html`<option value=${r.name}>${r.name}</option>`)}</select>`}
            <nav class="crumbs">
                <a href="#" onClick=${(e) => { e.preventDefault(); go({ repo }); }}>${repo}</a>
                ${parts.map((p, i) => html` / <a href="#" onClick=${(e) => { e.preventDefault();
                    go({ repo, path: parts.slice(0, i + 1).join('/') }); }}>${p}</a>`)}
            </nav>
        </div>
        ${!listing ? html`<p class="loading">Loading…</p>` : html`<ul class="tree" data-test="tree">
            ${entries.map((en) => html`<li class=${'entry-' + en.type}>
                <a href="#" data-path=${join(en.name)} onClick=${(e) => { e.preventDefault();
                    if (en.type === 'dir') go({ repo, path: join(en.name) });
                    else go({ repo, path: here.path, file: join(en.name) }); }}>${en.type === 'dir' ? en.name + '/' : en.name}</a>
                ${en.type === 'file' && html`<span class="size">${en.size} B</span>`}</li>`)}
            ${listing.truncated && html`<li class="empty">(more entries than shown)</li>`}
        </ul>`}
        ${viewer}
    </section>`;
}
