// Memory: creating, training and disposing models many times leaves the
// engine's heap where it was, and repeated steps of one shape allocate nothing.
//
// Two measures, both reached through a model's internals (`model._abi`):
// - the wasm memory size (memory.buffer.byteLength), which grows when the heap
//   runs out and never shrinks;
// - the heap's high-water mark, probed by where a fresh 1 MB block lands
//   (rnnlab_scratch): the allocator takes a block that size from the top of the
//   heap, so any allocation that was never freed pushes it up. This catches
//   leaks far smaller than a memory page.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

import { createModel, loadModel } from '../web/rnnlab.js';
import { rng as unitRandom } from './helpers/cases.js';
import { getEngine, measure } from './helpers/memory-probe.js';

// centred seeded numbers in [-0.5, 0.5)
const rng = (seed) => { const r = unitRandom(seed); return () => r() - 0.5; };
const randomArray = (n, seed) => { const r = rng(seed); return Float32Array.from({ length: n }, r); };

function assertSameHeap(after, before, what) {
  assert.equal(after.bytes, before.bytes, `${what}: wasm memory grew from ${before.bytes} to ${after.bytes} bytes`);
  assert.equal(after.top, before.top, `${what}: the heap's high-water mark moved by ${after.top - before.top} bytes`);
}

const KINDS = [
  { cell: 'rnn', inputSize: 3, hiddenSize: 8, outputSize: 2 },
  { cell: 'lstm', inputSize: 3, hiddenSize: 8, outputSize: 2, layers: 2 },
  { cell: 'gru', inputSize: 3, hiddenSize: 8, outputSize: 4, gruVariant: 'reset-after', loss: 'cross-entropy' },
  { cell: 'gru', inputSize: 3, hiddenSize: 8, outputSize: 2, output: 'last' },
];

function dataFor(config, B, T, seed) {
  const x = randomArray(B * T * config.inputSize, seed);
  if (config.loss === 'cross-entropy') return { x, y: Int32Array.from({ length: B * T }, (_, i) => i % config.outputSize), shape: [B, T, config.inputSize] };
  const n = config.output === 'last' ? B * config.outputSize : B * T * config.outputSize;
  return { x, y: randomArray(n, seed + 1), shape: [B, T, config.inputSize] };
}

// One life of a model: every call that allocates in the engine.
async function cycle(i) {
  const config = KINDS[i % KINDS.length];
  const m = await createModel({ ...config, seed: i });
  const data = dataFor(config, 2 + (i % 3), 3 + (i % 4), i);
  m.trainStep(data, { optimizer: i % 2 ? 'adam' : { type: 'sgd', lr: 0.1 }, clipNorm: 1 });
  m.predict(data.x, { shape: data.shape });
  if (i % 10 === 0) {
    m.computeGradients(data);
    m.gateTrace(data.x, { shape: data.shape });
    m.spectralNorms();
    const loaded = await loadModel(m.save());
    loaded.dispose();
  }
  if (i % 50 === 0) await m.fit(data, { epochs: 1, batchSize: 1 });
  m.dispose();
}

test('1,000 create/train/dispose cycles leave wasm memory and the heap where they were', async () => {
  const e = await getEngine();
  for (let i = 0; i < 20; i++) await cycle(i); // warm-up: every kind and shape once
  const before = measure(e);
  for (let i = 20; i < 1020; i++) await cycle(i);
  assertSameHeap(measure(e), before, '1,000 cycles');
});

test('repeated trainSteps of one shape do not allocate', async () => {
  const e = await getEngine();
  const config = KINDS[1];
  const m = await createModel(config);
  const data = dataFor(config, 4, 6, 1);
  m.trainStep(data);
  const before = measure(e);
  for (let i = 0; i < 500; i++) m.trainStep(data);
  assertSameHeap(measure(e), before, '500 trainSteps');
  m.dispose();
});

test('smaller batches after the largest one reuse its buffers', async () => {
  const e = await getEngine();
  const config = KINDS[0];
  const m = await createModel(config);
  const shapes = [[8, 10], [2, 3], [8, 1], [1, 10], [4, 5]];
  m.trainStep(dataFor(config, 8, 10, 1));
  const before = measure(e);
  for (let i = 0; i < 300; i++) {
    const [B, T] = shapes[i % shapes.length];
    const data = dataFor(config, B, T, i);
    m.trainStep(data);
    m.predict(data.x, { shape: data.shape });
    m.evaluate(data);
  }
  assertSameHeap(measure(e), before, '300 steps of smaller shapes');
  m.dispose();
});

test('failed calls do not leak: bad files, too large models, bad data', async () => {
  const e = await getEngine();
  const m = await createModel(KINDS[1]);
  const bytes = m.save();
  const bad = bytes.slice(0, bytes.length - 1);
  const data = dataFor(KINDS[1], 2, 3, 1);
  const attempt = async (fn) => { try { await fn(); } catch { /* expected */ } };
  const failures = [
    () => loadModel(bad),
    () => createModel({ cell: 'lstm', inputSize: 1, hiddenSize: 65536, outputSize: 1, layers: 16 }),
    () => m.predict(data.x, { shape: data.shape, state: { h: new Float32Array(1) } }),
    () => m.trainStep({ ...data, y: new Float32Array(data.y.length).fill(3e38) }),
  ];
  for (const fn of failures) await attempt(fn); // warm-up: the batch buffers of this shape
  const before = measure(e);
  for (let i = 0; i < 300; i++) for (const fn of failures) await attempt(fn);
  assertSameHeap(measure(e), before, '1,200 failed calls');
  m.dispose();
});

test('models dropped without dispose are freed after garbage collection', () => {
  // A fresh process with --expose-gc, so that gc() can be forced.
  const script = `
    import { createModel } from ${JSON.stringify(new URL('../web/rnnlab.js', import.meta.url).href)};
    const config = { cell: 'lstm', inputSize: 4, hiddenSize: 32, outputSize: 4 };
    const first = await createModel(config);
    const e = first._abi;
    first.dispose();
    const top = () => { const p = e.scratch(1 << 20); e.bytesFree(p); return p; };
    const settle = async () => {
      for (let i = 0; i < 5; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 10)); }
    };
    async function makeGarbage(n) {
      for (let i = 0; i < n; i++) (await createModel(config)).trainStep({ x: new Float32Array(4 * 5 * 4), y: new Float32Array(4 * 5 * 4), shape: [4, 5, 4] });
    }
    await makeGarbage(50);
    await settle();
    const before = { bytes: e.memoryBytes(), top: top() };
    for (let round = 0; round < 5; round++) { await makeGarbage(50); await settle(); }
    console.log(JSON.stringify({ before, after: { bytes: e.memoryBytes(), top: top() } }));
  `;
  const run = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(run.status, 0, run.stderr);
  const { before, after } = JSON.parse(run.stdout.trim().split('\n').pop());
  assert.equal(after.bytes, before.bytes, '250 undisposed models: wasm memory grew');
  assert.ok(after.top - before.top < 1 << 20, `250 undisposed models: the heap grew by ${after.top - before.top} bytes`);
});
