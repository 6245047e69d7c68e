// The Trainer (web/trainer.js): what fit() runs and the page drives. Each
// test writes the same training out with trainStep / predict and compares
// the parameters bit for bit.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createModel } from '../web/rnnlab.js';
import { progressBar } from '../web/progress.js';

function rand(seed) {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32 - 0.5; };
}

const sameBits = (a, b, what) => assert.deepEqual(new Uint32Array(a.buffer), new Uint32Array(b.buffer), what);

async function twins(config) {
  return [await createModel(config), await createModel(config)];
}

// The window [t0, t0 + w) of a batch-major [N, T, W] array.
function window(a, N, T, W, t0, w) {
  const out = new (a.constructor)(N * w * W);
  for (let n = 0; n < N; n++) out.set(a.subarray((n * T + t0) * W, (n * T + t0 + w) * W), n * w * W);
  return out;
}

test('trainOn (the page) = fit over the same batch, TBPTT windows and all, bit for bit', async () => {
  const N = 4, T = 10, X = 2, Y = 3, k = 4;
  const r = rand(1);
  const data = { x: Float32Array.from({ length: N * T * X }, r), y: Float32Array.from({ length: N * T * Y }, r), shape: [N, T, X] };
  const [a, b] = await twins({ cell: 'gru', inputSize: X, hiddenSize: 6, outputSize: Y, seed: 9 });
  const opts = { optimizer: { type: 'adam', lr: 0.02 }, clipNorm: 1, tbptt: k };
  const history = await a.fit(data, { ...opts, epochs: 1, batchSize: N, shuffle: false });
  const steps = b.trainer(null, opts).trainOn(data);
  assert.equal(steps.length, Math.ceil(T / k));
  assert.deepEqual(steps.map((s) => s.loss), history.steps.loss);
  sameBits(a.getParameters(), b.getParameters(), 'parameters');
  a.dispose(); b.dispose();
});

test("output 'last' with tbptt: earlier windows carry the state, the last one learns (= predict, then trainStep)", async () => {
  const N = 3, T = 9, X = 2, k = 4;
  const r = rand(2);
  const x = Float32Array.from({ length: N * T * X }, r);
  const y = Float32Array.from({ length: N }, r);
  const [a, b] = await twins({ cell: 'lstm', inputSize: X, hiddenSize: 5, outputSize: 1, output: 'last', seed: 3 });
  const steps = a.trainer(null, { optimizer: 'sgd', tbptt: k }).trainOn({ x, y, shape: [N, T, X] });
  assert.equal(steps.length, 1, 'one step: only the last window has the target');
  let state;
  for (let t0 = 0; t0 < T; t0 += k) {
    const w = Math.min(k, T - t0);
    const xw = window(x, N, T, X, t0, w);
    if (t0 + w < T) state = b.predict(xw, { shape: [N, w, X], state }).state;
    else b.trainStep({ x: xw, y, shape: [N, w, X] }, { optimizer: 'sgd', state });
  }
  sameBits(a.getParameters(), b.getParameters(), 'parameters');
  a.dispose(); b.dispose();
});

test('a window in which no position counts is no step: it only carries the state', async () => {
  const N = 2, T = 8, X = 3, Y = 4, k = 4;
  const r = rand(3);
  const x = Float32Array.from({ length: N * T * X }, r);
  const y = Int32Array.from({ length: N * T }, (_, i) => i % Y);
  const mask = Float32Array.from({ length: N * T }, (_, i) => (i % T >= 6 ? 1 : 0)); // only steps 6, 7 count
  const config = { cell: 'rnn', inputSize: X, hiddenSize: 4, outputSize: Y, loss: 'cross-entropy', seed: 5 };
  const [a, b] = await twins(config);
  const history = await a.fit({ x, y, mask, shape: [N, T, X] }, { epochs: 3, batchSize: N, shuffle: false, tbptt: k, optimizer: 'sgd' });
  assert.equal(history.steps.step.length, 3, 'one step per batch, not two');
  for (let e = 0; e < 3; e++) {
    const { state } = b.predict(window(x, N, T, X, 0, k), { shape: [N, k, X] });
    b.trainStep({ x: window(x, N, T, X, k, k), y: window(y, N, T, 1, k, k), mask: window(mask, N, T, 1, k, k), shape: [N, k, X] }, { optimizer: 'sgd', state });
  }
  sameBits(a.getParameters(), b.getParameters(), 'parameters');
  a.dispose(); b.dispose();
});

