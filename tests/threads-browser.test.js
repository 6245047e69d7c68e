// Threads in the browsers: the page `npm start` serves is cross-origin
// isolated, so the engine runs on worker threads there too, and on 1, 2 and 3
// threads Chromium and Firefox compute the bits Node computes. The page says
// how many threads train.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../web/server.js';
import { skipUnlessBrowser, launchBrowser } from './helpers/browser.js';
import { skipUnlessFirefox, launchFirefox } from './helpers/firefox.js';
import { watchConsole } from './helpers/launch.js';
import * as rnnlab from '../web/rnnlab.js';
import * as random from '../web/random.js';

const skipChromium = await skipUnlessBrowser();
const skipFirefox = await skipUnlessFirefox();
let server;
before(async () => { server = await startServer({ port: 0 }); });
after(async () => { await server?.close(); });

// Trains three models on `threads` threads and returns a hash of every
// parameter's bits and of the losses. Runs as is in Node and, from its
// source text, in the page.
async function job({ init, createModel, terminate }, { mulberry32 }, threads) {
  await terminate();
  const loaded = await init({ threads });
  const r = mulberry32(8);
  const [N, T, X, H] = [16, 24, 20, 80];
  const uniform = (n) => Float32Array.from({ length: n }, () => 2 * r() - 1);
  const data = { x: uniform(N * T * X), y: uniform(N * T * X), shape: [N, T, X] };
  const hash = (floats, h) => {
    for (const w of new Uint32Array(Float32Array.from(floats).buffer)) h = Math.imul(h ^ w, 16777619) >>> 0;
    return h;
  };
  const out = { loaded, isolated: globalThis.crossOriginIsolated ?? null, hashes: {} };
  const configs = { lstm: { cell: 'lstm', layers: 2 }, gru: { cell: 'gru' }, 'bidirectional rnn': { cell: 'rnn', bidirectional: true } };
  for (const [name, config] of Object.entries(configs)) {
    const model = await createModel({ inputSize: X, hiddenSize: H, outputSize: X, seed: 4, ...config });
    const losses = [];
    for (let i = 0; i < 4; i++) losses.push(model.trainStep(data, { optimizer: { type: 'adam', lr: 0.01 } }).loss);
    out.hashes[name] = [hash(losses, 2166136261), hash(model.getParameters(), 2166136261)];
    model.dispose();
  }
  await terminate();
  return out;
}

const expression = (threads) =>
  `(async () => (${job})(await import('/rnnlab.js'), await import('/random.js'), ${threads}))()`;

async function inNode() {
  const runs = {};
  for (const threads of [1, 2, 3]) runs[threads] = await job(rnnlab, random, threads);
  return runs;
}

async function checkBrowser(name, evaluate) {
  const node = await inNode();
  for (const threads of [1, 2, 3]) {
    const got = await evaluate(expression(threads));
    assert.equal(got.isolated, true, `${name}: the page is cross-origin isolated`);
    assert.equal(got.loaded.threads, threads, `${name}: init({ threads: ${threads} })`);
    assert.equal(got.loaded.simd, true);
    assert.deepEqual(got.hashes, node[1].hashes, `${name} on ${threads} threads: other bits than Node on 1`);
    assert.deepEqual(node[threads].hashes, node[1].hashes, `Node on ${threads} threads: other bits than on 1`);
  }
}

// The footer's "(SIMD build, training on N threads)", N the page's core count.
async function threadsShown(page) {
  try {
    await page.waitForSelector('body[data-state="ready"]', { timeout: 60_000 });
  } catch (err) {
    const status = await page.evaluate(() => document.getElementById('status')?.textContent).catch(() => null);
    throw new Error(`the page did not get ready (status: ${JSON.stringify(status)}): ${err.message}`);
  }
  const text = await page.$eval('#engine-kind', (el) => el.textContent);
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  return { text, cores };
}

// Every thread count against Node, then the page's own footer, in a tab of
// its own (newPage: opens a tab).
async function checkPage(name, newPage) {
  const page = await newPage();
  const problems = watchConsole(page, []);
  await page.goto(server.url);
  await checkBrowser(name, (e) => page.evaluate(e));
  await page.close();
  const fresh = await newPage();
  watchConsole(fresh, problems);
  await fresh.goto(server.url);
  const { text, cores } = await threadsShown(fresh);
  assert.match(text, new RegExp(`SIMD build, training on ${cores} thread${cores === 1 ? '' : 's'}\\)`));
  assert.deepEqual(problems, []);
}

test('Chromium: 1, 2 and 3 threads give the bits of Node; the page trains on the core count', { skip: skipChromium, timeout: 300_000 }, async () => {
  const browser = await launchBrowser();
  try {
    await checkPage('Chromium', () => browser.context.newPage());
  } finally {
    await browser.close();
  }
});

test('Firefox: 1, 2 and 3 threads give the bits of Node; the page trains on the core count', { skip: skipFirefox, timeout: 300_000 }, async () => {
  const firefox = await launchFirefox();
  try {
    await checkPage('Firefox', () => firefox.browser.newPage());
  } finally {
    await firefox.close();
  }
});
