// The dashboard's entry: a router over history URLs (/ the list,
// /w/<id> a workspace), the header with who is signed in, and the views.
// Rendering is Preact through htm templates: text is always escaped, the
// agent's words are never innerHTML.
import { h, render } from 'preact';
import { useEffect, useState, useCallback } from 'preact/hooks';
import htm from 'htm';
import { api } from './api.js';
import { filterWorkspaces, filtersFromQuery, filtersToQuery, countByState,
         owners, age, VIEWS } from './logic.js';

const html = htm.bind(h);
const STATES = ['booting', 'provisioning', 'awake', 'sleeping', 'failed'];
const VIEW_NAMES = { team: 'Team', mine: 'Mine', api: 'API & automations' };

function useLocation() {
    const [loc, setLoc] = useState(window.location.pathname + window.location.search);
    useEffect(() => {
        const on = () => setLoc(window.location.pathname + window.location.search);
        window.addEventListener('popstate', on);
        return () => window.removeEventListener('popstate', on);
    }, []);
    return loc;
}

export function navigate(to, replace) {
    if (replace) history.replaceState(null, '', to);
    else history.pushState(null, '', to);
    window.dispatchEvent(new PopStateEvent('popstate'));
}

function Link({ href, children, ...rest }) {
    const click = (e) => {
        if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
        e.preventDefault();
        navigate(href);
    };
    return html`<a href=${href} onClick=${click} ...${rest}>${children}</a>`;
}

function Banner({ error, retry }) {
    if (!error) return null;
    const redis = error.code === 'redis_unavailable' || error.status === 503;
    return html`<div class="banner" role="alert">
        <strong>${redis ? 'Replicas cannot reach its database right now.' : 'Something went wrong.'}</strong>
        ${' '}${error.message} ${retry && html`<button onClick=${retry}>Retry</button>`}
    </div>`;
}

function Header({ caller }) {
    return html`<header class="top">
        <${Link} href="/" class="brand">Replicas<//>
        <span class="who" data-test="who">
            ${caller ? html`${caller.name || caller.email || caller.user}
                <span class="org">${caller.org}</span>` : ''}
        </span>
        <form method="post" action="/logout" class="logout">
            <button type="submit">Sign out</button>
        </form>
    </header>`;
}

function StateBadge({ ws, now }) {
    return html`<span class=${'state state-' + ws.state}>${ws.state}
        <span class="age">${age(ws.state_at, now)}</span></span>`;
}

function WorkspaceList({ data, query, now }) {
    const f = filtersFromQuery(query);
    const set = (k, v) => navigate('/' + filtersToQuery({ ...f, [k]: v }), true);
    const caller = data.caller || {};
    const list = filterWorkspaces(data.workspaces, f, caller.user);
    const counts = countByState(data.workspaces);
    return html`<main class="list">
        <nav class="views">
            ${VIEWS.map((v) => html`<button class=${f.view === v ? 'on' : ''}
                onClick=${() => set('view', v)}>${VIEW_NAMES[v]}</button>`)}
        </nav>
        <div class="filters">
            <input type="search" placeholder="Search workspaces" aria-label="Search"
                value=${f.q} onInput=${(e) => set('q', e.target.value)} />
            <select aria-label="Status" value=${f.state} onChange=${(e) => set('state', e.target.value)}>
                <option value="">Any status</option>
                ${STATES.map((s) => html`<option value=${s}>${s} (${counts[s] || 0})</option>`)}
            </select>
            <select aria-label="Owner" value=${f.owner} onChange=${(e) => set('owner', e.target.value)}>
                <option value="">Anyone</option>
                ${owners(data.workspaces).map((o) => html`<option value=${o}>${o}</option>`)}
            </select>
        </div>
        ${list.length === 0
            ? html`<p class="empty">No workspace matches.</p>`
            : html`<ul class="workspaces">${list.map((ws) => html`
                <li key=${ws.id} data-ws=${ws.id}>
                    <${Link} href=${'/w/' + ws.id} class="name">${ws.name || ws.id}<//>
                    <${StateBadge} ws=${ws} now=${now} />
                    <span class="repo">${ws.repository || ''}</span>
                    <span class="meta">${ws.agent || ''}${ws.branch ? ' · ' + ws.branch : ''}
                        ${ws.pull_request ? html` · <a href=${ws.pull_request} rel="noopener noreferrer">PR</a>` : ''}
                        ${' · '}${ws.owner || 'API'}</span>
                    ${ws.state === 'failed' && ws.reason ? html`<span class="reason">${ws.reason}</span>` : ''}
                </li>`)}</ul>`}
    </main>`;
}

