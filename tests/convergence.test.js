// Convergence on small tasks with fixed seeds, judged by what each task
// means (held-out data, baselines computed from the data), not by loss
// values from an earlier run.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createModel } from '../web/rnnlab.js';
import { rng } from './helpers/cases.js';

// ---------------------------------------------------------------------------
// The adding problem (Hochreiter & Schmidhuber 1997): inputs [value, marker],
// values U(0, 1), two markers (one in each half); the target is the sum of the
// two marked values, read at the last step.
// ---------------------------------------------------------------------------

function addingProblem(N, T, seed) {
  const r = rng(seed);
  const x = new Float32Array(N * T * 2), y = new Float32Array(N);
  for (let n = 0; n < N; n++) {
    const a = Math.floor(r() * (T / 2)), b = T / 2 + Math.floor(r() * (T / 2));
    for (let t = 0; t < T; t++) x[(n * T + t) * 2] = r();
    x[(n * T + a) * 2 + 1] = 1;
    x[(n * T + b) * 2 + 1] = 1;
    y[n] = x[(n * T + a) * 2] + x[(n * T + b) * 2];
  }
  return { x, shape: [N, T, 2], y };
}

// MSE of always predicting the mean: the variance of the targets (≈ 2/12 = 1/6).
function varianceBaseline(y) {
  const mean = y.reduce((s, v) => s + v, 0) / y.length;
  return y.reduce((s, v) => s + (v - mean) ** 2, 0) / y.length;
}

for (const cell of ['lstm', 'gru']) {
  test(`adding problem, T = 20, ${cell}: held-out MSE below 10% of the variance baseline`, async () => {
    const T = 20;
    const train = addingProblem(1024, T, 1);
    const heldOut = addingProblem(512, T, 2);
    const baseline = varianceBaseline(heldOut.y);
    // a sanity check on the data: two independent U(0,1) values have variance 1/6
    assert.ok(Math.abs(baseline - 1 / 6) < 0.03, `baseline ${baseline}`);
    const model = await createModel({ cell, inputSize: 2, hiddenSize: 16, outputSize: 1, output: 'last', seed: 1 });
    const before = model.evaluate(heldOut).loss;
    await model.fit(train, { epochs: 15, batchSize: 32, optimizer: { type: 'adam', lr: 0.01 } });
    const after = model.evaluate(heldOut).loss;
    // Knowing only one of the two values leaves the other's variance, 1/12 =
    // 50% of the baseline; below 10% the model must be using both markers.
    assert.ok(after < 0.1 * baseline, `${cell}: held-out MSE ${after} (from ${before}), baseline ${baseline}`);
    // and the predictions really are the sums, not just low on average
    const pred = model.predict(heldOut.x, { shape: heldOut.shape }).output;
    let within = 0;
    for (let n = 0; n < heldOut.y.length; n++) if (Math.abs(pred[n] - heldOut.y[n]) < 0.15) within++;
    assert.ok(within / heldOut.y.length > 0.8, `${cell}: ${within} of ${heldOut.y.length} sums within ±0.15`);
    console.log(`adding problem ${cell}: held-out MSE ${after.toFixed(5)} = ${(100 * after / baseline).toFixed(2)}% of baseline ${baseline.toFixed(4)}; ${(100 * within / heldOut.y.length).toFixed(1)}% within ±0.15`);
    model.dispose();
  });
}

// ---------------------------------------------------------------------------
// Cross-entropy: recall the symbol seen two steps ago (K = 4 symbols, one-hot
// inputs). Chance is 1/K; the first two steps have nothing to recall and are
// masked out.
// ---------------------------------------------------------------------------

function delayedRecall(N, T, K, delay, seed) {
  const r = rng(seed);
  const x = new Float32Array(N * T * K), y = new Int32Array(N * T), mask = new Float32Array(N * T);
  for (let n = 0; n < N; n++) {
    const s = Array.from({ length: T }, () => Math.floor(r() * K));
    for (let t = 0; t < T; t++) {
      x[(n * T + t) * K + s[t]] = 1;
      if (t >= delay) { y[n * T + t] = s[t - delay]; mask[n * T + t] = 1; }
    }
  }
  return { x, shape: [N, T, K], y, mask };
}

for (const cell of ['gru', 'rnn']) {
  test(`cross-entropy, recall the symbol two steps back (${cell}): held-out accuracy > 95% (chance 25%)`, async () => {
    const K = 4, T = 12;
    const train = delayedRecall(512, T, K, 2, 3);
    const heldOut = delayedRecall(256, T, K, 2, 4);
    const model = await createModel({ cell, inputSize: K, hiddenSize: 16, outputSize: K, loss: 'cross-entropy', seed: 2 });
    const before = model.evaluate(heldOut);
    assert.ok(before.accuracy < 0.4, `untrained accuracy ${before.accuracy} is near chance`);
    await model.fit(train, { epochs: 12, batchSize: 32, optimizer: { type: 'adam', lr: 0.01 } });
    const after = model.evaluate(heldOut);
    assert.ok(after.accuracy > 0.95, `${cell}: held-out accuracy ${after.accuracy} (was ${before.accuracy})`);
    // perplexity = exp(mean CE): from ~K (guessing) towards 1 (certain)
    assert.ok(Math.abs(after.perplexity - Math.exp(after.loss)) <= 1e-9 * after.perplexity);
    assert.ok(after.perplexity < 1.3 && before.perplexity > 3, `perplexity ${before.perplexity} → ${after.perplexity}`);
    console.log(`delayed recall ${cell}: accuracy ${before.accuracy.toFixed(3)} → ${after.accuracy.toFixed(3)}, perplexity ${before.perplexity.toFixed(2)} → ${after.perplexity.toFixed(3)}`);
    model.dispose();
  });
}

// ---------------------------------------------------------------------------
// Cross-entropy, many-to-one: parity of 6 bits. Every bit matters, so no rule
// that ignores any bit beats chance (50%); only the whole XOR chain does.
// Trained on 512 random sequences, judged on all 64 there are.
// ---------------------------------------------------------------------------

test('cross-entropy, parity of 6 bits (gru, output last): accuracy > 95% on all 64 sequences (chance 50%)', async () => {
  const T = 6;
  const r = rng(5);
  const N = 512;
  const x = new Float32Array(N * T), y = new Int32Array(N);
  for (let n = 0; n < N; n++) {
    for (let t = 0; t < T; t++) { const bit = r() < 0.5 ? 1 : 0; x[n * T + t] = bit; y[n] ^= bit; }
  }
  const all = { x: new Float32Array(64 * T), shape: [64, T, 1], y: new Int32Array(64) };
  for (let n = 0; n < 64; n++) {
    for (let t = 0; t < T; t++) { const bit = (n >> t) & 1; all.x[n * T + t] = bit; all.y[n] ^= bit; }
  }
  const model = await createModel({ cell: 'gru', inputSize: 1, hiddenSize: 16, outputSize: 2, output: 'last', loss: 'cross-entropy', seed: 3 });
  const before = model.evaluate(all).accuracy;
  await model.fit({ x, shape: [N, T, 1], y }, { epochs: 40, batchSize: 32, optimizer: { type: 'adam', lr: 0.02 } });
  const after = model.evaluate(all).accuracy;
  assert.ok(after > 0.95, `parity accuracy ${after} (was ${before})`);
  console.log(`parity-6 gru: accuracy on all 64 sequences ${before.toFixed(3)} → ${after.toFixed(3)}`);
  model.dispose();
});
