// The workshop's "query notes" page: posts {query} to /aoss-query-backend and lists the
// hits of its {"Result": …}, which are titles or notes.

import { apiJSON } from './api.js';
import { initPage, errorBox, el } from './ui.js';
import { noteElement } from './notecard.js';

const $ = (id) => document.getElementById(id);
const form = $('query-form');
const submit = $('submit');
const section = $('result-section');
const status = $('result-status');
const result = $('result');

// asNote reads a hit in any of the shapes a workshop backend gives: a title, or an
// object with lower- or upper-case fields.
function asNote(hit) {
  if (typeof hit === 'string') return { title: hit };
  if (!hit || typeof hit !== 'object') return { title: String(hit) };
  const pick = (...names) => names.map((n) => hit[n]).find((v) => v != null);
  const str = (v) => (v == null ? '' : String(v));
  const score = Number(pick('score', 'Score', '_score'));
  return {
    id: pick('id', 'ID', '_id'),
    title: str(pick('title', 'Title')),
    link: str(pick('link', 'Link')),
    text: str(pick('text', 'Text')),
    score: Number.isFinite(score) && pick('score', 'Score', '_score') != null ? score : null,
  };
}

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  const query = $('query').value.trim();
  if (!query) return;
  submit.disabled = true;
  section.hidden = false;
  section.setAttribute('aria-busy', 'true');
  status.replaceChildren(el('span', 'muted', 'Searching…'));
  try {
    const res = await apiJSON('/aoss-query-backend', { method: 'POST', body: { query } });
    const value = res && 'Result' in res ? res.Result : res;
    if (Array.isArray(value)) {
      result.replaceChildren(...value.map((hit) => noteElement(asNote(hit), { query })));
      status.replaceChildren(
        el('span', value.length ? 'muted' : 'empty-note', value.length ? `${value.length} ${value.length === 1 ? 'note' : 'notes'} for “${query}”` : `No notes match “${query}”.`),
      );
    } else {
      result.replaceChildren();
      status.replaceChildren(
        typeof value === 'string' ? el('p', 'workshop-result', value) : el('pre', 'workshop-result json', JSON.stringify(value, null, 2)),
      );
    }
  } catch (err) {
    result.replaceChildren();
    status.replaceChildren(errorBox(err));
  } finally {
    submit.disabled = false;
    section.setAttribute('aria-busy', 'false');
  }
});

initPage({ needChat: false, needNotes: true });
