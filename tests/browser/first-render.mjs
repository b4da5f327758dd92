// Times the web page's first render in headless Chromium, for `make bench`
// (tests/bench/bench.py): node first-render.mjs URL [ROUNDS].
// Each round opens the page in a fresh browser context (empty HTTP cache) and reads
//   fcp:   navigation start -> first contentful paint (PerformanceObserver, 'paint')
//   ready: navigation start -> the model list drawn from GET v1/models
// Prints one JSON object: {"fcp": [ms...], "ready": [ms...]} after one warm-up round
// ("ready" stays empty for a page without the model list).
import { launchBrowser } from './harness.mjs';

const url = process.argv[2];
const rounds = Number(process.argv[3] || 10);
if (!url) {
  console.error('usage: node first-render.mjs URL [ROUNDS]');
  process.exit(2);
}
const browser = await launchBrowser();
const out = { fcp: [], ready: [] };
try {
  for (let i = 0; i <= rounds; i++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    // Observers installed before the page's own scripts run.
    await context.addInitScript(() => {
      window.timing = {};
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) if (e.name === 'first-contentful-paint') window.timing.fcp = e.startTime;
      }).observe({ type: 'paint', buffered: true });
      const mo = new MutationObserver(() => {
        if (document.querySelector('#model-list input')) { window.timing.ready = performance.now(); mo.disconnect(); }
      });
      mo.observe(document, { childList: true, subtree: true });
    });
    const page = await context.newPage();
    await page.goto(url);
    // (a page without a model list, the bench's one-line baseline, has only an fcp)
    await page.waitForFunction(() => window.timing.fcp !== undefined
      && (window.timing.ready !== undefined || !document.getElementById('model-list')));
    const t = await page.evaluate(() => window.timing);
    if (i > 0) { out.fcp.push(t.fcp); if (t.ready !== undefined) out.ready.push(t.ready); }
    await context.close();
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
