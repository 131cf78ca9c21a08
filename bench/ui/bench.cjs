// UI benchmarks in Chromium: the traces page of a 1,000,000-trace experiment (server time from
// the Server-Timing header and Navigation Timing), and opening and scrolling 5,000- and
// 30,000-span traces (time to a drawn waterfall, frame times, long tasks).
//
// Usage: node bench.cjs <database.db> <ids.json> [out.json]   (bench/ui/run.sh does it all)
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { startServer, launch } = require(path.join(__dirname, '..', '..', 'tests', 'ui', 'lib.cjs'));

const [database, idsFile, outFile] = process.argv.slice(2);
const ids = JSON.parse(fs.readFileSync(idsFile, 'utf8'));
const REPEAT = Number(process.env.REPEAT || 15);

const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.round((sorted.length - 1) * q))];
};
const summary = (values) => ({ n: values.length, median: +quantile(values, 0.5).toFixed(1), p95: +quantile(values, 0.95).toFixed(1), max: +Math.max(...values).toFixed(1) });

async function serverTimes(page, url) {
  const server = [];
  const ttfb = [];
  for (let i = 0; i < REPEAT; i++) {
    await page.goto(url, { waitUntil: 'load' });
    const timing = await page.evaluate(() => {
      const nav = performance.getEntriesByType('navigation')[0];
      const app = nav.serverTiming.find((t) => t.name === 'app');
      return { app: app ? app.duration : NaN, ttfb: nav.responseStart - nav.requestStart };
    });
    server.push(timing.app);
    ttfb.push(timing.ttfb);
  }
  return { server_ms: summary(server), ttfb_ms: summary(ttfb) };
}

async function openTrace(browser, url, label) {
  const runs = [];
  let scroll = null;
  for (let i = 0; i < 3; i++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await page.addInitScript(() => {
      window.__longTasks = [];
      new PerformanceObserver((list) => list.getEntries().forEach((e) => window.__longTasks.push(e.duration))).observe({ type: 'longtask', buffered: true });
    });
    await page.goto(url);
    await page.waitForSelector('#waterfall[data-ready="1"]', { timeout: 30000 });
    const open = await page.evaluate(() => ({
      ready_ms: window.__rivuletWaterfallReady,
      rows_in_dom: document.querySelectorAll('.wf-row').length,
      spans: document.getElementById('wf-count').textContent,
      longest_task_ms: Math.max(0, ...window.__longTasks),
    }));
    await page.waitForSelector('#span-panel .span-head');
    runs.push(open);
    if (i === 2) {
      // Scroll the whole tree in 2.5 s of animation frames and record every frame's interval.
      scroll = await page.evaluate(() => new Promise((resolve) => {
        const viewport = document.querySelector('.wf-viewport');
        const target = viewport.scrollHeight - viewport.clientHeight;
        window.__longTasks = [];
        const frames = [];
        const t0 = performance.now();
        let last = t0;
        const step = (now) => {
          frames.push(now - last);
          last = now;
          const progress = Math.min(1, (now - t0) / 2500);
          viewport.scrollTop = target * progress;
          if (progress < 1) requestAnimationFrame(step);
          else {
            const sorted = frames.slice(1).sort((a, b) => a - b);
            resolve({
              frames: sorted.length,
              frame_p50_ms: +sorted[Math.floor(sorted.length * 0.5)].toFixed(1),
              frame_p95_ms: +sorted[Math.floor(sorted.length * 0.95)].toFixed(1),
              frame_max_ms: +sorted[sorted.length - 1].toFixed(1),
              long_tasks: window.__longTasks.length,
              rows_in_dom: document.querySelectorAll('.wf-row').length,
            });
          }
        };
        requestAnimationFrame(step);
      }));
      // Keyboard walk: 200 ArrowDown presses, each re-rendering the window.
      const t0 = Date.now();
      await page.locator('#waterfall').focus();
      for (let k = 0; k < 200; k++) await page.keyboard.press('ArrowDown');
      scroll.arrow_down_200_ms = Date.now() - t0;
    }
    await context.close();
  }
  return { label, open_ms: summary(runs.map((r) => r.ready_ms)), longest_task_ms: summary(runs.map((r) => r.longest_task_ms)), rows_in_dom: runs[0].rows_in_dom, spans: runs[0].spans, scroll };
}

(async () => {
  const server = await startServer({ database, args: [] });
  const browser = await launch();
  const results = { chromium: browser.version(), when: new Date().toISOString(), traces_in_experiment: ids.traces };
  try {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    const base = `${server.url}/ui/experiments/${ids.million_experiment}/traces`;
    await page.goto(base); // warm the page cache once
    results.traces_page_first = await serverTimes(page, base);
    const next = await page.locator('a[rel=next]').getAttribute('href');
    results.traces_page_second = await serverTimes(page, server.url + next);
    const mid = Date.now() - (ids.traces / 2) * 100;
    results.traces_page_middle_cursor = await serverTimes(page, `${base}?after=${mid}.0`);
    results.traces_page_status_error = await serverTimes(page, `${base}?status=ERROR`);
    results.traces_page_last_hour = await serverTimes(page, `${base}?range=1h`);
    results.traces_page_sorted_slowest = await serverTimes(page, `${base}?sort=slowest`);
    results.trace_5k = await openTrace(browser, `${server.url}/ui/traces/${ids.trace_5k}`, '5,000 spans');
    results.trace_30k = await openTrace(browser, `${server.url}/ui/traces/${ids.trace_30k}`, '30,000 spans');
    const tree = await fetch(`${server.url}/ui/traces/${ids.trace_30k}/tree`, { headers: { 'accept-encoding': 'gzip' } });
    results.trace_30k_tree = { server_ms: tree.headers.get('server-timing'), gzip_bytes: Number(tree.headers.get('content-length')) || null };
  } finally {
    await browser.close();
    await server.stop();
  }
  const text = JSON.stringify(results, null, 2);
  console.log(text);
  if (outFile) fs.writeFileSync(outFile, text);
})().catch((error) => { console.error(error); process.exit(1); });
