// The client of the genai HTTP API: API-key handling, JSON errors, JSON calls, /api/config
// and the Server-Sent Events stream of /api/chat read over fetch (EventSource cannot POST).

const KEY_STORAGE = 'genai.apiKey';

/** APIError is a failed API call: the server's {"error":{code,message}} and the status. */
export class APIError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'APIError';
    this.status = status;
    this.code = code;
  }
}

/** isAbort reports whether err is the rejection of an aborted fetch or read. */
export function isAbort(err) {
  return err?.name === 'AbortError';
}

export function apiKey() {
  try {
    return localStorage.getItem(KEY_STORAGE) || '';
  } catch {
    return '';
  }
}

export function setAPIKey(key) {
  try {
    if (key) localStorage.setItem(KEY_STORAGE, key);
    else localStorage.removeItem(KEY_STORAGE);
  } catch {
    // Storage disabled: the key lasts for this page only.
  }
  sessionKey = key;
}

let sessionKey = '';
const currentKey = () => apiKey() || sessionKey;

// Several requests may get a 401 at once; they share one dialog.
let pendingPrompt = null;

/**
 * askForAPIKey shows the API-key dialog and resolves to true when a key was saved.
 * @param {string} reason shown above the field
 */
export function askForAPIKey(reason) {
  pendingPrompt ??= keyDialog(reason).finally(() => {
    pendingPrompt = null;
  });
  return pendingPrompt;
}

function keyDialog(reason) {
  return new Promise((resolve) => {
    const dialog = document.createElement('dialog');
    dialog.className = 'key-dialog';
    dialog.setAttribute('aria-labelledby', 'key-dialog-title');
    const form = document.createElement('form');
    form.method = 'dialog';
    const title = document.createElement('h2');
    title.id = 'key-dialog-title';
    title.textContent = 'API key';
    const why = document.createElement('p');
    why.textContent = reason;
    const label = document.createElement('label');
    label.htmlFor = 'key-dialog-input';
    label.textContent = 'Key (sent as Authorization: Bearer …, kept in this browser)';
    const input = document.createElement('input');
    input.id = 'key-dialog-input';
    input.type = 'password';
    input.autocomplete = 'off';
    input.required = true;
    input.value = currentKey();
    const buttons = document.createElement('div');
    buttons.className = 'dialog-buttons';
    const cancel = document.createElement('button');
    cancel.type = 'button';
    cancel.textContent = 'Cancel';
    const forget = document.createElement('button');
    forget.type = 'button';
    forget.textContent = 'Forget key';
    forget.hidden = !currentKey();
    const save = document.createElement('button');
    save.type = 'submit';
    save.className = 'primary';
    save.textContent = 'Save';
    buttons.append(forget, cancel, save);
    form.append(title, why, label, input, buttons);
    dialog.append(form);
    document.body.append(dialog);

    let saved = false;
    cancel.addEventListener('click', () => dialog.close());
    forget.addEventListener('click', () => {
      setAPIKey('');
      dialog.close();
    });
    form.addEventListener('submit', () => {
      const key = input.value.trim();
      if (key) {
        setAPIKey(key);
        saved = true;
      }
    });
    const previous = document.activeElement;
    dialog.addEventListener('close', () => {
      dialog.remove();
      // Hand the keyboard back explicitly, once the dialog is gone: Chromium restores
      // focus to the element focused before, but leaves typing into it inert.
      requestAnimationFrame(() => {
        if (!(previous instanceof HTMLElement) || !previous.isConnected) return;
        previous.blur();
        previous.focus();
      });
      resolve(saved);
    });
    dialog.showModal();
    input.focus();
  });
}

async function errorFrom(res) {
  let body = null;
  try {
    body = await res.json();
  } catch {
    // Not JSON: a proxy's error page, say.
  }
  const e = body?.error;
  if (e && typeof e.message === 'string') {
    return new APIError(res.status, String(e.code || 'error'), e.message);
  }
  return new APIError(res.status, 'http_' + res.status, `The server answered ${res.status} ${res.statusText}`.trim());
}

/**
 * apiFetch is fetch for the API: it sends the stored API key, turns a non-2xx answer into
 * an APIError and, on 401, asks for a key and tries again.
 */
