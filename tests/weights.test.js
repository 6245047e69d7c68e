// Tests of web/weights.js, web/safetensors.js and web/weights-json.js (SPEC.md §2, §8).
// PyTorch itself reads and writes these files in tests/torch-roundtrip.test.js.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

import * as weights from '../web/weights.js';
import { checkModelConfig } from '../web/config.js';
import { createModel } from '../web/rnnlab.js';
import { encodeSafetensors, decodeSafetensors, readSafetensors } from '../web/safetensors.js';
import { weightsToJSON, weightsFromJSON, readWeightsJSON } from '../web/weights-json.js';
import { RnnlabError } from '../web/errors.js';

// The converters take a model's layout, as the engine lays it out
// (rnnlab_param_slice_*); these wrappers make one for a config, synchronously
// once the engine is loaded.
const abi = await (async () => { const m = await createModel({ cell: 'rnn', inputSize: 1, hiddenSize: 1, outputSize: 1 }); m.dispose(); return m._abi; })();
function paramLayout(config) {
  const c = checkModelConfig(config, abi.defaults().config);
  const handle = abi.create(c, 'paramLayout');
  try {
    return weights.describeLayout(c, abi.paramLayout(handle, c.layers));
  } finally {
    abi.free(handle);
  }
}
const stateDictShapes = (config) => weights.stateDictShapes(paramLayout(config));
const toStateDict = (config, flat) => weights.toStateDict(paramLayout(config), flat);
const gradsToStateDict = (config, flat) => weights.gradsToStateDict(paramLayout(config), flat);
const fromStateDict = (config, dict) => weights.fromStateDict(paramLayout(config), dict);

const here = dirname(fileURLToPath(import.meta.url));
const fixtureDir = join(here, 'fixtures', 'torch');
// the one-direction fixtures: referenceForward below runs forward only (the
// bidirectional ones are checked in torch-fixtures.test.js and bidirectional.test.js)
const fixtures = readdirSync(fixtureDir).filter((f) => f.endsWith('.json')).sort()
  .map((f) => JSON.parse(readFileSync(join(fixtureDir, f), 'utf8'))).filter((f) => !f.config.bidirectional);

// Every model kind that exchanges weights with PyTorch, 1 and 2 layers.
const KINDS = [
  { cell: 'rnn' },
  { cell: 'rnn', activation: 'relu' },
  { cell: 'lstm' },
  { cell: 'gru', gruVariant: 'reset-after' },
];
const configs = [];
for (const k of KINDS) for (const layers of [1, 2]) {
  configs.push({ ...k, inputSize: 3, hiddenSize: 5, outputSize: 2, layers });
}

function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}
function randomFlat(config, seed) {
  const r = rng(seed);
  return Float32Array.from({ length: paramLayout(config).count }, r);
}
function expectError(fn, code, ...parts) {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof RnnlabError, `not an RnnlabError: ${e}`);
    assert.equal(e.code, code, e.message);
    for (const p of parts) assert.ok(e.message.includes(p), `message lacks ${JSON.stringify(p)}: ${e.message}`);
    return true;
  });
}
function cloneDict(d) {
  const out = {};
  for (const [k, v] of Object.entries(d)) out[k] = { shape: v.shape.slice(), data: Float32Array.from(v.data) };
  return out;
}
const f32 = Math.fround;

// ---------------------------------------------------------------- layout

test('layout sizes equal the SPEC §2 counts', () => {
  for (const cell of ['rnn', 'lstm', 'gru']) {
    for (const variant of ['reset-before', 'reset-after']) {
      for (const [X, H, Y] of [[3, 5, 2], [1, 7, 4], [16, 64, 16]]) {
        const G = { rnn: 1, gru: 3, lstm: 4 }[cell];
        const extra = cell === 'gru' && variant === 'reset-after' ? H : 0;
        const c1 = { cell, gruVariant: variant, inputSize: X, hiddenSize: H, outputSize: Y, layers: 1 };
        const l1 = paramLayout(c1);
        assert.equal(l1.count, G * H * (X + H + 1) + extra + Y * H + Y);
        assert.equal(l1.pytorchCount, G * H * (X + H + 2) + Y * H + Y);
        const l2 = paramLayout({ ...c1, layers: 2 });
        assert.equal(l2.count, G * H * (X + H + 1) + G * H * (H + H + 1) + 2 * extra + Y * H + Y);
        assert.equal(l2.pytorchCount, G * H * (X + H + 2) + G * H * (2 * H + 2) + Y * H + Y);
      }
    }
  }
});

test('layout order, offsets and shapes', () => {
  const lay = paramLayout({ cell: 'gru', gruVariant: 'reset-after', inputSize: 3, hiddenSize: 5, outputSize: 2, layers: 2 });
  assert.deepEqual(lay.tensors.map((t) => `${t.name}${t.layer}`),
    ['W0', 'U0', 'b0', 'bhn0', 'W1', 'U1', 'b1', 'bhn1', 'V2', 'c2']);
  assert.deepEqual(lay.tensors.map((t) => t.shape),
    [[15, 3], [15, 5], [15], [5], [15, 5], [15, 5], [15], [5], [2, 5], [2]]);
  let off = 0;
  for (const t of lay.tensors) {
    assert.equal(t.offset, off);
    assert.equal(t.count, t.shape.reduce((a, b) => a * b, 1));
    off += t.count;
  }
  assert.equal(off, lay.count);
  assert.equal(lay.layerSlices[1].W, lay.tensors[4]);
  assert.equal(lay.head.c, lay.tensors[9]);
  // No bhn for reset-before, LSTM or RNN.
  const lstm = paramLayout({ cell: 'lstm', inputSize: 2, hiddenSize: 3, outputSize: 1 });
  assert.deepEqual(lstm.tensors.map((t) => t.name), ['W', 'U', 'b', 'V', 'c']);
  assert.deepEqual(lstm.tensors.map((t) => t.shape), [[12, 2], [12, 3], [12], [1, 3], [1]]);
  assert.deepEqual(stateDictShapes({ cell: 'lstm', inputSize: 2, hiddenSize: 3, outputSize: 1 }), [
    { name: 'rnn.weight_ih_l0', shape: [12, 2] }, { name: 'rnn.weight_hh_l0', shape: [12, 3] },
    { name: 'rnn.bias_ih_l0', shape: [12] }, { name: 'rnn.bias_hh_l0', shape: [12] },
    { name: 'head.weight', shape: [1, 3] }, { name: 'head.bias', shape: [1] },
  ]);
});

