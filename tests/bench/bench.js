// bench.js — `npm run bench`: rnnlab against TensorFlow.js (wasm backend) and
// against its own C compiled natively, on the workloads of SPEC §10.
//
//   node tests/bench/bench.js [--quick | --full] [--cells=lstm,gru] [--sizes=S,M]
//        [--no-tfjs] [--no-native] [--no-plain] [--no-kernels] [--no-variants] [--out=DIR]
//
// Every measurement runs in a child process of its own, one at a time:
//   worker-rnnlab.js  one workload on one wasm build (SIMD or the fallback;
//                     the library loads one build per process)
//   worker-tfjs.js    the same workload in TF.js with its wasm backend
//   bench_native.c    the engine built with gcc -O3 -march=native, one workload
//                     per run
//   tests/c/bench_kernels.c --json, native and as wasm (when it exists)
//   variants.js       LSTM-M bidirectional and with dropout against the same
//                     model without (worker-rnnlab.js with a config)
// Results: printed, and written to tests/bench/results/latest.json and
// latest.md (or --out=DIR).
//
// The default run takes 5 to 6 minutes on the 2-core machine, most of it in
// TF.js, whose LONG steps take tens of seconds each: there TF.js is timed once
// or twice, and a TF.js workload that would start after 330 s is skipped.
// --full gives TF.js room for warm-up and repeated steps everywhere (about
// 15 minutes); --quick is a smoke test with small budgets.
//
// Every call is timed twice: by the wall clock and by the CPU time of its
// process. The machine is shared; the CPU time is much less disturbed by the
// other work, and equals the wall time on an idle machine for these
// single-threaded steps. Both are reported.

import { spawnSync, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WORKLOADS, CELLS, forwardFlops, stepFlops, RESULT_TAG } from './common.js';
import { runVariants, variantsReport } from './variants.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const args = process.argv.slice(2);
const flag = (name) => args.includes(`--${name}`);
const option = (name, dflt) => {
  const a = args.find((s) => s.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : dflt;
};
for (const a of args) {
  if (!/^--(quick|full|no-tfjs|no-native|no-plain|no-kernels|no-variants|cells=.*|sizes=.*|out=.*)$/.test(a)) {
    console.error(`bench: unknown argument '${a}'\nusage: node tests/bench/bench.js [--quick | --full] [--cells=rnn,lstm,gru] [--sizes=S,M,LONG] [--no-tfjs] [--no-native] [--no-plain] [--no-kernels] [--no-variants] [--out=DIR]`);
    process.exit(2);
  }
}
const quick = flag('quick');
const full = flag('full');
const cells = option('cells', CELLS.join(',')).split(',');
const sizes = option('sizes', Object.keys(WORKLOADS).join(',')).split(',');
for (const c of cells) if (!CELLS.includes(c)) { console.error(`bench: unknown cell '${c}'`); process.exit(2); }
for (const s of sizes) if (!WORKLOADS[s]) { console.error(`bench: unknown size '${s}'`); process.exit(2); }
const outDir = path.resolve(option('out', path.join(here, 'results')));

// Time budgets (ms) per child. The whole default run aims at about 5 minutes
// on the 2-core machine; TF.js takes most of it.
const BUDGET = quick
  ? { simd: 1200, plain: 1200, native: 0.8, tfjs: { S: 4000, M: 12000, LONG: 15000 } }
  : full
    ? { simd: 3000, plain: 4000, native: 2, tfjs: { S: 15000, M: 60000, LONG: 180000 } }
    : { simd: 2000, plain: 2500, native: 1.5, tfjs: { S: 8000, M: 40000, LONG: 45000 } };
// TF.js workloads that would start past this are skipped
const DEADLINE_MS = quick ? 150e3 : full ? Infinity : 330e3;
const startedAt = Date.now();
const log = (msg) => process.stderr.write(`bench: ${msg}\n`);

// ------------------------------------------------------------------ machine

function cpuModel() {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1].trim();
  } catch { /* not Linux */ }
  return os.cpus()[0]?.model ?? 'unknown';
}

function commandVersion(cmd, argv, env) {
  try {
    return execFileSync(cmd, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } })
      .split('\n')[0].trim();
  } catch {
    return null;
  }
}

