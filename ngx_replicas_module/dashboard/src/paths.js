// File paths in the agent's words, pure (unit-tested in
// test/paths.test.mjs): which words of a text look like a path of the
// repository (`src/app.js`, `README.md`, `src/app.js:12`), the folders to
// list to know whether they exist, and the Files tab's URL for one that
// does. markdown.js applies it to the text of the sanitised DOM; no
// markdown is parsed here.

// a path: relative, segments of letters, digits and ._@+- (no "." or ".."
// segment), with an optional :line[:column]; without a slash it needs an
// extension that starts with a letter (README.md, not "1.2" or "e.g")
const PATH = /^((?:[\w@+-][\w.@+-]*\/)*[\w@+-][\w.@+-]*)(?::(\d{1,7})(?::\d{1,7})?)?$/;
const EXT = /\.[A-Za-z][A-Za-z0-9]{0,9}$/;
const PATH_MAX = 4096;

// what may surround a path in prose: brackets, quotes, and a sentence's
// punctuation after it
const LEAD = /^[([{<"'`]+/;
const TRAIL = /[)\]}>"'`,;:.!?]+$/;

// word -> {path, line} or null
export function parsePath(word) {
    let w = String(word);
    if (w.length > PATH_MAX || w.includes('://')) return null;
    if (w.startsWith('./')) w = w.slice(2);
    const m = PATH.exec(w);
    if (!m) return null;
    const path = m[1];
    const segs = path.split('/');
    if (segs.some((s) => s === '.' || s === '..' || /^\.+$/.test(s))) return null;
    if (segs.length === 1 && !EXT.test(path)) return null;
    return { path, line: m[2] ? Number(m[2]) : null };
}

// a text cut into pieces: {text} as it was, or {text, path, line, found}
// for a word that parsePath takes and known(path) says exists (found: what
// known returned); the pieces' texts joined are the text again
export function splitPaths(text, known) {
    const out = [];
    let plain = '';
    // words are what lies between spaces; the surroundings stay text
    for (const part of String(text).split(/(\s+)/)) {
        const lead = (LEAD.exec(part) || [''])[0];
        const rest = part.slice(lead.length);
        const trail = (TRAIL.exec(rest) || [''])[0];
        const core = rest.slice(0, rest.length - trail.length);
        // "src/app.js:12:" or "src/app.js:12." keeps its line
        const p = core && parsePath(core);
        const found = p && known(p.path);
        if (found) {
            if (plain + lead) out.push({ text: plain + lead });
            out.push({ text: core, path: p.path, line: p.line, found });
            plain = trail;
        } else {
            plain += part;
        }
    }
    if (plain) out.push({ text: plain });
    return out;
}

// the words of a text that may be paths (for the folders to list)
export function pathCandidates(text) {
    const seen = new Set();
    for (const part of String(text).split(/\s+/)) {
        const rest = part.replace(LEAD, '');
        const p = parsePath(rest.replace(TRAIL, ''));
        if (p) seen.add(p.path);
    }
    return [...seen];
}

// a path's folder, '' for the repository's top
export function parentDir(path) {
    const i = path.lastIndexOf('/');
    return i < 0 ? '' : path.slice(0, i);
}

// the Files tab's URL (src/files.js: repo, the folder shown, the file)
export function filesHref(id, repo, path) {
    const q = new URLSearchParams();
    q.set('repo', repo);
    const dir = parentDir(path);
    if (dir) q.set('path', dir);
    q.set('file', path);
    return '/w/' + encodeURIComponent(id) + '/files?' + q.toString();
}

// the repository a path is in, given each repository's known paths
// ({repo: Set of paths}), the first (the agent's own) first; a path may
// also start with its repository's name (several repositories)
export function resolvePath(path, repos) {
    for (const [repo, paths] of repos) {
        if (paths.has(path)) return { repo, path };
    }
    const i = path.indexOf('/');
    if (i > 0) {
        for (const [repo, paths] of repos) {
            if (path.slice(0, i) === repo && paths.has(path.slice(i + 1))) {
                return { repo, path: path.slice(i + 1) };
            }
        }
    }
    return null;
}
