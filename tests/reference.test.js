// Tests of the float64 reference implementation (tests/reference/reference.js)
// against finite differences, hand-computed values and known matrices, so that
// the engine's own tests can trust it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  layout, run, spectralNorm, recurrentSpectralNorms, clipGradients, optimizerStep,
} from './reference/reference.js';
import { rng as unitRandom } from './helpers/cases.js';

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/** mulberry32: a small seeded generator, so every case is reproducible. */
const rng = unitRandom;

const uniform = (rand, n, scale) => Float64Array.from({ length: n }, () => (2 * rand() - 1) * scale);
const norm = (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
const close = (a, b, tol, msg) =>
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${msg}: ${a} vs ${b}`);

const CELLS = [
  { name: 'rnn tanh', cell: 'rnn', activation: 'tanh' },
  { name: 'rnn relu', cell: 'rnn', activation: 'relu' },
  { name: 'lstm', cell: 'lstm' },
  { name: 'gru reset-before', cell: 'gru', gruVariant: 'reset-before' },
  { name: 'gru reset-after', cell: 'gru', gruVariant: 'reset-after' },
];

function makeConfig(cellSpec, opts) {
  const { name: _name, ...cell } = cellSpec;
  return { inputSize: 2, hiddenSize: 3, outputSize: 3, layers: 1, output: 'sequence', loss: 'mse', ...cell, ...opts };
}

/**
 * Random parameters and a batch. maskKind: 'none'; 'partial' (padding at
 * the end of sequence 1, a hole in sequence 0); 'empty' (as partial, and
 * sequence 2 entirely masked).
 */
function makeCase(config, { B = 3, T, maskKind = 'none', withH0 = false, seed = 1 }) {
  const rand = rng(seed);
  const { inputSize: X, hiddenSize: H, outputSize: Y, layers: L } = config;
  const params = uniform(rand, layout(config).total, 0.6);
  const sequence = config.output === 'sequence';
  const positions = sequence ? B * T : B;
  let mask = null;
  if (maskKind !== 'none') {
    mask = new Float64Array(B * T).fill(1);
    if (T > 1) mask[0 * T + 1] = 0;          // a hole
    if (T > 1) mask[1 * T + T - 1] = 0;      // padding at the end
    if (maskKind === 'empty') for (let t = 0; t < T; t++) mask[2 * T + t] = 0;
  }
  const batch = {
    B, T,
    x: uniform(rand, B * T * X, 1),
    y: uniform(rand, positions * Y, 1),
    labels: Int32Array.from({ length: positions }, () => Math.floor(rand() * Y)),
    mask,
    h0: withH0 ? uniform(rand, L * B * H, 0.8) : null,
    c0: withH0 && config.cell === 'lstm' ? uniform(rand, L * B * H, 0.8) : null,
  };
  return { params, batch };
}

/**
 * Central differences of the loss with respect to every element of
 * `values` (an array inside the case, perturbed in place and restored),
 * compared with `analytic`.
 *
 * Step and tolerance: with step h = 1e-5 in float64 the truncation error of
 * the central difference is h²/6·|f'''| ≈ 2e-11·|f'''| and the rounding
 * error about ε·|L|/h ≈ 1e-16/1e-5 = 1e-11 (|L| is O(1) here), so the
 * difference is good to ~1e-10 absolute. We require
 * |fd - analytic| ≤ 1e-6·max(|fd|, |analytic|) + 1e-9: a relative error
 * below 1e-6, with an absolute floor of 1e-9 for gradients that are (near)
 * zero. A wrong term in a gradient is off by O(its size), ≥ 1e-3 here.
 */
function checkByFiniteDifferences(values, analytic, lossAt, label) {
  const h = 1e-5;
  assert.equal(analytic.length, values.length, `${label}: length`);
  let worst = 0;
  for (let i = 0; i < values.length; i++) {
    const saved = values[i];
    values[i] = saved + h;
    const up = lossAt();
    values[i] = saved - h;
    const down = lossAt();
    values[i] = saved;
    const fd = (up - down) / (2 * h);
    const err = Math.abs(fd - analytic[i]);
    const allowed = 1e-6 * Math.max(Math.abs(fd), Math.abs(analytic[i])) + 1e-9;
    assert.ok(err <= allowed, `${label}[${i}]: finite difference ${fd}, analytic ${analytic[i]}`);
    worst = Math.max(worst, err);
  }
  return worst;
}

// ---------------------------------------------------------------------------
// Layout
// ---------------------------------------------------------------------------

test('layout: parameter counts of SPEC §2 and the tensor order', () => {
  const X = 5, H = 4, Y = 3;
  const base = { inputSize: X, hiddenSize: H, outputSize: Y, layers: 1 };
  const head = Y * H + Y;
  assert.equal(layout({ ...base, cell: 'rnn' }).total, H * (X + H + 1) + head);
  assert.equal(layout({ ...base, cell: 'lstm' }).total, 4 * H * (X + H + 1) + head);
  assert.equal(layout({ ...base, cell: 'gru', gruVariant: 'reset-before' }).total, 3 * H * (X + H + 1) + head);
  assert.equal(layout({ ...base, cell: 'gru', gruVariant: 'reset-after' }).total, 3 * H * (X + H + 1) + H + head);

  const lay = layout({ ...base, cell: 'gru', gruVariant: 'reset-after', layers: 2 });
  assert.deepEqual(lay.tensors.map((t) => [t.kind, t.layer, t.shape]), [
    ['W', 0, [12, 5]], ['U', 0, [12, 4]], ['b', 0, [12]], ['bhn', 0, [4]],
    ['W', 1, [12, 4]], ['U', 1, [12, 4]], ['b', 1, [12]], ['bhn', 1, [4]],
    ['V', 2, [3, 4]], ['c', 2, [3]],
  ]);
  let offset = 0;
  for (const t of lay.tensors) {
    assert.equal(t.offset, offset, `${t.name} offset`);
    assert.equal(t.count, t.shape.reduce((a, s) => a * s, 1));
    offset += t.count;
  }
  assert.equal(lay.total, offset);
});

// ---------------------------------------------------------------------------
// Forward values computed by hand
// ---------------------------------------------------------------------------

/** Flat params from named tensors; tensors not given stay zero. */
function paramsFrom(config, named) {
  const lay = layout(config);
  const flat = new Float64Array(lay.total);
  for (const t of lay.tensors) if (named[t.name]) flat.set(named[t.name], t.offset);
  return flat;
}

test('forward: a one-unit tanh RNN, one step, MSE, by hand', () => {
  const config = makeConfig(CELLS[0], { inputSize: 1, hiddenSize: 1, outputSize: 1 });
  const params = paramsFrom(config, { W0: [0.5], U0: [-0.3], b0: [0.1], V: [2], c: [0.25] });
  const batch = { B: 1, T: 1, x: [0.8], y: [1], h0: [0.6], mask: null };
  const res = run(config, params, batch);
  const h = Math.tanh(0.5 * 0.8 - 0.3 * 0.6 + 0.1); // tanh(0.32)
  const yhat = 2 * h + 0.25;
  close(res.output[0], yhat, 1e-15, 'output');
  close(res.loss, (yhat - 1) ** 2, 1e-15, 'loss');
  close(res.hT[0], h, 1e-15, 'hT');
  close(res.gates[0][0], h, 1e-15, 'gates = h for the RNN');
  // dL/dV = 2 (ŷ - y) h
  close(res.grads[layout(config).tensors[3].offset], 2 * (yhat - 1) * h, 1e-14, 'dV');
});

test('forward: LSTM with zero weights: gates 0.5, 0.5, 0, 0.5 and c = 0.5 c0', () => {
  const config = makeConfig(CELLS[2], { inputSize: 1, hiddenSize: 2, outputSize: 2 });
  const params = new Float64Array(layout(config).total);
  const batch = { B: 1, T: 1, x: [1], y: [0, 0], h0: [0.3, -0.2], c0: [0.8, -0.4], mask: null };
  const res = run(config, params, batch);
  assert.deepEqual([...res.gates[0]], [0.5, 0.5, 0.5, 0.5, 0, 0, 0.5, 0.5]);
  assert.deepEqual([...res.cells[0]], [0.4, -0.2]);
  assert.deepEqual([...res.cT], [0.4, -0.2]);
  close(res.hT[0], 0.5 * Math.tanh(0.4), 1e-15, 'h = o tanh(c)');
});

test('forward: GRU with zero weights halves the state; z = 1 takes the candidate', () => {
  for (const variant of ['reset-before', 'reset-after']) {
    const config = makeConfig({ cell: 'gru', gruVariant: variant }, { inputSize: 1, hiddenSize: 1, outputSize: 1 });
    const batch = { B: 1, T: 1, x: [0.7], y: [0], h0: [0.6], mask: null };
    // all zero: r = z = 0.5, n = 0, h = 0.5 h0
    let res = run(config, new Float64Array(layout(config).total), batch);
    assert.deepEqual([...res.gates[0]], [0.5, 0.5, 0]);
    assert.equal(res.hT[0], 0.3);
    // b_z = 40 makes z = 1 in float64, so h = n = tanh(W_n x + ...)
    const params = paramsFrom(config, { W0: [0, 0, 0.9], b0: [0, 40, 0.1] });
    res = run(config, params, batch);
    close(res.hT[0], Math.tanh(0.9 * 0.7 + 0.1), 1e-15, `${variant}: z = 1`);
  }
});

test('forward: GRU variants differ only in where r sits', () => {
  const U = [0, 0, 0.5]; // only U_n
  const x = [0.7], h0 = [0.6];
  const before = makeConfig({ cell: 'gru', gruVariant: 'reset-before' }, { inputSize: 1, hiddenSize: 1, outputSize: 1 });
  const after = { ...before, gruVariant: 'reset-after' };
  const batch = { B: 1, T: 1, x, y: [0], h0, mask: null };
  const W = [0, 0, 0.9], b = [0.2, 0, 0.1]; // r = σ(0.2), z = 0.5
  const r = 1 / (1 + Math.exp(-0.2));
  // before: n = tanh(W_n x + U_n (r h) + b_n)
  const nBefore = Math.tanh(0.9 * 0.7 + 0.5 * r * 0.6 + 0.1);
  // after: n = tanh(W_n x + b_n + r (U_n h + b_hn))
  const nAfter = Math.tanh(0.9 * 0.7 + 0.1 + r * (0.5 * 0.6 + 0.3));
  const resB = run(before, paramsFrom(before, { W0: W, U0: U, b0: b }), batch);
  const resA = run(after, paramsFrom(after, { W0: W, U0: U, b0: b, bhn0: [0.3] }), batch);
  close(resB.gates[0][2], nBefore, 1e-15, 'n reset-before');
  close(resA.gates[0][2], nAfter, 1e-15, 'n reset-after');
  close(resB.hT[0], 0.5 * 0.6 + 0.5 * nBefore, 1e-15, 'h reset-before');
});

test('losses: cross-entropy of zero logits is log Y; masked positions add nothing', () => {
  const config = makeConfig(CELLS[0], { loss: 'cross-entropy', outputSize: 4 });
  const params = new Float64Array(layout(config).total);
  const batch = { B: 2, T: 2, x: new Float64Array(8).fill(1), labels: [0, 1, 2, 3], mask: [1, 0, 1, 1], h0: null };
  close(run(config, params, batch).loss, Math.log(4), 1e-15, 'CE');

  // MSE with c = (1, 2) and zero weights: ŷ = c at every position
  const mse = makeConfig(CELLS[0], { outputSize: 2 });
  const p2 = paramsFrom(mse, { c: [1, 2] });
  const y = [1, 0, 0, 0, /* masked: */ 100, 100, 3, 2];
  const res = run(mse, p2, { B: 2, T: 2, x: new Float64Array(8), y, mask: [1, 1, 0, 1], h0: null });
  // counted: (0,0): 0 + 4, (0,1): 1 + 4, (1,1): 4 + 0 → 13 / (3 positions × 2)
  close(res.loss, 13 / 6, 1e-15, 'MSE');
});

test("'last' output: last counted step per sequence; empty sequences get an output but no loss", () => {
  const config = makeConfig(CELLS[3], { output: 'last', outputSize: 2 });
  const { params, batch } = makeCase(config, { T: 4, maskKind: 'empty', withH0: true, seed: 5 });
  const res = run(config, params, batch);
  const lay = layout(config);
  const V = lay.tensors.find((t) => t.kind === 'V'), c = lay.tensors.find((t) => t.kind === 'c');
  const head = (hid) => [0, 1].map((k) =>
    params[c.offset + k] + [0, 1, 2].reduce((s, j) => s + params[V.offset + k * 3 + j] * hid[j], 0));
  const hAt = (t, b) => res.hidden[0].slice(((t + 1) * 3 + b) * 3, ((t + 1) * 3 + b + 1) * 3);
  // sequence 0: last step counts; sequence 1: padded at T-1 → step 2; sequence 2: empty → T-1
  const steps = [3, 2, 3];
  steps.forEach((t, b) => {
    const want = head(hAt(t, b));
    close(res.output[b * 2], want[0], 1e-14, `output ${b}`);
    close(res.output[b * 2 + 1], want[1], 1e-14, `output ${b}`);
  });
  let sum = 0;
  for (const b of [0, 1]) for (const k of [0, 1]) sum += (res.output[b * 2 + k] - batch.y[b * 2 + k]) ** 2;
  close(res.loss, sum / 4, 1e-14, 'loss over two counted sequences');
  // hT is the state at t = T regardless of the mask
  assert.deepEqual([...res.hT], [...res.hidden[0].slice(4 * 9, 5 * 9)]);
});

test('nothing counted: loss 0, every gradient and flow 0', () => {
  for (const spec of [CELLS[2], CELLS[4]]) {
    for (const output of ['sequence', 'last']) {
      const config = makeConfig(spec, { output, layers: 2 });
      const { params, batch } = makeCase(config, { T: 3, withH0: true });
      batch.mask = new Float64Array(batch.B * batch.T);
      const res = run(config, params, batch);
      assert.equal(res.loss, 0);
      for (const a of [res.grads, res.dx, res.dh0, ...res.flowH]) assert.ok(a.every((v) => v === 0));
      if (res.dc0) assert.ok(res.dc0.every((v) => v === 0));
    }
  }
});

// ---------------------------------------------------------------------------
// Gradients against finite differences: every cell, 1 and 2 layers, both
// losses, both output modes, T = 1 (no mask, zero h0), T = 3 (h0/c0, no
// mask) and T = 7 (h0/c0 and a mask with a hole, padding and an empty
// sequence).
// ---------------------------------------------------------------------------

const T_CASES = [
  { T: 1, maskKind: 'none', withH0: false },
  { T: 3, maskKind: 'none', withH0: true },
  { T: 7, maskKind: 'empty', withH0: true },
];

for (const spec of CELLS) {
  for (const layers of [1, 2]) {
    for (const loss of ['mse', 'cross-entropy']) {
      for (const output of ['sequence', 'last']) {
        for (const tc of T_CASES) {
          const name = `gradients: ${spec.name}, ${layers} layer(s), ${loss}, ${output}, T=${tc.T}` +
            `${tc.maskKind !== 'none' ? ', mask' : ''}${tc.withH0 ? ', h0' : ''}`;
          test(name, () => gradientCase(spec, { layers, loss, output }, tc));
        }
      }
    }
  }
}

function gradientCase(spec, opts, tc) {
  const config = makeConfig(spec, opts);
  const { params, batch } = makeCase(config, { ...tc, seed: 11 + tc.T });
  const { B } = batch;
  const { hiddenSize: H, layers: L } = config;
  const res = run(config, params, batch);
  assert.ok(res.loss > 0 && Number.isFinite(res.loss));
  assert.ok(norm(res.grads) > 1e-3, 'the gradient is not trivially zero');
  if (spec.activation === 'relu') {
    // relu has a kink at 0: finite differences are only valid when no
    // preactivation is within reach of a 1e-5 step (each moves by ≲ 1e-5·|input|).
    const smallest = Math.min(...res.preacts.flatMap((p) => [...p].map(Math.abs)));
    assert.ok(smallest > 1e-3, `relu preactivation ${smallest} too close to the kink`);
  }
  // explicit zero states when the case has none, so they can be perturbed
  if (!batch.h0) {
    const zeros = () => new Float64Array(L * B * H);
    assert.equal(run(config, params, { ...batch, h0: zeros(), c0: zeros() }).loss, res.loss, 'null h0/c0 means zeros');
  }
  const perturbed = {
    ...batch,
    h0: batch.h0 ?? new Float64Array(L * B * H),
    c0: batch.c0 ?? new Float64Array(L * B * H),
  };
  const lossAt = () => run(config, params, perturbed).loss;
  checkByFiniteDifferences(params, res.grads, lossAt, 'grads');
  checkByFiniteDifferences(perturbed.x, res.dx, lossAt, 'dx');
  checkByFiniteDifferences(perturbed.h0, res.dh0, lossAt, 'dh0');
  if (config.cell === 'lstm') checkByFiniteDifferences(perturbed.c0, res.dc0, lossAt, 'dc0');
  else assert.equal(res.dc0, null);
}

// ---------------------------------------------------------------------------
// Gradient flow: δh_t cannot be perturbed directly, so it is rebuilt from
// pieces each computed independently: the same model restarted at step t+1
// from the state h_{t+1} (its dh0 is the gradient through the later steps),
// plus the gradient of step t's own consumer (the head, by hand, for the top
// layer; the layer above, as the dx of a model made of the upper layer(s) for
// the layer below).
// ---------------------------------------------------------------------------

/** Steps [from, to) of a batch, with the given initial states. */
function sliceBatch(config, batch, from, to, h0, c0) {
  const { B, T } = batch;
  const { inputSize: X, outputSize: Y } = config;
  const T2 = to - from;
  const pick = (arr, width) => {
    if (!arr) return null;
    const out = new Float64Array(B * T2 * width);
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T2; t++) {
        for (let k = 0; k < width; k++) out[(b * T2 + t) * width + k] = arr[(b * T + from + t) * width + k];
      }
    }
    return out;
  };
  const sequence = config.output === 'sequence';
  return {
    B, T: T2, x: pick(batch.x, X), mask: pick(batch.mask, 1), h0, c0,
    y: sequence ? pick(batch.y, Y) : batch.y,
    labels: sequence ? pick(batch.labels, 1) : batch.labels,
  };
}

/** How many outputs count (the loss normaliser, up to the factor Y for MSE). */
function countedPositions(config, batch) {
  const { B, T, mask } = batch;
  const counts = (b, t) => !mask || mask[b * T + t] !== 0;
  let n = 0;
  for (let b = 0; b < B; b++) {
    let inSequence = 0;
    for (let t = 0; t < T; t++) if (counts(b, t)) inSequence++;
    // 'last': one output per sequence with at least one counted step
    n += config.output === 'sequence' ? inSequence : Math.min(inSequence, 1);
  }
  return n;
}

/** Is the output of (b, t) a counted head position of the full batch? */
function headCountsAt(config, batch, b, t) {
  const { T, mask } = batch;
  const m = (tt) => !mask || mask[b * T + tt] !== 0;
  if (config.output === 'sequence') return m(t);
  for (let tt = T - 1; tt >= 0; tt--) if (m(tt)) return tt === t;
  return false;
}

/** dLoss/dh from the head at (b, t), by hand: Vᵀ dŷ. */
function headGradient(config, params, batch, res, b, t, N) {
  const { hiddenSize: H, outputSize: Y, layers: L } = config;
  const dh = new Float64Array(H);
  if (!headCountsAt(config, batch, b, t)) return dh;
  const lay = layout(config);
  const V = lay.tensors.find((q) => q.kind === 'V');
  const c = lay.tensors.find((q) => q.kind === 'c');
  const hid = res.hidden[L - 1].slice(((t + 1) * batch.B + b) * H, ((t + 1) * batch.B + b + 1) * H);
  const yhat = Array.from({ length: Y }, (_, k) =>
    params[c.offset + k] + hid.reduce((s, v, j) => s + params[V.offset + k * H + j] * v, 0));
  const out = config.output === 'sequence' ? b * batch.T + t : b;
  let dyhat;
  if (config.loss === 'mse') {
    // d/dŷ of Σ(ŷ - y)² / (N·Y)
    dyhat = yhat.map((v, k) => (2 * (v - batch.y[out * Y + k])) / (N * Y));
  } else {
    // d/dŷ of -log softmax(ŷ)[label] / N  =  (softmax - onehot) / N
    const e = yhat.map(Math.exp);
    const s = e.reduce((a, v) => a + v, 0);
    dyhat = e.map((v, k) => (v / s - (k === batch.labels[out] ? 1 : 0)) / N);
  }
  for (let j = 0; j < H; j++) for (let k = 0; k < Y; k++) dh[j] += params[V.offset + k * H + j] * dyhat[k];
  return dh;
}

/** The model made of layers l+1 … L-1 and the head, fed layer l's outputs. */
function upperModelDx(config, params, batch, res, l) {
  const { hiddenSize: H, layers: L } = config;
  const { B, T } = batch;
  const upper = { ...config, inputSize: H, layers: L - 1 - l };
  const full = layout(config).tensors;
  const named = {};
  for (const t of layout(upper).tensors) {
    const src = full.find((q) => q.kind === t.kind && q.layer === (t.kind === 'V' || t.kind === 'c' ? L : t.layer + l + 1));
    named[t.name] = params.slice(src.offset, src.offset + src.count);
  }
  const x = new Float64Array(B * T * H);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) x.set(res.hidden[l].slice(((t + 1) * B + b) * H, ((t + 1) * B + b + 1) * H), (b * T + t) * H);
  }
  const pick = (s) => (s ? s.slice((l + 1) * B * H) : null);
  return run(upper, paramsFrom(upper, named), { ...batch, x, h0: pick(batch.h0), c0: pick(batch.c0) }).dx;
}

function checkFlow(config, params, batch) {
  const { B, T } = batch;
  const { hiddenSize: H, layers: L } = config;
  const isLstm = config.cell === 'lstm';
  const res = run(config, params, batch);
  const N = countedPositions(config, batch);
  const dxAbove = Array.from({ length: L }, (_, l) => (l < L - 1 ? upperModelDx(config, params, batch, res, l) : null));
  for (let t = 0; t < T; t++) {
    // restart at step t+1 from the states h_{t+1}, c_{t+1}
    const state = (arr) => {
      const out = new Float64Array(L * B * H);
      for (let l = 0; l < L; l++) for (let b = 0; b < B; b++) {
        out.set(arr[l].slice(((t + 1) * B + b) * H, ((t + 1) * B + b + 1) * H), (l * B + b) * H);
      }
      return out;
    };
    const cellsAsSteps = isLstm ? res.cells.map((c, l) => {
      const withC0 = new Float64Array((T + 1) * B * H);
      withC0.set(batch.c0 ? batch.c0.slice(l * B * H, (l + 1) * B * H) : new Float64Array(B * H));
      withC0.set(c, B * H);
      return withC0;
    }) : null;
    let rest = null, ratio = 0;
    if (t < T - 1) {
      const suffix = sliceBatch(config, batch, t + 1, T, state(res.hidden), isLstm ? state(cellsAsSteps) : null);
      rest = run(config, params, suffix);
      // the suffix loss is normalised by its own count: L = (N_s / N) L_s + (terms without h_{t+1})
      ratio = countedPositions(config, suffix) / N;
    }
    for (let l = 0; l < L; l++) {
      let sumH = 0, sumC = 0;
      for (let b = 0; b < B; b++) {
        const local = l === L - 1
          ? headGradient(config, params, batch, res, b, t, N)
          : dxAbove[l].slice((b * T + t) * H, (b * T + t + 1) * H);
        const dh = local.map((v, j) => v + (rest ? ratio * rest.dh0[(l * B + b) * H + j] : 0));
        sumH += dh.reduce((s, v) => s + v * v, 0);
        if (isLstm) {
          // δc = (through later steps) + δh ⊙ o ⊙ (1 - tanh²(c))
          const g = res.gates[l], c = res.cells[l];
          const dc = dh.map((d, j) => {
            const o = g[(t * B + b) * 4 * H + 3 * H + j], ct = Math.tanh(c[(t * B + b) * H + j]);
            return d * o * (1 - ct * ct) + (rest ? ratio * rest.dc0[(l * B + b) * H + j] : 0);
          });
          sumC += dc.reduce((s, v) => s + v * v, 0);
        }
      }
      close(res.flowH[l][t], Math.sqrt(sumH), 1e-12, `flowH[${l}][${t}]`);
      if (isLstm) close(res.flowC[l][t], Math.sqrt(sumC), 1e-12, `flowC[${l}][${t}]`);
    }
  }
  if (!isLstm) assert.equal(res.flowC, null);
}

for (const spec of CELLS) {
  test(`gradient flow: ${spec.name}, rebuilt from restarts, the head and the layer above`, () => {
    for (const layers of [1, 2]) {
      for (const output of ['sequence', 'last']) {
        for (const loss of ['mse', 'cross-entropy']) {
          const config = makeConfig(spec, { layers, output, loss });
          const { params, batch } = makeCase(config, { T: 5, maskKind: 'empty', withH0: true, seed: 3 });
          checkFlow(config, params, batch);
        }
      }
    }
  });
}

test('gradient flow: loss on the last step of a 1-layer RNN: g_{T-1} = ‖Vᵀ dŷ‖, and decay with the lag', () => {
  const config = makeConfig(CELLS[0], { output: 'last', hiddenSize: 4 });
  const { params, batch } = makeCase(config, { T: 6, seed: 8 });
  const res = run(config, params, batch);
  // from the head alone: dŷ = 2 (ŷ - y) / (B·Y), δh = Vᵀ dŷ
  const V = layout(config).tensors.find((t) => t.kind === 'V');
  let sum = 0;
  for (let b = 0; b < batch.B; b++) {
    for (let j = 0; j < 4; j++) {
      let d = 0;
      for (let k = 0; k < 3; k++) d += params[V.offset + k * 4 + j] * 2 * (res.output[b * 3 + k] - batch.y[b * 3 + k]) / (batch.B * 3);
      sum += d * d;
    }
  }
  close(res.flowH[0][5], Math.sqrt(sum), 1e-13, 'g_{T-1}');
  // one step back: δh_{t} = Uᵀ (δh_{t+1} ⊙ (1 - h²)), so g_t ≤ ‖U‖₂ g_{t+1}
  const sigma = recurrentSpectralNorms(config, params)[0][0];
  for (let t = 0; t < 5; t++) assert.ok(res.flowH[0][t] <= sigma * res.flowH[0][t + 1] * (1 + 1e-12));
});

// ---------------------------------------------------------------------------
// Spectral norm
// ---------------------------------------------------------------------------

/** A Householder reflection I - 2 u uᵀ / (uᵀu): orthogonal. */
function householder(u) {
  const n = u.length, uu = u.reduce((s, v) => s + v * v, 0);
  return Float64Array.from({ length: n * n }, (_, i) =>
    (Math.floor(i / n) === i % n ? 1 : 0) - (2 * u[Math.floor(i / n)] * u[i % n]) / uu);
}

function matMul(A, Bm, n, k, m) {
  const C = new Float64Array(n * m);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) {
    for (let p = 0; p < k; p++) C[i * m + j] += A[i * k + p] * Bm[p * m + j];
  }
  return C;
}

test('spectralNorm: diagonal, scaled rotation, rank one, and Q1 diag(s) Q2', () => {
  close(spectralNorm([3, 0, 0, 0, -5, 0, 0, 0, 2], 3, 3), 5, 1e-15, 'diagonal');
  const a = 0.7;
  close(spectralNorm([2.5 * Math.cos(a), -2.5 * Math.sin(a), 2.5 * Math.sin(a), 2.5 * Math.cos(a)], 2, 2), 2.5, 1e-15, 'rotation');
  // u vᵀ has the single singular value ‖u‖‖v‖ = 5 · 13
  const u = [3, 4], v = [5, 12, 0];
  close(spectralNorm(u.flatMap((ui) => v.map((vj) => ui * vj)), 2, 3), 65, 1e-14, 'rank one');
  // Q1 diag(0.3, 1.7, -4.2, 0.01) Q2 with Householder Q1, Q2
  const Q1 = householder([1, -2, 0.5, 3]), Q2 = householder([0.2, 1, 1, -0.7]);
  const D = new Float64Array(16);
  [0.3, 1.7, -4.2, 0.01].forEach((s, i) => { D[i * 5] = s; });
  close(spectralNorm(matMul(matMul(Q1, D, 4, 4, 4), Q2, 4, 4, 4), 4, 4), 4.2, 1e-14, 'Q1 D Q2');
  // two equal top singular values, and a zero matrix
  close(spectralNorm([2, 0, 0, 2], 2, 2), 2, 1e-15, 'repeated');
  assert.equal(spectralNorm(new Float64Array(9), 3, 3), 0);
});

test('recurrentSpectralNorms: per layer and gate block of U', () => {
  const config = { cell: 'lstm', inputSize: 2, hiddenSize: 3, outputSize: 1, layers: 2 };
  const lay = layout(config);
  const params = new Float64Array(lay.total);
  const scales = [[0.5, 1, 2, 3], [4, 5, 6, 7]];
  for (const t of lay.tensors.filter((q) => q.kind === 'U')) {
    scales[t.layer].forEach((s, k) => {
      // block k = s · I with one entry flipped in sign (still orthogonal × s)
      for (let j = 0; j < 3; j++) params[t.offset + k * 9 + j * 4] = j === 1 ? -s : s;
    });
  }
  const got = recurrentSpectralNorms(config, params);
  assert.equal(got.length, 2);
  got.forEach((layer, l) => layer.forEach((v, k) => close(v, scales[l][k], 1e-15, `layer ${l} block ${k}`)));
});

// ---------------------------------------------------------------------------
// Clipping and optimisers, against numbers worked out by hand
// ---------------------------------------------------------------------------

test('clipGradients: norm first, then value; reports norms and whether it clipped', () => {
  let r = clipGradients([3, 4], { clipNorm: 1 });
  assert.deepEqual([r.normBefore, r.clipped], [5, true]);
  close(r.grads[0], 0.6, 1e-15, 'g0'); close(r.grads[1], 0.8, 1e-15, 'g1');
  close(r.normAfter, 1, 1e-15, 'normAfter');
  // norm clip to 1 gives (0.6, 0.8), then value clip 0.7: (0.6, 0.7)
  r = clipGradients([3, 4], { clipNorm: 1, clipValue: 0.7 });
  close(r.grads[1], 0.7, 1e-15, 'value'); close(r.normAfter, Math.sqrt(0.85), 1e-15, 'normAfter');
  // τ just below the norm scales to exactly τ; τ equal to the norm leaves g alone (n > τ)
  r = clipGradients([3, 4], { clipNorm: 4 });
  close(r.grads[0], 2.4, 1e-15, 'g0'); close(r.grads[1], 3.2, 1e-15, 'g1');
  assert.equal(r.clipped, true); close(r.normAfter, 4, 1e-15, 'normAfter');
  r = clipGradients([3, 4], { clipNorm: 5 });
  assert.deepEqual([...r.grads, r.clipped], [3, 4, false]);
  r = clipGradients([3, -4], { clipNorm: 10, clipValue: 3.5 });
  assert.deepEqual([...r.grads], [3, -3.5]);
  assert.equal(r.clipped, false);
  r = clipGradients([3, 4], {});
  assert.deepEqual([...r.grads, r.normAfter, r.clipped], [3, 4, 5, false]);
});

test('optimizerStep: sgd and momentum, two steps', () => {
  let r = optimizerStep('sgd', { lr: 0.1 }, [1, -2], [0.5, 1], null, 1);
  assert.deepEqual([...r.params], [1 - 0.05, -2 - 0.1]);
  // momentum 0.9: v1 = g1 = 0.5, θ1 = 1 - 0.1·0.5 = 0.95; v2 = 0.9·0.5 + 0.2 = 0.65, θ2 = 0.95 - 0.065
  r = optimizerStep('momentum', { lr: 0.1 }, [1], [0.5], null, 1);
  close(r.params[0], 0.95, 1e-15, 'θ1');
  r = optimizerStep('momentum', { lr: 0.1 }, r.params, [0.2], r.state, 2);
  close(r.state.m[0], 0.65, 1e-15, 'v2'); close(r.params[0], 0.885, 1e-15, 'θ2');
});

test('optimizerStep: adam and adamw, two steps', () => {
  // step 1, g = 0.5: m = 0.05, v = 0.00025, m̂ = 0.5, v̂ = 0.25 → θ = 1 - 0.01·0.5/(0.5 + 1e-8)
  let r = optimizerStep('adam', { lr: 0.01 }, [1], [0.5], null, 1);
  const theta1 = 1 - 0.01 * 0.5 / (0.5 + 1e-8);
  close(r.params[0], theta1, 1e-15, 'θ1');
  // step 2, g = -1: m = 0.045 - 0.1 = -0.055, v = 0.00024975 + 0.001 = 0.00124975,
  // m̂ = -0.055 / 0.19, v̂ = 0.00124975 / (1 - 0.998001)
  r = optimizerStep('adam', { lr: 0.01 }, r.params, [-1], r.state, 2);
  close(r.state.m[0], -0.055, 1e-15, 'm2'); close(r.state.v[0], 0.00124975, 1e-15, 'v2');
  const mHat = -0.055 / 0.19, vHat = 0.00124975 / 0.001999;
  close(r.params[0], theta1 - 0.01 * mHat / (Math.sqrt(vHat) + 1e-8), 1e-15, 'θ2');

  // AdamW, λ = 0.1, lr 0.01, θ0 = 2, g = 0.5: θ1 = 2 - 0.01 (0.5/(0.5 + 1e-8) + 0.1·2)
  r = optimizerStep('adamw', { lr: 0.01, weightDecay: 0.1 }, [2], [0.5], null, 1);
  close(r.params[0], 2 - 0.01 * (0.5 / (0.5 + 1e-8) + 0.2), 1e-15, 'adamw θ1');
  // plain Adam ignores weightDecay
  r = optimizerStep('adam', { lr: 0.01, weightDecay: 0.1 }, [2], [0.5], null, 1);
  close(r.params[0], 2 - 0.01 * 0.5 / (0.5 + 1e-8), 1e-15, 'adam ignores λ');
  // default lr 1e-3, default eps 1e-8
  r = optimizerStep('adam', {}, [0], [-3], null, 1);
  close(r.params[0], 1e-3 * 3 / (3 + 1e-8), 1e-15, 'defaults');
});

test('optimizerStep: rmsprop, two steps', () => {
  // s1 = 0.1·4 = 0.4, θ1 = 1 - 0.01·2/(√0.4 + 1e-7)
  let r = optimizerStep('rmsprop', { lr: 0.01 }, [1], [2], null, 1);
  const theta1 = 1 - 0.02 / (Math.sqrt(0.4) + 1e-7);
  close(r.params[0], theta1, 1e-15, 'θ1');
  // s2 = 0.9·0.4 + 0.1·1 = 0.46, θ2 = θ1 + 0.01/(√0.46 + 1e-7)
  r = optimizerStep('rmsprop', { lr: 0.01 }, r.params, [-1], r.state, 2);
  close(r.state.v[0], 0.46, 1e-15, 's2');
  close(r.params[0], theta1 + 0.01 / (Math.sqrt(0.46) + 1e-7), 1e-15, 'θ2');
});
