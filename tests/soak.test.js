// Soak and out-of-memory (issue 7, "Memory"):
// - 10,000 create/train/dispose cycles leave wasm memory where it was after
//   the first few cycles, and the heap does not grow either;
// - a model or a batch too large for wasm memory fails with E_NOMEM, never a
//   crash, and the instance stays usable: the models that exist predict and
//   train exactly as before, and new models can be created;
// - with wasm memory completely full, the calls that need memory fail with
//   E_NOMEM and the ones that do not still work.
//
// Memory is measured through internals, not the public API:
// - `model._abi.memoryBytes()`, the size of the engine's wasm
//   memory (it grows when the heap runs out and never shrinks);
// - the heap's high-water mark, probed by where a fresh 1 MB block lands
//   (`rnnlab_scratch`, the engine's malloc): the allocator carves a block that
//   size from the top of the heap, so anything never freed pushes it up. This
//   sees leaks far smaller than a 64 KB memory page (as memory.test.js does);
// - to fill wasm memory, blocks are taken with `rnnlab_scratch` until even 16
//   bytes cannot be had. malloc does not write into them, so they cost address
//   space, not RAM.
//
// The cycles run first: the out-of-memory tests grow wasm memory for good.
// On a shared 2-core machine the whole file takes about 10 s (the cycles 6 s).

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { createModel, loadModel, RnnlabError } from '../web/rnnlab.js';
import { rng as unitRandom } from './helpers/cases.js';
import { expectError } from './helpers/expect-error.js';
import { getEngine, measure } from './helpers/memory-probe.js';

// centred seeded numbers in [-0.5, 0.5)
const rng = (seed) => { const r = unitRandom(seed); return () => r() - 0.5; };
const randomArray = (n, seed) => { const r = rng(seed); return Float32Array.from({ length: n }, r); };

const MB = 2 ** 20;

// Data for a config: x [B, T, X] and targets as its loss and output want them.
function dataFor(config, B, T, seed) {
  const x = randomArray(B * T * config.inputSize, seed);
  const shape = [B, T, config.inputSize];
  const last = config.output === 'last';
  if (config.loss === 'cross-entropy') {
    return { x, y: Int32Array.from({ length: last ? B : B * T }, (_, i) => (i + seed) % config.outputSize), shape };
  }
  return { x, y: randomArray((last ? B : B * T) * config.outputSize, seed + 1), shape };
}

function sameBits(actual, expected, what) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    if (!Object.is(actual[i], expected[i])) assert.fail(`${what}: element ${i} is ${actual[i]}, was ${expected[i]}`);
  }
}

// ---------------------------------------------------------------- 10,000 cycles

// Small models of every cell and mode.
const KINDS = [
  { cell: 'rnn', inputSize: 3, hiddenSize: 6, outputSize: 2 },
  { cell: 'rnn', activation: 'relu', inputSize: 2, hiddenSize: 5, outputSize: 3, loss: 'cross-entropy', output: 'last' },
  { cell: 'lstm', inputSize: 3, hiddenSize: 6, outputSize: 2, layers: 2 },
  { cell: 'lstm', inputSize: 4, hiddenSize: 5, outputSize: 4, loss: 'cross-entropy' },
  { cell: 'gru', inputSize: 3, hiddenSize: 6, outputSize: 2, output: 'last' },
  { cell: 'gru', gruVariant: 'reset-after', inputSize: 2, hiddenSize: 7, outputSize: 3, loss: 'cross-entropy', layers: 2 },
  { cell: 'lstm', inputSize: 1, hiddenSize: 3, outputSize: 1, output: 'last', init: 'pytorch' },
];

