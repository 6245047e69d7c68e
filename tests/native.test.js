// Native C tests (tests/c/): the kernels and the engine under AddressSanitizer,
// LeakSanitizer and UBSan; the engine again with its allocations counted
// (-Wl,--wrap=malloc…); and the libFuzzer target for rnnlab_load: every seed and
// regression input replayed, then a short fuzz run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, statSync, readdirSync, mkdtempSync, mkdirSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { join, dirname, relative } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const NATIVE = join(root, 'build', 'native');
// The engine's sources, from build.sh itself: one list for both.
const ENGINE_SRC = spawnSync('bash', [join(root, 'build.sh'), 'sources'], { cwd: root, encoding: 'utf8' })
  .stdout.split('\n').filter(Boolean);
const HEADERS = readdirSync(join(root, 'src')).filter((f) => f.endsWith('.h')).map((f) => `src/${f}`);
const CORPUS = join(root, 'tests', 'c', 'corpus');
const CRASHES = join(root, 'tests', 'c', 'crashes');
const FUZZ_SECONDS = 20;

// Leak checking must stay on whatever the caller's environment says: options
// given later win, so ours go last.
const SANITIZER_ENV = {
  ...process.env,
  ASAN_OPTIONS: [process.env.ASAN_OPTIONS, 'detect_leaks=1:halt_on_error=1:abort_on_error=0:'
    + 'detect_stack_use_after_return=1:strict_string_checks=1'].filter(Boolean).join(':'),
  UBSAN_OPTIONS: [process.env.UBSAN_OPTIONS, 'print_stacktrace=1:halt_on_error=1'].filter(Boolean).join(':'),
};

const SAN_FLAGS = ['-O1', '-g', '-fsanitize=address,undefined', '-fno-sanitize-recover=all',
  '-fno-omit-frame-pointer'];
const WARN_FLAGS = ['-Wall', '-Wextra', '-Wno-unused-parameter'];
const WRAP_FLAGS = ['-Wl,--wrap=malloc', '-Wl,--wrap=calloc', '-Wl,--wrap=realloc'];

function mtime(path) {
  return statSync(join(root, path)).mtimeMs;
}

function stale(output, inputs) {
  if (!existsSync(join(root, output))) return true;
  const built = mtime(output);
  return inputs.some((f) => mtime(f) > built);
}

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20, ...options });
  if (r.error) throw r.error;
  return { status: r.status, signal: r.signal, out: `${r.stdout}${r.stderr}` };
}

function build(cmd, args, output) {
  mkdirSync(NATIVE, { recursive: true });
  const r = run(cmd, [...args, '-o', output]);
  assert.equal(r.status, 0, `build of ${output} failed:\n$ ${cmd} ${args.join(' ')}\n${r.out}`);
}

// build.sh builds every tests/c/test_*.c; call it when one is missing or old.
function ensureBuildSh() {
  const tests = readdirSync(join(root, 'tests', 'c')).filter((f) => /^test_.*\.c$/.test(f));
  const old = tests.some((f) => stale(`build/native/${f.slice(0, -2)}`,
    [`tests/c/${f}`, ...ENGINE_SRC, ...HEADERS, 'build.sh']));
  if (!old) return;
  const r = run('bash', ['build.sh', 'native']);
  assert.equal(r.status, 0, `bash build.sh native failed:\n${r.out}`);
}

function ensureAllocBuild() {
  const output = 'build/native/test_engine_alloc';
  if (!stale(output, ['tests/c/test_engine.c', ...ENGINE_SRC, ...HEADERS])) return output;
  build('gcc', ['-std=c11', ...WARN_FLAGS, '-Isrc', ...SAN_FLAGS, 'tests/c/test_engine.c', ...ENGINE_SRC,
    '-lm', ...WRAP_FLAGS], output);
  return output;
}

