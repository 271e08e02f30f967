// The dashboard's pure logic, no DOM: filters and views of the workspace
// list, and folding the org's events into it. Unit-tested by
// test/logic.test.mjs with node's own runner.

// views: who a workspace belongs to, as the sidebar names it
export const VIEWS = ['team', 'mine', 'api'];

// A workspace started by an API key or an automation has no human owner
// the dashboard knows; today that is one the API made with no user.
export function isAutomation(ws) {
    return !ws.owner || String(ws.owner).startsWith('automation:');
}

export function matchesView(ws, view, me) {
    if (view === 'mine') return ws.owner === me;
    if (view === 'api') return isAutomation(ws);
    return true;
}

// the search box: every word must be in the name, id, repository,
// branch or owner (case-insensitive)
export function matchesSearch(ws, text) {
    const words = String(text || '').toLowerCase().split(/\s+/).filter(Boolean);
    if (words.length === 0) return true;
    const hay = [ws.id, ws.name, ws.repository, gitSummary(ws).branch, ws.owner, ws.agent, ws.environment]
        .filter(Boolean).join(' ').toLowerCase();
    return words.every((w) => hay.includes(w));
}

// last activity (the API's active_at: a request to one of its previews,
// a message, its engine at work; else its last state change): within
// the last hour, day or week, or "idle", not within the week
export const ACTIVITY = { hour: 3600, day: 86400, week: 7 * 86400 };
const isActivity = (a) => a === 'idle' || Object.prototype.hasOwnProperty.call(ACTIVITY, a);

export function lastActive(ws) {
    return Math.max(ws.active_at || 0, ws.state_at || 0, ws.created_at || 0);
}

export function matchesActivity(ws, active, now) {
    if (!active || !isActivity(active)) return true;
    const since = now - lastActive(ws);
    return active === 'idle' ? since > ACTIVITY.week : since <= ACTIVITY[active];
}

// the environment filter: '' any, '-' none (Global only), else its name
export function matchesEnvironment(ws, env) {
    if (!env) return true;
    return env === '-' ? !ws.environment : ws.environment === env;
}

// filters: {view, state, owner, env, active, q}; the newest state change
// first; now (seconds) for the activity filter
export function filterWorkspaces(list, f, me, now = Date.now() / 1000) {
    return list
        .filter((ws) => ws.state !== 'deleted')
        .filter((ws) => matchesView(ws, f.view || 'team', me))
        .filter((ws) => !f.state || ws.state === f.state)
        .filter((ws) => !f.owner || ws.owner === f.owner)
        .filter((ws) => matchesEnvironment(ws, f.env))
        .filter((ws) => matchesActivity(ws, f.active, now))
        .filter((ws) => matchesSearch(ws, f.q))
        .sort((a, b) => (b.state_at || 0) - (a.state_at || 0) || String(a.id).localeCompare(b.id));
}

export function countByState(list) {
    const c = {};
    for (const ws of list) {
        if (ws.state === 'deleted') continue;
        c[ws.state] = (c[ws.state] || 0) + 1;
    }
    return c;
}

// the list's counts per environment ('-' for none: Global only)
export function countByEnvironment(list) {
    const c = {};
    for (const ws of list) {
        if (ws.state === 'deleted') continue;
        const k = ws.environment || '-';
        c[k] = (c[k] || 0) + 1;
    }
    return c;
}

export function owners(list) {
    return [...new Set(list.map((ws) => ws.owner).filter(Boolean))].sort();
}

// "3 s", "5 min", "2 h", "4 d": how long a workspace has been in its state
export function age(since, now) {
    if (!since) return '';
    const s = Math.max(0, Math.floor(now - since));
    if (s < 60) return s + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' min';
    if (s < 86400) return Math.floor(s / 3600) + ' h';
    return Math.floor(s / 86400) + ' d';
}

// One event of GET /v1/events ({type, payload: {id, ...fields}}) folded
// into the list (by id): workspace.changed (a new one, or any change of
// one: its payload is the workspace as GET shows it) merges its fields,
// workspace.deleted removes it. Returns a new array.
export function foldEvent(list, ev) {
    const p = (ev && ev.payload) || {};
    if (!p.id) return list;
    const i = list.findIndex((ws) => ws.id === p.id);
    if (ev.type === 'workspace.deleted') {
        return i < 0 ? list : list.filter((ws) => ws.id !== p.id);
    }
    const next = list.slice();
    if (i < 0) next.push({ ...p });
    else next[i] = { ...list[i], ...p };
    return next;
}

// The whole of what the list shows ({workspaces, caller}) after one event
// of GET /v1/events: a snapshot (the stream's first event, and again after
// the gateway lost track) replaces it; a change folds in (foldEvent).
// Before the first snapshot there is nothing to fold into.
export function foldStream(data, ev) {
    if (!ev || typeof ev !== 'object') return data;
    if (ev.type === 'snapshot') return ev.payload && Array.isArray(ev.payload.workspaces) ? ev.payload : data;
    if (!data) return data;
    const workspaces = foldEvent(data.workspaces || [], ev);
    return workspaces === data.workspaces ? data : { ...data, workspaces };
}

