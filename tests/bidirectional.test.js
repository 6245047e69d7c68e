// Bidirectional layers (SPEC §11): every cell against the float64 reference
// (GRU reset-before included, which PyTorch lacks; the PyTorch cells are in
// torch-fixtures.test.js and torch-roundtrip.test.js), padding that never
// leaks, states in PyTorch's [layers·2, B, H] order, diagnostics per
// direction, weight names, saved models, and the refusals.
//
// Tolerance as the reference suite: float32 against float64, atol 3e-5 +
// rtol 3e-4; the largest differences seen are printed (about 3e-7).
import test from 'node:test';
import assert from 'node:assert/strict';
import { createModel, loadModel, encodeSafetensors, decodeSafetensors, weightsToJSON, weightsFromJSON } from '../web/rnnlab.js';
import { toTFJS } from '../web/tfjs.js';
import { FLAG } from '../web/abi.js';
import { run, layout } from './reference/reference.js';
import { CELLS, cellName, referenceBatch, libraryArgs, rng, uniform } from './helpers/cases.js';
import { assertClose, maxAbsDiff } from './helpers/engine.js';
import { expectError } from './helpers/expect-error.js';

const TOL = { atol: 3e-5, rtol: 3e-4 };
const B = 4, T = 6, X = 3, H = 5;
const LENGTHS = [6, 3, 5, 1];
const bitsEqual = (a, b) => a.length === b.length && Array.prototype.every.call(a, (v, i) => Object.is(v, b[i]));

// A bidirectional case: parameters, a batch with lengths, h0 (c0) [L·2, B, H].
function biCase(cellSpec, layers, output, seed, extra = {}) {
  const r = rng(seed);
  const loss = output === 'last' ? 'cross-entropy' : 'mse', Y = 3;
  const config = { ...cellSpec, inputSize: X, hiddenSize: H, outputSize: Y, layers, loss, output, bidirectional: true, ...extra };
  const S = 2 * layers;
  const mask = new Float32Array(B * T);
  LENGTHS.forEach((n, b) => mask.fill(1, b * T, b * T + n));
  const rows = output === 'last' ? B : B * T;
  return {
    config, B, T, mask, params: uniform(r, layout(config).total, 0.6), x: uniform(r, B * T * X),
    y: loss === 'mse' ? uniform(r, rows * Y) : Int32Array.from({ length: rows }, () => Math.floor(r() * Y)),
    h0: uniform(r, S * B * H, 0.8), c0: cellSpec.cell === 'lstm' ? uniform(r, S * B * H, 0.8) : null,
  };
}

async function engineFor(c) {
  const m = await createModel(c.config);
  m.setParameters(c.params);
  return m;
}

const worst = {};
test('engine = float64 reference: every cell and GRU variant, 1 and 2 layers, sequence and last, unequal lengths, h0', async () => {
  let seed = 500;
  for (const cellSpec of CELLS) {
    for (const layers of [1, 2]) {
      for (const output of ['sequence', 'last']) {
        const c = biCase(cellSpec, layers, output, seed++);
        const m = await engineFor(c);
        const { batch, options } = libraryArgs(c);
        const g = m.computeGradients(batch, options);
        const ref = run(c.config, c.params, referenceBatch(c));
        const what = `${cellName(cellSpec)} L${layers} ${output}`;
        const pairs = [['loss', [g.loss], [ref.loss]], ['output', g.output, ref.output], ['hT', g.state.h, ref.hT],
          ['grads', g.flatGradients, ref.grads], ['dx', g.dx, ref.dx], ['dh0', g.dState.h, ref.dh0],
          ['flow', g.flow.flatMap((v) => Array.from(v)), ref.flowH.flatMap((v) => Array.from(v))]];
        if (ref.cT) pairs.push(['cT', g.state.c, ref.cT], ['dc0', g.dState.c, ref.dc0]);
        assert.equal(g.flow.length, 2 * layers, 'one flow curve per layer and direction');
        let w = 0;
        for (const [name, a, e] of pairs) {
          assertClose(a, e, TOL, `${what} ${name}`);
          w = Math.max(w, maxAbsDiff(a, e));
        }
        const key = `${cellName(cellSpec)} L${layers}`;
        worst[key] = Math.max(worst[key] ?? 0, w);
        m.dispose();
      }
    }
  }
});

