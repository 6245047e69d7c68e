// The library in real Chromium: in a module Web Worker and on a page's main
// thread, served from a tiny static server on 127.0.0.1 with the same strict
// Content-Security-Policy as the demo page (WebAssembly needs only
// 'wasm-unsafe-eval'). Same seed, same build: the same losses bit for bit as
// in Node (SPEC §9).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

import { createModel, loadModel } from '../web/rnnlab.js';
import { CONTENT_SECURITY_POLICY } from '../web/server.js';
import { launchBrowser, skipUnlessBrowser } from './helpers/browser.js';
import { watchConsole } from './helpers/launch.js';
import { rng as unitRandom } from './helpers/cases.js';

const WEB = fileURLToPath(new URL('../web', import.meta.url));
const noBrowser = await skipUnlessBrowser();

// ---------------------------------------------------------------- the page and its worker

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>rnnlab worker test</title>
<script type="module" src="/page.js"></script></head><body>worker test</body></html>`;

// Runs a training job in a fresh module worker; resolves to what the worker reports.
const PAGE_JS = `
import { createModel, loadModel } from '/web/rnnlab.js';

window.trainInWorker = (job) => new Promise((done, fail) => {
  const worker = new Worker('/worker.js', { type: 'module' });
  let steps = 0;
  worker.onmessage = ({ data }) => {
    if (data.type === 'step') {
      steps++;
      if (job.abortAfter === steps) worker.postMessage('abort');
      return;
    }
    worker.terminate();
    done({ ...data, stepMessages: steps });
  };
  worker.onerror = (e) => { worker.terminate(); fail(new Error('worker error: ' + e.message)); };
  worker.postMessage(job);
});

// The same on the main thread, counting timer callbacks that ran during fit.
window.trainOnPage = async (job) => {
  const model = await createModel(job.config);
  let ticks = 0;
  const timer = setInterval(() => { ticks++; }, 0);
  const history = await model.fit({ x: Float32Array.from(job.x), y: Float32Array.from(job.y), shape: job.shape }, job.fit);
  clearInterval(timer);
  const bytes = model.save();
  model.dispose();
  const loaded = await loadModel(bytes);
  const prediction = Array.from(loaded.predict(Float32Array.from(job.x), { shape: job.shape }).output);
  loaded.dispose();
  return { losses: history.steps.loss, ticks, prediction };
};
window.ready = true;
`;

const WORKER_JS = `
import { init, createModel } from '/web/rnnlab.js';
let controller = null;
onmessage = async ({ data: job }) => {
  if (job === 'abort') { controller?.abort(); return; }
  try {
    const engine = await init(job.simd === undefined ? {} : { simd: job.simd });
    const model = await createModel(job.config);
    controller = new AbortController();
    const data = { x: Float32Array.from(job.x), y: Float32Array.from(job.y), shape: job.shape };
    const history = await model.fit(data, {
      ...job.fit, signal: controller.signal,
      onStep: (s) => postMessage({ type: 'step', step: s.step, loss: s.loss }),
    });
    const prediction = Array.from(model.predict(data.x, { shape: job.shape }).output);
    const bytes = Array.from(model.save());
    model.dispose();
    postMessage({ type: 'done', simd: engine.simd, losses: history.steps.loss, prediction, bytes });
  } catch (e) {
    postMessage({ type: 'error', name: e.name, code: e.code ?? null, message: e.message, steps: e.history?.steps.step.length ?? null });
  }
};
`;

const ROUTES = { '/': ['text/html', PAGE], '/page.js': ['text/javascript', PAGE_JS], '/worker.js': ['text/javascript', WORKER_JS] };
const MIME = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.ts': 'text/plain' };

function serve() {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const headers = { 'Content-Security-Policy': CONTENT_SECURITY_POLICY, 'Cache-Control': 'no-cache' };
    if (path === '/favicon.ico') {
      res.writeHead(204, headers).end();
      return;
    }
    if (ROUTES[path]) {
      res.writeHead(200, { ...headers, 'Content-Type': ROUTES[path][0] }).end(ROUTES[path][1]);
      return;
    }
    const file = path.startsWith('/web/') ? resolve(WEB, '.' + path.slice(4)) : null;
    if (!file || !file.startsWith(WEB + sep) || !existsSync(file)) {
      res.writeHead(404, headers).end();
      return;
    }
    res.writeHead(200, { ...headers, 'Content-Type': MIME[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

// ---------------------------------------------------------------- the job

// centred seeded numbers in [-0.5, 0.5)
const rng = (seed) => { const r = unitRandom(seed); return () => r() - 0.5; };

// A sine wave's next value; small enough to run in a blink, big enough to learn.
function makeJob(overrides = {}) {
  const N = 8, T = 12, r = rng(5);
  const phase = Array.from({ length: N }, () => 6 * r());
  const x = [], y = [];
  for (let n = 0; n < N; n++) for (let t = 0; t < T; t++) {
    x.push(Math.sin(phase[n] + 0.5 * t));
    y.push(Math.sin(phase[n] + 0.5 * (t + 1)));
  }
  return {
    config: { cell: 'gru', inputSize: 1, hiddenSize: 12, outputSize: 1, seed: 9 },
    x, y, shape: [N, T, 1],
    fit: { epochs: 15, batchSize: 4, optimizer: { type: 'adam', lr: 0.02 } },
    ...overrides,
  };
}

async function trainInNode(job) {
  const model = await createModel(job.config);
  const history = await model.fit({ x: Float32Array.from(job.x), y: Float32Array.from(job.y), shape: job.shape }, job.fit);
  model.dispose();
  return history.steps.loss;
}

// ---------------------------------------------------------------- tests

let server;
let browser;
let page;
const problems = [];

before(async () => {
  if (noBrowser) return;
  server = await serve();
  browser = await launchBrowser();
  page = await browser.context.newPage();
  watchConsole(page, problems);
  await page.goto(`http://127.0.0.1:${server.address().port}/`);
  await page.waitForFunction(() => window.ready === true, null, { timeout: 30_000 });
});