// One life of a model. Every cycle creates a model, trains a step, computes
// gradients on another batch shape, predicts carrying the state over,
// evaluates, and disposes it; every 5th also saves and loads, traces the gates
// and measures the spectral norms; every 10th fits (skipping a non-finite
// step), writes its parameters back and makes calls that fail; every 50th
// exchanges weights and tries a model too large for memory and a truncated
// file. Some saves carry metadata.
async function cycle(i) {
  const config = KINDS[i % KINDS.length];
  const m = await createModel({ ...config, seed: i });
  const B = 1 + (i % 5), T = 2 + (i % 7);
  const data = dataFor(config, B, T, i);
  m.trainStep(data, { optimizer: i % 2 ? 'adam' : { type: 'sgd', lr: 0.05 }, clipNorm: i % 3 ? 1 : null });
  m.computeGradients(dataFor(config, 1 + ((i + 2) % 4), 1 + ((i + 3) % 5), i + 1));
  const first = m.predict(data.x, { shape: data.shape });
  m.predict(data.x, { shape: data.shape, state: first.state });
  m.evaluate(data, { batchSize: 2 });
  if (i % 5 === 0) {
    m.gateTrace(data.x, { shape: data.shape });
    m.spectralNorms();
    const loaded = await loadModel(m.save({ optimizer: i % 10 === 0, metadata: i % 15 === 0 ? { cycle: i, note: 'x'.repeat(i % 97) } : undefined }));
    loaded.trainStep(data);
    void loaded.metadata;
    loaded.dispose();
  }
  if (i % 10 === 0) {
    await m.fit(data, { epochs: 2, batchSize: 2, validationData: data });
    if (config.loss !== 'cross-entropy') {
      const huge = { ...data, y: new Float32Array(data.y.length).fill(3e38) }; // a non-finite loss
      await m.fit(huge, { epochs: 1, batchSize: B, onNonFinite: 'skip' });
    }
    m.setParameters(m.getParameters());
    try { m.trainStep({ ...data, shape: [B, T, 99] }); } catch { /* E_SHAPE, expected */ }
    try { m.predict(data.x, { shape: data.shape, state: { h: new Float32Array(1) } }); } catch { /* E_SHAPE, expected */ }
  }
  if (i % 50 === 0) {
    if (config.cell !== 'gru' || config.gruVariant === 'reset-after') m.importWeights(m.exportWeights());
    try { await createModel({ ...config, hiddenSize: 65536, layers: 16 }); } catch { /* E_NOMEM, expected */ }
    try { await loadModel(m.save().subarray(0, 200)); } catch { /* E_FORMAT, expected */ }
  }
  m.dispose();
}

const CYCLES = 10_000;
const WARM_UP = 30; // every kind, every batch shape, every occasional call once

test(`${CYCLES.toLocaleString('en')} create/train/dispose cycles leave wasm memory and the heap where they were`, async (t) => {
  const e = await getEngine();
  const started = performance.now();
  for (let i = 0; i < WARM_UP; i++) await cycle(i);
  const first = measure(e);
  const samples = [];
  for (let i = WARM_UP; i < CYCLES; i++) {
    await cycle(i);
    if ((i + 1) % 1000 === 0) samples.push({ cycles: i + 1, ...measure(e) });
  }
  const seconds = (performance.now() - started) / 1000;
  const last = measure(e);
  const grewBytes = last.bytes - first.bytes;
  const grewTop = last.top - first.top;
  const figure = `cycles run: ${CYCLES}; wasm memory after ${WARM_UP} cycles ${first.bytes} bytes, after ${CYCLES} ${last.bytes} bytes ` +
    `(growth ${grewBytes} bytes); heap high-water mark moved ${grewTop} bytes; ${seconds.toFixed(1)} s`;
  t.diagnostic(figure);
  for (const s of samples) {
    assert.equal(s.bytes, first.bytes, `after ${s.cycles} cycles wasm memory is ${s.bytes} bytes, after ${WARM_UP} it was ${first.bytes}`);
    assert.equal(s.top, first.top, `after ${s.cycles} cycles the heap's high-water mark moved by ${s.top - first.top} bytes`);
  }
  assert.equal(grewBytes, 0, 'wasm memory grew');
  assert.equal(grewTop, 0, "the heap's high-water mark moved");
});

// ---------------------------------------------------------------- witnesses

