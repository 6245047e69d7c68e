// Gradient clipping (SPEC §5) and the optimisers (SPEC §7), measured through
// the parameters: getParameters() before and after trainStep, against the
// gradient computeGradients() reports for the same parameters and batch.
//
// Why this works: trainStep recomputes forward and BPTT on the same
// parameters and batch as the computeGradients call just before it, so the
// gradient it feeds to the optimiser is the one we read (the engine is
// deterministic). The update itself is then checked against the float64
// reference (tests/reference/reference.js: clipGradients, optimizerStep) and,
// for a few cases, against formulas written out in the test.
//
// Tolerances. Parameters are float32 of size O(1): storing θ - Δ rounds by
// half an ulp of θ (<= 6e-8·|θ|), and Δ itself is a handful of float32
// operations (relative error ~1e-6 at most). Every comparison below allows
// 4 ulp of |θ| plus 1e-5·|Δ|: ~10x the rounding, and orders of magnitude below
// what a wrong term (a missing bias correction, a wrong β) would cause.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createModel } from '../web/rnnlab.js';
import { clipGradients, optimizerStep, layout } from './reference/reference.js';
import { rng, uniform } from './helpers/cases.js';

const ULP1 = 2 ** -23; // float32 spacing at 1

const norm = (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
const dot = (a, b) => a.reduce((s, x, i) => s + x * b[i], 0);
const diff = (a, b) => Float64Array.from(a, (v, i) => v - b[i]);

// |actual - expected| <= 4 ulp(|θ|) + rtol·|Δ| + atol, element by element.
function assertParams(actual, expected, before, what, { rtol = 1e-5, atol = 0 } = {}) {
  assert.equal(actual.length, expected.length, `${what}: lengths`);
  for (let i = 0; i < actual.length; i++) {
    const step = Math.abs(expected[i] - before[i]);
    const tol = 4 * ULP1 * Math.max(Math.abs(expected[i]), Math.abs(before[i])) + rtol * step + atol;
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol,
      `${what}: parameter ${i} is ${actual[i]}, expected ${expected[i]} (was ${before[i]}, tolerance ${tol})`);
  }
}

// A small model with random parameters and a fixed MSE batch.
async function setup({ cell = 'lstm', seed = 1, X = 3, H = 5, Y = 2, B = 4, T = 6, gruVariant } = {}) {
  const config = { cell, inputSize: X, hiddenSize: H, outputSize: Y, seed, ...(gruVariant ? { gruVariant } : {}) };
  const model = await createModel(config);
  const r = rng(1000 + seed);
  model.setParameters(uniform(r, model.parameterCount().rnnlab, 0.5));
  const batch = { x: uniform(r, B * T * X), shape: [B, T, X], y: uniform(r, B * T * Y) };
  return { model, batch, config };
}

// ---------------------------------------------------------------------------
// 1. Clipping
// ---------------------------------------------------------------------------

const CLIP_CELLS = [{ cell: 'rnn' }, { cell: 'lstm' }, { cell: 'gru', gruVariant: 'reset-after' }];

for (const [k, spec] of CLIP_CELLS.entries()) {
  test(`clipNorm τ < n (${spec.cell}): SGD lr 1 moves θ by -τ g/n, ‖Δθ‖ = τ, StepInfo says n, τ, clipped`, async () => {
    const { model, batch } = await setup({ ...spec, seed: 10 + k });
    const p0 = model.getParameters();
    const { flatGradients: g, gradNorm } = model.computeGradients(batch);
    const n = norm(g);
    // the reported norm is the global norm of the reported gradient
    assert.ok(Math.abs(gradNorm - n) <= 1e-6 * n, `gradNorm ${gradNorm} vs ‖g‖ ${n}`);
    const tau = 0.3 * n;
    const info = model.trainStep(batch, { optimizer: { type: 'sgd', lr: 1 }, clipNorm: tau });
    const delta = diff(model.getParameters(), p0);

    assert.ok(Math.abs(norm(delta) - tau) <= 1e-5 * tau, `‖Δθ‖ = ${norm(delta)}, expected τ = ${tau}`);
    const cosine = -dot(delta, g) / (norm(delta) * n);
    assert.ok(cosine > 1 - 1e-9, `Δθ not parallel to -g: cosine ${cosine}`);
    const ref = clipGradients(g, { clipNorm: tau });
    assert.equal(ref.clipped, true);
    assertParams(model.getParameters(), Float64Array.from(p0, (v, i) => v - ref.grads[i]), p0, 'θ - clip(g)');

    assert.ok(Math.abs(info.gradNorm - n) <= 1e-6 * n, `StepInfo.gradNorm ${info.gradNorm}, expected n = ${n}`);
    assert.ok(Math.abs(info.gradNormAfter - tau) <= 1e-6 * tau, `StepInfo.gradNormAfter ${info.gradNormAfter}, expected τ = ${tau}`);
    assert.equal(info.clipped, true);
    model.dispose();
  });

  test(`clipNorm τ > n (${spec.cell}): nothing is clipped, Δθ = -g`, async () => {
    const { model, batch } = await setup({ ...spec, seed: 20 + k });
    const p0 = model.getParameters();
    const { flatGradients: g } = model.computeGradients(batch);
    const n = norm(g);
    const info = model.trainStep(batch, { optimizer: { type: 'sgd', lr: 1 }, clipNorm: 2 * n });
    assertParams(model.getParameters(), Float64Array.from(p0, (v, i) => v - g[i]), p0, 'θ - g');
    assert.equal(info.clipped, false);
    assert.ok(Math.abs(info.gradNorm - n) <= 1e-6 * n, `gradNorm ${info.gradNorm} vs ${n}`);
    assert.ok(Math.abs(info.gradNormAfter - n) <= 1e-6 * n, `gradNormAfter ${info.gradNormAfter} vs ${n}`);
    model.dispose();
  });
}

