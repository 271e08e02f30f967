// The dashboard's entry: a router over history URLs (/ the list, /new,
// /w/<id>[/<tab>] a workspace), the header with who is signed in, and the
// views. Rendering is Preact through htm templates: text is always
// escaped; the agent's words become HTML only through markdown.js
// (marked, then DOMPurify).
import { h, render, Component } from 'preact';
import { useEffect, useState, useCallback, useRef, useContext } from 'preact/hooks';
import htm from 'htm';
import { api } from './api.js';
import { filterWorkspaces, filtersFromQuery, filtersToQuery, countByState, countByEnvironment,
         owners, age, VIEWS, emptyChat, foldChat, chatEntries, turnText,
         EVENT_TYPES, foldStream, gitSummary } from './logic.js';
import { renderMarkdown } from './markdown.js';
import { DiffTab } from './diff.js';
import { DesktopTab } from './desktop.js';
import { FilesTab } from './files.js';
import { GitTab } from './git.js';
import { usePresence, AlsoHere } from './presence.js';
import { FileLinks, useFileLinks } from './filelinks.js';
import { Settings } from './settings.js';
import { StatsPage } from './stats.js';
import { usePrewarm, PrewarmStatus } from './prewarm.js';
import { useEngineHealth, EngineBanner, engineTrouble } from './health.js';

const html = htm.bind(h);
const STATES = ['booting', 'provisioning', 'awake', 'sleeping', 'failed'];
const VIEW_NAMES = { team: 'Team', mine: 'Mine', api: 'API & automations' };
const AGENTS = ['claude', 'codex', 'opencode', 'cursor'];
const TABS = [['chat', 'Chat'], ['desktop', 'Desktop'], ['diff', 'Diff'], ['previews', 'Previews'],
              ['files', 'Files'], ['git', 'Git'], ['logs', 'Logs']];
// ages in the page are redrawn this often; a refused event stream is
// opened again after this long
const TICK_MS = 1000;
const STREAM_RETRY_MS = 2000;

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
    const redis = error.code === 'state_unavailable' || error.status === 503;
    return html`<div class="banner" role="alert" data-test="banner">
        <strong>${redis ? 'Replicas cannot reach its database right now.' : 'Something went wrong.'}</strong>
        ${' '}${error.message} ${retry && html`<button onClick=${retry}>Retry</button>`}
    </div>`;
}

function Header({ caller, path }) {
    return html`<header class="top">
        <${Link} href="/" class="brand">Replicas<//>
        <nav class="sections">
            <${Link} href="/stats" class=${path === '/stats' ? 'on' : ''} data-test="nav-stats">Stats<//>
            <${Link} href="/settings" class=${path.startsWith('/settings') ? 'on' : ''} data-test="settings-link">Settings<//>
        </nav>
        <span class="who" data-test="who">
            ${caller ? html`${caller.name || caller.email || caller.user || 'API key'}${' '}<span class="org">${caller.org}</span>` : ''}
        </span>
        <form method="post" action="/logout" class="logout">
            <button type="submit">Sign out</button>
        </form>
    </header>`;
}

function StateBadge({ ws, now }) {
    return html`<span class=${'state state-' + ws.state} data-test="state">${ws.state}${' '}<span class="age">${age(ws.state_at, now)}</span></span>`;
}

// One row of the list, drawn again only when its workspace or its age's
// text changed: a change or the clock's tick redraws just the rows it
// touches (the folded list keeps the other rows' objects, and an age's
// text changes seldom past its first minute), so a list of a thousand
// stays quick to update
class WorkspaceRow extends Component {
    shouldComponentUpdate(next) {
        return next.ws !== this.props.ws || next.ageText !== this.props.ageText;
    }

