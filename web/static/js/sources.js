// Cited sources: the [n] marks of a rendered answer become buttons that open the cited
// passage in a side panel, and the list of sources under an answer. Answers come from a
// model and passages from uploaded documents, so both are untrusted: the answer reaches
// the DOM through markdown.js only, and marks are found in its text nodes afterwards;
// titles, URIs and passages go in as text nodes. No string of HTML is built here.

import { el } from './ui.js';
import { safeURL, highlighter, highlighted } from './notecard.js';

// "[1]", "[2, 3]" or "[2,3]": a citation mark. Numbers beyond the sources stay text.
const MARK = /\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]/g;

// Marks inside these are code or links, and stay as they are.
const SKIP = 'code, pre, a, button, .cite';

/**
 * linkCitations replaces the [n] marks in root's text with buttons (button.cite, with
 * data-n) for every n that has(n). Clicks are the caller's to handle, on root, so that
 * re-rendering a streaming answer needs no new listeners.
 * @param {Element} root rendered answer
 * @param {(n: number) => object|undefined} citation the citation numbered n, if any
 */
export function linkCitations(root, citation) {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {
    acceptNode: (node) =>
      node.parentElement?.closest(SKIP) || !node.nodeValue.includes('[') ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT,
  });
  const nodes = [];
  while (walker.nextNode()) nodes.push(walker.currentNode);
  for (const node of nodes) {
    const text = node.nodeValue;
    const parts = [];
    let last = 0;
    for (const m of text.matchAll(MARK)) {
      const ns = m[1].split(',').map((s) => Number(s.trim()));
      if (!ns.every((n) => citation(n))) continue;
      if (m.index > last) parts.push(document.createTextNode(text.slice(last, m.index)));
      parts.push(...ns.map((n) => citeButton(n, citation(n))));
      last = m.index + m[0].length;
    }
    if (!parts.length) continue;
    if (last < text.length) parts.push(document.createTextNode(text.slice(last)));
    node.replaceWith(...parts);
  }
}

function citeButton(n, c) {
  const b = el('button', 'cite', String(n));
  b.type = 'button';
  b.dataset.n = String(n);
  const page = sourcePage(c);
  const title = page ? `${sourceTitle(c)}, ${page}` : sourceTitle(c);
  b.title = title;
  b.setAttribute('aria-label', `Source ${n}: ${title}`);
  b.setAttribute('aria-controls', 'source-panel');
  b.setAttribute('aria-expanded', 'false');
  return b;
}

