// Editing with attached images in headless Chromium against lighttpd + imagegw + the
// mock Gemini: Add images (thumbnails, Remove by keyboard, the 14-image limit), one
// model sending POST /v1/images/edits as multipart (the images reaching the mock as
// inline parts, in order), several models as one edit request each filling its own
// card, a part that is not an image giving the gateway's 400 with its remedy and Retry.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { deflateSync, crc32 } from 'node:zlib';
import {
  startGateways, stopGateways, openPage, screenshot, pickModels, uniquePrompt,
  assertOnlyOwnOrigin, assertNoProblems, waitLive, api,
} from './harness.mjs';

const suite = {};
let launcher, browser, gw;
before(async () => ({ launcher, browser, gw } = await startGateways(suite, { gw: { mock: true } })));
after(() => stopGateways(suite));

const HTTP_ERRORS = [/Failed to load resource: the server responded with a status of (4|5)\d\d/];

/* A valid w×h PNG of one colour. */
function png(w, h, rgb) {
  const chunk = (tag, data) => {
    const len = Buffer.alloc(4), crc = Buffer.alloc(4), td = Buffer.concat([Buffer.from(tag), data]);
    len.writeUInt32BE(data.length);
    crc.writeUInt32BE(crc32(td) >>> 0);
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const row = Buffer.concat([Buffer.from([0]), Buffer.alloc(w * 3).map((_, i) => rgb[i % 3])]);
  const raw = Buffer.concat(Array.from({ length: h }, () => row));
  return Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}
const sha = (b) => createHash('sha256').update(b).digest('hex');
const file = (name, buffer, mimeType = 'image/png') => ({ name, mimeType, buffer });

async function mockCalls() {
  const r = await fetch(gw.mock + '/_mock/requests');
  return (await r.json()).filter((x) => x.path.endsWith(':generateContent'));
}
const mockReset = () => fetch(gw.mock + '/_mock/reset', { method: 'POST' });

/* Chromium does not hand over a multipart body with files to the test, so the page's
   fetch is wrapped: window.sent lists each FormData sent, as [name, text or file:name]. */
const RECORD = () => {
  window.sent = [];
  const f = window.fetch;
  window.fetch = (url, opts) => {
    if (opts && opts.body instanceof FormData) {
      window.sent.push({ url: String(url), parts: [...opts.body].map(([k, v]) => [k, typeof v === 'string' ? v : 'file:' + v.name]) });
    }
    return f(url, opts);
  };
  const r = URL.revokeObjectURL;
  window.revoked = [];
  URL.revokeObjectURL = (u) => { window.revoked.push(u); r.call(URL, u); };
};

test('one model with an image attached: an edit, sent as multipart to /v1/images/edits', async () => {
  const page = await openPage(browser, gw.page, { init: RECORD });
  await pickModels(page, ['gemini-3-pro-image']);
  const img = png(48, 32, [200, 80, 40]);
  await page.setInputFiles('#images', [file('room.png', img)]);
  const thumb = page.locator('#thumbs li');
  assert.equal(await thumb.count(), 1);
  assert.match(await thumb.locator('img').getAttribute('src'), /^blob:/);
  assert.equal(await thumb.locator('img').getAttribute('alt'), 'room.png');
  assert.ok(await thumb.locator('img').evaluate((i) => i.decode().then(() => i.naturalWidth === 48)));
  await waitLive(page, /1 image attached, 1 in all/);
  await mockReset();
  const prompt = uniquePrompt('make the sky purple');
  await page.fill('#prompt', prompt);
  const req = page.waitForRequest((r) => r.url().endsWith('/v1/images/edits'));
  await page.getByRole('button', { name: 'Generate' }).click();
  const sent = await req;
  assert.match(sent.headers()['content-type'], /^multipart\/form-data; boundary=/);
  assert.deepEqual((await page.evaluate(() => window.sent)).map((x) => x.parts),
    [[['image[]', 'file:room.png'], ['prompt', prompt], ['model', 'gemini-3-pro-image']]]);
  const card = page.locator('#grid figure.card');
  await card.waitFor();
  assert.equal(await card.count(), 1);
  assert.ok(await card.locator('img').evaluate((i) => i.complete && i.naturalWidth > 0), 'the result decoded');
  assert.equal(await card.locator('.prompt').textContent(), prompt);
  await waitLive(page, /1 image ready/);
  assert.equal(page.requests.filter((r) => r.url.endsWith('/v1/images/generations')).length, 0);
  // The image reached Gemini as an inline part after the prompt.
  const calls = await mockCalls();
  assert.equal(calls.length, 1);
  const inline = calls[0].parts.items.filter((i) => i.kind === 'inline');
  assert.deepEqual(inline.map((i) => [i.mimeType, i.data_sha256]), [['image/png', sha(img)]]);
  // The gallery records it as an edit.
  const gal = await api(gw.url, 'GET', '/v1/gallery?limit=5');
  const entry = gal.json.data.find((g) => g.prompt === prompt);
  assert.equal(entry && entry.source, 'edit');
  assert.equal(await page.locator('#thumbs li').count(), 1, 'the images stay attached for another try');
  await screenshot(page, 'edit-desktop');
  assertOnlyOwnOrigin(page, gw.url);
  assertNoProblems(page);
  await page.context().close();
});

test('two images and two models: one edit per model, each filling its card', async () => {
  const page = await openPage(browser, gw.page, { init: RECORD });
  await pickModels(page, ['gemini-3-pro-image', 'local-preview']);
  const a = png(40, 40, [10, 120, 200]), b = png(40, 40, [240, 200, 10]);
  await page.setInputFiles('#images', [file('a.png', a), file('b.png', b)]);
  assert.equal(await page.locator('#thumbs li').count(), 2);
  await mockReset();
  const prompt = uniquePrompt('put the two together mock:delay=1');
  await page.fill('#prompt', prompt);
  const reqs = [];
  page.on('request', (r) => { if (r.url().endsWith('/v1/images/edits')) reqs.push(r); });
  await page.click('#go');
  assert.equal(await page.locator('#grid .card').count(), 2, 'one card per model at once');
  await page.waitForFunction(() => document.querySelectorAll('#grid figure.card').length === 2, null, { timeout: 30000 });
  assert.deepEqual(await page.locator('#grid .card').evaluateAll((cs) => cs.map((c) => c.dataset.model)),
    ['gemini-3-pro-image', 'local-preview']);
  assert.ok(await page.locator('#grid figure.card img').evaluateAll((imgs) => imgs.every((i) => i.complete && i.naturalWidth > 0)));
  assert.equal(reqs.length, 2);
  assert.ok(reqs.every((r) => /^multipart\/form-data; boundary=/.test(r.headers()['content-type'])));
  assert.deepEqual((await page.evaluate(() => window.sent)).map((x) => x.parts), ['gemini-3-pro-image', 'local-preview']
    .map((m) => [['image[]', 'file:a.png'], ['image[]', 'file:b.png'], ['prompt', prompt], ['model', m]]));
  assert.equal(page.requests.filter((r) => /\/v1\/jobs/.test(r.url)).length, 0, 'no job');
  const inline = (await mockCalls())[0].parts.items.filter((i) => i.kind === 'inline');
  assert.deepEqual(inline.map((i) => i.data_sha256), [sha(a), sha(b)]);
  await waitLive(page, /Edits done: 2 images ready/);
  assert.equal(await page.getAttribute('#results', 'aria-busy'), 'false');
  assertNoProblems(page);
  await page.context().close();
});

test('thumbnails: removed by keyboard (object URL revoked), at most 14, paste and drop', async () => {
  const page = await openPage(browser, gw.page, { init: RECORD });
  const imgs = [1, 2, 3].map((i) => file('p' + i + '.png', png(8, 8, [i * 60, 0, 0])));
  await page.setInputFiles('#images', imgs);
  const url2 = await page.locator('#thumbs img').nth(1).getAttribute('src');
  const remove2 = page.getByRole('button', { name: 'Remove image 2: p2.png' });
  await remove2.focus();
  await page.keyboard.press('Enter');
  assert.deepEqual(await page.locator('#thumbs img').evaluateAll((l) => l.map((i) => i.alt)), ['p1.png', 'p3.png']);
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Remove image 2: p3.png', 'focus on the next Remove');
  await waitLive(page, /Removed p2\.png\. 2 images attached/);
  assert.deepEqual(await page.evaluate(() => window.revoked), [url2]);
  await page.keyboard.press('Enter');
  await page.keyboard.press('Enter');
  assert.equal(await page.locator('#thumbs li').count(), 0);
  assert.equal(await page.isVisible('#thumbs'), false);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'images', 'focus back on Add images');
  // 15 chosen: 14 kept, a visible message says so.
  await page.setInputFiles('#images', Array.from({ length: 15 }, (_, i) => file('m' + i + '.png', png(4, 4, [i, i, i]))));
  assert.equal(await page.locator('#thumbs li').count(), 14);
  assert.equal(await page.textContent('#images-error'), 'At most 14 images: 1 file not added.');
  assert.equal(await page.isVisible('#images-error'), true);
  await waitLive(page, /At most 14 images/);
  // Pasting an image into the prompt attaches it too (here: refused, the list is full).
  await page.locator('#thumbs button').first().click();
  await page.locator('#prompt').evaluate((t) => {
    const dt = new DataTransfer();
    dt.items.add(new File([new Uint8Array([137, 80, 78, 71])], 'pasted.png', { type: 'image/png' }));
    t.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
  });
  assert.equal(await page.locator('#thumbs li').count(), 14);
  assert.equal(await page.locator('#thumbs img').last().getAttribute('alt'), 'pasted.png');
  // So does dropping image files onto it.
  await page.locator('#thumbs button').first().click();
  await page.locator('#prompt').evaluate((t) => {
    const dt = new DataTransfer();
    dt.items.add(new File([new Uint8Array([137, 80, 78, 71])], 'dropped.png', { type: 'image/png' }));
    const over = new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true });
    t.dispatchEvent(over);
    window.overTaken = over.defaultPrevented;
    t.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  });
  assert.equal(await page.evaluate(() => window.overTaken), true, 'the prompt accepts a drop of files');
  assert.equal(await page.locator('#thumbs img').last().getAttribute('alt'), 'dropped.png');
  assertNoProblems(page);
  await page.context().close();
});

