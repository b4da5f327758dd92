// The Create view in headless Chromium against lighttpd + imagegw + the mock Gemini:
// one image with local-preview, a three-model job whose cards fill in one by one,
// Enhance (and its fallback), the full-size view, an error with its remedy and Retry,
// prompts shown as text, the sound and shortcut preferences, and the 360 px layout.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startGateways, stopGateways, openPage, screenshot, pickModels, uniquePrompt,
  assertOnlyOwnOrigin, assertNoProblems, waitLive, PHONE,
} from './harness.mjs';

const suite = {};
let browser, gw;
before(async () => ({ browser, gw } = await startGateways(suite, { gw: { mock: true } })));
after(() => stopGateways(suite));

// Console lines Chromium writes for HTTP errors a test asked for.
const HTTP_ERRORS = [/Failed to load resource: the server responded with a status of (4|5)\d\d/];

test('one image with local-preview, labelled as a preview', async () => {
  const page = await openPage(browser, gw.page);
  await screenshot(page, 'create-desktop');
  await pickModels(page, ['local-preview']);
  assert.equal(await page.isVisible('#preview-note'), true, 'local-preview is labelled a preview');
  const prompt = uniquePrompt('a lighthouse at dusk');
  await page.fill('#prompt', prompt);
  const req = page.waitForRequest((r) => r.url().endsWith('/v1/images/generations'));
  await page.getByRole('button', { name: 'Generate' }).click();
  const body = JSON.parse((await req).postData());
  assert.deepEqual(body, { prompt, model: 'local-preview' });
  const card = page.locator('#grid figure.card');
  await card.waitFor();
  assert.equal(await card.count(), 1);
  assert.equal(await card.getAttribute('data-model'), 'local-preview');
  assert.ok(await card.locator('img').evaluate((img) => img.complete && img.naturalWidth > 0), 'the image decoded');
  assert.equal(await card.locator('.badge').textContent(), 'Preview');
  assert.equal(await card.locator('.prompt').textContent(), prompt);
  const dl = card.getByRole('link', { name: /Download/ });
  assert.match(await dl.getAttribute('download'), /^imagegw-local-preview-1x1-1\.png$/);
  assert.match(await dl.getAttribute('href'), /^blob:/);
  assert.match(await page.textContent('#meta'), /local-preview-1x1/);
  await waitLive(page, /1 image ready/);
  assert.equal(await page.getAttribute('#results', 'aria-busy'), 'false');
  await screenshot(page, 'create-result-desktop');
  assertOnlyOwnOrigin(page, gw.url);
  assertNoProblems(page);
  await page.context().close();
});

test('three models as a job: cards fill in as results arrive', async () => {
  const page = await openPage(browser, gw.page);
  await pickModels(page, ['gemini-3-pro-image', 'gemini-2.5-flash-image', 'local-preview']);
  assert.equal(await page.textContent('#go'), 'Compare 3 models');
  assert.equal(await page.isDisabled('#n'), true, 'a job makes one image per model');
  // Record every change of the cards' states, with the time it was seen.
  await page.evaluate(() => {
    window.seen = [];
    const snap = () => {
      const s = [...document.querySelectorAll('#grid .card')].map((c) => c.dataset.model + '=' + c.dataset.state).join(' ');
      if (!window.seen.length || window.seen[window.seen.length - 1].s !== s) window.seen.push({ t: performance.now(), s });
    };
    new MutationObserver(snap).observe(document.getElementById('grid'), { subtree: true, childList: true, attributes: true });
  });
  // The Gemini models wait a second at the mock; local-preview answers at once.
  const prompt = uniquePrompt('a red fox in the snow mock:delay=1');
  await page.fill('#prompt', prompt);
  const post = page.waitForResponse((r) => r.url().endsWith('/v1/jobs') && r.request().method() === 'POST');
  await page.click('#go');
  const created = await (await post).json();
  assert.equal((await post).status(), 202);
  assert.match(created.id, /^job_[0-9A-Z]{26}$/);
  assert.equal(await page.locator('#grid .card').count(), 3, 'one card per model at once');
  await page.waitForFunction(() => document.querySelectorAll('#grid figure.card').length === 3, null, { timeout: 30000 });
  const seen = await page.evaluate(() => window.seen);
  const when = (model) => seen.find((x) => x.s.includes(model + '=completed'))?.t;
  // A moment when local-preview was done and both Gemini cards were still waiting.
  assert.ok(seen.some((x) => /local-preview=completed/.test(x.s) && /gemini-3-pro-image=(pending|running)/.test(x.s)
    && /gemini-2\.5-flash-image=(pending|running)/.test(x.s)), JSON.stringify(seen));
  assert.ok(when('gemini-3-pro-image') - when('local-preview') >= 500, JSON.stringify(seen));
  // The cards kept the order of the models picked (the job's order), whatever finished first.
  assert.deepEqual(await page.locator('#grid .card').evaluateAll((cs) => cs.map((c) => c.dataset.model)),
    ['gemini-3-pro-image', 'gemini-2.5-flash-image', 'local-preview']);
  assert.ok(await page.locator('#grid figure.card img').evaluateAll((imgs) => imgs.every((i) => i.complete && i.naturalWidth > 0)));
  assert.ok(page.requests.filter((r) => r.url.includes('/v1/jobs/' + created.id)).length >= 2, 'polled');
  assert.match(await page.textContent('#meta'), /completed/);
  await waitLive(page, /Comparison completed: 3 images ready/);
  await screenshot(page, 'compare-desktop', { docs: true });
  assertOnlyOwnOrigin(page, gw.url);
  assertNoProblems(page);
  await page.context().close();
});