/** sourceTitle names a citation: its title, else the last part of its URI. */
export function sourceTitle(c) {
  const t = typeof c?.title === 'string' ? c.title.trim() : '';
  if (t) return t;
  const uri = typeof c?.uri === 'string' ? c.uri.replace(/[?#].*$/, '').replace(/\/+$/, '') : '';
  return uri.slice(uri.lastIndexOf('/') + 1) || uri || 'Untitled source';
}

/** sourcePage is "p. N" for a citation whose passage starts on page N, else "". */
export function sourcePage(c) {
  return Number.isInteger(c?.page) && c.page > 0 ? `p. ${c.page}` : '';
}

/** uriElement shows a URI: a link that opens in a new tab for http(s), else text. */
export function uriElement(uri, className = 'source-uri') {
  if (typeof uri !== 'string' || !uri) return null;
  const url = safeURL(uri);
  if (!url) return el('span', className, uri);
  const a = el('a', className, uri);
  a.href = url.href;
  a.target = '_blank';
  a.rel = 'noopener noreferrer';
  return a;
}

/**
 * sourceList returns the <ol> listing citations under an answer; each item is a button
 * that calls onOpen(n, button).
 */
export function sourceList(citations, onOpen) {
  const ol = el('ol', 'sources');
  ol.setAttribute('aria-label', 'Sources');
  for (const c of citations) {
    const li = el('li', 'source');
    const b = el('button', 'source-button');
    b.type = 'button';
    b.dataset.n = String(c.n);
    b.setAttribute('aria-controls', 'source-panel');
    b.setAttribute('aria-expanded', 'false');
    b.append(el('span', 'source-n', String(c.n)), el('span', 'source-title', sourceTitle(c)));
    const page = sourcePage(c);
    if (page) b.append(el('span', 'source-page', page));
    b.addEventListener('click', () => onOpen(c.n, b));
    li.append(b);
    const uri = uriElement(c.uri);
    if (uri && sourceTitle(c) !== c.uri) li.append(uri);
    ol.append(li);
  }
  return ol;
}

/**
 * SourcePanel is the side panel (a bottom sheet on phones) that shows one cited passage:
 * its number, title, URI and text. It is not modal: the answer stays usable, Escape or
 * Close hides the panel and the keyboard returns to the mark that opened it.
 */
export class SourcePanel {
  constructor(panel = document.getElementById('source-panel')) {
    this.panel = panel;
    this.trigger = null;
    this.label = panel.querySelector('.source-label');
    this.title = panel.querySelector('.source-heading');
    this.uri = panel.querySelector('.source-where');
    this.body = panel.querySelector('.source-text');
    panel.querySelector('.source-close').addEventListener('click', () => this.close());
    panel.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') {
        e.preventDefault();
        this.close();
      }
    });
    document.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && !this.panel.hidden && !e.defaultPrevented && !document.querySelector('dialog[open]')) this.close();
    });
  }

  get open() {
    return !this.panel.hidden;
  }

  /**
   * show opens the panel on citation c.
   * @param {object} c {n, title, uri, text}
   * @param {Element} trigger the button that asked, given the keyboard back on close
   * @param {string} query words to highlight in the passage
   */
  show(c, trigger, query = '') {
    this.setExpanded(false);
    this.trigger = trigger || null;
    this.setExpanded(true);
    this.panel.dataset.n = String(c.n);
    const page = sourcePage(c);
    this.label.textContent = page ? `Source ${c.n} · ${page}` : `Source ${c.n}`;
    this.title.textContent = sourceTitle(c);
    const uri = uriElement(c.uri);
    this.uri.replaceChildren(...(uri ? [uri] : []));
    this.uri.hidden = !uri;
    const text = typeof c.text === 'string' ? c.text : '';
    if (text) this.body.replaceChildren(...highlighted(text, highlighter(query)));
    else this.body.replaceChildren(el('span', 'muted', 'No passage text was given for this source.'));
    this.panel.hidden = false;
    this.panel.scrollTop = 0;
    this.body.scrollTop = 0;
    this.title.focus();
  }

  close() {
    if (this.panel.hidden) return;
    this.panel.hidden = true;
    this.setExpanded(false);
    const back = this.trigger;
    this.trigger = null;
    if (back?.isConnected) back.focus();
  }

  setExpanded(on) {
    this.trigger?.setAttribute('aria-expanded', String(on));
    this.trigger?.classList.toggle('active', on);
  }
}

// ---- the Bedrock shapes of the workshop routes ------------------------------------------

/**
 * locationURI reads the address out of a Bedrock RetrievalResultLocation ({type,
 * s3Location: {uri}, webLocation: {url}, …}), or "" when it has none.
 */
export function locationURI(loc) {
  if (!loc || typeof loc !== 'object') return typeof loc === 'string' ? loc : '';
  for (const [key, field] of [
    ['s3Location', 'uri'],
    ['webLocation', 'url'],
    ['confluenceLocation', 'url'],
    ['salesforceLocation', 'url'],
    ['sharePointLocation', 'url'],
    ['kendraDocumentLocation', 'uri'],
    ['customDocumentLocation', 'id'],
  ]) {
    const v = loc[key]?.[field];
    if (typeof v === 'string' && v) return v;
  }
  for (const field of ['uri', 'url', 'id']) {
    if (typeof loc[field] === 'string' && loc[field]) return loc[field];
  }
  return '';
}

/** metaTitle returns a title from a Bedrock result's metadata, or "". */
export function metaTitle(meta) {
  if (!meta || typeof meta !== 'object') return '';
  for (const k of ['title', 'Title', 'x-amz-bedrock-kb-title', 'document_title']) {
    if (typeof meta[k] === 'string' && meta[k].trim()) return meta[k].trim();
  }
  return '';
}
