// Non-finite data, non-finite steps, and wrongly sized data: the error codes,
// the messages (what was expected, what was given, where), and that a failed
// call leaves the weights and the optimiser exactly as they were.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createModel, RnnlabError } from '../web/rnnlab.js';
import { rng, uniform } from './helpers/cases.js';

const X = 2, H = 6, Y = 1, B = 3, T = 5;

async function setup(seed = 1, extra = {}) {
  const model = await createModel({ cell: 'gru', inputSize: X, hiddenSize: H, outputSize: Y, seed, ...extra });
  const r = rng(seed + 100);
  const batch = { x: uniform(r, B * T * X), shape: [B, T, X], y: uniform(r, B * T * Y) };
  return { model, batch };
}

// assert.throws with a code and a message pattern; returns the error.
function throwsCode(fn, code, ...patterns) {
  let error;
  assert.throws(fn, (e) => { error = e; return true; });
  assert.ok(error instanceof RnnlabError, `expected an RnnlabError, got ${error}`);
  assert.equal(error.code, code, `code of: ${error.message}`);
  for (const p of patterns) assert.match(error.message, p);
  return error;
}

const sameBits = (a, b, what) => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Object.is(a[i], b[i]), `${what}: element ${i} changed from ${b[i]} to ${a[i]}`);
};

// ---------------------------------------------------------------------------
// NaN / Infinity in the data
// ---------------------------------------------------------------------------

test('NaN or ±Infinity in x → E_NONFINITE naming the position [b][t][k]; weights unchanged', async () => {
  const { model, batch } = await setup(1);
  const before = model.getParameters();
  for (const [value, b, t, k, word] of [[NaN, 1, 3, 0, /NaN/], [Infinity, 2, 0, 1, /Infinity/], [-Infinity, 0, 4, 1, /Infinity/]]) {
    const x = batch.x.slice();
    x[(b * T + t) * X + k] = value;
    const pos = new RegExp(`x\\[${b}\\]\\[${t}\\]\\[${k}\\]`);
    throwsCode(() => model.trainStep({ ...batch, x }), 'E_NONFINITE', pos, word);
    throwsCode(() => model.computeGradients({ ...batch, x }), 'E_NONFINITE', pos);
    // nested arrays too
    const nested = Array.from({ length: B }, (_, bb) => Array.from({ length: T }, (_, tt) => Array.from(x.subarray((bb * T + tt) * X, (bb * T + tt + 1) * X))));
    throwsCode(() => model.trainStep({ x: nested, y: batch.y, shape: undefined }), 'E_NONFINITE', pos);
  }
  sameBits(model.getParameters(), before, 'parameters');
  model.dispose();
});

test('NaN or Infinity in y (MSE) → E_NONFINITE naming the position; weights unchanged', async () => {
  const { model, batch } = await setup(2);
  const before = model.getParameters();
  for (const [value, b, t] of [[NaN, 2, 1], [Infinity, 0, 4]]) {
    const y = batch.y.slice();
    y[(b * T + t) * Y] = value;
    throwsCode(() => model.trainStep({ ...batch, y }), 'E_NONFINITE', new RegExp(`y\\[${b}\\]\\[${t}\\]\\[0\\]`));
  }
  sameBits(model.getParameters(), before, 'parameters');
  model.dispose();
});

test('fit on data with NaN rejects with E_NONFINITE before any step', async () => {
  const { model, batch } = await setup(3);
  const before = model.getParameters();
  const x = batch.x.slice();
  x[7] = NaN;
  await assert.rejects(model.fit({ ...batch, x }, { epochs: 1 }), (e) => e.code === 'E_NONFINITE' && /x\[0\]\[3\]\[1\]/.test(e.message));
  sameBits(model.getParameters(), before, 'parameters');
  model.dispose();
});

// ---------------------------------------------------------------------------
// A step whose loss overflows
// ---------------------------------------------------------------------------

test('loss overflow (targets 1e30): trainStep throws E_NONFINITE, θ and optimiser state untouched, training goes on', async () => {
  // Two twins with the same seed and batches; only `a` sees the bad step.
  const a = await setup(4);
  const b = await setup(4);
  const opt = { optimizer: { type: 'adam', lr: 0.01 } };
  for (const m of [a.model, b.model]) { m.trainStep(a.batch, opt); m.trainStep(a.batch, opt); }
  const before = a.model.getParameters();
  const huge = { ...a.batch, y: a.batch.y.map((v) => v * 1e30) };
  throwsCode(() => a.model.trainStep(huge, opt), 'E_NONFINITE', /non-finite/, /unchanged/);
  sameBits(a.model.getParameters(), before, 'parameters after the failed step');
  // The next good step is step 3 on both, with the same moments: bit-identical results.
  const ia = a.model.trainStep(a.batch, opt);
  const ib = b.model.trainStep(a.batch, opt);
  assert.equal(ia.step, 3, 'the failed step did not count');
  assert.equal(ia.loss, ib.loss);
  sameBits(a.model.getParameters(), b.model.getParameters(), 'parameters after the next step (moments and step count untouched)');
  // and it still learns
  let info;
  for (let i = 0; i < 30; i++) info = a.model.trainStep(a.batch, opt);
  assert.ok(Number.isFinite(info.loss) && info.loss < 0.8 * ia.loss, `loss went from ${ia.loss} to ${info.loss}`);
  a.model.dispose();
  b.model.dispose();
});

