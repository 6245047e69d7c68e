// Dropout (SPEC §12): dropout between layers (PyTorch), inputDropout and
// recurrentDropout (Keras, one mask per sequence and gate block). The masks
// come from the model's seed and step count, so a training forward can be
// repeated with the same masks: the gradients are checked with the masks
// fixed, by finite differences and against the float64 reference given the
// engine's own masks.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createModel } from '../web/rnnlab.js';
import { run, layout } from './reference/reference.js';
import { CELLS, cellName, makeCase, referenceBatch, libraryArgs, rng, uniform } from './helpers/cases.js';
import { assertClose } from './helpers/engine.js';
import { expectError } from './helpers/expect-error.js';
import { BUF } from '../web/abi.js';

const ALL = { dropout: 0.3, inputDropout: 0.25, recurrentDropout: 0.4 };
const bitsEqual = (a, b) => a.length === b.length && Array.prototype.every.call(a, (v, i) => Object.is(v, b[i]));
const TOL = { atol: 3e-5, rtol: 3e-4 }; // as the reference suite: float32 against float64

async function engineFor(c, extra) {
  const m = await createModel({ ...c.config, ...extra });
  m.setParameters(c.params);
  return m;
}

// The engine's masks as the reference reads them: (l, k, b) and (l, t, b) -> a row.
function referenceMasks(masks) {
  const row = (m, index) => {
    const n = m.shape[3];
    const at = ((index[0] * m.shape[1] + index[1]) * m.shape[2] + index[2]) * n;
    return Float64Array.from(m.data.subarray(at, at + n));
  };
  const out = {};
  if (masks.layer) out.layer = (l, t, b) => row(masks.layer, [l, t, b]);
  if (masks.input) out.input = (l, k, b) => row(masks.input, [l, k, b]);
  if (masks.recurrent) out.recurrent = (l, k, b) => row(masks.recurrent, [l, k, b]);
  return out;
}

test('p = 0 is no dropout: the same bits as a model without the options, and no masks', async () => {
  const c = makeCase({ cellSpec: { cell: 'lstm' }, layers: 2, mask: true, state: true, T: 6, seed: 3 });
  const { batch, options } = libraryArgs(c);
  const plain = await engineFor(c);
  const zero = await engineFor(c, { dropout: 0, inputDropout: 0, recurrentDropout: 0 });
  for (let i = 0; i < 3; i++) {
    const a = plain.trainStep(batch, options), b = zero.trainStep(batch, options);
    assert.ok(Object.is(a.loss, b.loss), `step ${i}: loss ${a.loss} vs ${b.loss}`);
  }
  assert.ok(bitsEqual(plain.getParameters(), zero.getParameters()));
  assert.deepEqual(zero.dropoutMasks(), {});
  plain.dispose();
  zero.dispose();
});

test('predict, evaluate and computeGradients without training use no dropout: the same bits as p = 0, every time', async () => {
  for (const cellSpec of CELLS) {
    const c = makeCase({ cellSpec, layers: 2, T: 6, seed: 11 });
    const { batch } = libraryArgs(c);
    const drop = await engineFor(c, ALL), none = await engineFor(c);
    const p1 = drop.predict(batch.x, { shape: batch.shape }).output, p2 = drop.predict(batch.x, { shape: batch.shape }).output;
    assert.ok(bitsEqual(p1, p2), `${cellName(cellSpec)}: predict is deterministic`);
    assert.ok(bitsEqual(p1, none.predict(batch.x, { shape: batch.shape }).output), `${cellName(cellSpec)}: predict uses no dropout`);
    assert.ok(Object.is(drop.evaluate(batch).loss, none.evaluate(batch).loss), 'evaluate uses no dropout');
    assert.ok(bitsEqual(drop.computeGradients(batch).flatGradients, none.computeGradients(batch).flatGradients));
    // with training: other numbers, the same ones twice at the same step count
    const t1 = drop.computeGradients(batch, { training: true }), t2 = drop.computeGradients(batch, { training: true });
    assert.ok(bitsEqual(t1.flatGradients, t2.flatGradients), 'the masks are fixed between steps');
    assert.notEqual(t1.loss, none.computeGradients(batch).loss);
    drop.dispose();
    none.dispose();
  }
});

