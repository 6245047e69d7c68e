// ab.js — two engine builds side by side, for judging a change on a noisy
// machine: the builds take turns (ABBAAB…), a fresh process each time, so
// both see the same disturbances, and the medians of the turns are compared.
//
//   node tests/bench/ab.js A.wasm B.wasm [--cell=lstm] [--size=M] [--rounds=4]
//                          [--phase=train|forward] [--config=JSON] [--threads=N]
//
// Each turn times the bare engine call rnnlab_train_step, or with
// --phase=forward rnnlab_forward without the loss (the model's internals, as
// worker-rnnlab.js does), on one SPEC §10 workload after the same warm-up,
// and prints its median wall-clock and CPU time (process.cpuUsage, as
// common.js's cpuMs: on a busy machine a step's CPU time moves much less than
// its wall-clock time); the last line gives each build's medians over the
// turns and the ratios B/A (below 1: B is faster). --config overrides the
// model's config as worker-rnnlab.js's does, e.g. '{"gruVariant":"reset-after"}'.
// --threads=N loads both builds with init({ threads: N }): then both must be
// threaded builds (web/dist/rnnlab-simd-threads.wasm and a variant of it).

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { WORKLOADS, CELLS, median, inputs, cpuMs } from './common.js';

const args = process.argv.slice(2);
const option = (name, fallback) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback;

if (args[0] === '--turn') {
  await turn(args[1], args[2], args[3], args[4], JSON.parse(args[5] ?? '{}'), Number(args[6] ?? 1));
} else {
  const builds = args.filter((a) => !a.startsWith('--'));
  const cell = option('cell', 'lstm');
  const size = option('size', 'M');
  const rounds = Number(option('rounds', 4));
  const phase = option('phase', 'train');
  const config = args.find((a) => a.startsWith('--config='))?.slice('--config='.length) ?? '{}';
  const threads = Number(option('threads', 1));
  if (builds.length !== 2 || !CELLS.includes(cell) || !WORKLOADS[size] || !(rounds >= 1) || !['train', 'forward'].includes(phase) ||
      !(Number.isInteger(threads) && threads >= 1)) {
    console.error('usage: node tests/bench/ab.js A.wasm B.wasm [--cell=rnn|lstm|gru] [--size=S|M|LONG] [--rounds=N] [--phase=train|forward] [--config=JSON] [--threads=N]');
    process.exit(2);
  }
  const times = builds.map(() => ({ wall: [], cpu: [] }));
  for (let r = 0; r < rounds; r++) {
    // A first in odd rounds, B first in even ones: the order is no bias
    for (const k of r % 2 ? [1, 0] : [0, 1]) {
      const wasm = builds[k];
      const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--turn', wasm, cell, size, phase, config, String(threads)], { encoding: 'utf8' });
      if (child.status !== 0) {
        console.error(`ab: ${wasm}: ${child.stderr.trim()}`);
        process.exit(1);
      }
      const [wall, cpu] = child.stdout.trim().split(' ').map(Number);
      times[k].wall.push(wall);
      times[k].cpu.push(cpu);
      console.log(`round ${r + 1} ${k ? 'B' : 'A'} ${wall.toFixed(2)} ms (CPU ${cpu.toFixed(2)} ms)`);
    }
  }
  const what = phase === 'train' ? 'step' : 'forward';
  const line = (clock) => {
    const [a, b] = times.map((t) => median(t[clock]));
    return `A ${a.toFixed(2)} ms, B ${b.toFixed(2)} ms, B/A ${(b / a).toFixed(3)}`;
  };
  const named = (config === '{}' ? '' : ` ${config}`) + (threads > 1 ? `, ${threads} threads` : '');
  console.log(`${cell}${named} ${size} ${phase} per ${what}, medians of ${rounds} turns: wall ${line('wall')}; CPU ${line('cpu')}`);
}

// One turn: the medians of 11 bare training steps (or forwards), wall-clock
// and CPU time, printed alone.
async function turn(wasmPath, cell, size, phase, config, threads) {
  const { readFileSync } = await import('node:fs');
  const { init, createModel } = await import('../../web/rnnlab.js');
  const loaded = await init({ wasm: readFileSync(wasmPath), threads });
  if ((loaded.threads ?? 1) !== threads) throw new Error(`asked for ${threads} threads, got ${loaded.threads}: ${loaded.threadsUnavailable ?? ''}`);
  const { X, H, B, T } = WORKLOADS[size];
  const model = await createModel({ cell, inputSize: X, hiddenSize: H, outputSize: X, seed: 7, ...config });
  // Warm-up as in worker-rnnlab.js: short calls first, then a pause for V8's
  // background compiler, then the workload's own shape.
  const small = inputs(4 * 8 * X, 99);
  for (let i = 0; i < 30; i++) model.trainStep({ x: small, y: small, shape: [4, 8, X] });
  await new Promise((resolve) => setTimeout(resolve, 200));
  const x = inputs(B * T * X);
  model.trainStep({ x, y: x, shape: [B, T, X] });
  const abi = model._abi;
  const times = [];
  const cpu = [];
  for (let i = 0; i < 11; i++) {
    const c0 = cpuMs();
    const t0 = performance.now();
    const status = phase === 'forward' ? abi.forward(model._handle, 0, false) : abi.trainStep(model._handle, 0);
    times.push(performance.now() - t0);
    cpu.push(cpuMs() - c0);
    if (status !== 0) throw new Error(`rnnlab_${phase === 'forward' ? 'forward' : 'train_step'} returned status ${status}`);
  }
  console.log(`${median(times)} ${median(cpu)}`);
}
