// The published artifact works, not just the source tree: `npm pack`, install
// the tarball into an empty folder, import 'rnnlab' there and train a model.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const quiet = { ...process.env, npm_config_loglevel: 'error', npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };

let work;      // temporary folder for the tarball and the consumer app
let app;       // the consumer app folder
let packed;    // npm pack --json output for the tarball
let installed; // node_modules/rnnlab in the consumer app

before(() => {
  work = mkdtempSync(join(tmpdir(), 'rnnlab-pack-'));
  const out = execFileSync(npm, ['pack', '--json', '--pack-destination', work], { cwd: root, env: quiet, encoding: 'utf8', timeout: 60_000 });
  packed = JSON.parse(out.slice(out.indexOf('[')))[0];
  app = join(work, 'app');
  execFileSync('mkdir', [app]);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'rnnlab-consumer', version: '1.0.0', private: true }, null, 2));
  // no dependencies, so no network either
  execFileSync(npm, ['install', join(work, packed.filename), '--no-audit', '--no-fund', '--offline'], { cwd: app, env: quiet, encoding: 'utf8', timeout: 60_000 });
  installed = join(app, 'node_modules', 'rnnlab');
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Runs an ES module script in the consumer app; returns its last stdout line as JSON. */
function runInApp(name, source) {
  writeFileSync(join(app, name), source);
  const run = spawnSync(process.execPath, [name], { cwd: app, encoding: 'utf8', timeout: 60_000 });
  assert.equal(run.status, 0, `${name} failed:\n${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').pop());
}

test('the tarball holds the library, both .wasm builds, the types and SPEC.md, and nothing from tests/ or src/', () => {
  const files = packed.files.map((f) => f.path);
  for (const f of ['package.json', 'README.md', 'web/SPEC.md', 'web/rnnlab.js', 'web/index.d.ts', 'web/dist/rnnlab-simd.wasm', 'web/dist/rnnlab.wasm']) {
    assert.ok(files.includes(f), `${f} is missing from the tarball`);
  }
  const stray = files.filter((f) => /^(tests|src|build|node_modules|\.ci)\//.test(f) || f.startsWith('web/demo/') || f === 'web/server.js' || f === 'build.sh');
  assert.deepEqual(stray, [], 'files that do not belong in the package');
  assert.ok(packed.size < 1_000_000, `the tarball is ${packed.size} bytes`);
});

test('every module web/rnnlab.js imports, directly or not, is in the tarball', () => {
  const files = new Set(packed.files.map((f) => f.path));
  const seen = new Set();
  const visit = (path) => {
    if (seen.has(path)) return;
    seen.add(path);
    assert.ok(files.has(path), `${path} is imported but not in the package's "files"`);
    const source = readFileSync(join(root, path), 'utf8');
    for (const m of source.matchAll(/(?:import|export)\s[^'"]*?from\s*['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g)) {
      visit(posix.normalize(posix.join(posix.dirname(path), m[1] ?? m[2])));
    }
    for (const m of source.matchAll(/new URL\(\s*['"](\.[^'"]+)['"]\s*,\s*import\.meta\.url\s*\)/g)) {
      const target = posix.normalize(posix.join(posix.dirname(path), m[1]));
      assert.ok(files.has(target), `${path} loads ${target}, which is not in the package`);
    }
  };
  visit('web/rnnlab.js');
  assert.ok(seen.size > 3);
});

test('the installed package.json: ESM entry and types in the exports map, no install scripts, Node >= 18', () => {
  const pkg = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'));
  assert.equal(pkg.name, 'rnnlab');
  assert.equal(pkg.type, 'module');
  const main = pkg.exports['.'];
  assert.ok(existsSync(join(installed, main.default ?? main.import)), 'the entry exists');
  assert.ok(existsSync(join(installed, main.types)), 'the types exist');
  assert.equal(Object.keys(main)[0], 'types', '"types" comes first in the condition list (TypeScript picks the first match)');
  for (const s of ['preinstall', 'install', 'postinstall', 'prepare']) assert.equal(pkg.scripts?.[s], undefined, `scripts.${s}`);
  assert.equal(pkg.dependencies, undefined, 'no runtime dependencies');
  assert.match(pkg.engines.node, />=\s*18/);
});