test('computeGradients on an overflowing batch throws E_NONFINITE and changes nothing', async () => {
  const { model, batch } = await setup(5);
  const before = model.getParameters();
  const huge = { ...batch, y: batch.y.map((v) => v * 1e30) };
  throwsCode(() => model.computeGradients(huge), 'E_NONFINITE');
  sameBits(model.getParameters(), before, 'parameters');
  model.dispose();
});

// Data where sequences `bad` have targets so large the loss overflows.
function dataWithBadSequences(N, bad, seed) {
  const r = rng(seed);
  const x = uniform(r, N * T * X);
  const y = uniform(r, N * T * Y);
  for (const n of bad) y.fill(1e30, n * T * Y, (n + 1) * T * Y);
  return { x, shape: [N, T, X], y };
}

function keepSequences(d, keep) {
  const N = keep.length;
  const x = new Float32Array(N * T * X), y = new Float32Array(N * T * Y);
  keep.forEach((n, i) => {
    x.set(d.x.subarray(n * T * X, (n + 1) * T * X), i * T * X);
    y.set(d.y.subarray(n * T * Y, (n + 1) * T * Y), i * T * Y);
  });
  return { x, shape: [N, T, X], y };
}

test("fit onNonFinite 'skip': bad batches are recorded as skipped, the rest train exactly as without them", async () => {
  const N = 8, bad = [2, 5];
  const data = dataWithBadSequences(N, bad, 6);
  const a = await createModel({ cell: 'gru', inputSize: X, hiddenSize: H, outputSize: Y, seed: 9 });
  const b = await createModel({ cell: 'gru', inputSize: X, hiddenSize: H, outputSize: Y, seed: 9 });
  const opts = { epochs: 2, batchSize: 1, shuffle: false, optimizer: { type: 'adam', lr: 0.01 } };
  const ha = await a.fit(data, { ...opts, onNonFinite: 'skip' });
  const expectedSkipped = [];
  for (let e = 0; e < 2; e++) for (let n = 0; n < N; n++) expectedSkipped.push(bad.includes(n));
  assert.deepEqual(ha.steps.skipped, expectedSkipped);
  assert.equal(ha.steps.step.length, 2 * N);
  ha.steps.loss.forEach((l, i) => assert.equal(Number.isFinite(l), !expectedSkipped[i], `step ${i + 1} loss ${l}`));
  ha.epochs.loss.forEach((l) => assert.ok(Number.isFinite(l), `epoch loss ${l} counts only the steps taken`));
  // b trains on the good sequences only, in the same order: same updates, same Adam step numbers
  const good = [...Array(N).keys()].filter((n) => !bad.includes(n));
  await b.fit(keepSequences(data, good), opts);
  sameBits(a.getParameters(), b.getParameters(), 'parameters: skipped steps changed nothing');
  a.dispose();
  b.dispose();
});

test("fit onNonFinite 'stop' (the default) rejects with E_NONFINITE; θ is as after the last good step; the model is usable", async () => {
  const N = 6, bad = [3];
  const data = dataWithBadSequences(N, bad, 7);
  const a = await createModel({ cell: 'gru', inputSize: X, hiddenSize: H, outputSize: Y, seed: 10 });
  const b = await createModel({ cell: 'gru', inputSize: X, hiddenSize: H, outputSize: Y, seed: 10 });
  const opts = { epochs: 1, batchSize: 1, shuffle: false, optimizer: { type: 'adam', lr: 0.01 } };
  let error;
  await assert.rejects(a.fit(data, opts), (e) => { error = e; return true; });
  assert.ok(error instanceof RnnlabError);
  assert.equal(error.code, 'E_NONFINITE');
  assert.match(error.message, /onNonFinite/);
  assert.equal(error.history.steps.step.length, 3, 'three good steps were taken before the bad batch');
  await b.fit(keepSequences(data, [0, 1, 2]), opts);
  sameBits(a.getParameters(), b.getParameters(), 'parameters');
  // not left busy: the next call works
  const info = a.trainStep(keepSequences(data, [0]), { optimizer: { type: 'adam', lr: 0.01 } });
  assert.equal(info.step, 4);
  a.dispose();
  b.dispose();
});

// ---------------------------------------------------------------------------
// Wrong sizes
// ---------------------------------------------------------------------------