// A model and its twin (same config, same seed, same history), each trained
// a step and asked for a prediction before the out-of-memory tests. The
// witness is checked after each one: it predicts bit for bit as before and
// trains in lockstep with its twin.
async function witness(config, seed) {
  const data = dataFor(config, 3, 4, seed);
  const probe = dataFor(config, 2, 5, seed + 7);
  const [model, twin] = await Promise.all([createModel({ ...config, seed }), createModel({ ...config, seed })]);
  model.trainStep(data);
  twin.trainStep(data);
  const w = { config, data, probe, model, twin };
  w.out = model.predict(probe.x, { shape: probe.shape }).output;
  return w;
}

function checkWitness(w, what) {
  const now = w.model.predict(w.probe.x, { shape: w.probe.shape }).output;
  sameBits(now, w.out, `${what}: a ${w.config.cell} model's predictions`);
  const a = w.model.trainStep(w.data);
  const b = w.twin.trainStep(w.data);
  assert.ok(Number.isFinite(a.loss), `${what}: a ${w.config.cell} model trains (loss ${a.loss})`);
  assert.ok(Object.is(a.loss, b.loss), `${what}: a ${w.config.cell} model's loss ${a.loss}, its twin's ${b.loss}`);
  sameBits(w.model.getParameters(), w.twin.getParameters(), `${what}: a ${w.config.cell} model's weights against its twin's`);
  w.out = w.model.predict(w.probe.x, { shape: w.probe.shape }).output;
}

async function assertNewModelWorks(what) {
  const config = { cell: 'gru', inputSize: 2, hiddenSize: 4, outputSize: 2 };
  const m = await createModel(config);
  const step = m.trainStep(dataFor(config, 2, 3, 1));
  assert.ok(Number.isFinite(step.loss), `${what}: a new model trains`);
  m.dispose();
}

// A moderate model for batches that are too large: an LSTM with 512 units
// (1 M parameters). Its batch buffers take about 6,700 floats per sequence
// step, its gate buffer alone 2,048 (the engine's limit per buffer is 2^28).
const MODERATE = { cell: 'lstm', inputSize: 1, hiddenSize: 512, outputSize: 1 };

