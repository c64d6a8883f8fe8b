// The workshop's "index a note" page: posts {title, link, text} to /aoss-index-backend
// and shows the {"Result": …} it answers.

import { apiJSON } from './api.js';
import { initPage, errorBox, el } from './ui.js';

const $ = (id) => document.getElementById(id);
const form = $('index-form');
const submit = $('submit');
const section = $('result-section');
const result = $('result');

/**
 * resultNodes shows a workshop Result: text as a paragraph, an object of plain values
 * (such as {"_id", "result"}) as a list of fields, anything else as JSON.
 */
function resultNodes(value) {
  if (typeof value === 'string') return [el('p', 'workshop-result', value)];
  const plain = (v) => v === null || ['string', 'number', 'boolean'].includes(typeof v);
  if (value && typeof value === 'object' && !Array.isArray(value) && Object.values(value).every(plain)) {
    const dl = el('dl', 'workshop-result fields');
    for (const [k, v] of Object.entries(value)) dl.append(el('dt', null, k), el('dd', null, String(v)));
    return [dl];
  }
  return [el('pre', 'workshop-result json', JSON.stringify(value, null, 2))];
}

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  const body = { title: $('title').value.trim(), link: $('link').value.trim(), text: $('text').value };
  submit.disabled = true;
  section.hidden = false;
  section.setAttribute('aria-busy', 'true');
  result.replaceChildren(el('p', 'muted', 'Indexing…'));
  try {
    const res = await apiJSON('/aoss-index-backend', { method: 'POST', body });
    result.replaceChildren(...resultNodes(res && 'Result' in res ? res.Result : res));
    form.reset();
  } catch (err) {
    result.replaceChildren(errorBox(err));
  } finally {
    submit.disabled = false;
    section.setAttribute('aria-busy', 'false');
  }
});

initPage({ needChat: false, needNotes: true });
