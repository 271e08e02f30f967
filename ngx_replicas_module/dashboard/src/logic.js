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
    const hay = [ws.id, ws.name, ws.repository, ws.branch, ws.owner, ws.agent]
        .filter(Boolean).join(' ').toLowerCase();
    return words.every((w) => hay.includes(w));
}

// filters: {view, state, owner, q}; the newest state change first
export function filterWorkspaces(list, f, me) {
    return list
        .filter((ws) => ws.state !== 'deleted')
        .filter((ws) => matchesView(ws, f.view || 'team', me))
        .filter((ws) => !f.state || ws.state === f.state)
        .filter((ws) => !f.owner || ws.owner === f.owner)
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
// into the list (by id): created and changed merge their fields, deleted
// removes it. An event for an unknown workspace adds it (created may have
// been missed while the stream reconnected). Returns a new array.
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

// the filters in the URL's query (so reload and share keep them)
export function filtersFromQuery(search) {
    const q = new URLSearchParams(search);
    const view = q.get('view');
    return {
        view: VIEWS.includes(view) ? view : 'team',
        state: q.get('state') || '',
        owner: q.get('owner') || '',
        q: q.get('q') || '',
    };
}

export function filtersToQuery(f) {
    const q = new URLSearchParams();
    if (f.view && f.view !== 'team') q.set('view', f.view);
    for (const k of ['state', 'owner', 'q']) if (f[k]) q.set(k, f[k]);
    const s = q.toString();
    return s ? '?' + s : '';
}
