// File paths in the agent's words (src/paths.js) and presence's names
// (src/logic.js): node's own test runner, run by t/61-dashboard.t.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePath, splitPaths, pathCandidates, parentDir, filesHref, resolvePath } from '../src/paths.js';
import { otherViewers, viewerName } from '../src/logic.js';

test('what looks like a path', () => {
    assert.deepEqual(parsePath('src/app.js'), { path: 'src/app.js', line: null });
    assert.deepEqual(parsePath('src/app.js:12'), { path: 'src/app.js', line: 12 });
    assert.deepEqual(parsePath('src/app.js:12:3'), { path: 'src/app.js', line: 12 }, 'a column too');
    assert.deepEqual(parsePath('./README.md'), { path: 'README.md', line: null });
    assert.deepEqual(parsePath('Makefile.am'), { path: 'Makefile.am', line: null });
    assert.deepEqual(parsePath('src/Makefile'), { path: 'src/Makefile', line: null }, 'a slash: no extension needed');
    for (const w of ['Makefile', 'word', '1.2', '/etc/passwd', '../secret.txt', 'a/../b.js', 'a/./b.js',
                     'https://x.example/a.js', 'a//b.js', 'src/', 'a b.js', '<b>.js', 'x.js?q=1', '', '...', 'a/b.js:']) {
        assert.equal(parsePath(w), null, JSON.stringify(w) + ' is not a path');
    }
});

test('a text cut around the paths that exist', () => {
    const known = (p) => (p === 'src/app.js' || p === 'notes.md' ? 'href:' + p : null);
    const pieces = splitPaths('See src/app.js:12, and (notes.md). Not other.js or https://x.example/src/app.js', known);
    assert.equal(pieces.map((p) => p.text).join(''), 'See src/app.js:12, and (notes.md). Not other.js or https://x.example/src/app.js',
                 'nothing lost');
    assert.deepEqual(pieces.filter((p) => p.found),
        [{ text: 'src/app.js:12', path: 'src/app.js', line: 12, found: 'href:src/app.js' },
         { text: 'notes.md', path: 'notes.md', line: null, found: 'href:notes.md' }],
        'the existing ones, without the punctuation around them; a URL is not a path');
    assert.deepEqual(splitPaths('nothing here', known), [{ text: 'nothing here' }]);
    assert.deepEqual(splitPaths('notes.md', known), [{ text: 'notes.md', path: 'notes.md', line: null, found: 'href:notes.md' }]);
    assert.deepEqual(splitPaths('  notes.md\n', known).map((p) => p.text), ['  ', 'notes.md', '\n']);
});

test('the folders to list, and the Files tab\'s URL', () => {
    assert.deepEqual(pathCandidates('Wrote `src/app.js` and notes.md, see src/app.js:3. 1.2 v2.0'),
                     ['src/app.js', 'notes.md']);
    assert.equal(parentDir('src/lib/a.js'), 'src/lib');
    assert.equal(parentDir('a.js'), '');
    assert.equal(filesHref('abc1', 'app', 'src/a b.js'), '/w/abc1/files?repo=app&path=src&file=src%2Fa+b.js');
    assert.equal(filesHref('abc1', 'app', 'notes.md'), '/w/abc1/files?repo=app&file=notes.md');
    const repos = new Map([['app', new Set(['src/a.js'])], ['lib', new Set(['x.c', 'src/a.js'])]]);
    assert.deepEqual(resolvePath('src/a.js', repos), { repo: 'app', path: 'src/a.js' }, 'the first repository first');
    assert.deepEqual(resolvePath('lib/x.c', repos), { repo: 'lib', path: 'x.c' }, 'or named by its repository');
    assert.equal(resolvePath('nope.c', repos), null);
});

test('who else is viewing', () => {
    const ws = { viewers: [{ user: 'u1', email: 'ada@example.com' }, { user: 'u2', name: 'Grace', email: 'g@example.com' },
                           { user: 'u3' }] };
    assert.deepEqual(otherViewers(ws, { user: 'u1' }).map(viewerName), ['Grace', 'u3'], 'not oneself; a name, else email, else id');
    assert.deepEqual(otherViewers({}, { user: 'u1' }), []);
    assert.deepEqual(otherViewers({ viewers: '[]' }, null), [], 'a list or nothing');
    assert.equal(viewerName({ user: 'u1', email: 'ada@example.com' }), 'ada@example.com');
});
