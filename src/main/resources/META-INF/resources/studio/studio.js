import { api, json, followEvents, apiKey, setApiKey, imageUrl } from './api.js';

const $ = id => document.getElementById(id);
const form = $('form');
const FIELDS = ['model', 'prompt', 'negativePrompt', 'width', 'height', 'numInferenceSteps', 'guidanceScale',
  'scheduler', 'seed', 'numImages', 'initImage', 'strength', 'preview'];
const PAGE = 12;
let models = [];
let initImage = null;      // data: URL of the chosen init image
let current = null;        // { id, abort, prompt }
let nextCursor = null;

// ---------- models: defaults and limits ----------

async function loadModels() {
  const status = $('models-status');
  try {
    models = (await json(await api('/v1/models'))).models || [];
  } catch (e) {
    models = [];
    if (e.status === 401) {
      // asked for a key (see below); saving one loads the models again
      status.textContent = 'Paste an API key above to start.';
      status.hidden = false;
      return;
    }
  }
  if (!models.length) {
    status.textContent = 'No model is being served yet; waiting for a worker…';
    status.hidden = false;
    setTimeout(loadModels, 2000);
    return;
  }
  status.hidden = true;
  const select = $('model');
  const chosen = select.value;
  select.replaceChildren(...models.map(m => new Option(m.name, m.name)));
  if (chosen && models.some(m => m.name === chosen)) select.value = chosen;
  applyModel(true);
}

function model() {
  return models.find(m => m.name === $('model').value) || models[0];
}

/** Sets each control's limits (and, when asked, its value) from the model's card. */
function applyModel(withDefaults) {
  const m = model();
  if (!m) return;
  const { defaults: d, limits: l } = m;
  setLimits('width', l.minWidth, l.maxWidth, withDefaults && d.width);
  setLimits('height', l.minHeight, l.maxHeight, withDefaults && d.height);
  setLimits('numInferenceSteps', 1, l.maxSteps, withDefaults && d.numInferenceSteps);
  setLimits('numImages', 1, l.maxImages, withDefaults && 1);
  if (withDefaults) $('guidanceScale').value = d.guidanceScale;
  const scheduler = $('scheduler');
  const keep = withDefaults ? d.scheduler : scheduler.value;
  scheduler.replaceChildren(...m.schedulers.map(s => new Option(s, s)));
  scheduler.value = m.schedulers.includes(keep) ? keep : d.scheduler;
  $('img2img').hidden = !m.imageToImage;
  $('model-hint').textContent = `${l.minWidth}–${l.maxWidth} × ${l.minHeight}–${l.maxHeight} px, up to ${l.maxSteps} steps, ${l.maxImages} images`;
}

function setLimits(id, min, max, value) {
  const input = $(id);
  input.min = min;
  input.max = max;
  if (value !== false && value !== undefined) input.value = value;
}

// ---------- the request ----------

function number(id) {
  const raw = $(id).value.trim();
  if (raw === '') return undefined;
  const n = Number(raw);
  return Number.isFinite(n) ? n : raw;  // let the API name a field that is not a number
}

function request() {
  const body = { model: $('model').value, prompt: $('prompt').value };
  const negative = $('negativePrompt').value;
  if (negative) body.negativePrompt = negative;
  for (const id of ['width', 'height', 'numInferenceSteps', 'guidanceScale', 'numImages']) {
    const v = number(id);
    if (v !== undefined) body[id] = v;
  }
  body.scheduler = $('scheduler').value;
  if (!$('randomSeed').checked && $('seed').value.trim() !== '') body.seed = $('seed').value.trim();
  if (initImage && model()?.imageToImage) {
    body.initImage = initImage;
    body.strength = Number($('strength').value);
  }
  body.preview = $('preview').value;
  return body;
}

function clearErrors() {
  document.querySelectorAll('[data-error-for]').forEach(p => { p.textContent = ''; });
  document.querySelectorAll('[aria-invalid]').forEach(el => el.removeAttribute('aria-invalid'));
}

