// The engine check's classification and words (src/healthcheck.js):
// node's own test runner, run by t/61-dashboard.t and t/66-engine-banner.t.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyEngine, engineBannerText, engineDetail, engineTroubleOf, isJsonType }
    from '../src/healthcheck.js';

const healthy = { ok: true, version: '1' };

test('an answer in JSON is healthy', () => {
    assert.deepEqual(classifyEngine({ status: 200, contentType: 'application/json', json: healthy }), { state: 'ok' });
    assert.deepEqual(classifyEngine({ status: 200, contentType: 'application/json; charset=utf-8', json: healthy }),
        { state: 'ok' });
    assert.deepEqual(classifyEngine({ status: 204, contentType: 'Application/JSON', json: {} }), { state: 'ok' });
});

test('no answer in time: timeout; fetch rejected: network_error', () => {
    const t = classifyEngine({ timedOut: true });
    assert.deepEqual(t, { state: 'down', reason: 'timeout' });
    assert.equal(engineBannerText(t), 'The workspace\'s engine is not answering (timeout).');
    assert.equal(engineDetail(t), 'No answer in 10 s.');
    const n = classifyEngine({ failed: 'Failed to fetch' });
    assert.equal(n.reason, 'network_error');
    assert.equal(engineBannerText(n), 'The workspace\'s engine is not answering (network_error).');
    assert.match(engineDetail(n), /gateway could not be reached \(Failed to fetch\)/);
});

test('a non-2xx answer is http_status, with the status', () => {
    const e = classifyEngine({ status: 500, contentType: 'text/plain', json: undefined });
    assert.deepEqual(e, { state: 'down', reason: 'http_status', status: 500 });
    assert.equal(engineBannerText(e), 'The workspace\'s engine is not answering (http_status).');
    assert.equal(engineDetail(e), 'The engine answered HTTP 500.');
    // the gateway's own: nothing listening (502), no answer to it (504)
    const g = classifyEngine({ status: 502, contentType: 'application/json',
        json: { error: { code: 'engine_unreachable', message: 'm' } } });
    assert.deepEqual(g, { state: 'down', reason: 'http_status', status: 502, code: 'engine_unreachable', message: 'm' });
    assert.match(engineDetail(g), /^HTTP 502 from the gateway: nothing listens on the engine's port 3737/);
    const w = classifyEngine({ status: 504, contentType: 'application/json', json: { error: { code: 'engine_timeout' } } });
    assert.match(engineDetail(w), /^HTTP 504 from the gateway: the engine did not answer it in time/);
    // a 3xx or 1xx is not 2xx either
    assert.equal(classifyEngine({ status: 302, contentType: 'text/html' }).reason, 'http_status');
    // an engine's JSON error is still its status (and its text never shown)
    const j = classifyEngine({ status: 503, contentType: 'application/json',
        json: { error: { code: 'busy', message: '<b>x</b>' } } });
    assert.equal(j.reason, 'http_status');
    assert.equal(engineDetail(j), 'The engine answered HTTP 503.');
});

test('2xx but not JSON: wrong_content_type', () => {
    const h = classifyEngine({ status: 200, contentType: 'text/html; charset=utf-8', json: undefined });
    assert.equal(h.reason, 'wrong_content_type');
    assert.equal(engineBannerText(h), 'The workspace\'s engine is not answering (wrong_content_type).');
    assert.equal(engineDetail(h), 'The engine answered HTTP 200 with text/html; charset=utf-8, not JSON.');
    // JSON by its body but not by its type, and the other way round
    assert.equal(classifyEngine({ status: 200, contentType: 'text/plain', json: healthy }).reason, 'wrong_content_type');
    assert.equal(classifyEngine({ status: 200, contentType: 'application/json', json: undefined }).reason,
        'wrong_content_type');
    assert.equal(classifyEngine({ status: 200, contentType: null, json: healthy }).reason, 'wrong_content_type');
    assert.equal(classifyEngine({ status: 200, contentType: 'application/jsonp', json: healthy }).reason,
        'wrong_content_type');
    assert.match(engineDetail(classifyEngine({ status: 200, contentType: '', json: healthy })), /with no content type/);
    assert.equal(isJsonType(' application/json '), true);
});

test('the API\'s refusals say nothing about the engine', () => {
    for (const [status, code] of [[401, 'unauthorized'], [403, 'not_your_workspace'], [403, 'forbidden'],
                                  [404, 'workspace_not_found'], [409, 'workspace_not_awake'],
                                  [429, 'rate_limited'], [503, 'state_unavailable']]) {
        assert.deepEqual(classifyEngine({ status, contentType: 'application/json', json: { error: { code } } }),
            { state: 'unknown', status, code }, code);
    }
});

test('which failed calls are the engine\'s', () => {
    assert.equal(engineTroubleOf('/v1/workspaces/ab1/hooks', 502, 'engine_unreachable'), 'ab1');
    assert.equal(engineTroubleOf('/v1/workspaces/ab1/diff?repo=x', 200, 'wrong_content_type'), 'ab1');
    assert.equal(engineTroubleOf('/v1/workspaces/ab1/git/push?repo=x', 0, 'network_error'), 'ab1');
    assert.equal(engineTroubleOf('/v1/workspaces/ab1/chats/default/interrupt', 504, 'engine_timeout'), 'ab1');
    assert.equal(engineTroubleOf('/v1/workspaces/ab1/files/content?repo=x&path=a', 500, 'http_status'), 'ab1');
    assert.equal(engineTroubleOf('/v1/workspaces/ab1/files?repo=x', 404, 'not_found'), null, 'an answer');
    assert.equal(engineTroubleOf('/v1/workspaces/ab1/git/push', 409, 'push_rejected'), null, 'an answer');
    assert.equal(engineTroubleOf('/v1/workspaces/ab1/hooks', 503, 'state_unavailable'), null, 'not the engine');
    assert.equal(engineTroubleOf('/v1/workspaces/ab1/hooks', 503, 'workspace_waking'), null, 'not the engine');
    assert.equal(engineTroubleOf('/v1/workspaces/ab1/messages', 500, 'internal'), null, 'not proxied');
    assert.equal(engineTroubleOf('/v1/workspaces/ab1', 0, 'network_error'), null, 'not proxied');
    assert.equal(engineTroubleOf('/v1/workspaces/ab1/history', 0, 'network_error'), null, 'from Redis');
    assert.equal(engineTroubleOf('/v1/workspaces/ab1/gitx', 500, 'x'), null);
});
