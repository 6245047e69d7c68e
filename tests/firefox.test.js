// Firefox: the library computes the same losses and weights, bit for bit, as
// in Node (SpiderMonkey's WebAssembly against V8's), and the page trains the
// three cells with every plot filled and a clean console.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../web/server.js';
import { skipUnlessFirefox, launchFirefox } from './helpers/firefox.js';
import { watchConsole } from './helpers/launch.js';
import * as rnnlab from '../web/rnnlab.js';
import * as random from '../web/random.js';

const PLOTS = ['loss', 'flow', 'grad', 'spectral', 'gates', 'prediction'];
const skip = await skipUnlessFirefox();
let server;
let firefox;
let page;
const consoleProblems = [];

before(async () => {
  if (skip) return;
  server = await startServer({ port: 0 });
  firefox = await launchFirefox();
  page = await firefox.browser.newPage();
  await page.setViewport({ width: 1440, height: 1400 });
  watchConsole(page, consoleProblems);
});

after(async () => {
  await firefox?.close();
  await server?.close();
});

// Five Adam steps of each cell on seeded data; the losses and the final
// weights. Runs as is in Node and, from its source text, in the page.
async function job({ init, createModel }, { mulberry32 }) {
  const loaded = await init();
  const r = mulberry32(42);
  const [N, T, X, Y, H] = [8, 12, 3, 2, 16];
  const uniform = (n, s) => Float32Array.from({ length: n }, () => (2 * r() - 1) * s);
  const data = { x: uniform(N * T * X, 1), y: uniform(N * T * Y, 0.8), shape: [N, T, X] };
  const out = { simd: loaded.simd, cells: {} };
  for (const cell of ['rnn', 'lstm', 'gru']) {
    const model = await createModel({ cell, inputSize: X, hiddenSize: H, outputSize: Y, seed: 7 });
    const losses = [];
    for (let i = 0; i < 5; i++) losses.push(model.trainStep(data, { optimizer: { type: 'adam', lr: 0.02 } }).loss);
    out.cells[cell] = { losses, params: Array.from(model.getParameters()) };
    model.dispose();
  }
  return out;
}

test('Firefox: the library gives the losses and weights of Node, bit for bit', { skip, timeout: 90_000 }, async () => {
  await page.goto(server.url);
  // The job's own source, run by the test driver in the page (as any
  // evaluated function is), with the page's copies of the modules.
  const expression = `(async () => (${job})(await import('/rnnlab.js'), await import('/random.js')))()`;
  const inFirefox = await page.evaluate(expression);
  const inNode = await job(rnnlab, random);
  assert.equal(inFirefox.simd, true, 'Firefox runs the SIMD build');
  for (const cell of ['rnn', 'lstm', 'gru']) {
    const a = inFirefox.cells[cell];
    const b = inNode.cells[cell];
    assert.ok(b.losses[4] < b.losses[0], `${cell}: the loss fell in Node`);
    assert.deepEqual(a.losses.map(String), b.losses.map(String), `${cell}: losses`);
    const differ = a.params.findIndex((v, i) => !Object.is(v, b.params[i]));
    assert.equal(differ, -1, `${cell}: parameter ${differ} differs (${a.params[differ]} in Firefox, ${b.params[differ]} in Node)`);
  }
});

test('Firefox: the page trains RNN, LSTM and GRU with every plot filled and a clean console', { skip, timeout: 90_000 }, async () => {
  await page.goto(server.url);
  await page.waitForSelector('body[data-state="ready"]', { timeout: 30_000 });
  assert.match(await page.$eval('#engine-kind', (el) => el.textContent), /SIMD/);
  await page.click('input[name="cell"][value="all"]');
  await page.waitForFunction(() => document.querySelectorAll('#comparison-rows tr').length === 3, { polling: 250, timeout: 20_000 });
  await page.click('#train');
  await page.waitForSelector('body[data-state="training"]');
  // Until every cell has taken 150 steps, and at least 4 s.
  await new Promise((resolve) => setTimeout(resolve, 4000));
  await page.waitForFunction(
    () => [...document.querySelectorAll('#comparison-rows tr')].every((tr) => Number(tr.dataset.steps) >= 150),
    { polling: 250, timeout: 30_000 },
  );
  await page.click('#train');
  await page.waitForSelector('body[data-state="paused"]');
  await new Promise((resolve) => setTimeout(resolve, 700)); // the last figures arrive and are drawn
  const rows = await page.$$eval('#comparison-rows tr', (trs) => trs.map((tr) => ({
    cell: tr.dataset.cell, firstLoss: Number(tr.dataset.firstLoss), loss: Number(tr.dataset.loss), valLoss: Number(tr.dataset.valLoss),
  })));
  assert.deepEqual(rows.map((r) => r.cell).sort(), ['gru', 'lstm', 'rnn']);
  for (const row of rows) {
    assert.ok(row.loss < 0.8 * row.firstLoss, `${row.cell}: loss fell from ${row.firstLoss} to ${row.loss}`);
    assert.ok(Number.isFinite(row.valLoss), `${row.cell}: a validation loss`);
  }
  const points = await page.$$eval('[data-plot]', (cards) => Object.fromEntries(cards.map((c) => [c.dataset.plot, Number(c.dataset.points ?? 0)])));
  for (const plot of PLOTS) assert.ok(points[plot] > 0, `the ${plot} plot got data (${points[plot]} points)`);
  assert.deepEqual(consoleProblems, [], 'console stays clean');
});