function WorkspacePage({ id, data, now }) {
    const ws = data.workspaces.find((w) => w.id === id);
    const [text, setText] = useState('');
    const [sent, setSent] = useState([]);
    const [sendError, setSendError] = useState(null);
    const [busy, setBusy] = useState(false);
    if (!ws) {
        return html`<main class="ws"><h1>Not found</h1>
            <p>There is no workspace <code>${id}</code> in your organisation (or it was deleted).</p>
            <${Link} href="/">Back to the list<//></main>`;
    }
    const send = async (e) => {
        e.preventDefault();
        if (!text.trim() || busy) return;
        setBusy(true);
        setSendError(null);
        try {
            const r = await api('POST', '/v1/workspaces/' + id + '/messages', { text });
            setSent([...sent, { text, status: r.status, position: r.position }]);
            setText('');
        } catch (err) {
            setSendError(err);   // the text stays in the composer
        } finally {
            setBusy(false);
        }
    };
    return html`<main class="ws">
        <p><${Link} href="/">← Workspaces<//></p>
        <h1>${ws.name || ws.id}</h1>
        <p class="meta"><${StateBadge} ws=${ws} now=${now} /> ${ws.repository} · ${ws.agent || ''}</p>
        ${ws.state === 'failed' && html`<div class="banner" role="alert">This workspace failed: ${ws.reason || 'no reason recorded'}</div>`}
        <section class="chat">
            <h2>Chat</h2>
            <ol class="messages">${sent.map((m) => html`<li class="mine">
                <div class="text">${m.text}</div>
                <div class="status">${m.status}${m.status === 'queued' ? ' (position ' + m.position + ')' : ''}</div>
            </li>`)}</ol>
            <form class="composer" onSubmit=${send}>
                <textarea aria-label="Message" placeholder="Tell the agent what to do"
                    value=${text} onInput=${(e) => setText(e.target.value)}></textarea>
                <button type="submit" disabled=${busy}>${sendError ? 'Retry' : 'Send'}</button>
            </form>
            ${sendError && html`<p class="send-error" role="alert">Not sent: ${sendError.message}</p>`}
        </section>
    </main>`;
}

function App() {
    const loc = useLocation();
    const [data, setData] = useState(null);
    const [error, setError] = useState(null);
    const [now, setNow] = useState(Date.now() / 1000);
    const load = useCallback(async () => {
        try {
            setData(await api('GET', '/v1/workspaces'));
            setError(null);
        } catch (e) {
            setError(e);
        }
    }, []);
    useEffect(() => { load(); }, []);
    // the ages tick; the data itself comes from the API (and, next, /v1/events)
    useEffect(() => {
        const t = setInterval(() => setNow(Date.now() / 1000), 1000);
        return () => clearInterval(t);
    }, []);
    const [path, query] = loc.split('?');
    const m = path.match(/^\/w\/([a-z0-9]+)$/);
    let view;
    if (!data) view = error ? null : html`<p class="loading">Loading…</p>`;
    else if (path === '/') view = html`<${WorkspaceList} data=${data} query=${'?' + (query || '')} now=${now} />`;
    else if (m) view = html`<${WorkspacePage} id=${m[1]} data=${data} now=${now} />`;
    else view = html`<main><h1>Not found</h1><p>No such page.</p><${Link} href="/">Workspaces<//></main>`;
    return html`<${Header} caller=${data && data.caller} />
        <${Banner} error=${error} retry=${load} />
        ${view}`;
}

render(html`<${App} />`, document.getElementById('app'));