test('a file that is not an image: the gateway\'s 400 with its remedy, and Retry', async () => {
  const page = await openPage(browser, gw.page, { init: RECORD });
  await pickModels(page, ['local-preview']);
  await page.setInputFiles('#images', [file('ok.png', png(16, 16, [0, 0, 0])),
    file('notes.png', Buffer.from('just some text, not a picture\n'), 'image/png')]);
  await page.fill('#prompt', uniquePrompt('combine these'));
  const resp = page.waitForResponse((r) => r.url().endsWith('/v1/images/edits'));
  await page.click('#go');
  const r = await resp;
  assert.equal(r.status(), 400);
  const { error } = await r.json();
  assert.equal(error.param, 'image[1]');
  const alert = page.getByRole('alert').filter({ hasText: error.message });
  await alert.waitFor();
  assert.ok(error.remedy, 'the gateway gives a remedy');
  assert.equal(await alert.locator('.remedy').textContent(), 'What to do: ' + error.remedy);
  assert.equal(await page.locator('#grid .card').count(), 0);
  await waitLive(page, /The request failed/);
  await screenshot(page, 'edit-error-desktop');
  const again = page.waitForResponse((x) => x.url().endsWith('/v1/images/edits'));
  await alert.getByRole('button', { name: 'Retry' }).click();
  assert.equal((await again).status(), 400, 'the same request again');
  await page.getByRole('alert').filter({ hasText: error.message }).waitFor();
  // Remove the bad file and generate: it works.
  await page.getByRole('button', { name: 'Remove image 2: notes.png' }).click();
  await page.click('#go');
  await page.locator('#grid figure.card').waitFor();
  assert.equal(await page.textContent('#error'), '');
  assertNoProblems(page, HTTP_ERRORS);
  await page.context().close();
});