test('clipValue v: every element of Δθ is clamp(-g, -v, v), as the reference clips', async () => {
  const { model, batch } = await setup({ cell: 'gru', seed: 31 });
  const p0 = model.getParameters();
  const { flatGradients: g } = model.computeGradients(batch);
  // v at the median |g|: about half the elements are clamped, half not
  const sorted = Array.from(g, Math.abs).sort((a, b) => a - b);
  const v = sorted[sorted.length >> 1];
  const clampedCount = sorted.filter((a) => a > v).length;
  assert.ok(clampedCount > g.length / 4, 'the case clamps a good share of elements');
  const info = model.trainStep(batch, { optimizer: { type: 'sgd', lr: 1 }, clipValue: v });
  const p1 = model.getParameters();
  const delta = diff(p1, p0);
  for (let i = 0; i < delta.length; i++) {
    const slack = 4 * ULP1 * Math.max(Math.abs(p0[i]), Math.abs(p1[i]));
    assert.ok(Math.abs(delta[i]) <= v + slack, `|Δθ[${i}]| = ${Math.abs(delta[i])} exceeds v = ${v}`);
  }
  const ref = clipGradients(g, { clipValue: v });
  assertParams(p1, Float64Array.from(p0, (x, i) => x - ref.grads[i]), p0, 'θ - clamp(g)');
  assert.ok(Math.abs(info.gradNormAfter - ref.normAfter) <= 1e-6 * ref.normAfter,
    `gradNormAfter ${info.gradNormAfter}, expected the clamped norm ${ref.normAfter}`);
  assert.ok(Math.abs(info.gradNorm - ref.normBefore) <= 1e-6 * ref.normBefore);
  assert.equal(info.clipped, ref.clipped, 'clipped reports norm clipping only (rnnlab.h RNNLAB_STAT_CLIPPED)');
  model.dispose();
});

test('clipNorm and clipValue together: norm first, then value (reference order)', async () => {
  const { model, batch } = await setup({ cell: 'lstm', seed: 32 });
  const p0 = model.getParameters();
  const { flatGradients: g } = model.computeGradients(batch);
  const n = norm(g);
  const tau = 0.5 * n;
  const scaled = Array.from(g, (x) => Math.abs(x) * tau / n).sort((a, b) => a - b);
  const v = scaled[Math.floor(scaled.length * 0.7)];
  const info = model.trainStep(batch, { optimizer: { type: 'sgd', lr: 1 }, clipNorm: tau, clipValue: v });
  const ref = clipGradients(g, { clipNorm: tau, clipValue: v });
  // value-then-norm would give a different vector: make sure the case tells them apart
  const other = clipGradients(clipGradients(g, { clipValue: v }).grads, { clipNorm: tau }).grads;
  assert.ok(norm(diff(other, ref.grads)) > 1e-3 * norm(ref.grads), 'the case distinguishes the two orders');
  assertParams(model.getParameters(), Float64Array.from(p0, (x, i) => x - ref.grads[i]), p0, 'θ - clamp(τ g / n)');
  assert.equal(info.clipped, true);
  assert.ok(Math.abs(info.gradNormAfter - ref.normAfter) <= 1e-6 * ref.normAfter,
    `gradNormAfter ${info.gradNormAfter} vs ${ref.normAfter}`);
  model.dispose();
});

