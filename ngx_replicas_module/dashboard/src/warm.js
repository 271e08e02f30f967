// Warm while typing, the pure part (unit-tested in test/warm.test.mjs):
// whether the New workspace form's repository field holds something worth
// a prewarm (POST /v1/prewarm), when to ask again while it warms, and what
// the form says. prewarm.js does the asking.

// a repository as the API takes one: a URL (https, http, git, ssh, file)
// with a host and a path, or an absolute path; no spaces, no credentials
// in the URL (the API refuses them), at most 512 characters. A half-typed
// URL ("https://gith") has no path yet: nothing is warmed for it.
export function repositoryReady(value) {
    const s = (value || '').trim();
    if (s.length < 2 || s.length > 512 || /\s/.test(s)) return false;
    if (s.startsWith('/')) return true;
    const m = /^(https?|git|ssh|file):\/\/([^/]*)(\/.*)?$/i.exec(s);
    if (!m) return false;
    const [, scheme, host, path] = m;
    if (host.includes('@') || !path || path.length < 2) return false;
    return scheme.toLowerCase() === 'file' ? host === '' : host.length > 0;
}

// what the form's status line says for a prewarm's answer (the API's
// status: warming, ready, failed; or an error of the call itself)
export function warmLabel(warm) {
    if (!warm || !warm.status) return null;
    if (warm.status === 'warming') return { kind: 'warming', text: 'Preparing…' };
    if (warm.status === 'ready') return { kind: 'ready', text: 'Ready: starts instantly' };
    const why = warm.reason ? ': ' + warm.reason : '';
    return { kind: 'failed', text: 'Not prepared ahead' + why + ' (it still starts)' };
}

// the wait before asking again while it warms (an image build takes a
// while): 1 s, 2 s, then every 3 s; null once it has been long enough
// (the dedupe window is a minute: later asks would start another job)
export const WARM_POLLS_MAX = 40;
export function warmPollDelay(attempt) {
    if (attempt >= WARM_POLLS_MAX) return null;
    return Math.min(3000, 1000 * (attempt + 1));
}

// debounce of typing, in ms: a pause this long asks
export const WARM_TYPING_MS = 700;
