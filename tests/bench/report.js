// report.js — bench.js's results turned into rows, ratios, targets and
// Markdown. Nothing here runs a benchmark.
//
// Clocks: 'wall' (medians of wall-clock time: what a user waits) and 'cpu'
// (medians of the process's CPU time, every thread: much less disturbed by
// other work on a shared machine, and equal to the wall time on an idle one
// for single-threaded work). With threads, CPU time adds up the threads and
// is no longer a time anyone waits: threaded figures are wall clock only.

import { WORKLOADS, forwardFlops, stepFlops } from './common.js';

export const CLOCKS = ['wall', 'cpu'];
const MiB = 2 ** 20;

const ms = (r, phase, clock) => r?.timing?.[phase]?.[`${clock}Ms`];
const fin = (v) => (Number.isFinite(v) ? v : undefined);
export const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : undefined);
const geomean = (v) => (v.length ? Math.exp(v.reduce((a, b) => a + Math.log(b), 0) / v.length) : null);
const minOf = (...v) => (v.some(Number.isFinite) ? Math.min(...v.filter(Number.isFinite)) : undefined);

// The figures of one workload on one clock.
function figures(res, k, cell, w, c) {
  const t = (name, phase) => fin(ms(res[name]?.[k], phase, c));
  const g = {
    train1: t('simd', 'train'), forward1: t('simd', 'forward'), train2: t('simd2', 'train'), forward2: t('simd2', 'forward'),
    trainEngine1: t('simd', 'trainEngine'), forwardEngine1: t('simd', 'forwardEngine'),
    plainTrain: t('plain', 'train'), plainForward: t('plain', 'forward'),
    nativeTrain: t('native', 'train'), nativeForward: t('native', 'forward'),
    tfjsTrain: t('tfjs', 'train'), tfjsForward: t('tfjs', 'forward'),
    torchTrain1: t('torch1', 'train'), torchTrain2: t('torch2', 'train'), torchForward1: t('torch1', 'forward'), torchForward2: t('torch2', 'forward'),
    ortForward1: t('ort1', 'forward'), ortForward2: t('ort2', 'forward'),
  };
  g.trainGflops1 = ratio(stepFlops(cell, w) / 1e6, g.train1);
  g.trainGflops2 = ratio(stepFlops(cell, w) / 1e6, g.train2);
  g.forwardGflops1 = ratio(forwardFlops(cell, w) / 1e6, g.forward1);
  // speedups: > 1 means the first named (rnnlab, 2 threads, SIMD, wasm) is faster
  g.threadSpeedup = ratio(g.train1, g.train2);
  g.forwardThreadSpeedup = ratio(g.forward1, g.forward2);
  g.torchBestTrain = minOf(g.torchTrain1, g.torchTrain2);
  g.torchBestThreads = g.torchBestTrain === undefined ? undefined : g.torchBestTrain === g.torchTrain1 ? 1 : 2;
  g.vsTorchBest2 = ratio(g.torchBestTrain, g.train2);
  g.vsTorchBest1 = ratio(g.torchBestTrain, g.train1);
  g.vsOrt1 = ratio(g.ortForward1, g.forward1);
  g.vsOrt2 = ratio(g.ortForward2, g.forward2);
  g.speedupVsTfjs = ratio(g.tfjsTrain, g.train1);
  g.speedupVsTfjs2 = ratio(g.tfjsTrain, g.train2);
  g.forwardSpeedupVsTfjs = ratio(g.tfjsForward, g.forward1);
  // wasm vs native compares the bare engine calls on both sides
  g.wasmVsNative = ratio(g.nativeTrain, g.trainEngine1);
  g.wasmVsNativeForward = ratio(g.nativeForward, g.forwardEngine1);
  g.plainSlowdown = ratio(g.plainTrain, g.train1);
  g.plainForwardSlowdown = ratio(g.plainForward, g.forward1);
  return g;
}