test('a model that fails in a comparison shows its error, and can be retried alone', async () => {
  const page = await openPage(browser, gw.page);
  await pickModels(page, ['gemini-3-pro-image', 'gemini-2.5-flash-image']);
  const prompt = uniquePrompt('two boats mock:model_status=flash-image:500');
  await page.fill('#prompt', prompt);
  await page.click('#go');
  const failed = page.locator('#grid .card.failed');
  await failed.waitFor({ timeout: 30000 });
  await page.waitForFunction(() => document.getElementById('results').getAttribute('aria-busy') === 'false');
  assert.equal(await failed.getAttribute('data-model'), 'gemini-2.5-flash-image');
  assert.match(await failed.textContent(), /IMG_UPSTREAM_ERROR/);
  assert.equal(await page.locator('#grid figure.card').getAttribute('data-model'), 'gemini-3-pro-image');
  assert.match(await page.textContent('#meta'), /partial/);
  // Retry asks that model alone, as a generation (the mock fails it again).
  const req = page.waitForRequest((r) => r.url().endsWith('/v1/images/generations'));
  await failed.getByRole('button', { name: /Retry/ }).click();
  assert.deepEqual(JSON.parse((await req).postData()), { prompt, model: 'gemini-2.5-flash-image' });
  await page.locator('#grid .card.failed .remedy').waitFor();
  assert.equal(await page.locator('#grid .card').count(), 2, 'the same card, failed again');
  await waitLive(page, /gemini-2\.5-flash-image failed again/);
  assertNoProblems(page, HTTP_ERRORS);
  await page.context().close();
});

test('Enhance offers a rewrite, and says when it is the fallback', async () => {
  const page = await openPage(browser, gw.page);
  const prompt = uniquePrompt('a red fox in the snow');
  await page.fill('#prompt', prompt);
  const resp = page.waitForResponse((r) => r.url().endsWith('/v1/prompts/enhance'));
  await page.getByRole('button', { name: 'Enhance' }).click();
  const answer = await (await resp).json();
  assert.equal(answer.fallback, false);
  await page.locator('#suggest').waitFor();
  assert.equal(await page.textContent('#suggest-text'), answer.enhanced_prompt);
  assert.notEqual(answer.enhanced_prompt, prompt);
  assert.match(await page.textContent('#suggest-note'), new RegExp('Rewritten by ' + answer.model));
  assert.equal(await page.evaluate(() => document.activeElement.id), 'suggest-text', 'focus moves to the suggestion');
  await page.getByRole('button', { name: 'Use this prompt' }).click();
  assert.equal(await page.inputValue('#prompt'), answer.enhanced_prompt);
  assert.equal(await page.isVisible('#suggest'), false);

  // The text model failing: still a suggestion (the offline rewrite), marked as the fallback.
  const failing = uniquePrompt('a quiet harbour mock:status=503');
  await page.fill('#prompt', failing);
  const resp2 = page.waitForResponse((r) => r.url().endsWith('/v1/prompts/enhance'));
  await page.getByRole('button', { name: 'Enhance' }).click();
  const fb = await (await resp2).json();
  assert.equal(fb.fallback, true);
  await page.waitForFunction(() => document.getElementById('suggest-note').dataset.fallback === 'true');
  assert.match(await page.textContent('#suggest-note'), /Fallback/);
  assert.equal(await page.textContent('#suggest-text'), fb.enhanced_prompt);
  await screenshot(page, 'enhance-fallback-desktop');
  await page.getByRole('button', { name: 'Keep mine' }).click();
  assert.equal(await page.inputValue('#prompt'), failing, 'Keep mine leaves the prompt alone');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'prompt');
  assertOnlyOwnOrigin(page, gw.url);
  assertNoProblems(page);
  await page.context().close();
});

