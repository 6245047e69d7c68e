// worker-rnnlab.js — times one workload on one rnnlab wasm build, in a
// process of its own (the library loads one build per process, and a
// WebAssembly.Memory never shrinks, so a fresh process gives each workload its
// own peak-memory figure).
//
//   node tests/bench/worker-rnnlab.js simd|plain CELL SIZE [budgetMs] [config JSON] [--threads=N]
//
// The optional config JSON overrides the model's config (layers,
// bidirectional, dropout …). --threads=N loads the engine with
// init({ threads: N }) (rnnlab-engine.js); without it, init() as it is. When
// this build cannot run N threads, the result says so ({ unavailable }) and
// nothing is timed.
//
// Prints one tagged JSON line (common.js). Times:
//   - trainStep / predict through the public API (what a user gets: input
//     checks and copies included);
//   - the bare engine calls rnnlab_train_step / rnnlab_forward on the same
//     filled buffers (reached through model._abi, the engine's ABI, and
//     model._handle, the model's internals), for the comparison with native;
//     skipped with a note if those internals do not answer as expected.
// Each call is timed by the wall clock and by the process's CPU time (every
// thread: with threads, CPU time exceeds wall time).
// Memory is the engine's WebAssembly.Memory (model._abi.memory, again an
// internal), buffer.byteLength after each phase.

import { createModel } from '../../web/rnnlab.js';
import { WORKLOADS, forwardFlops, stepFlops, median, inputs, timeReps, emit } from './common.js';
import { loadRnnlab, threadsArg, warmUpSmall } from './rnnlab-engine.js';

const { threads: threadsWanted, rest: argv } = threadsArg(process.argv.slice(2));
const [build, cell, size, budgetArg, variantArg] = argv;
const variant = variantArg ? JSON.parse(variantArg) : {};
const w = WORKLOADS[size];
if (!['simd', 'plain'].includes(build) || !w || !['rnn', 'lstm', 'gru'].includes(cell)) {
  console.error('usage: worker-rnnlab.js simd|plain rnn|lstm|gru S|M|LONG [budgetMs] [config JSON] [--threads=N]');
  process.exit(2);
}
const budgetMs = Number(budgetArg ?? 4000);

const loaded = await loadRnnlab(build, threadsWanted);
if (loaded.unavailable) {
  emit({ impl: 'rnnlab', build, cell, size, ...w, variant, threadsRequested: threadsWanted, unavailable: loaded.unavailable });
  process.exit(0);
}
const { X, H, B, T } = w;
const model = await createModel({ cell, inputSize: X, hiddenSize: H, outputSize: X, layers: 1, seed: 7, ...variant });
const abi = model._abi;
const mem = () => abi.memoryBytes();
const memory = { afterCreate: mem() };
const optimizer = { type: 'adam', lr: 1e-3 };

await warmUpSmall(model, w, optimizer);
memory.afterSmallWarmup = mem();

// A call's result, whether the API returns it or a promise of it.
const settle = (r, keep) => (r && typeof r.then === 'function' ? r.then(keep) : keep(r));
const notes = loaded.note ? [loaded.note] : [];

// The workload: x [B, T, X], targets y = x (the head maps back to Y = X).
const x = inputs(B * T * X);
const batch = { x, y: x, shape: [B, T, X] };
let info;
const step = () => settle(model.trainStep(batch, { optimizer }), (v) => { info = v; });
const predict = () => settle(model.predict(x, { shape: [B, T, X] }), () => {});
const t0 = performance.now();
await step();
const firstStepMs = performance.now() - t0;
memory.afterFirstStep = mem();
const firstLoss = info.loss;
// Warm-up, part 2: a few steps of the real shape.
for (let i = 0; i < 2; i++) await step();

const trainApi = await timeReps(step, { minReps: 5, maxReps: 25, minMs: 400, budgetMs: budgetMs * 0.35 });
if (!Number.isFinite(info.loss)) throw new Error(`non-finite loss ${info.loss}`);
let lastLoss = info.loss;

// The bare engine calls. The API call above left x, y and the optimiser in
// the engine: rnnlab_train_step runs the same step on the same buffers.
async function bareCall(name, call, opts) {
  try {
    if (typeof call !== 'function') throw new Error('not found');
    return await timeReps(() => {
      const status = call();
      if (status !== 0) throw new Error(`status ${status}`);
    }, opts);
  } catch (err) {
    notes.push(`bare ${name} not timed: ${err.message}`);
    return null;
  }
}
const handle = model._handle;
const trainEngine = await bareCall('rnnlab_train_step', abi.trainStep && (() => abi.trainStep(handle, 0)), { minReps: 5, maxReps: 25, minMs: 300, budgetMs: budgetMs * 0.25 });
if (trainEngine && typeof model._stats === 'function') lastLoss = model._stats()[0]; // the engine's stats buffer, slot 0 = loss (an internal)
memory.afterTrain = mem();

for (let i = 0; i < 2; i++) await predict();
const forwardApi = await timeReps(predict, { minReps: 5, maxReps: 25, minMs: 300, budgetMs: budgetMs * 0.2 });
const forwardEngine = await bareCall('rnnlab_forward', abi.forward && (() => abi.forward(handle, 0, false)), { minReps: 5, maxReps: 25, minMs: 200, budgetMs: budgetMs * 0.15 });
// One more step after the forwards: a forward must not leave the next step
// needing more memory either.
await step();
memory.afterAll = mem();
memory.peak = memory.afterAll; // a WebAssembly.Memory only grows
memory.grewAfterFirstStep = memory.afterAll > memory.afterFirstStep;

const summary = (t, flops) => (t ? {
  wallMs: median(t.wall), cpuMs: median(t.cpu), reps: t.wall.length,
  wallGflops: flops / median(t.wall) / 1e6, cpuGflops: flops / median(t.cpu) / 1e6, wall: t.wall, cpu: t.cpu,
} : null);
emit({
  impl: 'rnnlab', build, simd: loaded.simd, threads: loaded.threads, threadsRequested: loaded.threadsRequested, cell, size, ...w, variant,
  timing: {
    train: summary(trainApi, stepFlops(cell, w)), trainEngine: summary(trainEngine, stepFlops(cell, w)),
    forward: summary(forwardApi, forwardFlops(cell, w)), forwardEngine: summary(forwardEngine, forwardFlops(cell, w)),
  },
  firstStepMs, memory, loss: { first: firstLoss, last: lastLoss }, notes,
});
model.dispose();
