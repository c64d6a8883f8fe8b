// The chat page: a multi-turn conversation streamed from POST /api/chat, kept in
// localStorage across reloads.

import { streamChat, isAbort } from './api.js';
import { MarkdownView, renderMarkdown, copyWithFeedback } from './markdown.js';
import { initPage, errorBox, usageText, stopNote, el, nearBottom, scrollToBottom } from './ui.js';

const CHAT_STORAGE = 'genai.chat.v1';
const SETTINGS_STORAGE = 'genai.settings.v1';

const $ = (id) => document.getElementById(id);
const log = $('log');
const empty = $('empty');
const form = $('composer');
const prompt = $('prompt');
const sendButton = $('send');
const stopButton = $('stop');

// A message is {role: "user"|"assistant", text, and for answers: usage, stopReason,
// stopped, error: {code, message}}.
let messages = validMessages(loadJSON(CHAT_STORAGE)?.messages);
let settings = validSettings(loadJSON(SETTINGS_STORAGE));
let config = null;
let running = null; // {controller, index} while an answer streams

function loadJSON(key) {
  try {
    return JSON.parse(localStorage.getItem(key) || 'null');
  } catch {
    return null;
  }
}

function saveJSON(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // Full or disabled storage: the conversation still works, it just won't survive a reload.
  }
}

// Storage is the user's to edit; take only what has the right shape.
function validMessages(list) {
  if (!Array.isArray(list)) return [];
  return list
    .filter((m) => m && (m.role === 'user' || m.role === 'assistant') && typeof m.text === 'string')
    .map((m) => ({
      role: m.role,
      text: m.text,
      usage: m.usage && typeof m.usage === 'object' ? m.usage : null,
      stopReason: typeof m.stopReason === 'string' ? m.stopReason : '',
      stopped: m.stopped === true,
      error: m.error && typeof m.error.message === 'string' ? { code: String(m.error.code), message: m.error.message } : null,
    }));
}

function validSettings(s) {
  const t = Number(s?.temperature);
  const n = Number(s?.maxTokens);
  return {
    model: typeof s?.model === 'string' ? s.model : '',
    temperature: s?.temperature != null && t >= 0 && t <= 1 ? t : null,
    maxTokens: Number.isInteger(n) && n >= 1 ? n : null,
    system: typeof s?.system === 'string' ? s.system : '',
  };
}

const saveChat = () => saveJSON(CHAT_STORAGE, { messages });

// ---- rendering -------------------------------------------------------------------

function renderAll() {
  log.replaceChildren(...messages.map((m, i) => messageElement(m, i)));
  empty.hidden = messages.length > 0;
  updateControls();
}

function messageElement(m, index) {
  const article = el('article', 'msg ' + m.role);
  article.dataset.index = index;
  article.setAttribute('aria-label', m.role === 'user' ? 'You' : 'Assistant');
  const body = el('div', 'msg-body' + (m.role === 'assistant' ? ' markdown' : ''));
  article.append(body);
  if (m.role === 'user') {
    body.textContent = m.text;
    return article;
  }
  if (m.text) renderMarkdown(body, m.text);
  fillFooter(article, m, index);
  return article;
}

// fillFooter adds an answer's state: error, stop note, usage, Copy and Retry.
function fillFooter(article, m, index) {
  article.querySelectorAll('.msg-status, .msg-meta').forEach((n) => n.remove());
  const streaming = running?.index === index;
  article.classList.toggle('streaming', streaming);
  article.setAttribute('aria-busy', String(streaming));
  if (streaming) return;
  if (m.error) article.append(errorBox(m.error));
  const note = m.stopped ? 'Stopped.' : stopNote(m.stopReason);
  if (note) article.append(el('p', 'msg-status', note));
  const meta = el('div', 'msg-meta');
  const usage = usageText({ usage: m.usage });
  if (usage) meta.append(el('span', 'usage', usage));
  if (m.text) {
    const copy = el('button', 'link-button copy', 'Copy');
    copy.type = 'button';
    copy.addEventListener('click', () => copyWithFeedback(copy, m.text));
    meta.append(copy);
  }
  const retry = el('button', 'link-button retry', 'Retry');
  retry.type = 'button';
  retry.title = 'Regenerate this answer (the messages after it are removed)';
  retry.addEventListener('click', () => regenerate(index));
  meta.append(retry);
  article.append(meta);
}

function updateControls() {
  const busy = running !== null;
  sendButton.hidden = busy;
  stopButton.hidden = !busy;
  for (const b of log.querySelectorAll('.retry')) b.disabled = busy;
}

// ---- talking to the API ----------------------------------------------------------

// apiMessages turns the conversation before index into the API's messages. Roles must
// alternate: a failed answer leaves two user turns in a row, which are joined.
function apiMessages(end) {
  const out = [];
  for (const m of messages.slice(0, end)) {
    const text = m.text.trim();
    if (!text) continue;
    const last = out[out.length - 1];
    if (last && last.role === m.role) last.content += '\n\n' + text;
    else out.push({ role: m.role, content: text });
  }
  while (out.length && out[0].role !== 'user') out.shift();
  return out;
}