function fileInfo(rel) {
  const p = path.join(root, rel);
  try {
    const bytes = fs.readFileSync(p);
    return { file: rel, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex').slice(0, 16), mtime: fs.statSync(p).mtime.toISOString() };
  } catch {
    return { file: rel, missing: true };
  }
}

function gitInfo() {
  const git = (...a) => {
    try {
      return execFileSync('git', a, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).replace(/\s+$/, '');
    } catch {
      return null;
    }
  };
  const dirty = git('status', '--porcelain', '--', 'src', 'web', 'build.sh');
  return { commit: git('rev-parse', '--short', 'HEAD'), dirtyFiles: dirty ? dirty.split('\n').map((l) => l.slice(3)) : [] };
}

// every engine source, as build.sh takes them (a fixed list here went stale
// when the engine was split into more files: src/forward.c no longer exists)
const SRC = fs.readdirSync(path.join(root, 'src')).filter((f) => f.endsWith('.c') && f !== 'wasm_api.c').map((f) => path.join('src', f));

// Is each wasm build newer than every engine source (as build.sh ensure sees it)?
function wasmFreshness() {
  const inputs = [...SRC, 'src/wasm_api.c', 'src/exports.txt', 'build.sh', ...fs.readdirSync(path.join(root, 'src')).filter((f) => f.endsWith('.h')).map((f) => `src/${f}`)];
  const newest = Math.max(...inputs.map((f) => fs.statSync(path.join(root, f)).mtimeMs));
  const stale = [];
  for (const f of ['web/dist/rnnlab-simd.wasm', 'web/dist/rnnlab.wasm']) {
    const p = path.join(root, f);
    if (!fs.existsSync(p) || fs.statSync(p).mtimeMs < newest) stale.push(f);
  }
  return stale;
}

const machine = {
  cpu: cpuModel(),
  cores: os.cpus().length,
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  os: `${os.type()} ${os.release()} ${os.arch()}`,
  node: process.version,
  v8: process.versions.v8,
  gcc: commandVersion('gcc', ['--version']),
  emcc: commandVersion('emcc', ['--version'], { NODE_PATH: '/usr/share/nodejs' }),
  date: new Date().toISOString(),
  loadAverageAtStart: os.loadavg().map((v) => Number(v.toFixed(2))),
};
const git = gitInfo();
const staleWasm = wasmFreshness();
const builds = { simd: fileInfo('web/dist/rnnlab-simd.wasm'), plain: fileInfo('web/dist/rnnlab.wasm'), git, staleWasm };
if (builds.simd.missing || builds.plain.missing) {
  console.error('bench: web/dist/*.wasm missing: run `bash build.sh wasm` (or `npm run bench`, which builds first)');
  process.exit(1);
}
if (staleWasm.length) log(`warning: ${staleWasm.join(', ')} older than the engine sources: run \`bash build.sh wasm\` (the native figures use the current sources)`);
log(`${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, load average ${machine.loadAverageAtStart.join(' ')}`);

// ------------------------------------------------------------------ children

const notes = [];
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rnnlab-bench-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

// Runs a child, returns { json } from its tagged line or { error }.
function runChild(label, cmd, argv, { timeoutMs, env, tagged = true } = {}) {
  const t0 = Date.now();
  const r = spawnSync(cmd, argv, {
    cwd: root, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20, env: { ...process.env, ...env },
  });
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  const tail = (s) => (s || '').trim().split('\n').slice(-6).join('\n');
  if (r.error || r.status !== 0) {
    const why = r.error?.code === 'ETIMEDOUT' ? `timed out after ${timeoutMs / 1000} s` : (r.error?.message ?? `exit ${r.status ?? r.signal}`);
    log(`${label}: FAILED (${why}) ${tail(r.stderr)}`);
    return { error: `${why}${r.stderr ? `: ${tail(r.stderr)}` : ''}` };
  }
  let json;
  try {
    if (tagged) {
      const line = r.stdout.split('\n').find((l) => l.startsWith(RESULT_TAG));
      if (!line) throw new Error('no result line');
      json = JSON.parse(line.slice(RESULT_TAG.length));
    } else {
      const text = r.stdout.trim();
      try {
        json = JSON.parse(text);
      } catch {
        json = JSON.parse(text.split('\n').at(-1)); // a program that prints more than its JSON
      }
    }
  } catch (err) {
    log(`${label}: unreadable output (${err.message}) ${tail(r.stdout)}`);
    return { error: `unreadable output: ${err.message}` };
  }
  log(`${label}: done in ${secs} s`);
  return { json };
}

const results = { native: {}, simd: {}, plain: {}, tfjs: {} };
const key = (cell, size) => `${cell}-${size}`;
const order = [];
for (const size of sizes) for (const cell of cells) order.push({ cell, size });

// 1. compile the native driver
let nativeExe = null;
if (!flag('no-native')) {
  try {
    log('compiling the native driver (gcc -O3 -march=native)');
    const exe = path.join(tmp, 'bench_native');
    execFileSync('gcc', ['-O3', '-march=native', '-std=c11', '-Isrc', 'tests/bench/bench_native.c', ...SRC, '-lm', '-o', exe], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    nativeExe = exe;
  } catch (err) {
    notes.push(`native: could not compile tests/bench/bench_native.c: ${String(err.stderr || err.message).slice(0, 500)}`);
    log(notes.at(-1));
  }
}

// 2. kernel micro-benchmark (owned by the kernel work: used only when it
// exists and has --json)
let kernels = null;
const kernelSrc = path.join(root, 'tests/c/bench_kernels.c');
if (flag('no-kernels')) {
  kernels = { skipped: '--no-kernels' };
} else if (!fs.existsSync(kernelSrc) || !fs.readFileSync(kernelSrc, 'utf8').includes('--json')) {
  kernels = { skipped: 'tests/c/bench_kernels.c missing or without --json' };
} else {
  kernels = {};
  const kernelFiles = ['tests/c/bench_kernels.c', 'src/gemm.c', 'src/vmath.c'];
  try {
    const exe = path.join(tmp, 'bench_kernels');
    execFileSync('gcc', ['-O3', '-march=native', '-std=c11', '-Isrc', ...kernelFiles, '-lm', '-o', exe], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    const r = runChild('kernels native', exe, ['--json'], { timeoutMs: 120e3, tagged: false });
    kernels.native = r.json ?? { error: r.error };
  } catch (err) {
    kernels.native = { error: `gcc: ${String(err.stderr || err.message).slice(0, 500)}` };
  }
  for (const [name, simdFlags] of [['wasm', ['-msimd128']], ['wasmScalar', []]]) {
    try {
      log(`compiling the kernel benchmark to wasm (emcc -O3 ${simdFlags.join(' ')})`);
      const out = path.join(tmp, `bench_kernels_${name}.js`);
      execFileSync('emcc', ['-O3', ...simdFlags, '-sSINGLE_FILE', '-sALLOW_MEMORY_GROWTH=1', '-Isrc', ...kernelFiles, '-o', out], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NODE_PATH: '/usr/share/nodejs' } });
      const js = out.replace(/\.js$/, '.cjs'); // Emscripten's glue is CommonJS
      fs.renameSync(out, js);
      const r = runChild(`kernels ${name}`, process.execPath, [js, '--json'], { timeoutMs: 120e3, tagged: false });
      kernels[name] = r.json ?? { error: r.error };
    } catch (err) {
      kernels[name] = { error: `emcc: ${String(err.stderr || err.message).slice(0, 500)}` };
    }
  }
}

// 3. is TF.js installed?
let tfjsAvailable = false;
if (!flag('no-tfjs')) {
  try {
    const { createRequire } = await import('node:module');
    const req = createRequire(path.join(here, 'worker-tfjs.js'));
    req.resolve('@tensorflow/tfjs');
    req.resolve('@tensorflow/tfjs-backend-wasm');
    tfjsAvailable = true;
  } catch {
    notes.push('TensorFlow.js skipped: @tensorflow/tfjs and @tensorflow/tfjs-backend-wasm are not installed (npm install)');
    log(notes.at(-1));
  }
}

// 4. the workloads, size by size: for each, native, the SIMD build and the
// fallback right after each other (the machine's load drifts: neighbours in
// time make fairer ratios), then TF.js on that size, LSTM first (the headline
// workload, should the time limit cut the rest).
for (const size of sizes) {
  for (const cell of cells) {
    const k = key(cell, size);
    if (nativeExe) {
      const r = runChild(`native ${cell} ${size}`, nativeExe, [String(BUDGET.native), cell, size], { timeoutMs: 120e3, tagged: false });
      if (r.json) machine.nativeCompiler = r.json.compiler;
      results.native[k] = r.json?.results?.[0] ?? { cell, size, error: r.error ?? 'no result' };
    }
    for (const build of flag('no-plain') ? ['simd'] : ['simd', 'plain']) {
      const budget = BUDGET[build];
      const r = runChild(`rnnlab ${build} ${cell} ${size}`, process.execPath, [path.join(here, 'worker-rnnlab.js'), build, cell, size, String(budget)], { timeoutMs: budget * 6 + 60e3 });
      results[build][k] = r.json ?? { cell, size, error: r.error };
    }
  }
  if (!tfjsAvailable) continue;
  for (const cell of [...cells].sort((a, b) => (b === 'lstm') - (a === 'lstm'))) {
    const left = DEADLINE_MS - (Date.now() - startedAt);
    const budget = Math.min(BUDGET.tfjs[size], left);
    if (budget < BUDGET.tfjs[size] * 0.8) {
      results.tfjs[key(cell, size)] = { cell, size, skipped: `the run's time limit (${DEADLINE_MS / 1000} s) was reached; --full runs it` };
      log(`tfjs ${cell} ${size}: skipped (time limit)`);
      continue;
    }
    const r = runChild(`tfjs ${cell} ${size}`, process.execPath, [path.join(here, 'worker-tfjs.js'), cell, size, String(budget)], { timeoutMs: budget * 4 + 60e3 });
    results.tfjs[key(cell, size)] = r.json ?? { cell, size, error: r.error };
  }
}
// 5. the options that change a step's work (variants.js), SIMD build, LSTM-M
const variantRuns = flag('no-variants') ? [] : runVariants((config) => {
  const r = runChild(`rnnlab simd lstm M ${JSON.stringify(config)}`, process.execPath,
    [path.join(here, 'worker-rnnlab.js'), 'simd', 'lstm', 'M', String(BUDGET.simd), JSON.stringify(config)], { timeoutMs: BUDGET.simd * 6 + 60e3 });
  return r.json ?? { error: r.error };
});
machine.loadAverageAtEnd = os.loadavg().map((v) => Number(v.toFixed(2)));
machine.totalSeconds = Math.round((Date.now() - startedAt) / 1000);

// ------------------------------------------------------------------ summary

// Two clocks: wall (the time a user waits: medians of wall-clock time) and
// cpu (medians of the process's CPU time per call: much less disturbed when
// other work shares the machine's two cores; the same on an idle machine).
const CLOCKS = ['wall', 'cpu'];
const ms = (r, phase, clock) => r?.timing?.[phase]?.[`${clock}Ms`];
const fin = (v) => (Number.isFinite(v) ? v : undefined);
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : undefined);
const geomean = (v) => (v.length ? Math.exp(v.reduce((a, b) => a + Math.log(b), 0) / v.length) : null);

