// The Knowledge page: upload documents (txt, md, html, pdf) by picking or dropping them,
// list them with their chunk counts, show the text extracted from each (its chunks, with
// their pages and headings), delete them, and ask questions whose answers
// stream from POST /api/kb/answer citing their sources as [n]; each mark opens the cited
// passage. Follow-up questions continue the conversation through its session_id.
//
// With a managed knowledge base (Amazon Bedrock) the documents live in Bedrock, so the
// upload and the list are replaced by a note saying so.

import { apiJSON, streamKBAnswer, uploadFiles, isAbort } from './api.js';
import { MarkdownView, copyWithFeedback } from './markdown.js';
import { initPage, errorBox, usageText, stopNote, el } from './ui.js';
import { deleteControl } from './notecard.js';
import { formatSize } from './images.js';
import { linkCitations, sourceList, SourcePanel, uriElement } from './sources.js';

const $ = (id) => document.getElementById(id);
const thread = $('thread');
const askForm = $('ask-form');
const question = $('question');
const askButton = $('ask');
const stopButton = $('stop');
const kInput = $('k');
const newConversation = $('new-conversation');
const askHint = $('ask-hint');
const dropzone = $('dropzone');
const input = $('files');
const uploads = $('uploads');
const list = $('documents');
const listStatus = $('documents-status');
const count = $('documents-count');
const hintDefault = [...askHint.childNodes].map((c) => c.cloneNode(true));

const panel = new SourcePanel();

let managed = false; // the documents are in Bedrock
let enabled = true; // false when the server has no knowledge base

// ---- documents ---------------------------------------------------------------------

const FORMATS = { text: 'Text', markdown: 'Markdown', html: 'HTML', pdf: 'PDF', docx: 'Word', pptx: 'PowerPoint', xlsx: 'Excel', odt: 'OpenDocument', csv: 'CSV', epub: 'EPUB', image: 'Image (OCR)' };
const EXTENSIONS = ['txt', 'text', 'md', 'markdown', 'html', 'htm', 'pdf', 'docx', 'pptx', 'xlsx', 'odt', 'csv', 'epub', 'png', 'jpg', 'jpeg'];
const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const sentence = (s) => s.charAt(0).toUpperCase() + s.slice(1) + (/[.!?]$/.test(s) ? '' : '.');
const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

/** documentElement returns the <li> of a document. */
function documentElement(doc) {
  const li = el('li', 'note doc');
  li.dataset.id = String(doc.id);
  const head = el('div', 'note-head');
  const title = el('h3', 'note-title');
  const name = typeof doc.title === 'string' ? doc.title.trim() : '';
  if (name) title.textContent = name;
  else title.append(el('span', 'untitled', 'Untitled'));
  const chunks = Number(doc.chunks) || 0;
  const badge = el('span', 'chunk-count', plural(chunks, 'chunk', 'chunks'));
  badge.title = 'Passages this document was split into for retrieval';
  head.append(title, badge);
  li.append(head);
  if (doc.uri && doc.uri !== name) li.append(uriElement(doc.uri, 'note-link doc-uri'));

  const meta = el('div', 'note-meta');
  const facts = [];
  if (doc.format) facts.push(FORMATS[doc.format] || String(doc.format));
  if (Number.isFinite(doc.bytes) && doc.bytes > 0) facts.push(formatSize(doc.bytes));
  const factsEl = el('span', 'doc-facts', facts.join(' · '));
  if (doc.created_at) {
    const when = new Date(doc.created_at);
    if (!Number.isNaN(when.getTime())) {
      const time = el('time', null, dateFormat.format(when));
      time.dateTime = when.toISOString();
      if (facts.length) factsEl.append(' · ');
      factsEl.append(time);
    }
  }
  const actions = el('span', 'note-actions');
  actions.append(deleteControl({ ...doc, title: name }, li, deleteDocument, { noun: 'document' }));
  meta.append(factsEl, actions);
  li.append(meta);
  if (!managed) li.append(extractedText(doc));
  return li;
}

