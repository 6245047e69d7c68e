// worker-tfjs.js — the same workload in TensorFlow.js with its wasm backend,
// one workload per process.
//
//   node tests/bench/worker-tfjs.js CELL SIZE [budgetMs]
//
// The same definition of a step as rnnlab: an LSTM / GRU / SimpleRNN layer
// with returnSequences: true, a timeDistributed dense head to Y = X outputs,
// MSE, Adam (lr 1e-3), one batch [B, T, X] through model.trainOnBatch. One
// forward = model.predict on the same batch, read back with dataSync.
// TF.js's GRU is the reset-before variant, as rnnlab's default; its gates
// use the logistic sigmoid here, as rnnlab's (SPEC §1), not TF.js's default
// hardSigmoid.
//
// Single thread, like rnnlab: the multi-threaded wasm build is switched off
// (WASM_HAS_MULTITHREAD_SUPPORT = false); the SIMD build is used.
//
// Warm-up: a few steps on short sequences (the layer takes any T), which is
// cheap and warms V8's JIT for the JS of tfjs-layers and the wasm kernels,
// then full-size steps while the budget allows. A workload whose full-size
// step is too slow for the budget (LONG: tens of seconds a step) is timed
// once, on its first full-size step: the result says how many ran.

import { createRequire } from 'node:module';
import path from 'node:path';
import { WORKLOADS, forwardFlops, stepFlops, median, inputs, timeReps, cpuMs, emit } from './common.js';

const [cell, size, budgetArg] = process.argv.slice(2);
const w = WORKLOADS[size];
if (!w || !['rnn', 'lstm', 'gru'].includes(cell)) {
  console.error('usage: worker-tfjs.js rnn|lstm|gru S|M|LONG [budgetMs]');
  process.exit(2);
}
const budgetMs = Number(budgetArg ?? 30000);
let started; // the budget counts from the model's creation, not the (slow) module loading
const left = () => budgetMs - (performance.now() - started);

const tf = await import('@tensorflow/tfjs');
const wasmBackend = await import('@tensorflow/tfjs-backend-wasm');
const require = createRequire(import.meta.url);
const wasmDir = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + path.sep;
wasmBackend.setWasmPaths(wasmDir); // a file path: the Emscripten glue reads it with fs in Node
tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
if (!(await tf.setBackend('wasm'))) throw new Error('could not set the TF.js wasm backend');
await tf.ready();
const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
const threads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');

const { X, H, B, T } = w;
const layerOf = { rnn: 'simpleRNN', lstm: 'lstm', gru: 'gru' }[cell];
const model = tf.sequential();
// The gates as in SPEC §1: tanh, and the logistic sigmoid for the LSTM/GRU
// gates (TF.js defaults to hardSigmoid there). glorotUniform instead of the
// default orthogonal recurrent init: the init is not timed, and TF.js's
// orthogonal init of a 4H x H matrix is slow.
const gates = cell === 'rnn' ? {} : { recurrentActivation: 'sigmoid' };
model.add(tf.layers[layerOf]({
  units: H, activation: 'tanh', ...gates, returnSequences: true, inputShape: [null, X], recurrentInitializer: 'glorotUniform',
}));
model.add(tf.layers.timeDistributed({ layer: tf.layers.dense({ units: X }) }));
model.compile({ optimizer: tf.train.adam(1e-3), loss: 'meanSquaredError' });
started = performance.now();

const batchOf = (b, t) => tf.tensor3d(inputs(b * t * X), [b, t, X]);
const step = async (x) => model.trainOnBatch(x, x); // returns the loss as a number (a sync point)
const forward = (x) => tf.tidy(() => model.predict(x)).dataSync();
const heap = () => tf.backend().wasm?.HEAPU8?.buffer?.byteLength ?? null;

// Warm-up on short sequences.
const tShort = Math.min(T, 8);
const short = batchOf(B, tShort);
for (let i = 0; i < 4; i++) {
  await step(short);
  tf.dispose(tf.tidy(() => model.predict(short)));
}
short.dispose();

const x = batchOf(B, T);
const notes = [];
let loss;
// Times one call: { wall: [ms], cpu: [ms] }.
const once = async (fn) => {
  const c0 = cpuMs();
  const t0 = performance.now();
  await fn();
  return { wall: [performance.now() - t0], cpu: [cpuMs() - c0] };
};
// First full-size step: it also tells how long one takes.
const first = await once(async () => { loss = await step(x); });
const firstStepMs = first.wall[0];
let train;
let warmSteps = 1;
if (left() > firstStepMs * 0.6) {
  // More full-size warm-up steps: TF.js keeps getting faster over its first
  // few steps (V8's JIT on the JS of tfjs-layers, the wasm heap growing),
  // so up to 8 while they fit in 30% of the budget, then timed steps with
  // 15% of the budget kept for the forward pass.
  const warmStart = performance.now();
  let last = firstStepMs;
  while (warmSteps < 8 && (performance.now() - warmStart) + last < budgetMs * 0.3 && left() > last * 2) {
    const t = await once(async () => { loss = await step(x); });
    last = t.wall[0];
    warmSteps++;
  }
  train = await timeReps(async () => { loss = await step(x); }, { minReps: 3, maxReps: 10, minMs: 1500, budgetMs: Math.max(1, left() - budgetMs * 0.15), floorReps: 1 });
} else {
  // no room for a second step (LONG): the first full-size step is the measurement
  train = first;
  notes.push('step timed once: the first full-size step, after short-sequence warm-up only (so it includes TF.js\'s one-time costs: an upper bound)');
}
if (train.wall.length < 3) notes.push(`${train.wall.length} timed step(s): too slow for more in the budget`);

let fwd = null;
// A forward costs about a third of a step: time it only when that fits,
// after a few warm-up calls.
if (left() > median(train.wall) * 0.4) {
  let f1 = await once(() => forward(x));
  const warmStart = performance.now();
  for (let i = 0; i < 5 && (performance.now() - warmStart) + f1.wall[0] < left() * 0.3; i++) f1 = await once(() => forward(x));
  if (left() > f1.wall[0] * 2) {
    fwd = await timeReps(() => forward(x), { minReps: 3, maxReps: 10, minMs: 500, budgetMs: Math.max(f1.wall[0], left()), floorReps: 1 });
  } else {
    fwd = f1;
    notes.push('forward timed once');
  }
} else {
  notes.push('forward not timed (no time left in the budget)');
}
x.dispose();

const summary = (t, flops) => (t ? {
  wallMs: median(t.wall), cpuMs: median(t.cpu), reps: t.wall.length,
  wallGflops: flops / median(t.wall) / 1e6, cpuGflops: flops / median(t.cpu) / 1e6, wall: t.wall, cpu: t.cpu,
} : null);
emit({
  impl: 'tfjs', backend: tf.getBackend(), version: tf.version.tfjs, simd, threads, cell, size, ...w,
  timing: { train: summary(train, stepFlops(cell, w)), forward: summary(fwd, forwardFlops(cell, w)) },
  firstStepMs, warmSteps, loss, wasmMemoryBytes: heap(), notes,
});