/** One row per workload, in `order`. */
export function buildRows(res, order) {
  return order.map(({ cell, size }) => {
    const k = `${cell}-${size}`;
    const w = WORKLOADS[size];
    const row = { workload: k, cell, size, ...w, stepGflop: stepFlops(cell, w) / 1e9, forwardGflop: forwardFlops(cell, w) / 1e9 };
    for (const c of CLOCKS) row[c] = figures(res, k, cell, w, c);
    const s1 = res.simd[k], s2 = res.simd2?.[k], p = res.plain[k], t = res.tfjs[k];
    row.threads2 = s2?.unavailable ? 'unavailable' : s2?.threads;
    if (s1?.memory) Object.assign(row, { peakMemoryBytes: s1.memory.peak, memoryAfterFirstStepBytes: s1.memory.afterFirstStep, memoryGrew: s1.memory.grewAfterFirstStep });
    if (s2?.memory) {
      Object.assign(row, { peakMemoryBytes2: s2.memory.peak, memoryGrew2: s2.memory.grewAfterFirstStep });
      if (Number.isFinite(s1?.memory?.peak)) row.threadMemoryBytes = s2.memory.peak - s1.memory.peak;
    }
    if (p?.memory) Object.assign(row, { plainPeakMemoryBytes: p.memory.peak, plainMemoryGrew: p.memory.grewAfterFirstStep });
    if (t?.timing) Object.assign(row, { tfjsReps: t.timing.train?.reps, tfjsNotes: t.notes, tfjsWasmMemoryBytes: t.wasmMemoryBytes });
    for (const n of [1, 2]) {
      const o = res[`ort${n}`]?.[k];
      if (o?.timing) row[`ort${n}`] = { threads: o.threads, cpuPerWall: o.cpuPerWall, maxAbsDiff: o.maxAbsDiff };
      const pt = res[`torch${n}`]?.[k];
      if (pt?.timing) row[`torch${n}`] = { threads: pt.threads, trainCpuPerWall: ratio(pt.timing.train.cpuMs, pt.timing.train.wallMs) };
    }
    return row;
  });
}

/** Geometric means and worst cases over the workloads, per clock. */
export function summarize(rows) {
  const summary = {};
  for (const c of CLOCKS) {
    const all = (f) => rows.map((r) => r[c][f]).filter(Number.isFinite);
    const m = rows.find((r) => r.workload === 'lstm-M')?.[c];
    const pick = (o, keys) => (o ? Object.fromEntries(keys.map((key) => [key, o[key] ?? null])) : null);
    const keys = ['threadSpeedup', 'forwardThreadSpeedup', 'vsTorchBest2', 'vsTorchBest1', 'vsOrt1', 'vsOrt2', 'speedupVsTfjs', 'speedupVsTfjs2', 'wasmVsNative', 'plainSlowdown'];
    summary[c] = {
      lstmM: pick(m, ['train1', 'train2', 'trainGflops1', 'trainGflops2', ...keys]),
      geomean: Object.fromEntries(keys.map((key) => [key, geomean(all(key))])),
      worst: {
        vsOrt1: all('vsOrt1').length ? Math.min(...all('vsOrt1')) : null,
        vsOrt2: all('vsOrt2').length ? Math.min(...all('vsOrt2')) : null,
        wasmVsNative: all('wasmVsNative').length ? Math.min(...all('wasmVsNative')) : null,
        plainSlowdown: all('plainSlowdown').length ? Math.max(...all('plainSlowdown')) : null,
      },
    };
  }
  return summary;
}

// ------------------------------------------------------------------ targets

// A target: { target, wall, cpu?, note? }; wall/cpu true (met), false (not
// met) or null (not measured; note says why). Targets on threaded figures
// have no cpu entry.
function check(v, ok) {
  return Number.isFinite(v) ? ok(v) : null;
}

