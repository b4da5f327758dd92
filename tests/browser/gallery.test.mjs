// The Gallery view against a gateway of its own (only local-preview, so the entries are
// exactly the ones made here): pages through more entries than one page holds with the
// `before` cursor, opens an entry's detail and comes back to where it was, and deletes
// entries (on a second gateway, so the first keeps its seven).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startGateways, stopGateways, openPage, screenshot, api, assertOnlyOwnOrigin, assertNoProblems,
  waitLive, PHONE,
} from './harness.mjs';

let launcher, browser, gw;
const PAGE = 3;
const prompts = [];
const EVIL = '<img src=x onerror=alert(1)> in the gallery';

/* Generates with local-preview and waits for the gallery to hold `count` entries (they
   are recorded after the reply), so that entries are in the order they were made. */
async function record(g, prompt, count, extra = {}) {
  const r = await api(g.url, 'POST', '/v1/images/generations', { prompt, model: 'local-preview', ...extra });
  assert.equal(r.status, 200);
  for (let t = 0; t < 100; t++) {
    const list = await api(g.url, 'GET', '/v1/gallery?limit=100');
    if (list.json.data.length === count) return;
    await new Promise((ok) => setTimeout(ok, 50));
  }
  assert.fail('the gallery never held ' + count + ' entries');
}

/* Seven entries (pages of 3, 3 and 1), one of them with markup in its prompt. */
async function seed({ gw: g }) {
  for (let i = 1; i <= 7; i++) {
    const prompt = i === 5 ? EVIL : `gallery entry ${i} of seven, a paper boat`;
    await record(g, prompt, i, i === 2 ? { n: 2 } : {});
    prompts.push(prompt);
  }
}

const suite = {};
before(async () => ({ launcher, browser, gw } = await startGateways(suite, { gw: {} }, seed)));
after(() => stopGateways(suite));

const shown = (page) => page.locator('#gallery-list .entry-prompt').allTextContents();
const newest = () => [...prompts].reverse();

test('pages through the gallery with Older and Newer', async () => {
  const page = await openPage(browser, gw.page + `?limit=${PAGE}#gallery`);
  await page.locator('#gallery-list li').first().waitFor();
  assert.equal(await page.isVisible('#view-create'), false);
  assert.equal(await page.getAttribute('#nav-gallery', 'aria-current'), 'page');
  assert.deepEqual(await shown(page), newest().slice(0, 3));
  assert.equal(await page.textContent('#gallery-page'), 'Page 1');
  assert.equal(await page.isDisabled('#gallery-newer'), true);
  await screenshot(page, 'gallery-desktop', { docs: true });

  const older = page.getByRole('button', { name: 'Older' });
  const req = page.waitForRequest((r) => r.url().includes('/v1/gallery?'));
  await older.click();
  const url = new URL((await req).url());
  assert.equal(url.searchParams.get('limit'), String(PAGE));
  assert.match(url.searchParams.get('before'), /^gal_/, 'the before cursor');
  await page.waitForFunction(() => document.getElementById('gallery-page').textContent === 'Page 2');
  assert.deepEqual(await shown(page), newest().slice(3, 6));
  await waitLive(page, /Gallery page 2: 3 entries/);
  await older.click();
  await page.waitForFunction(() => document.getElementById('gallery-page').textContent === 'Page 3');
  assert.deepEqual(await shown(page), newest().slice(6));
  assert.equal(await older.isDisabled(), true, 'the last page');
  assert.equal(await page.evaluate(() => document.activeElement.className), 'entry', 'focus on the page\'s first entry');
  await page.getByRole('button', { name: 'Newer' }).click();
  await page.waitForFunction(() => document.getElementById('gallery-page').textContent === 'Page 2');
  assert.deepEqual(await shown(page), newest().slice(3, 6));
  assertOnlyOwnOrigin(page, gw.url);
  assertNoProblems(page);
  await page.context().close();
});

