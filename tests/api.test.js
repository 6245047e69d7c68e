// The public JS API (web/index.d.ts) does what it documents: every function
// and option, checked against what it means rather than against numbers
// copied from an earlier run.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import * as rnnlab from '../web/rnnlab.js';
import { rng as unitRandom } from './helpers/cases.js';

const {
  createModel, loadModel, init, Vocabulary, RnnlabError,
  encodeSafetensors, decodeSafetensors, readSafetensors, weightsToJSON, weightsFromJSON, readWeightsJSON,
} = rnnlab;

// ---------------------------------------------------------------- helpers

/** mulberry32: reproducible values in [-0.5, 0.5). */
// centred seeded numbers in [-0.5, 0.5)
const rng = (seed) => { const r = unitRandom(seed); return () => r() - 0.5; };

const randomArray = (n, seed, scale = 1) => {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => 2 * scale * r());
};

/** A regression data set for `config`: x [N, T, X], y [N, T, Y] or [N, Y]. */
function regressionData(config, N, T, seed = 1) {
  const { inputSize: X, outputSize: Y } = config;
  const last = config.output === 'last';
  const x = randomArray(N * T * X, seed);
  const y = randomArray(last ? N * Y : N * T * Y, seed + 1000, 0.5);
  return { x, y, shape: [N, T, X] };
}

/** A classification data set: x [N, T, X], y class indices [N, T] or [N]. */
function classData(config, N, T, seed = 1) {
  const { inputSize: X, outputSize: Y } = config;
  const r = rng(seed + 7);
  const n = config.output === 'last' ? N : N * T;
  const y = Int32Array.from({ length: n }, () => Math.floor((r() + 0.5) * Y));
  return { x: randomArray(N * T * X, seed), y, shape: [N, T, X] };
}

const dataFor = (config, N, T, seed) =>
  (config.loss === 'cross-entropy' ? classData : regressionData)(config, N, T, seed);

/** x as nested arrays [N][T][X]. */
function nest(flat, shape) {
  if (shape.length === 1) return Array.from(flat);
  const inner = shape.slice(1).reduce((a, b) => a * b, 1);
  return Array.from({ length: shape[0] }, (_, i) => nest(flat.subarray(i * inner, (i + 1) * inner), shape.slice(1)));
}

/** Sequences [t0, t1) of a flat [N, T, X] array. */
function timeSlice(flat, N, T, X, t0, t1) {
  const out = new Float32Array(N * (t1 - t0) * X);
  for (let n = 0; n < N; n++) out.set(flat.subarray((n * T + t0) * X, (n * T + t1) * X), n * (t1 - t0) * X);
  return out;
}

function assertBitEqual(actual, expected, what) {
  assert.equal(actual.length, expected.length, `${what}: lengths differ`);
  for (let i = 0; i < actual.length; i++) {
    if (!Object.is(actual[i], expected[i])) assert.fail(`${what}: element ${i} is ${actual[i]}, expected ${expected[i]}`);
  }
}

function assertClose(actual, expected, tol, what) {
  assert.equal(actual.length, expected.length, `${what}: lengths differ`);
  for (let i = 0; i < actual.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    if (!(err <= tol * Math.max(1, Math.abs(expected[i])))) {
      assert.fail(`${what}: element ${i} is ${actual[i]}, expected ${expected[i]} (tolerance ${tol})`);
    }
  }
}

