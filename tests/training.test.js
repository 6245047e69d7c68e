// fit() with truncated BPTT (SPEC §4): fit({ tbptt: k }) trains each batch
// in windows of k steps, one optimiser step per window, carrying the hidden
// state (not its gradient) from one window to the next.
//
// Related suites: optimizers.test.js (clipping, optimisers), gradient-flow,
// determinism, nonfinite and convergence (.test.js).
import test from 'node:test';
import assert from 'node:assert/strict';
import { createModel, RnnlabError } from '../web/rnnlab.js';
import { rng, uniform } from './helpers/cases.js';

const X = 2, Y = 1;

function randomData(N, T, seed) {
  const r = rng(seed);
  return { x: uniform(r, N * T * X), shape: [N, T, X], y: uniform(r, N * T * Y) };
}

// Sequences `rows`, steps [t0, t0 + Tw), as a batch of their own.
function window(d, rows, t0, Tw) {
  const T = d.shape[1];
  const x = new Float32Array(rows.length * Tw * X), y = new Float32Array(rows.length * Tw * Y);
  rows.forEach((n, i) => {
    x.set(d.x.subarray((n * T + t0) * X, (n * T + t0 + Tw) * X), i * Tw * X);
    y.set(d.y.subarray((n * T + t0) * Y, (n * T + t0 + Tw) * Y), i * Tw * Y);
  });
  return { x, shape: [rows.length, Tw, X], y };
}

test('tbptt: optimiser steps = batches × ceil(T/k); each step\'s gradient flow spans only its window', async () => {
  const N = 10, T = 10, batchSize = 4, epochs = 2; // batches of 4, 4, 2
  const data = randomData(N, T, 1);
  const batches = Math.ceil(N / batchSize);
  for (const k of [1, 3, 4, 5, 10, 25]) {
    const model = await createModel({ cell: 'gru', inputSize: X, hiddenSize: 5, outputSize: Y, seed: 2 });
    const flowLengths = [];
    const history = await model.fit(data, {
      epochs, batchSize, tbptt: k, shuffle: false, optimizer: { type: 'sgd', lr: 0.01 },
      onStep: (info) => { flowLengths.push(info.flow[0].length); },
    });
    const windows = Math.ceil(T / k);
    assert.equal(history.steps.step.length, epochs * batches * windows, `k = ${k}: steps`);
    // the engine's own step counter agrees with the history
    const info = model.trainStep(window(data, [0], 0, T), { optimizer: { type: 'sgd', lr: 0.01 } });
    assert.equal(info.step, epochs * batches * windows + 1, `k = ${k}: engine step count`);
    // window lengths k, k, ..., T - k (windows - 1) in every batch
    const expected = [];
    for (let i = 0; i < epochs * batches; i++) {
      for (let t0 = 0; t0 < T; t0 += k) expected.push(Math.min(k, T - t0));
    }
    assert.deepEqual(flowLengths, expected, `k = ${k}: flow lengths (BPTT depth) per step`);
    model.dispose();
  }
});

// fit({ tbptt }) against the same training written out with trainStep: each
// window a step of its own, its initial state the previous window's final
// state (trainStep returns the state of its forward pass, as fit carries it).
async function tbpttTwins(T, k) {
  const N = 6, batchSize = 3;
  const data = randomData(N, T, 3);
  const config = { cell: 'lstm', inputSize: X, hiddenSize: 5, outputSize: Y, seed: 4 };
  const optimizer = { type: 'adam', lr: 0.01 };
  const a = await createModel(config);
  const history = await a.fit(data, { epochs: 1, batchSize, tbptt: k, shuffle: false, optimizer });
  const b = await createModel(config);
  const losses = [];
  for (let start = 0; start < N; start += batchSize) {
    const rows = [...Array(Math.min(batchSize, N - start)).keys()].map((i) => start + i);
    let state;
    for (let t0 = 0; t0 < T; t0 += k) {
      const info = b.trainStep(window(data, rows, t0, Math.min(k, T - t0)), { optimizer, ...(state ? { state } : {}) });
      losses.push(info.loss);
      state = info.state;
    }
  }
  return { a, b, history, losses };
}

const firstDifference = (p, q) => p.findIndex((v, i) => !Object.is(v, q[i]));

