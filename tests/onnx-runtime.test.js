// rnnlab -> toONNX -> onnxruntime-node: the runtime's outputs and final
// states equal rnnlab's, for every cell and variant (RNN tanh and relu,
// LSTM, GRU reset-before and reset-after), 1 and 2 layers, outputs
// 'sequence' and 'last', with and without sequence_lens and initial states,
// each file run at two batch and time sizes (its dynamic axes). Also: a file
// rnnlab wrote loads back (loadONNX) to the same parameters and config.
//
// With sequence_lens the reference is rnnlab run on each sequence alone,
// cut to its length: ONNX's operators stop each sequence at its length
// (Y_h is its last valid step), and its Y past the length is 0, so the
// 'sequence' head gives only its bias there, which is not compared.
//
// Bidirectional models (every kind, 1 and 2 layers, both outputs, with and
// without sequence_lens and initial states) are checked the same way.
//
// Embedding models (every kind, 1 and 2 layers, int64 and int32 ids, with and
// without initial states) run the same way: ids [N, T] into Gather.
//
// Tolerance: both compute in float32 from the same float32 weights; they
// differ in summation order and in sigmoid/tanh (rnnlab's src/vmath.c is within
// 9e-8 absolute, onnxruntime's MLAS kernels similar). Over these sizes (H = 5,
// T <= 7) the largest difference is about 3e-7 (printed); atol 2e-5 + rtol
// 1e-4, as in tests/torch-roundtrip.test.js, leaves room for other CPUs and
// still catches any wrong gate order, sign or bias, which moves values by 1e-2.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';

import { toONNX, loadONNX } from '../web/onnx.js';
import { assertClose } from './helpers/engine.js';
import { KINDS, randomModel, randomArray, uniform, Worst } from './helpers/interchange.js';

const TOL = { atol: 2e-5, rtol: 1e-4 };
const X = 3, H = 5, Y = 2;
const SIZES = [{ N: 1, T: 7 }, { N: 4, T: 3 }];
const worst = new Worst();

// rnnlab's outputs for a batch, sequence by sequence when there are lengths.
function rnnlabReference(model, x, h0, c0, N, T, lens) {
  const L = model.config.layers;
  const pick = (s, b) => s && Float32Array.from({ length: L * H }, (_, k) => s[(Math.floor(k / H) * N + b) * H + (k % H)]);
  return Array.from({ length: N }, (_, b) => {
    const len = lens ? lens[b] : T;
    const xb = x.subarray(b * T * X, (b * T + len) * X);
    const state = h0 ? { h: pick(h0, b), ...(c0 ? { c: pick(c0, b) } : {}) } : undefined;
    return { len, ...model.predict(xb, { shape: [1, len, X], ...(state ? { state } : {}) }) };
  });
}

function compare(kind, model, out, refs, { N, T }, key) {
  const L = model.config.layers;
  const Yd = Y;
  refs.forEach((r, b) => {
    const got = model.config.output === 'last'
      ? out.output.data.subarray(b * Yd, (b + 1) * Yd)
      : out.output.data.subarray(b * T * Yd, (b * T + r.len) * Yd);
    assertClose(got, r.output, TOL, `${key} output of sequence ${b}`);
    worst.record(kind.label, got, r.output);
    for (const [name, s] of [['h_n', 'h'], ['c_n', 'c']]) {
      if (!out[name]) continue;
      const mine = Float32Array.from({ length: L * H }, (_, k) => out[name].data[(Math.floor(k / H) * N + b) * H + (k % H)]);
      assertClose(mine, r.state[s], TOL, `${key} ${name} of sequence ${b}`);
      worst.record(kind.label, mine, r.state[s]);
    }
  });
}

