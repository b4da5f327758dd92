// The Gallery view against a gateway of its own (only local-preview, so the entries are
// exactly the ones made here): pages through more entries than one page holds with the
// `before` cursor, opens an entry's detail and comes back to where it was.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startLauncher, launchBrowser, openPage, screenshot, api, assertOnlyOwnOrigin, assertNoProblems,
  waitLive, PHONE,
} from './harness.mjs';

let launcher, browser, gw;
const PAGE = 3;
const prompts = [];
const EVIL = '<img src=x onerror=alert(1)> in the gallery';

before(async () => {
  launcher = await startLauncher();
  gw = await launcher.gateway();
  // Seven entries (pages of 3, 3 and 1), one of them with markup in its prompt.
  for (let i = 1; i <= 7; i++) {
    const prompt = i === 5 ? EVIL : `gallery entry ${i} of seven, a paper boat`;
    const r = await api(gw.url, 'POST', '/v1/images/generations',
      { prompt, model: 'local-preview', ...(i === 2 ? { n: 2 } : {}) });
    assert.equal(r.status, 200);
    prompts.push(prompt);
    // Entries are recorded after the reply; wait for each so their order is this one.
    for (let t = 0; t < 100; t++) {
      const g = await api(gw.url, 'GET', '/v1/gallery?limit=100');
      if (g.json.data.length === i) break;
      await new Promise((ok) => setTimeout(ok, 50));
    }
  }
  browser = await launchBrowser();
});
after(async () => {
  if (browser) await browser.close();
  if (launcher) await launcher.stop();
});

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