/** Every target of issues 5, 11 and 14, judged on this run. */
export function judgeTargets(rows, ctx) {
  const out = [];
  const row = (k) => rows.find((r) => r.workload === k);
  const lstmM = row('lstm-M');
  const threadsNote = ctx.threadsUnavailable ? '2 threads not available in this build' : null;
  const torchNote = ctx.torchNote;
  for (const cell of ['lstm', 'gru', 'rnn']) {
    const r = row(`${cell}-M`);
    if (!r) continue;
    out.push({
      target: `${cell.toUpperCase()}-M training step on 2 threads faster than PyTorch's best (the faster of 1 and 2 threads)`,
      wall: torchNote ? null : check(r.wall.vsTorchBest2, (v) => v > 1),
      note: torchNote ?? (Number.isFinite(r.wall.vsTorchBest2) ? null : threadsNote ?? 'not measured'),
    });
  }
  if (lstmM) {
    const two = Number.isFinite(lstmM.wall.train2);
    out.push({
      target: 'LSTM-M step at most 55 ms',
      wall: check(two ? lstmM.wall.train2 : lstmM.wall.train1, (v) => v <= 55),
      note: two ? '2 threads' : `1 thread (${threadsNote ?? '2 threads not measured'})`,
    });
  }
  for (const n of [1, 2]) {
    const cellsMeasured = rows.filter((r) => Number.isFinite(r.wall[`vsOrt${n}`]));
    const all = (c) => (cellsMeasured.length === rows.length && rows.length ? rows.every((r) => r[c][`vsOrt${n}`] >= 1.6) : null);
    const failing = rows.filter((r) => !(r.wall[`vsOrt${n}`] >= 1.6)).map((r) => r.workload);
    out.push({
      target: `forward pass at least 1.6× faster than onnxruntime-web, both on ${n} thread${n > 1 ? 's' : ''} (every workload run)`,
      wall: all('wall'), ...(n === 1 ? { cpu: all('cpu') } : {}),
      note: cellsMeasured.length < rows.length ? (n === 2 && threadsNote) || `measured on ${cellsMeasured.length} of ${rows.length} workloads` : failing.length ? `below 1.6× by the wall clock: ${failing.join(', ')}` : null,
    });
  }
  if (lstmM) {
    out.push({ target: 'LSTM-M at least 40× faster per step than TF.js\'s wasm backend (both on 1 thread)', wall: check(lstmM.wall.speedupVsTfjs, (v) => v >= 40), cpu: check(lstmM.cpu.speedupVsTfjs, (v) => v >= 40) });
    out.push({ target: 'LSTM-M step at least 30 GFLOP/s (1 thread)', wall: check(lstmM.wall.trainGflops1, (v) => v >= 30), cpu: check(lstmM.cpu.trainGflops1, (v) => v >= 30) });
    out.push({ target: 'wasm at least 0.8× the speed of native (LSTM-M, 1 thread)', wall: check(lstmM.wall.wasmVsNative, (v) => v >= 0.8), cpu: check(lstmM.cpu.wasmVsNative, (v) => v >= 0.8) });
  }
  const mem = rows.filter((r) => Number.isFinite(r.threadMemoryBytes));
  const worstMem = mem.length ? Math.max(...mem.map((r) => r.threadMemoryBytes)) : undefined;
  out.push({
    target: 'threads add at most 1 MiB of wasm memory per thread (peak, 2 threads minus 1 thread, every workload)',
    memory: check(worstMem, (v) => v <= MiB),
    note: mem.length ? `most added: ${(worstMem / MiB).toFixed(2)} MiB (${mem.find((r) => r.threadMemoryBytes === worstMem).workload})` : threadsNote ?? 'not measured',
  });
  const grew = rows.filter((r) => r.memoryGrew || r.memoryGrew2 || r.plainMemoryGrew).map((r) => r.workload);
  const memoryChecked = rows.some((r) => r.memoryGrew !== undefined);
  out.push({ target: 'wasm memory does not grow after the first step (every workload, every build and thread count)', memory: memoryChecked ? grew.length === 0 : null, note: grew.length ? `grew: ${grew.join(', ')}` : null });
  for (const [t, v] of Object.entries(ctx.variantTargets?.wall ?? {})) out.push({ target: t, wall: v, cpu: ctx.variantTargets.cpu[t] });
  return out;
}

export function targetLines(targets) {
  const word = (v) => (v === null || v === undefined ? '–' : v ? 'met' : 'NOT met');
  return targets.map((t) => {
    const parts = 'memory' in t ? [word(t.memory)] : [`${word(t.wall)} (wall clock)`, ...('cpu' in t ? [`${word(t.cpu)} (CPU time)`] : [])];
    return `- ${t.target}: ${parts.join(', ')}${t.note ? `; ${t.note}` : ''}`;
  });
}

// ------------------------------------------------------------------ Markdown

const f = (v, d = 1) => (Number.isFinite(v) ? (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(d) : v.toFixed(d + 1)) : '–');
const x = (v) => (Number.isFinite(v) ? `${v >= 10 ? v.toFixed(0) : v.toFixed(2)}×` : '–');
const mib = (b) => (Number.isFinite(b) ? (b / MiB).toFixed(b < 10 * MiB && b % MiB ? 1 : 0) : '–');
const label = (r) => `${r.cell.toUpperCase()} ${r.size} (${r.X}, ${r.H}, ${r.B}, ${r.T})`;
// a 2-thread rnnlab figure: n/a where the build has no threads
const two = (r, s) => (r.threads2 === 'unavailable' ? 'n/a' : s);

function trainTable(rows) {
  const md = ['| workload (X, H, B, T) | rnnlab 1 thread | rnnlab 2 threads | 2 threads vs 1 | GFLOP/s (1 thread) | PyTorch 1 thread | PyTorch 2 threads | rnnlab 2 threads vs PyTorch best | TF.js (1 thread) | rnnlab vs TF.js |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|'];
  for (const r of rows) {
    const v = r.wall;
    const star = r.tfjsReps !== undefined && r.tfjsReps < 3 ? '*' : '';
    md.push(`| ${label(r)} | ${f(v.train1)} | ${two(r, f(v.train2))} | ${two(r, x(v.threadSpeedup))} | ${f(v.trainGflops1)} | ${f(v.torchTrain1)} | ${f(v.torchTrain2)} | ${two(r, x(v.vsTorchBest2))} | ${f(v.tfjsTrain, 0)}${star} | ${x(v.speedupVsTfjs)} |`);
  }
  return md;
}

