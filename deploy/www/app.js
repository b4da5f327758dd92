/* imagegw web page logic: reads GET healthz and GET v1/models, sends the form as JSON to
   POST v1/images/generations (only the fields the user set), and shows the busy state, the
   results grid, partial and whole-request errors, and a full-size <dialog> viewer.
   URLs are relative so the page works under a base_path. Text from the user or the server
   (prompts, errors) is only ever written with textContent / text nodes, never as HTML. */
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const form = $('gen-form'), promptEl = $('prompt'), modelEl = $('model'), modelHint = $('model-hint');
  const aspectEl = $('aspect'), sizeEl = $('size'), styleEl = $('style'), nEl = $('n');
  const safetyEl = $('safety'), keyEl = $('key'), goBtn = $('go'), previewNote = $('preview-note');
  const results = $('results'), errorBox = $('error'), emptyEl = $('empty'), grid = $('grid'), meta = $('meta');
  const live = $('live'), viewer = $('viewer'), viewerImg = $('viewer-img'), viewerCap = $('viewer-caption');
  const KEY_STORE = 'imagegw.apiKey';
  let lastBody = null, busy = false, blobUrls = [], viewerOpener = null;

  /* el('p', {class: 'x'}, 'text', child): children that are strings become text nodes. */
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : v);
    }
    e.append(...kids.filter((k) => k !== null && k !== undefined && k !== ''));
    return e;
  }

  const plural = (n, word) => n + ' ' + word + (n === 1 ? '' : 's');

  function announce(msg) {
    live.textContent = '';
    setTimeout(() => { live.textContent = msg; }, 60);
  }

  function authHeaders() {
    const k = keyEl.value.trim();
    return k ? { Authorization: 'Bearer ' + k } : {};
  }

  /* ---- session-only API key ---- */
  try { keyEl.value = sessionStorage.getItem(KEY_STORE) || ''; } catch (e) { /* storage off */ }
  keyEl.addEventListener('input', () => {
    try {
      if (keyEl.value) sessionStorage.setItem(KEY_STORE, keyEl.value);
      else sessionStorage.removeItem(KEY_STORE);
    } catch (e) { /* storage off: the key lives in the field only */ }
  });
  keyEl.addEventListener('change', loadModels);

  /* ---- health line ---- */
  async function loadHealth() {
    const box = $('health'), text = $('health-text');
    try {
      const r = await fetch('healthz', { cache: 'no-store' });
      const j = await r.json().catch(() => ({}));
      const state = r.ok && j.status === 'ok' ? 'ok' : 'degraded';
      const ups = j.upstreams && typeof j.upstreams === 'object'
        ? Object.entries(j.upstreams).map(([k, v]) => k + ': ' + String(v).replace(/_/g, ' ')).join(', ') : '';
      box.dataset.state = state;
      text.textContent = 'Gateway ' + state + (ups ? ' (' + ups + ')' : '');
    } catch (e) {
      box.dataset.state = 'down';
      text.textContent = 'Gateway unreachable';
    }
  }

  /* ---- model list, grouped Gemini / Local / Other ---- */
  async function loadModels() {
    const prev = modelEl.value;
    let ids = [];
    try {
      const r = await fetch('v1/models', { headers: authHeaders(), cache: 'no-store' });
      const j = await r.json().catch(() => null);
      if (!r.ok || !j || !Array.isArray(j.data)) {
        throw new Error(String((j && j.error && j.error.message) || 'HTTP ' + r.status).replace(/\.$/, ''));
      }
      ids = j.data.map((m) => m && m.id).filter((id) => typeof id === 'string');
      if (!ids.length) throw new Error('the gateway lists no models');
    } catch (e) {
      modelEl.replaceChildren(el('option', { value: '' }, 'Server default'));
      modelHint.textContent = 'Could not load the model list: ' + e.message + '. The server default model will be used.';
      modelHint.hidden = false;
      updatePreviewNote();
      return;
    }
    const groups = { Gemini: [], Local: [], Other: [] };
    for (const id of ids) {
      groups[id.startsWith('gemini') ? 'Gemini' : id.startsWith('local') ? 'Local' : 'Other'].push(id);
    }
    modelEl.replaceChildren();
    for (const [label, list] of Object.entries(groups)) {
      if (list.length) modelEl.append(el('optgroup', { label }, ...list.map((id) => el('option', { value: id }, id))));
    }
    modelEl.value = ids.includes(prev) ? prev
      : ids.includes('gemini-3-pro-image') ? 'gemini-3-pro-image'
      : ids.find((id) => id.startsWith('gemini-3-pro-image'))
        || (ids.includes('local-preview') ? 'local-preview' : ids[0]);
    modelHint.hidden = true;
    modelHint.textContent = '';
    updatePreviewNote();
  }

  function updatePreviewNote() {
    previewNote.hidden = !modelEl.value.startsWith('local-preview');
  }
  modelEl.addEventListener('change', updatePreviewNote);

  /* ---- request ---- */
  function buildBody() {
    const b = { prompt: promptEl.value };
    if (modelEl.value) b.model = modelEl.value;
    if (aspectEl.value) b.aspect_ratio = aspectEl.value;
    if (sizeEl.value) b.image_size = sizeEl.value;
    if (styleEl.value) b.style = styleEl.value;
    const n = parseInt(nEl.value, 10);
    if (n > 1) b.n = Math.min(n, 4);
    if (safetyEl.value) b.safety_threshold = safetyEl.value;
    return b;
  }

  function setBusy(on, body) {
    busy = on;
    goBtn.disabled = on;
    goBtn.textContent = on ? 'Generating…' : 'Generate';
    results.setAttribute('aria-busy', on ? 'true' : 'false');
    if (!on) return;
    const n = body.n || 1;
    const ratio = (body.aspect_ratio || '1:1').replace(':', ' / ');
    const cards = [];
    for (let i = 0; i < n; i++) {
      const ph = el('div', { class: 'placeholder' });
      ph.style.aspectRatio = ratio;
      cards.push(el('div', { class: 'card', 'aria-hidden': 'true' }, ph,
        el('p', { class: 'slot' }, 'Image ' + (i + 1) + ' — generating…')));
    }
    emptyEl.hidden = true;
    meta.hidden = true;
    grid.replaceChildren(...cards);
  }

  async function generate(body) {
    if (busy) return;
    lastBody = body;
    errorBox.replaceChildren();
    revokeBlobs();
    setBusy(true, body);
    if (matchMedia('(max-width: 59.99rem)').matches) { // stacked layout: bring the results into view
      const still = matchMedia('(prefers-reduced-motion: reduce)').matches;
      results.scrollIntoView({ block: 'start', behavior: still ? 'auto' : 'smooth' });
    }
    announce('Generating ' + plural(body.n || 1, 'image') + '…');
    let r, j = null;
    try {
      r = await fetch('v1/images/generations', {
        method: 'POST',
        headers: Object.assign({ 'Content-Type': 'application/json' }, authHeaders()),
        body: JSON.stringify(body),
      });
      j = await r.json().catch(() => null);
    } catch (e) {
      setBusy(false);
      showError({ message: 'Could not reach the gateway. Check your network connection and try again.' });
      return;
    }
    setBusy(false);
    if (!r.ok || !j || !Array.isArray(j.data)) {
      const err = j && j.error && typeof j.error === 'object' ? j.error
        : { message: 'The gateway answered HTTP ' + r.status + ' without a readable error.' };
      showError(err, r.headers.get('Retry-After'));
      return;
    }
    renderResults(j, r.headers, body);
  }

  function showError(err, retryAfter) {
    grid.replaceChildren();
    emptyEl.hidden = false;
    const ids = [err.code, err.request_id ? 'request ' + err.request_id : ''].filter(Boolean).join(' · ');
    const retry = el('button', { type: 'button', class: 'secondary' }, 'Retry');
    retry.addEventListener('click', () => {
      $('results-title').focus(); // the button is about to go away; keep focus nearby
      if (lastBody) generate(lastBody);
    });
    errorBox.replaceChildren(...[
      el('p', { class: 'title' }, String(err.message || 'The request failed.')),
      err.remedy ? el('p', {}, String(err.remedy)) : null,
      /^\d+$/.test(retryAfter || '') ? el('p', {}, 'You can retry in about ' + plural(+retryAfter, 'second') + '.') : null,
      ids ? el('p', { class: 'ids' }, ids) : null,
      retry].filter(Boolean));
    live.textContent = '';
  }

  /* ---- results ---- */
  function imageType(b64) {
    if (b64.startsWith('/9j/')) return 'jpeg';
    if (b64.startsWith('UklGR')) return 'webp';
    return 'png'; // "iVBOR", and the default
  }

  function blobUrl(b64, type) {
    // Download links use a blob: URL: browsers refuse to download large data: URLs.
    const bin = atob(b64), bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    const url = URL.createObjectURL(new Blob([bytes], { type: 'image/' + type }));
    blobUrls.push(url);
    return url;
  }

  function revokeBlobs() {
    blobUrls.forEach((u) => URL.revokeObjectURL(u));
    blobUrls = [];
  }

  function imageCard(i, item, preview, prompt) {
    let src, href, ext;
    if (typeof item.b64_json === 'string' && item.b64_json) {
      const type = imageType(item.b64_json);
      ext = type === 'jpeg' ? 'jpg' : type;
      src = 'data:image/' + type + ';base64,' + item.b64_json;
      try { href = blobUrl(item.b64_json, type); } catch (e) { href = src; }
    } else {
      src = href = String(item.url || '');
      ext = (/\.(png|jpe?g|webp)(?:[?#]|$)/i.exec(src) || [, 'png'])[1].toLowerCase().replace('jpeg', 'jpg');
    }
    const alt = String(item.revised_prompt || prompt);
    const thumb = el('button', { type: 'button', class: 'thumb' },
      el('span', { class: 'visually-hidden' }, 'Open image ' + (i + 1) + ' full size: '),
      el('img', { src, alt, decoding: 'async' }));
    thumb.addEventListener('click', () => openViewer(src, alt, thumb));
    const download = el('a', { href, download: 'imagegw-' + (i + 1) + '.' + ext },
      'Download ' + ext.toUpperCase(), el('span', { class: 'visually-hidden' }, ' of image ' + (i + 1)));
    return el('figure', { class: 'card' }, thumb,
      el('figcaption', {},
        el('p', { class: 'prompt' }, preview ? el('strong', { class: 'badge' }, 'Preview') : null, alt),
        el('p', {}, download)));
  }

  function errorCard(i, e) {
    return el('div', { class: 'card failed' }, el('div', { class: 'body' },
      el('p', { class: 'title' }, el('strong', {}, 'Image ' + (i + 1) + ' failed')),
      el('p', {}, String((e && e.message) || 'No image was produced.')),
      e && e.code ? el('p', { class: 'ids' }, String(e.code)) : null));
  }

  function renderResults(j, headers, body) {
    const errs = new Map();
    if (Array.isArray(j.errors)) j.errors.forEach((e) => errs.set(Number(e && e.index), e));
    const total = Math.max(body.n || 1, j.data.length + errs.size);
    const model = headers.get('X-Imagegw-Model') || body.model || '';
    const preview = model.startsWith('local-preview');
    const cards = [];
    let next = 0, ok = 0;
    for (let i = 0; i < total; i++) {
      if (errs.has(i)) cards.push(errorCard(i, errs.get(i)));
      else if (next < j.data.length) { cards.push(imageCard(i, j.data[next++] || {}, preview, body.prompt)); ok++; }
    }
    grid.replaceChildren(...cards);
    emptyEl.hidden = cards.length > 0;
    const rows = [['Model', model], ['Aspect ratio', headers.get('X-Imagegw-Aspect-Ratio')],
      ['Image size', headers.get('X-Imagegw-Image-Size')], ['Cache', headers.get('X-Imagegw-Cache')]]
      .filter(([, v]) => v)
      .map(([k, v]) => el('div', {}, el('dt', {}, k), el('dd', {}, v)));
    meta.replaceChildren(...rows);
    meta.hidden = rows.length === 0;
    const failed = total - ok;
    announce(plural(ok, 'image') + ' ready' + (failed ? ', ' + failed + ' failed' : '') + '.');
  }

  /* ---- full-size viewer ---- */
  function openViewer(src, alt, opener) {
    viewerOpener = opener;
    viewerImg.src = src;
    viewerImg.alt = alt;
    viewerCap.textContent = alt;
    viewer.showModal();
  }
  viewer.addEventListener('close', () => {
    viewerImg.removeAttribute('src');
    if (viewerOpener) viewerOpener.focus();
    viewerOpener = null;
  });
  viewer.addEventListener('click', (e) => { if (e.target === viewer) viewer.close(); }); // backdrop

  /* ---- form wiring ---- */
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    generate(buildBody());
  });
  promptEl.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      if (!busy && form.reportValidity()) generate(buildBody());
    }
  });

  loadHealth();
  loadModels();
})();