test('largest |engine - float64 reference| per cell and layer count (bidirectional)', (t) => {
  assert.ok(Object.keys(worst).length > 0);
  for (const [k, v] of Object.entries(worst)) t.diagnostic(`${k}: ${v.toExponential(1)}`);
});

test('padding never leaks: other values past each length change no counted output, loss, gradient or final state', async () => {
  for (const cellSpec of CELLS) {
    const c = biCase(cellSpec, 2, 'sequence', 77);
    const m = await engineFor(c);
    const { batch, options } = libraryArgs(c);
    const a = m.computeGradients(batch, options);
    const x = batch.x.slice();
    LENGTHS.forEach((n, b) => { for (let t = n; t < T; t++) for (let k = 0; k < X; k++) x[(b * T + t) * X + k] = 5 * Math.sin(b + t + k); });
    const b = m.computeGradients({ ...batch, x }, options);
    const what = cellName(cellSpec);
    assert.ok(Object.is(a.loss, b.loss), `${what}: loss`);
    assert.ok(bitsEqual(a.flatGradients, b.flatGradients), `${what}: gradients`);
    assert.ok(bitsEqual(a.state.h, b.state.h), `${what}: final states`);
    const counted = (o) => Array.from(o).filter((_, i) => Math.floor(i / 3) % T < LENGTHS[Math.floor(i / (3 * T))]);
    assert.ok(bitsEqual(counted(a.output), counted(b.output)), `${what}: counted outputs`);
    // and nothing flows into the padded inputs
    LENGTHS.forEach((n, q) => { for (let t = n; t < T; t++) for (let k = 0; k < X; k++) assert.equal(a.dx[(q * T + t) * X + k], 0); });
    m.dispose();
  }
});

test('dropout with bidirectional layers: gradients exact for the masks drawn (gradcheck, training)', async () => {
  for (const cellSpec of [{ cell: 'lstm' }, { cell: 'gru', gruVariant: 'reset-before' }]) {
    const c = biCase(cellSpec, 2, 'sequence', 91, { dropout: 0.3, inputDropout: 0.2, recurrentDropout: 0.25 });
    const m = await engineFor(c);
    const { batch } = libraryArgs(c);
    const r = m.gradcheck(batch, { training: true, samples: 10 });
    assert.ok(r.ok, `${cellName(cellSpec)}: ${r.maxRelError}`);
    assert.ok('W_1_reverse' in r.tensors);
    assert.deepEqual(m.dropoutMasks().layer.shape, [1, T, B, 2 * H]);
    m.dispose();
  }
});

test('predict and gateTrace take lengths (or a mask): the reverse direction starts at each length, as in training', async () => {
  for (const output of ['sequence', 'last']) {
    const c = biCase({ cell: 'lstm' }, 2, output, 31);
    const m = await engineFor(c);
    const { batch, options } = libraryArgs(c);
    const g = m.computeGradients(batch, options);
    const p = m.predict(batch.x, { shape: batch.shape, lengths: LENGTHS, state: options.state });
    assert.ok(bitsEqual(p.output, g.output), `${output}: predict with lengths = the training forward`);
    assert.ok(bitsEqual(p.state.h, g.state.h) && bitsEqual(p.state.c, g.state.c), `${output}: final states`);
    const viaMask = m.predict(batch.x, { shape: batch.shape, mask: c.mask, state: options.state });
    assert.ok(bitsEqual(viaMask.output, p.output));
    const whole = m.predict(batch.x, { shape: batch.shape, state: options.state });
    assert.ok(!bitsEqual(whole.output, p.output), 'without lengths every sequence is read to T');
    assert.equal(m.gateTrace(batch.x, { shape: batch.shape, lengths: LENGTHS }).layers.length, 4);
    m.dispose();
  }
});

test('diagnostics per direction: spectral norms, gate traces, gradient flow', async () => {
  const c = biCase({ cell: 'gru', gruVariant: 'reset-after' }, 2, 'sequence', 12);
  const m = await engineFor(c);
  assert.equal(m.spectralNorms().length, 4);
  const trace = m.gateTrace(c.x, { shape: [B, T, X] });
  assert.deepEqual(trace.layers.map((l) => [l.layer, l.direction]), [[0, 'forward'], [0, 'reverse'], [1, 'forward'], [1, 'reverse']]);
  m.trainStep({ x: c.x, shape: [B, T, X], y: c.y, lengths: LENGTHS });
  assert.equal(m.gradientFlow().h.length, 4);
  m.dispose();
});

