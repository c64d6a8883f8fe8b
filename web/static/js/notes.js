// The Notes page: add notes, list them newest first page by page, delete them, and
// search them by meaning, by title or both (POST /api/notes/search).

import { apiJSON, isAbort } from './api.js';
import { initPage, errorBox, el } from './ui.js';
import { noteElement } from './notecard.js';

const PAGE_SIZE = 20;
const SEARCH_STORAGE = 'genai.notes.search.v1';
const MODES = ['hybrid', 'semantic', 'title'];

const $ = (id) => document.getElementById(id);
const searchForm = $('search-form');
const queryInput = $('query');
const kInput = $('k');
const searchButton = $('search');
const searchStatus = $('search-status');
const hits = $('hits');
const addForm = $('add-form');
const addButton = $('add');
const addStatus = $('add-status');
const addError = $('add-error');
const list = $('notes');
const listStatus = $('list-status');
const more = $('more');

// ---- search ----------------------------------------------------------------------

function loadSearchSettings() {
  try {
    const s = JSON.parse(localStorage.getItem(SEARCH_STORAGE) || 'null');
    if (MODES.includes(s?.mode)) $('mode-' + s.mode).checked = true;
    if (Number.isInteger(s?.k) && s.k >= 1 && s.k <= 100) kInput.value = String(s.k);
  } catch {
    // Storage disabled or edited: keep the defaults.
  }
}

function saveSearchSettings(mode, k) {
  try {
    localStorage.setItem(SEARCH_STORAGE, JSON.stringify({ mode, k }));
  } catch {
    // The settings last for this page only.
  }
}

const selectedMode = () => searchForm.querySelector('input[name=mode]:checked')?.value || 'hybrid';

let searchController = null;

async function search() {
  const query = queryInput.value.trim();
  if (!query) return;
  const mode = selectedMode();
  const k = Math.min(100, Math.max(1, Math.round(Number(kInput.value) || 5)));
  kInput.value = String(k);
  saveSearchSettings(mode, k);

  searchController?.abort();
  const controller = new AbortController();
  searchController = controller;
  searchButton.disabled = true;
  hits.setAttribute('aria-busy', 'true');
  searchStatus.replaceChildren(el('span', 'muted', 'Searching…'));
  try {
    const res = await apiJSON('/api/notes/search', { method: 'POST', body: { query, mode, k }, signal: controller.signal });
    const found = Array.isArray(res?.hits) ? res.hits : [];
    hits.replaceChildren(...found.map((h) => noteElement(h, { query, onDelete: deleteNote })));
    const summary = found.length
      ? `${found.length} ${found.length === 1 ? 'note' : 'notes'} for “${query}” · ${mode}`
      : `No notes match “${query}” (${mode} search).`;
    searchStatus.replaceChildren(el('span', found.length ? 'muted' : 'empty-note', summary));
  } catch (err) {
    if (isAbort(err)) return;
    hits.replaceChildren();
    searchStatus.replaceChildren(errorBox(err));
  } finally {
    if (searchController === controller) {
      searchController = null;
      searchButton.disabled = false;
      hits.setAttribute('aria-busy', 'false');
    }
  }
}

searchForm.addEventListener('submit', (e) => {
  e.preventDefault();
  search();
});
// Clearing the query clears its results.
queryInput.addEventListener('input', () => {
  if (queryInput.value.trim()) return;
  searchController?.abort();
  hits.replaceChildren();
  searchStatus.replaceChildren();
});
// Switching the mode re-runs a search that was already made.
searchForm.addEventListener('change', (e) => {
  if (e.target.name === 'mode' && queryInput.value.trim() && (hits.childElementCount || searchStatus.textContent)) search();
});

// ---- list ------------------------------------------------------------------------

let cursor = '';
let listLoading = false;

function updateListEmpty() {
  if (list.childElementCount === 0 && !cursor && !listLoading) {
    listStatus.replaceChildren(el('p', 'empty-note', 'No notes yet. Add one above, or import many with `genai notes import FILE.jsonl`.'));
  } else if (listStatus.querySelector('.empty-note')) {
    listStatus.replaceChildren();
  }
}

async function loadPage() {
  if (listLoading) return;
  listLoading = true;
  more.disabled = true;
  more.textContent = 'Loading…';
  if (list.childElementCount) listStatus.replaceChildren();
  else listStatus.replaceChildren(el('p', 'muted', 'Loading notes…'));
  try {
    const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (cursor) params.set('cursor', cursor);
    const res = await apiJSON('/api/notes?' + params);
    const notes = Array.isArray(res?.notes) ? res.notes : [];
    const shown = new Set([...list.children].map((li) => li.dataset.id));
    list.append(...notes.filter((n) => !shown.has(String(n.id))).map((n) => noteElement(n, { onDelete: deleteNote })));
    cursor = typeof res?.next_cursor === 'string' ? res.next_cursor : '';
    listStatus.replaceChildren();
  } catch (err) {
    listStatus.replaceChildren(errorBox(err));
  } finally {
    listLoading = false;
    more.disabled = false;
    more.textContent = 'Load more';
    more.hidden = !cursor;
    updateListEmpty();
  }
}

more.addEventListener('click', loadPage);

// ---- add -------------------------------------------------------------------------

addForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  const note = {
    title: $('note-title').value.trim(),
    link: $('note-link').value.trim(),
    text: $('note-text').value,
  };
  if (!note.text.trim()) {
    addError.replaceChildren(errorBox({ code: 'invalid_request', message: 'text: required' }));
    $('note-text').focus();
    return;
  }
  addButton.disabled = true;
  addStatus.textContent = 'Adding…';
  addError.replaceChildren();
  try {
    const saved = await apiJSON('/api/notes', { method: 'POST', body: note });
    list.prepend(noteElement(saved, { onDelete: deleteNote }));
    updateListEmpty();
    addForm.reset();
    addStatus.textContent = 'Added' + (saved?.title ? ` “${saved.title}”.` : '.');
    $('note-title').focus();
  } catch (err) {
    addStatus.textContent = '';
    addError.replaceChildren(errorBox(err));
  } finally {
    addButton.disabled = false;
  }
});
// Ctrl/Cmd+Enter in the text adds the note.
$('note-text').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
    e.preventDefault();
    addForm.requestSubmit();
  }
});

// ---- delete ----------------------------------------------------------------------

/** deleteNote deletes a note and removes it from the list and the hits. */
async function deleteNote(note, li) {
  try {
    await apiJSON('/api/notes/' + encodeURIComponent(note.id), { method: 'DELETE' });
  } catch (err) {
    // Already gone is what the user wanted.
    if (err.code !== 'not_found') {
      const box = errorBox(err);
      li.querySelector('.error-box')?.remove();
      li.append(box);
      return false;
    }
  }
  const next = li.nextElementSibling || li.previousElementSibling;
  for (const item of document.querySelectorAll('li.note')) {
    if (item.dataset.id === String(note.id)) item.remove();
  }
  updateListEmpty();
  // Keep the keyboard near where it was.
  (next?.querySelector('button.delete') || queryInput).focus();
  return true;
}

// ---- start -----------------------------------------------------------------------

loadSearchSettings();
initPage({ needChat: false, needNotes: true }).then((config) => {
  const info = $('store-info');
  const parts = [];
  const emb = config?.embedder;
  if (emb?.model) parts.push(`Embedder ${emb.model}` + (emb.dimensions ? ` · ${emb.dimensions} dimensions` : ''));
  if (config?.store) parts.push(`Store ${config.store}`);
  if (parts.length) {
    info.textContent = parts.join(' · ');
    info.hidden = false;
  }
});
loadPage();