const rows = [];
for (const { cell, size } of order) {
  const k = key(cell, size);
  const w = WORKLOADS[size];
  const s = results.simd[k], p = results.plain[k], n = results.native[k], t = results.tfjs[k];
  const row = { workload: k, cell, size, ...w, stepGflop: stepFlops(cell, w) / 1e9, forwardGflop: forwardFlops(cell, w) / 1e9 };
  for (const c of CLOCKS) {
    const fig = {
      trainMs: fin(ms(s, 'train', c)), forwardMs: fin(ms(s, 'forward', c)),
      trainEngineMs: fin(ms(s, 'trainEngine', c)), forwardEngineMs: fin(ms(s, 'forwardEngine', c)),
      plainTrainMs: fin(ms(p, 'train', c)), plainForwardMs: fin(ms(p, 'forward', c)),
      nativeTrainMs: fin(ms(n, 'train', c)), nativeForwardMs: fin(ms(n, 'forward', c)),
      tfjsTrainMs: fin(ms(t, 'train', c)), tfjsForwardMs: fin(ms(t, 'forward', c)),
    };
    fig.trainGflops = ratio(stepFlops(cell, w) / 1e6, fig.trainMs);
    fig.forwardGflops = ratio(forwardFlops(cell, w) / 1e6, fig.forwardMs);
    // speedups: > 1 means rnnlab (or the SIMD build, or wasm) is faster
    fig.speedupVsTfjs = ratio(fig.tfjsTrainMs, fig.trainMs);
    fig.forwardSpeedupVsTfjs = ratio(fig.tfjsForwardMs, fig.forwardMs);
    // wasm vs native compares the bare engine calls on both sides
    fig.wasmVsNative = ratio(fig.nativeTrainMs, fig.trainEngineMs);
    fig.wasmVsNativeForward = ratio(fig.nativeForwardMs, fig.forwardEngineMs);
    fig.plainSlowdown = ratio(fig.plainTrainMs, fig.trainMs);
    fig.plainForwardSlowdown = ratio(fig.plainForwardMs, fig.forwardMs);
    row[c] = fig;
  }
  if (s?.memory) Object.assign(row, { peakMemoryBytes: s.memory.peak, memoryAfterFirstStepBytes: s.memory.afterFirstStep, memoryGrew: s.memory.grewAfterFirstStep });
  if (p?.memory) Object.assign(row, { plainPeakMemoryBytes: p.memory.peak, plainMemoryGrew: p.memory.grewAfterFirstStep });
  if (t?.timing) Object.assign(row, { tfjsReps: t.timing.train.reps, tfjsNotes: t.notes, tfjsWasmMemoryBytes: t.wasmMemoryBytes });
  rows.push(row);
}

