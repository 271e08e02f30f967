// The agent's words are untrusted: markdown rendered by marked with any
// raw HTML in it shown as text (never parsed as HTML: an <img onerror>
// would otherwise fire while being parsed), then sanitised by DOMPurify
// (no script, no handler, no javascript: URL) before it becomes HTML. The
// page's CSP is the third fence.
import { Marked } from 'marked';
import DOMPurify from 'dompurify';

const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escape = (s) => String(s).replace(/[&<>"']/g, (c) => ESC[c]);

const marked = new Marked({
    gfm: true,
    breaks: true,
    renderer: {
        html(token) { return escape(token.text !== undefined ? token.text : token.raw); },
    },
});

DOMPurify.addHook('afterSanitizeAttributes', (node) => {
    if (node.tagName === 'A') {
        node.setAttribute('target', '_blank');
        node.setAttribute('rel', 'noopener noreferrer');
    }
});

export function renderMarkdown(text) {
    const raw = marked.parse(String(text || ''), { async: false });
    return DOMPurify.sanitize(raw, { USE_PROFILES: { html: true }, FORBID_TAGS: ['style', 'form'] });
}