/**
 * extractedText returns a disclosure that, opened, shows the document's chunks as the
 * server extracted them (GET /api/kb/documents/{id}): what the model will read.
 */
function extractedText(doc) {
  const details = el('details', 'doc-text');
  const summary = el('summary', null, 'Extracted text');
  const body = el('div', 'doc-chunks');
  details.append(summary, body);
  let loaded = false;
  details.addEventListener('toggle', async () => {
    if (!details.open || loaded) return;
    loaded = true;
    body.replaceChildren(el('p', 'muted', 'Loading…'));
    body.setAttribute('aria-busy', 'true');
    try {
      const res = await apiJSON(`/api/kb/documents/${encodeURIComponent(doc.id)}`);
      const chunks = Array.isArray(res?.chunks) ? res.chunks : [];
      body.replaceChildren(...(chunks.length ? chunks.map(chunkElement) : [el('p', 'muted', 'No text was extracted.')]));
    } catch (err) {
      loaded = false; // let a later opening try again
      body.replaceChildren(errorBox(err));
    } finally {
      body.setAttribute('aria-busy', 'false');
    }
  });
  return details;
}

/** chunkElement shows one chunk: its number, page and heading path, then its text. */
function chunkElement(chunk) {
  const section = el('section', 'doc-chunk');
  const where = [`Chunk ${(Number(chunk.index) || 0) + 1}`];
  if (Number(chunk.page) > 0) where.push(`p. ${chunk.page}`);
  if (Array.isArray(chunk.headings) && chunk.headings.length) where.push(chunk.headings.join(' › '));
  section.append(el('p', 'chunk-where', where.join(' · ')), el('pre', 'chunk-text', typeof chunk.text === 'string' ? chunk.text : ''));
  return section;
}

function updateCount() {
  const n = list.childElementCount;
  const chunks = [...list.querySelectorAll('.chunk-count')].reduce((sum, b) => sum + (parseInt(b.textContent, 10) || 0), 0);
  count.textContent = n && !managed ? `${plural(n, 'document', 'documents')} · ${plural(chunks, 'chunk', 'chunks')}` : '';
  if (!n && !listLoading && !listFailed) {
    listStatus.replaceChildren(el('p', 'empty-note', 'No documents yet. Add some above, or from a shell with genai ingest PATH….'));
  } else if (listStatus.querySelector('.empty-note')) {
    listStatus.replaceChildren();
  }
  const none = !n && !managed && !listLoading && !listFailed;
  if (none !== askHint.classList.contains('warn')) {
    askHint.classList.toggle('warn', none);
    askHint.replaceChildren(...(none ? [document.createTextNode('Add documents below first: answers come from them.')] : hintDefault.map((c) => c.cloneNode(true))));
  }
}

let listLoading = false;
let listFailed = false;
let listGeneration = 0;

async function loadDocuments() {
  const generation = ++listGeneration;
  listLoading = true;
  if (!list.childElementCount) listStatus.replaceChildren(el('p', 'muted', 'Loading documents…'));
  list.setAttribute('aria-busy', 'true');
  try {
    const res = await apiJSON('/api/kb/documents');
    if (generation !== listGeneration) return;
    if (typeof res?.message === 'string' && res.message && res.managed_by) $('managed-note').textContent = sentence(res.message);
    const docs = Array.isArray(res?.documents) ? res.documents : [];
    list.replaceChildren(...docs.map(documentElement));
    listFailed = false;
    listStatus.replaceChildren();
  } catch (err) {
    if (generation !== listGeneration) return;
    listFailed = true;
    listStatus.replaceChildren(errorBox(err));
  } finally {
    if (generation === listGeneration) {
      listLoading = false;
      list.setAttribute('aria-busy', 'false');
      updateCount();
    }
  }
}