const memoryGrew = rows.filter((r) => r.memoryGrew || r.plainMemoryGrew).map((r) => r.workload);
const memoryChecked = rows.some((r) => r.memoryGrew !== undefined);
const summary = {};
const targets = {};
for (const c of CLOCKS) {
  const all = (f) => rows.map((r) => r[c][f]).filter(Number.isFinite);
  const m = rows.find((r) => r.workload === 'lstm-M')?.[c];
  summary[c] = {
    lstmM: m ? { speedupVsTfjs: m.speedupVsTfjs ?? null, trainGflops: m.trainGflops ?? null, wasmVsNative: m.wasmVsNative ?? null, plainSlowdown: m.plainSlowdown ?? null } : null,
    geomean: { speedupVsTfjs: geomean(all('speedupVsTfjs')), wasmVsNative: geomean(all('wasmVsNative')), plainSlowdown: geomean(all('plainSlowdown')) },
    worst: { wasmVsNative: all('wasmVsNative').length ? Math.min(...all('wasmVsNative')) : null, plainSlowdown: all('plainSlowdown').length ? Math.max(...all('plainSlowdown')) : null },
  };
  const check = (v, ok) => (v == null ? null : ok(v));
  targets[c] = {
    'LSTM-M at least 30x faster per step than TF.js': check(m?.speedupVsTfjs, (v) => v >= 30),
    'LSTM-M step at least 30 GFLOP/s': check(m?.trainGflops, (v) => v >= 30),
    'wasm at least 0.8x the speed of native (LSTM-M)': check(m?.wasmVsNative, (v) => v >= 0.8),
    'no-SIMD fallback within 3x of SIMD (every workload)': check(summary[c].worst.plainSlowdown, (v) => v <= 3),
  };
}
summary.memoryGrewAfterFirstStep = memoryGrew;
const variants = variantsReport(variantRuns, CLOCKS);
if (variantRuns.length) for (const c of CLOCKS) Object.assign(targets[c], variants.targets[c]);
targets.memory = { 'wasm memory does not grow after the first step (every workload, both builds)': memoryChecked ? memoryGrew.length === 0 : null };

