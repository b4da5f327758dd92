// Accessibility checks that a machine can make, in the light and the dark colour
// scheme: every text's contrast against what is behind it (WCAG AA: 4.5:1, 3:1 for
// large text), a label for every control, the landmarks and live regions, over the
// states the page goes through (results, an error, a suggestion, attached images, the
// gallery and its delete confirmation, dialogs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startGateways, stopGateways, openPage, pickModels, uniquePrompt, assertNoProblems,
} from './harness.mjs';

const suite = {};
let browser, gw;
before(async () => ({ browser, gw } = await startGateways(suite, { gw: { mock: true } })));
after(() => stopGateways(suite));

/* Runs in the page: [{text, ratio, need, fg, bg}] for every visible text whose
   contrast is below AA. Backgrounds are composed up the ancestors (alpha-blended);
   text over an image or a gradient, and inactive controls, are left out. */
function lowContrast() {
  const parse = (c) => {
    const m = /rgba?\(([\d.]+)[, ]+([\d.]+)[, ]+([\d.]+)(?:[,/ ]+([\d.]+))?\)/.exec(c);
    return m ? [+m[1], +m[2], +m[3], m[4] === undefined ? 1 : +m[4]] : null;
  };
  const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
  };
  const over = (top, under) => top.slice(0, 3).map((v, i) => v * top[3] + under[i] * (1 - top[3]));
  const bad = [];
  const dialog = document.querySelector('dialog[open]');
  for (const el of document.querySelectorAll('body *')) {
    const text = [...el.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent).join('').trim();
    if (!text || !el.getClientRects().length) continue;
    const cs = getComputedStyle(el);
    if (cs.visibility !== 'visible' || el.closest('.visually-hidden, [hidden], noscript')) continue;
    if (dialog && !dialog.contains(el)) continue; // under the modal's backdrop
    let skip = false, opacity = 1;
    const layers = [];
    for (let a = el; a; a = a.parentElement) {
      const s = getComputedStyle(a);
      opacity *= +s.opacity;
      if (s.backgroundImage !== 'none' && a !== document.documentElement) skip = true;
      const b = parse(s.backgroundColor);
      if (b && b[3] > 0) layers.push(b);
      if (a.matches('dialog[open]')) break;
    }
    if (skip || opacity < 1 || el.closest('button:disabled, [aria-disabled="true"], input:disabled')) continue;
    let bg = [255, 255, 255];
    for (const l of layers.reverse()) bg = over(l, bg);
    const fg = over(parse(cs.color), bg);
    const [hi, lo] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const size = parseFloat(cs.fontSize), bold = +cs.fontWeight >= 700;
    const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    if (ratio < need) bad.push({ text: text.slice(0, 40), ratio: +ratio.toFixed(2), need, fg: fg.map(Math.round), bg: bg.map(Math.round) });
  }
  return bad;
}

/* Controls without a name: inputs, selects, textareas, buttons, links. */
function unlabelled() {
  const out = [];
  for (const el of document.querySelectorAll('input, select, textarea, button, a[href], summary')) {
    if (!el.getClientRects().length) continue;
    const named = (el.labels && el.labels.length) || el.getAttribute('aria-label')
      || el.getAttribute('aria-labelledby') || el.textContent.trim() || el.querySelector('img[alt]:not([alt=""])');
    if (!named) out.push(el.outerHTML.slice(0, 80));
  }
  return out;
}

async function check(page, where) {
  assert.deepEqual(await page.evaluate(lowContrast), [], 'contrast below AA: ' + where);
  assert.deepEqual(await page.evaluate(unlabelled), [], 'controls without a name: ' + where);
}

for (const scheme of ['light', 'dark']) {
  test(`AA contrast and labels, ${scheme} scheme`, async () => {
    const page = await openPage(browser, gw.page);
    await page.emulateMedia({ colorScheme: scheme });
    await check(page, 'start');
    // A result, a preview badge and the metadata.
    await pickModels(page, ['local-preview']);
    await page.fill('#prompt', uniquePrompt('a contrast check'));
    await page.click('#go');
    await page.locator('#grid figure.card').waitFor();
    await check(page, 'a result');
    // A suggestion, with the fallback note.
    await page.fill('#prompt', uniquePrompt('a contrast check mock:status=503'));
    await page.click('#enhance');
    await page.waitForFunction(() => document.getElementById('suggest-note').dataset.fallback === 'true');
    await check(page, 'a suggestion');
    // An error box with its Retry button, and a failed model card in a comparison.
    await pickModels(page, ['gemini-3-pro-image', 'gemini-2.5-flash-image']);
    await page.fill('#prompt', uniquePrompt('a contrast check mock:model_status=flash-image:500'));
    await page.click('#go');
    await page.locator('#grid .card.failed').waitFor({ timeout: 30000 });
    await page.waitForFunction(() => document.getElementById('results').getAttribute('aria-busy') === 'false');
    await check(page, 'a failed model');
    await pickModels(page, ['gemini-3-pro-image']);
    await page.fill('#prompt', uniquePrompt('a contrast check mock:status=400'));
    await page.click('#go');
    await page.locator('#error .title').waitFor();
    await check(page, 'an error');
    // The dialogs and the key box.
    await page.locator('#keybox summary').click();
    await check(page, 'the key box');
    await page.locator('#keybox summary').click();
    await page.getByRole('button', { name: 'Shortcuts' }).click();
    await check(page, 'the shortcut list');
    await page.keyboard.press('Escape');
    await pickModels(page, ['local-preview']);
    await page.click('#go');
    await page.locator('#grid figure.card').waitFor();
    await page.locator('#grid .thumb').first().click();
    await check(page, 'the full-size view');
    await page.keyboard.press('Escape');
    // Attached images (thumbnails, Remove buttons) and the message past 14.
    const dot = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');
    await page.setInputFiles('#images', Array.from({ length: 15 }, (_, i) => ({ name: i + '.png', mimeType: 'image/png', buffer: dot })));
    await page.locator('#images-error').waitFor();
    await check(page, 'attached images');
    // The gallery.
    await page.getByRole('link', { name: 'Gallery' }).click();
    await page.locator('#gallery-list li').first().waitFor();
    await check(page, 'the gallery');
    await page.locator('#gallery-list a').first().click();
    await page.locator('#detail-grid figure.card').waitFor();
    await check(page, 'a gallery entry');
    await page.getByRole('button', { name: 'Delete entry' }).click();
    await check(page, 'the delete confirmation');
    await page.getByRole('button', { name: 'Keep it' }).click();
    assertNoProblems(page, [/status of (400|502)/]);
    await page.context().close();
  });
}

test('landmarks, headings and live regions', async () => {
  const page = await openPage(browser, gw.page);
  const s = await page.evaluate(() => ({
    lang: document.documentElement.lang,
    main: document.querySelectorAll('main').length,
    h1: document.querySelectorAll('h1').length,
    nav: document.querySelector('nav').getAttribute('aria-label'),
    live: document.getElementById('live').getAttribute('aria-live'),
    alerts: [...document.querySelectorAll('[role=alert]')].map((e) => e.id),
    dialogs: [...document.querySelectorAll('dialog')].map((d) => !!document.getElementById(d.getAttribute('aria-labelledby'))),
  }));
  assert.deepEqual(s, {
    lang: 'en', main: 1, h1: 1, nav: 'Pages', live: 'polite',
    alerts: ['suggest-error', 'models-error', 'error', 'gallery-error', 'detail-error'],
    dialogs: [true, true],
  });
  await page.context().close();
});