/** Shows a 400 next to the field it names (the form's own line for anything else). */
function showError(error) {
  const field = error.body?.field;
  const known = FIELDS.includes(field) ? field : 'body';
  const slot = document.querySelector(`[data-error-for="${known}"]`);
  slot.textContent = error.message;
  const control = $(known);
  if (control) {
    control.setAttribute('aria-invalid', 'true');
    control.focus();
  }
}

form.addEventListener('submit', async event => {
  event.preventDefault();
  clearErrors();
  const body = request();
  const button = $('generate');
  button.disabled = true;
  const clickedAt = performance.now();
  try {
    const job = await json(await api('/v1/jobs', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    }));
    start(job, clickedAt);
  } catch (e) {
    if (e.status === 400) showError(e);
    else document.querySelector('[data-error-for="body"]').textContent =
      e.status === 503 ? `The service is busy or a dependency is down; try again in ${e.retryAfter || 5} s.` : e.message;
  } finally {
    button.disabled = false;
  }
});

// ---------- a running job ----------

function start(job, clickedAt) {
  if (current) current.abort.abort();
  const run = $('run');
  const abort = new AbortController();
  current = { id: job.id, abort, prompt: job.parameters.prompt };
  const steps = new Set();
  let previews = 0;
  let resumes = 0;
  $('run-empty').hidden = true;
  $('run-active').hidden = false;
  $('results').replaceChildren();
  $('run-error').textContent = '';
  $('run-prompt').textContent = job.parameters.prompt;
  $('cancel').disabled = false;
  $('cancel').hidden = false;
  $('preview-image').hidden = true;
  document.querySelector('.preview-frame').hidden = false;
  $('preview-placeholder').hidden = false;
  $('preview-placeholder').textContent = job.parameters.preview === 'none' ? 'previews are off for this job' : 'waiting for the first step…';
  $('connection').hidden = true;
  setStatus(job.status);
  setProgress(0, job.progress.totalSteps, null);
  run.dataset.job = job.id;
  run.dataset.state = 'running';
  run.dataset.steps = '0';
  run.dataset.previews = '0';
  run.dataset.resumes = '0';
  delete run.dataset.firstPreviewMs;

  followEvents(job.id, {
    signal: abort.signal,
    onConnection(state, attempt) {
      const note = $('connection');
      if (state === 'lost') {
        note.textContent = `Connection lost; resuming (try ${attempt})…`;
        note.hidden = false;
      } else if (state === 'open' && attempt > 0) {
        resumes++;
        run.dataset.resumes = String(resumes);
        note.textContent = `Reconnected; resumed where the stream stopped (${resumes}×).`;
      }
    },
    onEvent(type, e) {
      if (type === 'started') setStatus('RUNNING');
      if (type === 'progress') {
        setStatus('RUNNING');
        steps.add(`${e.attempt}:${e.step}`);
        run.dataset.steps = String(steps.size);
        run.dataset.lastStep = String(e.step);
        setProgress(e.step, e.totalSteps, e.etaMs);
        if (e.preview) {
          const img = $('preview-image');
          img.src = `data:image/png;base64,${e.preview}`;
          img.alt = `Live preview, step ${e.step} of ${e.totalSteps}`;
          img.hidden = false;
          $('preview-placeholder').hidden = true;
          previews++;
          run.dataset.previews = String(previews);
          if (previews === 1) run.dataset.firstPreviewMs = String(Math.round(performance.now() - clickedAt));
        }
      }
      if (type === 'succeeded' || type === 'failed' || type === 'cancelled') finish(job.id, type, e);
    },
  });
}

function setStatus(status) {
  const badge = $('run-status');
  badge.textContent = status;
  badge.className = `badge ${status.toLowerCase()}`;
}

function setProgress(step, total, etaMs) {
  const bar = $('progress');
  bar.max = Math.max(total, 1);
  bar.value = step;
  $('progress-steps').textContent = `step ${step} / ${total}`;
  $('progress-eta').textContent = etaMs == null ? '' : etaMs > 0 ? `ETA ${(etaMs / 1000).toFixed(1)} s` : '';
}

