// The engine health banner of a workspace's page. While the page is
// open and the workspace awake, its engine is asked at once, every 15 s,
// whenever a proxied call to it or the chat's event stream fails
// (ENGINE_TROUBLE), and on Retry: GET /v1/workspaces/{id}/engine (the
// engine's /healthz through the gateway; never a wake, never activity).
// healthcheck.js classifies the answer; a failure shows "The workspace's
// engine is not answering (<reason>)." with what happened and Retry, and
// goes away once the engine answers. A sleeping workspace is not asked.
import { h } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import htm from 'htm';
import { loginUrl } from './api.js';
import { classifyEngine, engineBannerText, engineDetail, ENGINE_DEADLINE_MS, ENGINE_CHECK_MS,
         ENGINE_TRIGGER_MS, ENGINE_TROUBLE } from './healthcheck.js';

const html = htm.bind(h);

// one check: its outcome for classifyEngine (fetch itself, not api.js:
// the status, the content type and the deadline are what is judged)
async function askEngine(id) {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), ENGINE_DEADLINE_MS);
    try {
        const res = await fetch('/v1/workspaces/' + id + '/engine',
            { credentials: 'same-origin', cache: 'no-store', signal: ctl.signal });
        if (res.status === 401) {
            window.location.assign(loginUrl(window.location));
        }
        const text = await res.text();       // under the deadline too
        let json;
        try { json = JSON.parse(text); } catch (e) { json = undefined; }
        return { status: res.status, contentType: res.headers.get('Content-Type'), json };
    } catch (e) {
        if (ctl.signal.aborted) return { timedOut: true };
        return { failed: e && e.message ? e.message : String(e) };
    } finally {
        clearTimeout(timer);
    }
}

// { verdict (healthcheck.js's, or null before the first answer),
//   checking, retry }
export function useEngineHealth(id, awake) {
    const [verdict, setVerdict] = useState(null);
    const [checking, setChecking] = useState(false);
    const run = useRef(null);
    useEffect(() => {
        setVerdict(null);
        if (!awake) { run.current = null; return undefined; }
        let live = true, busy = false, last = 0;
        const check = async () => {
            if (busy || !live) return;
            busy = true;
            last = Date.now();
            setChecking(true);
            const v = classifyEngine(await askEngine(id));
            busy = false;
            if (!live) return;
            setChecking(false);
            setVerdict(v);
        };
        const trouble = (e) => {
            if (e.detail === id && Date.now() - last >= ENGINE_TRIGGER_MS) check();
        };
        run.current = check;
        check();
        // a tab in the background is not checked (the next visible one is)
        const t = setInterval(() => { if (document.visibilityState !== 'hidden') check(); }, ENGINE_CHECK_MS);
        window.addEventListener(ENGINE_TROUBLE, trouble);
        return () => {
            live = false;
            clearInterval(t);
            window.removeEventListener(ENGINE_TROUBLE, trouble);
        };
    }, [id, awake]);
    return { verdict, checking, retry: () => { if (run.current) run.current(); } };
}

// a call to workspace id's engine failed (api.js, the chat's stream)
export function engineTrouble(id) {
    window.dispatchEvent(new CustomEvent(ENGINE_TROUBLE, { detail: id }));
}

export function EngineBanner({ health }) {
    const v = health.verdict;
    if (!v || v.state !== 'down') return null;
    return html`<div class="banner engine-banner" role="alert" data-test="engine-banner"
        data-reason=${v.reason} data-status=${v.status || ''}>
        <strong>${engineBannerText(v)}</strong>${' '}<span class="detail">${engineDetail(v)}</span>
        <button onClick=${health.retry} disabled=${health.checking} data-test="engine-retry">${health.checking ? 'Checking…' : 'Retry'}</button>
    </div>`;
}