test('an entry\'s detail: its images, parameters, and back to the same place', async () => {
  const page = await openPage(browser, gw.page + `?limit=${PAGE}#gallery`);
  await page.locator('#gallery-list li').first().waitFor();
  await page.getByRole('button', { name: 'Older' }).click();
  await page.waitForFunction(() => document.getElementById('gallery-page').textContent === 'Page 2');
  // Entry 2 made two images.
  const entry = page.getByRole('link', { name: /gallery entry 2 of seven/ });
  const req = page.waitForResponse((r) => /\/v1\/gallery\/gal_/.test(r.url()));
  await entry.click();
  const detail = await (await req).json();
  assert.equal(detail.image_count, 2);
  await page.waitForFunction(() => document.querySelectorAll('#detail-grid figure.card').length === 2);
  assert.equal(await page.textContent('#detail-title'), prompts[1]);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'detail-title');
  assert.match(await page.textContent('#detail-meta'), /generation/);
  assert.ok(await page.locator('#detail-grid img').evaluateAll((imgs) => imgs.every((i) => i.complete && i.naturalWidth > 0)));
  await screenshot(page, 'gallery-detail-desktop');
  await page.locator('#detail-grid .thumb').first().click();
  assert.equal(await page.textContent('#viewer-pos'), '1 of 2');
  await page.keyboard.press('Escape');
  await page.getByRole('link', { name: 'Back to the gallery' }).click();
  await page.waitForFunction(() => !document.getElementById('gallery-list-view').hidden);
  assert.equal(await page.textContent('#gallery-page'), 'Page 2', 'the same page');
  assert.ok(await entry.evaluate((a) => a === document.activeElement), 'focus on the entry that was opened');
  // "Use this prompt" takes it back to Create.
  await entry.click();
  await page.waitForFunction(() => document.querySelectorAll('#detail-grid figure.card').length === 2);
  await page.getByRole('button', { name: 'Use this prompt' }).click();
  await page.waitForFunction(() => !document.getElementById('view-create').hidden);
  assert.equal(await page.inputValue('#prompt'), prompts[1]);
  await page.waitForTimeout(100); // the view switch must not take focus from the prompt
  assert.equal(await page.evaluate(() => document.activeElement.id), 'prompt');
  // '/' from the gallery: back to Create, in the prompt.
  await page.getByRole('link', { name: 'Gallery' }).click();
  await page.locator('#gallery-list li').first().waitFor();
  await page.waitForFunction(() => document.activeElement.id === 'gallery-title');
  await page.keyboard.press('/');
  await page.waitForFunction(() => !document.getElementById('view-create').hidden);
  await page.waitForTimeout(100);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'prompt');
  assertNoProblems(page);
  await page.context().close();
});

test('gallery prompts are text; 360 px wide fits', async () => {
  const page = await openPage(browser, gw.page + `?limit=${PAGE}#gallery`, { viewport: PHONE });
  await page.locator('#gallery-list li').first().waitFor();
  assert.ok((await shown(page)).includes(EVIL));
  assert.equal(await page.locator('img[src="x"]').count(), 0);
  assert.deepEqual(page.dialogs, []);
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth));
  await screenshot(page, 'gallery-phone', { docs: 0.75, fullPage: true });
  await page.getByRole('link', { name: /onerror/ }).click();
  await page.waitForFunction(() => document.querySelectorAll('#detail-grid figure.card').length === 1);
  assert.equal(await page.textContent('#detail-title'), EVIL);
  assert.equal(await page.locator('img[src="x"]').count(), 0);
  assert.deepEqual(page.dialogs, []);
  assertNoProblems(page);
  await page.context().close();
});

test('an unknown entry shows the gateway\'s error with its remedy', async () => {
  const page = await openPage(browser, gw.page + '#gallery/gal_00000000000000000000000000');
  const alert = page.locator('#detail-error');
  await alert.locator('.title').waitFor();
  assert.match(await alert.textContent(), /What to do:/);
  assert.match(await alert.textContent(), /IMG_NOT_FOUND/);
  assert.equal(await alert.getByRole('button', { name: 'Retry' }).count(), 1);
  assertNoProblems(page, [/status of 404/]);
  await page.context().close();
});

/* A gateway of its own with n entries (`${text} ${i} of ${n}`, i = 1..n, oldest first)
   and the page on its gallery, PAGE entries a page. */
async function galleryOf(n, text) {
  const g = await launcher.gateway();
  const made = [];
  for (let i = 1; i <= n; i++) {
    made.push(`${text} ${i} of ${n}`);
    await record(g, made[i - 1], i);
  }
  const page = await openPage(browser, g.page + `?limit=${PAGE}#gallery`);
  await page.locator('#gallery-list li').first().waitFor();
  return { g, made, page };
}