test('gradients with dropout = the float64 reference given the engine masks (every cell, 2 layers, mask, h0)', async () => {
  let seed = 40;
  for (const cellSpec of CELLS) {
    for (const opts of [{ dropout: 0.3 }, { inputDropout: 0.3 }, { recurrentDropout: 0.3 }, ALL]) {
      const c = makeCase({ cellSpec, layers: 2, mask: true, state: true, T: 6, B: 4, H: 5, seed: seed++ });
      const m = await engineFor(c, opts);
      const { batch, options } = libraryArgs(c);
      const g = m.computeGradients(batch, { ...options, training: true });
      const ref = run(c.config, c.params, { ...referenceBatch(c), dropout: referenceMasks(m.dropoutMasks()) });
      const what = `${cellName(cellSpec)} ${JSON.stringify(opts)}`;
      assertClose([g.loss], [ref.loss], TOL, `${what} loss`);
      assertClose(g.output, ref.output, TOL, `${what} output`);
      for (const t of layout(c.config).tensors) {
        assertClose(g.flatGradients.subarray(t.offset, t.offset + t.count), ref.grads.subarray(t.offset, t.offset + t.count), TOL, `${what} d${t.name}`);
      }
      assertClose(g.dx, ref.dx, TOL, `${what} dx`);
      assertClose(g.dState.h, ref.dh0, TOL, `${what} dh0`);
      if (ref.dc0) assertClose(g.dState.c, ref.dc0, TOL, `${what} dc0`);
      m.dispose();
    }
  }
});

test('gradients with dropout = finite differences of the engine\'s own loss with the masks fixed (gradcheck, training)', async () => {
  for (const cellSpec of CELLS.filter((s) => s.activation !== 'relu')) { // relu: kinks, see reference-suite.js
    const c = makeCase({ cellSpec, layers: 2, T: 5, seed: 70 });
    const m = await engineFor(c, ALL);
    const { batch } = libraryArgs(c);
    const r = m.gradcheck(batch, { training: true, samples: 12 });
    assert.ok(r.ok, `${cellName(cellSpec)}: worst relative error ${r.maxRelError} > ${r.tolerance}`);
    m.dispose();
  }
});

test('Keras masks: one per sequence and gate block, the same at every step; PyTorch masks fresh at every step', async () => {
  const B = 6, T = 5, X = 4, H = 8;
  const m = await createModel({ cell: 'lstm', inputSize: X, hiddenSize: H, outputSize: 2, layers: 2, ...ALL, seed: 4 });
  const r = rng(5);
  m.trainStep({ x: uniform(r, B * T * X), shape: [B, T, X], y: uniform(r, B * T * 2) });
  const { layer, input, recurrent } = m.dropoutMasks();
  // the engine keeps one input and one recurrent mask row per (layer, gate, sequence): no time axis at all
  assert.deepEqual(input.shape, [2, 4, B, H]); // Xm = max(X, H)
  assert.deepEqual(recurrent.shape, [2, 4, B, H]);
  assert.deepEqual(layer.shape, [1, T, B, H]);
  const row = (mk, i) => Array.from(mk.data.subarray(i * mk.shape[3], (i + 1) * mk.shape[3]));
  // layer 0 reads X = 4 inputs: the rest of its rows is unused (0)
  for (let i = 0; i < 4 * B; i++) assert.deepEqual(row(input, i).slice(X), Array(H - X).fill(0));
  // gate blocks and sequences get their own masks; the between-layer mask changes with t
  const distinct = (rows) => new Set(rows.map((v) => v.join())).size;
  assert.ok(distinct(Array.from({ length: 4 }, (_, g) => row(recurrent, g * B))) > 1, 'gate blocks share a mask');
  assert.ok(distinct(Array.from({ length: B }, (_, b) => row(recurrent, b))) > 1, 'sequences share a mask');
  assert.ok(distinct(Array.from({ length: T }, (_, t) => row(layer, t * B))) > 1, 'the between-layer mask is the same at every step');
  // the engine used these time-constant masks at every step: the reference
  // test above reads the same rows for every t and matches every output step
  m.dispose();
});