/** deleteDocument deletes a document and removes it from the list. */
async function deleteDocument(doc, li) {
  try {
    await apiJSON('/api/kb/documents/' + encodeURIComponent(doc.id), { method: 'DELETE' });
  } catch (err) {
    // Already gone is what the user wanted.
    if (err.code !== 'not_found') {
      li.querySelector('.error-box')?.remove();
      li.append(errorBox(err));
      return false;
    }
  }
  const next = li.nextElementSibling || li.previousElementSibling;
  li.remove();
  updateCount();
  (next?.querySelector('button.delete') || $('pick')).focus();
  return true;
}

// ---- uploads -----------------------------------------------------------------------

const PARALLEL_UPLOADS = 2;
const queue = []; // {file, row}
let active = 0;

// named prefixes a message with the file's name unless it names the file already.
const named = (name, message) => (String(message).includes(name) ? message : `${name}: ${message}`);

function fileProblem(file) {
  const ext = (file.name.match(/\.([^.]+)$/)?.[1] || '').toLowerCase();
  if (!EXTENSIONS.includes(ext)) return 'not a supported type: use .txt, .md, .html, .pdf, .docx, .pptx, .xlsx, .odt, .csv, .epub, .png or .jpg.';
  if (file.size === 0) return 'the file is empty.';
  return '';
}

/** uploadRow returns the progress row of a file, with a setter for its state. */
function uploadRow(file) {
  const li = el('li', 'upload');
  const name = el('span', 'upload-name', file.name);
  name.title = file.name;
  const size = el('span', 'upload-size', formatSize(file.size));
  const bar = el('progress', 'upload-progress');
  bar.max = 1;
  bar.value = 0;
  bar.setAttribute('aria-label', 'Upload of ' + file.name);
  const status = el('span', 'upload-status', 'Waiting…');
  const detail = el('div', 'upload-detail');
  li.append(name, size, bar, status, detail);
  const set = (state, text, problem) => {
    li.dataset.state = state;
    status.textContent = text;
    bar.hidden = state === 'done' || state === 'error';
    if (state === 'processing') bar.removeAttribute('value'); // indeterminate: the server is reading it
    detail.replaceChildren(...(problem ? [errorBox(problem)] : []));
  };
  set('waiting', 'Waiting…');
  return { li, bar, set };
}

function addFiles(files) {
  if (!files.length || managed || !enabled) return;
  for (const file of files) {
    const row = uploadRow(file);
    uploads.append(row.li);
    const problem = fileProblem(file);
    if (problem) {
      row.set('error', 'Not added', { code: 'unsupported_media_type', message: `${file.name}: ${problem}` });
      continue;
    }
    queue.push({ file, row });
  }
  showClear();
  pump();
}

function pump() {
  while (active < PARALLEL_UPLOADS && queue.length) {
    const job = queue.shift();
    active++;
    upload(job).finally(() => {
      active--;
      pump();
      showClear();
    });
  }
}

async function upload({ file, row }) {
  row.set('uploading', 'Uploading…');
  try {
    const res = await uploadFiles('/api/kb/documents', [file], {
      onProgress: (f) => {
        row.bar.value = f;
        row.set('uploading', `Uploading ${Math.round(f * 100)}%`);
      },
      onSent: () => row.set('processing', 'Reading and indexing…'),
    });
    const problem = Array.isArray(res?.errors) ? res.errors.find(Boolean) : null;
    const doc = Array.isArray(res?.documents) ? res.documents[0] : null;
    if (doc) {
      row.set('done', `Added · ${plural(Number(doc.chunks) || 0, 'chunk', 'chunks')}`);
      upsertDocument(doc);
    } else {
      const e = problem?.error || { code: 'error', message: 'The server added no document.' };
      row.set('error', 'Not added', { code: e.code, message: named(problem?.file || file.name, e.message) });
    }
  } catch (err) {
    row.set('error', 'Not added', { code: err.code, message: named(file.name, err.message) });
  }
}

