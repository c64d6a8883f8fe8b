// The workshop's "retrieve and generate" page: posts the question as {"messages":[…]} to
// /knowledge-base-retrieve-and-generate and shows its {"output": {"text"}, "citations":
// […]}, Bedrock's RetrieveAndGenerate shape: each citation names a part of the answer
// (generatedResponsePart.textResponsePart {text, span}) and the passages behind it
// (retrievedReferences [{content: {text}, location, metadata}]). The page numbers the
// passages, puts [n] after each cited part (unless the answer has its marks already),
// renders the answer as safe Markdown and lets every mark open its passage.

import { apiJSON } from './api.js';
import { renderMarkdown } from './markdown.js';
import { initPage, errorBox, el } from './ui.js';
import { linkCitations, sourceList, SourcePanel, locationURI, metaTitle } from './sources.js';

const $ = (id) => document.getElementById(id);
const form = $('ask-form');
const submit = $('submit');
const section = $('result-section');
const answer = $('answer');
const status = $('result-status');
const references = $('references');
const panel = new SourcePanel();

let citations = new Map(); // n → {n, title, uri, text}
let query = '';

/**
 * numbered turns a RetrieveAndGenerate answer into text with [n] marks and the list of
 * its numbered sources. The same passage cited twice keeps one number.
 */
function numbered(res) {
  let text = typeof res?.output?.text === 'string' ? res.output.text : '';
  const sources = [];
  const byKey = new Map();
  const inserts = []; // {at, ns}
  const hasMarks = /\[\d{1,3}\]/.test(text);
  let from = 0;
  for (const c of Array.isArray(res?.citations) ? res.citations : []) {
    const ns = [];
    for (const ref of Array.isArray(c?.retrievedReferences) ? c.retrievedReferences : []) {
      const passage = typeof ref?.content?.text === 'string' ? ref.content.text : '';
      const uri = locationURI(ref?.location);
      const key = uri + '\u0000' + passage;
      let n = byKey.get(key);
      if (n == null) {
        n = sources.length + 1;
        byKey.set(key, n);
        sources.push({ n, title: metaTitle(ref?.metadata), uri, text: passage });
      }
      if (!ns.includes(n)) ns.push(n);
    }
    if (!ns.length || hasMarks) continue;
    const part = c?.generatedResponsePart?.textResponsePart;
    const partText = typeof part?.text === 'string' ? part.text : '';
    let at = -1;
    if (partText) {
      const start = Number.isInteger(part?.span?.start) ? part.span.start : from;
      at = text.indexOf(partText, Math.max(0, start));
      if (at < 0) at = text.indexOf(partText);
      if (at >= 0) at += partText.length;
    }
    if (at < 0 && Number.isInteger(part?.span?.end)) at = Math.min(text.length, part.span.end + 1);
    if (at < 0) at = text.length;
    from = at;
    inserts.push({ at, ns });
  }
  // From the end, so earlier offsets stay right.
  inserts.sort((a, b) => b.at - a.at);
  for (const { at, ns } of inserts) {
    // After the part's closing punctuation, before the space that follows.
    let i = at;
    while (i > 0 && /\s/.test(text[i - 1])) i--;
    text = text.slice(0, i) + ns.map((n) => `[${n}]`).join('') + text.slice(i);
  }
  return { text, sources };
}

function open(n, button) {
  const c = citations.get(n);
  if (c) panel.show(c, button, query);
}

answer.addEventListener('click', (e) => {
  const b = e.target.closest?.('button.cite');
  if (b) open(Number(b.dataset.n), b);
});

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  query = $('query').value.trim();
  if (!query) return;
  panel.close();
  submit.disabled = true;
  section.hidden = false;
  section.setAttribute('aria-busy', 'true');
  answer.replaceChildren(el('span', 'typing', 'Retrieving and writing…'));
  status.replaceChildren();
  references.replaceChildren();
  try {
    const res = await apiJSON('/knowledge-base-retrieve-and-generate', { method: 'POST', body: { messages: [{ role: 'user', content: query }] } });
    const { text, sources } = numbered(res);
    citations = new Map(sources.map((s) => [s.n, s]));
    renderMarkdown(answer, text);
    linkCitations(answer, (n) => citations.get(n));
    if (!text.trim()) status.replaceChildren(el('p', 'empty-note', 'The knowledge base gave no answer.'));
    if (sources.length) references.replaceChildren(el('h3', 'sources-heading', 'References'), sourceList(sources, open));
  } catch (err) {
    answer.replaceChildren();
    status.replaceChildren(errorBox(err));
  } finally {
    submit.disabled = false;
    section.setAttribute('aria-busy', 'false');
  }
});

initPage({ needChat: false, needKB: true });
