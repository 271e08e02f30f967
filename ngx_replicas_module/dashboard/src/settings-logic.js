// The Settings page's pure logic (src/settings.js draws it): its URLs,
// what a role is offered, the names the API takes, sizes and times as a
// person reads them. Unit-tested in test/settings.test.mjs.

export const SECTIONS = [['environments', 'Environments'], ['keys', 'API keys'], ['members', 'Members']];

// /settings, /settings/<section>, /settings/environments/<name>: the
// section and the environment shown (null: the list); anything else null
export function settingsRoute(path) {
    const m = path.replace(/\/+$/, '').match(/^\/settings(?:\/(environments|keys|members)(?:\/([^/]+))?)?$/);
    if (!m) return null;
    const section = m[1] || 'environments';
    if (m[2] !== undefined && section !== 'environments') return null;
    let env = null;
    if (m[2] !== undefined) {
        try { env = decodeURIComponent(m[2]); } catch (e) { return null; }
        if (!envNameOk(env)) return null;
    }
    return { section, env };
}

export function settingsPath(section, env) {
    return '/settings/' + section + (env ? '/' + encodeURIComponent(env) : '');
}

// the API's grammars (common/rp_env.h), checked here to say so before
// asking; the API checks them again
export const envNameOk = (s) => /^[a-z0-9][a-z0-9_-]{0,63}$/.test(s);
export const varNameOk = (s) => /^[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(s);
export function filePathOk(p) {
    if (!p || p.length > 255 || p.startsWith('/') || /[\x00-\x1f\x7f]/.test(p)) return false;
    return p.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}
export const emailOk = (s) => /^[^\s@"<>,\\]+@[^\s@"<>,\\]+\.[^\s@"<>,\\.]+$/.test(s) && s.length <= 254;

// what each role is offered (lua/api.lua's table of roles decides; this
// only keeps a member from being shown buttons that would answer 403)
export function offered(role) {
    const admin = role === 'admin';
    return {
        envWrite: admin,          // create, set, remove, delete
        keyForOthers: admin,      // a key for another user; the org's keys
        members: admin,           // the list, add a user
        linkForOthers: admin,     // a login link for another user
    };
}

// bytes as a person reads them: 0 B, 512 B, 1.5 KiB, 2 MiB
export function formatBytes(n) {
    if (typeof n !== 'number' || !isFinite(n) || n < 0) return '';
    if (n < 1024) return n + ' B';
    const units = ['KiB', 'MiB', 'GiB'];
    let v = n / 1024, i = 0;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return (v >= 10 ? Math.round(v) : Math.round(v * 10) / 10) + ' ' + units[i];
}

// a unix time as "3 min ago" (null or 0: "never")
export function ago(ts, now) {
    if (!ts) return 'never';
    const s = Math.max(0, Math.floor(now - ts));
    if (s < 60) return 'just now';
    if (s < 3600) return Math.floor(s / 60) + ' min ago';
    if (s < 86400) return Math.floor(s / 3600) + ' h ago';
    return Math.floor(s / 86400) + ' d ago';
}

// who an environment is usable by, in words
export function usableText(u, usersById) {
    if (u === undefined || u === null) return 'every workspace (Global)';
    if (u === 'all') return 'everyone in the organisation';
    if (!Array.isArray(u) || u.length === 0) return 'admins only';
    return u.map((id) => (usersById && usersById[id] && usersById[id].email) || id).join(', ');
}
