// The browser half of the LLaMA Stack end-to-end test: walks Rivulet's UI as a user would, from
// the experiment list to the Responses turn's trace, one of its spans and its session, and checks
// that what the REST API reported (span types, chat, tokens, session, previews) is on screen.
//
// Usage: node ui_check.cjs '<JSON of expectations>' (test_llamastack.py builds it).
// Environment: NODE_PATH with playwright-core, CHROMIUM (default /usr/bin/chromium),
// LLAMASTACK_SCREENSHOTS (where the PNGs go).
'use strict';
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { chromium } = require('playwright-core');

const expect = JSON.parse(process.argv[2]);
const shots = process.env.LLAMASTACK_SCREENSHOTS || path.resolve(__dirname, '..', '..', 'target', 'llamastack-screenshots');
fs.mkdirSync(shots, { recursive: true });

const count = (n) => n.toLocaleString('en-US');
const step = (text) => console.log(`ui: ${text}`);

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
  const errors = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
    page.on('pageerror', (error) => errors.push(String(error)));
    const shot = (name) => page.screenshot({ path: path.join(shots, `${name}.png`) });

    step('experiment list → traces table');
    await page.goto(expect.url + '/');
    await page.getByRole('link', { name: 'llama-stack-e2e' }).click();
    await page.waitForURL(/\/traces$/);
    const row = page.locator(`#trace-rows tr[data-href$="${expect.traceId}"]`);
    assert.equal(await row.count(), 1, 'the Responses trace is listed');
    const rowText = await row.innerText();
    assert.match(rowText, /POST \/v1\/responses/);
    assert.ok(rowText.includes(expect.question), `request preview in the table row: ${rowText}`);
    assert.ok(rowText.includes(count(expect.usage.total_tokens)), `token total in the table row: ${rowText}`);
    assert.ok(rowText.includes(expect.session.slice(0, 14)), `session in the table row: ${rowText}`);
    assert.ok(rowText.includes(expect.user.slice(0, 20)), `user in the table row: ${rowText}`);
    await shot('llamastack-traces');

    step('trace page header: tokens, session, user, previews');
    await row.getByRole('link', { name: 'POST /v1/responses' }).click();
    await page.waitForSelector('#waterfall[data-ready="1"]');
    const facts = await page.locator('.facts').first().innerText();
    assert.ok(facts.includes(count(expect.usage.total_tokens)), `trace token total: ${facts}`);
    assert.ok(facts.includes(`in ${count(expect.usage.input_tokens)} · out ${count(expect.usage.output_tokens)}`), `token split: ${facts}`);
    assert.ok(facts.includes(expect.user), `user fact: ${facts}`);
    const sessionLink = page.locator('.facts .fact', { hasText: 'Session' }).locator('a');
    assert.equal(await sessionLink.getAttribute('href').then((h) => h.includes(encodeURIComponent(expect.session))), true, 'session link carries the conversation id');
    assert.ok(expect.session.startsWith((await sessionLink.innerText()).replace(/…$/, '')), 'session fact shows the conversation id');
    const previews = await page.locator('.previews').innerText();
    assert.ok(previews.includes(expect.requestPreview), `request preview: ${previews}`);
    assert.ok(previews.includes(expect.responsePreview), `response preview: ${previews}`);

    step('waterfall: every span, with its MLflow type');
    const rows = page.locator('.wf-row');
    assert.equal(await rows.count(), expect.spanCount, 'one waterfall row per span');
    const typeOf = async (name, nth = 0) => {
      const r = rows.filter({ hasText: name }).nth(nth);
      return (await r.locator('.type').count()) ? r.locator('.type').innerText() : '';
    };
    assert.equal(await typeOf('chat fake-model', 0), 'CHAT_MODEL');
    assert.equal(await typeOf('chat fake-model', 1), 'CHAT_MODEL');
    assert.equal(await typeOf('list_mcp_tools'), 'TOOL');
    assert.equal(await typeOf('invoke_mcp_tool'), 'TOOL');
    assert.match(await rows.filter({ hasText: 'chat fake-model' }).first().innerText(), new RegExp(`fake-model · \\d+ tok`), 'model and tokens on the row');

    step('the final model call: chat with the tool result, tokens');
    await rows.filter({ hasText: 'chat fake-model' }).nth(1).click();
    const panel = page.locator('#span-panel');
    await page.waitForSelector('#span-panel .span-head h2:text("chat fake-model")');
    assert.equal(await panel.locator('.span-head .type').innerText(), 'CHAT_MODEL');
    assert.ok((await panel.locator('.msg.user').first().innerText()).includes(expect.question), 'user message');
    assert.match(await panel.locator('.msg.assistant .tool-call').first().innerText(), /get_weather/, 'the earlier tool call');
    assert.match(await panel.locator('.msg.tool .tool-result').innerText(), /Sunny and 18C in Paris/, 'the tool result');
    assert.ok((await panel.locator('.msg.assistant').last().innerText()).includes(expect.answer), 'the final answer');
    const split = `in ${count(expect.lastCallUsage.input_tokens)} · out ${count(expect.lastCallUsage.output_tokens)}`;
    assert.ok((await panel.innerText()).includes(split), `span tokens ${split}`);
    await shot('llamastack-trace-chat');

    step('a deep link to the first model call shows its tool call');
    await page.goto(`${expect.url}/ui/traces/${expect.traceId}?span=${expect.firstCallSpanId}`);
    await page.waitForSelector('#waterfall[data-ready="1"]');
    assert.match(await panel.locator('.msg.assistant .tool-call').innerText(), /calls get_weather[\s\S]*Paris/);

    step('the MCP tool span');
    await rows.filter({ hasText: 'invoke_mcp_tool' }).click();
    await page.waitForSelector('#span-panel .span-head h2:text("invoke_mcp_tool")');
    assert.equal(await panel.locator('.span-head .type').innerText(), 'TOOL');
    // LLaMA Stack puts no payload on its tool spans, only names: they are in the attributes.
    await panel.locator('summary', { hasText: 'Attributes' }).click();
    const attributes = await panel.locator('table.kv').innerText();
    assert.match(attributes, /tool_name\s+get_weather/, `tool_name attribute: ${attributes}`);
    assert.match(attributes, /server_label\s+weather/, `server_label attribute: ${attributes}`);
    await shot('llamastack-trace-tool');

    step('the session: both turns in order, each with its previews');
    await page.locator('.facts .fact', { hasText: 'Session' }).locator('a').click();
    await page.waitForSelector('ol.timeline');
    const turns = page.locator('li.turn');
    assert.equal(await turns.count(), 2, 'two turns in the session');
    assert.ok((await turns.nth(0).locator('.msg.user').innerText()).includes(expect.question));
    assert.ok((await turns.nth(0).locator('.msg.assistant').innerText()).includes(expect.answer));
    assert.ok((await turns.nth(1).locator('.msg.user').innerText()).includes(expect.chatQuestion));
    assert.ok((await turns.nth(1).locator('.msg.assistant').innerText()).includes(expect.chatAnswer));
    await shot('llamastack-session');

    assert.deepEqual(errors, [], 'no script errors on any page');
    step(`all checks passed; screenshots in ${shots}`);
  } finally {
    await browser.close();
  }
}

main().catch((error) => {
  console.error(error && error.stack ? error.stack : String(error));
  process.exit(1);
});