// ---------------------------------------------------------------------------
// 2. Optimisers against the reference, two steps each
// ---------------------------------------------------------------------------

// The engine keeps hyperparameters as float32 (rnnlab_optimizer); the
// reference gets the same float32 values, so only the arithmetic differs.
const f32 = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === 'number' ? Math.fround(v) : v]));

const OPTIMIZER_CASES = [
  // SPEC defaults (only lr given) ...
  { type: 'sgd', lr: 0.1 },
  { type: 'momentum', lr: 0.05 },
  { type: 'adam', lr: 0.01 },
  { type: 'adamw', lr: 0.01, weightDecay: 0.01 },
  { type: 'rmsprop', lr: 0.01 },
  // ... and every hyperparameter away from its default, so each one matters
  { type: 'momentum', lr: 0.03, momentum: 0.6 },
  { type: 'adam', lr: 0.02, beta1: 0.7, beta2: 0.95, eps: 1e-3 },
  { type: 'adamw', lr: 0.02, beta1: 0.8, beta2: 0.99, eps: 1e-4, weightDecay: 0.5 },
  { type: 'rmsprop', lr: 0.005, rho: 0.7, eps: 1e-3 },
];

for (const [k, opt] of OPTIMIZER_CASES.entries()) {
  const label = Object.entries(opt).map(([key, v]) => `${key} ${v}`).join(', ');
  test(`optimiser ${label}: two trainSteps = reference optimizerStep on the engine's gradients`, async () => {
    const { model, batch } = await setup({ cell: k % 2 ? 'gru' : 'lstm', seed: 40 + k });
    const { type, ...hyper } = opt;
    let state = null;
    for (let step = 1; step <= 2; step++) {
      const before = model.getParameters();
      const g = model.computeGradients(batch).flatGradients;
      const info = model.trainStep(batch, { optimizer: opt });
      assert.equal(info.step, step, 'optimiser step count');
      const ref = optimizerStep(type, f32(hyper), before, g, state, step);
      assertParams(model.getParameters(), ref.params, before, `${type} step ${step}`);
      // the step must actually move the parameters, or the comparison proves little
      assert.ok(norm(diff(ref.params, before)) > 1e-4, 'the reference step is not trivially small');
      state = ref.state;
    }
    model.dispose();
  });
}

test('optimiser state is per type: switching type restarts the step count and the moments', async () => {
  const a = await setup({ cell: 'rnn', seed: 60 });
  const b = await setup({ cell: 'rnn', seed: 60 });
  a.model.trainStep(a.batch, { optimizer: { type: 'momentum', lr: 0.05 } });
  a.model.trainStep(a.batch, { optimizer: { type: 'momentum', lr: 0.05 } });
  // b reaches the same parameters without any momentum history
  b.model.setParameters(a.model.getParameters());
  const ia = a.model.trainStep(a.batch, { optimizer: { type: 'adam', lr: 0.01 } });
  const ib = b.model.trainStep(b.batch, { optimizer: { type: 'adam', lr: 0.01 } });
  assert.equal(ia.step, 1, 'the first Adam step is step 1 (bias correction restarts)');
  assert.deepEqual(a.model.getParameters(), b.model.getParameters());
  assert.equal(ib.step, 1);
  a.model.dispose();
  b.model.dispose();
});

// ---------------------------------------------------------------------------
// Hand-computed cases, independent of the reference implementation
// ---------------------------------------------------------------------------

test('by hand: SGD on a one-unit RNN, T = 1, uses dL/dθ derived on paper', async () => {
  // h = tanh(w x + u·0 + b), ŷ = v h + c, L = (ŷ - y)²
  // dL/dc = 2(ŷ - y), dL/dv = 2(ŷ - y) h, dL/db = 2(ŷ - y) v (1 - h²),
  // dL/dw = dL/db · x, dL/du = dL/db · h0 = 0.
  const model = await createModel({ cell: 'rnn', inputSize: 1, hiddenSize: 1, outputSize: 1 });
  const [w, u, b, v, c] = [0.7, -0.4, 0.2, 1.3, -0.1].map(Math.fround); // layout W, U, b, V, c
  assert.deepEqual(layout({ cell: 'rnn', inputSize: 1, hiddenSize: 1, outputSize: 1 }).tensors.map((t) => t.name),
    ['W0', 'U0', 'b0', 'V', 'c']);
  model.setParameters([w, u, b, v, c]);
  const x = Math.fround(0.9), y = Math.fround(2.0), lr = Math.fround(0.1);
  const h = Math.tanh(w * x + b);
  const e = 2 * (v * h + c - y);
  const grad = [e * v * (1 - h * h) * x, 0, e * v * (1 - h * h), e * h, e];
  const info = model.trainStep({ x: [[[x]]], y: [[[y]]] }, { optimizer: { type: 'sgd', lr } });
  assert.ok(Math.abs(info.loss - (v * h + c - y) ** 2) <= 1e-6, `loss ${info.loss}`);
  const after = model.getParameters();
  [w, u, b, v, c].forEach((p, i) => {
    const expected = p - lr * grad[i];
    assert.ok(Math.abs(after[i] - expected) <= 1e-6, `parameter ${i}: ${after[i]} vs ${expected}`);
  });
  model.dispose();
});

