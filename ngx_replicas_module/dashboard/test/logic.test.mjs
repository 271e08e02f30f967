// The dashboard's pure logic (src/logic.js): node's own test runner, run
// by t/61-dashboard.t (and `npm test` in a dashboard build folder).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { filterWorkspaces, foldEvent, foldStream, gitSummary, filtersFromQuery, filtersToQuery, countByState, age,
         countByEnvironment,
         emptyChat, foldChat, chatEntries, turnText } from '../src/logic.js';

const list = [
    { id: 'a1', name: 'Alpha', state: 'awake', state_at: 30, owner: 'u1', repository: 'r/one' },
    { id: 'b2', name: 'Beta', state: 'sleeping', state_at: 20, owner: 'u2', repository: 'r/two' },
    { id: 'c3', name: 'Bot', state: 'awake', state_at: 10, owner: null, repository: 'r/one' },
    { id: 'd4', name: 'Gone', state: 'deleted', state_at: 40, owner: 'u1' },
];

test('views, filters and search', () => {
    const ids = (f) => filterWorkspaces(list, f, 'u1').map((w) => w.id);
    assert.deepEqual(ids({}), ['a1', 'b2', 'c3'], 'team: all but deleted, newest change first');
    assert.deepEqual(ids({ view: 'mine' }), ['a1']);
    assert.deepEqual(ids({ view: 'api' }), ['c3'], 'no human owner: API & automations');
    assert.deepEqual(ids({ state: 'awake' }), ['a1', 'c3']);
    assert.deepEqual(ids({ owner: 'u2' }), ['b2']);
    assert.deepEqual(ids({ q: 'r/one al' }), ['a1'], 'every word must match');
    assert.deepEqual(countByState(list), { awake: 2, sleeping: 1 });
});

test('environment and last activity', () => {
    const now = 10 * 86400;
    const ws = [
        { id: 'e1', state: 'awake', state_at: now - 60, environment: 'prod' },
        { id: 'e2', state: 'sleeping', state_at: now - 2 * 86400, active_at: now - 1800 },
        { id: 'e3', state: 'sleeping', state_at: now - 9 * 86400, environment: 'prod' },
        { id: 'e4', state: 'deleted', state_at: now, environment: 'dev' },
    ];
    const ids = (f) => filterWorkspaces(ws, f, 'u1', now).map((w) => w.id).sort();
    assert.deepEqual(ids({ env: 'prod' }), ['e1', 'e3']);
    assert.deepEqual(ids({ env: '-' }), ['e2'], '"-": Global only, no environment');
    assert.deepEqual(ids({ active: 'hour' }), ['e1', 'e2'], 'active_at counts, not only state changes');
    assert.deepEqual(ids({ active: 'day' }), ['e1', 'e2']);
    assert.deepEqual(ids({ active: 'week' }), ['e1', 'e2']);
    assert.deepEqual(ids({ active: 'idle' }), ['e3']);
    assert.deepEqual(ids({ active: 'bogus' }), ['e1', 'e2', 'e3'], 'an unknown value filters nothing');
    assert.deepEqual(countByEnvironment(ws), { prod: 2, '-': 1 }, 'deleted ones not counted');
    assert.deepEqual(ids({ q: 'prod' }), ['e1', 'e3'], 'the search box finds the environment too');
});

test('filters round-trip through the URL', () => {
    const f = { view: 'mine', state: 'awake', owner: '', env: 'prod', active: 'day', q: 'x y' };
    assert.deepEqual(filtersFromQuery(filtersToQuery(f)), f);
    assert.equal(filtersFromQuery('?active=constructor').active, '', 'an unknown activity is none');
    assert.equal(filtersFromQuery('?active=idle').active, 'idle');
    assert.equal(filtersToQuery({ view: 'team' }), '');
    assert.equal(filtersFromQuery('?view=evil').view, 'team', 'an unknown view is the team');
});