const near = (a, b, tol, what) =>
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}: ${a}, expected ${b} (tolerance ${tol})`);

/** A gradient against its central finite difference: within 1e-5 + 1% (float32 loss, step 1e-2). */
const nearFD = (analytic, fd, what) =>
  assert.ok(Math.abs(analytic - fd) <= 1e-5 + 1e-2 * Math.abs(fd), `${what}: ${analytic}, finite difference ${fd}`);

const norm = (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
const argmax = (v) => v.reduce((best, x, i) => (x > v[best] ? i : best), 0);
const sigmoidGates = { lstm: ['i', 'f', 'o'], gru: ['r', 'z'], rnn: [] };

/** The documented parameter counts of SPEC §2. */
function expectedCounts({ cell, inputSize: X, hiddenSize: H, outputSize: Y, layers: L = 1, gruVariant }) {
  const G = { rnn: 1, lstm: 4, gru: 3 }[cell];
  let rnnlabCount = Y * H + Y;
  let pytorchCount = Y * H + Y;
  for (let l = 0; l < L; l++) {
    const Xl = l === 0 ? X : H;
    rnnlabCount += G * H * (Xl + H + 1) + (cell === 'gru' && gruVariant === 'reset-after' ? H : 0);
    pytorchCount += G * H * (Xl + H + 2);
  }
  return { rnnlab: rnnlabCount, pytorch: pytorchCount };
}

/** Runs `fn(model)` on a fresh model and always disposes it. */
async function withModel(config, fn) {
  const model = await createModel(config);
  try {
    return await fn(model);
  } finally {
    if (!model.disposed) model.dispose();
  }
}

const BASE = { inputSize: 3, hiddenSize: 6, outputSize: 2, seed: 11 };

// Every kind of model the config can describe.
const KINDS = [
  { cell: 'rnn' },
  { cell: 'rnn', activation: 'relu' },
  { cell: 'lstm' },
  { cell: 'lstm', forgetBiasOne: false },
  { cell: 'gru' },
  { cell: 'gru', gruVariant: 'reset-after' },
  { cell: 'lstm', layers: 2 },
  { cell: 'gru', layers: 3, gruVariant: 'reset-after' },
  { cell: 'rnn', output: 'last' },
  { cell: 'lstm', loss: 'cross-entropy', outputSize: 4 },
  { cell: 'gru', output: 'last', loss: 'cross-entropy', outputSize: 3 },
  { cell: 'gru', init: 'pytorch' },
  { cell: 'rnn', recurrentInit: 'gaussian' },
  { cell: 'lstm', recurrentScale: 0.5 },
];

const label = (k) => Object.entries(k).map(([a, b]) => `${a}=${b}`).join(' ');

// ---------------------------------------------------------------- module

describe('module', () => {
  test('init() resolves to { simd } and later calls give the same engine', async () => {
    const first = await init();
    assert.equal(typeof first.simd, 'boolean');
    assert.deepEqual(await init(), first);
    assert.deepEqual(await init({ simd: !first.simd }), first, 'the engine is loaded once');
  });

  test('version is the package version', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    assert.equal(rnnlab.version, pkg.version);
  });

  test('every runtime export is declared in index.d.ts', () => {
    const dts = readFileSync(new URL('../web/index.d.ts', import.meta.url), 'utf8');
    const declared = new Set([...dts.matchAll(/^export\s+(?:declare\s+)?(?:function|class|const|let|var)\s+(\w+)/gm)].map((m) => m[1]));
    const missing = Object.keys(rnnlab).filter((name) => !declared.has(name));
    assert.deepEqual(missing, [], `exported by web/rnnlab.js but not declared in web/index.d.ts: ${missing.join(', ')}`);
  });

  test('RnnlabError is an Error with a code', () => {
    const e = new RnnlabError('E_SHAPE', 'x: expected [1, 2], got [3]');
    assert.ok(e instanceof Error);
    assert.equal(e.code, 'E_SHAPE');
    assert.equal(e.name, 'RnnlabError');
    assert.equal(e.message, 'x: expected [1, 2], got [3]');
  });
});

// ---------------------------------------------------------------- createModel

describe('createModel', () => {
  test('fills the documented defaults into model.config', async () => {
    await withModel({ cell: 'lstm', inputSize: 2, hiddenSize: 4, outputSize: 1 }, (m) => {
      assert.deepEqual({ ...m.config }, {
        cell: 'lstm', inputSize: 2, hiddenSize: 4, outputSize: 1, layers: 1, output: 'sequence', loss: 'mse',
        activation: 'tanh', gruVariant: 'reset-before', init: 'glorot', recurrentInit: 'orthogonal',
        recurrentScale: 1, forgetBiasOne: true, seed: 1, embedding: null,
        dropout: 0, inputDropout: 0, recurrentDropout: 0, bidirectional: false,
      });
      assert.ok(Object.isFrozen(m.config));
      assert.equal(m.disposed, false);
    });
  });

  for (const kind of KINDS) {
    test(`${label(kind)}: config, parameter counts, predict shape and a training step`, async () => {
      const config = { ...BASE, ...kind };
      await withModel(config, (m) => {
        for (const [k, v] of Object.entries(config)) assert.equal(m.config[k], v, `config.${k}`);
        const counts = m.parameterCount();
        assert.deepEqual(counts, expectedCounts(m.config));
        assert.equal(m.getParameters().length, counts.rnnlab);
        const N = 3, T = 4;
        const data = dataFor(m.config, N, T, 5);
        const p = m.predict(data.x, { shape: data.shape });
        const Y = m.config.outputSize;
        assert.deepEqual(p.shape, m.config.output === 'last' ? [N, Y] : [N, T, Y]);
        assert.equal(p.output.length, p.shape.reduce((a, b) => a * b, 1));
        assert.equal(p.state.h.length, m.config.layers * N * m.config.hiddenSize);
        assert.equal('c' in p.state, m.config.cell === 'lstm');
        const before = m.evaluate(data).loss;
        let info;
        for (let i = 0; i < 20; i++) info = m.trainStep(data, { optimizer: { type: 'adam', lr: 0.01 } });
        assert.ok(Number.isFinite(info.loss));
        assert.ok(m.evaluate(data).loss < before, 'twenty Adam steps on one batch lower its loss');
      });
    });
  }

  test('the same seed gives the same weights; another seed other weights', async () => {
    const cfg = { ...BASE, cell: 'gru', seed: 5 };
    const [a, b, c] = await Promise.all([createModel(cfg), createModel(cfg), createModel({ ...cfg, seed: 6 })]);
    assertBitEqual(a.getParameters(), b.getParameters(), 'seed 5 twice');
    assert.notDeepEqual(Array.from(a.getParameters()), Array.from(c.getParameters()));
    for (const m of [a, b, c]) m.dispose();
  });

  test("init 'glorot' (SPEC §6): W within ±sqrt(6/(X+H)), biases 0 except the LSTM forget gate", async () => {
    for (const forgetBiasOne of [true, false]) {
      await withModel({ cell: 'lstm', inputSize: 3, hiddenSize: 5, outputSize: 2, forgetBiasOne }, (m) => {
        const w = m.exportWeights();
        const H = 5;
        const bound = Math.sqrt(6 / (3 + H));
        assert.ok(w['rnn.weight_ih_l0'].data.every((v) => Math.abs(v) <= bound));
        const bias = w['rnn.bias_ih_l0'].data;
        for (let j = 0; j < 4 * H; j++) {
          const forget = j >= H && j < 2 * H;
          assert.equal(bias[j], forget && forgetBiasOne ? 1 : 0, `bias ${j} (forgetBiasOne ${forgetBiasOne})`);
        }
        assert.ok(w['head.bias'].data.every((v) => v === 0));
      });
    }
  });

  test("init 'pytorch': every parameter within ±1/sqrt(H)", async () => {
    const H = 9;
    await withModel({ cell: 'gru', gruVariant: 'reset-after', inputSize: 3, hiddenSize: H, outputSize: 2, init: 'pytorch' }, (m) => {
      const p = m.getParameters();
      assert.ok(p.every((v) => Math.abs(v) <= 1 / Math.sqrt(H) + 1e-7));
      assert.ok(p.some((v) => Math.abs(v) > 0.5 / Math.sqrt(H)), 'spread over the interval');
    });
  });

  test('recurrentInit and recurrentScale set the spectral norm of U', async () => {
    for (const recurrentScale of [1, 0.5, 1.5]) {
      await withModel({ ...BASE, cell: 'lstm', hiddenSize: 8, recurrentScale }, (m) => {
        for (const [gate, s] of Object.entries(m.spectralNorms()[0])) near(s, recurrentScale, 1e-3, `gate ${gate}`);
        // orthogonal times s: U Uᵀ = s² I for each gate block
        const U = m.exportWeights()['rnn.weight_hh_l0'].data;
        const H = 8;
        for (let i = 0; i < H; i++) {
          for (let j = 0; j < H; j++) {
            let dot = 0;
            for (let k = 0; k < H; k++) dot += U[i * H + k] * U[j * H + k];
            near(dot, i === j ? recurrentScale ** 2 : 0, 1e-4, `(U Uᵀ)[${i}][${j}]`);
          }
        }
      });
    }
    await withModel({ ...BASE, cell: 'rnn', hiddenSize: 16, recurrentInit: 'gaussian' }, (m) => {
      const U = m.exportWeights()['rnn.weight_hh_l0'].data;
      const H = 16;
      let worst = 0; // largest |(U Uᵀ - I)[i][j]|
      for (let i = 0; i < H; i++) {
        for (let j = 0; j < H; j++) {
          let dot = 0;
          for (let k = 0; k < H; k++) dot += U[i * H + k] * U[j * H + k];
          worst = Math.max(worst, Math.abs(dot - (i === j ? 1 : 0)));
        }
      }
      assert.ok(worst > 0.1, `gaussian U is not orthogonal (max |U Uᵀ - I| = ${worst})`);
    });
  });

  test("activation 'relu' gives non-negative hidden states, 'tanh' states in (-1, 1)", async () => {
    const x = randomArray(2 * 6 * 3, 3, 4);
    for (const activation of ['relu', 'tanh']) {
      await withModel({ ...BASE, cell: 'rnn', activation }, (m) => {
        const { h } = m.gateTrace(x, { shape: [2, 6, 3] }).layers[0];
        if (activation === 'relu') assert.ok(h.every((v) => v >= 0) && h.some((v) => v > 0));
        else assert.ok(h.every((v) => v > -1 && v < 1) && h.some((v) => v < 0));
      });
    }
  });

  test('gruVariant changes the computation and reset-after adds b_hn', async () => {
    const x = randomArray(2 * 5 * 3, 9);
    const outputs = [];
    for (const gruVariant of ['reset-before', 'reset-after']) {
      await withModel({ ...BASE, cell: 'gru', gruVariant }, (m) => {
        outputs.push(m.predict(x, { shape: [2, 5, 3] }).output);
        assert.equal(m.parameterCount().rnnlab, expectedCounts(m.config).rnnlab);
      });
    }
    assert.notDeepEqual(Array.from(outputs[0]), Array.from(outputs[1]));
  });
});

// ---------------------------------------------------------------- data forms

describe('data', () => {
  test('nested arrays and flat typed arrays give identical results', async () => {
    for (const kind of [{ cell: 'lstm' }, { cell: 'gru', loss: 'cross-entropy', outputSize: 3 }, { cell: 'rnn', output: 'last' }]) {
      const config = { ...BASE, ...kind };
      const N = 3, T = 4, X = config.inputSize;
      const flat = dataFor(config, N, T, 21);
      const yShape = config.loss === 'cross-entropy'
        ? (config.output === 'last' ? [N] : [N, T])
        : (config.output === 'last' ? [N, config.outputSize] : [N, T, config.outputSize]);
      const nested = { x: nest(flat.x, [N, T, X]), y: nest(flat.y, yShape) };
      const f64 = { x: Float64Array.from(flat.x), y: config.loss === 'cross-entropy' ? Array.from(flat.y) : Float64Array.from(flat.y), shape: flat.shape };
      const results = [];
      for (const data of [flat, nested, f64]) {
        await withModel(config, (m) => {
          const p = m.predict(data.x, data.shape ? { shape: data.shape } : {}).output;
          const step = m.trainStep(data, { optimizer: 'sgd' });
          results.push({ p, loss: step.loss, params: m.getParameters(), ev: m.evaluate(data).loss });
        });
      }
      for (const r of results.slice(1)) {
        assertBitEqual(r.p, results[0].p, `${label(kind)} predict`);
        assert.equal(r.loss, results[0].loss, `${label(kind)} loss`);
        assert.equal(r.ev, results[0].ev, `${label(kind)} evaluate`);
        assertBitEqual(r.params, results[0].params, `${label(kind)} parameters after a step`);
      }
    }
  });

  test('lengths and the equivalent mask give the same loss and gradients', async () => {
    for (const kind of [{ cell: 'lstm' }, { cell: 'gru', loss: 'cross-entropy', outputSize: 3 }]) {
      await withModel({ ...BASE, ...kind }, (m) => {
        const N = 4, T = 6;
        const data = dataFor(m.config, N, T, 31);
        const lengths = [6, 2, 4, 1];
        const mask = new Float32Array(N * T);
        lengths.forEach((l, n) => mask.fill(1, n * T, n * T + l));
        const a = m.computeGradients({ ...data, lengths });
        const b = m.computeGradients({ ...data, mask });
        const c = m.computeGradients({ ...data, mask: nest(mask, [N, T]) });
        assert.equal(a.loss, b.loss);
        assertBitEqual(a.flatGradients, b.flatGradients, 'gradients, lengths vs mask');
        assertBitEqual(c.flatGradients, b.flatGradients, 'gradients, nested vs flat mask');
        assert.equal(m.evaluate({ ...data, lengths }).loss, m.evaluate({ ...data, mask }).loss);
      });
    }
  });

  test('masked positions add nothing to the loss or the gradients (SPEC §3)', async () => {
    await withModel({ ...BASE, cell: 'gru' }, (m) => {
      const N = 3, T = 5;
      const data = dataFor(m.config, N, T, 41);
      const lengths = [5, 3, 2];
      const a = m.computeGradients({ ...data, lengths });
      // change inputs and targets after each sequence's end
      const x = data.x.slice();
      const y = data.y.slice();
      for (let n = 0; n < N; n++) {
        for (let t = lengths[n]; t < T; t++) {
          for (let k = 0; k < 3; k++) x[(n * T + t) * 3 + k] += 5;
          for (let k = 0; k < 2; k++) y[(n * T + t) * 2 + k] -= 7;
        }
      }
      const b = m.computeGradients({ x, y, shape: data.shape, lengths });
      assert.equal(b.loss, a.loss);
      assertBitEqual(b.flatGradients, a.flatGradients, 'gradients');
    });
  });
});

// ---------------------------------------------------------------- fit

describe('fit', () => {
  const cfg = { ...BASE, cell: 'lstm' };

  test('epochs and batchSize decide the steps; history is columnar', async () => {
    await withModel(cfg, async (m) => {
      const data = regressionData(cfg, 10, 4, 2);
      const h = await m.fit(data, { epochs: 2, batchSize: 4 });
      assert.deepEqual(h.steps.step, [1, 2, 3, 4, 5, 6]);
      assert.deepEqual(h.steps.epoch, [0, 0, 0, 1, 1, 1]);
      for (const col of ['loss', 'gradNorm', 'gradNormAfter', 'clipped', 'skipped']) assert.equal(h.steps[col].length, 6, col);
      assert.ok(h.steps.loss.every(Number.isFinite));
      assert.deepEqual(h.steps.skipped, Array(6).fill(false));
      assert.deepEqual(h.epochs.epoch, [0, 1]);
      for (const col of ['loss', 'valLoss', 'valAccuracy', 'accuracy']) assert.equal(h.epochs[col].length, 2, col);
      assert.ok(h.epochs.loss.every(Number.isFinite));
      assert.equal(h.stoppedEarly, false);
      // default batchSize 32 covers these 10 sequences in one step
      const h2 = await m.fit(data);
      assert.equal(h2.steps.step.length, 1);
    });
  });

  test('the epoch loss is the mean over the epoch of the step losses, weighted by counted positions', async () => {
    await withModel(cfg, async (m) => {
      const data = regressionData(cfg, 10, 4, 2);
      const h = await m.fit(data, { epochs: 1, batchSize: 4, shuffle: false });
      const expected = (h.steps.loss[0] * 4 + h.steps.loss[1] * 4 + h.steps.loss[2] * 2) / 10;
      near(h.epochs.loss[0], expected, 1e-6, 'epoch loss');
    });
  });

  test('fit without shuffling, one batch per epoch, equals trainStep on the whole set', async () => {
    const data = regressionData(cfg, 6, 5, 3);
    const opts = { optimizer: { type: 'momentum', lr: 0.05, momentum: 0.8 }, clipNorm: 0.5 };
    const [a, b] = await Promise.all([createModel(cfg), createModel(cfg)]);
    const h = await a.fit(data, { ...opts, epochs: 3, batchSize: 6, shuffle: false });
    const losses = [];
    for (let i = 0; i < 3; i++) losses.push(b.trainStep(data, opts).loss);
    assert.deepEqual(h.steps.loss, losses);
    assertBitEqual(a.getParameters(), b.getParameters(), 'parameters');
    a.dispose();
    b.dispose();
  });

  test('shuffle is seeded: the same model and data shuffle the same way; shuffle false differs', async () => {
    const data = regressionData(cfg, 12, 3, 4);
    const run = async (shuffle) => withModel(cfg, async (m) => {
      await m.fit(data, { epochs: 2, batchSize: 3, shuffle });
      return m.getParameters();
    });
    const [s1, s2, plain] = [await run(true), await run(true), await run(false)];
    assertBitEqual(s1, s2, 'two shuffled runs');
    assert.notDeepEqual(Array.from(s1), Array.from(plain));
  });

  test("optimizer forms: 'sgd' ≡ { type: 'sgd' } ≡ its default lr 0.01; the default is Adam lr 1e-3", async () => {
    const data = regressionData(cfg, 4, 3, 5);
    const run = async (optimizer) => withModel(cfg, async (m) => {
      await m.fit(data, { epochs: 2, ...(optimizer === undefined ? {} : { optimizer }) });
      return m.getParameters();
    });
    const sgd = await run('sgd');
    assertBitEqual(await run({ type: 'sgd' }), sgd, "{ type: 'sgd' }");
    assertBitEqual(await run({ type: 'sgd', lr: 0.01 }), sgd, "{ type: 'sgd', lr: 0.01 }");
    const adam = await run(undefined);
    assertBitEqual(await run('adam'), adam, "'adam'");
    assertBitEqual(await run({ type: 'adam', lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 }), adam, 'adam written out');
    assert.notDeepEqual(Array.from(adam), Array.from(sgd));
  });

  test('every optimizer type trains', async () => {
    const data = regressionData(cfg, 8, 4, 6);
    for (const type of ['sgd', 'momentum', 'adam', 'adamw', 'rmsprop']) {
      await withModel(cfg, async (m) => {
        const before = m.evaluate(data).loss;
        const lr = type === 'sgd' || type === 'momentum' ? 0.1 : 0.01;
        await m.fit(data, { epochs: 20, optimizer: { type, lr } });
        assert.ok(m.evaluate(data).loss < 0.9 * before, `${type}: ${m.evaluate(data).loss} vs ${before}`);
      });
    }
  });

  test('one SGD step moves the parameters by -lr times computeGradients', async () => {
    await withModel({ ...BASE, cell: 'gru', gruVariant: 'reset-after' }, (m) => {
      const data = regressionData(m.config, 3, 4, 7);
      const before = m.getParameters();
      const g = m.computeGradients(data);
      assertBitEqual(m.getParameters(), before, 'computeGradients leaves the weights');
      m.trainStep(data, { optimizer: { type: 'sgd', lr: 0.5 } });
      const after = m.getParameters();
      assertClose(after, before.map((p, i) => p - 0.5 * g.flatGradients[i]), 1e-6, 'θ - η g');
    });
  });

  test('clipNorm rescales the global gradient norm to the threshold (SPEC §5)', async () => {
    await withModel(cfg, async (m) => {
      const data = regressionData(cfg, 4, 6, 8);
      const g = m.computeGradients(data);
      const tau = g.gradNorm / 4;
      const before = m.getParameters();
      const info = m.trainStep(data, { optimizer: { type: 'sgd', lr: 1 }, clipNorm: tau });
      near(info.gradNorm, g.gradNorm, 1e-6, 'gradNorm before clipping');
      near(info.gradNormAfter, tau, 1e-5, 'gradNorm after clipping');
      assert.equal(info.clipped, true);
      const delta = m.getParameters().map((p, i) => p - before[i]);
      near(norm(delta), tau, 1e-4, '|Δθ| = lr · τ');
      assertClose(delta, g.flatGradients.map((v) => -v * tau / g.gradNorm), 1e-5, 'Δθ = -τ g / |g|');
      // below the threshold nothing changes
      const loose = m.trainStep(data, { optimizer: { type: 'sgd', lr: 1e-6 }, clipNorm: 1e6 });
      assert.equal(loose.clipped, false);
      assert.equal(loose.gradNormAfter, loose.gradNorm);
      // fit records it per step
      const h = await m.fit(data, { epochs: 2, optimizer: 'sgd', clipNorm: 1e-3 });
      assert.deepEqual(h.steps.clipped, [true, true]);
      h.steps.gradNormAfter.forEach((v) => near(v, 1e-3, 1e-4, 'fit gradNormAfter'));
    });
  });

  test('clipValue clamps every gradient element to [-v, v]', async () => {
    await withModel(cfg, (m) => {
      const data = regressionData(cfg, 4, 6, 9);
      const g = m.computeGradients(data).flatGradients;
      const v = 0.3 * Math.max(...g.map(Math.abs));
      const before = m.getParameters();
      m.trainStep(data, { optimizer: { type: 'sgd', lr: 1 }, clipValue: v });
      const delta = m.getParameters().map((p, i) => p - before[i]);
      assertClose(delta, g.map((x) => -Math.min(v, Math.max(-v, x))), 1e-5, 'Δθ = -clamp(g, -v, v)');
    });
  });

  test('validationData: valLoss and valAccuracy per epoch match evaluate', async () => {
    const ce = { ...BASE, cell: 'gru', loss: 'cross-entropy', outputSize: 3 };
    await withModel(ce, async (m) => {
      const train = classData(ce, 8, 5, 10);
      const val = classData(ce, 5, 5, 11);
      const h = await m.fit(train, { epochs: 3, batchSize: 8, validationData: val });
      assert.equal(h.epochs.valLoss.length, 3);
      assert.ok(h.epochs.valLoss.every(Number.isFinite));
      assert.ok(h.epochs.accuracy.every((a) => a >= 0 && a <= 1));
      const ev = m.evaluate(val);
      near(h.epochs.valLoss[2], ev.loss, 1e-6, 'valLoss of the last epoch');
      assert.equal(h.epochs.valAccuracy[2], ev.accuracy);
    });
    await withModel(cfg, async (m) => {
      const h = await m.fit(regressionData(cfg, 4, 3, 1), { epochs: 2, validationData: regressionData(cfg, 3, 3, 2) });
      assert.ok(h.epochs.valLoss.every(Number.isFinite));
      assert.ok(h.epochs.valAccuracy.every(Number.isNaN), 'no accuracy for MSE');
    });
  });

  test('earlyStopping stops after `patience` epochs without improvement', async () => {
    const data = regressionData(cfg, 4, 3, 12);
    await withModel(cfg, async (m) => {
      // nothing can improve by 1e9: epoch 0 sets the best, then patience + 1 epochs wait
      const h = await m.fit(data, { epochs: 50, earlyStopping: { patience: 2, minDelta: 1e9 } });
      assert.equal(h.epochs.epoch.length, 4);
      assert.equal(h.stoppedEarly, true);
    });
    await withModel(cfg, async (m) => {
      const h = await m.fit(data, {
        epochs: 5, validationData: regressionData(cfg, 3, 3, 13), earlyStopping: { patience: 0, minDelta: 1e9, monitor: 'valLoss' },
      });
      assert.equal(h.epochs.epoch.length, 2);
      assert.equal(h.stoppedEarly, true);
    });
    await withModel(cfg, async (m) => {
      const h = await m.fit(data, { epochs: 3, optimizer: { type: 'adam', lr: 1e-3 }, earlyStopping: { patience: 5 } });
      assert.equal(h.epochs.epoch.length, 3, 'a loss that keeps falling does not stop');
      assert.equal(h.stoppedEarly, false);
    });
  });

  test('tbptt trains k steps at a time with the state carried over (SPEC §4)', async () => {
    for (const cell of ['rnn', 'lstm', 'gru']) {
      const c = { ...BASE, cell };
      const N = 3, T = 10, k = 4, X = c.inputSize, Y = c.outputSize;
      const data = regressionData(c, N, T, 14);
      const opts = { optimizer: { type: 'sgd', lr: 0.1 } };
      const [a, b] = await Promise.all([createModel(c), createModel(c)]);
      const flows = [];
      const h = await a.fit(data, { ...opts, epochs: 1, batchSize: N, shuffle: false, tbptt: k, onStep: (s) => { flows.push(s.flow[0].length); } });
      assert.equal(h.steps.step.length, 3, 'windows [0,4), [4,8), [8,10)');
      assert.deepEqual(flows, [4, 4, 2], 'gradients flow back k steps at most');
      // by hand: one trainStep per window, the final state of one the initial state of the next
      let state;
      const losses = [];
      for (let t0 = 0; t0 < T; t0 += k) {
        const t1 = Math.min(T, t0 + k);
        const win = { x: timeSlice(data.x, N, T, X, t0, t1), y: timeSlice(data.y, N, T, Y, t0, t1), shape: [N, t1 - t0, X] };
        const info = b.trainStep(win, { ...opts, ...(state ? { state } : {}) });
        losses.push(info.loss);
        state = info.state;
      }
      assert.deepEqual(h.steps.loss, losses, `${cell}: window losses`);
      assertBitEqual(a.getParameters(), b.getParameters(), `${cell}: parameters`);
      a.dispose();
      b.dispose();
    }
    await withModel(cfg, async (m) => {
      const data = regressionData(cfg, 2, 6, 15);
      const whole = await withModel(cfg, async (n) => (await n.fit(data, { epochs: 2 }), n.getParameters()));
      await m.fit(data, { epochs: 2, tbptt: 6 });
      assertBitEqual(m.getParameters(), whole, 'tbptt = T is plain BPTT');
    });
  });

  test('onStep sees every step; onStep and onEpoch returning false stop training', async () => {
    await withModel(cfg, async (m) => {
      const data = regressionData(cfg, 8, 3, 16);
      const seen = [];
      const h = await m.fit(data, {
        epochs: 2, batchSize: 2,
        onStep: (info) => {
          seen.push(info);
          assert.throws(() => m.predict(data.x, { shape: data.shape }), { code: 'E_BUSY' });
        },
      });
      assert.equal(seen.length, 8);
      seen.forEach((s, i) => {
        assert.equal(s.step, i + 1);
        assert.equal(s.epoch, i < 4 ? 0 : 1);
        assert.equal(s.loss, h.steps.loss[i]);
        assert.equal(s.gradNorm, h.steps.gradNorm[i]);
        assert.equal(s.clipped, false);
        assert.equal(s.skipped, false);
        assert.equal(s.flow.length, 1);
        assert.equal(s.flow[0].length, 3);
        assert.equal(s.flowC.length, 1, 'LSTM: the cell-state flow');
      });
      const stoppedAt3 = await m.fit(data, { epochs: 5, batchSize: 2, onStep: (s) => s.step !== 3 });
      assert.equal(stoppedAt3.steps.step.length, 3);
      const asyncStop = await m.fit(data, { epochs: 5, batchSize: 2, onStep: async (s) => (s.step === 2 ? false : undefined) });
      assert.equal(asyncStop.steps.step.length, 2, 'an async onStep is awaited');
      const epochs = [];
      const byEpoch = await m.fit(data, { epochs: 5, batchSize: 2, onEpoch: (e) => { epochs.push(e); return e.epoch < 1; } });
      assert.equal(byEpoch.epochs.epoch.length, 2);
      assert.equal(byEpoch.steps.step.length, 8);
      assert.deepEqual(epochs.map((e) => e.epoch), [0, 1]);
      assert.equal(epochs[1].loss, byEpoch.epochs.loss[1]);
    });
  });

  test('an AbortSignal rejects fit with E_ABORTED and the model stays usable', async () => {
    await withModel(cfg, async (m) => {
      const data = regressionData(cfg, 8, 3, 17);
      const controller = new AbortController();
      const run = m.fit(data, {
        epochs: 100, batchSize: 2,
        onStep: (s) => { if (s.step === 3) controller.abort(); },
        signal: controller.signal,
      });
      const err = await run.then(() => assert.fail('fit resolved'), (e) => e);
      assert.ok(err instanceof RnnlabError);
      assert.equal(err.code, 'E_ABORTED');
      assert.equal(err.history.steps.step.length, 3, 'the error carries the history so far');
      // usable: predicts, trains, fits again
      const p1 = m.predict(data.x, { shape: data.shape }).output;
      assertBitEqual(m.predict(data.x, { shape: data.shape }).output, p1, 'predict');
      assert.ok(Number.isFinite(m.trainStep(data).loss));
      const h = await m.fit(data, { epochs: 1 });
      assert.equal(h.epochs.epoch.length, 1);
      // a signal aborted before fit starts: no step is taken
      const before = m.getParameters();
      await assert.rejects(m.fit(data, { signal: AbortSignal.abort() }), { code: 'E_ABORTED' });
      assertBitEqual(m.getParameters(), before, 'weights after an already aborted signal');
    });
  });

  test('a setTimeout callback runs while a long fit is training', async () => {
    await withModel({ ...BASE, cell: 'lstm', hiddenSize: 16 }, async (m) => {
      const N = 2000; // one epoch of single-sequence steps: far longer than fit's 8 ms between yields
      const data = regressionData(m.config, N, 8, 18);
      let steps = 0;
      let stepsWhenTimerRan = null;
      setTimeout(() => { stepsWhenTimerRan = steps; }, 0);
      const h = await m.fit(data, { epochs: 1, batchSize: 1, onStep: () => { steps++; } });
      assert.equal(h.steps.step.length, N);
      assert.notEqual(stepsWhenTimerRan, null, 'the timer ran before fit resolved');
      assert.ok(stepsWhenTimerRan < N, `the timer ran during the epoch (after ${stepsWhenTimerRan} of ${N} steps)`);
    });
  });

  test('an onStep that throws rejects fit with its error and leaves the model free', async () => {
    await withModel(cfg, async (m) => {
      const data = regressionData(cfg, 4, 3, 19);
      const boom = new Error('boom');
      await assert.rejects(m.fit(data, { epochs: 3, onStep: () => { throw boom; } }), (e) => e === boom);
      assert.ok(Number.isFinite(m.trainStep(data).loss));
      await m.fit(data);
    });
  });
});

// ---------------------------------------------------------------- steps and gradients

describe('trainStep and computeGradients', () => {
  test('trainStep counts steps and returns the final state', async () => {
    for (const cell of ['rnn', 'lstm']) {
      await withModel({ ...BASE, cell, layers: 2 }, (m) => {
        const data = regressionData(m.config, 3, 4, 19);
        const a = m.trainStep(data);
        const b = m.trainStep(data);
        assert.equal(b.step, a.step + 1);
        assert.equal(a.state.h.length, 2 * 3 * 6);
        assert.equal('c' in a.state, cell === 'lstm');
        assert.equal(a.flow.length, 2);
        // the state is the same as predict's on the weights the step started from
        const p = m.predict(data.x, { shape: data.shape });
        const c = m.trainStep(data);
        assertBitEqual(c.state.h, p.state.h, 'state h');
      });
    }
  });

  test('computeGradients: dx and dState agree with finite differences', async () => {
    await withModel({ ...BASE, cell: 'lstm' }, (m) => {
      const N = 2, T = 3;
      const data = regressionData(m.config, N, T, 20);
      const state = { h: randomArray(N * 6, 1, 0.5), c: randomArray(N * 6, 2, 0.5) };
      const g = m.computeGradients(data, { state });
      assert.equal(g.dx.length, N * T * 3);
      assert.equal(g.dState.h.length, N * 6);
      assert.equal(g.dState.c.length, N * 6);
      assert.equal(g.flatGradients.length, m.parameterCount().rnnlab);
      assert.equal(g.output.length, N * T * 2);
      const loss = (x, st) => m.computeGradients({ ...data, x }, { state: st }).loss;
      const eps = 1e-2;
      for (const k of [0, 4, 17]) {
        const xp = data.x.slice(); xp[k] += eps;
        const xm = data.x.slice(); xm[k] -= eps;
        nearFD(g.dx[k], (loss(xp, state) - loss(xm, state)) / (2 * eps), `dx[${k}]`);
      }
      for (const which of ['h', 'c']) {
        for (const k of [1, 7]) {
          const sp = { ...state, [which]: state[which].slice() }; sp[which][k] += eps;
          const sm = { ...state, [which]: state[which].slice() }; sm[which][k] -= eps;
          nearFD(g.dState[which][k], (loss(data.x, sp) - loss(data.x, sm)) / (2 * eps), `dState.${which}[${k}]`);
        }
      }
      // parameters: one element of W, of U and of the head
      const params = m.getParameters();
      for (const k of [0, 3 * 24 + 5, params.length - 3]) {
        const pp = params.slice(); pp[k] += eps;
        m.setParameters(pp);
        const lp = m.evaluate(data).loss;
        const pm = params.slice(); pm[k] -= eps;
        m.setParameters(pm);
        const lm = m.evaluate(data).loss;
        m.setParameters(params);
        assert.ok(Number.isFinite(lp));
        // evaluate runs from a zero state; compare with gradients from a zero state
        const g0 = m.computeGradients(data).flatGradients[k];
        nearFD(g0, (lp - lm) / (2 * eps), `dθ[${k}]`);
      }
    });
  });

  test('gradients() names the last step\'s gradients like exportWeights', async () => {
    await withModel({ ...BASE, cell: 'rnn', layers: 2 }, (m) => {
      assert.equal(m.gradients(), null, 'no step yet');
      const g = m.computeGradients(regressionData(m.config, 2, 3, 22));
      const named = m.gradients();
      const weights = m.exportWeights();
      assert.deepEqual(Object.keys(named), Object.keys(weights));
      for (const [k, t] of Object.entries(named)) assert.deepEqual(t.shape, weights[k].shape, k);
      // layer 0: W (6, 3) then U (6, 6) then b (6) in the flat layout
      assertBitEqual(named['rnn.weight_ih_l0'].data, g.flatGradients.subarray(0, 18), 'weight_ih_l0');
      assertBitEqual(named['rnn.weight_hh_l0'].data, g.flatGradients.subarray(18, 54), 'weight_hh_l0');
      assertBitEqual(named['rnn.bias_ih_l0'].data, g.flatGradients.subarray(54, 60), 'bias_ih_l0');
      assertBitEqual(named['rnn.bias_hh_l0'].data, g.flatGradients.subarray(54, 60), 'bias_hh_l0: same as the combined bias');
      assertBitEqual(named['head.bias'].data, g.flatGradients.subarray(g.flatGradients.length - 2), 'head.bias');
      m.trainStep(regressionData(m.config, 2, 3, 23));
      assert.notDeepEqual(Array.from(m.gradients()['head.bias'].data), Array.from(named['head.bias'].data));
    });
  });
});

// ---------------------------------------------------------------- evaluate, predict, sample

describe('evaluate, predict, sample', () => {
  test('evaluate (MSE) is the mean squared error of predict over counted positions', async () => {
    await withModel({ ...BASE, cell: 'gru' }, (m) => {
      const N = 4, T = 5;
      const data = regressionData(m.config, N, T, 24);
      const p = m.predict(data.x, { shape: data.shape }).output;
      let sum = 0;
      for (let i = 0; i < p.length; i++) sum += (p[i] - data.y[i]) ** 2;
      near(m.evaluate(data).loss, sum / p.length, 1e-6, 'MSE');
      const lengths = [5, 1, 3, 2];
      let msum = 0, count = 0;
      for (let n = 0; n < N; n++) for (let t = 0; t < lengths[n]; t++) for (let k = 0; k < 2; k++) {
        const i = (n * T + t) * 2 + k;
        msum += (p[i] - data.y[i]) ** 2; count++;
      }
      near(m.evaluate({ ...data, lengths }).loss, msum / count, 1e-6, 'masked MSE');
      near(m.evaluate(data, { batchSize: 1 }).loss, sum / p.length, 1e-6, 'batchSize 1');
      assert.equal(m.evaluate(data).accuracy, undefined);
    });
  });

  test('evaluate (cross-entropy) gives loss, accuracy and perplexity = exp(loss)', async () => {
    for (const output of ['sequence', 'last']) {
      await withModel({ ...BASE, cell: 'lstm', loss: 'cross-entropy', outputSize: 5, output }, (m) => {
        const N = 6, T = 4, Y = 5;
        const data = classData(m.config, N, T, 25);
        const logits = m.predict(data.x, { shape: data.shape }).output;
        let ce = 0, hits = 0;
        const rows = output === 'last' ? N : N * T;
        for (let r = 0; r < rows; r++) {
          const z = Array.from(logits.subarray(r * Y, (r + 1) * Y));
          const max = Math.max(...z);
          const lse = max + Math.log(z.reduce((s, v) => s + Math.exp(v - max), 0));
          ce += lse - z[data.y[r]];
          if (argmax(z) === data.y[r]) hits++;
        }
        const ev = m.evaluate(data);
        near(ev.loss, ce / rows, 1e-5, `${output}: cross-entropy`);
        assert.equal(ev.accuracy, hits / rows, `${output}: accuracy`);
        near(ev.perplexity, Math.exp(ev.loss), 1e-12, `${output}: perplexity`);
      });
    }
  });

  test('predict with state: a sequence fed in two halves equals it fed whole', async () => {
    for (const kind of [{ cell: 'rnn' }, { cell: 'lstm', layers: 2 }, { cell: 'gru' }, { cell: 'gru', gruVariant: 'reset-after', layers: 2 }]) {
      await withModel({ ...BASE, ...kind }, (m) => {
        const N = 3, T = 8, X = 3, Y = 2;
        const x = randomArray(N * T * X, 26);
        const whole = m.predict(x, { shape: [N, T, X] });
        const first = m.predict(timeSlice(x, N, T, X, 0, 5), { shape: [N, 5, X] });
        const second = m.predict(timeSlice(x, N, T, X, 5, T), { shape: [N, 3, X], state: first.state });
        assertClose(first.output, timeSlice(whole.output, N, T, Y, 0, 5), 1e-6, `${label(kind)}: first half`);
        assertClose(second.output, timeSlice(whole.output, N, T, Y, 5, T), 1e-6, `${label(kind)}: second half`);
        assertClose(second.state.h, whole.state.h, 1e-6, `${label(kind)}: final h`);
        if (kind.cell === 'lstm') assertClose(second.state.c, whole.state.c, 1e-6, 'final c');
        // one step at a time, as a stream
        let state;
        for (let t = 0; t < T; t++) {
          const step = m.predict(timeSlice(x, N, T, X, t, t + 1), { shape: [N, 1, X], ...(state ? { state } : {}) });
          state = step.state;
          assertClose(step.output, timeSlice(whole.output, N, T, Y, t, t + 1), 1e-6, `${label(kind)}: step ${t}`);
        }
      });
    }
  });

  test("predict with output 'last' equals the last step of the same weights read as 'sequence'", async () => {
    const last = await createModel({ ...BASE, cell: 'gru', output: 'last' });
    const seq = await createModel({ ...BASE, cell: 'gru' });
    seq.setParameters(last.getParameters());
    const x = randomArray(2 * 4 * 3, 27);
    const a = last.predict(x, { shape: [2, 4, 3] });
    const b = seq.predict(x, { shape: [2, 4, 3] });
    assert.deepEqual(a.shape, [2, 2]);
    assertClose(a.output, timeSlice(b.output, 2, 4, 2, 3, 4), 1e-6, 'last step');
    last.dispose();
    seq.dispose();
  });

  test('sample with a Vocabulary: text of the asked length, seeded, and argmax at a low temperature', async () => {
    const vocab = Vocabulary.fromText('abcd ');
    await withModel({ cell: 'lstm', inputSize: vocab.size, hiddenSize: 12, outputSize: vocab.size, loss: 'cross-entropy', seed: 3 }, (m) => {
      const s = m.sample({ vocab, prime: 'ab', length: 30, seed: 9 });
      assert.equal(typeof s, 'string');
      assert.equal(Array.from(s).length, 30);
      assert.ok(Array.from(s).every((c) => vocab.chars.includes(c)));
      assert.equal(m.sample({ vocab, prime: 'ab', length: 30, seed: 9 }), s, 'same seed, same text');
      const ids = m.sample({ prime: [0, 1], length: 30, seed: 9 });
      assert.ok(Array.isArray(ids));
      assert.equal(vocab.decode(ids), s, 'without a vocab: the ids');
      // temperature → 0 picks the most likely next character after the prime
      const prime = 'dab c';
      const onehot = vocab.dataset(prime + prime[0], { seqLength: prime.length, oneHot: true }).x;
      const logits = m.predict(onehot, { shape: [1, prime.length, vocab.size] }).output;
      const next = argmax(Array.from(logits.subarray((prime.length - 1) * vocab.size)));
      assert.equal(m.sample({ vocab, prime, length: 1, temperature: 1e-3 }), vocab.chars[next]);
    });
  });

  test('a character model trained on a repeating text samples the pattern', async () => {
    const text = 'abcde'.repeat(40);
    const vocab = Vocabulary.fromText(text);
    await withModel({ cell: 'gru', embedding: { vocabSize: vocab.size, size: 4 }, hiddenSize: 16, outputSize: vocab.size, loss: 'cross-entropy', seed: 2 }, async (m) => {
      await m.fit(vocab.dataset(text, { seqLength: 10, stride: 3 }), { epochs: 30, batchSize: 16, optimizer: { type: 'adam', lr: 0.03 } });
      const ev = m.evaluate(vocab.dataset(text, { seqLength: 10 }));
      assert.ok(ev.accuracy > 0.95, `accuracy ${ev.accuracy}`);
      assert.equal(m.sample({ vocab, prime: 'ab', length: 8, temperature: 0.1 }), 'cdeabcde');
    });
  });
});

// ---------------------------------------------------------------- Vocabulary

describe('Vocabulary', () => {
  test('fromText: the sorted distinct characters; encode and decode invert each other', () => {
    const v = Vocabulary.fromText('hello, wörld 🙂!');
    assert.deepEqual(v.chars, [...new Set(Array.from('hello, wörld 🙂!'))].sort());
    assert.equal(v.size, v.chars.length);
    assert.ok(v.chars.includes('🙂'), 'a code point outside the BMP is one character');
    const ids = v.encode('wörld 🙂');
    assert.ok(ids instanceof Int32Array);
    assert.equal(ids.length, 7);
    assert.equal(v.decode(ids), 'wörld 🙂');
    assert.equal(v.decode([...ids]), 'wörld 🙂');
    assert.deepEqual(JSON.parse(JSON.stringify(v)), { chars: v.chars });
  });

  test('a Vocabulary from a given character list keeps its order', () => {
    const v = new Vocabulary(['z', 'a', 'q']);
    assert.deepEqual(Array.from(v.encode('aqz')), [1, 2, 0]);
    assert.equal(v.decode([2, 1, 0]), 'qaz');
  });

  test('dataset: ids x [N, T] and next-character y [N, T], with stride', () => {
    const text = 'abcabcabcab';
    const v = Vocabulary.fromText(text);
    for (const [T, stride] of [[4, undefined], [4, 2], [10, 1]]) {
      const d = v.dataset(text, stride ? { seqLength: T, stride } : { seqLength: T });
      const s = stride ?? T;
      const N = Math.floor((text.length - T - 1) / s) + 1;
      assert.deepEqual(d.shape, [N, T]);
      assert.ok(d.x instanceof Int32Array && d.y instanceof Int32Array);
      assert.equal(d.x.length, N * T);
      assert.equal(d.y.length, N * T);
      for (let n = 0; n < N; n++) {
        for (let t = 0; t < T; t++) {
          const at = n * s + t;
          assert.equal(d.x[n * T + t], v.encode(text[at])[0]);
          assert.equal(d.y[n * T + t], v.encode(text[at + 1])[0]);
        }
      }
    }
  });

  test('dataset with oneHot: true: one-hot x [N, T, V] over the same windows; ids: true and false say the same', () => {
    const text = 'abcabcabcab';
    const v = Vocabulary.fromText(text);
    for (const [T, stride] of [[4, undefined], [4, 2], [10, 1]]) {
      const ids = v.dataset(text, { seqLength: T, stride });
      const d = v.dataset(text, { seqLength: T, stride, oneHot: true });
      const N = ids.shape[0];
      assert.deepEqual(d.shape, [N, T, 3]);
      assert.ok(d.x instanceof Float32Array);
      assert.equal(d.x.length, N * T * 3);
      assert.deepEqual(d.y, ids.y);
      for (let r = 0; r < N * T; r++) {
        const row = Array.from(d.x.subarray(r * 3, (r + 1) * 3));
        assert.deepEqual(row, [0, 1, 2].map((k) => (k === ids.x[r] ? 1 : 0)), `row ${r}`);
      }
      assert.deepEqual(v.dataset(text, { seqLength: T, stride, ids: false }), d, 'ids: false is oneHot: true');
      assert.deepEqual(v.dataset(text, { seqLength: T, stride, ids: true }), ids, 'ids: true is the default');
      assert.deepEqual(v.dataset(text, { seqLength: T, stride, oneHot: false, ids: true }), ids);
      assert.deepEqual(v.dataset(text, { seqLength: T, stride, oneHot: true, ids: false }), d);
    }
  });
});

// ---------------------------------------------------------------- diagnostics

describe('diagnostics', () => {
  test('gradientFlow: null before a step, then the last step\'s curve per layer', async () => {
    for (const cell of ['rnn', 'lstm', 'gru']) {
      await withModel({ ...BASE, cell, layers: 2 }, (m) => {
        assert.equal(m.gradientFlow(), null);
        const step = m.trainStep(regressionData(m.config, 2, 5, 28));
        const flow = m.gradientFlow();
        assert.equal(flow.h.length, 2);
        flow.h.forEach((f, l) => assertBitEqual(f, step.flow[l], `layer ${l}`));
        assert.ok(flow.h.every((f) => f.length === 5 && f.every((v) => v > 0 && Number.isFinite(v))));
        assert.equal('c' in flow, cell === 'lstm');
        if (cell === 'lstm') flow.c.forEach((f, l) => assertBitEqual(f, step.flowC[l], `c layer ${l}`));
        flow.h[0][0] = -1;
        assert.notEqual(m.gradientFlow().h[0][0], -1, 'a copy');
      });
    }
  });

  test('with the loss on the last step and ‖U‖ = 0.5, the tanh RNN gradient shrinks at least 2× per step back', async () => {
    await withModel({ cell: 'rnn', inputSize: 1, hiddenSize: 16, outputSize: 1, output: 'last', recurrentScale: 0.5 }, (m) => {
      near(m.spectralNorms()[0].h, 0.5, 1e-3, 'spectral norm');
      const T = 12;
      const step = m.trainStep({ x: randomArray(4 * T, 29), y: new Float32Array(4).fill(1), shape: [4, T, 1] }, { optimizer: 'sgd' });
      const f = step.flow[0];
      for (let t = 0; t < T - 1; t++) assert.ok(f[t] <= 0.5 * f[t + 1] * (1 + 1e-5), `g_${t} = ${f[t]} vs g_${t + 1} = ${f[t + 1]}`);
    });
  });

  test('gateTrace: shapes, gate ranges, saturation, and h, c as the cell equations say (SPEC §1)', async () => {
    for (const kind of [{ cell: 'lstm', layers: 2 }, { cell: 'gru' }, { cell: 'rnn' }]) {
      await withModel({ ...BASE, ...kind }, (m) => {
        const B = 2, T = 4, H = 6, L = m.config.layers;
        const x = randomArray(B * T * 3, 30, 2);
        const trace = m.gateTrace(x, { shape: [B, T, 3] });
        const p = m.predict(x, { shape: [B, T, 3] });
        assert.deepEqual(trace.shape, [B, T, H]);
        assert.equal(trace.layers.length, L);
        const names = { lstm: ['i', 'f', 'g', 'o'], gru: ['r', 'z', 'n'], rnn: ['h'] }[kind.cell];
        trace.layers.forEach((layer, l) => {
          assert.deepEqual(Object.keys(layer.gates), names);
          assert.deepEqual(Object.keys(layer.saturation), names);
          for (const g of names) {
            const v = layer.gates[g];
            assert.equal(v.length, B * T * H, `${g} length`);
            const sigmoid = sigmoidGates[kind.cell].includes(g);
            assert.ok(v.every((a) => (sigmoid ? a >= 0 && a <= 1 : a >= -1 && a <= 1)), `${g} range`);
            const s = layer.saturation[g];
            assert.ok(s >= 0 && s <= 1, `saturation ${g} = ${s}`);
            if (sigmoid) near(s, v.filter((a) => a < 0.05 || a > 0.95).length / v.length, 1e-12, `saturation ${g}`);
          }
          assert.equal(layer.h.length, B * T * H);
          assert.equal('c' in layer, kind.cell === 'lstm');
          // the last step of h is the final state
          for (let b = 0; b < B; b++) {
            assertBitEqual(layer.h.subarray((b * T + T - 1) * H, (b * T + T) * H), p.state.h.subarray((l * B + b) * H, (l * B + b + 1) * H), `layer ${l} h_T`);
          }
          // the cell equations, step by step
          for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) for (let j = 0; j < H; j++) {
            const at = (b * T + t) * H + j;
            const prev = t === 0 ? 0 : at - H;
            if (kind.cell === 'lstm') {
              const { i, f, g, o } = layer.gates;
              const cPrev = t === 0 ? 0 : layer.c[prev];
              near(layer.c[at], f[at] * cPrev + i[at] * g[at], 1e-5, `c[${b}][${t}][${j}]`);
              near(layer.h[at], o[at] * Math.tanh(layer.c[at]), 1e-5, `h[${b}][${t}][${j}]`);
            } else if (kind.cell === 'gru') {
              const { z, n } = layer.gates;
              const hPrev = t === 0 ? 0 : layer.h[prev];
              near(layer.h[at], (1 - z[at]) * hPrev + z[at] * n[at], 1e-5, `h[${b}][${t}][${j}]`);
            } else {
              assert.equal(layer.gates.h[at], layer.h[at]);
            }
          }
        });
      });
    }
  });

  test('spectralNorms: one record per layer, which follows the weights', async () => {
    await withModel({ ...BASE, cell: 'gru', gruVariant: 'reset-after', layers: 2, recurrentScale: 0.8 }, (m) => {
      const s = m.spectralNorms();
      assert.equal(s.length, 2);
      for (const layer of s) {
        assert.deepEqual(Object.keys(layer), ['r', 'z', 'n']);
        for (const v of Object.values(layer)) near(v, 0.8, 1e-3, 'orthogonal × 0.8');
      }
      const w = m.exportWeights();
      w['rnn.weight_hh_l1'] = { shape: w['rnn.weight_hh_l1'].shape, data: w['rnn.weight_hh_l1'].data.map((v) => 3 * v) };
      m.importWeights(w);
      const after = m.spectralNorms();
      for (const v of Object.values(after[0])) near(v, 0.8, 1e-3, 'layer 0 unchanged');
      for (const v of Object.values(after[1])) near(v, 2.4, 1e-3, 'layer 1 tripled');
    });
  });

  test('parameterCount: both ways of counting (SPEC §2), matching getParameters and exportWeights', async () => {
    for (const kind of [{ cell: 'rnn', layers: 3 }, { cell: 'lstm', layers: 2 }, { cell: 'gru', gruVariant: 'reset-after', layers: 2 }]) {
      await withModel({ ...BASE, ...kind }, (m) => {
        const c = m.parameterCount();
        assert.deepEqual(c, expectedCounts(m.config));
        assert.equal(c.rnnlab, m.getParameters().length);
        const exported = Object.values(m.exportWeights()).reduce((s, t) => s + t.data.length, 0);
        assert.equal(c.pytorch, exported);
      });
    }
    await withModel({ cell: 'lstm', inputSize: 10, hiddenSize: 20, outputSize: 5 }, (m) => {
      assert.deepEqual(m.parameterCount(), { rnnlab: 4 * 20 * 31 + 5 * 21, pytorch: 4 * 20 * 32 + 5 * 21 });
    });
  });
});

// ---------------------------------------------------------------- weights

describe('weights', () => {
  test('exportWeights: PyTorch state-dict names and shapes (SPEC §8)', async () => {
    await withModel({ cell: 'lstm', inputSize: 3, hiddenSize: 5, outputSize: 2, layers: 2 }, (m) => {
      const w = m.exportWeights();
      const shapes = Object.fromEntries(Object.entries(w).map(([k, t]) => [k, t.shape]));
      assert.deepEqual(shapes, {
        'rnn.weight_ih_l0': [20, 3], 'rnn.weight_hh_l0': [20, 5], 'rnn.bias_ih_l0': [20], 'rnn.bias_hh_l0': [20],
        'rnn.weight_ih_l1': [20, 5], 'rnn.weight_hh_l1': [20, 5], 'rnn.bias_ih_l1': [20], 'rnn.bias_hh_l1': [20],
        'head.weight': [2, 5], 'head.bias': [2],
      });
      for (const t of Object.values(w)) {
        assert.ok(t.data instanceof Float32Array);
        assert.equal(t.data.length, t.shape.reduce((a, b) => a * b, 1));
      }
      assert.ok(w['rnn.bias_hh_l0'].data.every((v) => v === 0), 'export puts every bias into bias_ih');
    });
  });

  test('import → export gives the same weights, and the same predictions', async () => {
    for (const kind of [{ cell: 'rnn' }, { cell: 'lstm', layers: 2 }, { cell: 'gru', gruVariant: 'reset-after', layers: 2 }, { cell: 'rnn', activation: 'relu' }]) {
      const a = await createModel({ ...BASE, ...kind, seed: 1 });
      const b = await createModel({ ...BASE, ...kind, seed: 2 });
      await a.fit(regressionData(a.config, 4, 3, 1), { epochs: 3, optimizer: { type: 'adam', lr: 0.05 } }); // non-zero biases
      const w = a.exportWeights();
      b.importWeights(w);
      const back = b.exportWeights();
      assert.deepEqual(Object.keys(back), Object.keys(w));
      for (const k of Object.keys(w)) {
        assert.deepEqual(back[k].shape, w[k].shape, k);
        assertBitEqual(back[k].data, w[k].data, `${label(kind)} ${k}`);
      }
      assertBitEqual(b.getParameters(), a.getParameters(), `${label(kind)} flat parameters`);
      const x = randomArray(2 * 4 * 3, 32);
      assertBitEqual(b.predict(x, { shape: [2, 4, 3] }).output, a.predict(x, { shape: [2, 4, 3] }).output, `${label(kind)} predict`);
      a.dispose();
      b.dispose();
    }
  });

  test('importWeights adds bias_ih and bias_hh, accepts plain arrays, and exports the sum', async () => {
    await withModel({ ...BASE, cell: 'lstm' }, (m) => {
      const w = m.exportWeights();
      const plain = {};
      for (const [k, t] of Object.entries(w)) plain[k] = { shape: [...t.shape], data: Array.from(t.data) };
      const bih = plain['rnn.bias_ih_l0'].data;
      const half = bih.map((v, j) => v / 2 + 0.125 * (j % 3));
      plain['rnn.bias_ih_l0'].data = half;
      plain['rnn.bias_hh_l0'].data = bih.map((v, j) => v - half[j] + 0.25);
      m.importWeights(plain);
      const back = m.exportWeights();
      assertClose(back['rnn.bias_ih_l0'].data, bih.map((v) => v + 0.25), 1e-6, 'bias_ih = b_ih + b_hh');
      assert.ok(back['rnn.bias_hh_l0'].data.every((v) => v === 0));
    });
  });

  test('weights through safetensors and JSON come back bit for bit, with their metadata', async () => {
    const a = await createModel({ ...BASE, cell: 'lstm', layers: 2, seed: 1 });
    const b = await createModel({ ...BASE, cell: 'lstm', layers: 2, seed: 2 });
    await a.fit(regressionData(a.config, 4, 3, 1), { epochs: 2, optimizer: { type: 'adam', lr: 0.05 } });
    const x = randomArray(2 * 4 * 3, 42);
    const expected = a.predict(x, { shape: [2, 4, 3] }).output;
    const st = encodeSafetensors(a.exportWeights(), { source: 'api test' });
    assert.ok(st instanceof Uint8Array);
    assert.deepEqual(readSafetensors(st).metadata, { source: 'api test' });
    b.importWeights(decodeSafetensors(st));
    assertBitEqual(b.getParameters(), a.getParameters(), 'through safetensors');
    assertBitEqual(b.predict(x, { shape: [2, 4, 3] }).output, expected, 'predictions through safetensors');
    b.setParameters(new Float32Array(b.parameterCount().rnnlab));
    const json = weightsToJSON(a.exportWeights(), { metadata: { note: 'json' } });
    assert.equal(typeof json, 'string');
    assert.equal(JSON.parse(json).format, 'rnnlab-weights');
    assert.deepEqual(readWeightsJSON(json).metadata, { note: 'json' });
    b.importWeights(weightsFromJSON(json));
    assertBitEqual(b.getParameters(), a.getParameters(), 'through JSON');
    b.importWeights(weightsFromJSON(new TextEncoder().encode(json)));
    assertBitEqual(b.predict(x, { shape: [2, 4, 3] }).output, expected, 'predictions through JSON bytes');
    a.dispose();
    b.dispose();
  });

  test('getParameters returns a copy; setParameters writes and is read back', async () => {
    const a = await createModel({ ...BASE, cell: 'gru', seed: 1 });
    const b = await createModel({ ...BASE, cell: 'gru', seed: 2 });
    const p = a.getParameters();
    p[0] += 1;
    assert.notEqual(a.getParameters()[0], p[0], 'a copy');
    b.setParameters(Array.from(a.getParameters()));
    assertBitEqual(b.getParameters(), a.getParameters(), 'set from a plain array');
    const x = randomArray(3 * 2 * 3, 33);
    assertBitEqual(b.predict(x, { shape: [3, 2, 3] }).output, a.predict(x, { shape: [3, 2, 3] }).output, 'predictions');
    b.setParameters(p);
    assert.equal(b.getParameters()[0], p[0]);
    assert.notDeepEqual(Array.from(b.predict(x, { shape: [3, 2, 3] }).output), Array.from(a.predict(x, { shape: [3, 2, 3] }).output));
    a.dispose();
    b.dispose();
  });
});

// ---------------------------------------------------------------- save and load

describe('save and loadModel', () => {
  for (const kind of [{ cell: 'rnn', activation: 'relu' }, { cell: 'lstm', layers: 2, forgetBiasOne: false }, { cell: 'gru' },
    { cell: 'gru', gruVariant: 'reset-after', output: 'last', loss: 'cross-entropy', outputSize: 3, recurrentScale: 0.9, seed: 77 }]) {
    test(`${label(kind)}: bit-identical predictions, with and without optimizer state`, async () => {
      const m = await createModel({ ...BASE, ...kind });
      await m.fit(dataFor(m.config, 5, 4, 34), { epochs: 2, batchSize: 2 });
      const x = randomArray(3 * 6 * 3, 35);
      const expected = m.predict(x, { shape: [3, 6, 3] });
      const withOpt = m.save();
      const without = m.save({ optimizer: false });
      assert.ok(withOpt instanceof Uint8Array);
      assert.ok(without.length < withOpt.length, 'optimizer state makes the file larger');
      for (const bytes of [withOpt, without, withOpt.buffer.slice(withOpt.byteOffset, withOpt.byteOffset + withOpt.length)]) {
        const loaded = await loadModel(bytes);
        assert.deepEqual(loaded.config, m.config);
        assertBitEqual(loaded.getParameters(), m.getParameters(), 'parameters');
        const p = loaded.predict(x, { shape: [3, 6, 3] });
        assertBitEqual(p.output, expected.output, 'predictions');
        assertBitEqual(p.state.h, expected.state.h, 'final state');
        loaded.dispose();
      }
      m.dispose();
    });
  }

  test('training continued after a load with optimizer state equals training continued without saving', async () => {
    const cfg = { ...BASE, cell: 'lstm' };
    const data = regressionData(cfg, 6, 5, 36);
    for (const optimizer of [{ type: 'adam', lr: 0.01 }, { type: 'momentum', lr: 0.05 }, { type: 'rmsprop', lr: 0.01 }, { type: 'adamw', lr: 0.01 }]) {
      const m = await createModel(cfg);
      await m.fit(data, { epochs: 3, batchSize: 3, optimizer });
      const loaded = await loadModel(m.save());
      const h1 = await m.fit(data, { epochs: 2, batchSize: 3, shuffle: false, optimizer });
      const h2 = await loaded.fit(data, { epochs: 2, batchSize: 3, shuffle: false, optimizer });
      assert.deepEqual(h2.steps.loss, h1.steps.loss, `${optimizer.type}: losses`);
      assertBitEqual(loaded.getParameters(), m.getParameters(), `${optimizer.type}: parameters`);
      m.dispose();
      loaded.dispose();
    }
  });

  test('without optimizer state, training continues like a fresh optimizer on the saved weights', async () => {
    const cfg = { ...BASE, cell: 'gru' };
    const data = regressionData(cfg, 6, 5, 37);
    const optimizer = { type: 'adam', lr: 0.01 };
    const m = await createModel(cfg);
    await m.fit(data, { epochs: 3, optimizer });
    const loaded = await loadModel(m.save({ optimizer: false }));
    const fresh = await createModel(cfg);
    fresh.setParameters(m.getParameters());
    for (const model of [loaded, fresh, m]) for (let i = 0; i < 3; i++) model.trainStep(data, { optimizer });
    assertBitEqual(loaded.getParameters(), fresh.getParameters(), 'like a fresh Adam');
    assert.notDeepEqual(Array.from(loaded.getParameters()), Array.from(m.getParameters()), 'unlike the continued one');
    for (const model of [m, loaded, fresh]) model.dispose();
  });
});

// ---------------------------------------------------------------- many models

describe('one engine, many models', () => {
  test('interleaved training of two models equals training each alone', async () => {
    const ca = { ...BASE, cell: 'lstm', seed: 3 };
    const cb = { cell: 'gru', inputSize: 2, hiddenSize: 9, outputSize: 3, loss: 'cross-entropy', seed: 4 };
    const da = regressionData(ca, 5, 7, 38);
    const db = classData(cb, 4, 3, 39);
    const alone = async (cfg, data) => withModel(cfg, async (m) => {
      for (let i = 0; i < 5; i++) m.trainStep(data, { optimizer: 'adam' });
      await m.fit(data, { epochs: 2, batchSize: 2 });
      return { params: m.getParameters(), out: m.predict(data.x, { shape: data.shape }).output };
    });
    const ra = await alone(ca, da);
    const rb = await alone(cb, db);
    const [a, b] = await Promise.all([createModel(ca), createModel(cb)]);
    for (let i = 0; i < 5; i++) {
      a.trainStep(da, { optimizer: 'adam' });
      b.predict(db.x, { shape: db.shape });
      b.trainStep(db, { optimizer: 'adam' });
      a.predict(da.x, { shape: da.shape });
    }
    await Promise.all([a.fit(da, { epochs: 2, batchSize: 2 }), b.fit(db, { epochs: 2, batchSize: 2 })]);
    assertBitEqual(a.getParameters(), ra.params, 'model a');
    assertBitEqual(b.getParameters(), rb.params, 'model b');
    assertBitEqual(a.predict(da.x, { shape: da.shape }).output, ra.out, 'model a predict');
    assertBitEqual(b.predict(db.x, { shape: db.shape }).output, rb.out, 'model b predict');
    a.dispose();
    b.dispose();
  });

  test('a model still predicts the same after another model grew wasm memory', async () => {
    const small = await createModel({ ...BASE, cell: 'lstm' });
    const x = randomArray(2 * 3 * 3, 40);
    const before = small.predict(x, { shape: [2, 3, 3] });
    const bytesBefore = small._abi.memoryBytes(); // internals: only to show the test means something
    const big = await createModel({ cell: 'rnn', inputSize: 64, hiddenSize: 4, outputSize: 1 });
    const B = Math.ceil((bytesBefore + (8 << 20)) / (64 * 64 * 4)); // more input than all of memory now
    big.predict(new Float32Array(B * 64 * 64), { shape: [B, 64, 64] });
    assert.ok(small._abi.memoryBytes() > bytesBefore, 'wasm memory grew');
    const after = small.predict(x, { shape: [2, 3, 3] });
    assertBitEqual(after.output, before.output, 'predictions');
    assertBitEqual(after.state.h, before.state.h, 'state');
    big.dispose();
    assertBitEqual(small.predict(x, { shape: [2, 3, 3] }).output, before.output, 'after disposing the other');
    small.dispose();
  });
});
