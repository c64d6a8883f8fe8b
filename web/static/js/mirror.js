// The mirror page: a webcam preview; a snapshot is sent to the model with a prompt and
// the answer streams in. Without a camera, a picked picture stands in for the snapshot.

import { AnswerPanel } from './answer.js';
import { imageProblem, imageBlock, MAX_IMAGE_BYTES } from './images.js';
import { initPage, el } from './ui.js';

const $ = (id) => document.getElementById(id);
const video = $('video');
const cameraStatus = $('camera-status');
const snap = $('snap');
const canvas = $('canvas');
const snapshotFigure = $('snapshot-figure');
const snapshotImg = $('snapshot');
const question = $('question');
const form = $('mirror-form');
const errors = $('file-errors');
const fallbackInput = $('fallback-file');

const panel = new AnswerPanel({
  section: $('answer-section'),
  body: $('answer'),
  status: $('answer-status'),
  meta: $('answer-meta'),
  ask: $('ask'),
  stop: $('stop'),
});
// The snapshot button stands for "ask" on this page; hide it while answering.
let cameraFailed = false;
new MutationObserver(() => {
  snap.hidden = panel.running || cameraFailed;
}).observe($('stop'), { attributes: true, attributeFilter: ['hidden'] });

let picture = null; // the Blob last sent, for "Ask again"
let pictureURL = '';

async function startCamera() {
  if (!navigator.mediaDevices?.getUserMedia) {
    cameraUnavailable(
      window.isSecureContext
        ? 'This browser cannot use a camera.'
        : 'The camera needs a secure page: open this site over https or on localhost.',
    );
    return;
  }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: 'user', width: { ideal: 1280 }, height: { ideal: 720 } },
      audio: false,
    });
    video.srcObject = stream;
    await video.play().catch(() => {});
    cameraStatus.hidden = true;
    snap.disabled = false;
  } catch (err) {
    const why = {
      NotAllowedError: 'Camera access was denied. Allow it in the browser’s site settings and reload, or choose a picture.',
      NotFoundError: 'No camera was found.',
      NotReadableError: 'The camera is in use by another application.',
      OverconstrainedError: 'The camera does not support the requested video.',
    };
    cameraUnavailable(why[err.name] || `The camera could not start (${err.message || err.name}).`);
  }
}

function cameraUnavailable(message) {
  cameraFailed = true;
  cameraStatus.textContent = message + ' You can choose a picture instead.';
  cameraStatus.classList.add('problem');
  cameraStatus.hidden = false;
  video.hidden = true;
  snap.hidden = true;
  $('fallback').hidden = false;
}

function showPicture(blob) {
  if (pictureURL) URL.revokeObjectURL(pictureURL);
  picture = blob;
  pictureURL = URL.createObjectURL(blob);
  snapshotImg.src = pictureURL;
  snapshotFigure.hidden = false;
}

function toJPEG(quality) {
  return new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', quality));
}

async function takeSnapshot() {
  if (!video.videoWidth) return;
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  // The preview is mirrored for the user; the model gets the scene as the camera sees it.
  canvas.getContext('2d').drawImage(video, 0, 0);
  let blob = await toJPEG(0.85);
  for (let q = 0.7; blob && blob.size > MAX_IMAGE_BYTES && q > 0.2; q -= 0.15) blob = await toJPEG(q);
  if (!blob) {
    errors.replaceChildren(el('p', null, 'Could not capture a picture from the camera.'));
    return;
  }
  showPicture(blob);
  ask();
}

async function ask() {
  if (!picture || panel.running) return;
  errors.replaceChildren();
  const text = question.value.trim() || 'Describe what you see in this picture.';
  const image = await imageBlock(picture);
  panel.run({ messages: [{ role: 'user', content: [image, { type: 'text', text }] }] });
}

snap.addEventListener('click', takeSnapshot);
form.addEventListener('submit', (e) => {
  e.preventDefault();
  ask();
});
$('pick').addEventListener('click', () => fallbackInput.click());
fallbackInput.addEventListener('change', () => {
  const file = fallbackInput.files[0];
  fallbackInput.value = '';
  if (!file) return;
  const problem = imageProblem(file);
  if (problem) {
    errors.replaceChildren(el('p', null, problem));
    return;
  }
  showPicture(file);
  ask();
});
question.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    if (picture) form.requestSubmit();
    else if (!snap.disabled && !snap.hidden) takeSnapshot();
  }
});

startCamera();
initPage({ needVision: true });