test('the masks keep the mean: kept fraction and mean mask value within 5 standard deviations, and the mean activation', async () => {
  const B = 64, T = 32, X = 16, H = 48;
  for (const p of [0.1, 0.5, 0.8]) {
    const m = await createModel({ cell: 'gru', inputSize: X, hiddenSize: H, outputSize: 1, layers: 2, dropout: p, inputDropout: p, recurrentDropout: p, seed: 9 });
    const r = rng(6);
    const x = uniform(r, B * T * X);
    m.computeGradients({ x, shape: [B, T, X], y: uniform(r, B * T) }, { training: true });
    for (const [kind, mk] of Object.entries(m.dropoutMasks())) {
      // the layer-0 input rows hold only X of their Xm = H entries
      const values = kind === 'input' ? Array.from(mk.data).filter((_, i) => i % H < X || Math.floor(i / (3 * B * H)) > 0) : Array.from(mk.data);
      const n = values.length, scale = Math.fround(1 / Math.fround(1 - Math.fround(p))); // as the engine, in float32
      const kept = values.filter((v) => v !== 0).length / n;
      assert.ok(values.every((v) => v === 0 || v === scale), `${kind}: values are 0 or 1/(1-p)`);
      // kept ~ Binomial(n, 1-p)/n: sd sqrt(p(1-p)/n); mean mask value = kept/(1-p): sd sqrt(p/((1-p) n))
      assert.ok(Math.abs(kept - (1 - p)) <= 5 * Math.sqrt(p * (1 - p) / n), `p ${p} ${kind}: kept ${kept} of n ${n}`);
      const mean = values.reduce((s, v) => s + v, 0) / n;
      assert.ok(Math.abs(mean - 1) <= 5 * Math.sqrt(p / ((1 - p) * n)), `p ${p} ${kind}: mean mask value ${mean}`);
    }
    // the mean activation: mean |x| of layer 0's inputs after input dropout (gate block 0)
    // against before. A unit (b, k) keeps one mask over its T steps, so with
    // S_bk = Σ_t |x_btk| the difference Σ (m_bk - 1) S_bk has variance
    // p/(1-p) Σ S_bk²: 5 of its standard deviations, divided by the count
    const { input } = m.dropoutMasks();
    let before = 0, after = 0, sumS2 = 0;
    for (let b = 0; b < B; b++) for (let k = 0; k < X; k++) {
      let S = 0;
      for (let t = 0; t < T; t++) S += Math.abs(x[(b * T + t) * X + k]);
      before += S; after += S * input.data[b * H + k]; sumS2 += S * S;
    }
    const n = B * T * X, bound = 5 * Math.sqrt((p / (1 - p)) * sumS2) / n;
    assert.ok(Math.abs(after / n - before / n) <= bound, `p ${p}: mean |x| ${before / n}, after dropout ${after / n}, bound ${bound}`);
    // and between the layers: the mean |h| of layer 0's output as layer 1 reads it (after
    // dropout, a fresh mask per element) against before, from the engine's training forward
    const hidden = m._buf(BUF.HIDDEN), mask = m.dropoutMasks().layer.data; // h_0 … h_T of layer 0, then layer 1
    let hBefore = 0, hAfter = 0, hSq = 0;
    for (let i = 0; i < T * B * H; i++) {
      const h = Math.abs(hidden[B * H + i]); // skip h_0
      hBefore += h; hAfter += h * mask[i]; hSq += h * h;
    }
    const nh = T * B * H, hBound = 5 * Math.sqrt((p / (1 - p)) * hSq) / nh;
    assert.ok(Math.abs(hAfter / nh - hBefore / nh) <= hBound, `p ${p}: mean |h| ${hBefore / nh}, after dropout ${hAfter / nh}, bound ${hBound}`);
    m.dispose();
  }
});

test('masks follow the seed and the step count: same seed → the same losses bit for bit; another seed → others', async () => {
  const B = 5, T = 6, X = 3;
  const job = async (seed) => {
    const m = await createModel({ cell: 'gru', inputSize: X, hiddenSize: 7, outputSize: 2, layers: 2, ...ALL, seed });
    const r = rng(8);
    const data = { x: uniform(r, 4 * B * T * X), shape: [4 * B, T, X], y: uniform(r, 4 * B * T * 2) };
    const h = await m.fit(data, { epochs: 3, batchSize: B, shuffle: true });
    const masks = m.dropoutMasks();
    m.dispose();
    return { loss: h.steps.loss, masks };
  };
  const a = await job(3), b = await job(3), c = await job(4);
  assert.ok(bitsEqual(a.loss, b.loss), 'same seed, other losses');
  assert.ok(bitsEqual(a.masks.recurrent.data, b.masks.recurrent.data));
  assert.ok(!bitsEqual(a.loss, c.loss), 'seeds 3 and 4 gave the same losses');
  assert.ok(!bitsEqual(a.masks.layer.data, c.masks.layer.data));
});