    render({ ws, ageText }) {
        const g = gitSummary(ws);
        return html`<li data-ws=${ws.id}>
            <${Link} href=${'/w/' + ws.id} class="name">${ws.name || ws.id}<//>
            <span class=${'state state-' + ws.state} data-test="state">${ws.state}${' '}<span class="age">${ageText}</span></span>
            <span class="repo">${ws.repository || ''}</span>
            <span class="meta">${ws.agent || ''}${g.branch ? html` · <span data-test="branch">${g.branch}</span>` : ''}
                ${g.pr ? html` · <a href=${g.pr.url} target="_blank" rel="noopener noreferrer" data-test="pr">PR #${g.pr.number}</a>` : ''}
                ${' · '}${ws.owner || 'API'}${(ws.viewers || []).length ? html` · <span data-test="viewers" title="viewing now">${ws.viewers.length} viewing</span>` : ''}</span>
            ${ws.state === 'failed' && ws.reason ? html`<span class="reason">${ws.reason}</span>` : ''}
        </li>`;
    }
}

function WorkspaceList({ data, query, now }) {
    const f = filtersFromQuery(query);
    const set = (k, v) => navigate('/' + filtersToQuery({ ...f, [k]: v }), true);
    const caller = data.caller || {};
    const list = filterWorkspaces(data.workspaces, f, caller.user, now);
    const counts = countByState(data.workspaces);
    const envCounts = countByEnvironment(data.workspaces);
    return html`<main class="list">
        <div class="list-head">
            <nav class="views">
                ${VIEWS.map((v) => html`<button class=${f.view === v ? 'on' : ''}
                    onClick=${() => set('view', v)}>${VIEW_NAMES[v]}</button>`)}
            </nav>
            <${Link} href="/new" class="button primary" data-test="new">New workspace<//>
        </div>
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
            <select aria-label="Environment" data-test="env-filter" value=${f.env} onChange=${(e) => set('env', e.target.value)}>
                <option value="">Any environment</option>
                ${Object.keys(envCounts).sort().map((k) => html`<option value=${k}>${k === '-' ? 'Global only' : k} (${envCounts[k]})</option>`)}
            </select>
            <select aria-label="Last activity" data-test="active-filter" value=${f.active} onChange=${(e) => set('active', e.target.value)}>
                <option value="">Any activity</option>
                <option value="hour">Active in the last hour</option>
                <option value="day">Active in the last day</option>
                <option value="week">Active in the last week</option>
                <option value="idle">Idle for a week or more</option>
            </select>
        </div>
        ${list.length === 0
            ? html`<p class="empty">No workspace matches.</p>`
            : html`<ul class="workspaces">${list.map((ws) => html`<${WorkspaceRow} key=${ws.id} ws=${ws}
                ageText=${age(ws.state_at, now)} />`)}</ul>`}
    </main>`;
}

function NewWorkspace({ data, reload }) {
    const [form, setForm] = useState({ repository: '', name: '', environment: '', agent: 'claude', message: '' });
    const [envs, setEnvs] = useState([]);
    const [error, setError] = useState(null);
    const [busy, setBusy] = useState(false);
    const warm = usePrewarm(form.repository, form.environment, form.agent);
    useEffect(() => {
        api('GET', '/v1/environments').then((r) => setEnvs(r.environments || []), () => setEnvs([]));
    }, []);
    const repos = [...new Set(data.workspaces.map((w) => w.repository).filter(Boolean))];
    const field = (k) => (e) => setForm({ ...form, [k]: e.target.value });
    const submit = async (e) => {
        e.preventDefault();
        if (busy) return;
        setBusy(true);
        setError(null);
        const body = { repository: form.repository.trim(), agent: form.agent };
        if (form.name.trim()) body.name = form.name.trim();
        if (form.environment) body.environment = form.environment;
        if (form.message.trim()) body.message = form.message;
        try {
            const ws = await api('POST', '/v1/workspaces', body);
            await reload();
            navigate('/w/' + ws.id);
        } catch (err) {
            setError(err);      // the form keeps what was typed
        } finally {
            setBusy(false);
        }
    };
    return html`<main class="new">
        <p><${Link} href="/">← Workspaces<//></p>
        <h1>New workspace</h1>
        <form class="card form" onSubmit=${submit} data-test="new-form">
            <label>Repository
                <input name="repository" required list="repos" value=${form.repository}
                    onInput=${field('repository')} onChange=${warm.now} onBlur=${warm.now}
                    placeholder="https://github.com/org/repo or a path" /></label>
            <${PrewarmStatus} warm=${warm} />
            <datalist id="repos">${repos.map((r) => html`<option value=${r} />`)}</datalist>
            <label>Name <span class="hint">(optional)</span>
                <input name="name" value=${form.name} onInput=${field('name')} /></label>
            <label>Environment
                <select name="environment" value=${form.environment} onChange=${field('environment')}>
                    <option value="">Global only</option>
                    ${envs.filter((en) => en.name !== 'global').map((en) => html`<option value=${en.name}>${en.name}</option>`)}
                </select></label>
            <label>Agent
                <select name="agent" value=${form.agent} onChange=${field('agent')}>
                    ${AGENTS.map((a) => html`<option value=${a}>${a}</option>`)}
                </select></label>
            <label>First message <span class="hint">(optional)</span>
                <textarea name="message" value=${form.message} onInput=${field('message')}></textarea></label>
            ${error && html`<p class="form-error" role="alert">Not started: ${error.message}</p>`}
            <button type="submit" class="primary" disabled=${busy}>${busy ? 'Starting…' : 'Start workspace'}</button>
        </form>
    </main>`;
}

// file paths of the workspace named in it are links to its Files tab
// (FileLinks, from ChatTab), opened in place
function Markdown({ text }) {
    const resolve = useContext(FileLinks);
    const click = (e) => {
        const a = e.target.closest && e.target.closest('a.file-link');
        if (!a || e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
        e.preventDefault();
        navigate(a.getAttribute('href'));
    };
    return html`<div class="md" onClick=${click} dangerouslySetInnerHTML=${{ __html: renderMarkdown(text, resolve) }}></div>`;
}

function short(v) {
    const s = typeof v === 'string' ? v : JSON.stringify(v);
    return s && s.length > 80 ? s.slice(0, 80) + '…' : s || '';
}

function ToolRow({ t }) {
    const first = t.input && (t.input.command || t.input.file_path || t.input.path || t.input.pattern);
    return html`<details class=${'tool' + (t.is_error ? ' tool-error' : '')} data-test="tool">
        <summary><span class="tool-name">${t.tool}</span> <span class="tool-arg">${short(first || t.input)}</span>
            <span class="tool-state">${t.output === null ? 'running…' : t.is_error ? 'error' : 'done'}</span></summary>
        <pre>${JSON.stringify(t.input, null, 2)}</pre>
        ${t.output !== null && html`<pre class="tool-output">${typeof t.output === 'string' ? t.output : JSON.stringify(t.output, null, 2)}</pre>`}
    </details>`;
}

function Turn({ t }) {
    const text = turnText(t);
    const names = {
        queued: 'queued' + (t.position ? ' (position ' + t.position + ')' : ''),
        running: 'working…', completed: 'done', failed: 'failed', interrupted: 'interrupted',
    };
    const stateText = names[t.state] || t.state;
    return html`<div class=${'turn turn-' + t.state} data-test="turn">
        ${t.tools.map((x) => html`<${ToolRow} t=${x} />`)}
        ${t.tasks.map((x) => html`<div class=${'task task-' + x.state}>Task ${x.description || x.task_id}: ${x.state}${x.summary ? ' — ' + x.summary : ''}</div>`)}
        ${text && html`<${Markdown} text=${text} />`}
        ${(t.errors || []).map((m) => html`<p class="turn-error">${m}</p>`)}
        ${t.state === 'failed' && html`<p class="turn-error" role="alert">${t.message || t.reason}</p>`}
        <div class="turn-meta">${stateText}
            ${t.state === 'completed' && t.usage ? html` · ${t.usage.input_tokens + t.usage.output_tokens} tokens` : ''}
            ${t.state === 'completed' && t.cost_usd ? html` · $${Number(t.cost_usd).toFixed(4)}` : ''}
            ${t.state === 'completed' && t.ms ? html` · ${(t.ms / 1000).toFixed(1)} s` : ''}</div>
    </div>`;
}

function Entry({ e }) {
    if (e.note) return html`<li class="note">${e.note}</li>`;
    const m = e.message;
    const who = m && ((m.author && m.author.name) || m.user || 'someone');
    return html`<li class="entry" data-seq=${e.seq}>
        ${m && html`<div class="msg"><span class="author">${who}</span>
            <div class="text">${m.text}</div></div>`}
        ${e.turn && html`<${Turn} t=${e.turn} />`}
        ${e.notes.map((n) => html`<div class="note">${n}</div>`)}
    </li>`;
}

// the workspace's engine events, over an EventSource (resumed by the
// browser with Last-Event-ID); opened only while the workspace is awake,
// since asking a sleeping one for its events wakes it; a sleeping one's
// chat is the history control saved when it went to sleep
// (GET .../history, from Redis: it sleeps on)
function useEngineEvents(id, state) {
    const awake = state === 'awake';
    const [chat, setChat] = useState(emptyChat);
    const [streamError, setStreamError] = useState(null);
    const [attempt, setAttempt] = useState(0);
    useEffect(() => { setChat(emptyChat()); }, [id]);
    useEffect(() => {
        if (state !== 'sleeping') return undefined;
        let live = true;
        api('GET', '/v1/workspaces/' + id + '/history').then((h) => {
            if (!live || !Array.isArray(h.events)) return;
            // what this page saw live is as new as the saved history
            setChat((st) => st.lastId >= (h.last_id || 0) ? st : h.events.reduce(foldChat, emptyChat()));
        }, () => { /* none saved yet: the chat shows once it is awake */ });
        return () => { live = false; };
    }, [id, state]);
    useEffect(() => {
        if (!awake) return undefined;
        // ?after=: the history first (a new stream otherwise starts at now),
        // then what comes; the browser's own reconnects send Last-Event-ID
        const src = new EventSource('/v1/workspaces/' + id + '/events?after=' + (attempt ? chat.lastId : 0));
        const on = (m) => {
            let ev;
            try { ev = JSON.parse(m.data); } catch (e) { return; }
            setStreamError(null);
            setChat((st) => foldChat(st, ev));
        };
        for (const t of EVENT_TYPES) src.addEventListener(t, on);
        src.onmessage = on;
        let timer = null;
        src.onerror = () => {
            if (src.readyState === EventSource.CLOSED) {
                // the gateway answered with no stream (waking, 401, 5xx):
                // asked again in a moment
                setStreamError('The workspace\'s engine did not answer; trying again…');
                engineTrouble(id);
                timer = setTimeout(() => setAttempt((a) => a + 1), 2000);
            }
        };
        return () => { src.close(); if (timer) clearTimeout(timer); };
    }, [id, awake, attempt]);
    return [chat, streamError];
}

function ChatTab({ ws, chat, streamError }) {
    const [current, setCurrent] = useState('default');
    const [text, setText] = useState('');
    const [pending, setPending] = useState([]);
    const [sendError, setSendError] = useState(null);
    const [busy, setBusy] = useState(false);
    const [newChat, setNewChat] = useState('');
    const links = useFileLinks(ws, chat);
    const end = useRef(null);
    const entries = chatEntries(chat, current);
    // a sent message stays shown as pending until its event arrives
    const arrived = new Set(entries.filter((e) => e.message).map((e) => e.seq));
    const waiting = pending.filter((p) => p.chat === current && !arrived.has(p.seq));
    useEffect(() => { if (end.current && end.current.scrollIntoView) end.current.scrollIntoView({ block: 'end' }); },
        [entries.length, entries.length && turnText(entries[entries.length - 1].turn).length]);
    const send = async (e) => {
        e.preventDefault();
        if (!text.trim() || busy) return;
        setBusy(true);
        setSendError(null);
        try {
            const r = await api('POST', '/v1/workspaces/' + ws.id + '/messages', { text, chat: current });
            setPending([...pending, { text, chat: current, seq: r.seq, status: r.status, position: r.position }]);
            setText('');
        } catch (err) {
            setSendError(err);   // the text stays in the composer
        } finally {
            setBusy(false);
        }
    };
    const addChat = (e) => {
        e.preventDefault();
        const n = newChat.trim().toLowerCase();
        if (/^[a-z0-9_-]{1,64}$/.test(n)) { setCurrent(n); setNewChat(''); }
    };
    const chats = chat.chats.includes(current) ? chat.chats : [...chat.chats, current];
    const running = entries.some((e) => e.turn && e.turn.state === 'running');
    const [stopError, setStopError] = useState(null);
    const stop = async () => {
        setStopError(null);
        try {
            await api('POST', '/v1/workspaces/' + ws.id + '/chats/' + current + '/interrupt', {});
        } catch (err) {
            setStopError(err);
        }
    };
    return html`<section class="chat card">
        <nav class="chats">
            ${chats.map((c) => html`<button class=${c === current ? 'on' : ''} onClick=${() => setCurrent(c)}>${c}</button>`)}
            <form onSubmit=${addChat} class="new-chat">
                <input aria-label="New chat" placeholder="new chat" value=${newChat}
                    pattern="[a-z0-9_-]{1,64}" onInput=${(e) => setNewChat(e.target.value)} />
            </form>
        </nav>
        ${ws.state === 'sleeping' && html`<p class="info">${entries.length
            ? 'This workspace is sleeping: its chats are shown as they were when it went to sleep. A message wakes it.'
            : 'This workspace is sleeping, with no chat saved. A message wakes it.'}</p>`}
        ${(ws.state === 'booting' || ws.state === 'provisioning') && html`<p class="info">The workspace is starting (${ws.state})…</p>`}
        ${streamError && ws.state === 'awake' && html`<p class="info" role="status">${streamError}</p>`}
        ${ws.health && ws.health.engine && ws.health.engine !== 'ok' && html`<p class="banner" role="alert">The engine is ${ws.health.engine}${ws.health.reason ? ' (' + ws.health.reason + ')' : ''}.</p>`}
        <${FileLinks.Provider} value=${links}><ol class="messages" data-test="messages">
            ${entries.map((e) => html`<${Entry} key=${e.seq === null ? 'n' + e.id : e.chat + '/' + e.seq} e=${e} />`)}
            ${waiting.map((p) => html`<li class="entry pending"><div class="msg"><span class="author">you</span>
                <div class="text">${p.text}</div></div>
                <div class="turn-meta" data-test="pending">${p.status}${p.status === 'queued' ? ' (position ' + p.position + ')' : ''}</div></li>`)}
        </ol><//>
        <div ref=${end}></div>
        <form class="composer" onSubmit=${send}>
            <textarea aria-label="Message" placeholder="Tell the agent what to do"
                value=${text} onInput=${(e) => setText(e.target.value)}
                onKeyDown=${(e) => { if (e.key === 'Enter' && (e.metaKey || e.ctrlKey)) send(e); }}></textarea>
            <div class="composer-buttons">
                ${running && html`<button type="button" class="danger" onClick=${stop} data-test="stop">Stop</button>`}
                <button type="submit" class="primary" disabled=${busy || ws.state === 'failed'}>${sendError ? 'Retry' : 'Send'}</button>
            </div>
        </form>
        ${sendError && html`<p class="send-error" role="alert">Not sent: ${sendError.message}</p>`}
        ${stopError && html`<p class="send-error" role="alert">Not stopped: ${stopError.message}</p>`}
    </section>`;
}

// each preview: its URL, visibility (3737 and 6080 are never public: the
// API refuses), open, a share link made (shown once, with its expiry) and
// the shares listed with Revoke
function PreviewRow({ ws, p, reload }) {
    const [shares, setShares] = useState(null);
    const [made, setMade] = useState(null);
    const [error, setError] = useState(null);
    const base = '/v1/workspaces/' + ws.id + '/previews/' + p.port;
    const loadShares = () => api('GET', base + '/shares').then((r) => setShares(r.shares || []), setError);
    useEffect(() => { loadShares(); }, [ws.id, p.port]);
    const run = async (f) => {
        setError(null);
        try { await f(); } catch (e) { setError(e); }
    };
    const toggle = () => run(async () => {
        await api('POST', '/v1/workspaces/' + ws.id + '/previews',
            { port: p.port, visibility: p.visibility === 'public' ? 'authenticated' : 'public' });
        await reload();
    });
    const share = () => run(async () => {
        setMade(await api('POST', base + '/shares', { expires_in: 3600 }));
        await loadShares();
    });
    const revoke = (id) => run(async () => {
        await api('DELETE', base + '/shares/' + id);
        if (made && made.id === id) setMade(null);
        await loadShares();
    });
    const fixed = p.port === 6080 || p.port === 3737;
    return html`<li data-port=${p.port}>
        <div class="preview-head">
            <a href=${p.url} target="_blank" rel="noopener noreferrer">${p.url}</a>${' '}<span class="vis">${p.port === 6080 ? 'desktop · ' : ''}${p.visibility}</span>
        </div>
        <div class="preview-actions">
            ${!fixed && html`<button onClick=${toggle} data-test="visibility">${p.visibility === 'public' ? 'Make private' : 'Make public'}</button>`}
            <button onClick=${share} data-test="share">Share link</button>
        </div>
        ${made && html`<p class="share-made">Anyone with this link opens the preview without a login until${' '}${new Date(made.expires_at * 1000).toLocaleString()} (shown once):
            <input readonly value=${made.url} data-test="share-url" onFocus=${(e) => e.target.select()} /></p>`}
        ${shares && shares.length > 0 && html`<ul class="shares">${shares.map((sh) => html`<li data-share=${sh.id}>
            share ${sh.id}, until ${new Date(sh.expires_at * 1000).toLocaleString()}
            <button onClick=${() => revoke(sh.id)} data-test="revoke">Revoke</button></li>`)}</ul>`}
        ${error && html`<p class="form-error" role="alert">${error.message}</p>`}
    </li>`;
}

function PreviewsTab({ ws, reload }) {
    const list = (ws.previews || []).filter((p) => p.port !== 3737);
    return html`<section class="card previews">
        ${list.length === 0
            ? html`<p class="empty">No previews yet: a dev server the agent starts is registered here (<code>replicas preview add PORT</code>).</p>`
            : html`<ul>${list.map((p) => html`<${PreviewRow} key=${p.port} ws=${ws} p=${p} reload=${reload} />`)}</ul>`}
    </section>`;
}

// the start and warm hooks' state and logs (GET /v1/workspaces/{id}/hooks,
// from the engine: asked only while awake, since asking wakes it)
function LogsTab({ ws }) {
    const [hooks, setHooks] = useState(null);
    const [error, setError] = useState(null);
    const [n, setN] = useState(0);
    const awake = ws.state === 'awake';
    useEffect(() => {
        if (!awake) return;
        api('GET', '/v1/workspaces/' + ws.id + '/hooks').then((r) => { setHooks(r); setError(null); }, setError);
    }, [ws.id, awake, n]);
    if (!awake) return html`<section class="card"><p class="info">The hooks' logs are read from the workspace's engine: they show once it is awake (${ws.state} now).</p></section>`;
    if (error) return html`<section class="card"><p class="form-error" role="alert">${error.message}</p></section>`;
    if (!hooks) return html`<section class="card"><p class="loading">Loading…</p></section>`;
    const one = (name, hk) => html`<div class="hook" data-hook=${name}>
        <h3>${name} hook: ${hk.state}${hk.exit !== null && hk.exit !== undefined ? ' (exit ' + hk.exit + ')' : ''}</h3>
        ${hk.log ? html`<pre>${hk.log}</pre>` : html`<p class="empty">No output.</p>`}</div>`;
    return html`<section class="card logs">
        <div class="desktop-bar"><span class="status">The last 64 KiB of each log.</span>
            <button onClick=${() => setN(n + 1)}>Reload</button></div>
        ${one('Start', hooks.start || { state: 'none' })}
        ${one('Warm', hooks.warm || { state: 'none' })}
    </section>`;
}

function WorkspacePage({ id, tab, data, now, reload }) {
    const ws = data.workspaces.find((w) => w.id === id);
    const [actError, setActError] = useState(null);
    const [chat, streamError] = useEngineEvents(id, ws ? ws.state : null);
    usePresence(id, !!ws);
    const engine = useEngineHealth(id, !!ws && ws.state === 'awake');
    if (!ws) {
        return html`<main class="ws"><h1>Not found</h1>
            <p>There is no workspace <code>${id}</code> in your organisation (or it was deleted).</p>
            <${Link} href="/">Back to the list<//></main>`;
    }
    const act = async (method, path, confirmText) => {
        if (confirmText && !window.confirm(confirmText)) return;
        setActError(null);
        try {
            await api(method, '/v1/workspaces/' + id + path);
            await reload();
            if (method === 'DELETE') navigate('/');
        } catch (err) {
            setActError(err);
        }
    };
    const current = TABS.some(([t]) => t === tab) ? tab : 'chat';
    return html`<main class="ws">
        <p><${Link} href="/">← Workspaces<//></p>
        <div class="ws-head">
            <h1>${ws.name || ws.id}</h1>
            <div class="actions">
                ${ws.state === 'awake' && html`<button onClick=${() => act('POST', '/sleep')} data-test="sleep">Sleep</button>`}
                ${ws.state === 'sleeping' && html`<button onClick=${() => act('POST', '/wake')} data-test="wake">Wake</button>`}
                <button class="danger" data-test="delete"
                    onClick=${() => act('DELETE', '', 'Delete workspace ' + (ws.name || ws.id) + '? Its sandbox and unpushed work are gone.')}>Delete</button>
            </div>
        </div>
        <p class="meta"><${StateBadge} ws=${ws} now=${now} /> ${ws.repository} · ${ws.agent || ''} · ${ws.owner || 'API'}</p>
        <${AlsoHere} ws=${ws} me=${data.caller} />
        ${ws.state === 'failed' && html`<div class="banner" role="alert">This workspace failed: ${ws.reason || 'no reason recorded'}</div>`}
        ${actError && html`<div class="banner" role="alert">${actError.message}</div>`}
        <${EngineBanner} health=${engine} />
        <nav class="tabs">${TABS.map(([t, name]) => html`<${Link} href=${'/w/' + id + (t === 'chat' ? '' : '/' + t)}
            class=${t === current ? 'on' : ''} data-tab=${t}>${name}<//>`)}</nav>
        ${current === 'chat' && html`<${ChatTab} ws=${ws} chat=${chat} streamError=${streamError} />`}
        ${current === 'desktop' && html`<${DesktopTab} ws=${ws} />`}
        ${current === 'diff' && html`<${DiffTab} ws=${ws} />`}
        ${current === 'previews' && html`<${PreviewsTab} ws=${ws} reload=${reload} />`}
        ${current === 'logs' && html`<${LogsTab} ws=${ws} />`}
        ${current === 'git' && html`<${GitTab} ws=${ws} />`}
        ${current === 'files' && html`<${FilesTab} ws=${ws} navigate=${navigate} />`}
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
            setError(e);     // the last list stays shown under the banner
        }
    }, []);
    // the list live: GET /v1/events (the org's workspace changes) opens
    // with a snapshot and folds each change in. The browser comes back by
    // itself when the gateway ends a stream; a refused one (401, 503) is
    // asked as a plain GET, whose error says why (and a 401 goes to the
    // login page), then opened again.
    useEffect(() => {
        let es = null, retry = null, gone = false;
        const open = () => {
            es = new EventSource('/v1/events');
            es.onmessage = (m) => {
                let ev;
                try { ev = JSON.parse(m.data); } catch (e) { return; }
                if (ev.type === 'snapshot') setError(null);
                setData((d) => foldStream(d, ev));
            };
            es.onerror = () => {
                if (es.readyState !== EventSource.CLOSED || gone) return;
                load().finally(() => { if (!gone) retry = setTimeout(open, STREAM_RETRY_MS); });
            };
        };
        open();
        return () => { gone = true; if (es) es.close(); clearTimeout(retry); };
    }, []);
    useEffect(() => {
        const t = setInterval(() => setNow(Date.now() / 1000), TICK_MS);
        return () => clearInterval(t);
    }, []);
    const [path, query] = loc.split('?');
    const m = path.match(/^\/w\/([a-z0-9]+)(?:\/([a-z]+))?$/);
    let view;
    if (!data) view = error ? null : html`<p class="loading">Loading…</p>`;
    else if (path === '/') view = html`<${WorkspaceList} data=${data} query=${'?' + (query || '')} now=${now} />`;
    else if (path === '/new') view = html`<${NewWorkspace} data=${data} reload=${load} />`;
    else if (path === '/stats') view = html`<${StatsPage} query=${'?' + (query || '')} data=${data} navigate=${navigate} />`;
    else if (m) view = html`<${WorkspacePage} id=${m[1]} tab=${m[2]} data=${data} now=${now} reload=${load} />`;
    else if (path === '/settings' || path.startsWith('/settings/')) view = html`<${Settings} path=${path}
        caller=${data.caller} workspaces=${data.workspaces} now=${now} Link=${Link} navigate=${navigate} />`;
    else view = html`<main><h1>Not found</h1><p>No such page.</p><${Link} href="/">Workspaces<//></main>`;
    return html`<${Header} caller=${data && data.caller} path=${path} />
        <${Banner} error=${error} retry=${load} />
        ${view}`;
}

render(html`<${App} />`, document.getElementById('app'));
