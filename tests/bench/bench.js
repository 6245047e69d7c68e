// bench.js — `npm run bench`: rnnlab on 1 and 2 threads against PyTorch (on
// this CPU, with its BLAS), onnxruntime-web and TensorFlow.js (both wasm, in
// Node), and against its own C compiled natively, on the workloads of SPEC
// §10 (issue 14).
//
//   node tests/bench/bench.js [--quick | --full] [--cells=lstm,gru] [--sizes=S,M]
//        [--rounds=N] [--no-torch] [--no-ort] [--no-tfjs] [--no-native]
//        [--no-plain] [--no-kernels] [--no-variants] [--out=DIR]
//
// Every measurement runs in a child process of its own, one at a time:
//   worker-rnnlab.js  one workload on one wasm build: the SIMD build on 1 and
//                     on 2 threads (--threads=N: init({ threads: N }); "not
//                     available in this build" while the library has no
//                     threads), the no-SIMD fallback on 1
//   bench_torch.py    PyTorch (Debian's python3-torch, /usr/bin/python3 or
//                     $RNNLAB_PYTHON): the same step and forward on 1 and 2
//                     threads; reports which BLAS it runs on
//   worker-ort.js     onnxruntime-web's wasm backend on 1 and 2 threads, the
//                     forward pass of the same model exported by toONNX
//   worker-tfjs.js    the same workload in TF.js with its wasm backend
//   bench_native.c    the engine built with gcc -O3 -march=native, one workload
//                     per run
//   tests/c/bench_kernels.c --json, native and as wasm (when it exists)
//   worker-variant.js LSTM-M bidirectional and with dropout against the same
//                     model without, interleaved step by step in one process
//                     (variants.js)
// Rounds: the figures that are compared with each other (rnnlab, PyTorch and
// onnxruntime-web, each on 1 and 2 threads) come from --rounds=N rounds (3;
// 1 with --quick) run in turn, each round a fresh process per figure with a
// share of the budget, the order turned by two places each round; a figure
// is the median of its rounds' medians. On this shared machine the same
// build moves by up to 40% from one process to the next: a slow spell then
// hits one round of every figure near it in time rather than one figure's
// only run.
// Results: printed, and written to tests/bench/results/latest.json and
// latest.md (or --out=DIR); latest.md starts with the machine, the date and
// the wall-clock tables in the form of README.md's Speed section.
//
// The default run takes about 9 minutes on the 2-core machine (536 to 566 s
// in four runs with 3 rounds), a third of it in TF.js, whose LONG steps take
// tens of seconds each: there TF.js is timed once or twice, and a TF.js
// workload is skipped once TF.js has used its share of the run
// (TFJS_ALLOWANCE_MS). PyTorch on Debian's reference BLAS (no OpenBLAS
// installed) takes seconds a step: it is then timed fewer times.
// --full gives TF.js room for warm-up and repeated steps everywhere, and
// longer budgets to the others (about 20 minutes); --quick is a smoke test
// with small budgets (about 6 minutes on the loaded machine).
//
// Every call is timed twice: by the wall clock and by the CPU time of its
// process (every thread). The machine is shared; the CPU time is much less
// disturbed by the other work, and equals the wall time on an idle machine
// for single-threaded work. With threads, CPU time adds up the threads: the
// wall clock is the figure for threaded runs (rnnlab, PyTorch and
// onnxruntime-web on 2 threads), and the tables give wall-clock medians.

