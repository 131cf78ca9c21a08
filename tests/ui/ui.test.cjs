// Rivulet's web UI in a real browser (Debian's Chromium, driven by playwright-core): the paths a
// user takes — experiment → traces → trace → span, run charts, compare, sessions, service graph,
// the first-trace empty state and the static prefix. Assertions are on content; every step saves
// a screenshot under $UI_SCREENSHOTS (default target/ui-screenshots).
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { REPO, startServer, seed, sendSpans, agentTurn, launch, api } = require('./lib.cjs');

const SHOTS = process.env.UI_SCREENSHOTS || path.join(REPO, 'target', 'ui-screenshots');
fs.mkdirSync(SHOTS, { recursive: true });

let server, prefixed, browser, context, page, data;
const pageErrors = [];

before(async () => {
  server = await startServer({ args: ['--serve-artifacts'] });
  data = await seed(server.url);
  browser = await launch();
  context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  page = await context.newPage();
  page.on('pageerror', (error) => pageErrors.push(String(error)));
});

after(async () => {
  assert.deepEqual(pageErrors, [], 'no script errors on any page');
  if (browser) await browser.close();
  if (server) await server.stop();
  if (prefixed) await prefixed.stop();
});

async function shot(name) {
  await page.screenshot({ path: path.join(SHOTS, name + '.png'), fullPage: false });
}

/** The page must not scroll sideways at this width (usable at 1280 px). */
async function noHorizontalScroll() {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `page overflows horizontally by ${overflow}px`);
}

test('experiment → traces → trace → span, with chat, tokens and an exception', async () => {
  await page.goto(server.url + '/');
  await page.getByRole('link', { name: 'llamastack-traces' }).click();
  await page.waitForURL(/\/traces$/);
  const rows = page.locator('#trace-rows tr');
  assert.equal(await rows.count(), 3);
  const firstRow = await rows.first().innerText();
  assert.match(firstRow, /agent_turn/);
  assert.match(firstRow, /turn 3/, 'newest trace first, with its request preview');
  assert.match(firstRow, /llama-3-8b/, 'model column');
  assert.match(firstRow, /150/, 'token column');
  assert.match(firstRow, /conv-2/, 'session column');
  assert.match(firstRow, /alice/, 'user column');
  await noHorizontalScroll();
  await shot('01-traces-table');

  await rows.first().getByRole('link', { name: 'agent_turn' }).click();
  await page.waitForSelector('#waterfall[data-ready="1"]');
  assert.equal(await page.locator('.wf-row').count(), 3);
  assert.match(await page.locator('.wf-row').nth(2).innerText(), /get_weather/);
  // The root is selected first and its panel loads.
  await page.waitForSelector('#span-panel .span-head h2:text("agent_turn")');
  assert.match(await page.locator('.facts').first().innerText(), /150/, 'trace token total in the header');

  await page.locator('.wf-row', { hasText: 'chat llama-3' }).click();
  await page.waitForSelector('#span-panel .span-head h2:text("chat llama-3")');
  const panel = page.locator('#span-panel');
  assert.match(await panel.locator('.msg.system').innerText(), /You are a weather bot/);
  assert.match(await panel.locator('.msg.user').innerText(), /weather in Paris/);
  assert.match(await panel.locator('.tool-call').innerText(), /get_weather/);
  assert.match(await panel.innerText(), /in 120 · out 30/);
  assert.match(page.url(), /span=0000000000000002/);
  await noHorizontalScroll();
  await shot('02-trace-chat-span');

  // Keyboard: the tree is focusable and arrows move the selection.
  await page.locator('#waterfall').focus();
  await page.keyboard.press('ArrowDown');
  await page.waitForSelector('#span-panel .span-head h2:text("get_weather")');
  assert.match(await panel.locator('li.exception').innerText(), /TimeoutError: weather API timed out/);
  assert.match(await panel.locator('pre.stack').innerText(), /Traceback/);
  await shot('03-span-exception');

  // Deep link straight to a span: the panel comes rendered from the server.
  const deep = page.url();
  await page.goto(deep);
  await page.waitForSelector('#waterfall[data-ready="1"]');
  assert.match(await panel.innerText(), /TimeoutError/);
  assert.equal(await page.locator('.wf-row.sel').innerText().then((t) => /get_weather/.test(t)), true);

  // Collapse the root: its descendants leave the tree.
  await page.locator('.wf-row').first().locator('[data-toggle]').click();
  assert.equal(await page.locator('.wf-row').count(), 1);
  await page.getByRole('button', { name: 'Expand all' }).click();
  assert.equal(await page.locator('.wf-row').count(), 3);
  await page.fill('#span-filter', 'weather');
  assert.match(await page.locator('#wf-count').innerText(), /of 3 spans/);
});

