/* imagegw web page logic (SPEC 10, docs/usage.md). Talks only to this gateway, at URLs
   relative to the page's own directory, so it works under any base_path:
     GET healthz, GET v1/models, POST v1/images/generations (one model),
     POST v1/jobs + GET v1/jobs/{id} (several models), POST v1/images/edits (images
     attached: multipart, one request per model), POST v1/prompts/enhance,
     GET v1/gallery?limit=&before=, GET and DELETE v1/gallery/{id}.
   Text from the user or the server (prompts, errors) is only ever written with
   textContent / text nodes, never parsed as HTML. The API key lives in sessionStorage;
   localStorage holds only harmless preferences (sound, shortcuts, models picked). */
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const KEY_STORE = 'imagegw.apiKey';
  const PREFS_STORE = 'imagegw.prefs';

  /* The directory the page was served from: API paths are resolved against it. A path
     without a trailing slash whose last part has no dot (…/imagegw) is a directory. */
  const BASE = (() => {
    let p = location.pathname;
    const last = p.slice(p.lastIndexOf('/') + 1);
    if (last) p = last.includes('.') ? p.slice(0, p.length - last.length) : p + '/';
    return location.origin + p;
  })();

  /* ---- small helpers ---- */

  /* el('p', {class: 'x'}, 'text', child): string children become text nodes (never HTML). */
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : String(v));
    }
    e.append(...kids.filter((k) => k !== null && k !== undefined && k !== false && k !== ''));
    return e;
  }
  const plural = (n, word) => n + ' ' + word + (n === 1 ? '' : 's');
  const str = (v) => (typeof v === 'string' ? v : v === null || v === undefined ? '' : String(v));
  const secs = (ms) => (ms < 100 ? '< 0.1' : ms < 10000 ? (ms / 1000).toFixed(1) : Math.round(ms / 1000)) + ' s';
  const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
  const reducedMotion = () => matchMedia('(prefers-reduced-motion: reduce)').matches;

  /* Only same-page-safe links reach src/href: http(s) URLs and data:image URIs. */
  function safeUrl(u) {
    u = str(u);
    if (/^data:image\/(png|jpeg|webp);base64,/i.test(u)) return u;
    try {
      const x = new URL(u, BASE);
      return x.protocol === 'http:' || x.protocol === 'https:' ? x.href : '';
    } catch (e) {
      return '';
    }
  }
  function extOf(mimeOrUrl) {
    const m = /(png|jpe?g|webp)/i.exec(str(mimeOrUrl).split('?')[0]);
    return m ? m[1].toLowerCase().replace('jpeg', 'jpg') : 'png';
  }
  const slug = (s) => str(s).toLowerCase().replace(/[^a-z0-9.]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'image';

  const live = $('live');
  function announce(msg) {
    live.textContent = '';
    setTimeout(() => { live.textContent = msg; }, 50);
  }

  /* ---- preferences (localStorage: nothing secret) ---- */
  const prefs = (() => {
    try { return JSON.parse(localStorage.getItem(PREFS_STORE)) || {}; } catch (e) { return {}; }
  })();
  function savePrefs() {
    try { localStorage.setItem(PREFS_STORE, JSON.stringify(prefs)); } catch (e) { /* storage off */ }
  }

  /* ---- the API key: this tab's sessionStorage only ---- */
  const keyEl = $('key'), keyState = $('key-state'), keyBox = $('keybox');
  try {
    localStorage.removeItem(KEY_STORE); // never kept there; drop anything an old page left
    keyEl.value = sessionStorage.getItem(KEY_STORE) || '';
  } catch (e) { /* storage off: the key lives in the field only */ }
  function showKeyState() { keyState.textContent = keyEl.value.trim() ? 'set for this tab' : 'none'; }
  function storeKey() {
    try {
      if (keyEl.value.trim()) sessionStorage.setItem(KEY_STORE, keyEl.value.trim());
      else sessionStorage.removeItem(KEY_STORE);
    } catch (e) { /* storage off */ }
    showKeyState();
  }
  keyEl.addEventListener('input', storeKey);
  keyEl.addEventListener('change', () => { loadModels(); if (view === 'gallery') galleryReload(); });
  $('key-forget').addEventListener('click', () => {
    keyEl.value = '';
    storeKey();
    loadModels();
    announce('API key forgotten.');
    keyEl.focus();
  });
  showKeyState();
  if (keyEl.value) keyBox.open = false;

  /* ---- talking to the gateway ---- */

  /* api(method, path[, body]) -> {ok, status, json, headers} or {ok: false, status, error,
     retryAfter}; error is the gateway's envelope (message, remedy, code, request_id) or
     one made up here for a network failure or a reply that is not the gateway's JSON. */
  async function api(method, path, body) {
    const headers = {};
    const k = keyEl.value.trim();
    if (k) headers.Authorization = 'Bearer ' + k;
    const form = body instanceof FormData;
    if (body !== undefined && !form) headers['Content-Type'] = 'application/json';
    let r, j = null;
    try {
      // No `cache: 'no-store'`: Chromium would add Cache-Control: no-cache, which tells
      // the gateway to skip its response cache. Its GET answers are no-store anyway.
      r = await fetch(BASE + path, {
        method, headers,
        body: body === undefined || form ? body : JSON.stringify(body),
      });
    } catch (e) {
      return { ok: false, status: 0, error: {
        message: 'Could not reach the gateway.',
        remedy: 'Check that the gateway is running and this device is online, then retry.' } };
    }
    try { j = await r.json(); } catch (e) { j = null; }
    if (r.ok && j && typeof j === 'object') return { ok: true, status: r.status, json: j, headers: r.headers };
    const err = j && j.error && typeof j.error === 'object' ? j.error : {
      message: 'The gateway answered HTTP ' + r.status + ' without a readable error.',
      remedy: r.status >= 500
        ? 'The web server in front of the gateway failed; retry in a moment, or ask the operator to check its error log.'
        : 'Retry; if it keeps happening, ask the gateway operator.' };
    return { ok: false, status: r.status, error: err, retryAfter: r.headers.get('Retry-After') };
  }

  /* Fills an alert box with an error: message, remedy, Retry-After, code and request id,
     a Retry button (when retry is given) and, for a 401/403, a way to the key field. */
  function showError(box, err, retry, retryAfter, status) {
    const ids = [str(err.code), err.request_id ? 'request ' + str(err.request_id) : ''].filter(Boolean).join(' · ');
    const kids = [el('p', { class: 'title' }, str(err.message) || 'The request failed.')];
    if (err.remedy) kids.push(el('p', { class: 'remedy' }, el('strong', {}, 'What to do: '), str(err.remedy)));
    if (/^\d+$/.test(retryAfter || '')) kids.push(el('p', {}, 'The gateway asks to wait ' + plural(+retryAfter, 'second') + ' before retrying.'));
    if (ids) kids.push(el('p', { class: 'ids' }, ids));
    const buttons = el('p', { class: 'row' });
    if (retry) {
      const b = el('button', { type: 'button', class: 'secondary' }, 'Retry');
      b.addEventListener('click', () => {
        box.replaceChildren();
        retry();
      });
      buttons.append(b);
    }
    if (status === 401 || status === 403) {
      const b = el('button', { type: 'button', class: 'secondary' }, 'Enter an API key');
      b.addEventListener('click', () => { keyBox.open = true; keyEl.focus(); });
      buttons.append(b);
    }
    if (buttons.childNodes.length) kids.push(buttons);
    box.replaceChildren(...kids);
  }

  /* ---- gateway health ---- */
  async function loadHealth() {
    const box = $('health'), text = $('health-text');
    try {
      const r = await fetch(BASE + 'healthz', { cache: 'no-store' });
      const j = await r.json().catch(() => ({}));
      const ok = r.ok && j.status === 'ok';
      box.dataset.state = ok ? 'ok' : 'degraded';
      const ups = j.upstreams && typeof j.upstreams === 'object' ? j.upstreams : {};
      const real = Object.entries(ups).filter(([k, v]) => k !== 'local' && v === 'configured').map(([k]) => k);
      text.textContent = (ok ? 'Gateway ready' : 'Gateway degraded') + (real.length ? '' : ' · offline preview only');
    } catch (e) {
      box.dataset.state = 'down';
      text.textContent = 'Gateway unreachable';
    }
  }

  /* ---- the model picker: checkboxes from GET v1/models ---- */
  const modelList = $('model-list'), modelsSummary = $('models-summary'), modelsError = $('models-error');
  const showVariants = $('show-variants'), previewNote = $('preview-note');
  const nEl = $('n'), nHint = $('n-hint'), goBtn = $('go');
  /* Suffix variants of a family (-2k, -16x9, …): the resolution and ratio controls already
     ask for them, so they are hidden unless asked for (or selected). */
  const VARIANT = /^(gemini-3-pro-image|local-preview)-/;
  const GROUPS = { google: 'Gemini', openai: 'OpenAI', imagegw: 'Offline preview' };
  const DEFAULTS = ['gemini-3-pro-image', 'gpt-image-1', 'dall-e-3', 'local-preview'];
  let models = null; // [{id, owner}] once loaded; null when the list is unknown
  const isPreview = (id) => str(id).startsWith('local-preview');

  async function loadModels() {
    const before = selectedModels();
    modelsSummary.textContent = 'Loading models…';
    const res = await api('GET', 'v1/models');
    if (!res.ok || !Array.isArray(res.json.data)) {
      models = null;
      modelList.replaceChildren();
      showError(modelsError, res.ok ? { message: 'The gateway sent no model list.' } : res.error,
        loadModels, res.retryAfter, res.status);
      updateModels();
      return;
    }
    modelsError.replaceChildren();
    models = res.json.data.filter((m) => m && typeof m.id === 'string')
      .map((m) => ({ id: m.id, owner: str(m.owned_by) }));
    const ids = models.map((m) => m.id);
    let pick = (before.length ? before : prefs.models || []).filter((id) => ids.includes(id));
    if (!pick.length) pick = [DEFAULTS.find((id) => ids.includes(id)) || ids[0]].filter(Boolean);
    renderModels(pick);
  }

  function renderModels(pick) {
    const groups = new Map();
    for (const m of models) {
      const g = GROUPS[m.owner] || (m.id.startsWith('gemini') ? 'Gemini' : m.id.startsWith('local') ? 'Offline preview' : 'Other');
      if (!groups.has(g)) groups.set(g, []);
      groups.get(g).push(m.id);
    }
    const sets = [];
    for (const [label, ids] of groups) {
      sets.push(el('fieldset', { class: 'model-group' }, el('legend', {}, label), ...ids.map((id) => {
        const box = el('input', { type: 'checkbox', name: 'model', value: id });
        box.checked = pick.includes(id);
        return el('label', { class: 'model' + (VARIANT.test(id) ? ' variant' : '') }, box,
          el('span', { class: 'model-id' }, id),
          isPreview(id) ? el('span', { class: 'tag' }, 'preview') : null);
      })));
    }
    modelList.replaceChildren(...sets);
    applyVariants();
    updateModels();
  }

  /* Hides unpicked variants (only when the list is drawn or the switch changes, never
     under the user's hand as they untick one). */
  function applyVariants() {
    for (const g of modelList.querySelectorAll('.model-group')) {
      let any = false;
      for (const l of g.querySelectorAll('.model')) {
        l.hidden = !(showVariants.checked || !l.classList.contains('variant') || l.querySelector('input').checked);
        any = any || !l.hidden;
      }
      g.hidden = !any;
    }
  }

  function selectedModels() {
    return [...modelList.querySelectorAll('input[name=model]:checked')].map((b) => b.value);
  }

  function updateModels() {
    const sel = selectedModels();
    showVariants.parentElement.hidden = models === null;
    if (models === null) modelsSummary.textContent = 'The model list is not available: the gateway\'s default model will be used.';
    else if (!sel.length) modelsSummary.textContent = 'Pick one model, or several to compare them.';
    else if (sel.length === 1) modelsSummary.textContent = '1 model picked. Pick more to compare them side by side.';
    else modelsSummary.textContent = sel.length + ' models picked: one image each, shown as they finish.';
    const job = sel.length > 1;
    nEl.disabled = job;
    nHint.hidden = !job;
    goBtn.textContent = job ? 'Compare ' + sel.length + ' models' : 'Generate';
    previewNote.hidden = !sel.some(isPreview);
    if (models) { prefs.models = sel; savePrefs(); }
  }
  modelList.addEventListener('change', updateModels);
  showVariants.checked = !!prefs.variants;
  showVariants.addEventListener('change', () => { prefs.variants = showVariants.checked; savePrefs(); applyVariants(); });

  /* ---- the prompt ---- */
  const form = $('gen-form'), promptEl = $('prompt'), promptError = $('prompt-error'), promptCount = $('prompt-count');
  function promptChanged() {
    const n = [...promptEl.value].length;
    promptCount.textContent = n ? plural(n, 'character') + '.' : '';
    if (promptEl.value.trim()) {
      promptError.hidden = true;
      promptError.textContent = ''; // a hidden description still counts; leave none behind
      promptEl.removeAttribute('aria-invalid');
    }
  }
  promptEl.addEventListener('input', promptChanged);
  function promptProblem(msg) {
    promptError.textContent = msg;
    promptError.hidden = false;
    promptEl.setAttribute('aria-invalid', 'true');
    promptEl.focus();
  }
  function setPrompt(text) {
    promptEl.value = text;
    promptChanged();
  }

  /* ---- attached images (edits): thumbnails from object URLs, at most 14 ---- */
  const MAX_IMAGES = 14;
  const imagesEl = $('images'), thumbsEl = $('thumbs'), imagesError = $('images-error');
  let attached = []; // [{file, url}] in upload order
  function addFiles(files) {
    files = [...files];
    if (!files.length) return;
    const room = MAX_IMAGES - attached.length, take = files.slice(0, Math.max(0, room));
    attached.push(...take.map((file) => ({ file, url: URL.createObjectURL(file) })));
    const left = files.length - take.length;
    imagesError.textContent = left ? 'At most ' + MAX_IMAGES + ' images: ' + plural(left, 'file') + ' not added.' : '';
    imagesError.hidden = !left;
    renderThumbs();
    announce((take.length ? plural(take.length, 'image') + ' attached, ' + attached.length + ' in all.' : '')
      + (left ? ' ' + imagesError.textContent : ''));
  }
  function removeImage(i) {
    const [gone] = attached.splice(i, 1);
    URL.revokeObjectURL(gone.url);
    imagesError.hidden = true;
    imagesError.textContent = '';
    renderThumbs();
    const next = thumbsEl.querySelectorAll('button')[Math.min(i, attached.length - 1)];
    (next || imagesEl).focus();
    announce('Removed ' + gone.file.name + '. ' + plural(attached.length, 'image') + ' attached.');
  }
  function renderThumbs() {
    thumbsEl.replaceChildren(...attached.map((a, i) => {
      const b = el('button', { type: 'button', class: 'secondary small' }, 'Remove',
        el('span', { class: 'visually-hidden' }, ' image ' + (i + 1) + ': ' + a.file.name));
      b.addEventListener('click', () => removeImage(i));
      return el('li', {}, el('img', { src: a.url, alt: a.file.name }), b);
    }));
    thumbsEl.hidden = !attached.length;
  }
  imagesEl.addEventListener('change', () => { addFiles(imagesEl.files); imagesEl.value = ''; });
  const imageFiles = (dt) => [...((dt && dt.files) || [])].filter((f) => /^image\//.test(f.type));
  promptEl.addEventListener('paste', (e) => {
    const f = imageFiles(e.clipboardData);
    if (f.length) { e.preventDefault(); addFiles(f); }
  });
  promptEl.addEventListener('dragover', (e) => {
    if (e.dataTransfer && [...e.dataTransfer.types].includes('Files')) e.preventDefault();
  });
  promptEl.addEventListener('drop', (e) => {
    const f = imageFiles(e.dataTransfer);
    if (f.length) { e.preventDefault(); addFiles(f); }
  });

  /* Inspire me: a curated list of sample prompts, never the same one twice in a row. */
  const SAMPLES = [
    'A lighthouse on a basalt cliff at dusk, waves breaking below, the first stars out',
    'A tiny greenhouse café on a rooftop in the rain, warm light through fogged glass',
    'An origami fox made of old maps, standing on a wooden desk, soft window light',
    'A bowl of ramen seen from above, steam curling, chopsticks resting on the rim',
    'A cross-section of a snow globe that holds a whole mountain village',
    'A red vintage bicycle leaning against a pastel wall in Lisbon, late afternoon',
    'A library carved into a giant tree trunk, spiral stairs, lanterns among the shelves',
    'A sleepy cat on a stack of books by a frosted window, watercolour',
    'A desert observatory under the Milky Way, long exposure, deep blue sky',
    'A koi pond in autumn, maple leaves floating, seen from directly above',
    'A steam locomotive crossing a stone viaduct through morning mist',
    'An astronaut tending a vegetable garden on the Moon, Earth rising behind',
    'A market stall piled with citrus fruit, bold shadows, midday sun',
    'A paper boat sailing down a rain gutter past glowing shop signs at night',
    'A cosy reading nook inside a hollow sand dune, Moroccan rugs, brass lamps',
    'A hummingbird frozen mid-flight beside a blue morning glory, macro photograph',
    'A floating island with a waterfall pouring into the clouds below, golden hour',
    'A jazz trio on a small stage, smoky light, painted in loose gouache strokes',
    'A fox and a heron sharing an umbrella in a bamboo forest, ink wash',
    'A 1970s kitchen with orange tiles and a rotary phone, film photograph',
    'A glass terrarium holding a miniature thunderstorm over tiny hills',
    'An old fishing harbour in Norway at blue hour, red cabins, still water',
    'A robot shopkeeper arranging teacups in a narrow antique shop',
    'A field of lavender under a summer storm, a single lightning bolt far away',
    'A tram winding up a steep street in the snow, warm windows, evening',
    'An isometric illustration of a tiny island with a windmill and a bakery',
    'A close-up of frost patterns on a window, city lights blurred behind',
    'A whale swimming through clouds above a sleeping town, children\'s book style',
    'A chess game in a park, two old friends, dappled light through plane trees',
    'A neon noodle bar in the rain, reflections on wet pavement, cinematic',
    'A mossy stone bridge in a Welsh valley, sheep crossing, soft overcast light',
    'A still life of pears, a copper jug and a linen cloth, Dutch master lighting',
    'A hot-air balloon festival at sunrise over a river valley, wide shot',
    'A treehouse village connected by rope bridges in a rainforest canopy',
    'A polar bear asleep on an ice floe under the northern lights',
    'A vintage travel poster for a city on Mars, bold flat colours',
    'A potter\'s hands shaping wet clay on a wheel, shallow depth of field',
    'A sunflower field with a single blue door standing in the middle of it',
  ];
  let lastSample = -1;
  $('inspire').addEventListener('click', () => {
    let i;
    do { i = Math.floor(Math.random() * SAMPLES.length); } while (i === lastSample && SAMPLES.length > 1);
    lastSample = i;
    setPrompt(SAMPLES[i]);
    announce('Sample prompt: ' + SAMPLES[i]);
  });

  /* ---- Enhance: POST v1/prompts/enhance, offered as a suggestion ---- */
  const suggest = $('suggest'), suggestText = $('suggest-text'), suggestNote = $('suggest-note');
  const suggestError = $('suggest-error'), enhanceBtn = $('enhance');
  let enhancing = false;
  async function enhance() {
    if (enhancing) return;
    const prompt = promptEl.value;
    if (!prompt.trim()) { promptProblem('Write a prompt first, then Enhance rewrites it.'); return; }
    enhancing = true;
    enhanceBtn.setAttribute('aria-disabled', 'true');
    enhanceBtn.textContent = 'Enhancing…';
    const res = await api('POST', 'v1/prompts/enhance', { prompt });
    enhancing = false;
    enhanceBtn.removeAttribute('aria-disabled');
    enhanceBtn.textContent = 'Enhance';
    suggest.hidden = false;
    if (!res.ok || typeof res.json.enhanced_prompt !== 'string') {
      suggestText.textContent = '';
      suggestNote.hidden = true;
      $('suggest-use').hidden = true;
      showError(suggestError, res.ok ? { message: 'The gateway sent no suggestion.' } : res.error, enhance, res.retryAfter, res.status);
      return;
    }
    suggestError.replaceChildren();
    $('suggest-use').hidden = false;
    suggestText.textContent = res.json.enhanced_prompt;
    const j = res.json;
    suggestNote.hidden = false;
    suggestNote.textContent = j.fallback === true
      ? 'Fallback: the text model could not be reached, so this is the gateway\'s offline rewrite.'
      : j.model === 'offline' ? 'Offline rewrite (this gateway has no text model configured).'
        : 'Rewritten by ' + str(j.model) + '.';
    suggestNote.dataset.fallback = j.fallback === true ? 'true' : 'false';
    suggestText.focus();
    announce('Suggested prompt ready.');
  }
  enhanceBtn.addEventListener('click', enhance);
  function closeSuggest(use) {
    if (use) setPrompt(suggestText.textContent);
    suggest.hidden = true;
    promptEl.focus();
    if (use) announce('Prompt replaced by the suggestion.');
  }
  $('suggest-use').addEventListener('click', () => closeSuggest(true));
  $('suggest-discard').addEventListener('click', () => closeSuggest(false));

  /* ---- sound: a short chime made with WebAudio, off unless chosen ---- */
  const soundBtn = $('sound'), soundState = $('sound-state');
  let audio = null;
  function setSound(on) {
    prefs.sound = on;
    savePrefs();
    soundBtn.setAttribute('aria-pressed', on ? 'true' : 'false');
    soundState.textContent = on ? 'on' : 'off';
  }
  function chime() {
    if (!prefs.sound) return;
    try {
      audio = audio || new AudioContext();
      if (audio.state === 'suspended') audio.resume().catch(() => {});
      const t = audio.currentTime;
      [[659.25, 0], [987.77, 0.11]].forEach(([f, at]) => {
        const o = audio.createOscillator(), g = audio.createGain();
        o.type = 'sine';
        o.frequency.value = f;
        g.gain.setValueAtTime(0.0001, t + at);
        g.gain.exponentialRampToValueAtTime(0.12, t + at + 0.02);
        g.gain.exponentialRampToValueAtTime(0.0001, t + at + 0.45);
        o.connect(g).connect(audio.destination);
        o.start(t + at);
        o.stop(t + at + 0.5);
      });
    } catch (e) { /* no audio: silence is fine */ }
  }
  soundBtn.addEventListener('click', () => {
    setSound(!prefs.sound);
    if (prefs.sound) chime(); // a sample, and it unlocks audio in this click
  });
  setSound(!!prefs.sound);

  /* ---- results: cards, progress, the waiting state ---- */
  const results = $('results'), grid = $('grid'), errorBox = $('error'), emptyEl = $('empty'), meta = $('meta');
  const progress = $('progress'), progressText = $('progress-text'), progressBar = $('progress-bar'), elapsedEl = $('elapsed');
  let run = 0; // the current run's number: older runs (and their polls) stop when it changes
  let busy = false, tick = null, blobs = [];

  function revokeBlobs() {
    blobs.forEach((u) => URL.revokeObjectURL(u));
    blobs = [];
  }
  function b64Blob(b64) {
    const type = b64.startsWith('/9j/') ? 'jpeg' : b64.startsWith('UklGR') ? 'webp' : 'png';
    const bin = atob(b64), bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    const url = URL.createObjectURL(new Blob([bytes], { type: 'image/' + type }));
    blobs.push(url);
    return { url, ext: type === 'jpeg' ? 'jpg' : type };
  }

  function startRun(label, count, cards) {
    busy = true;
    run++;
    goBtn.setAttribute('aria-disabled', 'true');
    results.setAttribute('aria-busy', 'true');
    errorBox.replaceChildren();
    meta.hidden = true;
    emptyEl.hidden = true;
    revokeBlobs();
    grid.replaceChildren(...cards.map((c) => c.el));
    progress.hidden = false;
    progressText.textContent = label;
    if (count) { progressBar.max = count; progressBar.value = 0; } else progressBar.removeAttribute('value');
    const t0 = Date.now();
    elapsedEl.textContent = '';
    clearInterval(tick);
    tick = setInterval(() => { elapsedEl.textContent = Math.round((Date.now() - t0) / 1000) + ' s'; }, 1000);
    if (matchMedia('(max-width: 59.99rem)').matches) results.scrollIntoView({ block: 'start', behavior: reducedMotion() ? 'auto' : 'smooth' });
    announce(label);
    return run;
  }
  function endRun() {
    busy = false;
    goBtn.removeAttribute('aria-disabled');
    results.setAttribute('aria-busy', 'false');
    clearInterval(tick);
    progress.hidden = true;
  }

  /* One card: a placeholder while waiting, then an image (or an error). */
  function pendingCard(label, ratio, model) {
    const c = { model, label, el: null, item: null, status: el('p', { class: 'slot' }, 'Waiting…') };
    const ph = el('div', { class: 'placeholder', 'aria-hidden': 'true' });
    ph.style.aspectRatio = (ratio || '1:1').replace(':', ' / ');
    c.el = el('div', { class: 'card', 'data-state': 'pending', 'data-model': model || null },
      ph, el('div', { class: 'body' }, el('p', { class: 'card-head' }, el('span', { class: 'model' }, label)), c.status));
    return c;
  }
  function setCardStatus(c, state, text) {
    c.el.dataset.state = state;
    c.status.textContent = text;
  }

  /* Turns a card into a finished image: a button opening the full-size view, a download. */
  function fillCard(c, item, list) {
    c.item = item;
    const thumb = el('button', { type: 'button', class: 'thumb' },
      el('span', { class: 'visually-hidden' }, 'Open full size: ' + c.label + ', '),
      el('img', { src: item.src, alt: item.alt, decoding: 'async' }));
    thumb.addEventListener('click', () => openViewer(list, list.indexOf(c)));
    item.thumb = thumb;
    const head = el('p', { class: 'card-head' }, el('span', { class: 'model' }, c.label),
      isPreview(item.model) ? el('strong', { class: 'badge' }, 'Preview') : null,
      item.cached ? el('span', { class: 'tag' }, 'cached') : null,
      typeof item.ms === 'number' ? el('span', { class: 'time' }, secs(item.ms)) : null);
    const dl = el('a', { href: item.href, download: item.file }, 'Download',
      el('span', { class: 'visually-hidden' }, ' ' + c.label));
    const card = el('figure', { class: 'card', 'data-state': 'completed', 'data-model': c.model || null },
      thumb, el('figcaption', {}, head, el('p', { class: 'prompt' }, item.alt), el('p', {}, dl)));
    c.el.replaceWith(card);
    c.el = card;
  }
  function failCard(c, err, retry) {
    const body = el('div', { class: 'body' },
      el('p', { class: 'card-head' }, el('span', { class: 'model' }, c.label), el('strong', {}, 'failed')),
      el('p', {}, str(err && err.message) || 'No image was produced.'),
      err && err.remedy ? el('p', { class: 'remedy' }, str(err.remedy)) : null,
      err && err.code ? el('p', { class: 'ids' }, str(err.code)) : null);
    if (retry) {
      const b = el('button', { type: 'button', class: 'secondary small' }, 'Retry', el('span', { class: 'visually-hidden' }, ' ' + c.label));
      b.addEventListener('click', () => retry(c));
      body.append(el('p', {}, b));
    }
    const card = el('div', { class: 'card failed', 'data-state': 'failed', 'data-model': c.model || null }, body);
    c.el.replaceWith(card);
    c.el = card;
  }

  function options() {
    const b = {};
    for (const [id, field] of [['aspect', 'aspect_ratio'], ['size', 'image_size'], ['style', 'style'], ['safety', 'safety_threshold']]) {
      if ($(id).value) b[field] = $(id).value;
    }
    return b;
  }

  /* An edit's multipart body: the images as image[] parts in order, then the fields. */
  function editForm(body, files) {
    const f = new FormData();
    files.forEach((file) => f.append('image[]', file));
    for (const [k, v] of Object.entries(body)) f.append(k, String(v));
    return f;
  }
  /* POST v1/images/generations, or v1/images/edits when images are attached. */
  const imageCall = (body, files) => (files && files.length
    ? api('POST', 'v1/images/edits', editForm(body, files))
    : api('POST', 'v1/images/generations', body));

  /* One model: POST v1/images/generations (or edits) with n images. */
  async function generate(body, files) {
    const n = body.n || 1, label = body.model || 'default model';
    const cards = [];
    for (let i = 0; i < n; i++) cards.push(pendingCard(n > 1 ? label + ' · ' + (i + 1) : label, body.aspect_ratio, body.model));
    cards.forEach((c) => setCardStatus(c, 'running', 'Generating…'));
    const mine = startRun((files ? 'Editing ' + plural(files.length, 'image') + ' into ' : 'Generating ')
      + plural(n, 'image') + ' with ' + label + '…', 0, cards);
    const res = await imageCall(body, files);
    if (mine !== run) return;
    endRun();
    if (!res.ok || !Array.isArray(res.json.data)) {
      grid.replaceChildren();
      emptyEl.hidden = false;
      showError(errorBox, res.ok ? { message: 'The gateway sent no images.' } : res.error, () => generate(body, files), res.retryAfter, res.status);
      announce('The request failed.');
      return;
    }
    const j = res.json, errs = new Map();
    if (Array.isArray(j.errors)) j.errors.forEach((e) => e && errs.set(Number(e.index), e));
    const model = res.headers.get('X-Imagegw-Model') || body.model || '';
    const done = [];
    let next = 0;
    cards.forEach((c, i) => {
      const item = errs.has(i) ? null : j.data[next++];
      if (!item) { failCard(c, errs.get(i) || { message: 'No image for this slot.' }); return; }
      let src = '', ext = 'png';
      if (typeof item.b64_json === 'string' && item.b64_json) {
        try { ({ url: src, ext } = b64Blob(item.b64_json)); } catch (e) { src = ''; }
      } else { src = safeUrl(item.url); ext = extOf(src); }
      if (!src) { failCard(c, { message: 'The image could not be read.' }); return; }
      fillCard(c, { src, href: src, model, alt: str(item.revised_prompt) || body.prompt,
        file: 'imagegw-' + slug(model) + '-' + (i + 1) + '.' + ext, cached: false }, done);
      done.push(c);
    });
    const rows = [['Model', model], ['Aspect ratio', res.headers.get('X-Imagegw-Aspect-Ratio')],
      ['Resolution', res.headers.get('X-Imagegw-Image-Size')], ['Cache', res.headers.get('X-Imagegw-Cache')]];
    showMeta(meta, rows);
    const failed = n - done.length;
    announce(plural(done.length, 'image') + ' ready' + (failed ? ', ' + failed + ' failed' : '') + '.');
    if (done.length) chime();
  }

  /* Several models: POST v1/jobs, then poll GET v1/jobs/{id}; cards fill as results come. */
  async function compare(body) {
    const cards = body.models.map((m) => pendingCard(m, body.aspect_ratio, m));
    const mine = startRun('Comparing ' + plural(cards.length, 'model') + '…', cards.length, cards);
    const res = await api('POST', 'v1/jobs', body);
    if (mine !== run) return;
    if (!res.ok || !res.json.id) {
      endRun();
      grid.replaceChildren();
      emptyEl.hidden = false;
      showError(errorBox, res.ok ? { message: 'The gateway did not start the job.' } : res.error, () => compare(body), res.retryAfter, res.status);
      announce('The request failed.');
      return;
    }
    poll(mine, res.json.id, cards, body);
  }

  async function poll(mine, id, cards, body) {
    const done = cards.filter((c) => c.item); // the viewer's list (a resumed poll keeps what it had)
    let wait = 300, failures = 0;
    const t0 = Date.now();
    for (;;) {
      await sleep(wait);
      if (mine !== run) return;
      const res = await api('GET', 'v1/jobs/' + encodeURIComponent(id));
      if (mine !== run) return;
      if (!res.ok) {
        // Network trouble is retried quietly a few times; a 404 or a run of failures is shown.
        if (res.status !== 404 && ++failures < 5) { wait = Math.min(8000, 1000 * 2 ** failures); continue; }
        endRun();
        showError(errorBox, res.error, () => { startRun('Checking the comparison again…', cards.length, cards); poll(run, id, cards, body); },
          res.retryAfter, res.status);
        announce('Lost track of the comparison.');
        return;
      }
      failures = 0;
      const j = res.json, list = Array.isArray(j.results) ? j.results : [];
      list.forEach((r, i) => {
        const c = cards[i];
        if (!c || !r || c.final) return;
        if (r.status === 'running' && c.el.dataset.state !== 'running') setCardStatus(c, 'running', 'Generating…');
        if (r.status === 'completed') {
          const src = safeUrl(r.url);
          c.final = true;
          if (!src) { failCard(c, { message: 'The image link could not be used.' }); return; }
          fillCard(c, { src, href: src, model: c.model, alt: str(r.revised_prompt) || str(j.prompt) || body.prompt,
            file: 'imagegw-' + slug(c.model) + '.' + extOf(r.mime || src), cached: r.cached === true,
            ms: r.duration_ms }, done);
          done.push(c);
          done.sort((a, b) => cards.indexOf(a) - cards.indexOf(b));
        } else if (r.status === 'failed') {
          c.final = true;
          failCard(c, r.error, (card) => retryModel(card, body, done));
        }
      });
      const finished = cards.filter((c) => c.final).length;
      progressBar.value = finished;
      const text = finished + ' of ' + cards.length + ' models done';
      if (progressText.textContent !== text) { progressText.textContent = text; announce(text + '.'); }
      if (['completed', 'partial', 'failed'].includes(j.status) || finished === cards.length) {
        endRun();
        const ok = done.length;
        showMeta(meta, [['Job', id], ['Status', str(j.status)]]);
        announce('Comparison ' + str(j.status) + ': ' + plural(ok, 'image') + ' ready' + (ok < cards.length ? ', ' + (cards.length - ok) + ' failed' : '') + '.');
        if (ok) chime();
        return;
      }
      if (Date.now() - t0 > 15 * 60 * 1000) {
        endRun();
        showError(errorBox, { message: 'The comparison is taking unusually long.', remedy: 'Retry to keep waiting, or check the gallery later.' },
          () => { startRun('Checking the comparison again…', cards.length, cards); poll(run, id, cards, body); });
        return;
      }
      wait = Math.min(2000, wait + 400);
    }
  }

  /* One model of a comparison on its own, as a one-image generation (or an edit of the
     files): a failed model's Retry, and each card of an edit comparison. */
  async function oneModel(c, body, done, files) {
    const { models: _, ...rest } = body;
    const res = await imageCall({ ...rest, model: c.model }, files);
    const item = res.ok && Array.isArray(res.json.data) ? res.json.data[0] : null;
    if (!item || typeof item.b64_json !== 'string') {
      failCard(c, res.ok ? { message: 'No image was produced.' } : res.error, (card) => retryModel(card, body, done, files));
      return false;
    }
    const { url, ext } = b64Blob(item.b64_json);
    fillCard(c, { src: url, href: url, model: c.model, alt: str(item.revised_prompt) || body.prompt,
      file: 'imagegw-' + slug(c.model) + '.' + ext }, done);
    done.push(c);
    return true;
  }
  async function retryModel(c, body, done, files) {
    const fresh = pendingCard(c.label, body.aspect_ratio, c.model);
    setCardStatus(fresh, 'running', 'Generating…');
    c.el.replaceWith(fresh.el);
    c.el = fresh.el;
    c.status = fresh.status;
    if (!await oneModel(c, body, done, files)) { announce(c.label + ' failed again.'); return; }
    announce(c.label + ' is ready.');
    chime();
  }

  /* Several models with images attached: a job cannot carry them, so one edit request
     per model, in parallel, each filling its own card. */
  async function compareEdits(body, files) {
    const cards = body.models.map((m) => pendingCard(m, body.aspect_ratio, m));
    const mine = startRun('Editing with ' + plural(cards.length, 'model') + '…', cards.length, cards);
    const done = [];
    let finished = 0;
    await Promise.all(cards.map(async (c) => {
      setCardStatus(c, 'running', 'Generating…');
      await oneModel(c, body, done, files);
      if (mine !== run) return;
      done.sort((a, b) => cards.indexOf(a) - cards.indexOf(b));
      progressBar.value = ++finished;
      progressText.textContent = finished + ' of ' + cards.length + ' models done';
      announce(progressText.textContent + '.');
    }));
    if (mine !== run) return;
    endRun();
    const ok = done.length;
    showMeta(meta, [['Edited', plural(files.length, 'image')], ['Models', plural(cards.length, 'model')]]);
    announce('Edits done: ' + plural(ok, 'image') + ' ready' + (ok < cards.length ? ', ' + (cards.length - ok) + ' failed' : '') + '.');
    if (ok) chime();
  }

  function showMeta(box, rows) {
    const kids = rows.filter(([, v]) => v !== null && v !== undefined && v !== '')
      .map(([k, v]) => el('div', {}, el('dt', {}, k), el('dd', {}, str(v))));
    box.replaceChildren(...kids);
    box.hidden = !kids.length;
  }

  /* The form: one model generates, several compare (a job). */
  function submit() {
    if (busy) { announce('Still working on the last request.'); return; }
    const prompt = promptEl.value;
    if (!prompt.trim()) { promptProblem('Write a prompt: describe the picture you want.'); return; }
    const sel = selectedModels();
    if (models && !sel.length) {
      modelsSummary.textContent = 'Pick at least one model.';
      const first = modelList.querySelector('input[name=model]');
      if (first) first.focus();
      announce('Pick at least one model.');
      return;
    }
    const body = { prompt, ...options() };
    const files = attached.length ? attached.map((a) => a.file) : null;
    if (sel.length > 1) { (files ? compareEdits : compare)({ ...body, models: sel }, files); return; }
    if (sel.length === 1) body.model = sel[0];
    const n = parseInt(nEl.value, 10);
    if (n > 1) body.n = Math.min(n, 10);
    generate(body, files);
  }
  form.addEventListener('submit', (e) => { e.preventDefault(); submit(); });
  goBtn.addEventListener('click', (e) => { if (goBtn.getAttribute('aria-disabled')) e.preventDefault(); });

  /* ---- the full-size viewer: ←/→ between images, Esc closes, focus goes back ---- */
  const viewer = $('viewer'), viewerImg = $('viewer-img'), viewerCap = $('viewer-caption');
  const viewerPos = $('viewer-pos'), viewerDl = $('viewer-download');
  let vList = [], vIndex = 0;
  function openViewer(list, index) {
    vList = list;
    showImage(index >= 0 ? index : 0);
    if (!viewer.open) viewer.showModal();
    $('viewer-close').focus();
  }
  function showImage(i) {
    vIndex = (i + vList.length) % vList.length;
    const c = vList[vIndex], it = c.item;
    viewerImg.src = it.src;
    viewerImg.alt = it.alt;
    viewerPos.textContent = (vIndex + 1) + ' of ' + vList.length;
    viewerCap.textContent = c.label + ' · ' + it.alt;
    viewerDl.href = it.href;
    viewerDl.setAttribute('download', it.file);
    $('viewer-prev').disabled = $('viewer-next').disabled = vList.length < 2;
  }
  viewer.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
      e.preventDefault();
      if (vList.length > 1) {
        showImage(vIndex + (e.key === 'ArrowRight' ? 1 : -1));
        announce('Image ' + viewerPos.textContent);
      }
    }
  });
  $('viewer-prev').addEventListener('click', () => showImage(vIndex - 1));
  $('viewer-next').addEventListener('click', () => showImage(vIndex + 1));
  $('viewer-close').addEventListener('click', () => viewer.close());
  viewer.addEventListener('click', (e) => { if (e.target === viewer) viewer.close(); }); // the backdrop
  viewer.addEventListener('close', () => {
    viewerImg.removeAttribute('src');
    const c = vList[vIndex];
    const back = c && c.item && c.item.thumb;
    if (back && back.isConnected) back.focus(); // the image last shown: where the user was
  });

  /* ---- the shortcut help ---- */
  const help = $('help'), singleKeys = $('single-keys');
  let helpOpener = null;
  singleKeys.checked = prefs.singleKeys !== false;
  singleKeys.addEventListener('change', () => { prefs.singleKeys = singleKeys.checked; savePrefs(); });
  function openHelp() {
    helpOpener = document.activeElement;
    help.showModal();
    $('help-close').focus();
  }
  $('help-open').addEventListener('click', openHelp);
  $('help-close').addEventListener('click', () => help.close());
  help.addEventListener('click', (e) => { if (e.target === help) help.close(); });
  help.addEventListener('close', () => { if (helpOpener && helpOpener.isConnected) helpOpener.focus(); });

  const typing = (t) => t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && !e.altKey) {
      if (view === 'create' && !viewer.open && !help.open) { e.preventDefault(); submit(); }
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey || !singleKeys.checked || typing(e.target) || viewer.open || help.open) return;
    if (e.key === '?') { e.preventDefault(); openHelp(); }
    else if (e.key === '/') { e.preventDefault(); toPrompt(); }
  });

  /* ---- the gallery: GET v1/gallery pages (before cursor), GET and DELETE v1/gallery/{id} ---- */
  const galList = $('gallery-list'), galError = $('gallery-error'), galEmpty = $('gallery-empty');
  const galOlder = $('gallery-older'), galNewer = $('gallery-newer'), galPage = $('gallery-page');
  const detail = $('gallery-detail'), listView = $('gallery-list-view');
  const PAGE = Math.min(100, Math.max(1, parseInt(new URLSearchParams(location.search).get('limit'), 10) || 12));
  let cursors = [null]; // cursors[i]: the `before` of page i (null: the newest)
  let page = 0, pageData = null, nextCursor = null, detailData = null, lastEntryLink = null;
  let listStale = false, notice = ''; // after a delete: reload the page, say what went

  async function galleryLoad(p, focusFirst) {
    galError.replaceChildren();
    const before = cursors[p];
    const res = await api('GET', 'v1/gallery?limit=' + PAGE + (before ? '&before=' + encodeURIComponent(before) : ''));
    if (!res.ok || !Array.isArray(res.json.data)) {
      showError(galError, res.ok ? { message: 'The gateway sent no gallery.' } : res.error, () => galleryLoad(p, focusFirst), res.retryAfter, res.status);
      galList.replaceChildren();
      return;
    }
    page = p;
    pageData = res.json.data;
    nextCursor = res.json.has_more ? str(res.json.next) || str(pageData[pageData.length - 1].id) : null;
    cursors[p + 1] = nextCursor;
    renderGallery();
    if (focusFirst) { const a = galList.querySelector('a'); (a || $('gallery-title')).focus(); }
  }
  function galleryReload() { cursors = [null]; galleryLoad(0); }

  function renderGallery() {
    galList.replaceChildren(...pageData.map((g) => {
      const src = safeUrl(g.preview_url);
      const when = new Date(Number(g.created) * 1000);
      const a = el('a', { href: '#gallery/' + encodeURIComponent(str(g.id)), class: 'entry' },
        src ? el('img', { src, alt: '', loading: 'lazy', decoding: 'async' }) : el('span', { class: 'noimg' }),
        el('span', { class: 'entry-prompt' }, str(g.prompt)),
        el('span', { class: 'entry-meta' }, when.toLocaleString() + ' · ' + plural(Number(g.image_count) || 0, 'image')
          + (g.source === 'job' ? ' · comparison' : g.source === 'edit' ? ' · edit' : '')));
      a.addEventListener('click', () => { lastEntryLink = str(g.id); });
      return el('li', {}, a);
    }));
    galEmpty.hidden = pageData.length > 0 || page > 0;
    galNewer.disabled = page === 0;
    galOlder.disabled = !nextCursor;
    galPage.textContent = pageData.length ? 'Page ' + (page + 1) : '';
    announce(notice + 'Gallery page ' + (page + 1) + ': ' + plural(pageData.length, 'entry').replace('entrys', 'entries') + '.');
    notice = '';
  }
  galOlder.addEventListener('click', () => { if (nextCursor) galleryLoad(page + 1, true); });
  galNewer.addEventListener('click', () => { if (page > 0) galleryLoad(page - 1, true); });

  async function showDetail(id) {
    listView.hidden = true;
    detail.hidden = false;
    detailData = null;
    $('detail-actions').hidden = true;
    askDelete(false, false);
    $('detail-error').replaceChildren();
    $('detail-title').textContent = 'Loading…';
    $('detail-grid').replaceChildren();
    $('detail-meta').replaceChildren();
    const res = await api('GET', 'v1/gallery/' + encodeURIComponent(id));
    if (route().id !== id) return;
    if (!res.ok) {
      $('detail-title').textContent = 'Gallery entry';
      showError($('detail-error'), res.error, () => showDetail(id), res.retryAfter, res.status);
      $('detail-title').focus();
      return;
    }
    const g = detailData = res.json;
    $('detail-title').textContent = str(g.prompt);
    showMeta($('detail-meta'), [['Created', new Date(Number(g.created) * 1000).toLocaleString()],
      ['Source', g.source === 'job' ? 'comparison (job)' : str(g.source)],
      ['Sent as', g.revised_prompt !== g.prompt ? str(g.revised_prompt) : ''],
      ['Quality', g.quality], ['Style', g.style], ['Safety', g.safety_threshold]]);
    const cards = [];
    (Array.isArray(g.images) ? g.images : []).forEach((im, i) => {
      const src = safeUrl(im.url);
      const label = str(im.model) + (im.width ? ' · ' + im.width + '×' + im.height : '');
      const c = pendingCard(label, im.aspect_ratio, im.model);
      $('detail-grid').append(c.el);
      if (!src) { failCard(c, { message: 'This image is no longer available.' }); return; }
      fillCard(c, { src, href: src, model: im.model, alt: str(g.prompt),
        file: 'imagegw-' + slug(im.model) + '-' + (i + 1) + '.' + extOf(im.mime || src) }, cards);
      cards.push(c);
    });
    $('detail-actions').hidden = false;
    $('detail-title').focus();
  }
  $('detail-reuse').addEventListener('click', () => {
    if (!detailData) return;
    setPrompt(str(detailData.prompt));
    toPrompt();
  });

  /* Deleting: an inline confirmation (Esc or "Keep it" backs out), then DELETE; on
     success back to the same page of the list, reloaded without the entry. */
  const delBtn = $('detail-delete'), confirmBox = $('detail-confirm'), delYes = $('detail-delete-yes');
  let deleting = false;
  function askDelete(open, focus = true) {
    confirmBox.hidden = !open;
    delBtn.setAttribute('aria-expanded', String(open));
    if (focus) (open ? $('detail-delete-no') : delBtn).focus();
  }
  delBtn.addEventListener('click', () => askDelete(confirmBox.hidden));
  $('detail-delete-no').addEventListener('click', () => askDelete(false));
  confirmBox.addEventListener('keydown', (e) => { if (e.key === 'Escape') { e.preventDefault(); askDelete(false); } });
  async function deleteEntry() {
    const g = detailData;
    if (!g || deleting) return;
    deleting = true;
    delYes.setAttribute('aria-disabled', 'true');
    $('detail-error').replaceChildren();
    const res = await api('DELETE', 'v1/gallery/' + encodeURIComponent(str(g.id)));
    deleting = false;
    delYes.removeAttribute('aria-disabled');
    if (res.ok || res.status === 404) listStale = true; // 404: gone already
    if (detailData !== g) return; // the user went elsewhere meanwhile
    if (!res.ok) {
      askDelete(false);
      showError($('detail-error'), res.error, deleteEntry, res.retryAfter, res.status);
      return;
    }
    notice = 'Deleted “' + str(g.prompt).slice(0, 80) + '”. ';
    location.replace('#gallery'); // Back does not return to the deleted entry
  }
  delYes.addEventListener('click', deleteEntry);

  /* ---- views: #create, #gallery, #gallery/<id> ---- */
  let view = null;
  function route() {
    let h = '';
    try { h = decodeURIComponent(location.hash.slice(1)); } catch (e) { /* a malformed address: Create */ }
    if (h.startsWith('gallery/')) return { view: 'gallery', id: h.slice(8) };
    return { view: h === 'gallery' ? 'gallery' : 'create', id: null };
  }
  /* Focus on the prompt, switching to Create first if needed (the view switch would
     otherwise move focus to the view's heading once the hash has changed). */
  let focusPrompt = false;
  function toPrompt() {
    if (view === 'create') { promptEl.focus(); return; }
    focusPrompt = true;
    location.hash = '#create';
  }
  function render(fromUser) {
    const r = route();
    const changed = view !== r.view;
    view = r.view;
    $('view-create').hidden = view !== 'create';
    $('view-gallery').hidden = view !== 'gallery';
    for (const [name, a] of [['create', $('nav-create')], ['gallery', $('nav-gallery')]]) {
      if (name === view) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
    }
    document.title = view === 'gallery' ? 'Gallery · imagegw' : 'imagegw';
    if (view === 'create') {
      if (focusPrompt || location.hash === '#prompt') promptEl.focus(); // the skip link, '/', reuse
      else if (fromUser && changed) $('form-title').focus();
      focusPrompt = false;
      return;
    }
    if (r.id) { showDetail(r.id); return; }
    detail.hidden = true;
    listView.hidden = false;
    if (changed || !pageData) {
      cursors = [null];
      listStale = false;
      galleryLoad(0, false).then(() => { if (fromUser) $('gallery-title').focus(); });
      return;
    }
    if (listStale) { // an entry was deleted: this page again (the one before, if now empty)
      listStale = false;
      galleryLoad(page, false)
        .then(() => (pageData.length || !page ? null : galleryLoad(page - 1, false)))
        .then(() => $('gallery-title').focus());
      return;
    }
    // Back from an entry: the same page, focus on the entry that was opened.
    const a = lastEntryLink && galList.querySelector('a[href="#gallery/' + CSS.escape(encodeURIComponent(lastEntryLink)) + '"]');
    (a || $('gallery-title')).focus();
  }
  window.addEventListener('hashchange', () => render(true));

  render(false);
  loadHealth();
  loadModels();
})();