test('deletes an entry from its detail, after a confirmation, by keyboard', async () => {
  const { g, made, page } = await galleryOf(4, 'to delete, a kite');
  assert.deepEqual(await shown(page), [made[3], made[2], made[1]]);

  // Open the newest; "Delete entry" asks first, and Esc backs out without a request.
  await page.getByRole('link', { name: new RegExp(made[3]) }).click();
  await page.locator('#detail-grid figure.card').waitFor();
  const del = page.getByRole('button', { name: 'Delete entry' });
  assert.equal(await del.getAttribute('aria-expanded'), 'false');
  await del.focus();
  await page.keyboard.press('Enter');
  assert.equal(await page.isVisible('#detail-confirm'), true);
  assert.equal(await del.getAttribute('aria-expanded'), 'true');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'detail-delete-no', 'focus on the safe choice');
  assert.equal(await page.getByRole('group', { name: /Delete this entry/ }).count(), 1);
  await screenshot(page, 'gallery-delete-confirm');
  await page.keyboard.press('Escape');
  assert.equal(await page.isVisible('#detail-confirm'), false);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'detail-delete');
  assert.equal(page.requests.filter((r) => r.method === 'DELETE').length, 0);

  // Again, and confirm (Tab from "Keep it" back to "Yes, delete", Space presses it).
  await page.keyboard.press(' ');
  await page.keyboard.press('Shift+Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'detail-delete-yes');
  const answer = page.waitForResponse((r) => r.request().method() === 'DELETE');
  await page.keyboard.press(' ');
  const res = await answer;
  assert.equal(res.status(), 200);
  const body = await res.json();
  assert.equal(body.deleted, true);
  assert.match(res.url(), new RegExp('/v1/gallery/' + body.id + '$'));
  // Back on the list, reloaded: the entry is gone and the next one moved up.
  await page.waitForFunction(() => !document.getElementById('gallery-list-view').hidden);
  await page.waitForFunction((p) => ![...document.querySelectorAll('#gallery-list .entry-prompt')]
    .some((e) => e.textContent === p), made[3]);
  assert.deepEqual(await shown(page), [made[2], made[1], made[0]]);
  await waitLive(page, /^Deleted “to delete, a kite 4 of 4”\. Gallery page 1: 3 entries\.$/);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'gallery-title');
  assert.equal(new URL(page.url()).hash, '#gallery');
  assert.equal((await api(g.url, 'GET', '/v1/gallery/' + body.id)).status, 404);
  assert.equal((await api(g.url, 'GET', '/v1/gallery?limit=100')).json.data.length, 3);
  assert.deepEqual(page.dialogs, [], 'no native dialog');
  assertNoProblems(page);
  await page.context().close();
});

test('the last entry of a page, and a failed delete showing the error and its remedy', async () => {
  const { g, made, page } = await galleryOf(5, 'page edge, a lantern');
  await page.getByRole('button', { name: 'Older' }).click();
  await page.waitForFunction(() => document.getElementById('gallery-page').textContent === 'Page 2');
  assert.deepEqual(await shown(page), [made[1], made[0]]);

  // Removed elsewhere (another tab) while shown here: the gateway's 404, with its remedy.
  await page.getByRole('link', { name: new RegExp(made[0]) }).click();
  await page.locator('#detail-grid figure.card').waitFor();
  const id = decodeURIComponent(new URL(page.url()).hash.slice('#gallery/'.length));
  assert.equal((await api(g.url, 'DELETE', '/v1/gallery/' + id)).status, 200);
  await page.getByRole('button', { name: 'Delete entry' }).click();
  await page.getByRole('button', { name: 'Yes, delete' }).click();
  const alert = page.locator('#detail-error');
  await alert.locator('.title').waitFor();
  assert.match(await alert.textContent(), /IMG_NOT_FOUND/);
  assert.match(await alert.textContent(), /What to do: Reload the gallery/);
  assert.equal(await page.isVisible('#detail-confirm'), false);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'detail-delete');

  // Back to page 2, reloaded without it; delete the one left there: page 1 is shown.
  await page.getByRole('link', { name: 'Back to the gallery' }).click();
  await page.waitForFunction(() => !document.getElementById('gallery-list-view').hidden);
  await page.waitForFunction(() => document.querySelectorAll('#gallery-list li').length === 1);
  assert.deepEqual(await shown(page), [made[1]]);
  await page.getByRole('link', { name: new RegExp(made[1]) }).click();
  await page.locator('#detail-grid figure.card').waitFor();
  await page.getByRole('button', { name: 'Delete entry' }).click();
  await page.getByRole('button', { name: 'Yes, delete' }).click();
  await page.waitForFunction(() => !document.getElementById('gallery-list-view').hidden
    && document.getElementById('gallery-page').textContent === 'Page 1');
  assert.deepEqual(await shown(page), [made[4], made[3], made[2]]);
  assert.equal(await page.isDisabled('#gallery-older'), true);
  assert.deepEqual(page.dialogs, [], 'no native dialog');
  assertOnlyOwnOrigin(page, g.url);
  assertNoProblems(page, [/status of 404/]);
  await page.context().close();
});
