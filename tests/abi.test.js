// The ABI module (web/abi.js) against the engine's header (src/rnnlab.h) and
// export list (src/exports.txt): the two cannot drift apart. And what one
// API call costs: calls into wasm per trainStep and predict, counted by the
// ABI module, which every call goes through.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { createModel } from '../web/rnnlab.js';
import { STATUS_CODES, BUF, STAT, FLAG, ENUMS, CONFIG_FIELDS, OPTIMIZER_FIELDS } from '../web/abi.js';

const header = readFileSync(new URL('../src/rnnlab.h', import.meta.url), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
const abiSource = readFileSync(new URL('../web/abi.js', import.meta.url), 'utf8');
const exportsList = readFileSync(new URL('../src/exports.txt', import.meta.url), 'utf8')
  .split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));

// Names and values of the enumerators of the C enum whose members start with `prefix`.
function enumerators(prefix) {
  const body = [...header.matchAll(/enum\s*\w*\s*\{([^}]*)\}/g)].map((m) => m[1]).find((b) => b.includes(prefix));
  assert.ok(body, `an enum of ${prefix}* in rnnlab.h`);
  const out = [];
  let next = 0;
  for (const part of body.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [, name, value] = part.match(/^(\w+)\s*(?:=\s*(.+))?$/);
    const v = value === undefined ? next : Number(eval(value.replace(/[A-Z_]+\w*/g, (n) => out.find((e) => e.name === n)?.value ?? n))); // eslint-disable-line no-eval
    out.push({ name, value: v });
    next = v + 1;
  }
  return out.filter((e) => e.name.startsWith(prefix));
}

// The fields of a C struct typedef as [name, word type].
function structFields(name) {
  const body = header.match(new RegExp(`typedef struct \\{([^}]*)\\} ${name};`))[1];
  const TYPES = { int32_t: 'i32', float: 'f32', uint32_t: 'u32' };
  const out = [];
  for (const line of body.split(';').map((l) => l.trim()).filter(Boolean)) {
    const [, type, names] = line.match(/^(\w+)\s+(.+)$/);
    for (const n of names.split(',')) out.push([n.trim(), TYPES[type] ?? type]);
  }
  return out;
}

const jsName = (s) => s.toLowerCase().replace(/_/g, '-');

test('status codes, buffer ids, stats slots and flags match rnnlab.h', () => {
  for (const { name, value } of enumerators('RNNLAB_E_')) assert.equal(STATUS_CODES[value], name.replace('RNNLAB_', ''), name);
  assert.equal(STATUS_CODES.length, enumerators('RNNLAB_E_').length + 1);
  const bufs = enumerators('RNNLAB_BUF_');
  for (const { name, value } of bufs) assert.equal(BUF[name.replace('RNNLAB_BUF_', '')], value, name);
  assert.equal(Object.keys(BUF).length, bufs.length, 'every buffer id and no other');
  const stats = enumerators('RNNLAB_STAT_');
  for (const { name, value } of stats) assert.equal(STAT[name.replace('RNNLAB_STAT_', '')], value, name);
  assert.equal(Object.keys(STAT).length, stats.length);
  for (const { name, value } of [...enumerators('RNNLAB_USE_'), ...enumerators('RNNLAB_CARRY_'), ...enumerators('RNNLAB_TRAINING')]) {
    assert.equal(FLAG[name.replace('RNNLAB_', '')], value, name);
  }
  assert.equal(Object.keys(FLAG).length, 4);
});

test('the enums of the config and optimiser match rnnlab.h', () => {
  const cases = [['cell', 'RNNLAB_CELL_'], ['activation', 'RNNLAB_ACT_'], ['output', 'RNNLAB_OUTPUT_'], ['loss', 'RNNLAB_LOSS_'],
    ['init', 'RNNLAB_INIT_'], ['recurrentInit', 'RNNLAB_RECURRENT_'], ['optimizer', 'RNNLAB_OPT_']];
  for (const [key, prefix] of cases) {
    const values = enumerators(prefix);
    assert.equal(ENUMS[key].length, values.length, key);
    for (const { name, value } of values) assert.equal(ENUMS[key][value], jsName(name.slice(prefix.length)), name);
  }
});

test('the struct layouts match rnnlab_config and rnnlab_optimizer field for field', () => {
  assert.deepEqual(CONFIG_FIELDS.map(([n, t]) => [n, t]), structFields('rnnlab_config'));
  assert.deepEqual(OPTIMIZER_FIELDS.map(([n, t]) => [n, t]), structFields('rnnlab_optimizer'));
  assert.deepEqual(structFields('rnnlab_buffer_info'), [['*data', 'void'], ['count', 'size_t']], 'a table entry is two wasm32 words');
});