// The clang that links libFuzzer ('clang', or Debian's 'clang-14' that the
// emscripten package brings), or { missing: why, in words }.
function findFuzzCompiler() {
  const found = ['clang', 'clang-14'].filter((cc) => {
    try { return run(cc, ['--version']).status === 0; } catch { return false; }
  });
  if (!found.length) return { missing: 'clang is not installed (apt-get install clang libclang-rt-14-dev)' };
  const dir = mkdtempSync(join(tmpdir(), 'rnnlab-fuzzprobe-'));
  try {
    writeFileSync(join(dir, 'p.c'),
      'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return 0; }\n');
    let out = '';
    for (const cc of found) {
      const r = run(cc, ['-fsanitize=fuzzer,address,undefined', join(dir, 'p.c'), '-o', join(dir, 'p')]);
      if (r.status === 0) return { cc };
      out += r.out;
    }
    return { missing: `clang cannot link -fsanitize=fuzzer (apt-get install libclang-rt-14-dev):\n${out}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

let fuzzerBinary;
function ensureFuzzer(t) {
  if (fuzzerBinary) return fuzzerBinary;
  const output = 'build/native/fuzz_load';
  if (existsSync(join(root, output)) && !stale(output, ['tests/c/fuzz_load.c', ...ENGINE_SRC, ...HEADERS])) {
    fuzzerBinary = output;
    return output;
  }
  const { cc, missing } = findFuzzCompiler();
  if (missing) {
    assert.ok(!process.env.CI, `CI must run the fuzzer: ${missing}`);
    t.skip(`fuzzing skipped: ${missing}`);
    return null;
  }
  build(cc, ['-g', '-O1', '-fsanitize=fuzzer,address,undefined', '-fno-sanitize-recover=all',
    ...WARN_FLAGS, '-Isrc', 'tests/c/fuzz_load.c', ...ENGINE_SRC, '-lm'], output);
  fuzzerBinary = output;
  return output;
}

// Runs a test binary; asserts exit 0 and a final "P passed, 0 failed" line.
function runSummarised(binary) {
  const r = run(join(root, binary), [], { env: SANITIZER_ENV });
  const lines = r.out.trim().split('\n');
  const summary = r.out.match(/^(\d+) passed, (\d+) failed$/m);
  assert.ok(summary, `${binary}: no summary line (status ${r.status}, signal ${r.signal}):\n${r.out}`);
  assert.equal(Number(summary[2]), 0, `${binary}: ${summary[0]}\n${r.out}`);
  assert.ok(Number(summary[1]) > 0, `${binary}: nothing passed\n${r.out}`);
  assert.equal(r.status, 0, `${binary} exited with ${r.status} (${r.signal ?? 'no signal'}):\n${r.out}`);
  assert.match(lines.at(-1), /^\d+ passed, 0 failed$/, `${binary}: the summary is not the last line:\n${r.out}`);
  return r.out;
}

test('native: test_kernels (ASan, LSan, UBSan)', () => {
  ensureBuildSh();
  runSummarised('build/native/test_kernels');
});

let engineOutput = '';
test('native: test_engine (ASan, LSan, UBSan)', () => {
  ensureBuildSh();
  engineOutput = runSummarised('build/native/test_engine');
});

// Until build.sh links test_engine with the --wrap flags itself, a second
// build of the same file counts the engine's allocations.
test('native: test_engine with allocation counting (-Wl,--wrap)', (t) => {
  if (/^allocation counting: on/m.test(engineOutput)) {
    t.diagnostic('build/native/test_engine already counts allocations');
    assert.doesNotMatch(engineOutput, /^skip /m, `a test was skipped:\n${engineOutput}`);
    return;
  }
  const out = runSummarised(ensureAllocBuild());
  assert.match(out, /^allocation counting: on/m, out);
  assert.doesNotMatch(out, /^skip /m, `a test was skipped:\n${out}`);
});

function inputsIn(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => !f.startsWith('.') && f !== 'README.md').sort()
    .map((f) => join(dir, f));
}

test('fuzz_load: every seed and regression input replays cleanly', (t) => {
  const binary = ensureFuzzer(t);
  if (!binary) return;
  const files = [...inputsIn(CORPUS), ...inputsIn(CRASHES)];
  assert.ok(inputsIn(CORPUS).length > 0, 'tests/c/corpus is empty');
  const failures = [];
  for (const file of files) { // one process per file: every failing input is named
    const r = run(join(root, binary), ['-rss_limit_mb=2048', '-timeout=20', file], { env: SANITIZER_ENV });
    if (r.status !== 0) {
      const why = r.out.match(/^(SUMMARY: .*|==\d+== ?ERROR: .*|fuzz_load: .*)$/m);
      failures.push(`${relative(root, file)}: exit ${r.status}: ${why ? why[0] : r.out.slice(-2000)}`);
    }
  }
  assert.deepEqual(failures, [], `inputs that fail:\n${failures.join('\n')}`);
});

test(`fuzz_load: ${FUZZ_SECONDS} s of fuzzing finds no crash`, { timeout: (FUZZ_SECONDS + 100) * 1000 }, (t) => {
  const binary = ensureFuzzer(t);
  if (!binary) return;
  const work = mkdtempSync(join(tmpdir(), 'rnnlab-fuzz-'));
  try {
    mkdirSync(join(work, 'corpus'));
    // new inputs go to the scratch corpus (first directory); the seeds are read only
    const r = run(join(root, binary), [`-max_total_time=${FUZZ_SECONDS}`, '-runs=1000000', '-timeout=10',
      '-rss_limit_mb=2048', '-max_len=4096', '-print_final_stats=1', `-artifact_prefix=${work}/`,
      join(work, 'corpus'), CORPUS], { cwd: work, env: SANITIZER_ENV });
    const artifacts = readdirSync(work).filter((f) => f !== 'corpus');
    const execs = r.out.match(/stat::number_of_executed_units:\s*(\d+)/);
    t.diagnostic(`${execs ? execs[1] : '?'} executions`);
    if (r.status !== 0 || artifacts.length) {
      const kept = join(root, 'build', 'fuzz-artifacts');
      mkdirSync(kept, { recursive: true });
      for (const a of artifacts) copyFileSync(join(work, a), join(kept, a));
      assert.fail(`the fuzzer failed (exit ${r.status}); inputs kept in ${relative(root, kept)}/: `
        + `${artifacts.join(', ')}. Add each to tests/c/crashes/ and fix the engine.\n${r.out.slice(-6000)}`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
