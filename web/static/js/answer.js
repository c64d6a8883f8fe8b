// AnswerPanel shows one streamed answer (the image and mirror pages): the rendered
// text, its state, usage, Copy, and the Ask/Stop buttons that go with it.

import { streamChat, isAbort } from './api.js';
import { MarkdownView, copyWithFeedback } from './markdown.js';
import { errorBox, usageText, stopNote, el } from './ui.js';

export class AnswerPanel {
  /**
   * @param {object} parts elements: section (the panel), body (the answer text),
   *   status, meta, ask (button), stop (button)
   */
  constructor(parts) {
    Object.assign(this, parts);
    this.controller = null;
    this.text = '';
    this.stop.addEventListener('click', () => this.abort());
  }

  get running() {
    return this.controller !== null;
  }

  abort() {
    this.controller?.abort();
  }

  /** run streams the answer to the request body. */
  async run(body) {
    if (this.running) return;
    const controller = new AbortController();
    this.controller = controller;
    this.text = '';
    this.section.hidden = false;
    this.section.setAttribute('aria-busy', 'true');
    this.section.classList.add('streaming');
    this.body.replaceChildren(el('span', 'typing', 'Thinking…'));
    this.status.replaceChildren();
    this.meta.replaceChildren();
    this.ask.hidden = true;
    this.stop.hidden = false;
    const view = new MarkdownView(this.body);
    let done = null;
    let problem = null;
    try {
      done = await streamChat(body, {
        signal: controller.signal,
        onDelta: (t) => {
          this.text += t;
          view.set(this.text);
        },
      });
    } catch (err) {
      problem = isAbort(err) || controller.signal.aborted ? 'stopped' : err;
    } finally {
      this.controller = null;
      if (this.text) view.finish(this.text);
      else this.body.replaceChildren();
      this.section.setAttribute('aria-busy', 'false');
      this.section.classList.remove('streaming');
      this.ask.hidden = false;
      this.stop.hidden = true;
      if (problem === 'stopped') this.status.append(el('p', 'msg-status', 'Stopped.'));
      else if (problem) this.status.append(errorBox(problem));
      else if (stopNote(done?.stop_reason)) this.status.append(el('p', 'msg-status', stopNote(done.stop_reason)));
      const usage = usageText(done);
      if (usage) this.meta.append(el('span', 'usage', usage));
      if (this.text) {
        const copy = el('button', 'link-button copy', 'Copy');
        copy.type = 'button';
        copy.addEventListener('click', () => copyWithFeedback(copy, this.text));
        this.meta.append(copy);
      }
    }
  }
}
