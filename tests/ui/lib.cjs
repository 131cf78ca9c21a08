// Shared by the browser tests and the UI benchmarks: start a Rivulet server on a scratch
// database, send it data the way real clients do (MLflow REST, OTLP/JSON), launch Chromium.
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');

const REPO = path.resolve(__dirname, '..', '..');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** Starts `rivulet server`; resolves once /health answers. `args` are extra flags. */
async function startServer({ args = [], database, workdir } = {}) {
  const bin = process.env.RIVULET_BIN || path.join(REPO, 'target', 'release', 'rivulet');
  if (!fs.existsSync(bin)) throw new Error(`Rivulet binary not found at ${bin} (build it or set RIVULET_BIN)`);
  const dir = workdir || fs.mkdtempSync(path.join(os.tmpdir(), 'rivulet-ui-'));
  const port = await freePort();
  const db = database || path.join(dir, 'mlflow.db');
  const log = fs.openSync(path.join(dir, 'server.log'), 'a');
  const child = spawn(bin, ['server', '--host', '127.0.0.1', '--port', String(port), '--backend-store-uri', `sqlite:///${db}`,
    '--artifacts-destination', path.join(dir, 'artifacts'), '--otlp-grpc-port', '0', ...args], { stdio: ['ignore', log, log], cwd: dir });
  const prefixAt = args.indexOf('--static-prefix');
  const prefix = prefixAt >= 0 ? args[prefixAt + 1] : '';
  const url = `http://127.0.0.1:${port}${prefix}`;
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`server exited early; see ${path.join(dir, 'server.log')}`);
    try {
      const res = await fetch(`${url}/health`);
      if (res.ok) break;
    } catch (_) { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url, dir, port, child,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => { child.once('exit', r); setTimeout(r, 5000); });
      }
    },
  };
}

async function api(base, method, route, body) {
  const res = await fetch(base + route, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : {};
}

const hex = (n, bytes) => n.toString(16).padStart(bytes * 2, '0');
const attr = (key, value) => ({ key, value: typeof value === 'number' ? { intValue: String(value) } : { stringValue: typeof value === 'string' ? value : JSON.stringify(value) } });

/** One OTLP/JSON span. `start`/`end` in ms since the epoch (fractions allowed). */
function otlpSpan({ trace, id, parent, name, start, end, attributes = {}, error, events = [] }) {
  return {
    traceId: hex(trace, 16),
    spanId: hex(id, 8),
    parentSpanId: parent ? hex(parent, 8) : '',
    name,
    kind: 1,
    startTimeUnixNano: String(BigInt(Math.round(start * 1000)) * 1000n),
    endTimeUnixNano: String(BigInt(Math.round(end * 1000)) * 1000n),
    attributes: Object.entries(attributes).map(([k, v]) => attr(k, v)),
    events: events.map((e) => ({ name: e.name, timeUnixNano: String(BigInt(Math.round(e.at * 1000)) * 1000n), attributes: Object.entries(e.attributes || {}).map(([k, v]) => attr(k, v)) })),
    status: error ? { code: 2, message: error } : { code: 1 },
  };
}

/** Sends spans grouped by service (one resourceSpans entry per `service.name`). */
async function sendSpans(base, experimentId, byService) {
  const body = {
    resourceSpans: Object.entries(byService).map(([service, spans]) => ({
      resource: { attributes: [attr('service.name', service)] },
      scopeSpans: [{ scope: { name: 'rivulet-ui-tests' }, spans }],
    })),
  };
  const res = await fetch(base + '/v1/traces', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-mlflow-experiment-id': String(experimentId) },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`OTLP export: ${res.status} ${await res.text()}`);
}

/** An agent turn across three services: llama-stack → vllm (chat, tool call) → weather-tool (fails). */
function agentTurn(trace, session, startMs, question) {
  const t = startMs;
  return {
    'llama-stack': [otlpSpan({ trace, id: 1, name: 'agent_turn', start: t, end: t + 900, attributes: {
      'mlflow.spanType': 'AGENT', 'mlflow.spanInputs': { question }, 'mlflow.spanOutputs': { answer: 'Sunny and 18C in Paris.' },
      'session.id': session, 'user.id': 'alice' } })],
    vllm: [otlpSpan({ trace, id: 2, parent: 1, name: 'chat llama-3', start: t + 10, end: t + 510, attributes: {
      'mlflow.spanType': 'CHAT_MODEL', 'mlflow.llm.model': 'llama-3-8b',
      'mlflow.chat.tokenUsage': { input_tokens: 120, output_tokens: 30, total_tokens: 150 },
      'mlflow.spanInputs': { messages: [{ role: 'system', content: 'You are a weather bot.' }, { role: 'user', content: question }] },
      'mlflow.spanOutputs': { choices: [{ message: { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Paris"}' } }] } }] },
    } })],
    'weather-tool': [otlpSpan({ trace, id: 3, parent: 2, name: 'get_weather', start: t + 600, end: t + 650, error: 'upstream timeout',
      attributes: { 'mlflow.spanType': 'TOOL' },
      events: [{ name: 'exception', at: t + 640, attributes: { 'exception.type': 'TimeoutError', 'exception.message': 'weather API timed out', 'exception.stacktrace': 'Traceback (most recent call last):\n  File "tool.py", line 3, in get_weather\nTimeoutError: weather API timed out' } }] })],
  };
}

/** The demo data every browser test starts from; returns ids. */
async function seed(base) {
  const { experiment_id: experimentId } = await api(base, 'POST', '/api/2.0/mlflow/experiments/create', { name: 'llamastack-traces' });
  const now = Date.now() - 120000;
  const traces = [];
  for (let i = 1; i <= 3; i++) {
    const trace = 0x1000 + i;
    await sendSpans(base, experimentId, agentTurn(trace, i < 3 ? 'conv-1' : 'conv-2', now + i * 1000, `What is the weather in Paris? (turn ${i})`));
    traces.push('tr-' + hex(trace, 16));
  }
  const runs = [];
  for (const [name, lr] of [['baseline', '0.1'], ['tuned', '0.01']]) {
    const { run } = await api(base, 'POST', '/api/2.0/mlflow/runs/create', { experiment_id: experimentId, run_name: name, start_time: now });
    const metrics = [];
    for (let step = 0; step < 30; step++) {
      metrics.push({ key: 'loss', value: 1 / (step + 1) + (name === 'tuned' ? 0 : 0.1), timestamp: now + step * 1000, step });
      metrics.push({ key: 'accuracy', value: 0.5 + step / 70 + (name === 'tuned' ? 0.05 : 0), timestamp: now + step * 1000, step });
    }
    await api(base, 'POST', '/api/2.0/mlflow/runs/log-batch', { run_id: run.info.run_id, metrics, params: [{ key: 'lr', value: lr }, { key: 'model', value: 'llama-3-8b' }] });
    runs.push(run.info.run_id);
  }
  return { experimentId, traces, runs };
}

async function launch() {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

module.exports = { REPO, startServer, api, seed, sendSpans, agentTurn, otlpSpan, launch, hex };