test('weights under PyTorch names (_reverse), through safetensors and JSON; saved models keep bidirectional', async () => {
  const c = biCase({ cell: 'lstm' }, 2, 'last', 13);
  const m = await engineFor(c);
  const dict = m.exportWeights();
  assert.deepEqual(Object.keys(dict).filter((k) => k.includes('reverse')),
    ['rnn.weight_ih_l0_reverse', 'rnn.weight_hh_l0_reverse', 'rnn.bias_ih_l0_reverse', 'rnn.bias_hh_l0_reverse',
      'rnn.weight_ih_l1_reverse', 'rnn.weight_hh_l1_reverse', 'rnn.bias_ih_l1_reverse', 'rnn.bias_hh_l1_reverse']);
  assert.deepEqual(dict['rnn.weight_ih_l1'].shape, [4 * H, 2 * H]);
  assert.deepEqual(dict['head.weight'].shape, [3, 2 * H]);
  const other = await createModel({ ...c.config, seed: 9 });
  other.importWeights(decodeSafetensors(encodeSafetensors(dict)));
  assert.deepEqual(other.getParameters(), m.getParameters());
  other.importWeights(weightsFromJSON(weightsToJSON(dict)));
  assert.deepEqual(other.getParameters(), m.getParameters());
  // a one-direction dict into this model, and this dict into a one-direction model: E_SHAPE saying why
  const uni = await createModel({ ...c.config, bidirectional: false });
  await expectError(() => m.importWeights(uni.exportWeights()), 'E_SHAPE', ["'rnn.weight_ih_l0_reverse' is missing", "no '_reverse' tensors"]);
  await expectError(() => uni.importWeights(dict), 'E_SHAPE', ["unexpected tensor 'rnn.weight_ih_l0_reverse'", 'bidirectional false']);
  uni.dispose();
  const bytes = m.save();
  assert.equal(new DataView(bytes.buffer).getUint32(128, true), 5, 'version 2 with 5 configuration words');
  const back = await loadModel(bytes);
  assert.equal(back.config.bidirectional, true);
  assert.deepEqual(back.save(), bytes);
  for (const x of [m, other, back]) x.dispose();
});

test('refusals: a mask that is not a prefix, truncated BPTT, sampling, wrong state shapes; TF.js export writes Bidirectional', async () => {
  const c = biCase({ cell: 'gru' }, 1, 'sequence', 14);
  const m = await engineFor(c);
  const { batch } = libraryArgs(c);
  const holey = c.mask.slice();
  holey[1] = 0; // sequence 0: 1 0 1 1 1 1
  await expectError(() => m.computeGradients({ ...batch, mask: holey }), 'E_INVALID', ['prefix mask', 'sequence 0', 'step 1', 'step 2']);
  await expectError(() => m.trainStep({ ...batch, mask: holey }), 'E_INVALID', ['prefix mask']);
  await expectError(() => m.fit(batch, { tbptt: 2, epochs: 1 }), 'E_INVALID', ['tbptt', 'bidirectional', 'given tbptt 2']);
  await expectError(() => m.predict(batch.x, { shape: batch.shape, state: { h: new Float32Array(B * H) } }), 'E_SHAPE', ['state.h', '[2, 4, 5]']);
  // no longer refused: Keras's Bidirectional(merge_mode 'concat'), checked against tfjs in tfjs.test.js
  const tfjsLayers = toTFJS(m).modelJSON.modelTopology.config.layers;
  assert.deepEqual(tfjsLayers.map((l) => l.class_name), ['Bidirectional', 'TimeDistributed']);
  // the engine itself refuses a carried state (RNNLAB_CARRY_STATE) with E_INVALID
  const { flags } = m._loadBatch(batch, {}, 'test');
  const status = m._abi.forward(m._handle, flags | FLAG.CARRY_STATE, true);
  await expectError(() => m._check(status, 'forward'), 'E_INVALID', ['RNNLAB_CARRY_STATE', 'bidirectional', 'whole']);
  const ce = await createModel({ cell: 'lstm', inputSize: 3, hiddenSize: 4, outputSize: 3, loss: 'cross-entropy', bidirectional: true });
  await expectError(() => ce.sample({ length: 3 }), 'E_STATE', ['bidirectional']);
  // a whole-sequence fit works, and the model is intact after the refusals
  const h = await m.fit(batch, { epochs: 2 });
  assert.equal(h.steps.loss.length, 2);
  ce.dispose();
  m.dispose();
});