async function finish(id, type, event) {
  if (!current || current.id !== id) return;
  const run = $('run');
  $('cancel').hidden = true;
  $('connection').hidden = true;
  setStatus(type.toUpperCase());
  let job;
  try {
    job = await json(await api(`/v1/jobs/${id}`));
  } catch (e) {
    $('run-error').textContent = e.message;
    return;
  }
  if (type === 'failed') $('run-error').textContent = `${event.code || job.error?.code}: ${event.message || job.error?.message}`;
  if (type === 'cancelled') $('run-error').textContent = `Cancelled at step ${job.progress.step} of ${job.progress.totalSteps}.`;
  if (type === 'succeeded') {
    setProgress(job.progress.totalSteps, job.progress.totalSteps, 0);
    document.querySelector('.preview-frame').hidden = true;
    $('results').replaceChildren(...(job.images || []).map(image => result(job, image)));
  }
  run.dataset.state = type;
  prependToGallery(job);
}

function result(job, image) {
  const p = job.parameters;
  const figure = document.createElement('figure');
  figure.className = 'result';
  const img = document.createElement('img');
  show(img, 'src', image.url);
  img.alt = `${p.prompt} (seed ${image.seed})`;
  img.width = p.width;
  img.height = p.height;
  const caption = document.createElement('figcaption');
  const seed = document.createElement('span');
  seed.className = 'seed';
  seed.textContent = `seed ${image.seed}`;
  const actions = document.createElement('div');
  actions.className = 'actions';
  const download = document.createElement('a');
  show(download, 'href', image.url);
  download.download = `denoise-${job.id.slice(0, 8)}-${image.index}.png`;
  download.textContent = 'Download';
  download.className = 'button ghost small';
  actions.append(download,
    button('Use as init image', () => useAsInit(image.url)),
    button('Reuse these settings', () => reuse(p, image.seed)));
  caption.append(seed, actions);
  figure.append(img, caption);
  return figure;
}

/** Points an element's attribute at an API image (fetched with the key); data-src keeps the API path. */
function show(el, attribute, path) {
  el.dataset.src = path;
  imageUrl(path).then(url => { el[attribute] = url; }).catch(() => el.classList.add('broken'));
}

function button(text, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = 'ghost small';
  b.textContent = text;
  b.addEventListener('click', onClick);
  return b;
}

$('cancel').addEventListener('click', async () => {
  if (!current) return;
  $('cancel').disabled = true;
  try {
    await json(await api(`/v1/jobs/${current.id}`, { method: 'DELETE' }));
  } catch (e) {
    if (e.status !== 409) $('run-error').textContent = e.message;
  }
});

// ---------- reuse and image-to-image ----------

function reuse(p, seed) {
  const m = models.find(x => x.name === p.model) ? p.model : $('model').value;
  $('model').value = m;
  applyModel(false);
  $('prompt').value = p.prompt;
  $('negativePrompt').value = p.negativePrompt || '';
  $('width').value = p.width;
  $('height').value = p.height;
  $('numInferenceSteps').value = p.numInferenceSteps;
  $('guidanceScale').value = p.guidanceScale;
  $('scheduler').value = p.scheduler;
  $('numImages').value = seed === undefined ? p.numImages : 1;
  $('randomSeed').checked = false;
  $('seed').disabled = false;
  $('seed').value = String(seed ?? p.seed);
  if (p.preview) $('preview').value = p.preview === 'none' ? 'approx' : p.preview;
  $('prompt').focus();
  form.scrollIntoView({ behavior: 'smooth', block: 'start' });
}

async function useAsInit(url) {
  const blob = await (await api(url)).blob();
  setInit(await dataUrl(blob));
  form.scrollIntoView({ behavior: 'smooth', block: 'start' });
}