test('tbptt, T a multiple of k (12, 4): fit = trainStep per window with the state carried, bit for bit', async () => {
  const { a, b, history, losses } = await tbpttTwins(12, 4);
  assert.equal(firstDifference(history.steps.loss, losses), -1, `losses: fit ${history.steps.loss}, by hand ${losses}`);
  assert.equal(firstDifference(Array.from(a.getParameters()), Array.from(b.getParameters())), -1, 'parameters differ');
  a.dispose();
  b.dispose();
});

test('tbptt, T not a multiple of k (10, 4): the state also carries into the shorter last window', async () => {
  // Windows of 4, 4, 2 steps. The last window must start from the state the
  // second one ended in, like every other window.
  const { a, b, history, losses } = await tbpttTwins(10, 4);
  const i = firstDifference(history.steps.loss, losses);
  assert.equal(i, -1, `step ${i + 1} (window ${(i % 3) + 1} of its batch): fit loss ${history.steps.loss[i]}, with the carried state ${losses[i]}`);
  assert.equal(firstDifference(Array.from(a.getParameters()), Array.from(b.getParameters())), -1, 'parameters differ');
  a.dispose();
  b.dispose();
});

test('tbptt learns a task whose dependencies (1 step) are shorter than k: delayed copy y_t = x_{t-1}', async () => {
  // Full-sequence evaluation after training in windows of k = 6 over T = 24:
  // the 3 window boundaries per sequence need the carried state to be right.
  const T = 24, N = 128, k = 6;
  const make = (seed, n) => {
    const r = rng(seed);
    const x = uniform(r, n * T, 1), y = new Float32Array(n * T);
    for (let s = 0; s < n; s++) for (let t = 1; t < T; t++) y[s * T + t] = x[s * T + t - 1];
    return { x, shape: [n, T, 1], y };
  };
  const train = make(5, N), heldOut = make(6, 64);
  const mean = heldOut.y.reduce((s, v) => s + v, 0) / heldOut.y.length;
  const baseline = heldOut.y.reduce((s, v) => s + (v - mean) ** 2, 0) / heldOut.y.length; // ≈ 1/3
  const model = await createModel({ cell: 'gru', inputSize: 1, hiddenSize: 12, outputSize: 1, seed: 6 });
  const before = model.evaluate(heldOut).loss;
  const history = await model.fit(train, { epochs: 15, batchSize: 16, tbptt: k, optimizer: { type: 'adam', lr: 0.01 } });
  assert.equal(history.steps.step.length, 15 * (N / 16) * (T / k));
  const after = model.evaluate(heldOut).loss;
  assert.ok(after < 0.05 * baseline, `held-out MSE ${after} (was ${before}), variance baseline ${baseline}`);
  assert.ok(history.epochs.loss.at(-1) < 0.1 * history.epochs.loss[0], `epoch losses ${history.epochs.loss[0]} → ${history.epochs.loss.at(-1)}`);
  console.log(`tbptt k = ${k}, delayed copy: held-out MSE ${before.toFixed(4)} → ${after.toFixed(5)} (${(100 * after / baseline).toFixed(2)}% of baseline)`);
  model.dispose();
});

test("tbptt shorter than T with output 'last': one step per batch, in the window with the last step; with lengths it is refused (E_INVALID)", async () => {
  const model = await createModel({ cell: 'rnn', inputSize: X, hiddenSize: 3, outputSize: Y, output: 'last' });
  const r = rng(7);
  const data = { x: uniform(r, 4 * 6 * X), shape: [4, 6, X], y: uniform(r, 4) };
  const before = model.getParameters();
  // lengths could end a sequence in a window before the last, whose target would be lost
  await assert.rejects(model.fit({ ...data, lengths: [6, 6, 2, 6] }, { tbptt: 3 }),
    (e) => e instanceof RnnlabError && e.code === 'E_INVALID' && /tbptt/.test(e.message) && /lengths/.test(e.message));
  assert.deepEqual(model.getParameters(), before);
  const windows = await model.fit(data, { tbptt: 3, batchSize: 2 });
  assert.equal(windows.steps.step.length, 2, 'two batches, each one step (its first window only carries the state)');
  // k >= T is plain BPTT and fine
  const h = await model.fit(data, { tbptt: 6, batchSize: 4 });
  assert.equal(h.steps.step.length, 1);
  model.dispose();
});
