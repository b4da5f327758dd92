// Shared helpers of the browser tests: gateways started through gateways.py (the
// integration harness's lighttpd + imagegw + mock), Debian's Chromium driven by
// playwright-core, screenshots under build/browser-artifacts/, and a page wrapper
// that records every request and console error so tests can check them.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, '..', '..');
export const ARTIFACTS = path.join(ROOT, 'build', 'browser-artifacts');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const PYTHON = process.env.PYTHON || '/usr/bin/python3';

/* The gateway launcher: one python process per test file. */
export async function startLauncher() {
  const proc = spawn(PYTHON, [path.join(HERE, 'gateways.py')], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env },
  });
  const lines = createInterface({ input: proc.stdout });
  const waiting = [];
  lines.on('line', (l) => { const w = waiting.shift(); if (w) w(JSON.parse(l)); });
  const ask = (cmd) => new Promise((ok) => { waiting.push(ok); proc.stdin.write(JSON.stringify(cmd) + '\n'); });
  return {
    /* gateway({mock, settings, base_path, env}) -> {url, page, mock} */
    async gateway(opts = {}) {
      const a = await ask({ op: 'gateway', ...opts });
      if (a.error) throw new Error('gateway did not start: ' + a.error);
      return a;
    },
    /* Stops everything; fails when a gateway process wrote a sanitizer report. */
    async stop() {
      const a = await ask({ op: 'stop' });
      await new Promise((ok) => (proc.exitCode !== null ? ok() : proc.on('exit', ok)));
      assert.deepEqual(a.reports, [], 'sanitizer reports:\n' + (a.reports || []).join('\n'));
    },
  };
}

export async function launchBrowser() {
  if (!existsSync(CHROMIUM)) throw new Error(CHROMIUM + ' is missing: install Debian\'s chromium (make deps)');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage'],
  });
}

/* The set-up every test file shares, for its before/after hooks: into s, a launcher,
   the gateways named in `gateways` ({name: options for launcher.gateway}), then
   prepare(s) if given (seed data), then Chromium.  Returns s: s.launcher, s.browser
   and s[name] for each gateway.  (One hook for all of it: node:test does not wait
   for one root-level `before` to finish before it starts the next.) */
export async function startGateways(s, gateways, prepare) {
  s.launcher = await startLauncher();
  for (const [name, opts] of Object.entries(gateways)) s[name] = await s.launcher.gateway(opts);
  if (prepare) await prepare(s);
  s.browser = await launchBrowser();
  return s;
}

/* Stops what startGateways started in s, also when it failed half-way. */
export async function stopGateways(s) {
  if (s.browser) await s.browser.close();
  if (s.launcher) await s.launcher.stop();
}

export const DESKTOP = { width: 1280, height: 860 };
export const PHONE = { width: 360, height: 740 };

/* A fresh context and page. page.requests lists every URL the page asked for,
   page.problems its console errors, uncaught exceptions and any dialog (alert(),
   confirm(): none should ever open). */
export async function openPage(browser, url, { viewport = DESKTOP, reducedMotion = 'no-preference', init } = {}) {
  const context = await browser.newContext({ viewport, reducedMotion, acceptDownloads: true });
  if (init) await context.addInitScript(init);
  const page = await context.newPage();
  page.requests = [];
  page.problems = [];
  page.dialogs = [];
  page.on('request', (r) => page.requests.push({ url: r.url(), method: r.method(), headers: r.headers() }));
  page.on('console', (m) => { if (m.type() === 'error') page.problems.push('console: ' + m.text()); });
  page.on('pageerror', (e) => page.problems.push('exception: ' + e.message));
  page.on('dialog', async (d) => { page.dialogs.push(d.message()); await d.dismiss(); });
  page.setDefaultTimeout(20000);
  await page.goto(url);
  await page.waitForFunction(() => document.getElementById('models-summary').textContent !== 'Loading models…');
  return page;
}

/* Every request went to the gateway's own origin (or stayed in the page: data:, blob:). */
export function assertOnlyOwnOrigin(page, origin) {
  const foreign = page.requests.map((r) => r.url)
    .filter((u) => !u.startsWith(origin + '/') && !u.startsWith('data:') && !u.startsWith('blob:'));
  assert.deepEqual(foreign, [], 'requests to other origins');
}

/* Console errors other than the HTTP errors a test provoked on purpose. */
export function assertNoProblems(page, allow = []) {
  const left = page.problems.filter((p) => !allow.some((re) => re.test(p)));
  assert.deepEqual(left, [], 'page problems');
}

export async function screenshot(page, name, { docs = false, fullPage = false } = {}) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, name + '.png');
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: file, fullPage });
  // BROWSER_DOCS_IMG=1 refreshes the pictures docs/usage.md shows, scaled down to keep
  // them small (by Chromium itself: no image tools needed).
  if (docs && process.env.BROWSER_DOCS_IMG === '1') {
    await shrink(page.context().browser(), file, path.join(ROOT, 'docs', 'img', name + '.png'), docs === true ? 0.625 : docs);
  }
  return file;
}

async function shrink(browser, file, out, scale) {
  const context = await browser.newContext({ viewport: { width: 400, height: 300 } });
  const page = await context.newPage();
  await page.setContent('<body style="margin:0"><img style="display:block">');
  await page.locator('img').evaluate((img, [src, k]) => new Promise((ok) => {
    img.onload = () => { img.style.width = Math.round(img.naturalWidth * k) + 'px'; ok(); };
    img.src = src;
  }), ['data:image/png;base64,' + readFileSync(file).toString('base64'), scale]);
  mkdirSync(path.dirname(out), { recursive: true });
  await page.locator('img').screenshot({ path: out });
  await context.close();
}

/* A JSON call to a gateway from the test itself (to prepare data). */
export async function api(base, method, p, body, key) {
  const headers = { 'Content-Type': 'application/json' };
  if (key) headers.Authorization = 'Bearer ' + key;
  const r = await fetch(base + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: r.status, json: await r.json(), headers: r.headers };
}

/* Picks exactly these models in the picker (showing the variants if needed). */
export async function pickModels(page, ids) {
  await page.evaluate((want) => {
    const sv = document.getElementById('show-variants');
    if (!sv.checked && want.some((id) => /^(gemini-3-pro-image|local-preview)-/.test(id))) sv.click();
  }, ids);
  for (const box of await page.locator('#model-list input[name=model]').all()) {
    const id = await box.getAttribute('value');
    if (ids.includes(id)) await box.check(); else if (await box.isChecked()) await box.uncheck();
  }
}

/* Waits for the aria-live region to say something matching `what` (text or RegExp). */
export async function waitLive(page, what) {
  const re = what instanceof RegExp ? what.source : what.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  await page.waitForFunction((src) => new RegExp(src).test(document.getElementById('live').textContent), re);
}

let counter = 0;
/* A prompt no other test (or earlier run against the same gateway) used. */
export function uniquePrompt(text) {
  return `${text} ${process.pid}.${++counter}.${Date.now() % 1e6}`;
}