test('full-size view: arrows move between images, Esc closes, focus returns', async () => {
  const page = await openPage(browser, gw.page);
  await pickModels(page, ['local-preview']);
  await page.fill('#prompt', uniquePrompt('three kites over a beach'));
  await page.fill('#n', '3');
  await page.click('#go');
  await page.waitForFunction(() => document.querySelectorAll('#grid figure.card').length === 3);
  const thumbs = page.locator('#grid .thumb');
  const srcs = await page.locator('#grid .thumb img').evaluateAll((imgs) => imgs.map((i) => i.src));
  assert.equal(new Set(srcs).size, 3, 'three different images');
  await thumbs.nth(0).focus();
  await page.keyboard.press('Enter');
  const viewer = page.locator('#viewer');
  await viewer.waitFor();
  assert.equal(await page.evaluate(() => document.getElementById('viewer').open), true);
  assert.equal(await page.textContent('#viewer-pos'), '1 of 3');
  assert.equal(await page.getAttribute('#viewer-img', 'src'), srcs[0]);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'viewer-close', 'focus moves into the dialog');
  await screenshot(page, 'viewer-desktop', { docs: true });
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.textContent('#viewer-pos'), '2 of 3');
  assert.equal(await page.getAttribute('#viewer-img', 'src'), srcs[1]);
  await page.keyboard.press('ArrowLeft');
  await page.keyboard.press('ArrowLeft');
  assert.equal(await page.textContent('#viewer-pos'), '3 of 3', 'wraps around');
  assert.equal(await page.getAttribute('#viewer-download', 'href'), srcs[2]);
  assert.match(await page.getAttribute('#viewer-download', 'download'), /\.png$/);
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.textContent('#viewer-pos'), '1 of 3');
  await page.keyboard.press('Escape');
  assert.equal(await page.evaluate(() => document.getElementById('viewer').open), false);
  assert.ok(await thumbs.nth(0).evaluate((t) => t === document.activeElement), 'focus is back on the image that opened it');
  // The download link hands over the image itself.
  const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#grid figure.card').nth(1).getByRole('link', { name: /Download/ }).click()]);
  assert.match(download.suggestedFilename(), /^imagegw-local-preview-1x1-2\.png$/);
  const bytes = await (await download.createReadStream()).toArray();
  assert.deepEqual([...Buffer.concat(bytes).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
  assertNoProblems(page);
  await page.context().close();
});

test('an error shows its remedy, and Retry recovers', async () => {
  const page = await openPage(browser, gw.page);
  await pickModels(page, ['gemini-3-pro-image']);
  // The mock fails this prompt three times: the gateway's attempt and its two retries.
  const prompt = uniquePrompt('a windmill mock:fail=503x3');
  await page.fill('#prompt', prompt);
  const resp = page.waitForResponse((r) => r.url().endsWith('/v1/images/generations'));
  await page.click('#go');
  const r = await resp;
  assert.equal(r.status(), 502);
  const { error } = await r.json();
  assert.equal(error.code, 'IMG_UPSTREAM_ERROR');
  const alert = page.getByRole('alert').filter({ hasText: error.message });
  await alert.waitFor();
  assert.equal(await alert.locator('.remedy').textContent(), 'What to do: ' + error.remedy);
  assert.match(await alert.textContent(), new RegExp(error.request_id));
  assert.equal(await page.locator('#grid .card').count(), 0);
  await screenshot(page, 'error-desktop', { docs: true });
  const retryResp = page.waitForResponse((x) => x.url().endsWith('/v1/images/generations'));
  await alert.getByRole('button', { name: 'Retry' }).click();
  assert.equal((await retryResp).status(), 200);
  assert.equal(JSON.parse((await retryResp).request().postData()).prompt, prompt, 'the same request again');
  await page.locator('#grid figure.card').waitFor();
  assert.equal(await page.textContent('#error'), '', 'the error is gone');
  assertNoProblems(page, HTTP_ERRORS);
  await page.context().close();
});