function forwardTable(rows) {
  const md = ['| workload (X, H, B, T) | rnnlab 1 thread | onnxruntime-web 1 thread | rnnlab vs ORT | rnnlab 2 threads | onnxruntime-web 2 threads | rnnlab vs ORT | PyTorch 1 thread | PyTorch 2 threads | TF.js (1 thread) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|'];
  for (const r of rows) {
    const v = r.wall;
    md.push(`| ${label(r)} | ${f(v.forward1)} | ${f(v.ortForward1)} | ${x(v.vsOrt1)} | ${two(r, f(v.forward2))} | ${f(v.ortForward2)} | ${two(r, x(v.vsOrt2))} | ${f(v.torchForward1)} | ${f(v.torchForward2)} | ${f(v.tfjsForward, 0)} |`);
  }
  return md;
}

function buildsTable(rows) {
  const md = ['| workload (X, H, B, T) | native step ms (1 thread) | wasm/native | no-SIMD step ms | no-SIMD vs SIMD | peak wasm MiB, 1 thread | 2 threads | added by the 2nd thread, MiB |',
    '|---|---:|---:|---:|---:|---:|---:|---:|'];
  for (const r of rows) {
    const v = r.wall;
    const grew = r.memoryGrew || r.memoryGrew2 ? ' (grew!)' : '';
    md.push(`| ${label(r)} | ${f(v.nativeTrain)} | ${x(v.wasmVsNative)} | ${f(v.plainTrain)} | ${x(v.plainSlowdown)} | ${mib(r.peakMemoryBytes)}${grew} | ${two(r, mib(r.peakMemoryBytes2))} | ${two(r, Number.isFinite(r.threadMemoryBytes) ? (r.threadMemoryBytes / MiB).toFixed(2) : '–')} |`);
  }
  return md;
}

function cpuTable(rows) {
  const md = ['| workload (X, H, B, T) | rnnlab step | forward | TF.js step | vs TF.js | PyTorch step | rnnlab vs PyTorch | ORT-web forward | rnnlab vs ORT | native step | wasm/native | no-SIMD step | no-SIMD vs SIMD |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|'];
  for (const r of rows) {
    const v = r.cpu;
    md.push(`| ${label(r)} | ${f(v.train1)} | ${f(v.forward1)} | ${f(v.tfjsTrain, 0)} | ${x(v.speedupVsTfjs)} | ${f(v.torchTrain1)} | ${x(ratio(v.torchTrain1, v.train1))} | ${f(v.ortForward1)} | ${x(v.vsOrt1)} | ${f(v.nativeTrain)} | ${x(v.wasmVsNative)} | ${f(v.plainTrain)} | ${x(v.plainSlowdown)} |`);
  }
  return md;
}

function ratioLines(s) {
  const w = s.wall, m = w.lstmM;
  const lines = [];
  if (m) {
    lines.push(`LSTM-M (wall clock): 2 threads vs 1 ${x(m.threadSpeedup)} per step, ${x(m.forwardThreadSpeedup)} per forward; rnnlab 2 threads vs PyTorch's best ${x(m.vsTorchBest2)} (1 thread: ${x(m.vsTorchBest1)}); forward vs onnxruntime-web ${x(m.vsOrt1)} on 1 thread, ${x(m.vsOrt2)} on 2; vs TF.js ${x(m.speedupVsTfjs)} (2 threads: ${x(m.speedupVsTfjs2)}); ${f(m.trainGflops1)} GFLOP/s on 1 thread, ${f(m.trainGflops2)} on 2; wasm/native ${x(m.wasmVsNative)}; no-SIMD vs SIMD ${x(m.plainSlowdown)}.`);
  }
  const g = w.geomean;
  lines.push(`All workloads (wall clock, geometric means): 2 threads vs 1 ${x(g.threadSpeedup)} per step, ${x(g.forwardThreadSpeedup)} per forward; rnnlab 2 threads vs PyTorch's best ${x(g.vsTorchBest2)} (1 thread: ${x(g.vsTorchBest1)}); forward vs onnxruntime-web ${x(g.vsOrt1)} on 1 thread (worst ${x(w.worst.vsOrt1)}), ${x(g.vsOrt2)} on 2 (worst ${x(w.worst.vsOrt2)}); vs TF.js ${x(g.speedupVsTfjs)}; wasm/native ${x(g.wasmVsNative)} (worst ${x(w.worst.wasmVsNative)}); no-SIMD vs SIMD ${x(g.plainSlowdown)} (worst ${x(w.worst.plainSlowdown)}).`);
  const c = s.cpu.geomean;
  lines.push(`Single-threaded runs by CPU time (geometric means): vs TF.js ${x(c.speedupVsTfjs)}, forward vs onnxruntime-web ${x(c.vsOrt1)}, wasm/native ${x(c.wasmVsNative)}, no-SIMD vs SIMD ${x(c.plainSlowdown)}.`);
  return lines;
}

