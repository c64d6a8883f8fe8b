// The image page: pick, drop or paste images, ask a question about them, stream the answer.

import { AnswerPanel } from './answer.js';
import { imageProblem, imageBlock, formatSize, MAX_IMAGES } from './images.js';
import { initPage, el } from './ui.js';

const $ = (id) => document.getElementById(id);
const input = $('files');
const dropzone = $('dropzone');
const thumbs = $('thumbs');
const errors = $('file-errors');
const question = $('question');
const form = $('image-form');

const panel = new AnswerPanel({
  section: $('answer-section'),
  body: $('answer'),
  status: $('answer-status'),
  meta: $('answer-meta'),
  ask: $('ask'),
  stop: $('stop'),
});

let images = []; // {file, url}

function addFiles(files) {
  const problems = [];
  for (const file of files) {
    const problem = imageProblem(file);
    if (problem) {
      problems.push(problem);
    } else if (images.length >= MAX_IMAGES) {
      problems.push(`${file.name || 'An image'} was not added: at most ${MAX_IMAGES} images per question.`);
    } else {
      images.push({ file, url: URL.createObjectURL(file) });
    }
  }
  errors.replaceChildren(...problems.map((p) => el('p', null, p)));
  showThumbs();
}

function removeImage(i) {
  URL.revokeObjectURL(images[i].url);
  images.splice(i, 1);
  errors.replaceChildren();
  showThumbs();
  (thumbs.querySelectorAll('.remove')[Math.min(i, images.length - 1)] || $('pick')).focus();
}

function showThumbs() {
  thumbs.replaceChildren(
    ...images.map((im, i) => {
      const li = el('li', 'thumb');
      const img = el('img');
      img.src = im.url;
      img.alt = im.file.name || `Image ${i + 1}`;
      const caption = el('span', 'thumb-name', `${im.file.name || 'pasted image'} · ${formatSize(im.file.size)}`);
      const remove = el('button', 'remove', '×');
      remove.type = 'button';
      remove.setAttribute('aria-label', `Remove ${im.file.name || `image ${i + 1}`}`);
      remove.addEventListener('click', () => removeImage(i));
      li.append(img, caption, remove);
      return li;
    }),
  );
  dropzone.classList.toggle('has-images', images.length > 0);
}

$('pick').addEventListener('click', () => input.click());
input.addEventListener('change', () => {
  addFiles([...input.files]);
  input.value = ''; // choosing the same file again fires change again
});

// A file dropped anywhere but the drop zone would make the browser navigate to it.
for (const type of ['dragover', 'drop']) window.addEventListener(type, (e) => e.preventDefault());
dropzone.addEventListener('dragenter', () => dropzone.classList.add('dragging'));
dropzone.addEventListener('dragleave', (e) => {
  if (!dropzone.contains(e.relatedTarget)) dropzone.classList.remove('dragging');
});
dropzone.addEventListener('drop', (e) => {
  dropzone.classList.remove('dragging');
  addFiles([...(e.dataTransfer?.files || [])]);
});
document.addEventListener('paste', (e) => {
  const files = [...(e.clipboardData?.files || [])];
  if (files.length) {
    e.preventDefault();
    addFiles(files);
  }
});

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  if (panel.running) return;
  if (!images.length) {
    errors.replaceChildren(el('p', null, 'Add at least one image first.'));
    return;
  }
  const text = question.value.trim() || 'What is in this picture?';
  let blocks;
  try {
    blocks = await Promise.all(images.map((im) => imageBlock(im.file)));
  } catch (err) {
    errors.replaceChildren(el('p', null, 'Could not read an image: ' + err.message));
    return;
  }
  panel.run({ messages: [{ role: 'user', content: [...blocks, { type: 'text', text }] }] });
});
question.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    form.requestSubmit();
  }
});

initPage({ needVision: true });