function requestBody(index) {
  const body = { messages: apiMessages(index) };
  if (settings.model) body.model = settings.model;
  if (settings.system.trim()) body.system = settings.system;
  if (settings.temperature != null) body.temperature = settings.temperature;
  if (settings.maxTokens) body.max_tokens = settings.maxTokens;
  return body;
}

async function answer(index) {
  const m = messages[index];
  Object.assign(m, { text: '', usage: null, stopReason: '', stopped: false, error: null });
  const controller = new AbortController();
  running = { controller, index };
  renderAll();
  const article = log.querySelector(`[data-index="${index}"]`);
  const body = article.querySelector('.msg-body');
  body.append(el('span', 'typing', 'Thinking…'));
  const view = new MarkdownView(body);
  let follow = true;
  view.onRender = () => {
    if (follow) scrollToBottom();
  };
  const onScroll = () => {
    follow = nearBottom();
  };
  window.addEventListener('scroll', onScroll, { passive: true });
  scrollToBottom();
  try {
    await streamChat(requestBody(index), {
      signal: controller.signal,
      onDelta(text) {
        m.text += text;
        view.set(m.text);
      },
      onDone(done) {
        m.usage = done.usage || null;
        m.stopReason = done.stop_reason || '';
      },
    });
  } catch (err) {
    if (isAbort(err) || controller.signal.aborted) m.stopped = true;
    else m.error = { code: err.code || 'error', message: err.message };
  } finally {
    window.removeEventListener('scroll', onScroll);
    running = null;
    if (m.text) view.finish(m.text);
    else body.replaceChildren();
    fillFooter(article, m, index);
    updateControls();
    saveChat();
    if (follow) scrollToBottom();
  }
}

function send(text) {
  if (running || !text.trim()) return;
  messages.push({ role: 'user', text }, { role: 'assistant', text: '' });
  prompt.value = '';
  saveChat();
  answer(messages.length - 1);
}

function regenerate(index) {
  if (running) return;
  messages.splice(index + 1);
  answer(index);
}

function stop() {
  running?.controller.abort();
}

// ---- settings --------------------------------------------------------------------

function initSettings() {
  const panel = $('settings');
  const toggle = $('settings-button');
  toggle.addEventListener('click', () => {
    panel.hidden = !panel.hidden;
    toggle.setAttribute('aria-expanded', String(!panel.hidden));
  });

  const temp = $('temperature');
  const tempDefault = $('temperature-default');
  const tempValue = $('temperature-value');
  const showTemp = () => {
    tempDefault.checked = settings.temperature == null;
    temp.disabled = tempDefault.checked;
    if (!tempDefault.checked) temp.value = settings.temperature;
    tempValue.textContent = tempDefault.checked ? 'model default' : Number(temp.value).toFixed(2);
  };
  temp.addEventListener('input', () => {
    settings.temperature = Number(temp.value);
    showTemp();
    saveSettings();
  });
  tempDefault.addEventListener('change', () => {
    settings.temperature = tempDefault.checked ? null : Number(temp.value);
    showTemp();
    saveSettings();
  });
  showTemp();

  const maxTokens = $('max-tokens');
  maxTokens.value = settings.maxTokens ?? '';
  maxTokens.addEventListener('input', () => {
    const n = Math.floor(Number(maxTokens.value));
    settings.maxTokens = maxTokens.value && n >= 1 ? Math.min(n, 200000) : null;
    saveSettings();
  });

  const system = $('system');
  system.value = settings.system;
  system.addEventListener('input', () => {
    settings.system = system.value;
    saveSettings();
  });

  $('model').addEventListener('change', (e) => {
    settings.model = e.target.value;
    saveSettings();
  });
}

const saveSettings = () => saveJSON(SETTINGS_STORAGE, settings);

function showModels() {
  const select = $('model');
  const def = config?.chat_model || '';
  select.replaceChildren(new Option(def ? `Server default (${def})` : 'Server default', ''));
  const models = new Set((config?.chat_models || []).filter((id) => id && id !== def));
  if (settings.model && !models.has(settings.model) && settings.model !== def) {
    settings.model = ''; // no longer offered by the server
  }
  for (const id of models) select.append(new Option(id, id));
  select.value = settings.model;
  if (config?.provider) $('provider-info').textContent = `Provider: ${config.provider}`;
}

// ---- wiring ----------------------------------------------------------------------

form.addEventListener('submit', (e) => {
  e.preventDefault();
  send(prompt.value);
});
prompt.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    if (!running) form.requestSubmit();
  }
});
stopButton.addEventListener('click', stop);
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && running && !document.querySelector('dialog[open]')) stop();
});
$('new-chat').addEventListener('click', () => {
  stop();
  messages = [];
  saveChat();
  renderAll();
  prompt.focus();
});
// A reload or closed tab in mid-answer keeps what has arrived, marked as stopped.
window.addEventListener('pagehide', () => {
  if (running) {
    messages[running.index].stopped = true;
    saveChat();
  }
});

// An answer that was streaming when the page last closed is kept as stopped.
for (const m of messages) if (m.role === 'assistant' && !m.text && !m.error && !m.stopped) m.stopped = true;

initSettings();
renderAll();
scrollToBottom();
prompt.focus();
initPage().then((c) => {
  config = c;
  showModels();
});