test('an image over max_upload_mb, with two models: each card shows the 413, its remedy and Retry', async () => {
  const small = await launcher.gateway({ settings: { max_upload_mb: 1 } });
  const page = await openPage(browser, small.page, { init: RECORD });
  await pickModels(page, ['local-preview', 'local-preview-16x9']);
  const big = Buffer.concat([png(8, 8, [1, 2, 3]), Buffer.alloc(1024 * 1024 + 10)]);
  await page.setInputFiles('#images', [file('big.png', big)]);
  await page.fill('#prompt', uniquePrompt('too big'));
  const resp = page.waitForResponse((r) => r.url().endsWith('/v1/images/edits'));
  await page.click('#go');
  const r = await resp;
  assert.equal(r.status(), 413);
  const { error } = await r.json();
  assert.equal(error.code, 'IMG_PAYLOAD_TOO_LARGE');
  await page.waitForFunction(() => document.querySelectorAll('#grid .card.failed').length === 2);
  await page.waitForFunction(() => document.getElementById('results').getAttribute('aria-busy') === 'false');
  const failed = page.locator('#grid .card.failed');
  for (let i = 0; i < 2; i++) {
    assert.match(await failed.nth(i).textContent(), /IMG_PAYLOAD_TOO_LARGE/);
    assert.equal(await failed.nth(i).locator('.remedy').textContent(), error.remedy);
  }
  await waitLive(page, /Edits done: 0 images ready, 2 failed/);
  // Retry sends that model's edit again, alone.
  const again = page.waitForResponse((x) => x.url().endsWith('/v1/images/edits'));
  await failed.nth(1).getByRole('button', { name: 'Retry local-preview-16x9' }).click();
  assert.equal((await again).status(), 413);
  await waitLive(page, /local-preview-16x9 failed again/);
  assert.equal((await page.evaluate(() => window.sent)).length, 3);
  assertNoProblems(page, HTTP_ERRORS);
  await page.context().close();
});