after(async () => {
  await browser?.close();
  await new Promise((done) => (server ? server.close(done) : done()));
});

test('a module worker trains a model: the same losses as Node, and its saved bytes load in Node', { skip: noBrowser }, async () => {
  const job = makeJob();
  const r = await page.evaluate((j) => window.trainInWorker(j), job);
  assert.equal(r.type, 'done', `${r.code}: ${r.message}`);
  assert.equal(r.simd, true, 'Chromium runs the SIMD build');
  assert.equal(r.stepMessages, r.losses.length, 'onStep ran for every step');
  assert.ok(r.losses.at(-1) < r.losses[0] / 4, `the loss went from ${r.losses[0]} to ${r.losses.at(-1)}`);
  assert.deepEqual(r.losses, await trainInNode(job), 'losses in the worker and in Node (SPEC §9)');
  const loaded = await loadModel(Uint8Array.from(r.bytes));
  assert.deepEqual(Array.from(loaded.predict(Float32Array.from(job.x), { shape: job.shape }).output), r.prediction,
    "Node's predictions from the worker's saved model");
  loaded.dispose();
  assert.deepEqual(problems, []);
});

test('fit in a worker stops when the page asks (E_ABORTED)', { skip: noBrowser }, async () => {
  const r = await page.evaluate((j) => window.trainInWorker(j), makeJob({ fit: { epochs: 100000, batchSize: 1 }, abortAfter: 5 }));
  assert.equal(r.type, 'error');
  assert.equal(r.name, 'RnnlabError');
  assert.equal(r.code, 'E_ABORTED');
  assert.ok(r.steps >= 5 && r.steps < 1000, `stopped after ${r.steps} steps`);
});

test('the no-SIMD fallback build trains in a worker', { skip: noBrowser }, async () => {
  const r = await page.evaluate((j) => window.trainInWorker(j), makeJob({ simd: false }));
  assert.equal(r.type, 'done', `${r.code}: ${r.message}`);
  assert.equal(r.simd, false);
  assert.ok(r.losses.at(-1) < r.losses[0] / 4, `the loss went from ${r.losses[0]} to ${r.losses.at(-1)}`);
});

test("on the page's main thread: fit trains, lets timers run, and save → load round-trips", { skip: noBrowser }, async () => {
  const job = makeJob({ fit: { epochs: 40, batchSize: 1, optimizer: { type: 'adam', lr: 0.02 } } });
  const r = await page.evaluate((j) => window.trainOnPage(j), job);
  assert.ok(r.ticks > 0, 'setInterval callbacks ran during fit');
  assert.deepEqual(r.losses, await trainInNode(job), 'losses on the page and in Node');
  assert.equal(r.prediction.length, job.x.length);
  assert.deepEqual(problems, []);
});