// A workspace's branch and pull request for the list: its first
// repository's, from what control keeps (ws.git: written on change while
// it is awake and at each sleep, so a sleeping one shows them unwoken). A link only if it is http(s): the
// engine, and so the workspace, wrote it.
export function gitSummary(ws) {
    const repos = (ws && ws.git && Array.isArray(ws.git.repositories)) ? ws.git.repositories : [];
    const r = repos.find((x) => x && typeof x.branch === 'string') || {};
    const pr = r.pullRequest && typeof r.pullRequest.url === 'string'
        && /^https?:\/\//i.test(r.pullRequest.url) ? r.pullRequest : null;
    return { branch: r.branch || null, pr: pr ? { url: pr.url, number: pr.number } : null,
             more: Math.max(0, repos.length - 1) };
}

// the filters in the URL's query (so reload and share keep them)
export function filtersFromQuery(search) {
    const q = new URLSearchParams(search);
    const view = q.get('view');
    return {
        view: VIEWS.includes(view) ? view : 'team',
        state: q.get('state') || '',
        owner: q.get('owner') || '',
        env: q.get('env') || '',
        active: isActivity(q.get('active')) ? q.get('active') : '',
        q: q.get('q') || '',
    };
}

export function filtersToQuery(f) {
    const q = new URLSearchParams();
    if (f.view && f.view !== 'team') q.set('view', f.view);
    for (const k of ['state', 'owner', 'env', 'active', 'q']) if (f[k]) q.set(k, f[k]);
    const s = q.toString();
    return s ? '?' + s : '';
}

// ---- one workspace's chat, folded from its engine's events ----------------
//
// GET /v1/workspaces/{id}/events (engine/README.md, "Events") folded into
// what the Chat tab shows: per chat, one entry per message (by seq) with
// the person's text and the agent's turn for it (its state, the streamed
// text, tool calls with their results, background tasks, cost, commits),
// plus notes (hooks, pushes, errors). Pure: returns a new state.

export function emptyChat() {
    return { lastId: 0, entries: [], chats: ['default'], engine: null };
}

const TURN_STATES = {
    'chat.turn.accepted': 'running',
    'chat.turn.queued': 'queued',
    'chat.turn.folded': 'queued',
    'chat.turn.started': 'running',
    'chat.turn.completed': 'completed',
    'chat.turn.failed': 'failed',
    'chat.turn.interrupted': 'interrupted',
};

function entryIndex(entries, chat, seq) {
    return entries.findIndex((e) => e.seq === seq && e.chat === chat);
}

function withEntry(st, chat, seq, change) {
    const entries = st.entries.slice();
    let i = entryIndex(entries, chat, seq);
    if (i < 0) {
        entries.push({ seq, chat, message: null, turn: null, notes: [] });
        i = entries.length - 1;
    }
    const e = { ...entries[i] };
    e.turn = e.turn ? { ...e.turn } : { state: 'queued', text: '', tools: [], tasks: [] };
    change(e);
    entries[i] = e;
    return { ...st, entries };
}

function withChat(st, chat) {
    return st.chats.includes(chat) ? st : { ...st, chats: [...st.chats, chat] };
}