test('a prompt with markup is shown as text, never run', async () => {
  const page = await openPage(browser, gw.page);
  await pickModels(page, ['local-preview']);
  const evil = '<img src=x onerror=alert(1)>';
  await page.fill('#prompt', evil);
  await page.click('#go');
  const card = page.locator('#grid figure.card');
  await card.waitFor();
  assert.equal(await card.locator('.prompt').textContent(), evil);
  assert.equal(await card.locator('img').getAttribute('alt'), evil);
  await card.locator('.thumb').click();
  assert.match(await page.textContent('#viewer-caption'), /<img src=x onerror=alert\(1\)>/);
  await page.keyboard.press('Escape');
  // The suggestion and the errors are text too.
  await page.getByRole('button', { name: 'Enhance' }).click();
  await page.locator('#suggest-text').waitFor();
  assert.ok((await page.textContent('#suggest-text')).includes('<img src=x onerror=alert(1)>'));
  await page.waitForTimeout(300);
  assert.deepEqual(page.dialogs, [], 'no dialog opened');
  assert.equal(await page.locator('img[src="x"]').count(), 0, 'no img element made from the prompt');
  const srcs = await page.locator('img').evaluateAll((imgs) => imgs.map((i) => i.getAttribute('src')).filter(Boolean));
  assert.ok(srcs.every((s) => /^(blob:|data:image\/|http:\/\/127\.0\.0\.1:)/.test(s)), srcs.join(' '));
  assertNoProblems(page);
  await page.context().close();
});

test('shortcut help opens with ?, closes with Esc, and single keys can be turned off', async () => {
  const page = await openPage(browser, gw.page);
  await page.locator('body').click({ position: { x: 5, y: 700 } });
  await page.keyboard.press('?');
  assert.equal(await page.evaluate(() => document.getElementById('help').open), true);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'help-close');
  await screenshot(page, 'shortcuts-desktop');
  await page.keyboard.press('Escape');
  assert.equal(await page.evaluate(() => document.getElementById('help').open), false);
  // '/' jumps to the prompt; typing '?' there is just text.
  await page.keyboard.press('/');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'prompt');
  await page.keyboard.type('what?');
  assert.equal(await page.inputValue('#prompt'), 'what?');
  assert.equal(await page.evaluate(() => document.getElementById('help').open), false);
  // Turned off (and remembered), '?' does nothing.
  await page.getByRole('button', { name: 'Shortcuts' }).click();
  await page.getByLabel(/Single-key shortcuts/).uncheck();
  await page.getByRole('button', { name: 'Close' }).click();
  assert.equal(await page.evaluate(() => document.activeElement.id), 'help-open', 'focus back on the opener');
  await page.reload();
  await page.locator('body').click({ position: { x: 5, y: 700 } });
  await page.keyboard.press('?');
  assert.equal(await page.evaluate(() => document.getElementById('help').open), false);
  assertNoProblems(page);
  await page.context().close();
});

test('Inspire me fills in sample prompts', async () => {
  const page = await openPage(browser, gw.page);
  const inspire = page.getByRole('button', { name: 'Inspire me' });
  await inspire.click();
  const first = await page.inputValue('#prompt');
  assert.ok(first.length > 20, first);
  await inspire.click();
  const second = await page.inputValue('#prompt');
  assert.ok(second.length > 20 && second !== first, 'never the same prompt twice in a row');
  await waitLive(page, second);
  await page.context().close();
});

test('the completion sound is off by default, WebAudio when chosen, remembered', async () => {
  // Counts the oscillators the page starts (the chime is two of them).
  const init = () => {
    window.oscillators = 0;
    const A = window.AudioContext;
    window.AudioContext = class extends A {
      createOscillator() { window.oscillators++; return super.createOscillator(); }
    };
  };
  const page = await openPage(browser, gw.page, { init });
  const sound = page.getByRole('button', { name: 'Sound', exact: true });
  assert.equal(await sound.getAttribute('aria-pressed'), 'false');
  await pickModels(page, ['local-preview']);
  await page.fill('#prompt', uniquePrompt('a quiet sound test'));
  await page.click('#go');
  await page.locator('#grid figure.card').waitFor();
  assert.equal(await page.evaluate(() => window.oscillators), 0, 'silent by default');
  await sound.click();
  assert.equal(await sound.getAttribute('aria-pressed'), 'true');
  assert.equal(await page.evaluate(() => window.oscillators), 2, 'a sample chime when switched on');
  await page.fill('#prompt', uniquePrompt('a loud sound test'));
  await page.click('#go');
  await page.waitForFunction(() => window.oscillators === 4);
  assert.equal(await page.evaluate(() => JSON.parse(localStorage.getItem('imagegw.prefs')).sound), true);
  await page.reload();
  assert.equal(await page.getByRole('button', { name: 'Sound', exact: true }).getAttribute('aria-pressed'), 'true');
  await page.context().close();
});