// The SIMD and the fallback build draw the same masks (integer hashing) and,
// with them, compute the same training losses.
const LIB = new URL('../web/rnnlab.js', import.meta.url).href;
const HELPERS = new URL('./helpers/cases.js', import.meta.url).href;
const CHILD = `
import { init, createModel } from ${JSON.stringify(LIB)};
import { rng, uniform } from ${JSON.stringify(HELPERS)};
await init({ simd: process.argv[1] === 'simd' });
const r = rng(42);
const data = { x: uniform(r, 12 * 7 * 3), shape: [12, 7, 3], y: uniform(r, 12 * 7 * 2, 0.8) };
const model = await createModel({ cell: 'lstm', inputSize: 3, hiddenSize: 13, outputSize: 2, layers: 2,
  dropout: 0.3, inputDropout: 0.2, recurrentDropout: 0.25, seed: 7 });
const history = await model.fit(data, { epochs: 3, batchSize: 4, shuffle: true });
const masks = model.dropoutMasks();
process.stdout.write(JSON.stringify({ losses: history.steps.loss,
  masks: Object.fromEntries(Object.entries(masks).map(([k, v]) => [k, Array.from(v.data)])) }));
`;

test('SIMD and fallback builds: the same masks bit for bit, and the same training losses', async () => {
  const run1 = async (build) => JSON.parse((await promisify(execFile)(process.execPath, ['--input-type=module', '-e', CHILD, build], { maxBuffer: 1 << 24 })).stdout);
  const [simd, plain] = await Promise.all([run1('simd'), run1('plain')]);
  for (const k of ['layer', 'input', 'recurrent']) assert.ok(bitsEqual(simd.masks[k], plain.masks[k]), `${k} masks differ`);
  let worst = 0;
  simd.losses.forEach((l, i) => { worst = Math.max(worst, Math.abs(l - plain.losses[i]) / l); });
  assert.ok(worst <= 1e-4, `losses differ by ${worst} relative`); // as determinism.test.js
});

test('bad dropout options: E_INVALID saying what was expected', async () => {
  const base = { cell: 'lstm', inputSize: 2, hiddenSize: 3, outputSize: 1 };
  for (const k of ['dropout', 'inputDropout', 'recurrentDropout']) {
    for (const v of [1, -0.1, 1.5, NaN, '0.5', 0.99999999]) {
      await expectError(() => createModel({ ...base, [k]: v }), v === '0.5' ? 'E_TYPE' : 'E_INVALID', [k]);
    }
  }
  await expectError(() => createModel({ ...base, bidirectional: 1 }), 'E_TYPE', ['bidirectional']);
  const m = await createModel({ ...base, dropout: 0.5 });
  await expectError(() => m.computeGradients({ x: new Float32Array(2), shape: [1, 1, 2], y: [0] }, { training: 'yes' }), 'E_TYPE', ['training']);
  await expectError(() => m.gradcheck({ x: new Float32Array(2), shape: [1, 1, 2], y: [0] }, { training: 1 }), 'E_TYPE', ['training']);
  m.dispose();
});

test('saved models: the dropout options in format version 2 (k = 4 words), and a kept k = 1 file still loads to the same bytes', async () => {
  const { loadModel } = await import('../web/rnnlab.js');
  const m = await createModel({ cell: 'gru', inputSize: 2, hiddenSize: 3, outputSize: 1, layers: 2, ...ALL, seed: 2 });
  const bytes = m.save();
  const view = new DataView(bytes.buffer);
  assert.equal(view.getUint32(8, true), 2);
  assert.equal(view.getUint32(128, true), 4, 'embedding_vocab, dropout, input_dropout, recurrent_dropout');
  const back = await loadModel(bytes);
  for (const k of Object.keys(ALL)) assert.equal(back.config[k], ALL[k]);
  assert.deepEqual(back.save(), bytes);
  back.dispose();
  m.dispose();
  const { readFileSync } = await import('node:fs');
  const dir = new URL('./fixtures/format-v2-k1/', import.meta.url);
  const e = JSON.parse(readFileSync(new URL('expected.json', dir), 'utf8'));
  const kept = readFileSync(new URL('embedding-gru.rnnlab', dir));
  assert.equal(kept.readUInt32LE(128), 1);
  const old = await loadModel(kept);
  assert.deepEqual(old.config.embedding, e.config.embedding);
  assert.equal(old.config.dropout, 0);
  assert.deepEqual(Array.from(old.getParameters()), e.parameters);
  assert.deepEqual(Array.from(old.predict(Int32Array.from(e.ids), { shape: [2, 4] }).output), e.output);
  assert.deepEqual(Buffer.from(old.save({ metadata: old.metadata })), kept, 'saves back to the same k = 1 bytes');
  old.dispose();
});
