// The chat page: a multi-turn conversation streamed from POST /api/chat, kept in
// localStorage across reloads.

import { streamChat, isAbort, apiJSON } from './api.js';
import { MarkdownView, renderMarkdown, copyWithFeedback } from './markdown.js';
import { initPage, showBanner, errorBox, usageText, stopNote, el, nearBottom, scrollToBottom } from './ui.js';
import { linkCitations, sourceList, SourcePanel } from './sources.js';

const CHAT_STORAGE = 'genai.chat.v1';
const SETTINGS_STORAGE = 'genai.settings.v1';

const $ = (id) => document.getElementById(id);
const log = $('log');
const empty = $('empty');
const form = $('composer');
const prompt = $('prompt');
const sendButton = $('send');
const stopButton = $('stop');

// A message is {role: "user"|"assistant", text, for questions documents: [{name,
// format, mediaType, size, data (base64, not stored: it would fill localStorage)}], and
// for answers: usage, stopReason,
// stopped, error: {code, message}, and when the server ran its own tools, tools: [{id,
// name, input, result: {isError, text}}] and citations: [{n, title, uri, text}]}.
let messages = validMessages(loadJSON(CHAT_STORAGE)?.messages);
let settings = validSettings(loadJSON(SETTINGS_STORAGE));
let config = null;
let running = null; // {controller, index} while an answer streams
const panel = new SourcePanel();

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
      tools: Array.isArray(m.tools) ? m.tools.filter((t) => t && typeof t.name === 'string').map(validTool) : [],
      thinking: typeof m.thinking === 'string' ? m.thinking : '',
      citations: Array.isArray(m.citations) ? m.citations.filter((c) => c && Number.isInteger(c.n)) : [],
      documents: Array.isArray(m.documents) ? m.documents.filter((d) => d && typeof d.name === 'string').map((d) => ({ name: d.name, format: String(d.format), size: Number(d.size) || 0 })) : [],
    }));
}

function validTool(t) {
  const r = t.result && typeof t.result.text === 'string' ? { isError: t.result.isError === true, text: t.result.text } : null;
  return { id: String(t.id || ''), name: t.name, input: typeof t.input === 'string' ? t.input : '', result: r };
}

function validSettings(s) {
  const t = Number(s?.temperature);
  const n = Number(s?.maxTokens);
  const b = Number(s?.thinkingBudget);
  return {
    model: typeof s?.model === 'string' ? s.model : '',
    temperature: s?.temperature != null && t >= 0 && t <= 1 ? t : null,
    maxTokens: Number.isInteger(n) && n >= 1 ? n : null,
    system: typeof s?.system === 'string' ? s.system : '',
    useTools: s?.useTools === true,
    thinkingBudget: Number.isInteger(b) && b >= 1024 ? b : null,
    // The groups ("mcp:NAME") of the MCP servers whose tools are turned on.
    mcp: Array.isArray(s?.mcp) ? s.mcp.filter((g) => typeof g === 'string' && g.startsWith('mcp:')) : [],
  };
}

// The documents' bytes are kept in memory only: a reloaded conversation names them,
// and sends its earlier turns without them.
const saveChat = () => saveJSON(CHAT_STORAGE, { messages: messages.map((m) => ({ ...m, documents: (m.documents || []).map(({ data, ...d }) => d) })) });

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
  if (m.role === 'user') {
    if (m.documents?.length) article.append(documentList(m.documents));
    article.append(body);
    body.textContent = m.text;
    return article;
  }
  const tools = el('div', 'tool-calls');
  article.append(thinkingSection(m.thinking), tools, body, el('div', 'answer-sources'));
  for (const t of m.tools) tools.append(toolLine(t));
  wireCitations(body, m);
  if (m.text) renderMarkdown(body, m.text);
  linkCitations(body, (n) => m.citations.find((c) => c.n === n));
  showSources(article, m);
  fillFooter(article, m, index);
  return article;
}

