// Warm while typing: once the New workspace form's repository looks like
// one (warm.js), after a pause in typing, on change or blur, or when a
// suggestion is picked, POST /v1/prewarm {repository, environment,
// agent}; control builds its image and puts a warm sandbox in its pool, so
// the submit's create claims it. While it warms the same call is asked
// again (the API answers from its one-minute dedupe, no second job) until
// ready or failed. A failure, or a refused call, is said quietly and never
// blocks the submit.
import { h } from 'preact';
import { useEffect, useRef, useState, useCallback } from 'preact/hooks';
import htm from 'htm';
import { api } from './api.js';
import { repositoryReady, warmLabel, warmPollDelay, WARM_TYPING_MS } from './warm.js';

const html = htm.bind(h);

// { status, reason } for the form's repository, and now(): ask at once
export function usePrewarm(repository, environment, agent) {
    const [warm, setWarm] = useState(null);
    const asked = useRef('');        // the repository+environment asked for
    const timer = useRef(null);
    const want = (repository || '').trim();
    const key = want + '\n' + (environment || '');

    const stop = () => { clearTimeout(timer.current); timer.current = null; };

    const ask = useCallback((k, body, attempt) => {
        api('POST', '/v1/prewarm', body).then((r) => {
            if (asked.current !== k) return;        // the field moved on
            setWarm({ status: r.status, reason: r.reason });
            const wait = r.status === 'warming' ? warmPollDelay(attempt) : null;
            if (wait !== null) timer.current = setTimeout(() => ask(k, body, attempt + 1), wait);
        }, (err) => {
            if (asked.current !== k) return;
            setWarm({ status: 'failed', reason: err.message });
        });
    }, []);

    const now = useCallback(() => {
        if (!repositoryReady(want) || asked.current === key) return;
        stop();
        asked.current = key;
        setWarm({ status: 'warming' });
        const body = { repository: want, agent };
        if (environment) body.environment = environment;
        ask(key, body, 0);
    }, [key, agent]);

    // a pause in typing; a changed field forgets the last answer
    useEffect(() => {
        if (asked.current !== key) {
            stop();
            if (asked.current) { asked.current = ''; setWarm(null); }
        }
        const t = setTimeout(now, WARM_TYPING_MS);
        return () => clearTimeout(t);
    }, [key]);

    useEffect(() => stop, []);

    return { ...(warm || {}), now };
}

export function PrewarmStatus({ warm }) {
    const label = warmLabel(warm);
    if (!label) return null;
    return html`<p class=${'warm warm-' + label.kind} data-test="prewarm" data-status=${label.kind}
        role="status" aria-live="polite">${label.text}</p>`;
}
