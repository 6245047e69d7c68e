// common.js — what every part of the benchmark agrees on: the workloads of
// SPEC §10, the flop count, and the timing loop.

export const WORKLOADS = {
  S: { X: 16, H: 64, B: 16, T: 32 },
  M: { X: 64, H: 256, B: 32, T: 64 },
  LONG: { X: 1, H: 128, B: 32, T: 512 },
};
export const CELLS = ['rnn', 'lstm', 'gru'];
export const GATES = { rnn: 1, lstm: 4, gru: 3 };

// SPEC §10: forward 2·G·H·(X+H)·B·T flops; backward about twice that, so a
// training step counts 3× the forward. The head and the elementwise work are
// not counted.
export function forwardFlops(cell, { X, H, B, T }) {
  return 2 * GATES[cell] * H * (X + H) * B * T;
}
export function stepFlops(cell, w) {
  return 3 * forwardFlops(cell, w);
}

export function median(values) {
  if (!values.length) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

// Deterministic inputs in [-1, 1) (the numbers do not matter for the timing,
// only that they are finite and not all alike).
export function inputs(n, seed = 12345) {
  const x = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = (s >>> 8) / 8388608 - 1;
  }
  return x;
}

// CPU time of this process in ms (user + system, every thread), read with
// getrusage: microsecond resolution. On a machine shared with other work, a
// step's CPU time moves much less than its wall-clock time when the scheduler
// lends the core to someone else; on an idle machine the two agree for these
// single-threaded steps (V8's helper threads add a little, mostly GC).
export const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e3;
};

// Times `fn` (sync or async) repeatedly: at least `minReps` runs and
// `minMs` of runs, at most `maxReps`, and no new run once the next one would
// pass `budgetMs` (wall-clock time), though never fewer than `floorReps`.
// Returns the run times in ms: { wall: [...], cpu: [...] }.
export async function timeReps(fn, { minReps = 5, maxReps = 30, minMs = 500, budgetMs = 3000, floorReps = 3 } = {}) {
  const wall = [];
  const cpu = [];
  const start = performance.now();
  for (;;) {
    const c0 = cpuMs();
    const t0 = performance.now();
    const r = fn();
    if (r && typeof r.then === 'function') await r;
    const t1 = performance.now();
    cpu.push(cpuMs() - c0);
    wall.push(t1 - t0);
    const elapsed = performance.now() - start;
    const next = median(wall);
    if (wall.length >= maxReps) break;
    if (wall.length >= floorReps && elapsed + next > budgetMs) break;
    if (wall.length >= minReps && elapsed >= minMs) break;
  }
  return { wall, cpu };
}

export const round = (v, digits = 3) => (Number.isFinite(v) ? Number(v.toPrecision(digits + 1)) : null);

// A worker prints its result as one JSON line tagged so the parent can find it
// among anything a library prints.
export const RESULT_TAG = '@@bench-result ';
export function emit(obj) {
  process.stdout.write(`${RESULT_TAG}${JSON.stringify(obj)}\n`);
}