export function foldChat(st, ev) {
    if (!ev || typeof ev.type !== 'string') return st;
    const p = ev.payload || {};
    if (ev.type === 'engine.status') return { ...st, engine: p };
    // stored events come once each (a reconnect resumes after the last)
    if (typeof ev.id === 'number' && ev.type !== 'events.gap') {
        if (ev.id <= st.lastId) return st;
        st = { ...st, lastId: ev.id };
    }
    const chat = p.chat || 'default';
    const seq = p.seq;
    if (ev.type === 'message.received') {
        st = withChat(st, chat);
        return withEntry(st, chat, seq, (e) => {
            e.message = { text: p.text, user: p.user, author: p.author, at: p.at, kind: p.kind };
            if (!e.turn.position && p.position) e.turn.position = p.position;
        });
    }
    if (ev.type === 'chat.created') return withChat(st, chat);
    if (seq === undefined || seq === null) {
        // not a turn's: a note of the workspace (hooks, pushes, git updates)
        const note = describeNote(ev);
        if (!note) return st;
        return { ...st, entries: [...st.entries, { seq: null, chat: null, note, id: ev.id }] };
    }
    st = withChat(st, chat);
    return withEntry(st, chat, seq, (e) => {
        const t = e.turn;
        if (TURN_STATES[ev.type]) t.state = TURN_STATES[ev.type];
        switch (ev.type) {
        case 'chat.turn.queued':
        case 'chat.turn.folded':
            t.position = p.position;
            break;
        case 'chat.turn.started':
            t.agent = p.agent;
            break;
        case 'chat.turn.delta':
            t.state = 'running';
            t.text += p.text || '';
            break;
        case 'tool.use':
            t.tools = [...t.tools, { id: p.id, tool: p.tool, input: p.input, output: null, is_error: false }];
            break;
        case 'tool.result':
            t.tools = t.tools.map((x) => (x.id === p.id ? { ...x, output: p.output, is_error: !!p.is_error } : x));
            break;
        case 'task.started':
        case 'task.progress':
        case 'task.completed':
        case 'task.failed':
        case 'task.stopped': {
            const state = ev.type === 'task.started' || ev.type === 'task.progress'
                ? 'running' : ev.type.slice(5);
            const i = t.tasks.findIndex((x) => x.task_id === p.task_id);
            const prev = i < 0 ? {} : t.tasks[i];
            const task = { ...prev, task_id: p.task_id, state,
                description: p.description || prev.description, summary: p.summary || prev.summary };
            t.tasks = i < 0 ? [...t.tasks, task] : t.tasks.map((x, j) => (j === i ? task : x));
            break;
        }
        case 'chat.turn.completed':
            t.result = p.result;
            t.is_error = !!p.is_error;
            t.cost_usd = p.cost_usd;
            t.usage = p.usage;
            t.ms = p.ms;
            break;
        case 'chat.turn.failed':
            t.reason = p.reason;
            t.message = p.message;
            break;
        case 'chat.turn.interrupted':
            t.reason = p.reason;
            break;
        case 'agent.error':
            t.errors = [...(t.errors || []), p.message || 'the agent reported an error'];
            break;
        default: {
            const note = describeNote(ev);
            if (note) e.notes = [...e.notes, note];
        }
        }
    });
}

export function plural(n, word) {
    return n + ' ' + word + (n === 1 ? '' : 's');
}

// one line for what is no turn's text: commits, pushes, hooks
export function describeNote(ev) {
    const p = ev.payload || {};
    switch (ev.type) {
    case 'git.committed':
        return 'Committed ' + String(p.sha || '').slice(0, 7) + ' on ' + p.branch
            + ' (' + plural((p.files && p.files.length) || 0, 'file') + ')';
    case 'git.commit_failed': return 'Commit failed: ' + p.error;
    case 'git.pushed': return 'Pushed ' + p.branch + ' to ' + (p.remote || 'origin');
    case 'git.push_failed': return 'Push failed: ' + p.error;
    case 'git.pull_request': return 'Pull request: ' + p.url;
    case 'git.pull_request_failed': return 'Pull request failed: ' + p.error;
    case 'git.updated': return 'Branch ' + p.branch + ' updated from ' + p.base;
    case 'git.update_failed': return 'Update from ' + p.base + ' stopped: ' + p.reason;
    case 'hook.completed': return 'Start hook ' + p.state + (p.exit ? ' (exit ' + p.exit + ')' : '');
    case 'events.gap': return 'Older events are gone (after ' + p.after + ')';
    default: return null;
    }
}

// the entries of one chat, in order (notes go with every chat)
export function chatEntries(st, chat) {
    return st.entries.filter((e) => e.chat === null || e.chat === chat);
}

// the text a turn shows: its final result once there, else what streamed
export function turnText(t) {
    if (!t) return '';
    if (typeof t.result === 'string' && t.result !== '') return t.result;
    return t.text || '';
}

// every event type the engine sends (an EventSource hears named events only)
export const EVENT_TYPES = [
    'engine.ready', 'engine.stopping', 'engine.status', 'events.gap', 'workspace.claimed',
    'hook.started', 'hook.completed', 'message.received', 'chat.created', 'chat.deleted',
    'chat.turn.accepted', 'chat.turn.queued', 'chat.turn.folded', 'chat.turn.started',
    'chat.session', 'chat.turn.delta', 'tool.use', 'tool.result', 'task.started',
    'task.progress', 'task.completed', 'task.failed', 'task.stopped', 'agent.error',
    'chat.turn.completed', 'chat.turn.interrupted', 'chat.turn.failed', 'git.committed',
    'git.commit_failed', 'git.pushed', 'git.push_failed', 'git.updated', 'git.update_failed',
    'git.pull_request', 'git.pull_request_failed', 'previews.changed',
];

// diff2html's parsed files ({addedLines, deletedLines}) summed up
export function diffStats(files) {
    let added = 0;
    let removed = 0;
    for (const f of files || []) {
        added += f.addedLines || 0;
        removed += f.deletedLines || 0;
    }
    return { files: (files || []).length, added, removed };
}

// presence (GET's `viewers`: [{user, name?, email?}]): a viewer's name as
// shown, and the viewers other than the caller, in their order
export function viewerName(v) {
    return (v && (v.name || v.email || v.user)) || 'someone';
}

export function otherViewers(ws, me) {
    const list = ws && Array.isArray(ws.viewers) ? ws.viewers : [];
    return list.filter((v) => v && v.user && v.user !== (me && me.user));
}