test('invalid configs throw E_INVALID', () => {
  expectError(() => paramLayout({ cell: 'tcn', inputSize: 1, hiddenSize: 1, outputSize: 1 }), 'E_INVALID', 'tcn');
  expectError(() => paramLayout({ cell: 'rnn', inputSize: 0, hiddenSize: 1, outputSize: 1 }), 'E_INVALID', 'inputSize');
  expectError(() => paramLayout({ cell: 'rnn', inputSize: 1, hiddenSize: 1.5, outputSize: 1 }), 'E_INVALID', 'hiddenSize');
  expectError(() => paramLayout({ cell: 'gru', gruVariant: 'sideways', inputSize: 1, hiddenSize: 1, outputSize: 1 }), 'E_INVALID', 'gruVariant');
  expectError(() => paramLayout(null), 'E_TYPE');
});

// ---------------------------------------------------------------- conversion

test('toStateDict/fromStateDict round trip is exact for every cell, 1-2 layers', () => {
  configs.forEach((config, i) => {
    const flat = randomFlat(config, 17 + i);
    const dict = toStateDict(config, flat);
    assert.deepEqual(Object.keys(dict), stateDictShapes(config).map((s) => s.name));
    for (const { name, shape } of stateDictShapes(config)) {
      assert.deepEqual(dict[name].shape, shape, name);
      assert.ok(dict[name].data instanceof Float32Array);
    }
    const back = fromStateDict(config, dict);
    assert.ok(back instanceof Float32Array);
    assert.deepEqual(back, flat);
    // Plain arrays of numbers import the same way.
    const plain = {};
    for (const [k, v] of Object.entries(dict)) plain[k] = { shape: v.shape, data: Array.from(v.data) };
    assert.deepEqual(fromStateDict(config, plain), flat);
    // Gradients have the same names and shapes.
    const g = gradsToStateDict(config, flat);
    assert.deepEqual(Object.keys(g), Object.keys(dict));
  });
});

test('GRU: z block negated, biases split (hand-made values)', () => {
  const config = { cell: 'gru', gruVariant: 'reset-after', inputSize: 1, hiddenSize: 1, outputSize: 1, layers: 1 };
  // W (3,1), U (3,1), b (3), bhn (1), V (1,1), c (1)
  const flat = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  const d = toStateDict(config, flat);
  assert.deepEqual(Array.from(d['rnn.weight_ih_l0'].data), [1, -2, 3]);
  assert.deepEqual(Array.from(d['rnn.weight_hh_l0'].data), [4, -5, 6]);
  assert.deepEqual(Array.from(d['rnn.bias_ih_l0'].data), [7, -8, 9]);
  assert.deepEqual(Array.from(d['rnn.bias_hh_l0'].data), [0, 0, 10]);
  assert.deepEqual(Array.from(d['head.weight'].data), [11]);
  assert.deepEqual(Array.from(d['head.bias'].data), [12]);
  const g = gradsToStateDict(config, flat);
  assert.deepEqual(Array.from(g['rnn.bias_ih_l0'].data), [7, -8, 9]);
  assert.deepEqual(Array.from(g['rnn.bias_hh_l0'].data), [7, -8, 10]);
  assert.deepEqual(Array.from(g['rnn.weight_hh_l0'].data), [4, -5, 6]);
  // Import: the biases add up except b_hn; z negated back.
  d['rnn.bias_ih_l0'].data = Float32Array.from([1, 2, 3]);
  d['rnn.bias_hh_l0'].data = Float32Array.from([0.5, 0.25, 4]);
  assert.deepEqual(Array.from(fromStateDict(config, d)), [1, 2, 3, 4, 5, 6, 1.5, -2.25, 3, 4, 11, 12]);
});

test('LSTM and RNN: all bias blocks add up, nothing negated', () => {
  const config = { cell: 'lstm', inputSize: 1, hiddenSize: 1, outputSize: 1 };
  const flat = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
  const d = toStateDict(config, flat);
  assert.deepEqual(Array.from(d['rnn.weight_ih_l0'].data), [1, 2, 3, 4]);
  assert.deepEqual(Array.from(d['rnn.bias_ih_l0'].data), [9, 10, 11, 12]);
  assert.deepEqual(Array.from(d['rnn.bias_hh_l0'].data), [0, 0, 0, 0]);
  assert.deepEqual(Array.from(gradsToStateDict(config, flat)['rnn.bias_hh_l0'].data), [9, 10, 11, 12]);
  d['rnn.bias_hh_l0'].data = Float32Array.from([1, -1, 0.5, 2]);
  assert.deepEqual(Array.from(fromStateDict(config, d).subarray(8, 12)), [10, 9, 11.5, 14]);

  const rnn = { cell: 'rnn', inputSize: 2, hiddenSize: 1, outputSize: 1, layers: 1 };
  const dr = toStateDict(rnn, Float32Array.from([1, 2, 3, 4, 5, 6]));
  assert.deepEqual(Array.from(dr['rnn.weight_ih_l0'].data), [1, 2]);
  assert.deepEqual(dr['rnn.weight_ih_l0'].shape, [1, 2]);
  dr['rnn.bias_hh_l0'].data[0] = 0.5;
  assert.deepEqual(Array.from(fromStateDict(rnn, dr)), [1, 2, 3, 4.5, 5, 6]);
});

test('GRU reset-before cannot be exchanged with PyTorch', () => {
  const config = { cell: 'gru', inputSize: 2, hiddenSize: 3, outputSize: 1 };
  const flat = new Float32Array(paramLayout(config).count);
  expectError(() => toStateDict(config, flat), 'E_STATE', 'reset-after', 'PyTorch');
  expectError(() => gradsToStateDict(config, flat), 'E_STATE', 'reset-after');
  const dict = toStateDict({ ...config, gruVariant: 'reset-after' }, new Float32Array(paramLayout({ ...config, gruVariant: 'reset-after' }).count));
  expectError(() => fromStateDict(config, dict), 'E_STATE', 'reset-after');
});

