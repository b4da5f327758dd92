// The page on gateways set up as users deploy them: one that wants an API key (the key
// kept in sessionStorage only, sent as a Bearer token), one mounted under a base_path,
// and the page's weight budget.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import path from 'node:path';
import {
  startGateways, stopGateways, openPage, screenshot, pickModels, uniquePrompt,
  assertOnlyOwnOrigin, assertNoProblems, ROOT,
} from './harness.mjs';

const KEY = 'page-test-key-4f1c';
const suite = {};
let browser, keyed, based;
before(async () => ({ browser, keyed, based } = await startGateways(suite, {
  keyed: { settings: { api_key: KEY } },
  based: { base_path: '/imagegw' },
})));
after(() => stopGateways(suite));

test('a gateway that wants a key: 401 with its remedy, then the key in sessionStorage only', async () => {
  const page = await openPage(browser, keyed.page);
  const alert = page.locator('#models-error');
  await alert.locator('.title').waitFor();
  assert.match(await alert.textContent(), /IMG_UNAUTHORIZED/);
  assert.match(await alert.textContent(), /What to do:/);
  await screenshot(page, 'key-needed-desktop');
  await alert.getByRole('button', { name: 'Enter an API key' }).click();
  assert.equal(await page.evaluate(() => document.activeElement.id), 'key');
  await page.keyboard.type(KEY);
  const models = page.waitForResponse((r) => r.url().endsWith('/v1/models'));
  await page.keyboard.press('Tab'); // leaving the field loads the models with the key
  assert.equal((await models).status(), 200);
  assert.equal((await models).request().headers().authorization, 'Bearer ' + KEY);
  await page.locator('#model-list input[value="local-preview"]').waitFor();
  assert.equal(await page.textContent('#models-error'), '');
  assert.equal(await page.textContent('#key-state'), 'set for this tab');

  const storage = () => page.evaluate(() => ({
    session: { ...sessionStorage }, local: { ...localStorage },
  }));
  let s = await storage();
  assert.equal(s.session['imagegw.apiKey'], KEY);
  assert.ok(!JSON.stringify(s.local).includes(KEY), 'the key is not in localStorage: ' + JSON.stringify(s.local));

  await pickModels(page, ['local-preview']);
  await page.fill('#prompt', uniquePrompt('a key-holder\'s picture'));
  const gen = page.waitForRequest((r) => r.url().endsWith('/v1/images/generations'));
  await page.click('#go');
  assert.equal((await gen).headers().authorization, 'Bearer ' + KEY);
  await page.locator('#grid figure.card').waitFor();

  // A reload in the same tab keeps it; localStorage still never sees it.
  await page.reload();
  await page.locator('#model-list input[value="local-preview"]').waitFor();
  assert.equal(await page.inputValue('#key'), KEY);
  s = await storage();
  assert.ok(!JSON.stringify(s.local).includes(KEY));
  // Forget key: gone from the tab too.
  await page.locator('#keybox summary').click();
  await page.getByRole('button', { name: 'Forget key' }).click();
  s = await storage();
  assert.equal(s.session['imagegw.apiKey'], undefined);
  await alert.locator('.title').waitFor();
  assertOnlyOwnOrigin(page, keyed.url);
  assertNoProblems(page, [/status of 401/]);
  await page.context().close();

  // Another tab (a new browsing context) starts without it.
  const other = await openPage(browser, keyed.page);
  assert.equal(await other.inputValue('#key'), '');
  await other.context().close();
});

test('under a base_path: the page and every API call stay under it', async () => {
  assert.match(based.page, /\/imagegw\/$/);
  const page = await openPage(browser, based.page);
  await page.locator('#model-list input[value="local-preview"]').waitFor();
  // With no upstream key, local-preview is what the page picks, labelled as a preview.
  assert.deepEqual(await page.locator('#model-list input:checked').evaluateAll((b) => b.map((x) => x.value)), ['local-preview']);
  assert.equal(await page.isVisible('#preview-note'), true);
  await page.fill('#prompt', uniquePrompt('a mounted lighthouse'));
  await page.click('#go');
  await page.locator('#grid figure.card').waitFor();
  await page.getByRole('link', { name: 'Gallery' }).click();
  await page.locator('#gallery-list li').first().waitFor();
  await page.locator('#gallery-list a').first().click();
  await page.locator('#detail-grid figure.card').waitFor();
  assert.ok(await page.locator('#detail-grid img').evaluate((i) => i.complete && i.naturalWidth > 0));
  const paths = page.requests.map((r) => new URL(r.url)).filter((u) => u.protocol === 'http:').map((u) => u.pathname);
  for (const p of ['/imagegw/v1/models', '/imagegw/healthz', '/imagegw/v1/images/generations', '/imagegw/v1/gallery']) {
    assert.ok(paths.includes(p), p + ' in ' + paths.join(' '));
  }
  assert.deepEqual(paths.filter((p) => !p.startsWith('/imagegw/')), [], 'nothing outside the base_path');
  assert.equal(await page.textContent('#health-text'), 'Gateway ready · offline preview only');
  assertOnlyOwnOrigin(page, based.url);
  assertNoProblems(page);
  await page.context().close();
});

test('page weight: HTML + CSS + JS under 60 KB gzipped', () => {
  const www = path.join(ROOT, 'deploy', 'www');
  const total = ['index.html', 'app.css', 'app.js']
    .map((f) => gzipSync(readFileSync(path.join(www, f)), { level: 9 }).length)
    .reduce((a, b) => a + b, 0);
  assert.ok(total < 60 * 1024, `page weight ${total} bytes gzipped`);
});

test('the page\'s own files: no markup from strings, no address outside the gateway', () => {
  const www = path.join(ROOT, 'deploy', 'www');
  const js = readFileSync(path.join(www, 'app.js'), 'utf8');
  // Text reaches the page through textContent and text nodes only.
  for (const sink of ['innerHTML', 'outerHTML', 'insertAdjacentHTML', 'document.write', 'eval(', 'new Function']) {
    assert.ok(!js.includes(sink), 'app.js uses ' + sink);
  }
  for (const f of ['index.html', 'app.css', 'app.js']) {
    const text = readFileSync(path.join(www, f), 'utf8');
    assert.deepEqual(text.match(/(https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}[/\w.-]*/gi) || [], [], f + ' names another host');
    assert.ok(!/@import|url\(\s*['"]?(https?:)?\/\//i.test(text), f + ' loads a remote resource');
  }
});
