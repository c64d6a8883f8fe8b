// Pieces shared by the pages: the configuration banner, inline errors, the API-key
// button and the small print under an answer. Everything is built with DOM calls and
// textContent; no string of HTML is assembled here.

import { loadConfig, askForAPIKey, apiKey } from './api.js';

export const NO_PROVIDER_FIX =
  'No model provider is configured: set GENAI_PROVIDER=bedrock with AWS credentials, ' +
  'or GENAI_OPENAI_BASE_URL=http://localhost:11434/v1 for Ollama';

/** el creates an element with a class and text. */
export function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text != null) e.textContent = text;
  return e;
}

/** showBanner shows a message at the top of the page; kind is "error" or "info". */
export function showBanner(message, kind = 'error') {
  const banner = document.getElementById('banner');
  if (!banner) return;
  const text = message.charAt(0).toUpperCase() + message.slice(1);
  banner.replaceChildren(el('strong', null, kind === 'error' ? 'Not ready. ' : ''), el('span', null, text));
  banner.className = 'banner ' + kind;
  banner.hidden = false;
}

const titles = {
  no_provider: 'No model provider',
  unauthorized: 'API key needed',
  network: 'Server unreachable',
  too_large: 'Too large',
  unsupported_media_type: 'Unsupported file',
  rate_limited: 'Too many requests',
  throttled: 'The model provider is busy',
  upstream_error: 'The model provider failed',
  timeout: 'Timed out',
  unavailable: 'Unavailable',
  invalid_request: 'Invalid request',
};

/** errorBox returns an inline alert showing err's code and the server's message. */
export function errorBox(err) {
  const code = err?.code || 'error';
  const box = el('div', 'error-box' + (code === 'no_provider' ? ' prominent' : ''));
  box.setAttribute('role', 'alert');
  box.append(el('strong', null, (titles[code] || 'Error') + ': '), el('span', null, err?.message || String(err)));
  if (code === 'throttled' || code === 'rate_limited') {
    box.append(el('span', null, ' Wait a moment and retry.'));
  }
  return box;
}

/** usageText describes a done event's stop reason and token usage, or returns "". */
export function usageText(done) {
  const parts = [];
  const u = done?.usage;
  if (u && (u.input_tokens || u.output_tokens)) {
    parts.push(`${u.input_tokens ?? 0} in · ${u.output_tokens ?? 0} out tokens`);
  }
  return parts.join(' · ');
}

/** stopNote explains a stop reason other than a normal end, or returns "". */
export function stopNote(reason) {
  switch (reason) {
    case 'max_tokens':
      return 'Cut off: the answer reached the max tokens limit.';
    case 'guardrail_intervened':
      return 'Blocked by the guardrail: the text above is its message, not the model’s answer.';
    case 'content_filter':
      return 'The provider filtered this answer.';
    case 'max_steps':
      return 'Stopped at the step limit: the model still wanted to use tools.';
    default:
      return '';
  }
}

/**
 * initPage wires the navigation's API-key button and loads /api/config. It shows the
 * no-provider banner when needChat (the default) and chat is off, a vision banner when
 * needVision and the model cannot see images, a notes banner when needNotes and the
 * server has no notes store, and a knowledge-base banner when needKB and the server has
 * none. It resolves to the config, or null when it failed to load.
 */
export async function initPage({ needChat = true, needVision = false, needNotes = false, needKB = false } = {}) {
  const keyButton = document.getElementById('key-button');
  keyButton?.addEventListener('click', () => askForAPIKey('Change or forget the API key this browser sends.'));
  let config = null;
  try {
    config = await loadConfig();
  } catch (err) {
    showBanner(err.message);
    return null;
  }
  if (keyButton) keyButton.hidden = !(config.auth || apiKey());
  if (needKB && config.features && config.features.kb === false) {
    showBanner('This server has no knowledge base, so documents cannot be added or asked here.');
  } else if (needNotes && config.features && config.features.notes === false) {
    showBanner('This server has no notes store, so notes cannot be added or searched here.');
  } else if (needChat && config.features && config.features.chat === false) {
    showBanner(config.no_provider_fix || NO_PROVIDER_FIX);
  } else if (needVision && config.features && config.features.vision === false) {
    showBanner(`The configured model (${config.chat_model || 'unknown'}) does not accept images.`);
  }
  return config;
}

/** nearBottom reports whether the page is scrolled to (almost) its end. */
export function nearBottom() {
  const doc = document.scrollingElement || document.documentElement;
  return doc.scrollHeight - doc.scrollTop - doc.clientHeight < 80;
}

export function scrollToBottom() {
  const doc = document.scrollingElement || document.documentElement;
  doc.scrollTop = doc.scrollHeight;
}