/** The README block: the machine, the wall-clock tables and their legend. */
function readmeBlock(rows, ctx) {
  const legend = [
    `Wall-clock medians after warm-up, each figure from processes of its own, one after another${ctx.rounds > 1 ? `; rnnlab, PyTorch and onnxruntime-web took turns in ${ctx.rounds} rounds (a fresh process per figure and round), and each of their figures is the median of its rounds` : ''}. One training step = forward + BPTT + Adam (MSE, many-to-many, linear head to Y = X), batch-major [B, T, X]; one forward = the layer and the head. GFLOP/s by SPEC §10 (a step counts 3 × 2·G·H·(X+H)·B·T). Ratios above 1: the first named is faster (rnnlab, 2 threads, the SIMD build, wasm).`,
    `rnnlab: the wasm SIMD build through the JS API (model.trainStep, model.predict), loaded with init({ threads: 1 }) and init({ threads: 2 })${ctx.threadsUnavailable ? '; n/a: this build has no threads (init rejects the option)' : ''}. PyTorch${ctx.torchVersion ? ` ${ctx.torchVersion}` : ''}: nn.RNN (tanh) / nn.LSTM / nn.GRU with batch_first and an nn.Linear head, float32, torch.set_num_threads(1 or 2)${ctx.blas ? `, BLAS: ${ctx.blas}` : ''}; "PyTorch best" is the faster of its two thread counts. onnxruntime-web${ctx.ortVersion ? ` ${ctx.ortVersion}` : ''}: its wasm backend (SIMD) in Node, ort.env.wasm.numThreads 1 or 2, running the same model and weights exported by rnnlab's toONNX; forward only (it cannot train). TF.js${ctx.tfjsVersion ? ` ${ctx.tfjsVersion}` : ''}: wasm backend, SIMD, one thread, its LSTM / GRU / SimpleRNN layer + timeDistributed dense, trainOnBatch.`,
    'native: the same C through the C API, gcc -O3 -march=native, one thread; wasm/native = native time / wasm time of the bare engine call (1 = parity). Peak wasm memory: byteLength of the engine\'s WebAssembly.Memory after the run.',
  ];
  if (rows.some((r) => r.tfjsReps < 3)) legend.push('\\* TF.js timed fewer than 3 times: too slow for the time budget (--full gives it more).');
  return [
    ctx.machineLine, '',
    '**Training step**, ms:', '', ...trainTable(rows), '',
    '**Forward pass**, ms:', '', ...forwardTable(rows), '',
    '**rnnlab\'s builds and memory**:', '', ...buildsTable(rows), '',
    ...legend.map((l) => `${l}  `),
  ];
}

/** The whole of latest.md. */
export function markdownReport(rows, summary, targets, ctx) {
  return [
    '## Benchmark', '',
    'The part from here to "Single-threaded runs by CPU time" is meant for README.md\'s Speed section, as it stands.', '',
    ...readmeBlock(rows, ctx), '',
    '### Single-threaded runs by CPU time', '',
    'The same run, each call timed by the CPU time of its process instead of the wall clock (medians): on a shared machine much less disturbed by the other work, and on an idle machine the same as the wall clock for single-threaded work. rnnlab, PyTorch and onnxruntime-web on 1 thread.', '',
    ...cpuTable(rows), '',
    '### Ratios', '', ...ratioLines(summary).map((l) => `- ${l}`), '',
    ...(ctx.variantsMd?.length ? ['### Bidirectional and dropout (LSTM-M)', '', ...ctx.variantsMd, ''] : []),
    '### Targets (issues 5, 11 and 14)', '', ...targetLines(targets), '',
    ...(ctx.kernelsMd?.length ? ['### Matrix kernels', '', ...ctx.kernelsMd, ''] : []),
    ...(ctx.notes.length ? ['### Notes', '', ...ctx.notes.map((n) => `- ${n}`), ''] : []),
  ].join('\n');
}
