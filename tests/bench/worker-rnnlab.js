// worker-rnnlab.js — times one workload on one rnnlab wasm build, in a
// process of its own (the library loads one build per process, and a
// WebAssembly.Memory never shrinks, so a fresh process gives each workload its
// own peak-memory figure).
//
//   node tests/bench/worker-rnnlab.js simd|plain CELL SIZE [budgetMs] [config JSON]
//
// The optional config JSON overrides the model's config (layers,
// bidirectional, dropout …: variants.js).
//
// Prints one tagged JSON line (common.js). Times:
//   - trainStep / predict through the public API (what a user gets: input
//     checks and copies included);
//   - the bare engine calls rnnlab_train_step / rnnlab_forward on the same
//     filled buffers (reached through model._abi, the engine's ABI, and
//     model._handle, the model's internals), for the comparison with native.
// Memory is the engine's WebAssembly.Memory (model._abi.memory, again an
// internal), buffer.byteLength after each phase.

import { init, createModel } from '../../web/rnnlab.js';
import { WORKLOADS, forwardFlops, stepFlops, median, inputs, timeReps, emit } from './common.js';

const [build, cell, size, budgetArg, variantArg] = process.argv.slice(2);
const variant = variantArg ? JSON.parse(variantArg) : {};
const w = WORKLOADS[size];
if (!['simd', 'plain'].includes(build) || !w || !['rnn', 'lstm', 'gru'].includes(cell)) {
  console.error('usage: worker-rnnlab.js simd|plain rnn|lstm|gru S|M|LONG [budgetMs]');
  process.exit(2);
}
const budgetMs = Number(budgetArg ?? 4000);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const loaded = await init({ simd: build === 'simd' });
const { X, H, B, T } = w;
const model = await createModel({ cell, inputSize: X, hiddenSize: H, outputSize: X, layers: 1, seed: 7, ...variant });
const abi = model._abi;
const mem = () => abi.memoryBytes();
const memory = { afterCreate: mem() };
const optimizer = { type: 'adam', lr: 1e-3 };

// Warm-up, part 1: V8 compiles wasm with its baseline tier first and moves a
// function to the optimising tier in the background once it has run enough;
// a call already running stays on the baseline code (no on-stack
// replacement). So: many short calls of a small shape, then a pause for the
// background compiler.
{
  const b = Math.min(B, 4), t = Math.min(T, 8);
  const x = inputs(b * t * X, 99);
  const small = { x, y: x, shape: [b, t, X] };
  for (let i = 0; i < 30; i++) {
    model.trainStep(small, { optimizer });
    model.predict(x, { shape: [b, t, X] });
  }
  await sleep(100);
  for (let i = 0; i < 5; i++) model.trainStep(small, { optimizer });
}
memory.afterSmallWarmup = mem();

// The workload: x [B, T, X], targets y = x (the head maps back to Y = X).
const x = inputs(B * T * X);
const batch = { x, y: x, shape: [B, T, X] };
const t0 = performance.now();
let info = model.trainStep(batch, { optimizer });
const firstStepMs = performance.now() - t0;
memory.afterFirstStep = mem();
const firstLoss = info.loss;
// Warm-up, part 2: a few steps of the real shape.
for (let i = 0; i < 2; i++) info = model.trainStep(batch, { optimizer });

const trainApi = await timeReps(() => { info = model.trainStep(batch, { optimizer }); }, { minReps: 5, maxReps: 25, minMs: 400, budgetMs: budgetMs * 0.35 });
if (!Number.isFinite(info.loss)) throw new Error(`non-finite loss ${info.loss}`);
// The API call above left x, y and the optimiser in the engine: the bare call
// runs the same step on the same buffers.
const handle = model._handle;
const trainEngine = await timeReps(() => {
  const status = abi.trainStep(handle, 0);
  if (status !== 0) throw new Error(`rnnlab_train_step: status ${status}`);
}, { minReps: 5, maxReps: 25, minMs: 300, budgetMs: budgetMs * 0.25 });
const lastLoss = model._stats()[0]; // the engine's stats buffer, slot 0 = loss (an internal)
memory.afterTrain = mem();

for (let i = 0; i < 2; i++) model.predict(x, { shape: [B, T, X] });
const forwardApi = await timeReps(() => model.predict(x, { shape: [B, T, X] }), { minReps: 5, maxReps: 25, minMs: 300, budgetMs: budgetMs * 0.2 });
const forwardEngine = await timeReps(() => {
  const status = abi.forward(handle, 0, false);
  if (status !== 0) throw new Error(`rnnlab_forward: status ${status}`);
}, { minReps: 5, maxReps: 25, minMs: 200, budgetMs: budgetMs * 0.15 });
// One more step after the forwards: a forward must not leave the next step
// needing more memory either.
model.trainStep(batch, { optimizer });
memory.afterAll = mem();
memory.peak = memory.afterAll; // a WebAssembly.Memory only grows
memory.grewAfterFirstStep = memory.afterAll > memory.afterFirstStep;

const summary = (t, flops) => ({
  wallMs: median(t.wall), cpuMs: median(t.cpu), reps: t.wall.length,
  wallGflops: flops / median(t.wall) / 1e6, cpuGflops: flops / median(t.cpu) / 1e6, wall: t.wall, cpu: t.cpu,
});
emit({
  impl: 'rnnlab', build, simd: loaded.simd, cell, size, ...w, variant,
  timing: {
    train: summary(trainApi, stepFlops(cell, w)), trainEngine: summary(trainEngine, stepFlops(cell, w)),
    forward: summary(forwardApi, forwardFlops(cell, w)), forwardEngine: summary(forwardEngine, forwardFlops(cell, w)),
  },
  firstStepMs, memory, loss: { first: firstLoss, last: lastLoss },
});
model.dispose();