import { spawnSync, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { WORKLOADS, CELLS, RESULT_TAG, median } from './common.js';
import { runVariants, variantsReport, VARIANT_CELL, VARIANT_SIZE } from './variants.js';
import { CLOCKS, buildRows, summarize, judgeTargets, markdownReport } from './report.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const args = process.argv.slice(2);
const flag = (name) => args.includes(`--${name}`);
const option = (name, dflt) => {
  const a = args.find((s) => s.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : dflt;
};
const USAGE = 'usage: node tests/bench/bench.js [--quick | --full] [--cells=rnn,lstm,gru] [--sizes=S,M,LONG] [--rounds=N] [--no-torch] [--no-ort] [--no-tfjs] [--no-native] [--no-plain] [--no-kernels] [--no-variants] [--out=DIR]';
for (const a of args) {
  if (!/^--(quick|full|no-torch|no-ort|no-tfjs|no-native|no-plain|no-kernels|no-variants|cells=.*|sizes=.*|rounds=\d+|out=.*)$/.test(a)) {
    console.error(`bench: unknown argument '${a}'\n${USAGE}`);
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
const ROUNDS = Number(option('rounds', quick ? 1 : 3));
if (!(ROUNDS >= 1)) { console.error(`bench: --rounds: expected a whole number >= 1\n${USAGE}`); process.exit(2); }

// Time budgets (ms) per child; native: seconds per workload (bench_native.c);
// pairs: interleaved step pairs per variant. The compared figures (simd,
// torch, ort) get a round's share: roundBudget().
const BUDGET = quick
  ? { simd: 1200, plain: 1200, native: 0.8, torch: 800, ort: 600, pairs: 6, tfjs: { S: 4000, M: 12000, LONG: 15000 } }
  : full
    ? { simd: 3000, plain: 4000, native: 2, torch: 4000, ort: 3000, pairs: 30, tfjs: { S: 15000, M: 60000, LONG: 180000 } }
    : { simd: 2000, plain: 2000, native: 1.5, torch: 1500, ort: 1000, pairs: 15, tfjs: { S: 8000, M: 35000, LONG: 40000 } };
// TF.js's share of the run: a TF.js workload that would take it past this
// (counting TF.js's children only) is skipped
const TFJS_ALLOWANCE_MS = quick ? 90e3 : full ? Infinity : 200e3;
// a round's share of a budget: half of it for 2 or more rounds, whatever their
// number (each round has the same warm-up before its timing)
const roundBudget = (ms) => (ROUNDS === 1 ? ms : Math.round(ms / 2));
const THREADS = [1, 2];
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
  const kernelFiles = ['tests/c/bench_kernels.c', 'src/gemm.c', 'src/pool.c', 'src/vmath.c'];
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

// 3. which of the other libraries are there?
const require = createRequire(path.join(here, 'bench.js'));
const resolves = (...names) => {
  try {
    for (const n of names) require.resolve(n);
    return true;
  } catch {
    return false;
  }
};
let tfjsAvailable = false;
if (!flag('no-tfjs')) {
  tfjsAvailable = resolves('@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm');
  if (!tfjsAvailable) notes.push('TensorFlow.js skipped: @tensorflow/tfjs and @tensorflow/tfjs-backend-wasm are not installed (npm install)');
}
let ortAvailable = false;
if (!flag('no-ort')) {
  ortAvailable = resolves('onnxruntime-web', 'protobufjs');
  if (!ortAvailable) notes.push('onnxruntime-web skipped: onnxruntime-web or protobufjs is not installed (npm install)');
}
const PYTHON = process.env.RNNLAB_PYTHON || '/usr/bin/python3';
let torchAvailable = false;
if (!flag('no-torch')) {
  const probe = fs.existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import importlib.util, sys; sys.exit(importlib.util.find_spec("torch") is None)']);
  torchAvailable = probe && probe.status === 0;
  if (!torchAvailable) notes.push(`PyTorch skipped: ${PYTHON} cannot import torch. To compare with it: sudo apt-get install -y python3-torch libopenblas0-pthread (or set RNNLAB_PYTHON to a python3 with torch)`);
}
for (const n of notes) log(n);

// PyTorch's children: the thread count for ATen and for the BLAS's own pool,
// and GNU OpenMP's passive waiting (bench_torch.py explains why).
const torchEnv = (n) => ({ OMP_NUM_THREADS: String(n), OPENBLAS_NUM_THREADS: String(n), OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? 'PASSIVE' });
const node = (script, argv, budget, timeoutFactor = 6) => [process.execPath, [path.join(here, script), ...argv], { timeoutMs: budget * timeoutFactor + 60e3 }];

// Every child of one workload, in order (right after each other: the
// machine's load drifts, and neighbours in time make fairer ratios).
function workloadChildren(cell, size) {
  const list = [];
  if (nativeExe) list.push(['native', `native ${cell} ${size}`, nativeExe, [String(BUDGET.native), cell, size], { timeoutMs: 120e3, tagged: false }]);
  if (!flag('no-plain')) list.push(['plain', `rnnlab plain ${cell} ${size}`, ...node('worker-rnnlab.js', ['plain', cell, size, String(BUDGET.plain), '--threads=1'], BUDGET.plain)]);
  return list;
}

// The children whose figures are compared with each other, in the order of
// a round (roundOrder turns it).
function comparedChildren(cell, size) {
  const list = [];
  const simd = roundBudget(BUDGET.simd), torch = roundBudget(BUDGET.torch), ort = roundBudget(BUDGET.ort);
  for (const n of THREADS) list.push([n === 1 ? 'simd' : `simd${n}`, `rnnlab simd ${cell} ${size} ${n} thread(s)`, ...node('worker-rnnlab.js', ['simd', cell, size, String(simd), `--threads=${n}`], simd)]);
  if (torchAvailable) {
    for (const n of THREADS) {
      list.push([`torch${n}`, `torch ${cell} ${size} ${n} thread(s)`, PYTHON, [path.join(here, 'bench_torch.py'), cell, size, String(n), String(torch)],
        { timeoutMs: torch * 20 + 120e3, env: torchEnv(n) }]);
    }
  }
  if (ortAvailable) for (const n of THREADS) list.push([`ort${n}`, `onnxruntime-web ${cell} ${size} ${n} thread(s)`, ...node('worker-ort.js', [cell, size, String(n), String(ort)], ort)]);
  return list;
}

const roundOrder = (list, round) => list.map((_, i) => list[(i + 2 * round) % list.length]);

// One figure from its rounds: the first round's result, with every timed
// phase's wall and CPU medians replaced by the medians over the rounds (the
// rounds' own figures kept beside them). A round that failed is left out;
// when all failed, the first error stands.
function mergeRounds(runs) {
  const ok = runs.filter((r) => r.json && !r.json.unavailable);
  if (!ok.length) return runs[0].json ?? { error: runs[0].error };
  const merged = structuredClone(ok[0].json);
  for (const [phase, t] of Object.entries(merged.timing ?? {})) {
    if (!Number.isFinite(t?.wallMs)) continue;
    const of = ok.map((r) => r.json.timing?.[phase]).filter((p) => Number.isFinite(p?.wallMs));
    t.rounds = of.map((p) => ({ wallMs: p.wallMs, cpuMs: p.cpuMs, reps: p.reps }));
    t.wallMs = median(of.map((p) => p.wallMs));
    if (of.every((p) => Number.isFinite(p.cpuMs))) t.cpuMs = median(of.map((p) => p.cpuMs));
    t.reps = of.reduce((a, p) => a + (p.reps ?? 0), 0);
  }
  merged.rounds = ok.length;
  if (ok.length < runs.length) merged.roundErrors = runs.filter((r) => !r.json).map((r) => r.error);
  return merged;
}

const results = { native: {}, simd: {}, simd2: {}, plain: {}, torch1: {}, torch2: {}, ort1: {}, ort2: {}, tfjs: {} };
const key = (cell, size) => `${cell}-${size}`;
const order = [];
for (const size of sizes) for (const cell of cells) order.push({ cell, size });

// 4. the workloads, size by size: for each, every implementation but TF.js,
// then TF.js on that size, LSTM first (the headline workload, should TF.js's
// share of the run cut the rest).
let tfjsSpentMs = 0;
const unavailableLogged = new Set();
for (const size of sizes) {
  for (const cell of cells) {
    for (const [name, label, cmd, argv, opts] of workloadChildren(cell, size)) {
      const r = runChild(label, cmd, argv, opts);
      if (name === 'native') {
        if (r.json) machine.nativeCompiler = r.json.compiler;
        results.native[key(cell, size)] = r.json?.results?.[0] ?? { cell, size, error: r.error ?? 'no result' };
      } else {
        results[name][key(cell, size)] = r.json ?? { cell, size, error: r.error };
      }
    }
    const compared = comparedChildren(cell, size);
    const runs = Object.fromEntries(compared.map(([name]) => [name, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, label, cmd, argv, opts] of roundOrder(compared, round)) {
        if (runs[name].some((r) => r.json?.unavailable)) continue; // said once is enough
        runs[name].push(runChild(ROUNDS > 1 ? `${label}, round ${round + 1}` : label, cmd, argv, opts));
      }
    }
    for (const [name, label] of compared) {
      const merged = mergeRounds(runs[name]);
      results[name][key(cell, size)] = merged.error && !merged.timing ? { cell, size, ...merged } : merged;
      if (merged.unavailable && !unavailableLogged.has(name)) {
        unavailableLogged.add(name);
        log(`${label}: ${merged.unavailable} (said once)`);
      }
    }
  }
  if (!tfjsAvailable) continue;
  for (const cell of [...cells].sort((a, b) => (b === 'lstm') - (a === 'lstm'))) {
    const budget = Math.min(BUDGET.tfjs[size], TFJS_ALLOWANCE_MS - tfjsSpentMs);
    if (budget < BUDGET.tfjs[size] * 0.8) {
      results.tfjs[key(cell, size)] = { cell, size, skipped: `TF.js's share of the run (${TFJS_ALLOWANCE_MS / 1000} s) was used up; --full runs it` };
      log(`tfjs ${cell} ${size}: skipped (time limit)`);
      continue;
    }
    const t0 = Date.now();
    const r = runChild(`tfjs ${cell} ${size}`, process.execPath, [path.join(here, 'worker-tfjs.js'), cell, size, String(budget)], { timeoutMs: budget * 4 + 60e3 });
    tfjsSpentMs += Date.now() - t0;
    results.tfjs[key(cell, size)] = r.json ?? { cell, size, error: r.error };
  }
}

// 5. the options that change a step's work (variants.js): SIMD build, one
// thread, LSTM-M, each variant interleaved with its base in one process
const variantRuns = flag('no-variants') ? [] : runVariants((v) => {
  const r = runChild(`rnnlab variant ${v.name}`, process.execPath,
    [path.join(here, 'worker-variant.js'), VARIANT_CELL, VARIANT_SIZE, String(BUDGET.pairs), JSON.stringify(v.base), JSON.stringify(v.config), String(BUDGET.pairs * 2000), '--threads=1'],
    { timeoutMs: BUDGET.pairs * 10e3 + 60e3 });
  return r.json ?? { error: r.error };
});
machine.loadAverageAtEnd = os.loadavg().map((v) => Number(v.toFixed(2)));
machine.totalSeconds = Math.round((Date.now() - startedAt) / 1000);

// The kernel benchmark's JSON belongs to the kernel work and may change: take
// every object of numbers in it as a group of figures (the key names the unit).
function kernelGroups(j) {
  const groups = {};
  if (!j || j.error) return groups;
  for (const [g, v] of Object.entries(j)) {
    if (v && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((n) => typeof n === 'number')) groups[g === 'results' ? (j.unit ?? 'results') : g] = v;
  }
  return groups;
}

function kernelsMarkdown() {
  const f = (v) => (Number.isFinite(v) ? (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2)) : '–');
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
  return kmd;
}

// ------------------------------------------------------------------ report

const all = (name) => Object.values(results[name]);
const firstOf = (names, get) => names.flatMap(all).map(get).find((v) => v != null);
const threadsUnavailable = all('simd2').some((r) => r.unavailable);
const tfjsVersion = firstOf(['tfjs'], (r) => r.version);
const ortVersion = firstOf(['ort1', 'ort2'], (r) => r.version);
const torchVersion = firstOf(['torch1', 'torch2'], (r) => r.version);
// PyTorch's BLAS, as its child found it mapped (the libblas.so.3 alternative)
const blasEntries = firstOf(['torch1', 'torch2'], (r) => r.blas);
const blasName = blasEntries?.length ? [...new Set(blasEntries.map((b) => b.name))].join(' + ') : null;
const onOpenBlas = !!blasEntries?.some((b) => /^OpenBLAS/.test(b.name));
let torchNote = null;
if (!torchAvailable) torchNote = flag('no-torch') ? 'PyTorch not run (--no-torch)' : 'PyTorch not installed';
else if (!blasEntries) torchNote = 'PyTorch did not run (see notes)';
else if (!onOpenBlas) torchNote = `not judged: PyTorch ran on ${blasName}, not OpenBLAS (sudo apt-get install -y libopenblas0-pthread)`;

for (const [k, r] of Object.entries(results.simd2)) if (r.unavailable) { notes.push(`rnnlab 2 threads: ${r.unavailable}; its columns say n/a`); break; }
for (const [k, r] of Object.entries(results.simd2)) if (r.threads != null && r.threads !== 2) notes.push(`rnnlab ${k}: asked for 2 threads, init used ${r.threads}`);
for (const name of ['simd', 'plain']) for (const r of all(name)) for (const n of r.notes ?? []) if (!notes.includes(`rnnlab: ${n}`)) notes.push(`rnnlab: ${n}`);
if (torchAvailable && blasEntries) {
  const configs = [...new Set(blasEntries.map((b) => b.config).filter(Boolean))];
  notes.push(`PyTorch ${torchVersion} runs on ${blasName}${configs.length ? ` (${configs.join('; ')})` : ''}: ${[...new Set(blasEntries.map((b) => b.realpath))].join(', ')}; its build says ${firstOf(['torch1'], (r) => r.blasInfo) ?? '?'}; OMP_WAIT_POLICY=${torchEnv(1).OMP_WAIT_POLICY}.`);
  if (!onOpenBlas) notes.push('PyTorch is on a BLAS other than OpenBLAS: Debian\'s reference BLAS is many times slower, so its figures are no fair comparison; install OpenBLAS with sudo apt-get install -y libopenblas0-pthread (the libblas.so.3 alternative then points at it).');
  const slowTorch = [1, 2].flatMap((n) => Object.entries(results[`torch${n}`]).filter(([, r]) => r.notes?.length).map(([k]) => `${k} on ${n}`));
  if (slowTorch.length) notes.push(`PyTorch's first full-size step took over a third of its budget, so it had no more warm-up and may be timed only once, in: ${slowTorch.join(', ')} thread(s)`);
  for (const [k, r] of Object.entries(results.torch2)) if (r.threads && r.threads.torch !== 2) notes.push(`PyTorch ${k}: asked for 2 threads, torch.get_num_threads() says ${r.threads.torch}`);
}
for (const [k, r] of Object.entries(results.ort2)) {
  if (r.threads != null && r.threads !== 2) notes.push(`onnxruntime-web ${k}: asked for 2 threads, ort.env.wasm.numThreads is ${r.threads}`);
}
const ortCpuPerWall = all('ort2').map((r) => r.cpuPerWall).filter(Number.isFinite);
if (ortCpuPerWall.length) notes.push(`onnxruntime-web on 2 threads in Node (worker_threads): CPU time / wall time per run ${Math.min(...ortCpuPerWall).toFixed(2)}–${Math.max(...ortCpuPerWall).toFixed(2)} (2 when both threads work throughout; its LSTM/GRU/RNN kernels split only large enough products).`);
for (const [k, r] of Object.entries(results.tfjs)) if (r.notes?.length) notes.push(`TF.js ${k}: ${r.notes.join('; ')}`);
for (const [k, r] of Object.entries(results.tfjs)) if (r.skipped) notes.push(`TF.js ${k}: skipped, ${r.skipped}`);
for (const b of Object.keys(results)) for (const [k, r] of Object.entries(results[b])) if (r.error) notes.push(`${b} ${k}: ${r.error}`);
if (staleWasm.length) notes.push(`${staleWasm.join(', ')} older than the engine sources when this ran`);
if (git.dirtyFiles.length) notes.push(`uncommitted changes in: ${git.dirtyFiles.join(', ')}`);

// how far the rounds of the headline figures spread (M training steps)
if (ROUNDS > 1) {
  const spread = (name, k) => results[name]?.[k]?.timing?.train?.rounds?.map((r) => r.wallMs.toFixed(1)).join(' / ');
  for (const { cell, size } of order.filter((o) => o.size === 'M')) {
    const k = key(cell, size);
    const parts = [['rnnlab 1 thread', 'simd'], ['rnnlab 2 threads', 'simd2'], ['PyTorch 1 thread', 'torch1'], ['PyTorch 2 threads', 'torch2']]
      .map(([label, name]) => [label, spread(name, k)]).filter(([, v]) => v).map(([label, v]) => `${label} ${v}`);
    if (parts.length) notes.push(`${cell.toUpperCase()}-${size} training step, ms in each round: ${parts.join('; ')}.`);
  }
}

const rows = buildRows(results, order);
const summary = summarize(rows);
const variants = variantsReport(variantRuns, CLOCKS);
for (const r of variants.rows) if (r.error) notes.push(`variant ${r.variant}: ${r.error}`);
const targets = judgeTargets(rows, { threadsUnavailable, torchNote, variantTargets: variantRuns.length ? variants.targets : null });

const load = `load average ${machine.loadAverageAtStart[0]} at start, ${machine.loadAverageAtEnd[0]} at end`;
const versions = [
  `Node ${machine.node}`, machine.gcc ?? 'gcc ?',
  torchVersion && `PyTorch ${torchVersion}${blasName ? ` on ${blasName}` : ''}`,
  ortVersion && `onnxruntime-web ${ortVersion}`, tfjsVersion && `TensorFlow.js ${tfjsVersion}`,
].filter(Boolean).join(', ');
const machineLine = `One run on ${machine.date.slice(0, 10)} (rnnlab ${git.commit ?? '?'}${git.dirtyFiles.length ? ' with uncommitted changes' : ''}): ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB (shared with other work: ${load}); ${versions}; builds web/dist/rnnlab-simd.wasm ${builds.simd.sha256} and rnnlab.wasm ${builds.plain.sha256}; \`npm run bench${[quick && '--quick', full && '--full', args.some((a) => a.startsWith('--rounds=')) && `--rounds=${ROUNDS}`].filter(Boolean).map((a, i) => (i ? ' ' : ' -- ') + a).join('')}\`, ${machine.totalSeconds} s.`;

const markdown = markdownReport(rows, summary, targets, {
  machineLine, threadsUnavailable, torchVersion, blas: blasName, ortVersion, tfjsVersion, rounds: ROUNDS,
  variantsMd: variantRuns.length ? variants.md : null, kernelsMd: kernelsMarkdown(), notes,
});
const out = {
  machine, builds, mode: quick ? 'quick' : full ? 'full' : 'default', rounds: ROUNDS, budgets: BUDGET, threads: THREADS, workloads: WORKLOADS,
  versions: { torch: torchVersion ?? null, blas: blasEntries ?? null, ortWeb: ortVersion ?? null, tfjs: tfjsVersion ?? null },
  rows, variants: variants.rows, summary, targets, kernels, notes, raw: results, rawVariants: variantRuns.map((v) => v.result),
};
fs.mkdirSync(outDir, { recursive: true });
fs.writeFileSync(path.join(outDir, 'latest.json'), `${JSON.stringify(out, null, 2)}\n`);
fs.writeFileSync(path.join(outDir, 'latest.md'), `${markdown}\n`);
process.stdout.write(`\n${markdown}\n`);
log(`wrote ${path.relative(process.cwd(), path.join(outDir, 'latest.json'))} and latest.md in ${machine.totalSeconds} s`);