test('every export is wrapped in abi.js, and only abi.js calls into wasm', () => {
  const wrapped = new Set([...abiSource.matchAll(/this\._fn\.(\w+)\(/g)].map((m) => `rnnlab_${m[1]}`));
  assert.deepEqual([...wrapped].filter((n) => !exportsList.includes(n)), [], 'abi.js calls no export that does not exist');
  // a worker thread's instance (web/threads.js, the worker's source text)
  // calls the one export that serves jobs; everything else goes through abi.js
  const threads = readFileSync(new URL('../web/threads.js', import.meta.url), 'utf8');
  const onWorkers = [...threads.matchAll(/exports\.(rnnlab_\w+)\(/g)].map((m) => m[1]);
  assert.deepEqual(onWorkers, ['rnnlab_worker_main'], 'the workers call only rnnlab_worker_main');
  assert.deepEqual(exportsList.filter((n) => !wrapped.has(n) && !onWorkers.includes(n)), [], 'every export is used through abi.js');
  for (const f of readdirSync(new URL('../web/', import.meta.url)).filter((n) => n.endsWith('.js') && n !== 'abi.js')) {
    const src = readFileSync(new URL(`../web/${f}`, import.meta.url), 'utf8');
    assert.doesNotMatch(src, /\.exports\.rnnlab_|\b_fn\./, `${f} reaches the engine only through abi.js`);
  }
});

test('defaults and the parameter layout come from the engine', async () => {
  const m = await createModel({ cell: 'gru', gruVariant: 'reset-after', inputSize: 3, hiddenSize: 5, outputSize: 2, layers: 2 });
  const defaults = m._abi.defaults();
  assert.equal(defaults.optimizers.adam.lr, 0.001);
  assert.equal(defaults.optimizers.sgd.lr, 0.01);
  assert.equal(defaults.optimizers.rmsprop.eps, 1e-7);
  assert.equal(m.config.seed, defaults.config.seed, 'seed defaulted from rnnlab_config_default');
  const lay = m._layout;
  // G = 3, H = 5: W0 15x3, U0 15x5, b0 15, bhn0 5, W1 15x5, U1 15x5, b1 15, bhn1 5, V 2x5, c 2
  assert.deepEqual(lay.tensors.map((t) => [t.name, t.layer, t.offset, t.count]), [
    ['W', 0, 0, 45], ['U', 0, 45, 75], ['b', 0, 120, 15], ['bhn', 0, 135, 5],
    ['W', 1, 140, 75], ['U', 1, 215, 75], ['b', 1, 290, 15], ['bhn', 1, 305, 5],
    ['V', 2, 310, 10], ['c', 2, 320, 2]]);
  assert.equal(m.parameterCount().rnnlab, 322);
  assert.equal(m.parameterCount().pytorch, 322 + 2 * (15 - 5), 'two biases per gate block but for b_hn');
  m.dispose();
});

function batch(N, T, X, Y, seed = 1) {
  let s = seed;
  const r = () => ((s = (s * 16807) % 2147483647) / 2147483647) - 0.5;
  return { x: Float32Array.from({ length: N * T * X }, r), y: Float32Array.from({ length: N * T * Y }, r), shape: [N, T, X] };
}

test('calls into wasm: at most 4 per trainStep and 3 per predict, 1 once the shape is known', async () => {
  const m = await createModel({ cell: 'lstm', inputSize: 3, hiddenSize: 8, outputSize: 2, seed: 2 });
  const abi = m._abi;
  const count = (fn) => { const before = abi.calls; fn(); return abi.calls - before; };
  const b = batch(4, 6, 3, 2);
  // a new shape and new optimiser settings: set_batch, buffer_table, set_optimizer, train_step
  assert.ok(count(() => m.trainStep(b, { optimizer: { type: 'sgd', lr: 0.1 }, clipNorm: 1 })) <= 4);
  assert.equal(count(() => m.trainStep(b)), 1, 'the same shape and settings: train_step alone');
  assert.ok(count(() => m.trainStep(batch(5, 7, 3, 2))) <= 3, 'a new shape');
  const x = b.x;
  assert.ok(count(() => m.predict(x, { shape: [4, 6, 3] })) <= 3);
  assert.equal(count(() => m.predict(x, { shape: [4, 6, 3] })), 1, 'the same shape: forward alone');
  m.dispose();
});

test('the batch is written once, time-major, where the engine computes on it', async () => {
  const m = await createModel({ cell: 'rnn', inputSize: 2, hiddenSize: 4, outputSize: 1, seed: 3 });
  const N = 3, T = 5, X = 2;
  const b = batch(N, T, X, 1);
  m.trainStep(b);
  const inEngine = m._buf(BUF.X);
  assert.equal(inEngine.length, N * T * X);
  for (let n = 0; n < N; n++) {
    for (let t = 0; t < T; t++) {
      for (let k = 0; k < X; k++) assert.equal(inEngine[(t * N + n) * X + k], b.x[(n * T + t) * X + k]);
    }
  }
  const model = readFileSync(new URL('../src/model.h', import.meta.url), 'utf8');
  assert.doesNotMatch(model, /\*\s*xt\s*;/, 'the engine keeps no time-major copy of x of its own');
  m.dispose();
});

test('the buffer table survives memory growth: views are remade, pointers kept', async () => {
  const m = await createModel({ cell: 'gru', inputSize: 2, hiddenSize: 4, outputSize: 2, seed: 4 });
  const b = batch(3, 4, 2, 2);
  m.trainStep(b);
  const before = m._abi.memoryBytes();
  const big = await createModel({ cell: 'lstm', inputSize: 64, hiddenSize: 512, outputSize: 64 });
  assert.ok(m._abi.memoryBytes() > before, 'memory grew');
  const again = m.trainStep(b);
  assert.ok(Number.isFinite(again.loss) && again.flow[0].length === 4);
  assert.equal(m._buf(BUF.X).length, 3 * 4 * 2);
  big.dispose();
  m.dispose();
});