test('360 px wide: one column, nothing scrolls sideways', async () => {
  const page = await openPage(browser, gw.page, { viewport: PHONE });
  await pickModels(page, ['local-preview']);
  await page.fill('#prompt', uniquePrompt('a narrow street in the rain'));
  await page.click('#go');
  await page.locator('#grid figure.card').waitFor();
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth),
    'no horizontal scroll');
  const [form, results] = await Promise.all([page.locator('#gen-form').boundingBox(), page.locator('#results').boundingBox()]);
  assert.ok(results.y > form.y + form.height - 1, 'results below the form');
  await screenshot(page, 'create-phone', { docs: 0.75, fullPage: true });
  await page.context().close();
});

test('reduced motion: the waiting cards do not animate', async () => {
  const page = await openPage(browser, gw.page, { reducedMotion: 'reduce' });
  await pickModels(page, ['gemini-3-pro-image']);
  await page.fill('#prompt', uniquePrompt('a slow one mock:delay=1'));
  await page.click('#go');
  const ph = page.locator('#grid .card[data-state="running"] .placeholder');
  await ph.waitFor();
  assert.equal(await ph.evaluate((e) => getComputedStyle(e, '::after').animationName), 'none');
  await page.locator('#grid figure.card').waitFor();
  await page.context().close();
  const moving = await openPage(browser, gw.page);
  await pickModels(moving, ['gemini-3-pro-image']);
  await moving.fill('#prompt', uniquePrompt('a slow one mock:delay=1'));
  await moving.click('#go');
  const ph2 = moving.locator('#grid .card[data-state="running"] .placeholder');
  await ph2.waitFor();
  assert.equal(await ph2.evaluate((e) => getComputedStyle(e, '::after').animationName), 'sheen');
  await moving.locator('#grid figure.card').waitFor();
  await moving.context().close();
});

test('keyboard only: skip link, prompt, options in order, generate, view, shortcuts', async () => {
  const page = await openPage(browser, gw.page);
  const active = () => page.evaluate(() => {
    const a = document.activeElement;
    const s = getComputedStyle(a);
    const name = a.name === 'model' ? 'model:' + a.value : a.id || a.className || a.tagName.toLowerCase();
    return { name, ring: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2 };
  });
  await page.keyboard.press('Tab');
  assert.equal((await active()).name, 'skip');
  await page.keyboard.press('Enter');
  assert.equal((await active()).name, 'prompt');
  const prompt = uniquePrompt('a harbour at night, typed');
  await page.keyboard.type(prompt);
  const order = [];
  for (let i = 0; i < 40 && order[order.length - 1] !== 'go'; i++) {
    await page.keyboard.press('Tab');
    const a = await active();
    assert.ok(a.ring, 'visible focus on ' + a.name);
    order.push(a.name);
    if (a.name === 'n') { await page.keyboard.press('Control+A'); await page.keyboard.type('2'); }
  }
  const expected = ['inspire', 'enhance', 'model:gemini-3-pro-image', 'model:local-preview', 'show-variants',
    'aspect', 'size', 'style', 'n', 'safety', 'go'];
  const positions = expected.map((x) => order.indexOf(x));
  assert.ok(positions.every((p, i) => p >= 0 && (i === 0 || p > positions[i - 1])), 'tab order: ' + order.join(' '));
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelectorAll('#grid figure.card').length === 2);
  await page.keyboard.press('Tab');
  assert.deepEqual(await active(), { name: 'thumb', ring: true });
  await page.keyboard.press('Enter');
  assert.equal(await page.textContent('#viewer-pos'), '1 of 2');
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.textContent('#viewer-pos'), '2 of 2');
  await page.keyboard.press('Escape');
  assert.ok(await page.locator('#grid .thumb').nth(1).evaluate((t) => t === document.activeElement),
    'focus on the image last shown');
  // '/' back to the prompt, a new one, Ctrl+Enter.
  await page.keyboard.press('/');
  assert.equal((await active()).name, 'prompt');
  await page.keyboard.press('Control+A');
  const second = uniquePrompt('a second harbour, typed');
  await page.keyboard.type(second);
  await page.keyboard.press('Control+Enter');
  await page.waitForFunction((p) => [...document.querySelectorAll('#grid figure .prompt')].some((e) => e.textContent === p), second);
  assert.equal((await active()).name, 'prompt', 'Ctrl+Enter leaves focus in the prompt');
  assertNoProblems(page);
  await page.context().close();
});
