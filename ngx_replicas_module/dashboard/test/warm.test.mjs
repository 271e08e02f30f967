// Warm while typing (src/warm.js): node's own test runner, run by
// t/61-dashboard.t.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { repositoryReady, warmLabel, warmPollDelay, WARM_POLLS_MAX } from '../src/warm.js';

test('which repositories are worth warming', () => {
    for (const r of ['https://github.com/org/repo', 'https://github.com/org/repo.git', 'git://host/x',
                     'ssh://git.example/a/b', 'file:///srv/repos/app', '/srv/repos/org/app', '  /srv/app  ',
                     'HTTP://example.com/a']) {
        assert.equal(repositoryReady(r), true, r);
    }
    for (const r of ['', ' ', '/', 'h', 'https://', 'https://gith', 'https://github.com', 'https://github.com/',
                     'https://u:p@github.com/org/repo', 'https://github.com/org repo', 'github.com/org/repo',
                     'ftp://x/y', 'file://host/x', 'x'.repeat(513), null, undefined]) {
        assert.equal(repositoryReady(r), false, JSON.stringify(r));
    }
});

test('what the form says', () => {
    assert.equal(warmLabel(null), null);
    assert.equal(warmLabel({}), null);
    assert.deepEqual(warmLabel({ status: 'warming' }), { kind: 'warming', text: 'Preparing…' });
    assert.deepEqual(warmLabel({ status: 'ready' }), { kind: 'ready', text: 'Ready: starts instantly' });
    assert.deepEqual(warmLabel({ status: 'failed', reason: 'no such repository' }),
                     { kind: 'failed', text: 'Not prepared ahead: no such repository (it still starts)' });
    assert.equal(warmLabel({ status: 'failed' }).kind, 'failed');
});

test('asking again while it warms', () => {
    assert.deepEqual([0, 1, 2, 3, 10].map(warmPollDelay), [1000, 2000, 3000, 3000, 3000]);
    assert.equal(warmPollDelay(WARM_POLLS_MAX), null, 'then it stops asking');
});