test('traces table filters and auto-refresh', async () => {
  await page.goto(`${server.url}/ui/experiments/${data.experimentId}/traces`);
  await page.fill('input[name=q]', 'turn 2');
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.waitForURL(/q=turn/);
  assert.equal(await page.locator('#trace-rows tr').count(), 1);
  await page.selectOption('select[name=status]', 'ERROR');
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.waitForSelector('text=No traces match these filters.');

  await page.goto(`${server.url}/ui/experiments/${data.experimentId}/traces`);
  await page.check('#autorefresh');
  await sendSpans(server.url, data.experimentId, agentTurn(0x2000, 'conv-3', Date.now(), 'A fresh question (live)'));
  await page.waitForSelector('#trace-rows tr:has-text("A fresh question")', { timeout: 12000 });
  await page.uncheck('#autorefresh');
  await shot('04-traces-autorefresh');
});

test('run page charts over step and time', async () => {
  await page.goto(`${server.url}/ui/runs/${data.runs[0]}`);
  assert.equal(await page.locator('h1').innerText(), 'baseline');
  assert.equal(await page.locator('figure.chart').count(), 2);
  const points = await page.locator('figure.chart polyline').first().getAttribute('points');
  assert.ok(points.split(' ').length === 30, 'one point per step');
  assert.match(await page.locator('section.panel', { hasText: 'Parameters' }).innerText(), /lr\s+0\.1/);
  await shot('05-run-charts-step');
  await page.getByRole('link', { name: 'Time', exact: true }).click();
  await page.waitForURL(/x=time/);
  assert.match(await page.locator('figure.chart').first().innerText(), /time \(UTC\)/);
  await shot('06-run-charts-time');
});