describe('E_NOMEM: a model or a batch too large, and the instance stays usable', () => {
  const witnesses = [];
  let moderate = null;
  let e = null;

  before(async () => {
    e = await getEngine();
    witnesses.push(await witness({ cell: 'lstm', inputSize: 3, hiddenSize: 8, outputSize: 2, layers: 2 }, 1));
    witnesses.push(await witness({ cell: 'gru', gruVariant: 'reset-after', inputSize: 4, hiddenSize: 6, outputSize: 4, loss: 'cross-entropy' }, 2));
    witnesses.push(await witness({ cell: 'rnn', activation: 'relu', inputSize: 2, hiddenSize: 5, outputSize: 1, output: 'last' }, 3));
    moderate = await witness(MODERATE, 4);
  });

  after(() => {
    for (const w of [...witnesses, moderate]) { w.model.dispose(); w.twin.dispose(); }
  });

  const allUsable = async (what) => {
    for (const w of witnesses) checkWitness(w, what);
    checkWitness(moderate, what);
    await assertNewModelWorks(what);
  };

  test('a model over the engine\'s limit of 2^28 parameters (hiddenSize 65536, 16 layers)', async () => {
    await expectError(() => createModel({ cell: 'lstm', inputSize: 1, hiddenSize: 65536, outputSize: 1, layers: 16 }), 'E_NOMEM',
      ['createModel', /needs \d{12} parameters/, 'at most 268435456']);
    await allUsable('after a model over the parameter limit');
  });

  const growth = {};
  test('a model within every limit that does not fit in 2 GB of wasm memory (an RNN with 12,000 units)', async () => {
    const before = e.memory.buffer.byteLength;
    // 144 M parameters: under the limit, but parameters, gradients and two
    // optimiser moments take 2.3 GB
    await expectError(() => createModel({ cell: 'rnn', inputSize: 1, hiddenSize: 12000, outputSize: 1 }), 'E_NOMEM',
      ['createModel', 'out of memory', /\d+ MB/]);
    growth.failedCreate = e.memory.buffer.byteLength - before;
    await allUsable('after a model too large for wasm memory');
  });

  test('a createModel that fails for lack of memory does not grow wasm memory for good', () => {
    // wasm memory never shrinks: what a failed call grew it by stays taken
    assert.ok(growth.failedCreate !== undefined, 'the previous test ran');
    assert.ok(growth.failedCreate < 64 * MB,
      `a createModel that failed with E_NOMEM grew wasm memory by ${(growth.failedCreate / MB).toFixed(0)} MB, which is never given back ` +
      '(src/model.c model_alloc allocates the packed weights even when the parameter block could not be allocated)');
  });

  // Batches: every entry point that sets a batch, with sizes the engine
  // refuses before allocating anything (so the test needs no RAM).
  const longT = 100_000;   // per buffer within the limit, all buffers together over 2 GB
  const overT = 131_073;   // the gate buffer alone over the 2^28 limit
  const batchCases = [
    [`predict, T = ${overT}`, (m) => m.predict(new Float32Array(overT), { shape: [1, overT, 1] }), ['predict', `T = ${overT}`, 'at most 268435456']],
    [`predict, T = ${longT}`, (m) => m.predict(new Float32Array(longT), { shape: [1, longT, 1] }), ['predict', `T = ${longT}`, /too large for wasm memory|out of memory/]],
    [`gateTrace, T = ${longT}`, (m) => m.gateTrace(new Float32Array(longT), { shape: [1, longT, 1] }), ['gateTrace', `T = ${longT}`]],
    [`trainStep, B = 4, T = 40,000`, (m) => m.trainStep({ x: new Float32Array(160_000), y: new Float32Array(160_000), shape: [4, 40_000, 1] }), ['trainStep', 'B = 4, T = 40000']],
    [`computeGradients, B = 2, T = ${longT}`, (m) => m.computeGradients({ x: new Float32Array(2 * longT), y: new Float32Array(2 * longT), shape: [2, longT, 1] }), ['computeGradients', `B = 2, T = ${longT}`]],
    ['fit, batchSize 1e6 (all 32 sequences of 4,096 steps)', (m) => m.fit({ x: new Float32Array(32 * 4096), y: new Float32Array(32 * 4096), shape: [32, 4096, 1] }, { batchSize: 1e6 }),
      ['fit', 'B = 32, T = 4096']],
    ['fit, batchSize 64 over 64 sequences of 4,096 steps', (m) => m.fit({ x: new Float32Array(64 * 4096), y: new Float32Array(64 * 4096), shape: [64, 4096, 1] }, { batchSize: 64, epochs: 3 }),
      ['fit', 'B = 64, T = 4096']],
    ['evaluate, batchSize 256 over 256 sequences of 1,024 steps', (m) => m.evaluate({ x: new Float32Array(256 * 1024), y: new Float32Array(256 * 1024), shape: [256, 1024, 1] }),
      ['evaluate', 'B = 256, T = 1024']],
  ];
  for (const [name, call, says] of batchCases) {
    test(`a batch too large for a moderate model: ${name}`, async () => {
      const bytesBefore = e.memory.buffer.byteLength;
      await expectError(() => call(moderate.model), 'E_NOMEM', says);
      assert.equal(e.memory.buffer.byteLength, bytesBefore, 'refused before allocating');
      assert.equal(moderate.model.disposed, false);
      await allUsable(`after ${name}`);
    });
  }
});

// ---------------------------------------------------------------- wasm memory full