test('by hand: the first Adam step moves every parameter by -lr·sign(g) (up to ε/|g|)', async () => {
  const { model, batch } = await setup({ cell: 'lstm', seed: 70 });
  const before = model.getParameters();
  const g = model.computeGradients(batch).flatGradients;
  const lr = 0.01;
  model.trainStep(batch, { optimizer: { type: 'adam', lr } });
  const delta = diff(model.getParameters(), before);
  // m̂ = g, v̂ = g² after one step, so Δ = -lr g / (|g| + ε)
  for (let i = 0; i < g.length; i++) {
    const expected = -lr * Math.sign(g[i]);
    const tol = lr * (1e-8 / Math.abs(g[i]) + 1e-5) + 4 * ULP1 * Math.abs(before[i]);
    assert.ok(Math.abs(delta[i] - expected) <= tol, `Δθ[${i}] = ${delta[i]}, expected ${expected} (g ${g[i]})`);
  }
  model.dispose();
});

test('by hand: AdamW adds -lr·λ·θ to the first step, RMSprop moves by -lr·sign(g)/√(1-ρ)', async () => {
  const lr = 0.01, lambda = 0.5, rho = 0.8;
  {
    const { model, batch } = await setup({ cell: 'gru', seed: 71 });
    const before = model.getParameters();
    const g = model.computeGradients(batch).flatGradients;
    model.trainStep(batch, { optimizer: { type: 'adamw', lr, weightDecay: lambda } });
    const delta = diff(model.getParameters(), before);
    for (let i = 0; i < g.length; i++) {
      const expected = -lr * (Math.sign(g[i]) + lambda * before[i]);
      const tol = lr * (1e-8 / Math.abs(g[i]) + 1e-5) + 4 * ULP1 * Math.abs(before[i]);
      assert.ok(Math.abs(delta[i] - expected) <= tol, `AdamW Δθ[${i}] = ${delta[i]}, expected ${expected}`);
    }
    model.dispose();
  }
  {
    const { model, batch } = await setup({ cell: 'gru', seed: 72 });
    const before = model.getParameters();
    const g = model.computeGradients(batch).flatGradients;
    model.trainStep(batch, { optimizer: { type: 'rmsprop', lr, rho } });
    const delta = diff(model.getParameters(), before);
    // s = (1-ρ) g²  ⇒  Δ = -lr g / (√(1-ρ)|g| + ε)
    for (let i = 0; i < g.length; i++) {
      const expected = -lr * Math.sign(g[i]) / Math.sqrt(1 - rho);
      const tol = Math.abs(expected) * (1e-7 / (Math.sqrt(1 - rho) * Math.abs(g[i])) + 1e-5) + 4 * ULP1 * Math.abs(before[i]);
      assert.ok(Math.abs(delta[i] - expected) <= tol, `RMSprop Δθ[${i}] = ${delta[i]}, expected ${expected}`);
    }
    model.dispose();
  }
});

test('by hand: momentum accumulates, Δθ₂ = -lr (μ g₁ + g₂)', async () => {
  const { model, batch } = await setup({ cell: 'rnn', seed: 73 });
  const lr = 0.05, mu = 0.9;
  const p0 = model.getParameters();
  const g1 = model.computeGradients(batch).flatGradients;
  model.trainStep(batch, { optimizer: { type: 'momentum', lr, momentum: mu } });
  const p1 = model.getParameters();
  assertParams(p1, Float64Array.from(p0, (v, i) => v - lr * g1[i]), p0, 'step 1');
  const g2 = model.computeGradients(batch).flatGradients;
  model.trainStep(batch, { optimizer: { type: 'momentum', lr, momentum: mu } });
  assertParams(model.getParameters(), Float64Array.from(p1, (v, i) => v - lr * (Math.fround(mu) * g1[i] + g2[i])), p1, 'step 2');
  model.dispose();
});