for (const [k, r] of Object.entries(results.tfjs)) if (r.notes?.length) notes.push(`TF.js ${k}: ${r.notes.join('; ')}`);
for (const [k, r] of Object.entries(results.tfjs)) if (r.skipped) notes.push(`TF.js ${k}: skipped, ${r.skipped}`);
for (const b of ['simd', 'plain', 'tfjs', 'native']) for (const [k, r] of Object.entries(results[b])) if (r.error) notes.push(`${b} ${k}: ${r.error}`);
if (staleWasm.length) notes.push(`${staleWasm.join(', ')} older than the engine sources when this ran`);
if (git.dirtyFiles.length) notes.push(`uncommitted changes in: ${git.dirtyFiles.join(', ')}`);

// ------------------------------------------------------------------ report

const f = (v, d = 1) => (Number.isFinite(v) ? (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(d) : v.toFixed(d + 1)) : '–');
const x = (v) => (Number.isFinite(v) ? `${v >= 10 ? v.toFixed(0) : v.toFixed(2)}×` : '–');
const mib = (b) => (Number.isFinite(b) ? (b / 2 ** 20).toFixed(0) : '–');

function table(c) {
  const md = [];
  md.push('| workload (X, H, B, T) | rnnlab step ms | GFLOP/s | forward ms | TF.js step ms | vs TF.js | native step ms | wasm/native | no-SIMD step ms | no-SIMD slowdown | peak wasm MiB |');
  md.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    const v = r[c];
    const star = r.tfjsReps !== undefined && r.tfjsReps < 3 ? '*' : '';
    md.push(`| ${r.cell.toUpperCase()} ${r.size} (${r.X}, ${r.H}, ${r.B}, ${r.T}) | ${f(v.trainMs)} | ${f(v.trainGflops)} | ${f(v.forwardMs)} | ${f(v.tfjsTrainMs, 0)}${star} | ${x(v.speedupVsTfjs)} | ${f(v.nativeTrainMs)} | ${x(v.wasmVsNative)} | ${f(v.plainTrainMs)} | ${x(v.plainSlowdown)} | ${mib(r.peakMemoryBytes)}${r.memoryGrew ? ' (grew!)' : ''} |`);
  }
  return md;
}
function ratioLines(c) {
  const s = summary[c];
  return [
    `LSTM-M: ${x(s.lstmM?.speedupVsTfjs)} faster per step than TF.js, ${f(s.lstmM?.trainGflops)} GFLOP/s, wasm/native ${x(s.lstmM?.wasmVsNative)}, no-SIMD slowdown ${x(s.lstmM?.plainSlowdown)}.`,
    `All workloads (geometric mean): ${x(s.geomean.speedupVsTfjs)} vs TF.js, wasm/native ${x(s.geomean.wasmVsNative)} (worst ${x(s.worst.wasmVsNative)}), no-SIMD slowdown ${x(s.geomean.plainSlowdown)} (worst ${x(s.worst.plainSlowdown)}).`,
  ];
}