// documentList shows the documents sent with a question, by name, format and size.
function documentList(docs, remove) {
  const list = el('ul', 'attachments');
  docs.forEach((d, i) => {
    const item = el('li', 'attachment', `${d.name} (${d.format}, ${sizeText(d.size)})`);
    if (remove) {
      const x = el('button', 'link-button', 'Remove');
      x.type = 'button';
      x.setAttribute('aria-label', 'Remove ' + d.name);
      x.addEventListener('click', () => remove(i));
      item.append(' ', x);
    }
    list.append(item);
  });
  return list;
}

function sizeText(n) {
  return n >= 1e6 ? (n / 1e6).toFixed(1) + ' MB' : n >= 1e3 ? Math.round(n / 1e3) + ' kB' : n + ' bytes';
}

// thinkingSection shows the model's reasoning folded above its answer, as text.
function thinkingSection(text) {
  const box = el('details', 'thinking');
  box.hidden = !text;
  box.append(el('summary', 'thinking-summary', 'Thinking'), el('div', 'thinking-text', text || ''));
  return box;
}

// toolLine shows a call the server ran: the tool's name and arguments on one line, its
// result folded under it. Everything is text: the arguments come from the model and the
// result from the user's own documents.
function toolLine(t) {
  const line = el('details', 'tool-call');
  const summary = el('summary', 'tool-summary');
  summary.append(el('span', 'tool-name', t.name), el('code', 'tool-args', t.input || ''));
  const state = el('span', 'tool-state', t.result ? (t.result.isError ? 'failed' : 'done') : 'running…');
  summary.append(state);
  line.append(summary);
  if (t.result) line.append(el('pre', 'tool-result' + (t.result.isError ? ' error' : ''), t.result.text));
  line.classList.toggle('failed', t.result?.isError === true);
  return line;
}

// wireCitations makes the [n] marks of an answer open their passage in the side panel.
function wireCitations(body, m) {
  body.addEventListener('click', (e) => {
    const b = e.target.closest?.('button.cite');
    const c = b && m.citations.find((x) => x.n === Number(b.dataset.n));
    if (c) panel.show(c, b);
  });
}

function showSources(article, m) {
  const box = article.querySelector('.answer-sources');
  if (!m.citations.length) return box.replaceChildren();
  const open = (n, button) => {
    const c = m.citations.find((x) => x.n === n);
    if (c) panel.show(c, button);
  };
  box.replaceChildren(el('h3', 'sources-heading', 'Sources'), sourceList(m.citations, open));
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
    const docs = (m.documents || []).filter((d) => d.data);
    const last = out[out.length - 1];
    if (docs.length) {
      const blocks = docs.map((d) => ({ type: 'document', source: { type: 'base64', media_type: d.mediaType, data: d.data }, title: d.name }));
      blocks.push({ type: 'text', text });
      if (last && last.role === m.role) last.content = [...(typeof last.content === 'string' ? [{ type: 'text', text: last.content }] : last.content), ...blocks];
      else out.push({ role: m.role, content: blocks });
    } else if (last && last.role === m.role) {
      if (typeof last.content === 'string') last.content += '\n\n' + text;
      else last.content.push({ type: 'text', text });
    } else out.push({ role: m.role, content: text });
  }
  while (out.length && out[0].role !== 'user') out.shift();
  return out;
}

function requestBody(index) {
  const body = { messages: apiMessages(index) };
  if (settings.model) body.model = settings.model;
  if (settings.system.trim()) body.system = settings.system;
  // With thinking on, Claude takes only its own temperature.
  if (settings.temperature != null && !settings.thinkingBudget) body.temperature = settings.temperature;
  if (settings.maxTokens) body.max_tokens = settings.maxTokens;
  if (settings.thinkingBudget) body.thinking = { type: 'enabled', budget_tokens: settings.thinkingBudget };
  const groups = settings.useTools ? serverToolGroups() : [];
  // Only servers this server has: one removed from its configuration is not asked for.
  for (const s of mcpServers()) if (settings.mcp.includes(s.group)) groups.push(s.group);
  if (groups.length) body.server_tools = groups;
  return body;
}

