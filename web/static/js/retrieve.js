// The workshop's "retrieve" page: posts the question as {"messages":[…]} to
// /knowledge-base-retrieve and lists the passages of its {"retrievalResults": [{content:
// {text}, location, score, metadata}]}, Bedrock's Retrieve shape. Passages are document
// text: they reach the DOM as text nodes (noteElement), with the question's words marked.

import { apiJSON } from './api.js';
import { initPage, errorBox, el } from './ui.js';
import { noteElement, safeURL } from './notecard.js';
import { locationURI, metaTitle, sourceTitle } from './sources.js';

const $ = (id) => document.getElementById(id);
const form = $('query-form');
const submit = $('submit');
const section = $('result-section');
const status = $('result-status');
const result = $('result');

/** passageElement returns the <li> of one retrieval result. */
function passageElement(r, i, query) {
  const uri = locationURI(r?.location);
  const title = metaTitle(r?.metadata) || (uri ? sourceTitle({ uri }) : `Passage ${i + 1}`);
  const score = Number(r?.score);
  const li = noteElement(
    {
      title,
      link: safeURL(uri) ? uri : '',
      text: typeof r?.content?.text === 'string' ? r.content.text : '',
      score: r?.score != null && Number.isFinite(score) ? score : null,
    },
    { query },
  );
  li.classList.add('passage');
  // A location that is not a web address (s3://…, a file name) is shown as text.
  if (uri && !safeURL(uri)) li.querySelector('.note-head').after(el('span', 'note-link doc-uri', uri));
  return li;
}

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  const query = $('query').value.trim();
  if (!query) return;
  submit.disabled = true;
  section.hidden = false;
  section.setAttribute('aria-busy', 'true');
  status.replaceChildren(el('span', 'muted', 'Retrieving…'));
  try {
    const res = await apiJSON('/knowledge-base-retrieve', { method: 'POST', body: { messages: [{ role: 'user', content: query }] } });
    const found = Array.isArray(res?.retrievalResults) ? res.retrievalResults : [];
    result.replaceChildren(...found.map((r, i) => passageElement(r, i, query)));
    status.replaceChildren(
      el(
        'span',
        found.length ? 'muted' : 'empty-note',
        found.length ? `${found.length} ${found.length === 1 ? 'passage' : 'passages'} for “${query}”` : `No passages match “${query}”.`,
      ),
    );
  } catch (err) {
    result.replaceChildren();
    status.replaceChildren(errorBox(err));
  } finally {
    submit.disabled = false;
    section.setAttribute('aria-busy', 'false');
  }
});

initPage({ needChat: false, needKB: true });