test('next() takes one step at a time; the epoch record comes with its last step; stop() ends after the epoch', async () => {
  const N = 6, T = 5, X = 1;
  const r = rand(4);
  const data = { x: Float32Array.from({ length: N * T * X }, r), y: Float32Array.from({ length: N * T }, r), shape: [N, T, X] };
  const m = await createModel({ cell: 'rnn', inputSize: X, hiddenSize: 3, outputSize: 1, seed: 1 });
  const tr = m.trainer(data, { epochs: 4, batchSize: 2, tbptt: 3 }); // 3 batches x 2 windows = 6 steps an epoch
  assert.deepEqual(tr.progress(), { epoch: 0, epochs: 4, done: 0, total: 6 });
  const seen = [];
  while (!tr.done) {
    const { step, epoch } = tr.next();
    seen.push([step?.step ?? null, epoch?.epoch ?? null]);
    if (seen.length === 8) tr.stop(); // in epoch 1
  }
  assert.deepEqual(seen.slice(0, 6).map(([s]) => s), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(seen.filter(([, e]) => e !== null).map(([s, e]) => [s, e]), [[6, 0], [null, 1]], 'epoch 0 with its last step, epoch 1 cut short');
  assert.equal(tr.history.steps.step.length, 8);
  assert.equal(tr.history.epochs.epoch.length, 2);
  assert.deepEqual(tr.next(), { step: null, epoch: null }, 'done stays done');
  m.dispose();
});

test('update() changes the optimiser from the next step on (= trainStep with the new settings)', async () => {
  const N = 2, T = 4, X = 2;
  const r = rand(5);
  const data = { x: Float32Array.from({ length: N * T * X }, r), y: Float32Array.from({ length: N * T }, r), shape: [N, T, X] };
  const [a, b] = await twins({ cell: 'gru', inputSize: X, hiddenSize: 4, outputSize: 1, seed: 2 });
  const tr = a.trainer(null, { optimizer: { type: 'sgd', lr: 0.1 } });
  tr.trainOn(data);
  tr.update({ optimizer: { type: 'momentum', lr: 0.05 }, clipNorm: 0.5 });
  tr.trainOn(data);
  b.trainStep(data, { optimizer: { type: 'sgd', lr: 0.1 } });
  b.trainStep(data, { optimizer: { type: 'momentum', lr: 0.05 }, clipNorm: 0.5 });
  sameBits(a.getParameters(), b.getParameters(), 'parameters');
  assert.throws(() => tr.update({ epochs: 3 }), { code: 'E_INVALID', message: /unknown option 'epochs'/ });
  a.dispose(); b.dispose();
});

test("fit({ verbose: true }) writes one line per epoch: steps, loss, steps/s, time; nothing without it", async () => {
  const N = 8, T = 4, X = 1;
  const r = rand(6);
  const data = { x: Float32Array.from({ length: N * T * X }, r), y: Float32Array.from({ length: N * T }, r), shape: [N, T, X] };
  const m = await createModel({ cell: 'lstm', inputSize: X, hiddenSize: 3, outputSize: 1 });
  const lines = [];
  const log = console.log;
  console.log = (line) => lines.push(String(line));
  try {
    await m.fit(data, { epochs: 3, batchSize: 4 });
    assert.equal(lines.length, 0, 'silent by default');
    await m.fit(data, { epochs: 3, batchSize: 4, verbose: true, validationData: data });
  } finally {
    console.log = log;
  }
  assert.equal(lines.length, 3);
  lines.forEach((line, e) => {
    assert.match(line, new RegExp(`^Epoch ${e + 1}/3 `));
    assert.match(line, / 2\/2 · 2 steps · loss \d\.\d{4} · [\d.]+ steps\/s · \d+:\d\d · val loss \d\.\d{4}$/);
  });
  m.dispose();
});

test('on a terminal the progress line is redrawn with the time left', async () => {
  const N = 4, T = 3;
  const data = { x: new Float32Array(N * T).fill(0.5), y: new Float32Array(N * T), shape: [N, T, 1] };
  const m = await createModel({ cell: 'rnn', inputSize: 1, hiddenSize: 2, outputSize: 1 });
  const tr = m.trainer(data, { epochs: 1, batchSize: 1 });
  const drawn = [];
  let ends = 0;
  const bar = progressBar(tr, { tty: true, draw: (l) => drawn.push(l), end: () => ends++ });
  const slow = Date.now() + 450;
  while (!tr.done) {
    const { step, epoch } = tr.next();
    while (!epoch && Date.now() < slow - 300 * (3 - step.step)) { /* spread the steps over the redraw interval */ }
    bar.update(step, epoch);
  }
  assert.ok(drawn.some((l) => / left$/.test(l)), `a redrawn line with the time left: ${drawn.join(' | ')}`);
  assert.match(drawn.at(-1), /^Epoch 1\/1 ━+ 4\/4 /);
  assert.equal(ends, 1);
  m.dispose();
});
