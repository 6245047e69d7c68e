// ab-paired.js — two engine builds in one process, for judging changes of a
// few percent on a noisy machine. ab.js starts a fresh process a turn, and on
// a shared machine a whole process can land in a slow or a fast phase (the
// same build gives 0.65 or 1.05 ms a forward from one process to the next),
// so its A/A control spans about 0.96–1.06 at 16 rounds. Here both builds
// are loaded side by side (each through its own copy of web/, as the library
// loads one engine per copy), warmed up alike, and then run in blocks of about
// 40 ms of steps taking turns ABBA…; each block's median CPU time is compared
// with its partner's, so a slow phase hits both sides of a pair.
//
//   node tests/bench/ab-paired.js A.wasm B.wasm [--cell=lstm] [--size=S]
//        [--phase=train|forward] [--blocks=16] [--config=JSON]
//
// The last line gives each build's median block, B/A of those medians, and
// the median of the per-pair ratios B/A with its quartiles (below 1: B is
// faster).

import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { WORKLOADS, CELLS, median, inputs, cpuMs } from './common.js';

const args = process.argv.slice(2);
const option = (name, fallback) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const builds = args.filter((a) => !a.startsWith('--'));
const cell = option('cell', 'lstm');
const size = option('size', 'S');
const phase = option('phase', 'train');
const blocks = Number(option('blocks', 16));
const config = JSON.parse(option('config', '{}'));
if (builds.length !== 2 || !CELLS.includes(cell) || !WORKLOADS[size] || !(blocks >= 2) || !['train', 'forward'].includes(phase)) {
  console.error('usage: node tests/bench/ab-paired.js A.wasm B.wasm [--cell=rnn|lstm|gru] [--size=S|M|LONG] [--phase=train|forward] [--blocks=N] [--config=JSON]');
  process.exit(2);
}

const web = fileURLToPath(new URL('../../web/', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'rnnlab-ab-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));
const { X, H, B, T } = WORKLOADS[size];

// One build through its own copy of the library: returns one bare step.
async function load(wasmPath, k) {
  const dir = join(scratch, String(k));
  cpSync(web, dir, { recursive: true });
  const lib = await import(pathToFileURL(join(dir, 'rnnlab.js')).href);
  await lib.init({ wasm: readFileSync(wasmPath) });
  const model = await lib.createModel({ cell, inputSize: X, hiddenSize: H, outputSize: X, seed: 7, ...config });
  const small = inputs(4 * 8 * X, 99);
  for (let i = 0; i < 30; i++) model.trainStep({ x: small, y: small, shape: [4, 8, X] });
  const x = inputs(B * T * X);
  model.trainStep({ x, y: x, shape: [B, T, X] });
  const abi = model._abi;
  return () => {
    const status = phase === 'forward' ? abi.forward(model._handle, 0, false) : abi.trainStep(model._handle, 0);
    if (status !== 0) throw new Error(`${wasmPath}: status ${status}`);
  };
}

const runs = [await load(builds[0], 0), await load(builds[1], 1)];
// Warm-up: both tiers of V8's compiler for both builds, with a pause for the
// background compiler (wasm has no on-stack replacement).
for (let i = 0; i < 5; i++) runs.forEach((run) => run());
await new Promise((resolve) => setTimeout(resolve, 300));
for (let i = 0; i < 5; i++) runs.forEach((run) => run());

const t0 = performance.now();
runs[0]();
const steps = Math.max(1, Math.round(40 / (performance.now() - t0)));
const block = (run) => {
  const times = [];
  for (let i = 0; i < steps; i++) {
    const c0 = cpuMs();
    run();
    times.push(cpuMs() - c0);
  }
  return median(times);
};

const times = [[], []];
const ratios = [];
for (let r = 0; r < blocks; r++) {
  const pair = [0, 0];
  for (const k of r % 2 ? [1, 0] : [0, 1]) pair[k] = block(runs[k]);
  times[0].push(pair[0]);
  times[1].push(pair[1]);
  ratios.push(pair[1] / pair[0]);
  console.log(`block ${r + 1}: A ${pair[0].toFixed(3)} ms, B ${pair[1].toFixed(3)} ms, B/A ${(pair[1] / pair[0]).toFixed(3)}`);
}
const quartile = (v, f) => [...v].sort((a, b) => a - b)[Math.floor(f * (v.length - 1))];
const [a, b] = times.map(median);
const named = Object.keys(config).length ? ` ${JSON.stringify(config)}` : '';
console.log(`${cell}${named} ${size} ${phase}, ${blocks} blocks of ${steps}: A ${a.toFixed(3)} ms, B ${b.toFixed(3)} ms (CPU), ` +
  `B/A ${(b / a).toFixed(3)}; paired B/A ${median(ratios).toFixed(3)} [q25 ${quartile(ratios, 0.25).toFixed(3)}, q75 ${quartile(ratios, 0.75).toFixed(3)}]`);
