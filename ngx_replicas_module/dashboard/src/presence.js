// Presence: who else has a workspace's page open. While the page is open
// it says so (POST /v1/workspaces/{id}/presence at once and every 20 s;
// the API forgets a viewer after 45 s without one), and says it left
// (DELETE) when the page is left or closed. Who is there comes back as
// the workspace's `viewers`, live over the org event stream like any of
// its changes. Presence neither wakes a sleeping workspace nor keeps an
// awake one from sleeping.
import { h } from 'preact';
import { useEffect } from 'preact/hooks';
import htm from 'htm';
import { api } from './api.js';
import { otherViewers, viewerName } from './logic.js';

const html = htm.bind(h);
const PRESENCE_MS = 20000;

export function usePresence(id, on) {
    useEffect(() => {
        if (!on) return undefined;
        const url = '/v1/workspaces/' + id + '/presence';
        // a refusal (a workspace gone, a session ended) changes nothing
        // on the page: its other calls say it
        const here = () => { api('POST', url, {}).catch(() => {}); };
        const leave = () => {
            fetch(url, { method: 'DELETE', credentials: 'same-origin', keepalive: true }).catch(() => {});
        };
        const back = () => { if (document.visibilityState === 'visible') here(); };
        here();
        const t = setInterval(here, PRESENCE_MS);
        window.addEventListener('pagehide', leave);
        window.addEventListener('pageshow', back);
        return () => {
            clearInterval(t);
            window.removeEventListener('pagehide', leave);
            window.removeEventListener('pageshow', back);
            leave();
        };
    }, [id, on]);
}

// "Also here: Ada, Grace": the others viewing now (not oneself)
export function AlsoHere({ ws, me }) {
    const others = otherViewers(ws, me);
    if (others.length === 0) return null;
    return html`<p class="also-here" data-test="also-here">Also here:${' '}
        ${others.map((v, i) => html`${i ? ', ' : ''}<span class="viewer" title=${v.email || v.user}>${viewerName(v)}</span>`)}</p>`;
}
