// The Stats page's pure logic (src/statslogic.js): node's own test
// runner, with test/logic.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { daysFromQuery, daysToQuery, percent, compact, money, bars, dayLabel, personName,
         DEFAULT_DAYS } from '../src/statslogic.js';

test('the range round-trips through the URL', () => {
    assert.equal(daysFromQuery(''), DEFAULT_DAYS);
    assert.equal(daysFromQuery('?days=30'), 30);
    assert.equal(daysFromQuery('?days=31'), DEFAULT_DAYS, 'only the page\'s ranges');
    assert.equal(daysFromQuery('?days=abc'), DEFAULT_DAYS);
    assert.equal(daysToQuery(DEFAULT_DAYS), '');
    assert.equal(daysFromQuery(daysToQuery(90)), 90);
});

test('shares, counts and money', () => {
    assert.equal(percent(0.5), '50%');
    assert.equal(percent(2 / 3), '67%');
    assert.equal(percent(0), '0%');
    assert.equal(percent(0.001), '<1%');
    assert.equal(percent(null), '—', 'nothing to divide by');
    assert.equal(compact(999), '999');
    assert.equal(compact(1234), '1.2k');
    assert.equal(compact(45678), '46k');
    assert.equal(compact(3400000), '3.4M');
    assert.equal(money(0), '$0');
    assert.equal(money(0.004), '<$0.01');
    assert.equal(money(1.5), '$1.50');
    assert.equal(money(1234.4), '$1,234');
});

test('bars are shares of the largest day', () => {
    const days = [{ started: 1 }, { started: 4 }, { started: 0 }, {}];
    assert.deepEqual(bars(days, 'started'), [25, 100, 0, 0]);
    assert.deepEqual(bars([{ started: 0 }], 'started'), [0], 'no day: no bar, no NaN');
    assert.deepEqual(bars([], 'started'), []);
});

test('days and people', () => {
    assert.equal(dayLabel('2026-12-04'), 'Dec 4');
    assert.equal(dayLabel('2026-13-04'), '2026-13-04', 'not a date: as it is');
    assert.equal(personName({ user: 'u1', email: 'a@b' }), 'a@b');
    assert.equal(personName({ user: 'u1', name: 'Ada' }), 'Ada');
    assert.equal(personName({ user: 'u1' }), 'u1');
});
