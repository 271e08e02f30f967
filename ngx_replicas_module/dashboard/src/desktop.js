// The Desktop tab (placeholder)
import { h } from 'preact';
import htm from 'htm';

const html = htm.bind(h);

export function DesktopTab({ ws }) {
    return html`<section class="card"><p><a href=${ws.desktop_url} target="_blank" rel="noopener noreferrer">Open the desktop</a></p></section>`;
}