function dataUrl(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

function setInit(url) {
  initImage = url;
  $('init-thumb').src = url || '';
  $('init-preview').hidden = !url;
  if (!url) $('initImage').value = '';
}

$('initImage').addEventListener('change', async () => {
  const file = $('initImage').files[0];
  setInit(file ? await dataUrl(file) : null);
});
$('clear-init').addEventListener('click', () => setInit(null));
$('strength').addEventListener('input', () => { $('strength-value').textContent = Number($('strength').value).toFixed(2); });
$('randomSeed').addEventListener('change', () => {
  $('seed').disabled = $('randomSeed').checked;
  if (!$('randomSeed').checked && !$('seed').value) $('seed').value = String(Math.floor(Math.random() * 2 ** 32));
});
$('model').addEventListener('change', () => applyModel(true));

// ---------- gallery ----------

async function loadGallery(more) {
  const params = new URLSearchParams({ limit: String(PAGE) });
  if (more && nextCursor) params.set('cursor', nextCursor);
  let page;
  try {
    page = await json(await api(`/v1/jobs?${params}`));
  } catch (e) {
    return;
  }
  const grid = $('gallery-grid');
  const cards = page.jobs.map(card);
  if (more) grid.append(...cards); else grid.replaceChildren(...cards);
  nextCursor = page.nextCursor || null;
  $('more').hidden = !nextCursor;
}

function prependToGallery(job) {
  const grid = $('gallery-grid');
  grid.querySelector(`[data-job="${job.id}"]`)?.remove();
  grid.prepend(card(job));
}

function card(job) {
  const p = job.parameters;
  const el = document.createElement('article');
  el.className = 'tile';
  el.dataset.job = job.id;
  const thumbs = document.createElement('div');
  thumbs.className = 'thumbs';
  if (job.images?.length) {
    for (const image of job.images.slice(0, 4)) {
      const img = document.createElement('img');
      show(img, 'src', image.url);
      img.alt = `${p.prompt} (seed ${image.seed})`;
      thumbs.append(img);
    }
  } else {
    const none = document.createElement('div');
    none.className = 'placeholder';
    none.textContent = job.status === 'RUNNING' ? `step ${job.progress.step} / ${job.progress.totalSteps}` : job.status.toLowerCase();
    thumbs.append(none);
  }
  const body = document.createElement('div');
  body.className = 'tile-body';
  const badge = document.createElement('span');
  badge.className = `badge ${job.status.toLowerCase()}`;
  badge.textContent = job.status;
  const prompt = document.createElement('p');
  prompt.className = 'tile-prompt';
  prompt.textContent = p.prompt;
  const recipe = document.createElement('p');
  recipe.className = 'recipe';
  recipe.textContent = `${job.model} · ${p.width}×${p.height} · ${p.numInferenceSteps} steps · ${p.scheduler} · cfg ${p.guidanceScale} · seed ${p.seed}`
    + (p.numImages > 1 ? ` · ${p.numImages} images` : '') + (p.initImage ? ` · img2img ${p.strength}` : '');
  const when = document.createElement('time');
  when.dateTime = job.timings.createdAt;
  when.textContent = new Date(job.timings.createdAt).toLocaleString();
  body.append(badge, prompt, recipe, when, button('Reuse these settings', () => reuse({ ...p, model: job.model })));
  el.append(thumbs, body);
  return el;
}

$('refresh').addEventListener('click', () => loadGallery(false));
$('more').addEventListener('click', () => loadGallery(true));

// ---------- the API key ----------

function askForKey(message) {
  const form = $('key-form');
  if (message) $('key-hint').textContent = message;
  form.hidden = false;
  $('api-key').focus();
}

window.addEventListener('denoise:unauthorized', () => askForKey(apiKey()
  ? 'The service refused this key (unknown or revoked). Paste another one.'
  : 'Every request needs a key. The local run writes one to .denoise/api-key; it stays in this browser only.'));
$('change-key').addEventListener('click', e => { e.preventDefault(); askForKey(); });
$('key-form').addEventListener('submit', e => {
  e.preventDefault();
  setApiKey($('api-key').value);
  $('api-key').value = '';
  $('key-form').hidden = true;
  loadModels();
  loadGallery(false);
});

loadModels();
loadGallery(false);