async function runCase(kind, layers, output, withInputs, seed) {
  const model = await randomModel(kind, { X, H, Y, layers, output, seed });
  const opts = withInputs ? { sequenceLens: true, initialState: true } : {};
  const bytes = await toONNX(model, opts);
  const session = await ort.InferenceSession.create(bytes);
  for (const { N, T } of SIZES) {
    const key = `${kind.label} L${layers} ${output}${withInputs ? ' lens+state' : ''} N${N} T${T}`;
    const x = randomArray(N * T * X, seed + N);
    const feeds = { input: new ort.Tensor('float32', x, [N, T, X]) };
    let lens = null, h0 = null, c0 = null;
    if (withInputs) {
      lens = Int32Array.from({ length: N }, (_, b) => Math.max(1, T - b));
      h0 = randomArray(layers * N * H, seed + 2, 0.8);
      feeds.sequence_lens = new ort.Tensor('int32', lens, [N]);
      feeds.initial_h = new ort.Tensor('float32', h0, [layers, N, H]);
      if (kind.cell === 'lstm') feeds.initial_c = new ort.Tensor('float32', (c0 = randomArray(layers * N * H, seed + 3, 0.8)), [layers, N, H]);
    }
    const out = await session.run(feeds);
    compare(kind, model, out, rnnlabReference(model, x, h0, c0, N, T, lens), { N, T }, key);
  }
  await session.release();
  return { model, bytes };
}

for (const kind of KINDS) {
  test(`rnnlab -> ONNX -> onnxruntime-node: ${kind.label}`, async () => {
    let seed = 10;
    for (const layers of [1, 2]) {
      for (const output of ['sequence', 'last']) {
        for (const withInputs of [false, true]) {
          const { model, bytes } = await runCase(kind, layers, output, withInputs, seed++);
          const back = await loadONNX(bytes);
          assert.deepEqual(back.getParameters(), model.getParameters(), 'loadONNX gives the parameters back bit for bit');
          for (const k of ['cell', 'layers', 'inputSize', 'hiddenSize', 'outputSize', 'output', 'activation', 'gruVariant']) {
            if (k === 'activation' && kind.cell !== 'rnn') continue;
            if (k === 'gruVariant' && kind.cell !== 'gru') continue;
            assert.equal(back.config[k], model.config[k], `config.${k} after loadONNX`);
          }
          back.dispose();
          model.dispose();
        }
      }
    }
  });
}

// Bidirectional models (SPEC §11): direction 'bidirectional', Y [T, 2, N, H]
// joined to [T, N, 2H], the 'last' head on the top layer's Y_h (h→ at each
// sequence's last valid step, h← at step 0), h_n [2L, N, H]. rnnlab runs the
// whole batch with its lengths (and initial states); past a length ONNX's Y is
// 0, so the 'sequence' output there is not compared.
async function bidirectionalCase(kind, layers, output, withInputs, seed) {
  const model = await randomModel({ ...kind, bidirectional: true }, { X, H, Y, layers, output, seed });
  const bytes = await toONNX(model, withInputs ? { sequenceLens: true, initialState: true } : {});
  const session = await ort.InferenceSession.create(bytes);
  const S = 2 * layers;
  for (const { N, T } of SIZES) {
    const key = `${kind.label} bidirectional L${layers} ${output}${withInputs ? ' lens+state' : ''} N${N} T${T}`;
    const x = randomArray(N * T * X, seed + N);
    const feeds = { input: new ort.Tensor('float32', x, [N, T, X]) };
    const opts = { shape: [N, T, X] };
    if (withInputs) {
      const lens = Int32Array.from({ length: N }, (_, b) => Math.max(1, T - b));
      opts.lengths = Array.from(lens);
      opts.state = { h: randomArray(S * N * H, seed + 2, 0.8) };
      feeds.sequence_lens = new ort.Tensor('int32', lens, [N]);
      feeds.initial_h = new ort.Tensor('float32', opts.state.h, [S, N, H]);
      if (kind.cell === 'lstm') feeds.initial_c = new ort.Tensor('float32', (opts.state.c = randomArray(S * N * H, seed + 3, 0.8)), [S, N, H]);
    }
    const out = await session.run(feeds);
    const want = model.predict(x, opts);
    const label = `${kind.label} bidirectional`;
    for (let b = 0; b < N; b++) {
      const len = opts.lengths ? opts.lengths[b] : T;
      const [from, to] = output === 'last' ? [b * Y, (b + 1) * Y] : [b * T * Y, (b * T + len) * Y];
      assertClose(out.output.data.subarray(from, to), want.output.subarray(from, to), TOL, `${key} output of sequence ${b}`);
      worst.record(label, out.output.data.subarray(from, to), want.output.subarray(from, to));
    }
    for (const [name, k] of [['h_n', 'h'], ['c_n', 'c']]) {
      if (!out[name]) continue;
      assert.deepEqual(out[name].dims, [S, N, H], `${key} ${name} dims`);
      assertClose(out[name].data, want.state[k], TOL, `${key} ${name}`);
      worst.record(label, out[name].data, want.state[k]);
    }
  }
  await session.release();
  return { model, bytes };
}

