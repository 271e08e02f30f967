// The Stats page's pure logic (src/stats.js draws it), unit-tested in
// test/stats.test.mjs: the range in the URL, shares as percentages, the
// days' bars as widths, token counts and money in few characters.

export const RANGES = [7, 14, 30, 90];
export const DEFAULT_DAYS = 14;
// the page asks again at most this often (the org event stream's changes
// come in bursts) and at least this often (tokens and prompters change
// without a workspace changing)
export const REFRESH_MIN_MS = 2000;
export const REFRESH_MAX_MS = 30000;

// ?days=N of the page's URL: one of RANGES, else the default
export function daysFromQuery(query) {
    const n = Number(new URLSearchParams(query || '').get('days'));
    return RANGES.includes(n) ? n : DEFAULT_DAYS;
}

export function daysToQuery(days) {
    return days === DEFAULT_DAYS ? '' : '?days=' + days;
}

// a share (0..1, or null when nothing to divide by) as "42%"; "—" for none
export function percent(share) {
    if (share === null || share === undefined || !Number.isFinite(share)) return '—';
    const p = share * 100;
    return (p > 0 && p < 1 ? '<1' : String(Math.round(p))) + '%';
}

// 1234 -> "1.2k", 3400000 -> "3.4M"
export function compact(n) {
    n = Number(n) || 0;
    if (Math.abs(n) < 1000) return String(Math.round(n));
    if (Math.abs(n) < 1e6) return (n / 1e3).toFixed(n < 1e4 ? 1 : 0).replace(/\.0$/, '') + 'k';
    if (Math.abs(n) < 1e9) return (n / 1e6).toFixed(n < 1e7 ? 1 : 0).replace(/\.0$/, '') + 'M';
    return (n / 1e9).toFixed(1).replace(/\.0$/, '') + 'B';
}

// dollars: cents under $100, whole dollars over; a cost under a cent
// that is not 0 is "<$0.01"
export function money(usd) {
    usd = Number(usd) || 0;
    if (usd === 0) return '$0';
    if (usd < 0.01) return '<$0.01';
    if (usd < 100) return '$' + usd.toFixed(2);
    return '$' + Math.round(usd).toLocaleString('en-US');
}

// each day's value of field as a share of the largest (0..100, for a CSS
// width); all 0 when every day is 0
export function bars(days, field) {
    const values = (days || []).map((d) => Number(d[field]) || 0);
    const max = Math.max(0, ...values);
    return values.map((v) => (max > 0 ? Math.round((v / max) * 1000) / 10 : 0));
}

// "2026-12-04" -> "Dec 4" (UTC: the days are UTC days)
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
export function dayLabel(day) {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day || '');
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 12) return day || '';
    return MONTHS[Number(m[2]) - 1] + ' ' + Number(m[3]);
}

// who is prompting, for people: their name, else email, else id
export function personName(p) {
    return (p && (p.name || p.email || p.user)) || 'someone';
}