describe('with wasm memory full', () => {
  let e = null;
  let w = null;
  let bytes = null;
  let lowest = null; // the first 1 KB of wasm memory, below the engine's static data: nothing writes there
  const ballast = [];

  const fill = () => {
    for (let size = 1 << 30; size >= 16; size >>= 1) {
      for (;;) {
        const p = e.scratch(size);
        if (p === 0) break;
        ballast.push(p);
      }
    }
  };
  const release = () => {
    while (ballast.length) e.bytesFree(ballast.pop());
  };

  before(async () => {
    e = await getEngine();
    w = await witness({ cell: 'lstm', inputSize: 3, hiddenSize: 8, outputSize: 2 }, 5);
    await w.model.fit(w.data, { epochs: 1, batchSize: 3 }); // every shape it will see, once
    await w.twin.fit(w.data, { epochs: 1, batchSize: 3 });
    w.out = w.model.predict(w.probe.x, { shape: w.probe.shape }).output;
    bytes = w.model.save();
    lowest = e.u8(0, 1024).slice();
    fill();
    assert.equal(e.memory.buffer.byteLength, 2 ** 31, 'wasm memory is at its 2 GB maximum');
    assert.equal(e.scratch(16), 0, 'not even 16 bytes are left');
  });

  after(() => {
    release();
    w.model.dispose();
    w.twin.dispose();
  });

  test('models that exist predict, train and fit on the shapes they have, exactly as before', async () => {
    checkWitness(w, 'with memory full');
    const a = await w.model.fit(w.data, { epochs: 2, batchSize: 3 });
    const b = await w.twin.fit(w.data, { epochs: 2, batchSize: 3 });
    sameBits(a.steps.loss, b.steps.loss, 'fit with memory full: losses against the twin');
    w.out = w.model.predict(w.probe.x, { shape: w.probe.shape }).output;
  });

  const failing = [
    ['createModel', () => createModel({ cell: 'gru', inputSize: 1, hiddenSize: 2, outputSize: 1 }), ['createModel']],
    ['loadModel', () => loadModel(bytes), ['loadModel']],
    ['trainStep on a larger batch', () => w.model.trainStep(dataFor(w.config, 6, 4, 9)), ['trainStep', 'B = 6, T = 4']],
    ['predict on a longer sequence', () => w.model.predict(new Float32Array(3 * 50), { shape: [1, 50, 3] }), ['predict', 'T = 50']],
    ['save', () => w.model.save(), ['save']],
    ['spectralNorms', () => w.model.spectralNorms(), ['spectralNorms']],
    // 900 bytes of metadata: were they written through a null pointer, they
    // would stay within the first 1 KB (beyond it lies the engine's static data)
    ['save with metadata', () => w.model.save({ metadata: { note: 'x'.repeat(880) } }), [/save/]],
  ];
  for (const [name, call, says] of failing) {
    test(`${name} → E_NOMEM, and nothing changed`, async () => {
      let error;
      try {
        error = await expectError(call, 'E_NOMEM', [...says, /memory/]);
      } finally {
        // a write through a null pointer (an allocation that failed, unchecked)
        const now = e.u8(0, 1024);
        const at = now.findIndex((b, i) => b !== lowest[i]);
        now.set(lowest); // put it back for the tests that follow
        assert.equal(at, -1, `${name} with memory full wrote into wasm memory at address ${at} (through a null pointer from a failed allocation)`);
      }
      assert.ok(error);
      checkWitness(w, `with memory full, after ${name}`);
      assert.equal(w.model.metadata, null, 'the metadata of the model');
    });
  }

  // Settings travel through a few bytes the engine keeps for them from the
  // start: passing new ones allocates nothing and works with memory full.
  test('a trainStep with new optimizer settings works with memory full, as on its twin', async () => {
    checkWitness(w, 'with memory full');
    const a = w.model.trainStep(w.data, { optimizer: { type: 'sgd', lr: 0.1 } });
    const b = w.twin.trainStep(w.data, { optimizer: { type: 'sgd', lr: 0.1 } });
    sameBits([a.loss], [b.loss], 'loss against the twin');
    sameBits(w.model.getParameters(), w.twin.getParameters(), 'parameters against the twin');
    w.out = w.model.predict(w.probe.x, { shape: w.probe.shape }).output;
  });

  test('once the memory is freed, everything works again', async () => {
    release();
    await assertNewModelWorks('after freeing');
    const loaded = await loadModel(bytes);
    loaded.dispose();
    checkWitness(w, 'after freeing');
    w.model.spectralNorms();
    w.model.trainStep(dataFor(w.config, 6, 4, 9));
    assert.ok(w.model.save().length > 0);
  });
});