for (const kind of KINDS) {
  test(`rnnlab bidirectional -> ONNX -> onnxruntime-node, and back: ${kind.label}`, async () => {
    let seed = 80;
    for (const layers of [1, 2]) {
      for (const output of ['sequence', 'last']) {
        for (const withInputs of [false, true]) {
          const { model, bytes } = await bidirectionalCase(kind, layers, output, withInputs, seed++);
          const back = await loadONNX(bytes);
          assert.equal(back.config.bidirectional, true, 'config.bidirectional after loadONNX');
          assert.deepEqual(back.getParameters(), model.getParameters(), 'loadONNX gives both directions back bit for bit');
          back.dispose();
          model.dispose();
        }
      }
    }
  });
}

// Embedding models: ids [N, T] (int64, and int32 with options.ids) through Gather from the table.
const V = 9;
const randomIds = (n, seed) => {
  const r = uniform(seed);
  return Int32Array.from({ length: n }, () => Math.floor(r() * V));
};

async function embeddingCase(kind, layers, output, ids, seed) {
  const model = await randomModel({ ...kind, embedding: { vocabSize: V, size: X } }, { X, H, Y, layers, output, seed });
  const bytes = await toONNX(model, { ids, initialState: seed % 2 === 0 });
  const session = await ort.InferenceSession.create(bytes);
  for (const { N, T } of SIZES) {
    const x = randomIds(N * T, seed + N);
    x[0] = V - 1; // the last row of the table too
    const feeds = { input: ids === 'int32' ? new ort.Tensor('int32', x, [N, T]) : new ort.Tensor('int64', BigInt64Array.from(x, BigInt), [N, T]) };
    let state;
    if (seed % 2 === 0) {
      const h0 = randomArray(layers * N * H, seed + 2, 0.8);
      feeds.initial_h = new ort.Tensor('float32', h0, [layers, N, H]);
      state = { h: h0 };
      if (kind.cell === 'lstm') feeds.initial_c = new ort.Tensor('float32', (state.c = randomArray(layers * N * H, seed + 3, 0.8)), [layers, N, H]);
    }
    const out = await session.run(feeds);
    const want = model.predict(x, { shape: [N, T], ...(state ? { state } : {}) });
    const key = `${kind.label} embedding L${layers} ${output} ${ids} N${N} T${T}`;
    assertClose(out.output.data, want.output, TOL, `${key} output`);
    worst.record(`${kind.label} + embedding`, out.output.data, want.output);
    for (const [name, k] of [['h_n', 'h'], ['c_n', 'c']]) {
      if (!out[name]) continue;
      assertClose(out[name].data, want.state[k], TOL, `${key} ${name}`);
      worst.record(`${kind.label} + embedding`, out[name].data, want.state[k]);
    }
  }
  await session.release();
  return { model, bytes };
}

test('rnnlab with an embedding -> ONNX (Gather, int64 or int32 ids) -> onnxruntime-node, and back', async () => {
  let seed = 60;
  for (const kind of KINDS) {
    for (const [layers, output, ids] of [[1, 'sequence', 'int64'], [2, 'last', 'int32'], [2, 'sequence', 'int64']]) {
      const { model, bytes } = await embeddingCase(kind, layers, output, ids, seed++);
      const back = await loadONNX(bytes);
      assert.deepEqual(back.config.embedding, model.config.embedding, 'config.embedding after loadONNX');
      assert.deepEqual(back.getParameters(), model.getParameters(), 'loadONNX gives the parameters and table back bit for bit');
      back.dispose();
      model.dispose();
    }
  }
});

test('largest differences, rnnlab vs onnxruntime-node (float32)', (t) => {
  t.diagnostic(`max |rnnlab - onnxruntime| per kind:\n${worst.table()}`);
  assert.ok(worst.max() < 1e-5, `the largest difference is ${worst.max()}`);
});
