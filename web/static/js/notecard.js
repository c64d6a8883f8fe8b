// Rendering of notes and search hits, shared by the Notes page and the workshop's query
// page. Notes are stored user text: every piece goes into the DOM as a text node. Query
// words are highlighted by splitting the text and wrapping the matching pieces in <mark>
// elements, never by assembling HTML.

import { el } from './ui.js';

// Words too common to be worth highlighting when the query has others.
const STOPWORDS = new Set(
  'a an and are as at be by for from has have how i in is it its of on or that the this to was what when where which who why with'.split(' '),
);

/**
 * highlighter returns a RegExp that matches the query's words at the start of a word,
 * case-insensitively, with one capture group (so String.split keeps the matches), or
 * null when the query has no words.
 */
export function highlighter(query) {
  const words = [...new Set((query || '').toLowerCase().match(/[\p{L}\p{N}]+/gu) || [])];
  let terms = words.filter((w) => !STOPWORDS.has(w) && (w.length > 1 || /\P{ASCII}/u.test(w)));
  if (!terms.length) terms = words;
  if (!terms.length) return null;
  terms.sort((a, b) => b.length - a.length); // the longest alternative wins
  const escaped = terms.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp('(?<![\\p{L}\\p{N}])(' + escaped.join('|') + ')', 'giu');
}

/** highlighted returns text as nodes: plain text nodes, and <mark> around what re matches. */
export function highlighted(text, re) {
  if (!re) return [document.createTextNode(text)];
  return text
    .split(re)
    .map((piece, i) => (i % 2 ? el('mark', null, piece) : document.createTextNode(piece)))
    .filter((n) => n.textContent !== '');
}

const EXCERPT_CHARS = 320;
const EXCERPT_LINES = 6;

/**
 * excerpt shortens a long text to about EXCERPT_CHARS characters and EXCERPT_LINES
 * lines, around the first match of re when there is one. It returns the text unchanged
 * when it is short enough.
 */
export function excerpt(text, re) {
  const lines = text.split('\n');
  if (text.length <= EXCERPT_CHARS && lines.length <= EXCERPT_LINES) return text;
  let start = 0;
  if (re) {
    const m = new RegExp(re.source, 'iu').exec(text);
    if (m && m.index > EXCERPT_CHARS / 3) {
      start = m.index - Math.floor(EXCERPT_CHARS / 4);
      const space = text.lastIndexOf(' ', start);
      if (space > start - 30) start = space + 1;
    }
  }
  let end = Math.min(text.length, start + EXCERPT_CHARS);
  const lastSpace = text.lastIndexOf(' ', end);
  if (end < text.length && lastSpace > start + EXCERPT_CHARS / 2) end = lastSpace;
  let piece = text.slice(start, end);
  const pieceLines = piece.split('\n');
  if (pieceLines.length > EXCERPT_LINES) {
    piece = pieceLines.slice(0, EXCERPT_LINES).join('\n');
    end = start + piece.length;
  }
  return (start > 0 ? '… ' : '') + piece.trimEnd() + (end < text.length ? ' …' : '');
}

/** safeURL returns link as a URL when it is an absolute http(s) URL, or null. */
export function safeURL(link) {
  if (typeof link !== 'string' || !link) return null;
  try {
    const u = new URL(link);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u : null;
  } catch {
    return null;
  }
}

/** linkLabel shortens a URL for display: host and path, without the scheme. */
function linkLabel(u) {
  const label = u.host + (u.pathname === '/' ? '' : u.pathname) + u.search;
  return label.length > 80 ? label.slice(0, 77) + '…' : label;
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** formatScore shows a score with three decimals. */
export function formatScore(score) {
  return typeof score === 'number' && Number.isFinite(score) ? score.toFixed(3) : '';
}

/**
 * noteElement returns the <li> of a note or a hit.
 * @param {object} note {id, title, link, text, created_at, score?}
 * @param {object} options query: words to highlight; onDelete(note, li): shows a Delete
 *   button (with a confirmation) and is called when confirmed
 */
export function noteElement(note, { query = '', onDelete = null } = {}) {
  const re = highlighter(query);
  const li = el('li', 'note');
  if (note.id != null) li.dataset.id = String(note.id);

  const head = el('div', 'note-head');
  const title = el('h3', 'note-title');
  const titleText = typeof note.title === 'string' ? note.title.trim() : '';
  if (titleText) title.append(...highlighted(titleText, re));
  else title.append(el('span', 'untitled', 'Untitled'));
  head.append(title);
  if (note.score != null) {
    const score = el('span', 'score', formatScore(Number(note.score)));
    score.title = 'Score (higher is closer; the scale depends on the mode)';
    score.setAttribute('aria-label', 'score ' + score.textContent);
    head.append(score);
  }
  li.append(head);

  // Any link text is kept: http(s) URLs become links, anything else (a path, an
  // s3:// URI, plain words) is shown as text, never as a link.
  const url = safeURL(note.link);
  if (url) {
    const a = el('a', 'note-link', linkLabel(url));
    a.href = url.href;
    a.target = '_blank';
    a.rel = 'noopener noreferrer';
    li.append(a);
  } else if (typeof note.link === 'string' && note.link.trim()) {
    li.append(el('span', 'note-link', note.link));
  }

  const full = typeof note.text === 'string' ? note.text : '';
  const body = el('p', 'note-text');
  if (full) li.append(body);
  const short = excerpt(full, re);
  let expanded = false;
  const show = () => body.replaceChildren(...highlighted(expanded ? full : short, re));
  show();

  const meta = el('div', 'note-meta');
  if (note.created_at) {
    const when = new Date(note.created_at);
    if (!Number.isNaN(when.getTime())) {
      const time = el('time', null, dateFormat.format(when));
      time.dateTime = when.toISOString();
      meta.append(time);
    }
  }
  const actions = el('span', 'note-actions');
  meta.append(actions);
  if (short !== full) {
    const more = el('button', 'link-button more', 'Show more');
    more.type = 'button';
    more.setAttribute('aria-expanded', 'false');
    more.addEventListener('click', () => {
      expanded = !expanded;
      more.textContent = expanded ? 'Show less' : 'Show more';
      more.setAttribute('aria-expanded', String(expanded));
      show();
    });
    actions.append(more);
  }
  if (onDelete) actions.append(deleteControl(note, li, onDelete));
  if (meta.textContent || actions.childElementCount) li.append(meta);
  return li;
}

/**
 * deleteControl is a Delete button that asks for confirmation in place, then calls
 * onDelete(item, li), which resolves to whether the item is gone.
 */
export function deleteControl(item, li, onDelete, { noun = 'note' } = {}) {
  const box = el('span', 'delete-control');
  const del = el('button', 'link-button delete', 'Delete');
  del.type = 'button';
  del.setAttribute('aria-label', 'Delete ' + (item.title ? `“${item.title}”` : 'this ' + noun));
  const ask = () => {
    const question = el('span', 'confirm-question', `Delete this ${noun}?`);
    const yes = el('button', 'danger confirm-delete', 'Delete');
    yes.type = 'button';
    const no = el('button', 'confirm-cancel', 'Cancel');
    no.type = 'button';
    no.addEventListener('click', () => {
      box.replaceChildren(del);
      del.focus();
    });
    yes.addEventListener('click', async () => {
      yes.disabled = no.disabled = true;
      yes.textContent = 'Deleting…';
      const ok = await onDelete(item, li);
      if (!ok && box.isConnected) box.replaceChildren(del);
    });
    box.replaceChildren(question, yes, no);
    no.focus();
  };
  del.addEventListener('click', ask);
  box.append(del);
  return box;
}
