// The hand-written types (web/index.d.ts) describe the library: a typed tour
// of the whole API (tests/types/usage.ts) type-checks against them through
// the package's own name, and they list what the JS really has.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

import { createModel, loadModel } from '../web/rnnlab.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const dts = readFileSync(new URL('../web/index.d.ts', import.meta.url), 'utf8');

test("tests/types/usage.ts type-checks against index.d.ts, resolved as 'rnnlab'", () => {
  let tsc;
  try {
    tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  } catch {
    assert.fail('typescript is not installed: run npm install (it is a devDependency)');
  }
  // like `npx tsc --noEmit -p tests/types`, without npx's start-up
  const run = spawnSync(process.execPath, [tsc, '--noEmit', '-p', 'tests/types', '--listFiles'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  const errors = run.stdout.split('\n').filter((l) => /error TS\d+/.test(l));
  assert.deepEqual(errors, [], `tsc found errors:\n${errors.join('\n')}`);
  assert.equal(run.status, 0, run.stdout + run.stderr);
  const files = run.stdout.split('\n').map((l) => l.trim());
  assert.ok(files.some((f) => f.endsWith('/web/index.d.ts')), "'rnnlab' resolved to web/index.d.ts through the exports map");
});

test('ErrorCode lists every code the library throws, and the README table every ErrorCode', () => {
  const declared = [...dts.match(/export type ErrorCode =([^;]+);/)[1].matchAll(/'(E_[A-Z]+)'/g)].map((m) => m[1]).sort();
  const thrown = new Set();
  for (const f of readdirSync(new URL('../web/', import.meta.url)).filter((n) => n.endsWith('.js'))) {
    const src = readFileSync(new URL(`../web/${f}`, import.meta.url), 'utf8');
    for (const m of src.matchAll(/RnnlabError\(\s*'(E_[A-Z]+)'|(?:^|[^.\w])(?:err|fail|stop)\(\s*'(E_[A-Z]+)'/gm)) thrown.add(m[1] ?? m[2]);
  }
  const status = readFileSync(new URL('../web/abi.js', import.meta.url), 'utf8').match(/STATUS_CODES = \[([^\]]+)\]/)[1];
  for (const m of status.matchAll(/'(E_[A-Z]+)'/g)) thrown.add(m[1]);
  assert.deepEqual([...thrown].filter((c) => !declared.includes(c)), [], 'thrown but not in ErrorCode');
  let readme = '';
  try {
    readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  } catch {
    assert.fail('README.md is missing');
  }
  const documented = [...readme.matchAll(/^\|\s*`(E_[A-Z]+)`\s*\|/gm)].map((m) => m[1]).sort();
  assert.deepEqual(documented, declared, "README's error table and index.d.ts's ErrorCode");
});

test('the Model interface declares exactly what a created or loaded model has', async () => {
  const body = dts.match(/export interface Model \{([\s\S]*?)\n\}/)[1];
  const declared = [...body.matchAll(/^\s{2}(?:readonly\s+)?(\w+)\s*[(:]/gm)].map((m) => m[1]).sort();
  const model = await createModel({ cell: 'rnn', inputSize: 1, hiddenSize: 1, outputSize: 1 });
  const loaded = await loadModel(model.save());
  const actual = [...new Set([model, loaded].flatMap((m) => [
    ...Object.getOwnPropertyNames(Object.getPrototypeOf(m)).filter((k) => k !== 'constructor'),
    ...Object.keys(m),
  ]))].filter((k) => !k.startsWith('_')).sort();
  model.dispose();
  loaded.dispose();
  assert.deepEqual(actual.filter((k) => !declared.includes(k)), [], 'on a model but not declared');
  assert.deepEqual(declared.filter((k) => !actual.includes(k)), [], 'declared but not on a model');
});