// upsertDocument shows an uploaded document at once, then refreshes the list for its
// full record (format, size, date).
let refresh = null;
function upsertDocument(doc) {
  const old = [...list.children].find((li) => li.dataset.id === String(doc.id));
  const li = documentElement(doc);
  if (old) old.replaceWith(li);
  else list.prepend(li);
  updateCount();
  clearTimeout(refresh);
  refresh = setTimeout(loadDocuments, 300);
}

let clearButton = null;
function showClear() {
  const finished = [...uploads.children].some((li) => li.dataset.state === 'done' || li.dataset.state === 'error');
  const busy = active > 0 || queue.length > 0;
  if (!clearButton) {
    clearButton = el('button', 'link-button clear-uploads', 'Clear');
    clearButton.type = 'button';
    clearButton.addEventListener('click', () => {
      for (const li of [...uploads.children]) if (li.dataset.state === 'done' || li.dataset.state === 'error') li.remove();
      showClear();
      $('pick').focus();
    });
  }
  if (finished && !busy) uploads.after(clearButton);
  else clearButton.remove();
}

$('pick').addEventListener('click', () => input.click());
input.addEventListener('change', () => {
  addFiles([...input.files]);
  input.value = ''; // choosing the same file again fires change again
});
// A file dropped anywhere but the drop zone would make the browser open it.
for (const type of ['dragover', 'drop']) window.addEventListener(type, (e) => e.preventDefault());
dropzone.addEventListener('dragenter', () => dropzone.classList.add('dragging'));
dropzone.addEventListener('dragleave', (e) => {
  if (!dropzone.contains(e.relatedTarget)) dropzone.classList.remove('dragging');
});
dropzone.addEventListener('drop', (e) => {
  dropzone.classList.remove('dragging');
  addFiles([...(e.dataTransfer?.files || [])]);
});

// ---- asking ------------------------------------------------------------------------

let sessionId = '';
let running = null; // AbortController of the answer streaming

function setRunning(controller) {
  running = controller;
  askButton.hidden = !!controller;
  stopButton.hidden = !controller;
  newConversation.hidden = !thread.childElementCount;
}

stopButton.addEventListener('click', () => running?.abort());

newConversation.addEventListener('click', () => {
  running?.abort();
  panel.close();
  thread.replaceChildren();
  sessionId = '';
  setRunning(null);
  question.focus();
});

function extractiveNote() {
  const p = el('p', 'extractive-note');
  p.append(
    el('strong', null, 'Extractive answer'),
    el('span', null, ' — quoted from your documents; no model wrote it.'),
  );
  return p;
}

