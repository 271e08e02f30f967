// The Stats page (/stats, ?days=7|14|30|90): GET /v1/stats. The headline
// is the share of the workspaces started in the range whose pull request
// was merged; then the people prompting in the last 5 minutes and the
// agents working now; then per day (UTC) the workspaces started, merged,
// tokens and cost as plain CSS bars. Asked again when the org event
// stream changes something (the `data` the app folds) and every 30 s.
import { h } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import htm from 'htm';
import { api } from './api.js';
import { RANGES, REFRESH_MIN_MS, REFRESH_MAX_MS, daysFromQuery, daysToQuery, percent,
         compact, money, bars, dayLabel, personName } from './statslogic.js';

const html = htm.bind(h);

function Bars({ days, field, format, label }) {
    const widths = bars(days, field);
    return html`<section class="card stats-days" data-test=${'days-' + field}>
        <h2>${label}</h2>
        <ol class="bars">${days.map((d, i) => html`<li key=${d.day} data-day=${d.day}>
            <span class="bar-day">${dayLabel(d.day)}</span>
            <span class="bar-track"><span class="bar" style=${{ width: widths[i] + '%' }}></span></span>
            <span class="bar-value">${format(d[field])}</span>
        </li>`)}</ol>
    </section>`;
}

export function StatsPage({ query, data, navigate }) {
    const days = daysFromQuery(query);
    const [stats, setStats] = useState(null);
    const [error, setError] = useState(null);
    const last = useRef(0);
    const timer = useRef(null);

    const load = async () => {
        last.current = Date.now();
        try {
            setStats(await api('GET', '/v1/stats?days=' + days));
            setError(null);
        } catch (e) {
            setError(e);     // the last figures stay shown under it
        }
    };
    // the range changed: at once (the other range's figures gone, not
    // shown under this one's name); every REFRESH_MAX_MS after
    useEffect(() => {
        setStats(null);
        load();
        const t = setInterval(load, REFRESH_MAX_MS);
        return () => { clearInterval(t); clearTimeout(timer.current); };
    }, [days]);
    // a workspace changed (the org event stream): soon, at most so often
    useEffect(() => {
        if (!last.current) return;
        clearTimeout(timer.current);
        timer.current = setTimeout(load, Math.max(0, last.current + REFRESH_MIN_MS - Date.now()));
    }, [data]);

    const share = stats && stats.merged_share;
    const t = stats && stats.totals;
    return html`<main class="stats">
        <div class="list-head">
            <h1>Stats</h1>
            <nav class="views" aria-label="Range">
                ${RANGES.map((n) => html`<button class=${n === days ? 'on' : ''} data-days=${n}
                    onClick=${() => navigate('/stats' + daysToQuery(n), true)}>${n} days</button>`)}
            </nav>
        </div>
        ${error && html`<div class="banner" role="alert" data-test="stats-error">
            <strong>The stats could not be loaded.</strong>${' '}${error.message}${' '}<button onClick=${load}>Retry</button></div>`}
        ${!stats ? (!error && html`<p class="loading">Loading…</p>`) : html`
        <section class="card headline" data-test="headline">
            <div class="big" data-test="merged-share">${percent(share.of_with_pr)}</div>
            <div class="what">of the workspaces with a pull request had it merged${' '}
                <span class="range">(${dayLabel(stats.from)} – ${dayLabel(stats.to)}, UTC)</span></div>
            <div class="sub" data-test="merged-counts">${t.merged} merged of ${t.with_pr} with a pull request;
                ${' '}${percent(share.of_started)} of the ${t.started} started</div>
        </section>
        <div class="stats-now">
            <section class="card now" data-test="prompting">
                <div class="big">${stats.prompting.count}</div>
                <div class="what">${stats.prompting.count === 1 ? 'person' : 'people'} prompting (last 5 minutes)</div>
                <ul class="who-list">${stats.prompting.users.map((p) => html`<li key=${p.user}>${personName(p)}</li>`)}</ul>
            </section>
            <section class="card now" data-test="working">
                <div class="big">${stats.working.count}</div>
                <div class="what">${stats.working.count === 1 ? 'agent' : 'agents'} working now</div>
                <ul class="who-list">${stats.working.workspaces.map((w) => html`<li key=${w.id}>
                    <a href=${'/w/' + w.id}>${w.name || w.id}</a></li>`)}</ul>
            </section>
            <section class="card now" data-test="spent">
                <div class="big">${money(t.cost_usd)}</div>
                <div class="what">spent on ${compact(t.tokens_in)} tokens in, ${compact(t.tokens_out)} out
                    (${t.turns} ${t.turns === 1 ? 'turn' : 'turns'})</div>
            </section>
        </div>
        <div class="stats-grid">
            <${Bars} days=${stats.days} field="started" label="Workspaces started" format=${String} />
            <${Bars} days=${stats.days} field="merged" label="Merged pull requests (by the day the workspace started)" format=${String} />
            <${Bars} days=${stats.days} field="tokens_in" label="Tokens in" format=${compact} />
            <${Bars} days=${stats.days} field="tokens_out" label="Tokens out" format=${compact} />
            <${Bars} days=${stats.days} field="cost_usd" label="Cost" format=${money} />
        </div>`}
    </main>`;
}
