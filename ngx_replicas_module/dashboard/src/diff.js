// The Diff tab (placeholder until the engine's diff is reachable through the API)
import { h } from 'preact';
import htm from 'htm';

const html = htm.bind(h);

export function DiffTab() {
    return html`<section class="card"><p class="empty">The diff view is not available yet.</p></section>`;
}
