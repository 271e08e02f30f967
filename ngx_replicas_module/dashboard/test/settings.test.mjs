// The Settings page's pure logic (src/settings-logic.js): node's own test
// runner, run by t/61-dashboard.t and t/64-settings.t.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { settingsRoute, settingsPath, envNameOk, varNameOk, filePathOk, emailOk, offered,
         formatBytes, ago, usableText } from '../src/settings-logic.js';

test('every view has its URL, and back', () => {
    assert.deepEqual(settingsRoute('/settings'), { section: 'environments', env: null });
    assert.deepEqual(settingsRoute('/settings/'), { section: 'environments', env: null });
    assert.deepEqual(settingsRoute('/settings/keys'), { section: 'keys', env: null });
    assert.deepEqual(settingsRoute('/settings/members'), { section: 'members', env: null });
    assert.deepEqual(settingsRoute('/settings/environments/dev'), { section: 'environments', env: 'dev' });
    assert.deepEqual(settingsRoute(settingsPath('environments', 'my_env-2')), { section: 'environments', env: 'my_env-2' });
    assert.equal(settingsRoute('/settings/keys/abc'), null, 'only environments have a page each');
    assert.equal(settingsRoute('/settings/environments/Bad'), null, 'a name the API refuses is no page');
    assert.equal(settingsRoute('/settings/environments/%E0'), null, 'bad escapes too');
    assert.equal(settingsRoute('/settings/other'), null);
    assert.equal(settingsRoute('/settingsx'), null);
});

test('names as the API takes them', () => {
    assert.ok(envNameOk('global') && envNameOk('a') && !envNameOk('-a') && !envNameOk('A') && !envNameOk('a'.repeat(65)));
    assert.ok(varNameOk('API_TOKEN') && varNameOk('_x1') && !varNameOk('1X') && !varNameOk('A-B') && !varNameOk(''));
    assert.ok(filePathOk('config/app.env') && !filePathOk('/etc/x') && !filePathOk('a/../b')
              && !filePathOk('a//b') && !filePathOk('./a') && !filePathOk('') && !filePathOk('a\nb'));
    assert.ok(emailOk('ada@example.com') && !emailOk('ada') && !emailOk('a b@example.com')
              && !emailOk('a@b') && !emailOk('<a@b.c>'));
});

test('a member is offered no admin action', () => {
    assert.deepEqual(offered('member'), { envWrite: false, keyForOthers: false, members: false, linkForOthers: false });
    assert.deepEqual(offered('admin'), { envWrite: true, keyForOthers: true, members: true, linkForOthers: true });
    assert.equal(offered(undefined).envWrite, false, 'no role known: nothing offered');
});

test('sizes, times and who may use an environment, in words', () => {
    assert.equal(formatBytes(0), '0 B');
    assert.equal(formatBytes(1023), '1023 B');
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatBytes(65536), '64 KiB');
    assert.equal(formatBytes(3 * 1024 * 1024), '3 MiB');
    assert.equal(formatBytes(undefined), '');
    assert.equal(ago(null, 100), 'never');
    assert.equal(ago(90, 100), 'just now');
    assert.equal(ago(100, 100 + 180), '3 min ago');
    assert.equal(ago(100, 100 + 7200), '2 h ago');
    assert.equal(ago(100, 90), 'just now', 'a clock behind is no negative time');
    assert.equal(usableText(undefined), 'every workspace (Global)');
    assert.equal(usableText('all'), 'everyone in the organisation');
    assert.equal(usableText([]), 'admins only');
    assert.equal(usableText(['u1', 'u2'], { u1: { email: 'a@x.io' } }), 'a@x.io, u2');
});