export async function apiFetch(path, init = {}) {
  for (let attempt = 0; ; attempt++) {
    const headers = new Headers(init.headers);
    const key = currentKey();
    if (key) headers.set('Authorization', 'Bearer ' + key);
    let res;
    try {
      res = await fetch(path, { ...init, headers });
    } catch (err) {
      if (isAbort(err)) throw err;
      throw new APIError(0, 'network', 'Could not reach the server. Is it running? (' + err.message + ')');
    }
    if (res.ok) return res;
    const err = await errorFrom(res);
    if (res.status === 401 && attempt < 3) {
      const reason = key
        ? 'The server rejected the API key. Enter a valid key.'
        : 'This server requires an API key.';
      if (await askForAPIKey(reason)) continue;
    }
    throw err;
  }
}

/**
 * apiJSON sends body (when given) as JSON to path and resolves to the decoded answer, or
 * to null for an answer without a body (204). Errors are APIErrors, as with apiFetch.
 */
export async function apiJSON(path, { method = 'GET', body, signal } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await apiFetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });
  if (res.status === 204) return null;
  const text = await res.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    throw new APIError(res.status, 'bad_response', `The server answered ${method} ${path} with something that is not JSON.`);
  }
}

let configPromise = null;

/** loadConfig resolves to GET /api/config, fetched once per page. */
export function loadConfig() {
  configPromise ??= apiFetch('/api/config', { headers: { Accept: 'application/json' } }).then((r) => r.json());
  configPromise.catch(() => {
    configPromise = null;
  });
  return configPromise;
}

/**
 * readEvents yields the events of a text/event-stream body as {event, data}.
 * It follows the SSE rules: "data" lines join with \n, ":" lines are comments, an
 * empty line dispatches, and lines end with \n, \r\n or \r.
 */
export async function* readEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  let event = '';
  let data = [];
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += value;
      let m;
      // A lone \r at the end may be the first half of \r\n: wait for more.
      while ((m = /\r\n|\n|\r(?=[^\n])/.exec(buf))) {
        const line = buf.slice(0, m.index);
        buf = buf.slice(m.index + m[0].length);
        if (line === '') {
          if (data.length) yield { event: event || 'message', data: data.join('\n') };
          event = '';
          data = [];
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let val = colon < 0 ? '' : line.slice(colon + 1);
        if (val.startsWith(' ')) val = val.slice(1);
        if (field === 'event') event = val;
        else if (field === 'data') data.push(val);
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

/**
 * streamChat posts body to /api/chat and calls onStart, onDelta(text) and onDone as the
 * answer streams, and, when the server runs its own tools, onTool(event, data) for each
 * tool_use, tool_use_end and tool_result event and onCitations(list) for the sources a
 * tool found, and onThinking(text) for the model's reasoning when thinking is on. It resolves to the done event's data and rejects with an APIError (an HTTP
 * error, or an error event in the stream) or, when signal aborts, an AbortError.
 */
export async function streamChat(body, { signal, onStart, onDelta, onDone, onTool, onCitations, onThinking } = {}) {
  const res = await apiFetch('/api/chat', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream' },
    body: JSON.stringify({ ...body, stream: true }),
    signal,
  });
  if (!(res.headers.get('Content-Type') || '').startsWith('text/event-stream')) {
    // A server that ignored stream:true answered with one JSON object.
    const whole = await res.json();
    onStart?.(whole);
    const thought = (whole.content || []).filter((b) => b.type === 'thinking').map((b) => b.thinking).join('');
    if (thought) onThinking?.(thought);
    const text = (whole.content || []).filter((b) => b.type === 'text').map((b) => b.text).join('');
    if (text) onDelta?.(text);
    const done = { stop_reason: whole.stop_reason, usage: whole.usage };
    onDone?.(done);
    return done;
  }
  for await (const ev of readEvents(res.body)) {
    let data;
    try {
      data = JSON.parse(ev.data);
    } catch {
      throw new APIError(res.status, 'bad_stream', 'The server sent a stream event that is not JSON.');
    }
    switch (ev.event) {
      case 'start':
        onStart?.(data);
        break;
      case 'delta':
        if (typeof data.text === 'string' && data.text) onDelta?.(data.text);
        break;
      case 'tool_use':
      case 'tool_use_end':
      case 'tool_result':
        onTool?.(ev.event, data);
        break;
      case 'citations':
        if (Array.isArray(data.citations)) onCitations?.(data.citations);
        break;
      case 'thinking':
        if (typeof data.text === 'string' && data.text) onThinking?.(data.text);
        break;
      case 'done':
        onDone?.(data);
        return data;
      case 'error':
        throw new APIError(res.status, data.error?.code || 'upstream_error', data.error?.message || 'The answer failed.');
    }
  }
  if (signal?.aborted) throw new DOMException('The answer was stopped.', 'AbortError');
  throw new APIError(res.status, 'incomplete', 'The connection closed before the answer was complete.');
}

/**
 * streamKBAnswer posts body to /api/kb/answer and calls onCitations(list, data) for each
 * citations event and onDelta(text) for each piece of the answer. It resolves to the done
 * event's data ({session_id, stop_reason, usage, extractive}) and rejects as streamChat
 * does. A server that answers with one JSON object ({answer, citations, session_id}) is
 * read the same way.
 */
export async function streamKBAnswer(body, { signal, onCitations, onDelta } = {}) {
  const res = await apiFetch('/api/kb/answer', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream' },
    body: JSON.stringify({ ...body, stream: true }),
    signal,
  });
  if (!(res.headers.get('Content-Type') || '').startsWith('text/event-stream')) {
    const whole = await res.json();
    if (Array.isArray(whole.citations)) onCitations?.(whole.citations, whole);
    if (typeof whole.answer === 'string' && whole.answer) onDelta?.(whole.answer);
    return { session_id: whole.session_id, stop_reason: whole.stop_reason, usage: whole.usage, extractive: whole.extractive };
  }
  for await (const ev of readEvents(res.body)) {
    let data;
    try {
      data = JSON.parse(ev.data);
    } catch {
      throw new APIError(res.status, 'bad_stream', 'The server sent a stream event that is not JSON.');
    }
    switch (ev.event) {
      case 'citations':
        if (Array.isArray(data.citations)) onCitations?.(data.citations, data);
        break;
      case 'delta':
        if (typeof data.text === 'string' && data.text) onDelta?.(data.text);
        break;
      case 'done':
        return data;
      case 'error':
        throw new APIError(res.status, data.error?.code || 'upstream_error', data.error?.message || 'The answer failed.');
    }
  }
  if (signal?.aborted) throw new DOMException('The answer was stopped.', 'AbortError');
  throw new APIError(res.status, 'incomplete', 'The connection closed before the answer was complete.');
}