async function ask(q) {
  const k = Math.min(100, Math.max(1, Math.round(Number(kInput.value) || 6)));
  kInput.value = String(k);

  const turn = el('article', 'turn');
  const asked = el('div', 'msg user');
  asked.append(el('div', 'msg-body', q));
  const answer = el('div', 'kb-answer');
  answer.setAttribute('aria-busy', 'true');
  const flags = el('div', 'answer-flags');
  const body = el('div', 'markdown answer-body');
  body.append(el('span', 'typing', 'Searching your documents…'));
  const status = el('div', 'answer-status');
  const sources = el('div', 'answer-sources');
  const meta = el('div', 'msg-meta');
  answer.append(flags, body, status, sources, meta);
  answer.classList.add('streaming');
  turn.append(asked, answer);
  thread.append(turn);
  turn.scrollIntoView({ block: 'nearest' });

  const citations = new Map();
  const lookup = (n) => citations.get(n);
  const open = (n, button) => {
    const c = citations.get(n);
    if (c) panel.show(c, button, q);
  };
  body.addEventListener('click', (e) => {
    const b = e.target.closest?.('button.cite');
    if (b) open(Number(b.dataset.n), b);
  });
  const view = new MarkdownView(body);
  view.onRender = () => linkCitations(body, lookup);
  let text = '';
  let extractive = false;
  const markExtractive = () => {
    if (extractive) return;
    extractive = true;
    answer.classList.add('extractive');
    flags.replaceChildren(extractiveNote());
  };
  const showSources = () => {
    const all = [...citations.values()].sort((a, b) => a.n - b.n);
    if (!all.length) return sources.replaceChildren();
    const head = el('h3', 'sources-heading', 'Sources');
    sources.replaceChildren(head, sourceList(all, open));
  };

  const controller = new AbortController();
  setRunning(controller);
  let done = null;
  let problem = null;
  try {
    const req = { query: q, k, stream: true };
    if (sessionId) req.session_id = sessionId;
    done = await streamKBAnswer(req, {
      signal: controller.signal,
      onCitations: (list, data) => {
        for (const c of list) {
          const n = Number(c?.n);
          if (Number.isInteger(n) && n > 0) citations.set(n, { ...citations.get(n), ...c, n });
        }
        if (data?.extractive === true) markExtractive();
        if (typeof data?.session_id === 'string' && data.session_id) sessionId = data.session_id;
        showSources();
        if (text) view.set(text); // marks that now have a source become buttons
        else body.replaceChildren(el('span', 'typing', 'Writing the answer…'));
      },
      onDelta: (t) => {
        text += t;
        view.set(text);
      },
    });
  } catch (err) {
    problem = isAbort(err) || controller.signal.aborted ? 'stopped' : err;
  } finally {
    if (running === controller) setRunning(null);
    if (typeof done?.session_id === 'string' && done.session_id) sessionId = done.session_id;
    if (done?.extractive === true) markExtractive();
    if (text) view.finish(text);
    else body.replaceChildren();
    answer.classList.remove('streaming');
    answer.setAttribute('aria-busy', 'false');
    if (problem === 'stopped') status.append(el('p', 'msg-status', 'Stopped.'));
    else if (problem) status.append(errorBox(problem));
    else if (!text) status.append(el('p', 'msg-status', 'No answer: nothing in the documents matched.'));
    else if (stopNote(done?.stop_reason)) status.append(el('p', 'msg-status', stopNote(done.stop_reason)));
    const usage = usageText(done);
    if (usage) meta.append(el('span', 'usage', usage));
    if (text) {
      const copy = el('button', 'link-button copy', 'Copy');
      copy.type = 'button';
      copy.addEventListener('click', () => copyWithFeedback(copy, text));
      meta.append(copy);
    }
    newConversation.hidden = false;
  }
}

askForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const q = question.value.trim();
  if (!q || running || !enabled) return;
  question.value = '';
  ask(q);
});
question.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    askForm.requestSubmit();
  }
});

// ---- start -------------------------------------------------------------------------

initPage({ needChat: false, needKB: true }).then((config) => {
  if (!config) return;
  const info = $('kb-info');
  const parts = [];
  enabled = config.features?.kb !== false;
  // Documents are uploaded here unless the server says they live elsewhere.
  managed = enabled && (config.knowledge_base === 'bedrock' || config.features?.kb_upload === false);
  if (managed) {
    parts.push(config.knowledge_base === 'bedrock' ? 'Amazon Bedrock knowledge base' : 'Managed knowledge base');
    dropzone.hidden = true;
    uploads.hidden = true;
    list.hidden = true;
    listStatus.hidden = true;
    $('managed-note').hidden = false;
    count.textContent = '';
  } else {
    parts.push('Local knowledge base');
    const emb = config.embedder;
    if (emb?.model) parts.push(`Embedder ${emb.model}`);
    if (config.store) parts.push(`Store ${config.store}`);
  }
  if (!enabled) {
    askButton.disabled = true;
    dropzone.hidden = true;
    parts.length = 0;
  }
  if (parts.length) {
    info.textContent = parts.join(' · ');
    info.hidden = false;
  }
  if (enabled && !managed && config.features?.chat === false) {
    $('ask-mode').textContent = 'No model provider is configured: answers are extractive, quoting the most relevant sentences.';
  } else if (enabled && config.chat_model && !managed) {
    $('ask-mode').textContent = `Answers by ${config.chat_model}`;
  }
});
loadDocuments();