// mcpServers are the MCP servers of /api/config, whose tools the agent may use.
function mcpServers() {
  return Array.isArray(config?.mcp_servers) ? config.mcp_servers.filter((s) => s && typeof s.group === 'string') : [];
}

// serverToolGroups are the server's own tools this server can run: its knowledge base
// and its notes, when it has them.
function serverToolGroups() {
  const f = config?.features || {};
  return [f.kb && 'knowledge_base', f.notes && 'notes'].filter(Boolean);
}

async function answer(index) {
  const m = messages[index];
  Object.assign(m, { text: '', usage: null, stopReason: '', stopped: false, error: null, tools: [], citations: [], thinking: '' });
  const controller = new AbortController();
  running = { controller, index };
  renderAll();
  const article = log.querySelector(`[data-index="${index}"]`);
  const body = article.querySelector('.msg-body');
  const tools = article.querySelector('.tool-calls');
  body.append(el('span', 'typing', 'Thinking…'));
  const view = new MarkdownView(body);
  const lookup = (n) => m.citations.find((c) => c.n === n);
  view.onRender = () => linkCitations(body, lookup);
  let follow = true;
  const rendered = view.onRender;
  view.onRender = () => {
    rendered();
    if (follow) scrollToBottom();
  };
  const lines = new Map();
  const redraw = (t) => {
    const line = toolLine(t);
    lines.get(t.id)?.replaceWith(line);
    if (!lines.has(t.id)) tools.append(line);
    lines.set(t.id, line);
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
      onThinking(text) {
        m.thinking += text;
        const box = article.querySelector('.thinking');
        box.hidden = false;
        box.querySelector('.thinking-text').textContent = m.thinking;
      },
      onDone(done) {
        m.usage = done.usage || null;
        m.stopReason = done.stop_reason || '';
      },
      onTool(kind, data) {
        let t = m.tools.find((x) => x.id === (data.id || data.tool_use_id));
        if (kind === 'tool_use') {
          t = { id: String(data.id), name: String(data.name), input: '', result: null };
          m.tools.push(t);
        } else if (!t) {
          return;
        } else if (kind === 'tool_use_end') {
          t.input = JSON.stringify(data.input ?? {});
        } else {
          const text = (data.content || []).filter((b) => b?.type === 'text').map((b) => b.text).join('\n');
          t.result = { isError: data.is_error === true, text };
          // The answer goes on after the result: a new paragraph.
          if (m.text && !m.text.endsWith('\n\n')) m.text += '\n\n';
        }
        redraw(t);
      },
      onCitations(list) {
        for (const c of list) {
          const n = Number(c?.n);
          if (Number.isInteger(n) && n > 0 && !lookup(n)) m.citations.push({ ...c, n });
        }
        showSources(article, m);
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
    refreshMCP();
  }
}

function send(text) {
  if (running || !text.trim()) return;
  messages.push({ role: 'user', text, documents: pending }, { role: 'assistant', text: '' });
  pending = [];
  showPending();
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

  const budget = $('thinking-budget');
  budget.value = settings.thinkingBudget ?? '';
  budget.addEventListener('input', () => {
    const n = Math.floor(Number(budget.value));
    settings.thinkingBudget = budget.value && n >= 1024 ? Math.min(n, 200000) : null;
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

// ---- attaching documents --------------------------------------------------------

// The document formats the API takes, by file extension.
const DOCUMENT_TYPES = {
  pdf: ['pdf', 'application/pdf'],
  csv: ['csv', 'text/csv'],
  doc: ['doc', 'application/msword'],
  docx: ['docx', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document'],
  xls: ['xls', 'application/vnd.ms-excel'],
  xlsx: ['xlsx', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'],
  html: ['html', 'text/html'],
  htm: ['html', 'text/html'],
  txt: ['txt', 'text/plain'],
  md: ['md', 'text/markdown'],
  markdown: ['md', 'text/markdown'],
};
let pending = []; // documents attached to the next question
const attachments = $('attachments');
const attachInput = $('attach-input');

// documentName is a file's name as Bedrock takes it: without its extension, other
// characters than letters, digits, spaces, hyphens, parentheses and square brackets
// made hyphens, single spaces.
function documentName(file) {
  const base = file.replace(/\.[^.]*$/, '');
  return base.replace(/[^A-Za-z0-9 ()[\]-]/g, '-').replace(/\s+/g, ' ').trim() || 'Document';
}

async function attach(files) {
  for (const f of files) {
    const ext = f.name.split('.').pop().toLowerCase();
    const type = DOCUMENT_TYPES[ext];
    if (!type) {
      showBanner(`${f.name}: not a document this page sends (PDF, Word, Excel, CSV, HTML, text or Markdown).`, 'info');
      continue;
    }
    const bytes = new Uint8Array(await f.arrayBuffer());
    let bin = '';
    for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    pending.push({ name: documentName(f.name), format: type[0], mediaType: type[1], size: f.size, data: btoa(bin) });
  }
  showPending();
}

function showPending() {
  attachments.replaceChildren(...documentList(pending, (i) => {
    pending.splice(i, 1);
    showPending();
  }).children);
  attachments.hidden = pending.length === 0;
}

$('attach').addEventListener('click', () => attachInput.click());
attachInput.addEventListener('change', () => {
  attach([...attachInput.files]);
  attachInput.value = '';
});

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
  showToolsSwitch();
  showMCP();
  // A server's tools come and go (it fails, restarts, or changes its list): keep the
  // list current while the page is open.
  setInterval(() => document.visibilityState === 'visible' && refreshMCP(), 10000);
});

// refreshMCP fetches /api/config again and redraws the MCP servers.
async function refreshMCP() {
  if (!config || !mcpServers().length) return;
  try {
    const c = await apiJSON('/api/config');
    config = { ...config, mcp_servers: c.mcp_servers };
    showMCP();
  } catch {
    // Offline for a moment: the list stays as it was.
  }
}

// showMCP lists the MCP servers under the tool switch, each with a switch of its own,
// its state (a failing one says why) and the tools it offers now. Everything is text:
// names and descriptions come from the servers.
function showMCP() {
  const box = $('mcp-tools');
  const servers = mcpServers();
  box.hidden = servers.length === 0;
  box.replaceChildren(
    ...servers.map((s) => {
      const row = el('div', 'mcp-server ' + String(s.state));
      row.dataset.name = String(s.name);
      const label = el('label', 'check');
      const input = document.createElement('input');
      input.type = 'checkbox';
      input.checked = settings.mcp.includes(s.group);
      input.addEventListener('change', () => {
        settings.mcp = settings.mcp.filter((g) => g !== s.group);
        if (input.checked) settings.mcp.push(s.group);
        saveSettings();
      });
      label.append(input, el('span', 'mcp-name', 'Use ' + s.name));
      const tools = Array.isArray(s.tools) ? s.tools : [];
      let state;
      if (s.state === 'connected') state = `${tools.length} tool${tools.length === 1 ? '' : 's'}`;
      else if (s.state === 'failing') state = `failing: ${s.error || 'unknown reason'}; retrying`;
      else state = 'starting…';
      row.append(label, el('span', 'mcp-state', state));
      const list = el('ul', 'mcp-tool-list');
      // Each tool by the server's own name for it; the name the model sees, and what the
      // tool does, on hover.
      const prefix = s.name + '__';
      for (const t of tools) {
        const name = String(t.name);
        const item = el('li', 'mcp-tool', name.startsWith(prefix) ? name.slice(prefix.length) : name);
        item.title = name + (t.description ? ': ' + t.description : '');
        list.append(item);
      }
      if (tools.length) row.append(list);
      return row;
    }),
  );
}

// showToolsSwitch offers the server's own tools when it has a knowledge base or notes.
function showToolsSwitch() {
  const box = $('use-tools');
  $('tools-switch').hidden = serverToolGroups().length === 0;
  box.checked = settings.useTools;
  box.addEventListener('change', () => {
    settings.useTools = box.checked;
    saveSettings();
  });
}
