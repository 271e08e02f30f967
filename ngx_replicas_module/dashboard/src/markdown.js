// The agent's words are untrusted: markdown rendered by marked with any
// raw HTML in it shown as text (never parsed as HTML: an <img onerror>
// would otherwise fire while being parsed), then sanitised by DOMPurify
// (no script, no handler, no javascript: URL) before it becomes HTML. The
// page's CSP is the third fence. File paths of the workspace's
// repositories are then made links to the Files tab, in the sanitised DOM
// (its text nodes: nothing is parsed again).
import { Marked } from 'marked';
import DOMPurify from 'dompurify';
import { splitPaths } from './paths.js';

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

const PURIFY = { USE_PROFILES: { html: true }, FORBID_TAGS: ['style', 'form'] };

// a link to the Files tab: our own URL (paths.js's filesHref), the path as
// text; no target, so the page's click handler opens it in place
function fileLink(doc, href, piece) {
    const a = doc.createElement('a');
    a.setAttribute('href', href);
    a.setAttribute('class', 'file-link');
    a.setAttribute('data-path', piece.path);
    a.setAttribute('title', 'Open ' + piece.path + (piece.line ? ' (line ' + piece.line + ')' : '') + ' in Files');
    return a;
}

// every text node outside links and code blocks whose words resolve(path)
// knows: an inline code that is only a path becomes a link around it,
// other words are cut out of their text as links
function linkPaths(root, resolve) {
    const doc = root.ownerDocument;
    const walker = doc.createTreeWalker(root, 4 /* NodeFilter.SHOW_TEXT */);
    const nodes = [];
    while (walker.nextNode()) nodes.push(walker.currentNode);
    for (const t of nodes) {
        const parent = t.parentElement;
        if (!parent || parent.closest('a, pre')) continue;
        const pieces = splitPaths(t.data, resolve);
        if (!pieces.some((p) => p.found)) continue;
        if (parent.tagName === 'CODE' && parent.childNodes.length === 1 && pieces.length === 1) {
            const a = fileLink(doc, pieces[0].found, pieces[0]);
            parent.replaceWith(a);
            a.appendChild(parent);
            continue;
        }
        const frag = doc.createDocumentFragment();
        for (const p of pieces) {
            if (!p.found) { frag.appendChild(doc.createTextNode(p.text)); continue; }
            const a = fileLink(doc, p.found, p);
            a.textContent = p.text;
            frag.appendChild(a);
        }
        t.replaceWith(frag);
    }
}

// resolve: optional, (path) -> the Files tab's URL of an existing path, or
// null (filelinks.js)
export function renderMarkdown(text, resolve) {
    const raw = marked.parse(String(text || ''), { async: false });
    if (!resolve) return DOMPurify.sanitize(raw, PURIFY);
    const frag = DOMPurify.sanitize(raw, { ...PURIFY, RETURN_DOM_FRAGMENT: true });
    linkPaths(frag, resolve);
    const box = frag.ownerDocument.createElement('div');
    box.appendChild(frag);
    return box.innerHTML;
}
