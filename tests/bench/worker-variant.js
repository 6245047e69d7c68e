// worker-variant.js — one option's cost, measured in one process: a base
// model and the same model with the option (same seed, same data) take
// turns, step for step, so both see the same machine.
//
//   node tests/bench/worker-variant.js CELL SIZE PAIRS 'BASE JSON' 'VARIANT JSON' [budgetMs] [--threads=N]
//
// Why one process: two processes on this 2-vCPU machine, shared with other
// tenants, can differ in speed by up to 50% (the same LSTM-M step took 117,
// 126 and 160 ms in three child processes), which swamped ratios near 1.
//
// Both models are built and warmed up (rnnlab-engine.js's small-shape
// warm-up, then 2 full-size steps each); then PAIRS pairs of training steps
// through the public API (model.trainStep), base then variant, each timed by
// the wall clock and by the process's CPU time. Each pair gives a ratio
// variant / base; the result is the median of those ratios (and their
// spread), with the medians of each model's steps. Stops early, after at
// least 5 pairs, once the next pair would pass budgetMs.
//
// Without --threads the engine is loaded with one thread (init({ threads: 1 })
// where the build has threads).

import { createModel } from '../../web/rnnlab.js';
import { WORKLOADS, median, inputs, cpuMs, emit } from './common.js';
import { loadRnnlab, threadsArg, warmUpSmall } from './rnnlab-engine.js';

const { threads, rest } = threadsArg(process.argv.slice(2));
const [cell, size, pairsArg, baseArg, variantArg, budgetArg] = rest;
const w = WORKLOADS[size];
const pairs = Number(pairsArg);
if (!w || !['rnn', 'lstm', 'gru'].includes(cell) || !(pairs >= 1) || !baseArg || !variantArg) {
  console.error("usage: worker-variant.js rnn|lstm|gru S|M|LONG PAIRS 'BASE JSON' 'VARIANT JSON' [budgetMs] [--threads=N]");
  process.exit(2);
}
const budgetMs = Number(budgetArg ?? 20000);
const loaded = await loadRnnlab('simd', threads ?? 1);
if (loaded.unavailable) {
  emit({ impl: 'rnnlab', cell, size, unavailable: loaded.unavailable });
  process.exit(0);
}

const { X, B, T } = w;
const optimizer = { type: 'adam', lr: 1e-3 };
const make = (config) => createModel({ cell, inputSize: X, hiddenSize: w.H, outputSize: X, layers: 1, seed: 7, ...config });
const models = { base: await make(JSON.parse(baseArg)), variant: await make(JSON.parse(variantArg)) };
const x = inputs(B * T * X);
const batch = { x, y: x, shape: [B, T, X] };
const losses = { base: NaN, variant: NaN };

// One timed training step of one model: { wall, cpu } in ms.
async function timedStep(which) {
  const c0 = cpuMs();
  const t0 = performance.now();
  const info = await models[which].trainStep(batch, { optimizer });
  const wall = performance.now() - t0;
  const cpu = cpuMs() - c0;
  losses[which] = info.loss;
  return { wall, cpu };
}

for (const which of ['base', 'variant']) await warmUpSmall(models[which], w, optimizer);
for (let i = 0; i < 2; i++) for (const which of ['base', 'variant']) await timedStep(which);

const times = { base: { wall: [], cpu: [] }, variant: { wall: [], cpu: [] } };
const ratios = { wall: [], cpu: [] };
const start = performance.now();
for (let i = 0; i < pairs; i++) {
  const b = await timedStep('base');
  const v = await timedStep('variant');
  for (const c of ['wall', 'cpu']) {
    times.base[c].push(b[c]);
    times.variant[c].push(v[c]);
    ratios[c].push(v[c] / b[c]);
  }
  const elapsed = performance.now() - start;
  if (i + 1 >= 5 && elapsed + elapsed / (i + 1) > budgetMs) break;
}
for (const which of ['base', 'variant']) {
  if (!Number.isFinite(losses[which])) throw new Error(`${which}: non-finite loss ${losses[which]}`);
  models[which].dispose();
}

const clock = (c) => ({
  baseMs: median(times.base[c]), variantMs: median(times.variant[c]),
  ratio: median(ratios[c]), ratioMin: Math.min(...ratios[c]), ratioMax: Math.max(...ratios[c]),
  ratioOfMedians: median(times.variant[c]) / median(times.base[c]), ratios: ratios[c],
});
emit({
  impl: 'rnnlab', cell, size, ...w, simd: loaded.simd, threads: loaded.threads, pairs: ratios.wall.length,
  base: JSON.parse(baseArg), variant: JSON.parse(variantArg), wall: clock('wall'), cpu: clock('cpu'),
  times, losses, notes: loaded.note ? [loaded.note] : [],
});