const tfVersion = Object.values(results.tfjs).find((r) => r.version)?.version;
const legend = [
  'One training step = forward + BPTT + Adam (MSE, many-to-many, linear head to Y = X), batch-major [B, T, X]; medians after warm-up. GFLOP/s by SPEC §10 (a step counts 3 × 2·G·H·(X+H)·B·T).',
  `rnnlab: the wasm SIMD build through the JS API (model.trainStep, model.predict). TF.js${tfVersion ? ` ${tfVersion}` : ''}: wasm backend, SIMD, one thread; its LSTM / GRU / SimpleRNN layer (returnSequences) + timeDistributed dense, MSE, Adam, trainOnBatch. vs TF.js = TF.js time / rnnlab time.`,
  'native: the same C through the C API, gcc -O3 -march=native; wasm/native = native time / wasm time of the bare engine call (1 = parity). no-SIMD slowdown = fallback build time / SIMD build time. Peak wasm memory: byteLength of the engine\'s WebAssembly.Memory (model._engine.memory) after the run, one process per workload.',
];
if (rows.some((r) => r.tfjsReps < 3)) legend.push('\\* TF.js timed fewer than 3 times: too slow for the time budget (see notes; --full gives it more).');
const load = `load average ${machine.loadAverageAtStart[0]} at start, ${machine.loadAverageAtEnd[0]} at end`;
const machineLine = `Measured ${machine.date.slice(0, 10)} on ${machine.cpu}, ${machine.cores} cores (shared with other work: ${load}), Node ${machine.node}, ${machine.gcc ?? 'gcc ?'}; rnnlab ${git.commit ?? ''}${git.dirtyFiles.length ? ' with uncommitted changes' : ''}, builds web/dist/rnnlab-simd.wasm ${builds.simd.sha256} and rnnlab.wasm ${builds.plain.sha256}; ${quick ? 'quick' : full ? 'full' : 'default'} run of ${machine.totalSeconds} s.`;