// Forward pass of SPEC §1/§3 on rnnlab's flat layout, in double precision.
function referenceForward(config, flat, fx) {
  const lay = paramLayout(config);
  const { B, T } = fx.shapes;
  const H = lay.hiddenSize, G = lay.G, Y = lay.outputSize;
  const sig = (v) => 1 / (1 + Math.exp(-v));
  const act = config.activation === 'relu' ? (v) => Math.max(0, v) : Math.tanh;
  let seq = []; // seq[b][t] = vector
  for (let b = 0; b < B; b++) {
    seq.push([]);
    for (let t = 0; t < T; t++) seq[b].push(fx.x.slice((b * T + t) * lay.inputSize, (b * T + t + 1) * lay.inputSize));
  }
  const hT = [], cT = [];
  lay.layerSlices.forEach((s, l) => {
    const Xl = s.inputSize;
    const next = [];
    for (let b = 0; b < B; b++) {
      let h = fx.h0.slice((l * B + b) * H, (l * B + b + 1) * H);
      let c = fx.c0 ? fx.c0.slice((l * B + b) * H, (l * B + b + 1) * H) : null;
      next.push([]);
      for (let t = 0; t < T; t++) {
        const x = seq[b][t];
        const wx = [], uh = [];
        for (let r = 0; r < G * H; r++) {
          let a = 0, u = 0;
          for (let j = 0; j < Xl; j++) a += flat[s.W.offset + r * Xl + j] * x[j];
          for (let j = 0; j < H; j++) u += flat[s.U.offset + r * H + j] * h[j];
          wx.push(a + flat[s.b.offset + r]);
          uh.push(u);
        }
        const hn = new Array(H);
        for (let k = 0; k < H; k++) {
          if (lay.cell === 'rnn') hn[k] = act(wx[k] + uh[k]);
          else if (lay.cell === 'lstm') {
            const i = sig(wx[k] + uh[k]), f = sig(wx[H + k] + uh[H + k]);
            const g = Math.tanh(wx[2 * H + k] + uh[2 * H + k]), o = sig(wx[3 * H + k] + uh[3 * H + k]);
            c[k] = f * c[k] + i * g;
            hn[k] = o * Math.tanh(c[k]);
          } else {
            const r = sig(wx[k] + uh[k]), z = sig(wx[H + k] + uh[H + k]);
            const n = Math.tanh(wx[2 * H + k] + r * (uh[2 * H + k] + flat[s.bhn.offset + k]));
            hn[k] = (1 - z) * h[k] + z * n;
          }
        }
        h = hn;
        next[b].push(h);
      }
      hT.push(...h);
      if (c) cT.push(...c);
    }
    seq = next;
  });
  const out = [];
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) {
    for (let y = 0; y < Y; y++) {
      let v = flat[lay.head.c.offset + y];
      for (let j = 0; j < H; j++) v += flat[lay.head.V.offset + y * H + j] * seq[b][t][j];
      out.push(v);
    }
  }
  let loss = 0;
  if (config.loss === 'cross-entropy') {
    for (let p = 0; p < B * T; p++) {
      const z = out.slice(p * Y, (p + 1) * Y);
      const m = Math.max(...z);
      loss += m + Math.log(z.reduce((a, v) => a + Math.exp(v - m), 0)) - z[fx.target[p]];
    }
    loss /= B * T;
  } else {
    for (let i = 0; i < out.length; i++) loss += (out[i] - fx.target[i]) ** 2;
    loss /= out.length;
  }
  return { out, hT, cT, loss };
}