/**
 * uploadFiles posts files as multipart "file" parts to path and resolves to the decoded
 * answer. It uses XMLHttpRequest, the one browser API that reports upload progress:
 * onProgress(fraction) is called as the bytes leave, and onSent() once they all have (the
 * server is then reading them). Errors are APIErrors; on 401 it asks for a key and tries
 * again, as apiFetch does. When signal aborts, it rejects with an AbortError.
 */
export async function uploadFiles(path, files, { signal, onProgress, onSent } = {}) {
  for (let attempt = 0; ; attempt++) {
    const key = currentKey();
    const { status, statusText, text } = await new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('POST', path);
      xhr.setRequestHeader('Accept', 'application/json');
      if (key) xhr.setRequestHeader('Authorization', 'Bearer ' + key);
      xhr.upload.addEventListener('progress', (e) => {
        if (e.lengthComputable && e.total > 0) onProgress?.(e.loaded / e.total);
      });
      xhr.upload.addEventListener('load', () => onSent?.());
      xhr.addEventListener('load', () => resolve({ status: xhr.status, statusText: xhr.statusText, text: xhr.responseText }));
      xhr.addEventListener('error', () =>
        reject(new APIError(0, 'network', 'Could not reach the server. Is it running?')),
      );
      xhr.addEventListener('abort', () => reject(new DOMException('The upload was stopped.', 'AbortError')));
      if (signal?.aborted) {
        reject(new DOMException('The upload was stopped.', 'AbortError'));
        return;
      }
      signal?.addEventListener('abort', () => xhr.abort(), { once: true });
      const form = new FormData();
      for (const f of files) form.append('file', f, f.name);
      xhr.send(form);
    });
    let body = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      // Not JSON: a proxy's error page, say.
    }
    if (status >= 200 && status < 300) return body;
    const e = body?.error;
    const err =
      e && typeof e.message === 'string'
        ? new APIError(status, String(e.code || 'error'), e.message)
        : new APIError(status, 'http_' + status, `The server answered ${status} ${statusText}`.trim());
    if (status === 401 && attempt < 3) {
      const reason = key ? 'The server rejected the API key. Enter a valid key.' : 'This server requires an API key.';
      if (await askForAPIKey(reason)) continue;
    }
    throw err;
  }
}