test('run artifacts: listing and previews', async (t) => {
  const run = await api(server.url, 'GET', `/api/2.0/mlflow/runs/get?run_id=${data.runs[0]}`);
  const root = run.run.info.artifact_uri.replace(/^mlflow-artifacts:\//, '');
  const put = (name, body, type) => fetch(`${server.url}/api/2.0/mlflow-artifacts/artifacts/${root}/${name}`, { method: 'PUT', headers: { 'content-type': type }, body });
  const uploaded = await put('eval/summary.json', JSON.stringify({ accuracy: 0.93, notes: 'held-out set' }), 'application/json').catch(() => null);
  if (!uploaded || !uploaded.ok) {
    t.skip('artifact serving is not enabled in this build of the server');
    return;
  }
  await put('README.txt', 'Model card: llama-3-8b fine-tune.', 'text/plain');
  await page.goto(`${server.url}/ui/runs/${data.runs[0]}/artifacts`);
  await page.getByRole('link', { name: /eval/ }).click();
  await page.getByRole('link', { name: /summary\.json/ }).click();
  assert.match(await page.locator('.preview pre.json').innerText(), /"accuracy": 0\.93/);
  await shot('07-artifact-json-preview');
});

test('compare two runs: parameter diff and overlaid charts', async () => {
  await page.goto(`${server.url}/ui/experiments/${data.experimentId}/runs`);
  assert.match(await page.locator('table.runs').innerText(), /baseline[\s\S]*tuned|tuned[\s\S]*baseline/);
  for (const box of await page.locator('input[name=run]').all()) await box.check();
  await page.getByRole('button', { name: 'Compare selected' }).click();
  await page.waitForSelector('text=Comparing 2 runs');
  assert.match(await page.locator('tr.diff').first().innerText(), /lr\s+0\.1\s+0\.01|lr\s+0\.01\s+0\.1/);
  const chart = page.locator('figure.chart', { hasText: 'loss' });
  assert.equal(await chart.locator('polyline').count(), 2, 'both runs drawn in one chart');
  await page.check('[data-only-diff]');
  assert.equal(await page.locator('tr.same').first().isVisible(), false);
  await shot('08-compare-runs');
});

test('sessions as a conversation timeline', async () => {
  await page.goto(`${server.url}/ui/experiments/${data.experimentId}/sessions`);
  await page.getByRole('link', { name: 'conv-1' }).click();
  await page.waitForSelector('ol.timeline');
  const turns = page.locator('li.turn');
  assert.equal(await turns.count(), 2);
  assert.match(await turns.nth(0).locator('.msg.user').innerText(), /turn 1/);
  assert.match(await turns.nth(1).locator('.msg.user').innerText(), /turn 2/);
  assert.match(await turns.nth(0).locator('.msg.assistant').innerText(), /Sunny and 18C/);
  await shot('09-session-timeline');
});

test('service graph: nodes, edges with calls, errors and latency; click an edge', async () => {
  await page.goto(`${server.url}/ui/experiments/${data.experimentId}/graph`);
  const graph = page.locator('svg.graph');
  for (const service of ['llama-stack', 'vllm', 'weather-tool']) assert.equal(await graph.locator(`text:text-is("${service}")`).count(), 1, service);
  const failing = graph.locator('a.edge', { hasText: '100.0% err' });
  assert.equal(await failing.count(), 1);
  assert.match(await failing.textContent(), /calls · 100\.0% err[\s\S]*p50 50 ms/);
  await shot('10-service-graph');
  await failing.click();
  await page.waitForSelector('#edge-traces');
  assert.match(await page.locator('#edge-traces').innerText(), /vllm → weather-tool/);
  assert.ok(await page.locator('table.traces tbody tr').count() >= 3);
  await shot('11-service-graph-edge-traces');
});

test('a new experiment shows how to send the first trace', async () => {
  await page.goto(server.url + '/');
  await page.fill('#new-name', 'fresh-agent');
  await page.getByRole('button', { name: 'Create experiment' }).click();
  await page.waitForSelector('text=No traces yet');
  const text = await page.locator('.onboarding').innerText();
  assert.match(text, /otlphttp/);
  assert.match(text, new RegExp(`x-mlflow-experiment-id: "\\d+"`));
  assert.match(text, new RegExp(`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=${server.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/v1/traces`));
  await shot('12-first-trace-empty-state');
});

test('works under --static-prefix, and MLflow-style links redirect', async () => {
  prefixed = await startServer({ args: ['--static-prefix', '/mlflow'] });
  const seeded = await seed(prefixed.url);
  await page.goto(prefixed.url + '/');
  await page.getByRole('link', { name: 'llamastack-traces' }).click();
  await page.waitForURL(/\/mlflow\/ui\/experiments\/\d+\/traces$/);
  await page.locator('#trace-rows tr').first().getByRole('link').first().click();
  await page.waitForSelector('#waterfall[data-ready="1"]');
  assert.equal(await page.locator('.wf-row').count(), 3);
  await shot('13-static-prefix-trace');
  await page.goto(`${prefixed.url}/#/experiments/${seeded.experimentId}/chat-sessions`);
  await page.waitForURL(new RegExp(`/mlflow/ui/experiments/${seeded.experimentId}/sessions$`));
});

test('laptop screen: trace page fits 1366×768 without sideways scrolling', async () => {
  await page.setViewportSize({ width: 1366, height: 768 });
  await page.goto(`${server.url}/ui/traces/${data.traces[0]}`);
  await page.waitForSelector('#waterfall[data-ready="1"]');
  await noHorizontalScroll();
  await shot('14-laptop-trace');
  await page.setViewportSize({ width: 1280, height: 800 });
});