function assertClose(actual, expected, tol, what) {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < actual.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

test('torch fixtures: import is stable and reproduces PyTorch forward, loss and gradient names', () => {
  assert.equal(fixtures.length, 9);
  for (const fx of fixtures) {
    const { config } = fx;
    const flat = fromStateDict(config, fx.stateDict);
    assert.equal(flat.length, paramLayout(config).count, fx.name);
    // Export then import again gives the same vector, bit for bit.
    const again = fromStateDict(config, toStateDict(config, flat));
    assert.deepEqual(again, flat, fx.name);
    // The first import rounds each combined bias to float32 once.
    const lay = paramLayout(config);
    const H = config.hiddenSize;
    const bih = fx.stateDict['rnn.bias_ih_l0'].data, bhh = fx.stateDict['rnn.bias_hh_l0'].data;
    const zneg = config.cell === 'gru' ? (r) => r >= H && r < 2 * H : () => false;
    for (let r = 0; r < lay.G * H; r++) {
      const v = config.cell === 'gru' && r >= 2 * H ? bih[r] : bih[r] + bhh[r];
      assert.equal(flat[lay.layerSlices[0].b.offset + r], f32(zneg(r) ? -v : v), `${fx.name} b[${r}]`);
    }
    // The SPEC's equations on the imported weights give PyTorch's numbers.
    const ref = referenceForward(config, flat, fx);
    assertClose(ref.out, fx.output, 2e-6, `${fx.name} output`);
    assertClose(ref.hT, fx.hT, 2e-6, `${fx.name} hT`);
    if (fx.cT) assertClose(ref.cT, fx.cT, 2e-6, `${fx.name} cT`);
    assert.ok(Math.abs(ref.loss - fx.loss) < 2e-6, `${fx.name} loss ${ref.loss} vs ${fx.loss}`);

    // Gradients: PyTorch's grads, brought into the flat layout (weights and
    // bias_ih, plus the n rows of bias_hh for GRU), exported again must give
    // back all of PyTorch's grads, bias_hh included.
    const gdict = cloneDict(fx.grads);
    for (let k = 0; k < config.layers; k++) {
      const hh = gdict[`rnn.bias_hh_l${k}`].data;
      for (let r = 0; r < hh.length; r++) if (!(config.cell === 'gru' && r >= 2 * H)) hh[r] = 0;
    }
    const flatGrads = fromStateDict(config, gdict);
    const back = gradsToStateDict(config, flatGrads);
    for (const [name, t] of Object.entries(fx.grads)) {
      assert.deepEqual(back[name].shape, t.shape, `${fx.name} ${name}`);
      assertClose(back[name].data, t.data.map(f32), 0, `${fx.name} grad ${name}`);
    }
  }
});

// ---------------------------------------------------------------- validation

test('fromStateDict validation: missing, extra, shape, dtype, non-finite', () => {
  const config = { cell: 'lstm', inputSize: 3, hiddenSize: 5, outputSize: 2, layers: 2 };
  const good = toStateDict(config, randomFlat(config, 3));
  let d = cloneDict(good);
  delete d['rnn.bias_hh_l1'];
  expectError(() => fromStateDict(config, d), 'E_SHAPE', 'rnn.bias_hh_l1', 'missing', '[20]', 'none');

  d = cloneDict(good);
  d['rnn.weight_ih_l2'] = { shape: [20, 5], data: new Float32Array(100) };
  expectError(() => fromStateDict(config, d), 'E_SHAPE', 'rnn.weight_ih_l2', 'unexpected', '[20, 5]');
  // A 2-layer dict into a 1-layer model.
  expectError(() => fromStateDict({ ...config, layers: 1 }, good), 'E_SHAPE', 'rnn.weight_ih_l1');

  d = cloneDict(good);
  d['rnn.weight_hh_l0'] = { shape: [5, 20], data: d['rnn.weight_hh_l0'].data };
  expectError(() => fromStateDict(config, d), 'E_SHAPE', 'rnn.weight_hh_l0', '[20, 5]', '[5, 20]');
  d = cloneDict(good);
  d['head.bias'] = { shape: [2], data: new Float32Array(3) };
  expectError(() => fromStateDict(config, d), 'E_SHAPE', 'head.bias', '[2]', '3 values');
  d = cloneDict(good);
  d['head.bias'] = { data: new Float32Array(2) };
  expectError(() => fromStateDict(config, d), 'E_SHAPE', 'head.bias', '[2]', 'no shape');

  d = cloneDict(good);
  d['head.weight'] = { shape: [2, 5], data: new Int32Array(10) };
  expectError(() => fromStateDict(config, d), 'E_FORMAT', 'head.weight', 'Int32Array', '[2, 5]');
  d = cloneDict(good);
  d['head.weight'].dtype = 'I64';
  expectError(() => fromStateDict(config, d), 'E_FORMAT', 'head.weight', 'I64');
  d = cloneDict(good);
  d['head.bias'] = { shape: [2], data: ['1', 2] };
  expectError(() => fromStateDict(config, d), 'E_FORMAT', 'head.bias', 'string');

  for (const bad of [NaN, Infinity, -Infinity]) {
    d = cloneDict(good);
    d['rnn.weight_ih_l1'] = { shape: [20, 5], data: Array.from(d['rnn.weight_ih_l1'].data) };
    d['rnn.weight_ih_l1'].data[7] = bad;
    expectError(() => fromStateDict(config, d), 'E_NONFINITE', 'rnn.weight_ih_l1', String(bad), 'index 7');
  }
  // Finite in double, infinite in float32.
  d = cloneDict(good);
  d['rnn.bias_ih_l0'] = { shape: [20], data: new Float64Array(20).fill(1e39) };
  expectError(() => fromStateDict(config, d), 'E_NONFINITE', 'float32');

  expectError(() => fromStateDict(config, null), 'E_TYPE');
  d = cloneDict(good);
  d['head.bias'] = 5;
  expectError(() => fromStateDict(config, d), 'E_TYPE', 'head.bias');
  expectError(() => toStateDict(config, new Float32Array(3)), 'E_SHAPE', '3', String(paramLayout(config).count));
});

// ---------------------------------------------------------------- safetensors

test('safetensors round trip', () => {
  const config = { cell: 'gru', gruVariant: 'reset-after', inputSize: 3, hiddenSize: 5, outputSize: 2, layers: 2 };
  const flat = randomFlat(config, 99);
  const dict = toStateDict(config, flat);
  const bytes = encodeSafetensors(dict, { format: 'pt', source: 'rnnlab' });
  assert.ok(bytes instanceof Uint8Array);
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(n % 8, 0);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  const names = Object.keys(header).filter((k) => k !== '__metadata__');
  assert.deepEqual(names, Object.keys(dict).sort());
  // Offsets follow the sorted names.
  let pos = 0;
  for (const k of names) {
    assert.deepEqual(header[k].data_offsets, [pos, pos + 4 * dict[k].data.length]);
    assert.equal(header[k].dtype, 'F32');
    pos = header[k].data_offsets[1];
  }
  assert.equal(bytes.length, 8 + n + pos);

  const { tensors, metadata } = readSafetensors(bytes);
  assert.deepEqual(metadata, { format: 'pt', source: 'rnnlab' });
  for (const [k, v] of Object.entries(dict)) {
    assert.deepEqual(tensors[k].shape, v.shape);
    assert.equal(tensors[k].dtype, 'F32');
    assert.deepEqual(tensors[k].data, v.data);
  }
  assert.deepEqual(fromStateDict(config, decodeSafetensors(bytes.buffer.slice(0))), flat);
  // No metadata, empty file, zero-size and scalar tensors.
  const odd = { a: { shape: [0, 3], data: [] }, s: { shape: [], data: [2.5] } };
  const back = decodeSafetensors(encodeSafetensors(odd));
  assert.deepEqual(back.a.shape, [0, 3]);
  assert.deepEqual(Array.from(back.s.data), [2.5]);
  assert.deepEqual(decodeSafetensors(encodeSafetensors({})), {});
});

// Hand-built file: header object, then data bytes.
function build(header, data, lengthOverride) {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(lengthOverride ?? json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

test('safetensors reads F64', () => {
  const data = new Uint8Array(24);
  const v = new DataView(data.buffer);
  [0.1, -2, 1e300].forEach((x, i) => v.setFloat64(8 * i, x, true));
  const d = decodeSafetensors(build({ w: { dtype: 'F64', shape: [3], data_offsets: [0, 24] } }, data));
  assert.equal(d.w.dtype, 'F64');
  assert.deepEqual(Array.from(d.w.data), [0.1, -2, 1e300]);
  assert.ok(d.w.data instanceof Float64Array);
});

test('corrupt safetensors files throw E_FORMAT', () => {
  const h = (o) => ({ a: { dtype: 'F32', shape: [2], data_offsets: o } });
  const data8 = new Uint8Array(8);
  const good = encodeSafetensors({ w: { shape: [2, 3], data: [1, 2, 3, 4, 5, 6] }, b: { shape: [2], data: [7, 8] } });
  decodeSafetensors(good);
  // Truncated: inside the length field, inside the header, inside the data.
  expectError(() => decodeSafetensors(good.subarray(0, 5)), 'E_FORMAT', 'too short');
  expectError(() => decodeSafetensors(good.subarray(0, 20)), 'E_FORMAT', 'header length');
  expectError(() => decodeSafetensors(good.subarray(0, good.length - 3)), 'E_FORMAT', 'data_offsets');
  // Bad header lengths.
  expectError(() => decodeSafetensors(build(h([0, 8]), data8, 1e6)), 'E_FORMAT', 'header length 1000000');
  expectError(() => decodeSafetensors(build(h([0, 8]), data8, 2 ** 40)), 'E_FORMAT', 'header length');
  expectError(() => decodeSafetensors(build(h([0, 8]), data8, 10)), 'E_FORMAT', 'JSON');
  expectError(() => decodeSafetensors(build('{"a": {"dtype": "F32",', data8)), 'E_FORMAT', 'JSON');
  expectError(() => decodeSafetensors(build('[1, 2]', data8)), 'E_FORMAT', 'object');
  const badUtf8 = build('{"\u00e9": 1}', new Uint8Array(0));
  badUtf8[10] = 0xff; // inside the two bytes of é
  expectError(() => decodeSafetensors(badUtf8), 'E_FORMAT', 'UTF-8');
  // Offsets: overlapping, gap, past the end, not covering, reversed.
  const two = (o1, o2, n) => build({ a: { dtype: 'F32', shape: [2], data_offsets: o1 },
    b: { dtype: 'F32', shape: [2], data_offsets: o2 } }, new Uint8Array(n));
  expectError(() => decodeSafetensors(two([0, 8], [4, 12], 12)), 'E_FORMAT', 'overlap', "'a'", "'b'");
  expectError(() => decodeSafetensors(two([0, 8], [0, 8], 8)), 'E_FORMAT', 'overlap');
  expectError(() => decodeSafetensors(two([0, 8], [12, 20], 20)), 'E_FORMAT', 'unused');
  expectError(() => decodeSafetensors(two([0, 8], [8, 16], 12)), 'E_FORMAT', 'run past');
  expectError(() => decodeSafetensors(two([0, 8], [8, 16], 20)), 'E_FORMAT', 'cover 16', '20');
  expectError(() => decodeSafetensors(build(h([8, 0]), data8)), 'E_FORMAT', 'data_offsets');
  expectError(() => decodeSafetensors(build(h([0, -8]), data8)), 'E_FORMAT', 'data_offsets');
  expectError(() => decodeSafetensors(build(h([0]), data8)), 'E_FORMAT', 'data_offsets');
  // Shape and dtype.
  expectError(() => decodeSafetensors(build({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, data8)),
    'E_FORMAT', "'a'", '[3]', '12 bytes', '8');
  expectError(() => decodeSafetensors(build({ a: { dtype: 'F32', shape: [2, -1], data_offsets: [0, 8] } }, data8)), 'E_FORMAT', 'shape');
  expectError(() => decodeSafetensors(build({ a: { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 8] } }, data8)), 'E_FORMAT', 'bytes');
  expectError(() => decodeSafetensors(build({ a: { dtype: 'Q7', shape: [2], data_offsets: [0, 8] } }, data8)), 'E_FORMAT', 'unknown dtype', 'Q7');
  expectError(() => decodeSafetensors(build({ a: { dtype: 'F8_E4M3', shape: [8], data_offsets: [0, 8] } }, data8)), 'E_FORMAT', 'F8_E4M3', 'does not convert');
  expectError(() => decodeSafetensors(build({ a: { dtype: 'F16', shape: [3], data_offsets: [0, 8] } }, data8)), 'E_FORMAT', "'a'", '6 bytes');
  expectError(() => decodeSafetensors(build({ a: { shape: [2], data_offsets: [0, 8] } }, data8)), 'E_FORMAT', 'dtype');
  expectError(() => decodeSafetensors(build({ a: 3 }, new Uint8Array(0))), 'E_FORMAT', "'a'");
  expectError(() => decodeSafetensors(build({ __metadata__: { v: 1 } }, new Uint8Array(0))), 'E_FORMAT', '__metadata__');
  expectError(() => decodeSafetensors('not bytes'), 'E_TYPE');
});

test('safetensors: random corruption never reads out of bounds', () => {
  const good = encodeSafetensors({ w: { shape: [3, 4], data: new Float32Array(12).fill(1.5) }, b: { shape: [3], data: [1, 2, 3] } }, { k: 'v' });
  const r = rng(7);
  for (let trial = 0; trial < 2000; trial++) {
    const bytes = good.slice(0, trial % 3 === 0 ? Math.floor((r() + 0.5) * good.length) : good.length);
    const flips = 1 + Math.floor((r() + 0.5) * 3);
    for (let f = 0; f < flips && bytes.length; f++) {
      bytes[Math.floor((r() + 0.5) * bytes.length) % bytes.length] = Math.floor((r() + 0.5) * 256);
    }
    try {
      decodeSafetensors(bytes);
    } catch (e) {
      assert.ok(e instanceof RnnlabError && e.code === 'E_FORMAT', `trial ${trial}: ${e}`);
    }
  }
});

test('encodeSafetensors rejects bad input', () => {
  expectError(() => encodeSafetensors({ a: { shape: [2], data: [1] } }), 'E_SHAPE', "'a'");
  expectError(() => encodeSafetensors({ a: { shape: [1.5], data: [1] } }), 'E_SHAPE');
  expectError(() => encodeSafetensors({ a: { data: [1] } }), 'E_INVALID', "'a'");
  expectError(() => encodeSafetensors({ __metadata__: { shape: [1], data: [1] } }), 'E_INVALID', '__metadata__');
  expectError(() => encodeSafetensors({}, { n: 3 }), 'E_INVALID', 'metadata');
  expectError(() => encodeSafetensors(null), 'E_INVALID');
});

test('safetensors reads F16 and BF16 exactly, and integer dtypes as integer arrays', () => {
  const halves = [0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000, 0x3555, 0x7c00, 0xfc00];
  const data = new Uint8Array(2 * halves.length + 4 + 16);
  const v = new DataView(data.buffer);
  halves.forEach((h, i) => v.setUint16(2 * i, h, true));
  const bf = 2 * halves.length;
  v.setUint16(bf, 0x3f80, true); // 1.0
  v.setUint16(bf + 2, 0xc040, true); // -3.0
  v.setBigInt64(bf + 4, -5n, true);
  v.setBigInt64(bf + 12, 7n, true);
  const { tensors } = readSafetensors(build({
    h: { dtype: 'F16', shape: [8], data_offsets: [0, bf] },
    b: { dtype: 'BF16', shape: [2], data_offsets: [bf, bf + 4] },
    n: { dtype: 'I64', shape: [2], data_offsets: [bf + 4, bf + 20] },
  }, data));
  assert.ok(tensors.h.data instanceof Float32Array);
  assert.equal(tensors.h.dtype, 'F16');
  assert.deepEqual(Array.from(tensors.h.data), [1, -2, 65504, 2 ** -24, -0, f32(1365 / 4096), Infinity, -Infinity]);
  assert.ok(Object.is(tensors.h.data[4], -0));
  assert.deepEqual(Array.from(tensors.b.data), [1, -3]);
  assert.deepEqual(Array.from(tensors.n.data), [-5n, 7n]);
});

test('half-precision weights import; integer weights are a dtype error naming the tensor and both shapes', () => {
  const config = { cell: 'rnn', inputSize: 1, hiddenSize: 1, outputSize: 1, layers: 1 };
  // W, U, b_ih, b_hh, head.weight, head.bias as F16: 0.5, -1, 2, 0.25, 1.5, -0.5
  const values = [0x3800, 0xbc00, 0x4000, 0x3400, 0x3e00, 0xb800];
  const names = ['rnn.weight_ih_l0', 'rnn.weight_hh_l0', 'rnn.bias_ih_l0', 'rnn.bias_hh_l0', 'head.weight', 'head.bias'];
  const shapes = [[1, 1], [1, 1], [1], [1], [1, 1], [1]];
  const header = {};
  const data = new Uint8Array(12);
  names.forEach((n, i) => {
    header[n] = { dtype: 'F16', shape: shapes[i], data_offsets: [2 * i, 2 * i + 2] };
    new DataView(data.buffer).setUint16(2 * i, values[i], true);
  });
  const dict = decodeSafetensors(build(header, data));
  assert.deepEqual(Array.from(fromStateDict(config, dict)), [0.5, -1, 2.25, 1.5, -0.5]);

  const ints = new Uint8Array(8);
  const intHeader = { ...header, 'head.bias': { dtype: 'I64', shape: [1], data_offsets: [10, 18] } };
  const withInt = decodeSafetensors(build(intHeader, new Uint8Array([...data.subarray(0, 10), ...ints])));
  expectError(() => fromStateDict(config, withInt), 'E_FORMAT', "'head.bias'", 'I64', 'of shape [1]', 'given shape [1]');
  withInt['head.bias'] = { shape: [2], data: new Int32Array(2) };
  expectError(() => fromStateDict(config, withInt), 'E_FORMAT', "'head.bias'", 'Int32Array', 'of shape [1]', 'given shape [2]');
});

// ---------------------------------------------------------------- weights for another model

test('weights for another cell, layer count, size or module names: the message says so', () => {
  const cfg = (cell, layers = 1, H = 5, X = 3, Y = 2) => ({ cell, gruVariant: 'reset-after', inputSize: X, hiddenSize: H, outputSize: Y, layers });
  const dictFor = (c) => toStateDict(c, randomFlat(c, 5));
  // LSTM weights (4H rows) into a GRU, and the other way round.
  expectError(() => fromStateDict(cfg('gru'), dictFor(cfg('lstm'))), 'E_SHAPE',
    "'rnn.weight_ih_l0'", 'expected shape [15, 3]', 'given [20, 3]', 'for an LSTM', '4 gate blocks', 'the model is a GRU', '3 gate blocks');
  expectError(() => fromStateDict(cfg('lstm'), dictFor(cfg('gru'))), 'E_SHAPE', '[20, 3]', '[15, 3]', 'for a GRU', 'the model is an LSTM');
  expectError(() => fromStateDict(cfg('gru'), dictFor(cfg('rnn'))), 'E_SHAPE', 'for a vanilla RNN', 'the model is a GRU');
  // Layer counts, both ways.
  expectError(() => fromStateDict(cfg('lstm', 1), dictFor(cfg('lstm', 2))), 'E_SHAPE',
    "unexpected tensor 'rnn.weight_ih_l1'", 'given [20, 5]', 'they have 2 layers, the model 1');
  expectError(() => fromStateDict(cfg('gru', 3), dictFor(cfg('gru', 2))), 'E_SHAPE',
    "'rnn.weight_ih_l2' is missing", 'expected shape [15, 5]', 'given none', 'they have 2 layers, the model 3');
  // Another cell and layer count at once.
  expectError(() => fromStateDict(cfg('gru', 2), dictFor(cfg('lstm', 1))), 'E_SHAPE', 'for an LSTM', 'they have 1 layer, the model 2');
  // Sizes.
  expectError(() => fromStateDict(cfg('lstm', 1, 8), dictFor(cfg('lstm', 1, 5))), 'E_SHAPE',
    'expected shape [32, 3]', 'given [20, 3]', 'hiddenSize 5 in the weights, 8 in the model');
  expectError(() => fromStateDict(cfg('rnn', 1, 5, 4, 3), dictFor(cfg('rnn'))), 'E_SHAPE',
    'inputSize 3 in the weights, 4 in the model', 'outputSize 2 in the weights, 3 in the model');
  // A PyTorch module whose attributes are not rnn and head, and a bare nn.GRU.
  const renamed = Object.fromEntries(Object.entries(dictFor(cfg('lstm'))).map(([k, v]) => [k.replace(/^rnn\./, 'lstm.').replace(/^head\./, 'fc.'), v]));
  expectError(() => fromStateDict(cfg('lstm'), renamed), 'E_SHAPE', "'rnn.weight_ih_l0' is missing", "'lstm.weight_ih_l0'", 'attributes rnn and head');
  const bare = Object.fromEntries(Object.entries(dictFor(cfg('gru'))).filter(([k]) => k.startsWith('rnn.')).map(([k, v]) => [k.slice(4), v]));
  expectError(() => fromStateDict(cfg('gru'), bare), 'E_SHAPE', 'no module prefix', 'bare nn.GRU');
  const bareLstm = Object.fromEntries(Object.entries(dictFor(cfg('lstm'))).map(([k, v]) => [k.replace(/^rnn\./, ''), v]));
  expectError(() => fromStateDict(cfg('gru'), bareLstm), 'E_SHAPE', 'bare nn.LSTM', 'for an LSTM', 'the model is a GRU');
  // A single bad tensor in otherwise fitting weights: no whole-dict hint.
  const one = dictFor(cfg('lstm'));
  one['head.weight'] = { shape: [2, 4], data: new Float32Array(8) };
  assert.throws(() => fromStateDict(cfg('lstm'), one), (e) => e.code === 'E_SHAPE' &&
    e.message === "tensor 'head.weight': expected shape [2, 5], given [2, 4]");
});

// ---------------------------------------------------------------- JSON weights

test('JSON weights: round trip is exact for every cell, 1-2 layers', () => {
  configs.forEach((config, i) => {
    const flat = randomFlat(config, 40 + i);
    flat[0] = -0;
    flat[1] = f32(1e-30);
    flat[2] = f32(3.4028234663852886e38); // the largest float32, written 3.4028235e38
    flat[3] = -(2 ** -149); // the smallest subnormal
    const dict = toStateDict(config, flat);
    const text = weightsToJSON(dict);
    const back = weightsFromJSON(text);
    assert.deepEqual(Object.keys(back), Object.keys(dict));
    for (const [k, v] of Object.entries(dict)) {
      assert.deepEqual(back[k].shape, v.shape, k);
      assert.ok(back[k].data instanceof Float32Array);
      assert.deepEqual(back[k].data, v.data, k); // bit for bit, -0 included
    }
    assert.deepEqual(fromStateDict(config, back), flat);
    // Bytes read like text.
    assert.deepEqual(weightsFromJSON(new TextEncoder().encode(text)), back);
  });
});

test('JSON weights: header, state-dict order whatever the insertion order, shortest float32 numbers', () => {
  const dict = {
    'head.bias': { shape: [1], data: Float32Array.of(0.1) },
    'rnn.bias_hh_l1': { shape: [1], data: [1 / 3] },
    'rnn.weight_ih_l0': { shape: [1, 2], data: Float32Array.of(-2.5, 1e-7) },
    extra: { shape: [], data: [16777217] },
    'rnn.weight_ih_l1': { shape: [1, 1], data: [65504] },
    'head.weight': { shape: [1, 1], data: [f32(0.3)] },
    'rnn.bias_ih_l0': { shape: [0], data: [] },
  };
  const text = weightsToJSON(dict, { metadata: { cell: 'lstm' } });
  const doc = JSON.parse(text);
  assert.equal(doc.format, 'rnnlab-weights');
  assert.equal(doc.version, 1);
  assert.deepEqual(doc.metadata, { cell: 'lstm' });
  assert.deepEqual(Object.keys(doc), ['format', 'version', 'metadata', 'tensors']);
  assert.deepEqual(Object.keys(doc.tensors),
    ['rnn.weight_ih_l0', 'rnn.bias_ih_l0', 'rnn.weight_ih_l1', 'rnn.bias_hh_l1', 'head.weight', 'head.bias', 'extra']);
  // Each value is the shortest decimal that reads back as the same float32.
  assert.match(text, /"head.bias": \{ "shape": \[1\], "data": \[0\.1\] \}/);
  assert.match(text, /"data": \[0\.33333334\]/);
  assert.match(text, /"data": \[-2\.5, 1e-7\]/);
  assert.match(text, /"data": \[16777216\]/);
  assert.match(text, /"data": \[0\.3\]/);
  // One line per tensor, so a diff shows which tensor changed.
  assert.equal(text.split('\n').filter((l) => l.includes('"shape"')).length, 7);
  const { tensors, metadata } = readWeightsJSON(text);
  assert.deepEqual(metadata, { cell: 'lstm' });
  assert.deepEqual(Array.from(tensors['rnn.bias_hh_l1'].data), [f32(1 / 3)]);
  // Writing a file read back gives the same text.
  assert.equal(weightsToJSON(tensors, { metadata }), text);
  assert.equal(readWeightsJSON(weightsToJSON({})).metadata, null);
  // Python's json.dump of float64 values is read (rounded to float32).
  const py = '{"format": "rnnlab-weights", "version": 1, "tensors": {"w": {"shape": [2], "data": [0.1, -7]}}}';
  assert.deepEqual(Array.from(weightsFromJSON(py).w.data), [f32(0.1), -7]);
});

test('JSON weights: every malformed file is an error naming the tensor, the expected and the given', () => {
  const file = (tensors, top = {}) => JSON.stringify({ format: 'rnnlab-weights', version: 1, ...top, tensors });
  const w = (shape, data) => ({ w: { shape, data } });
  // Not JSON, not an object, not ours.
  expectError(() => weightsFromJSON('{"format": "rnnlab-weights",'), 'E_FORMAT', 'not valid JSON');
  expectError(() => weightsFromJSON(''), 'E_FORMAT', 'not valid JSON');
  expectError(() => weightsFromJSON('[1, 2]'), 'E_FORMAT', 'JSON object', 'an array');
  expectError(() => weightsFromJSON(JSON.stringify({ version: 1, tensors: {} })), 'E_FORMAT', '"format"', 'rnnlab-weights', 'none');
  expectError(() => weightsFromJSON(JSON.stringify({ format: 'safetensors', version: 1, tensors: {} })), 'E_FORMAT', '"safetensors"');
  expectError(() => weightsFromJSON(file({}, { version: 2 })), 'E_FORMAT', '"version" must be 1', 'given 2', 'newer');
  expectError(() => weightsFromJSON(file({}, { version: '1' })), 'E_FORMAT', 'given "1"');
  expectError(() => weightsFromJSON(file({}, { dtype: 'F32' })), 'E_FORMAT', "unknown top-level key 'dtype'");
  expectError(() => weightsFromJSON(file({}, { metadata: { n: 3 } })), 'E_FORMAT', 'metadata', 'strings');
  expectError(() => weightsFromJSON(file([])), 'E_FORMAT', '"tensors"');
  expectError(() => weightsFromJSON(JSON.stringify({ format: 'rnnlab-weights', version: 1 })), 'E_FORMAT', '"tensors"');
  // Wrong types inside a tensor.
  expectError(() => weightsFromJSON(file({ w: [1, 2] })), 'E_FORMAT', "tensor 'w'", '{ shape, data }', 'array');
  expectError(() => weightsFromJSON(file({ w: { shape: [1], data: [1], dtype: 'F32' } })), 'E_FORMAT', "tensor 'w'", "unknown key 'dtype'");
  expectError(() => weightsFromJSON(file(w([2.5], [1, 2]))), 'E_FORMAT', "tensor 'w'", 'shape', '[2.5]');
  expectError(() => weightsFromJSON(file({ w: { data: [1] } })), 'E_FORMAT', "tensor 'w'", 'shape', 'none');
  expectError(() => weightsFromJSON(file(w([2], '1,2'))), 'E_FORMAT', "tensor 'w'", 'array of numbers');
  expectError(() => weightsFromJSON(file(w([2], [1, '2']))), 'E_FORMAT', "tensor 'w'", 'index 1', '"2"');
  expectError(() => weightsFromJSON(file(w([2], [1, null]))), 'E_FORMAT', "tensor 'w'", 'index 1', 'null');
  expectError(() => weightsFromJSON(file(w([2, 2], [[1, 2], [3, 4]]))), 'E_SHAPE', "tensor 'w'", '[2, 2]', '4 values', 'given 2');
  expectError(() => weightsFromJSON(file(w([1, 2], [[1, 2]]))), 'E_SHAPE', "tensor 'w'");
  expectError(() => weightsFromJSON(file(w([2], [[1], [2]]))), 'E_FORMAT', "tensor 'w'", 'flat', 'flatten');
  // Shape and length.
  expectError(() => weightsFromJSON(file(w([2, 3], [1, 2, 3, 4, 5]))), 'E_SHAPE', "tensor 'w'", 'shape [2, 3]', 'needs 6 values', 'given 5');
  expectError(() => weightsFromJSON(file(w([], []))), 'E_SHAPE', "tensor 'w'", 'shape []', 'needs 1 value,', 'given 0');
  // Non-finite: Python's json.dump writes NaN and Infinity; 1e999 parses as Infinity.
  for (const token of ['NaN', 'Infinity', '-Infinity']) {
    const text = `{"format": "rnnlab-weights", "version": 1, "tensors": {"Infinity NaN": {"shape": [1], "data": [1]}, "w": {"shape": [3], "data": [0.5, 2, ${token}]}}}`;
    expectError(() => weightsFromJSON(text), 'E_NONFINITE', "tensor 'w'", 'shape [3]', token, 'index 2');
  }
  const huge = '{"format": "rnnlab-weights", "version": 1, "tensors": {"w": {"shape": [1], "data": [1e999]}}}';
  expectError(() => weightsFromJSON(huge), 'E_NONFINITE', "tensor 'w'", 'Infinity', 'index 0');
  expectError(() => weightsFromJSON(file(w([2], [1, -1e39]))), 'E_NONFINITE', "tensor 'w'", '-1e+39', 'float32 range');
  // Neither text nor bytes; bytes that are not UTF-8.
  expectError(() => weightsFromJSON({ tensors: {} }), 'E_TYPE', 'JSON text');
  expectError(() => weightsFromJSON(Uint8Array.of(0x7b, 0xff, 0x7d)), 'E_FORMAT', 'UTF-8');
});

test('weightsToJSON rejects what it cannot write', () => {
  expectError(() => weightsToJSON(null), 'E_INVALID', 'object of tensors');
  expectError(() => weightsToJSON({ w: { shape: [2], data: [1] } }), 'E_SHAPE', "'w'", 'shape [2]', 'needs 2 values', 'given 1');
  expectError(() => weightsToJSON({ w: { shape: [-1], data: [] } }), 'E_SHAPE', "'w'");
  expectError(() => weightsToJSON({ w: { data: [1] } }), 'E_INVALID', "'w'");
  expectError(() => weightsToJSON({ w: { shape: [2], data: [1, NaN] } }), 'E_NONFINITE', "'w'", 'NaN', 'index 1');
  expectError(() => weightsToJSON({ w: { shape: [1], data: Float64Array.of(1e39) } }), 'E_NONFINITE', "'w'", 'float32 range');
  expectError(() => weightsToJSON({ w: { shape: [1], data: ['1'] } }), 'E_INVALID', "'w'", 'index 0');
  expectError(() => weightsToJSON({}, { metadata: { n: 1 } }), 'E_INVALID', 'metadata');
  expectError(() => weightsToJSON({}, { indent: 2 }), 'E_INVALID', "'indent'");
});