test('ages', () => {
    assert.equal(age(100, 105), '5 s');
    assert.equal(age(0, 5), '');
    assert.equal(age(100, 100 + 7200), '2 h');
    assert.equal(age(100, 90), '0 s', 'a clock behind is no negative age');
});

test('workspace events fold into the list', () => {
    let l = foldEvent(list, { type: 'workspace.state', payload: { id: 'b2', state: 'awake' } });
    assert.equal(l.find((w) => w.id === 'b2').state, 'awake');
    assert.equal(list[1].state, 'sleeping', 'the old list is untouched');
    l = foldEvent(l, { type: 'workspace.created', payload: { id: 'e5', state: 'booting' } });
    assert.equal(l.length, 5);
    l = foldEvent(l, { type: 'workspace.deleted', payload: { id: 'a1' } });
    assert.ok(!l.some((w) => w.id === 'a1'));
    assert.equal(foldEvent(l, { type: 'x', payload: {} }), l, 'no id: nothing');
});

test('the org event stream: snapshot, then changes', () => {
    const caller = { user: 'u1' };
    assert.equal(foldStream(null, { type: 'workspace.changed', payload: { id: 'a1' } }), null,
                 'a change before the snapshot: nothing to fold into');
    let d = foldStream(null, { id: 1, type: 'snapshot', payload: { workspaces: list.slice(0, 2), caller } });
    assert.equal(d.workspaces.length, 2);
    assert.equal(d.caller, caller, 'the caller comes with the snapshot');
    d = foldStream(d, { id: 2, type: 'workspace.changed', payload: { id: 'e5', state: 'booting', name: 'New' } });
    assert.deepEqual(d.workspaces.map((w) => w.id), ['a1', 'b2', 'e5'], 'created: added');
    d = foldStream(d, { id: 3, type: 'workspace.changed', payload: { id: 'b2', state: 'awake' } });
    assert.equal(d.workspaces.find((w) => w.id === 'b2').state, 'awake', 'changed: merged');
    assert.equal(d.workspaces.find((w) => w.id === 'b2').name, 'Beta', 'its other fields kept');
    d = foldStream(d, { id: 4, type: 'workspace.deleted', payload: { id: 'a1' } });
    assert.deepEqual(d.workspaces.map((w) => w.id), ['b2', 'e5'], 'deleted: removed');
    assert.equal(foldStream(d, { type: 'workspace.changed', payload: {} }), d, 'no id: the same object');
    assert.equal(foldStream(d, 'garbage'), d, 'not an event: unchanged');
    d = foldStream(d, { id: 1, type: 'snapshot', payload: { workspaces: [list[2]], caller } });
    assert.deepEqual(d.workspaces.map((w) => w.id), ['c3'], 'a new snapshot replaces all');
    assert.equal(foldStream(d, { type: 'snapshot', payload: {} }), d, 'a malformed snapshot is ignored');
});

const ev = (id, type, payload) => ({ id, type, payload });

