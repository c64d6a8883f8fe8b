// Safe Markdown rendering of model output.
//
// Model text is untrusted. Three layers keep it from injecting markup or script:
//  1. marked renders raw HTML in the text as escaped text, never as HTML;
//  2. DOMPurify sanitises marked's output anyway, straight into a DocumentFragment, so
//     no unsanitised string is ever parsed by the page;
//  3. the server's Content-Security-Policy forbids inline script and foreign origins.

import { Marked, DOMPurify, hljs } from './vendor.js';

const escapes = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHTML = (s) => String(s).replace(/[&<>"']/g, (c) => escapes[c]);

// Highlighting a finished code block again on every streamed frame is wasted work.
const highlightCache = new Map();
const CACHE_SIZE = 64;
// Guessing a block's language tries every grammar, so only finished answers get it.
const AUTO_DETECT_LIMIT = 20000;

function highlight(code, lang, final) {
  const cacheKey = lang + '\u0000' + (final ? 1 : 0) + code;
  const hit = highlightCache.get(cacheKey);
  if (hit) return hit;
  let out;
  if (lang && hljs.getLanguage(lang)) {
    out = { html: hljs.highlight(code, { language: lang, ignoreIllegals: true }).value, lang };
  } else if (final && code.length <= AUTO_DETECT_LIMIT) {
    const r = hljs.highlightAuto(code);
    out = { html: r.value, lang: r.language || '' };
  } else {
    out = { html: escapeHTML(code), lang: '' };
  }
  if (highlightCache.size >= CACHE_SIZE) highlightCache.delete(highlightCache.keys().next().value);
  highlightCache.set(cacheKey, out);
  return out;
}

function newMarked(final) {
  return new Marked({
    gfm: true,
    breaks: false,
    renderer: {
      // Raw HTML, block or inline, is shown as the text it is.
      html(token) {
        return escapeHTML(token.raw ?? token.text ?? '');
      },
      code(token) {
        const lang = (token.lang || '').trim().split(/\s+/)[0].toLowerCase();
        const h = highlight(token.text.replace(/\n$/, ''), lang, final);
        const cls = h.lang ? ' language-' + escapeHTML(h.lang) : '';
        return `<pre><code class="hljs${cls}">${h.html}</code></pre>\n`;
      },
      // Pictures are links: the CSP would block foreign images, and a model's picture
      // should not load anything without a click.
      image(token) {
        const label = token.text || token.href;
        return `<a href="${escapeHTML(token.href)}">${escapeHTML(label)}</a>`;
      },
    },
  });
}

const streaming = newMarked(false);
const finished = newMarked(true);

DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A' && node.hasAttribute('href')) {
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer nofollow');
  }
});

const purifyConfig = {
  USE_PROFILES: { html: true },
  FORBID_TAGS: ['style', 'form', 'img', 'svg', 'math', 'iframe', 'object', 'embed', 'video', 'audio', 'source'],
  FORBID_ATTR: ['style', 'id', 'name'],
  RETURN_DOM_FRAGMENT: true,
};

/**
 * renderMarkdown replaces el's children with text rendered as sanitised Markdown.
 * final marks a complete answer: code blocks get language detection and Copy buttons.
 */
export function renderMarkdown(el, text, { final = true } = {}) {
  const html = (final ? finished : streaming).parse(text, { async: false });
  el.replaceChildren(DOMPurify.sanitize(html, purifyConfig));
  if (final) addCodeToolbars(el);
}

function addCodeToolbars(el) {
  for (const pre of el.querySelectorAll('pre')) {
    const code = pre.querySelector('code');
    if (!code) continue;
    const bar = document.createElement('div');
    bar.className = 'code-bar';
    const lang = document.createElement('span');
    lang.textContent = [...code.classList].find((c) => c.startsWith('language-'))?.slice(9) || 'text';
    const copy = document.createElement('button');
    copy.type = 'button';
    copy.className = 'link-button';
    copy.textContent = 'Copy code';
    copy.addEventListener('click', () => copyWithFeedback(copy, code.textContent));
    bar.append(lang, copy);
    const wrap = document.createElement('div');
    wrap.className = 'code-block';
    pre.replaceWith(wrap);
    wrap.append(bar, pre);
  }
}

/**
 * copyText copies text to the clipboard. The Clipboard API needs a secure context
 * (https or localhost); on plain http elsewhere the old execCommand way still works.
 */
export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const ta = document.createElement('textarea');
  ta.value = text;
  ta.setAttribute('readonly', '');
  ta.className = 'offscreen';
  document.body.append(ta);
  ta.select();
  const ok = document.execCommand('copy');
  ta.remove();
  if (!ok) throw new Error('copy failed');
}

/** copyWithFeedback copies text and says so on the button for a moment. */
export async function copyWithFeedback(button, text) {
  const label = button.textContent;
  try {
    await copyText(text);
    button.textContent = 'Copied';
  } catch {
    button.textContent = 'Copy failed';
  }
  setTimeout(() => {
    button.textContent = label;
  }, 1500);
}

/**
 * MarkdownView renders a growing text into el at most once per animation frame, so a
 * fast stream of small deltas does not re-parse the whole answer for each one.
 */
export class MarkdownView {
  constructor(el) {
    this.el = el;
    this.text = '';
    this.scheduled = null;
    this.onRender = null;
  }

  set(text) {
    this.text = text;
    if (this.scheduled) return;
    // Hidden tabs get no animation frames; keep rendering, slowly.
    const run = () => {
      if (this.scheduled !== run) return; // finish() came first
      this.scheduled = null;
      renderMarkdown(this.el, this.text, { final: false });
      this.onRender?.();
    };
    this.scheduled = run;
    if (document.hidden) setTimeout(run, 250);
    else requestAnimationFrame(run);
  }

  /** finish renders the complete text now. */
  finish(text = this.text) {
    this.text = text;
    this.scheduled = null;
    renderMarkdown(this.el, text, { final: true });
    this.onRender?.();
  }
}