// The kernel benchmark's JSON belongs to the kernel work and may change: take
// every object of numbers in it as a group of figures (the key names the unit).
const kernelGroups = (j) => {
  const groups = {};
  if (!j || j.error) return groups;
  for (const [g, v] of Object.entries(j)) {
    if (v && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((n) => typeof n === 'number')) groups[g === 'results' ? (j.unit ?? 'results') : g] = v;
  }
  return groups;
};
const kmd = [];
const kBuilds = ['native', 'wasm', 'wasmScalar'].filter((b) => kernels?.[b]);
const kg = Object.fromEntries(kBuilds.map((b) => [b, kernelGroups(kernels[b])]));
const kRows = [];
for (const b of kBuilds) for (const [g, v] of Object.entries(kg[b])) for (const n of Object.keys(v)) if (!kRows.some((r) => r.g === g && r.n === n)) kRows.push({ g, n });
if (kRows.length) {
  kmd.push(`| kernel (tests/c/bench_kernels.c), unit | native ${kernels.native?.build ?? ''} | wasm ${kernels.wasm?.build ?? ''} | wasm ${kernels.wasmScalar?.build ?? 'no-SIMD'} | wasm/native |`);
  kmd.push('|---|---:|---:|---:|---:|');
  for (const { g, n } of kRows) {
    const [a, b, c] = ['native', 'wasm', 'wasmScalar'].map((k) => kg[k]?.[g]?.[n]);
    kmd.push(`| ${n}, ${g} | ${f(a)} | ${f(b)} | ${f(c)} | ${Number.isFinite(a) && Number.isFinite(b) ? (b / a).toFixed(2) : '–'} |`);
  }
  kmd.push('', 'Wall-clock medians measured by the kernel benchmark itself.');
  for (const b of kBuilds) if (kernels[b].error) kmd.push('', `${b}: ${kernels[b].error}`);
} else if (kernels?.skipped) {
  kmd.push(`Kernel micro-benchmark skipped: ${kernels.skipped}.`);
} else if (kernels) {
  kmd.push(`Kernel micro-benchmark failed: ${kBuilds.map((b) => `${b}: ${kernels[b].error}`).join('; ')}`);
}

const targetLines = Object.keys(targets.wall).map((t) => {
  const w = targets.wall[t], c = targets.cpu[t];
  const word = (v) => (v === null ? '–' : v ? 'met' : 'NOT met');
  return `- ${t}: ${word(w)} (wall clock), ${word(c)} (CPU time)`;
});
for (const [t, v] of Object.entries(targets.memory)) targetLines.push(`- ${t}: ${v === null ? '–' : v ? 'met' : `NOT met (${memoryGrew.join(', ')})`}`);

const markdown = [
  '## Benchmark', '', machineLine, '',
  '### Wall clock', '', ...table('wall'), '',
  '### CPU time', '',
  'The same run, each call timed by the CPU time of its process instead of the wall clock: on this shared 2-core machine much less disturbed by the other work, and on an idle machine the same as the wall clock for these single-threaded steps (V8\'s GC helper threads add a little to TF.js).', '',
  ...table('cpu'), '',
  ...legend.map((l) => `${l}  `), '',
  '### Ratios', '',
  ...ratioLines('wall').map((l) => `- wall clock: ${l}`), ...ratioLines('cpu').map((l) => `- CPU time: ${l}`),
  `- Wasm memory after the first step of a shape: ${memoryGrew.length ? `GREW in ${memoryGrew.join(', ')}` : memoryChecked ? 'no growth in any workload (SIMD and fallback)' : 'not measured'}.`, '',
  ...(variantRuns.length ? ['### Bidirectional and dropout (LSTM-M)', '', ...variants.md, ''] : []),
  '### Targets (issues 5 and 11)', '', ...targetLines, '',
  ...(kmd.length ? ['### Matrix kernels', '', ...kmd, ''] : []),
  ...(notes.length ? ['### Notes', '', ...notes.map((n) => `- ${n}`), ''] : []),
].join('\n');

const out = { machine, builds, mode: quick ? 'quick' : full ? 'full' : 'default', budgets: BUDGET, workloads: WORKLOADS, rows, variants: variants.rows, summary, targets, kernels, notes, raw: results };
fs.mkdirSync(outDir, { recursive: true });
fs.writeFileSync(path.join(outDir, 'latest.json'), `${JSON.stringify(out, null, 2)}\n`);
fs.writeFileSync(path.join(outDir, 'latest.md'), `${markdown}\n`);
process.stdout.write(`\n${markdown}\n`);
log(`wrote ${path.relative(process.cwd(), path.join(outDir, 'latest.json'))} and latest.md in ${machine.totalSeconds} s`);
