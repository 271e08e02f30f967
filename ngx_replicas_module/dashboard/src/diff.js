// The Diff tab: the branch's changes per repository, from the engine's
// GET /git and GET /diff?repo= (proxied by the gateway as
// /v1/workspaces/{id}/git and /diff), drawn by diff2html, each line's
// code highlighted by highlight.js. diff2html escapes the code it draws;
// its HTML still goes through DOMPurify, like the agent's words.
import { h } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import htm from 'htm';
import { html as diffHtml, parse as diffParse } from 'diff2html';
import DOMPurify from 'dompurify';
import hljs from 'highlight.js/lib/core';
import bash from 'highlight.js/lib/languages/bash';
import c from 'highlight.js/lib/languages/c';
import cpp from 'highlight.js/lib/languages/cpp';
import css from 'highlight.js/lib/languages/css';
import go from 'highlight.js/lib/languages/go';
import java from 'highlight.js/lib/languages/java';
import javascript from 'highlight.js/lib/languages/javascript';
import json from 'highlight.js/lib/languages/json';
import lua from 'highlight.js/lib/languages/lua';
import markdown from 'highlight.js/lib/languages/markdown';
import perl from 'highlight.js/lib/languages/perl';
import python from 'highlight.js/lib/languages/python';
import ruby from 'highlight.js/lib/languages/ruby';
import rust from 'highlight.js/lib/languages/rust';
import typescript from 'highlight.js/lib/languages/typescript';
import xml from 'highlight.js/lib/languages/xml';
import yaml from 'highlight.js/lib/languages/yaml';
import 'diff2html/bundles/css/diff2html.min.css';
import 'highlight.js/styles/github.css';
import { api, apiText } from './api.js';
import { diffStats } from './logic.js';

const LANGS = { bash, c, cpp, css, go, java, javascript, json, lua, markdown, perl, python, ruby,
                rust, typescript, xml, yaml };
for (const [name, lang] of Object.entries(LANGS)) hljs.registerLanguage(name, lang);
const BY_EXT = { sh: 'bash', h: 'c', hpp: 'cpp', cc: 'cpp', js: 'javascript', mjs: 'javascript',
                 jsx: 'javascript', ts: 'typescript', tsx: 'typescript', md: 'markdown', pl: 'perl',
                 pm: 'perl', t: 'perl', py: 'python', rb: 'ruby', rs: 'rust', html: 'xml', svg: 'xml',
                 yml: 'yaml' };

function languageOf(path) {
    const ext = String(path || '').split('.').pop().toLowerCase();
    const name = BY_EXT[ext] || ext;
    return hljs.getLanguage(name) ? name : null;
}

// a whole file's text highlighted (escaped HTML), by its path's language
export function highlightFile(text, path) {
    const lang = languageOf(path);
    if (lang) return hljs.highlight(text, { language: lang, ignoreIllegals: true }).value;
    return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

// highlight.js over each drawn line (its output is escaped HTML)
function highlight(root) {
    for (const file of root.querySelectorAll('.d2h-file-wrapper')) {
        const name = file.querySelector('.d2h-file-name');
        const lang = languageOf(name && name.textContent.trim());
        if (!lang) continue;
        for (const line of file.querySelectorAll('.d2h-code-line-ctn')) {
            line.innerHTML = hljs.highlight(line.textContent, { language: lang, ignoreIllegals: true }).value;
            line.classList.add('hljs');
        }
    }
}

const html = htm.bind(h);

function RepoDiff({ id, repo }) {
    const [state, setState] = useState({ loading: true });
    const box = useRef(null);
    useEffect(() => {
        let live = true;
        apiText('GET', '/v1/workspaces/' + id + '/diff?repo=' + encodeURIComponent(repo.name))
            .then((text) => live && setState({ text }), (error) => live && setState({ error }));
        return () => { live = false; };
    }, [id, repo.name, repo.head]);
    useEffect(() => {
        if (!box.current || state.text === undefined) return;
        const drawn = diffHtml(state.text, { drawFileList: true, matching: 'lines', outputFormat: 'line-by-line' });
        box.current.innerHTML = DOMPurify.sanitize(drawn);
        highlight(box.current);
    }, [state.text]);
    const stats = state.text !== undefined ? diffStats(diffParse(state.text)) : null;
    return html`<section class="card repo-diff" data-repo=${repo.name}>
        <h3>${repo.name} <span class="meta">${repo.branch || '(detached)'}${repo.ahead ? ' · ' + repo.ahead + ' ahead' : ''}
            ${repo.pullRequest ? html` · <a href=${repo.pullRequest.url} target="_blank" rel="noopener noreferrer">PR #${repo.pullRequest.number}</a>` : ''}</span></h3>
        ${stats && html`<p class="diff-stats" data-test="diff-stats">${stats.files} ${stats.files === 1 ? 'file' : 'files'} changed,${' '}<span class="added">+${stats.added}</span> <span class="removed">−${stats.removed}</span></p>`}
        ${state.loading && html`<p class="loading">Loading the diff…</p>`}
        ${state.error && html`<p class="form-error" role="alert">The diff could not be read: ${state.error.message}</p>`}
        ${state.text === '' && html`<p class="empty">No changes on this branch yet.</p>`}
        <div class="diff" ref=${box}></div>
    </section>`;
}

export function DiffTab({ ws }) {
    const [repos, setRepos] = useState(null);
    const [error, setError] = useState(null);
    const awake = ws.state === 'awake';
    useEffect(() => {
        if (!awake) return;
        api('GET', '/v1/workspaces/' + ws.id + '/git')
            .then((r) => { setRepos(r.repositories || []); setError(null); }, setError);
    }, [ws.id, awake]);
    if (!awake) {
        return html`<section class="card"><p class="info">The diff is read from the workspace's engine:
            it shows once the workspace is awake (${ws.state} now).</p></section>`;
    }
    if (error) return html`<section class="card"><p class="form-error" role="alert">${error.message}</p></section>`;
    if (!repos) return html`<section class="card"><p class="loading">Loading…</p></section>`;
    if (repos.length === 0) return html`<section class="card"><p class="empty">This workspace has no repository.</p></section>`;
    return html`<div class="diffs">${repos.map((r) => html`<${RepoDiff} key=${r.name} id=${ws.id} repo=${r} />`)}</div>`;
}
