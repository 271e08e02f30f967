// The Desktop tab: the workspace's own noVNC page (the engine serves it on
// the 6080 preview) in a frame, connected at once and scaled to the tab.
// No second login: the frame's first request has no preview cookie, so
// the gateway sends it through the main domain's /auth/preview, where the
// session cookie makes a one-time ticket, and back (as for any preview).
// Opening the tab of a sleeping workspace wakes it (the gateway holds the
// frame's request while it wakes).
import { h } from 'preact';
import { useState } from 'preact/hooks';
import htm from 'htm';

const html = htm.bind(h);

export function desktopUrl(ws) {
    if (!ws.desktop_url) return null;
    return ws.desktop_url.replace(/\/?$/, '/')
        + 'vnc.html?autoconnect=1&reconnect=1&resize=scale&path=websockify';
}

export function DesktopTab({ ws }) {
    const [n, setN] = useState(0);
    const url = desktopUrl(ws);
    if (!url) return html`<section class="card"><p class="empty">This workspace has no desktop.</p></section>`;
    if (ws.state === 'failed') return html`<section class="card"><p class="form-error">The workspace failed: no desktop.</p></section>`;
    return html`<section class="card desktop">
        <div class="desktop-bar">
            <span class="status">${ws.state === 'awake' ? 'The agent\'s screen, live.' : 'The workspace is ' + ws.state + ': the desktop shows once it is awake.'}</span>
            <button onClick=${() => setN(n + 1)} data-test="desktop-reload">Reload</button>
            <a class="button" href=${url} target="_blank" rel="noopener noreferrer">Open in a new tab</a>
        </div>
        <iframe key=${n} class="desktop-frame" src=${url} title="Desktop" data-test="desktop-frame"
            allow="clipboard-read; clipboard-write"></iframe>
    </section>`;
}