test('x of the wrong inner size → E_SHAPE naming the expected and the given shape; weights unchanged', async () => {
  const { model, batch } = await setup(11);
  const before = model.getParameters();
  const nested = (n, t, k, v = 0.1) => Array.from({ length: n }, () => Array.from({ length: t }, () => new Array(k).fill(v)));
  throwsCode(() => model.trainStep({ x: nested(B, T, 3), y: nested(B, T, 1) }), 'E_SHAPE',
    /batch\.x/, /expected shape \[\?, \?, 2\]/, /got \[3, 5, 3\]/);
  throwsCode(() => model.computeGradients({ x: nested(B, T, 1), y: nested(B, T, 1) }), 'E_SHAPE', /\[\?, \?, 2\]/, /\[3, 5, 1\]/);
  // flat x that does not fill its shape, and a shape whose X is wrong
  throwsCode(() => model.trainStep({ ...batch, x: batch.x.subarray(1) }), 'E_SHAPE', /expected 30 values for shape \[3, 5, 2\]/, /got 29/);
  throwsCode(() => model.trainStep({ ...batch, shape: [B, T * 2, 1] }), 'E_SHAPE', /\[\?, \?, 2\]/, /\[3, 10, 1\]/);
  await assert.rejects(model.fit({ x: nested(B, T, 3), y: nested(B, T, 1) }), (e) => e.code === 'E_SHAPE' && /\[3, 5, 3\]/.test(e.message));
  sameBits(model.getParameters(), before, 'parameters');
  model.dispose();
});

test('y of the wrong shape → E_SHAPE naming the expected and the given shape; weights unchanged', async () => {
  const { model, batch } = await setup(12);
  const before = model.getParameters();
  const nested = (...dims) => {
    const make = (d) => (d === dims.length ? 0.5 : Array.from({ length: dims[d] }, () => make(d + 1)));
    return make(0);
  };
  // same rank, wrong sizes
  throwsCode(() => model.trainStep({ x: batch.x, shape: batch.shape, y: nested(B, T, 2) }), 'E_SHAPE',
    /batch\.y/, /expected shape \[3, 5, 1\]/, /got \[3, 5, 2\]/);
  throwsCode(() => model.trainStep({ x: batch.x, shape: batch.shape, y: nested(B, T - 1, 1) }), 'E_SHAPE',
    /\[3, 5, 1\]/, /\[3, 4, 1\]/);
  throwsCode(() => model.trainStep({ x: batch.x, shape: batch.shape, y: nested(B + 1, T, 1) }), 'E_SHAPE',
    /\[3, 5, 1\]/, /\[4, 5, 1\]/);
  // flat y of the wrong length
  throwsCode(() => model.trainStep({ ...batch, y: batch.y.subarray(0, B * T - 1) }), 'E_SHAPE', /\[3, 5, 1\]/, /got 14/);
  sameBits(model.getParameters(), before, 'parameters');
  model.dispose();
});

// The common mix-up between output 'sequence' and 'last': targets of the other
// mode's rank. Like every other shape error, the message should say which
// shape was expected and which was given, under code E_SHAPE.
test("y of the wrong rank for output 'sequence' (targets [N, Y]) → E_SHAPE naming [N, T, Y] and [N, Y]", async () => {
  const { model, batch } = await setup(13);
  const before = model.getParameters();
  const yLast = Array.from({ length: B }, () => [0.5]);
  throwsCode(() => model.trainStep({ x: batch.x, shape: batch.shape, y: yLast }), 'E_SHAPE',
    /batch\.y/, /\[3, 5, 1\]/, /\[3, 1\]/);
  sameBits(model.getParameters(), before, 'parameters');
  model.dispose();
});

test("y of the wrong rank for output 'last' (targets [N, T, Y]) → E_SHAPE naming [N, Y] and [N, T, Y]", async () => {
  const model = await createModel({ cell: 'lstm', inputSize: X, hiddenSize: H, outputSize: Y, output: 'last' });
  const before = model.getParameters();
  const r = rng(13);
  const ySeq = Array.from({ length: B }, () => Array.from({ length: T }, () => [0.5]));
  throwsCode(() => model.trainStep({ x: uniform(r, B * T * X), shape: [B, T, X], y: ySeq }), 'E_SHAPE',
    /batch\.y/, /\[3, 1\]/, /\[3, 5, 1\]/);
  sameBits(model.getParameters(), before, 'parameters');
  model.dispose();
});

test('cross-entropy labels: wrong shape → E_SHAPE, out-of-range class → E_INVALID naming the position', async () => {
  const model = await createModel({ cell: 'rnn', inputSize: X, hiddenSize: H, outputSize: 4, loss: 'cross-entropy' });
  const before = model.getParameters();
  const r = rng(14);
  const x = uniform(r, B * T * X);
  const labels = Array.from({ length: B }, () => Array.from({ length: T }, () => 1));
  throwsCode(() => model.trainStep({ x, shape: [B, T, X], y: labels.slice(1) }), 'E_SHAPE', /\[3, 5\]/, /\[2, 5\]/);
  const wrong = labels.map((row) => row.slice());
  wrong[2][3] = 4;
  throwsCode(() => model.trainStep({ x, shape: [B, T, X], y: wrong }), 'E_INVALID', /y\[2\]\[3\]/, /0 to 3/);
  sameBits(model.getParameters(), before, 'parameters');
  model.dispose();
});