test("import 'rnnlab' from a fresh folder and train a model", () => {
  const r = runInApp('train.mjs', `
    import { createModel, loadModel, init, version, RnnlabError, Vocabulary } from 'rnnlab';
    const engine = await init();
    // the sum of a short sequence, many-to-one
    const N = 64, T = 5;
    const x = new Float32Array(N * T), y = new Float32Array(N);
    let s = 1;
    const rand = () => ((s = (s * 16807) % 2147483647) / 2147483647);
    for (let n = 0; n < N; n++) for (let t = 0; t < T; t++) { x[n * T + t] = rand(); y[n] += x[n * T + t] / T; }
    const model = await createModel({ cell: 'gru', inputSize: 1, hiddenSize: 16, outputSize: 1, output: 'last', seed: 1 });
    const before = model.evaluate({ x, y, shape: [N, T, 1] }).loss;
    const history = await model.fit({ x, y, shape: [N, T, 1] }, { epochs: 30, batchSize: 16, optimizer: { type: 'adam', lr: 0.01 } });
    const loss = model.evaluate({ x, y, shape: [N, T, 1] }).loss;
    const copy = await loadModel(model.save());
    const same = copy.predict(x, { shape: [N, T, 1] }).output.every((v, i) => v === model.predict(x, { shape: [N, T, 1] }).output[i]);
    let code = null;
    try { model.predict(x); } catch (e) { code = e instanceof RnnlabError ? e.code : 'not an RnnlabError'; }
    console.log(JSON.stringify({ simd: engine.simd, version, before, loss, steps: history.steps.step.length, same, code, vocab: Vocabulary.fromText('ba').chars }));
  `);
  assert.equal(r.version, JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version);
  assert.equal(r.simd, WebAssembly.validate(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 22, 1, 20, 0, 253, 12, ...Array(16).fill(0), 11])));
  assert.equal(r.steps, 120);
  assert.ok(r.loss < r.before / 4, `the loss went from ${r.before} to ${r.loss}`);
  assert.equal(r.same, true, 'save → loadModel predicts the same');
  assert.equal(r.code, 'E_SHAPE');
  assert.deepEqual(r.vocab, ['a', 'b']);
});

test('the installed fallback (no-SIMD) build loads and trains too', () => {
  const r = runInApp('fallback.mjs', `
    import { init, createModel } from 'rnnlab';
    const engine = await init({ simd: false });
    const m = await createModel({ cell: 'lstm', inputSize: 2, hiddenSize: 8, outputSize: 2 });
    const x = Float32Array.from({ length: 4 * 3 * 2 }, (_, i) => Math.sin(i));
    const a = m.evaluate({ x, y: x, shape: [4, 3, 2] }).loss;
    for (let i = 0; i < 50; i++) m.trainStep({ x, y: x, shape: [4, 3, 2] }, { optimizer: { type: 'adam', lr: 0.01 } });
    console.log(JSON.stringify({ simd: engine.simd, a, b: m.evaluate({ x, y: x, shape: [4, 3, 2] }).loss }));
  `);
  assert.equal(r.simd, false);
  assert.ok(r.b < r.a, `${r.b} < ${r.a}`);
});

test('deep imports of internals are closed by the exports map', () => {
  const r = runInApp('deep.mjs', `
    let code = null;
    try { await import('rnnlab/web/model.js'); } catch (e) { code = e.code; }
    const pkg = await import('rnnlab/package.json', { with: { type: 'json' } }).then((m) => m.default.name, (e) => e.code);
    console.log(JSON.stringify({ code, pkg }));
  `);
  assert.equal(r.code, 'ERR_PACKAGE_PATH_NOT_EXPORTED');
  assert.equal(r.pkg, 'rnnlab');
});

test('the .wasm files can be reached through the exports map (for bundlers without new URL(…, import.meta.url) support)', () => {
  // esbuild, for one, leaves new URL('./dist/rnnlab-simd.wasm', import.meta.url)
  // alone; its users then pass init({ wasm }) a URL they import themselves.
  const r = runInApp('wasm-path.mjs', `
    const found = {};
    for (const spec of ['rnnlab/dist/rnnlab-simd.wasm', 'rnnlab/dist/rnnlab.wasm']) {
      try { found[spec] = import.meta.resolve(spec).endsWith('.wasm'); } catch (e) { found[spec] = e.code; }
    }
    console.log(JSON.stringify(found));
  `);
  assert.deepEqual(r, { 'rnnlab/dist/rnnlab-simd.wasm': true, 'rnnlab/dist/rnnlab.wasm': true },
    'add "./dist/*.wasm": "./web/dist/*.wasm" to the exports map of package.json');
});