test('a chat: message, streamed turn, tools, outcome', () => {
    let st = emptyChat();
    st = foldChat(st, ev(3, 'engine.status', { busy: false }));
    assert.equal(st.lastId, 0, 'engine.status is not stored');
    st = foldChat(st, ev(4, 'message.received', { seq: 1, text: 'hi', user: 'u1', author: { name: 'Ada' } }));
    st = foldChat(st, ev(5, 'chat.turn.accepted', { chat: 'default', seq: 1, position: 0 }));
    st = foldChat(st, ev(6, 'chat.turn.delta', { chat: 'default', seq: 1, text: 'Hel' }));
    st = foldChat(st, ev(7, 'tool.use', { chat: 'default', seq: 1, id: 't1', tool: 'Write', input: { file_path: 'x' } }));
    st = foldChat(st, ev(8, 'chat.turn.delta', { chat: 'default', seq: 1, text: 'lo' }));
    let [e] = chatEntries(st, 'default');
    assert.equal(e.message.text, 'hi');
    assert.equal(e.turn.state, 'running');
    assert.equal(turnText(e.turn), 'Hello', 'deltas as they come');
    assert.equal(e.turn.tools[0].output, null, 'a tool without its result yet');
    st = foldChat(st, ev(9, 'tool.result', { chat: 'default', seq: 1, id: 't1', output: 'ok', is_error: false }));
    st = foldChat(st, ev(10, 'chat.turn.completed', { chat: 'default', seq: 1, result: 'Hello!', cost_usd: 0.01,
        usage: { input_tokens: 3, output_tokens: 4 } }));
    st = foldChat(st, ev(11, 'git.committed', { chat: 'default', seq: 1, sha: 'abcdef123', branch: 'b', files: ['x'] }));
    [e] = chatEntries(st, 'default');
    assert.equal(e.turn.state, 'completed');
    assert.equal(turnText(e.turn), 'Hello!', 'the final result wins');
    assert.equal(e.turn.tools[0].output, 'ok');
    assert.match(e.notes[0], /Committed abcdef1 on b/);
    const again = foldChat(st, ev(6, 'chat.turn.delta', { chat: 'default', seq: 1, text: 'Hel' }));
    assert.equal(again, st, 'an event seen already (a resumed stream) changes nothing');
});

test('queued turns, chats, failures, notes', () => {
    let st = emptyChat();
    st = foldChat(st, ev(1, 'message.received', { seq: 2, chat: 'ops', text: 'second' }));
    st = foldChat(st, ev(2, 'chat.turn.queued', { chat: 'ops', seq: 2, position: 1 }));
    assert.deepEqual(st.chats, ['default', 'ops']);
    let [e] = chatEntries(st, 'ops');
    assert.equal(e.turn.state, 'queued');
    assert.equal(e.turn.position, 1);
    assert.equal(chatEntries(st, 'default').length, 0, 'another chat\'s messages are not shown');
    st = foldChat(st, ev(3, 'chat.turn.failed', { chat: 'ops', seq: 2, reason: 'no_model_key', message: 'set it' }));
    [e] = chatEntries(st, 'ops');
    assert.equal(e.turn.state, 'failed');
    assert.equal(e.turn.message, 'set it');
    st = foldChat(st, ev(4, 'hook.completed', { hook: 'start', state: 'failed', exit: 2 }));
    assert.equal(chatEntries(st, 'default').length, 1, 'a workspace note shows in every chat');
    assert.match(chatEntries(st, 'ops')[1].note, /Start hook failed \(exit 2\)/);
    st = foldChat(st, ev(5, 'task.started', { chat: 'ops', seq: 2, task_id: 'k', description: 'build' }));
    st = foldChat(st, ev(6, 'task.completed', { chat: 'ops', seq: 2, task_id: 'k', summary: 'built' }));
    [e] = chatEntries(st, 'ops');
    assert.deepEqual(e.turn.tasks, [{ task_id: 'k', state: 'completed', description: 'build', summary: 'built' }]);
    assert.equal(foldChat(st, { nonsense: true }), st, 'not an event: nothing');
});

test('the list\'s branch and pull request, from the saved git state', () => {
    assert.deepEqual(gitSummary({}), { branch: null, pr: null, more: 0 }, 'none saved');
    assert.deepEqual(gitSummary({ git: { repositories: [
        { name: 'a', branch: 'replicas/x', pullRequest: { url: 'https://github.com/o/a/pull/7', number: 7 } },
        { name: 'b', branch: 'replicas/x' }] } }),
        { branch: 'replicas/x', pr: { url: 'https://github.com/o/a/pull/7', number: 7 }, more: 1 });
    assert.equal(gitSummary({ git: { repositories: [
        { branch: 'b', pullRequest: { url: 'javascript:alert(1)', number: 1 } }] } }).pr, null,
        'a link that is not http(s) is not a link');
    assert.equal(gitSummary({ git: { repositories: 'junk' } }).branch, null, 'junk: nothing');
});
