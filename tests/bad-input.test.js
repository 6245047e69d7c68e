// The bad-input matrix of issue 7: every public entry point × every kind of
// bad input that applies to it, one test per case.
//
// For each case:
// - the call throws (or its promise rejects with) an RnnlabError with the
//   expected code, and its message names the parameter and says what was
//   expected and what was given (`says`: substrings or RegExps);
// - afterwards the model is as it was: its parameters and its predictions on
//   a fixed input are bit for bit the same, and it trains exactly like a twin
//   model that never saw the bad call (the same loss, the same weights after a
//   trainStep with the settings in force). So a failed call may not change
//   the weights, the optimiser state or the optimiser settings either.
//
// Cases for calls after dispose and calls during a running fit have runners
// of their own (a disposed model cannot predict; a fitted model is compared
// with a twin that ran the same fit undisturbed). init() caches the engine, so
// init options are tried both in this process (after the engine loaded) and
// in fresh Node processes (before it loads).
//
// The last test prints "bad inputs tried: N, passed: M" for the issue's
// closing note.
//
// What is already covered elsewhere is not repeated here: one test per error
// code (errors.test.js), non-finite steps (nonfinite.test.js), corrupt files
// under the fuzzer (tests/c), memory (memory.test.js, soak.test.js).

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

import { createModel, loadModel, init, Vocabulary, RnnlabError } from '../web/rnnlab.js';
import { rng as unitRandom } from './helpers/cases.js';
import { expectError } from './helpers/expect-error.js';

// ---------------------------------------------------------------- data helpers

// centred seeded numbers in [-0.5, 0.5)
const rng = (seed) => { const r = unitRandom(seed); return () => r() - 0.5; };
const randomArray = (n, seed) => { const r = rng(seed); return Float32Array.from({ length: n }, r); };

// A flat array as nested plain arrays of `shape`.
function nest(flat, shape) {
  const values = Array.from(flat);
  const build = (d, offset) => {
    const stride = shape.slice(d + 1).reduce((a, b) => a * b, 1);
    return Array.from({ length: shape[d] }, (_, i) => (d === shape.length - 1 ? values[offset + i] : build(d + 1, offset + i * stride)));
  };
  return build(0, 0);
}

// A copy of `flat` with one value replaced.
const withValue = (flat, at, v) => { const c = flat.slice(); c[at] = v; return c; };
// A plain-array copy of `flat` with one entry replaced (anything, not only numbers).
const plainWith = (flat, at, v) => { const c = Array.from(flat); c[at] = v; return c; };
// Nested copy with one innermost entry replaced.
function nestedWith(flat, shape, at, v) {
  const nested = nest(flat, shape);
  let row = nested;
  for (let d = 0; d < shape.length - 1; d++) row = row[at[d]];
  row[at[shape.length - 1]] = v;
  return nested;
}

const N = 2, T = 3;

// The models the cases run on: every loss and output mode, every cell.
const FIXTURES = {
  seq: { cell: 'lstm', inputSize: 3, hiddenSize: 4, outputSize: 2, seed: 3 },
  last: { cell: 'gru', gruVariant: 'reset-after', inputSize: 3, hiddenSize: 4, outputSize: 2, output: 'last', seed: 4 },
  ce: { cell: 'rnn', inputSize: 4, hiddenSize: 5, outputSize: 4, loss: 'cross-entropy', seed: 5 },
  ceLast: { cell: 'lstm', inputSize: 3, hiddenSize: 4, outputSize: 3, loss: 'cross-entropy', output: 'last', seed: 6 },
  gruBefore: { cell: 'gru', inputSize: 3, hiddenSize: 4, outputSize: 2, seed: 7 },
  bi: { cell: 'lstm', inputSize: 3, hiddenSize: 4, outputSize: 2, bidirectional: true, dropout: 0.2, recurrentDropout: 0.3, layers: 2, seed: 8 },
};

// Shapes and good data of a fixture.
function describeFixture(name) {
  const config = FIXTURES[name];
  const X = config.inputSize, Y = config.outputSize;
  const ce = config.loss === 'cross-entropy';
  const last = config.output === 'last';
  const yShape = ce ? (last ? [N] : [N, T]) : (last ? [N, Y] : [N, T, Y]);
  const yCount = yShape.reduce((a, b) => a * b, 1);
  const x = randomArray(N * T * X, 11);
  const y = ce ? Int32Array.from({ length: yCount }, (_, i) => (i * 3 + 1) % Y) : randomArray(yCount, 12);
  return {
    name, config, X, Y, ce, last, yShape, yCount, x, y, shape: [N, T, X],
    data: { x, y, shape: [N, T, X] },
    // the fixed input the predictions are compared on (another batch shape
    // than the training data, so the engine's batch buffers are re-carved)
    probe: { x: randomArray(3 * 2 * X, 13), shape: [3, 2, X] },
  };
}

const fixtures = new Map();

// A model and its twin (same config, same seed), kept in lockstep.
async function fixture(name) {
  let fx = fixtures.get(name);
  if (fx && !fx.dirty) return fx;
  if (fx) { fx.model.dispose(); fx.twin.dispose(); }
  fx = describeFixture(name);
  fx.model = await createModel(fx.config);
  fx.twin = await createModel(fx.config);
  fx.dirty = false;
  fixtures.set(name, fx);
  return fx;
}

// ---------------------------------------------------------------- checks

function sameBits(actual, expected, what) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    if (!Object.is(actual[i], expected[i])) assert.fail(`${what}: element ${i} is ${actual[i]}, was ${expected[i]}`);
  }
}

function snapshot(fx) {
  return {
    params: fx.model.getParameters(),
    out: fx.model.predict(fx.probe.x, { shape: fx.probe.shape }).output,
  };
}

// The model predicts bit for bit as before, and a trainStep with the settings
// in force gives the twin's loss and weights.
function assertIntact(fx, before) {
  const { model, twin } = fx;
  assert.equal(model.disposed, false, 'the model was disposed by the failed call');
  sameBits(model.getParameters(), before.params, 'parameters after the bad input');
  sameBits(model.predict(fx.probe.x, { shape: fx.probe.shape }).output, before.out, 'predictions after the bad input');
  const a = model.trainStep(fx.data);
  const b = twin.trainStep(fx.data);
  assert.ok(Number.isFinite(a.loss), `trainStep after the bad input: loss ${a.loss}`);
  assert.ok(Object.is(a.loss, b.loss), `trainStep after the bad input: loss ${a.loss}, the twin's ${b.loss} (a setting or optimiser state changed)`);
  sameBits(model.getParameters(), twin.getParameters(), 'weights after a trainStep, against the twin');
}

const isCode = (v) => typeof v === 'string' && /^E_[A-Z]+$/.test(v);

// expectError (helpers/expect-error.js) takes a list of codes only for
// missing values, where the library answers E_INVALID or E_TYPE.

// ---------------------------------------------------------------- the tally

const tally = { tried: 0, passed: 0, failed: [] };

// For the runners of their own: counted when started, passed when they get
// to the end (a failed one stays in `failed` under its name).
function tried(t) { tally.tried++; tally.failed.push(t.name); }
function passed(t) { tally.passed++; tally.failed.splice(tally.failed.lastIndexOf(t.name), 1); }

// One case: `call(ctx)` with ctx = { fx, m: the model, ... } must fail as told.
function badCase(name, { fx: fxName = 'seq', call, code, says = [] }) {
  assert.ok(isCode(code) || (Array.isArray(code) && code.every(isCode)), `case ${name}: code`);
  test(name, async () => {
    tally.tried++;
    const fx = await fixture(fxName);
    const before = snapshot(fx);
    let passed = false;
    try {
      await expectError(() => call({ fx, m: fx.model }), code, says);
      assertIntact(fx, before);
      passed = true;
    } finally {
      if (passed) tally.passed++;
      else {
        fx.dirty = true; // a fresh pair for the next case
        tally.failed.push(name);
      }
    }
  });
}

// ---------------------------------------------------------------- value tables

// Values of the wrong type where a number is expected, with how the message
// should show them.
const NOT_NUMBERS = [
  ['a numeric string', '4', '"4"'],
  ['an object', { value: 4 }, 'an object'],
  ['an array', [4], 'an array of length 1'],
  ['null', null, 'null'],
  ['a BigInt', 4n, /\b4n\b|bigint/i],
  ['a boolean', true, 'true'],
  ['a function', () => 4, 'a function'],
  ['a Symbol', Symbol('four'), 'Symbol(four)'],
];

// Values of the wrong type where an array (or typed array) is expected.
const NOT_ARRAYS = [
  ['a string', 'abc', '"abc"'],
  ['a number', 5, '5'],
  ['an object', { length: 3 }, 'an object'],
  ['null', null, 'null'],
  ['a BigInt', 5n, /\b5n\b|bigint/i],
  ['a boolean', false, 'false'],
  ['a function', () => [], 'a function'],
  ['a Symbol', Symbol('data'), 'Symbol(data)'],
  ['an ArrayBuffer', new ArrayBuffer(8), /ArrayBuffer|an object/],
];

// Values of the wrong type where an options object is expected.
const NOT_OBJECTS = [
  ['a string', 'adam', '"adam"'],
  ['a number', 7, '7'],
  ['null', null, 'null'],
  ['an array', [1], 'an array of length 1'],
  ['a boolean', true, 'true'],
  ['a function', () => ({}), 'a function'],
  ['a BigInt', 7n, /\b7n\b|bigint/i],
];

// Integers that are out of range for [min, max]: negative, zero, fractional,
// non-finite and absurdly large.
function badIntegers(min, max) {
  return [
    ['zero', 0], ['negative', -1], ['fractional', 1.5], ['NaN', NaN], ['Infinity', Infinity], ['-Infinity', -Infinity],
    ['1e9', 1e9], ['2**31', 2 ** 31], ['2**32', 2 ** 32], ['Number.MAX_SAFE_INTEGER', Number.MAX_SAFE_INTEGER],
    ['just above the maximum', max + 1], ['just below the minimum', min - 1],
  ].filter(([, v], i, all) => !(Number.isInteger(v) && v >= min && v <= max) && all.findIndex(([, w]) => Object.is(w, v)) === i);
}

// Wrong-type kinds of typed array for numeric data.
const ODD_TYPED_ARRAYS = [
  ['a BigInt64Array', (n) => new BigInt64Array(n), 'BigInt64Array'],
  ['a BigUint64Array', (n) => new BigUint64Array(n), 'BigUint64Array'],
];

// ---------------------------------------------------------------- data for fit, trainStep, computeGradients, evaluate

const DATA_CALLS = [
  { name: 'fit', prefix: 'data', run: (m, data) => m.fit(data, { epochs: 1, batchSize: 1 }) },
  { name: 'trainStep', prefix: 'batch', run: (m, data) => m.trainStep(data) },
  { name: 'computeGradients', prefix: 'batch', run: (m, data) => m.computeGradients(data) },
  { name: 'gradcheck', prefix: 'batch', run: (m, data) => m.gradcheck(data, { samples: 1 }) },
  { name: 'evaluate', prefix: 'data', run: (m, data) => m.evaluate(data) },
];

// Bad data sets for fixture `f` (from describeFixture); `p` is the name the
// call gives its data ('data' or 'batch').
function badDataSets(f, p) {
  const { x, y, shape, X, yShape, yCount } = f;
  const xCount = N * T * X;
  const fmt = (s) => `[${s.join(', ')}]`;
  const cases = [];
  const add = (name, data, code, says) => cases.push({ name, data, code, says });

  // the data set itself
  for (const [kind, v, given] of NOT_OBJECTS) add(`the data set is ${kind}`, v, 'E_TYPE', [p, 'expected an object', given]);
  add('the data set is missing', undefined, ['E_INVALID', 'E_TYPE'], [p, 'undefined']);

  // x: sizes
  add('x flat: one value too many', { x: new Float32Array(xCount + 1), y, shape }, 'E_SHAPE', [`${p}.x`, `expected ${xCount} values`, `got ${xCount + 1}`]);
  add('x flat: one value short', { x: x.subarray(0, xCount - 1), y, shape }, 'E_SHAPE', [`${p}.x`, `expected ${xCount} values`, `got ${xCount - 1}`]);
  add('x flat: no shape', { x, y }, 'E_SHAPE', [`${p}.x`, 'needs a shape', 'flat array']);
  add('x flat: wrong X in the shape', { x: new Float32Array(N * T * (X + 1)), y, shape: [N, T, X + 1] }, 'E_SHAPE',
    [`${p}.x`, `expected shape [?, ?, ${X}]`, `got ${fmt([N, T, X + 1])}`]);
  add('x nested: wrong X', { x: nest(new Float32Array(N * T * (X + 1)), [N, T, X + 1]), y }, 'E_SHAPE',
    [`${p}.x`, `expected shape [?, ?, ${X}]`, `got ${fmt([N, T, X + 1])}`]);
  add('x nested: ragged in T', { x: [nest(x, shape)[0], nest(x, shape)[1].slice(0, T - 1)], y }, 'E_SHAPE',
    [`${p}.x[1]`, `expected an array of length ${T}`, `got an array of length ${T - 1}`]);
  add('x nested: ragged in X', { x: (() => { const n = nest(x, shape); n[1][2] = n[1][2].slice(0, X - 1); return n; })(), y }, 'E_SHAPE',
    [`${p}.x[1][2]`, `expected an array of length ${X}`, `got an array of length ${X - 1}`]);
  add('x nested: a number where a step is expected', { x: (() => { const n = nest(x, shape); n[0][1] = 0.5; return n; })(), y }, 'E_SHAPE',
    [`${p}.x[0][1]`, `expected an array of length ${X}`, 'got 0.5']);
  add('x nested: rank 2', { x: nest(x.subarray(0, T * X), [T, X]), y }, 'E_SHAPE', [`${p}.x`, `expected shape [?, ?, ${X}]`, `got ${fmt([T, X])}`]);
  add('x nested: rank 4', { x: nest(x, [N, T, X, 1]), y }, 'E_SHAPE', [`${p}.x`, `expected shape [?, ?, ${X}]`, `got ${fmt([N, T, X, 1])}`]);
  add('x: an empty array', { x: [], y }, 'E_SHAPE', [`${p}.x`, `expected shape [?, ?, ${X}]`, 'got [0]']);
  add('x: [[]]', { x: [[]], y }, 'E_SHAPE', [`${p}.x`, `expected shape [?, ?, ${X}]`, 'got [1, 0]']);
  add('x: [[[]]]', { x: [[[]]], y }, 'E_SHAPE', [`${p}.x`, `expected shape [?, ?, ${X}]`, 'got [1, 1, 0]']);
  add('x: an empty typed array with shape [0, T, X]', { x: new Float32Array(0), y, shape: [0, T, X] }, 'E_SHAPE', [`${p}.shape`, 'positive integers', `[0,${T},${X}]`]);
  if (!f.last) { // targets of output 'last' have no T
    const longerX = nest(new Float32Array(N * (T + 1) * X), [N, T + 1, X]);
    const want = f.ce ? [N, T + 1] : [N, T + 1, f.Y];
    add('x and y disagree on T (x nested with T + 1 steps, y nested)', { x: longerX, y: nest(y, yShape) }, 'E_SHAPE', [`${p}.y`, `expected shape ${fmt(want)}`, `got ${fmt(yShape)}`]);
    add('x and y disagree on T (x nested with T + 1 steps, y flat)', { x: longerX, y }, 'E_SHAPE',
      [`${p}.y`, `expected ${want.reduce((a, b) => a * b, 1)} values`, `got ${yCount}`]);
  }

  // shape
  const badShapes = [
    ['two entries', [N, T], `[${N},${T}]`],
    ['four entries', [N, T, X, 1], `[${N},${T},${X},1]`],
    ['a negative size', [-N, -T, X], `[${-N},${-T},${X}]`],
    ['a fractional size', [N, 1.5, X], `[${N},1.5,${X}]`],
    ['NaN', [NaN, T, X], /NaN/],
    ['Infinity', [N, Infinity, X], /Infinity/],
    ['a string entry', [N, String(T), X], `[${N},"${T}",${X}]`],
    ['a BigInt entry', [BigInt(N), T, X], /2n|bigint/i],
    ['a string', `${N},${T},${X}`, `"${N},${T},${X}"`],
    ['null', null, 'null'],
    ['a number', 18, '18'],
  ];
  for (const [kind, s, given] of badShapes) add(`shape: ${kind}`, { x, y, shape: s }, 'E_SHAPE', [`${p}.shape`, 'expected [N, T, X] of positive integers', given]);
  for (const [kind, n] of [['1e9', 1e9], ['2**31', 2 ** 31], ['Number.MAX_SAFE_INTEGER', Number.MAX_SAFE_INTEGER]]) {
    add(`shape: N = ${kind}, with data for N = ${N}`, { x, y, shape: [n, T, X] }, 'E_SHAPE', [`${p}.x`, 'values for shape', `got ${xCount}`]);
  }

  // x: types
  for (const [kind, v, given] of NOT_ARRAYS) add(`x is ${kind}`, { x: v, y, shape }, 'E_TYPE', [`${p}.x`, 'expected nested arrays or a typed array', given]);
  add('x is missing', { y, shape }, ['E_INVALID', 'E_TYPE'], [`${p}.x`, 'undefined']);
  for (const [kind, make, given] of ODD_TYPED_ARRAYS) add(`x is ${kind}`, { x: make(xCount), y, shape }, 'E_TYPE', [`${p}.x`, 'expected a Float32Array', given]);
  add('x is a DataView', { x: new DataView(new ArrayBuffer(4 * xCount)), y, shape }, 'E_TYPE', [`${p}.x`, 'expected a Float32Array', /DataView(?!\(undefined\))/]);
  const elementTypes = [
    ['a string', '0.5', '"0.5"'], ['null', null, 'null'], ['a boolean', true, 'true'], ['undefined', undefined, 'undefined'],
    ['a BigInt', 1n, /\b1n\b|bigint/i], ['an object', {}, 'an object'], ['a Symbol', Symbol('v'), 'Symbol(v)'],
  ];
  for (const [kind, v, given] of elementTypes) {
    add(`x nested holds ${kind}`, { x: nestedWith(x, shape, [1, 2, 0], v), y }, 'E_TYPE', [`${p}.x[1][2][0]`, 'expected a number', given]);
    add(`x flat plain array holds ${kind}`, { x: plainWith(x, (1 * T + 2) * X, v), y, shape }, 'E_TYPE', [`${p}.x[1][2][0]`, 'expected a number', given]);
  }

  // x: non-finite values
  for (const [kind, v] of [['NaN', NaN], ['Infinity', Infinity], ['-Infinity', -Infinity]]) {
    const word = kind.replace('-', '');
    add(`x holds ${kind} (typed)`, { x: withValue(x, (1 * T + 2) * X, v), y, shape }, 'E_NONFINITE', [`${p}.x[1][2][0]`, word, 'finite']);
    add(`x holds ${kind} (nested)`, { x: nestedWith(x, shape, [0, 1, X - 1], v), y }, 'E_NONFINITE', [`${p}.x[0][1][${X - 1}]`, word, 'finite']);
  }
  // finite as a double, but not as a float32; in the last sequence, so that
  // fit would already have taken steps on the others
  add('x holds 1e39 (beyond float32) in the last sequence', { x: withValue(Float64Array.from(x), xCount - 1, 1e39), y, shape }, 'E_NONFINITE',
    [/x/, /1e\+?39|infinite|float32/, 'finite']);

  // y
  add('y flat: one value too many', { x, y: f.ce ? new Int32Array(yCount + 1) : new Float32Array(yCount + 1), shape }, 'E_SHAPE',
    [`${p}.y`, `expected ${yCount} values`, `got ${yCount + 1}`]);
  add('y flat: one value short', { x, y: y.subarray(0, yCount - 1), shape }, 'E_SHAPE', [`${p}.y`, `expected ${yCount} values`, `got ${yCount - 1}`]);
  add('y: an empty array', { x, y: [], shape }, 'E_SHAPE', [`${p}.y`, `shape ${fmt(yShape)}`, /got (\[0\]|0)$/]);
  add('y nested: one sequence too many', { x, y: nest(new Float32Array(yCount / N * (N + 1)), [N + 1, ...yShape.slice(1)]), shape }, 'E_SHAPE',
    [`${p}.y`, `expected shape ${fmt(yShape)}`, `got ${fmt([N + 1, ...yShape.slice(1)])}`]);
  if (yShape.length > 1) {
    const longer = yShape.slice(); longer[1] += 1;
    add('y nested: wrong size in dimension 1', { x, y: nest(new Float32Array(longer.reduce((a, b) => a * b, 1)), longer), shape }, 'E_SHAPE',
      [`${p}.y`, `expected shape ${fmt(yShape)}`, `got ${fmt(longer)}`]);
    add('y nested: ragged', { x, y: (() => { const n = nest(y, yShape); n[1] = n[1].slice(0, -1); return n; })(), shape }, 'E_SHAPE',
      [`${p}.y[1]`, `expected an array of length ${yShape[1]}`, `got an array of length ${yShape[1] - 1}`]);
  }
  if (yShape.length === 3) {
    add('y nested: wrong Y', { x, y: nest(new Float32Array(N * T * (f.Y + 1)), [N, T, f.Y + 1]), shape }, 'E_SHAPE',
      [`${p}.y`, `expected shape ${fmt(yShape)}`, `got ${fmt([N, T, f.Y + 1])}`]);
  }
  // one rank too many: sequence targets for 'last', one-hot targets for cross-entropy
  const deeper = f.ce ? [...yShape, f.Y] : (f.last ? [N, T, f.Y] : [N, T, f.Y, 1]);
  add(`y nested: rank ${deeper.length} (${f.ce ? 'one-hot instead of class indices' : f.last ? "per-step targets for output 'last'" : 'an extra dimension'})`,
    { x, y: nest(new Float32Array(deeper.reduce((a, b) => a * b, 1)), deeper), shape }, 'E_SHAPE', [`${p}.y`, `expected shape ${fmt(yShape)}`, `got ${fmt(deeper)}`]);
  for (const [kind, v, given] of NOT_ARRAYS) add(`y is ${kind}`, { x, y: v, shape }, 'E_TYPE', [`${p}.y`, 'expected nested arrays or a typed array', given]);
  add('y is missing', { x, shape }, ['E_INVALID', 'E_TYPE'], [`${p}.y`, 'undefined']);
  for (const [kind, make, given] of ODD_TYPED_ARRAYS) add(`y is ${kind}`, { x, y: make(yCount), shape }, 'E_TYPE', [`${p}.y`, 'expected a Float32Array', given]);
  const at = yShape.map((d) => d - 1);
  const atText = at.map((i) => `[${i}]`).join('');
  const flatAt = yCount - 1;
  for (const [kind, v, given] of elementTypes) {
    add(`y nested holds ${kind}`, { x, y: nestedWith(y, yShape, at, v), shape }, 'E_TYPE', [`${p}.y${atText}`, 'expected a number', given]);
    add(`y flat plain array holds ${kind}`, { x, y: plainWith(y, flatAt, v), shape }, 'E_TYPE', [`${p}.y${atText}`, 'expected a number', given]);
  }
  if (f.ce) {
    // class indices
    const range = `expected a class index from 0 to ${f.Y - 1}`;
    for (const [kind, v, given] of [
      ['= outputSize', f.Y, String(f.Y)], ['negative', -1, '-1'], ['fractional', 0.5, '0.5'], ['1e9', 1e9, '1000000000'],
      ['2**31', 2 ** 31, '2147483648'], ['Number.MAX_SAFE_INTEGER', Number.MAX_SAFE_INTEGER, String(Number.MAX_SAFE_INTEGER)],
      ['NaN', NaN, 'NaN'], ['Infinity', Infinity, 'Infinity'], ['-Infinity', -Infinity, '-Infinity'],
    ]) {
      add(`class index ${kind} (Float64Array)`, { x, y: withValue(Float64Array.from(y), flatAt, v), shape }, 'E_INVALID', [`${p}.y${atText}`, range, `got ${given}`]);
      add(`class index ${kind} (nested)`, { x, y: nestedWith(y, yShape, at, v), shape }, 'E_INVALID', [`${p}.y${atText}`, range, `got ${given}`]);
    }
    add('class index = outputSize (Int32Array)', { x, y: withValue(y, 0, f.Y), shape }, 'E_INVALID', [`${p}.y[0]`, range, `got ${f.Y}`]);
  } else {
    for (const [kind, v] of [['NaN', NaN], ['Infinity', Infinity], ['-Infinity', -Infinity], ['1e39 (beyond float32)', 1e39]]) {
      const word = kind === '1e39 (beyond float32)' ? 'Infinity' : kind.replace('-', '');
      add(`y holds ${kind} (typed)`, { x, y: withValue(Float64Array.from(y), flatAt, v), shape }, 'E_NONFINITE', [`${p}.y${atText}`, word, 'finite']);
      add(`y holds ${kind} (nested)`, { x, y: nestedWith(y, yShape, at, v), shape }, 'E_NONFINITE', [`${p}.y${atText}`, word, 'finite']);
    }
  }

  // mask
  add('mask flat: one value short', { x, y, shape, mask: new Float32Array(N * T - 1).fill(1) }, 'E_SHAPE', [`${p}.mask`, `expected ${N * T} values`, `got ${N * T - 1}`]);
  add('mask nested: wrong T', { x, y, shape, mask: nest(new Float32Array(N * (T + 1)).fill(1), [N, T + 1]) }, 'E_SHAPE',
    [`${p}.mask`, `expected shape [${N}, ${T}]`, `got [${N}, ${T + 1}]`]);
  add('mask nested: rank 3', { x, y, shape, mask: nest(new Float32Array(N * T).fill(1), [N, T, 1]) }, 'E_SHAPE',
    [`${p}.mask`, `expected shape [${N}, ${T}]`, `got [${N}, ${T}, 1]`]);
  for (const [kind, v] of [['0.5', 0.5], ['2', 2], ['-1', -1]]) {
    add(`mask holds ${kind}`, { x, y, shape, mask: nestedWith(new Float32Array(N * T).fill(1), [N, T], [0, 1], v) }, 'E_INVALID', [`${p}.mask[0][1]`, 'expected 0 or 1', `got ${kind}`]);
  }
  // values that only become 0 or 1 when rounded to float32
  for (const [kind, v] of [['0.999999999', 0.999999999], ['1e-50', 1e-50]]) {
    add(`mask holds ${kind}`, { x, y, shape, mask: nestedWith(new Float32Array(N * T).fill(1), [N, T], [0, 1], v) }, 'E_INVALID', [`${p}.mask[0][1]`, 'expected 0 or 1', `got ${v}`]);
  }
  for (const [kind, v] of [['NaN', NaN], ['Infinity', Infinity]]) {
    add(`mask holds ${kind}`, { x, y, shape, mask: withValue(new Float32Array(N * T).fill(1), 1, v) }, 'E_NONFINITE', [`${p}.mask[0][1]`, kind, 'finite']);
  }
  for (const [kind, v, given] of [['a string', '1', '"1"'], ['a boolean', true, 'true'], ['null', null, 'null']]) {
    add(`mask nested holds ${kind}`, { x, y, shape, mask: nestedWith(new Float32Array(N * T).fill(1), [N, T], [0, 1], v) }, 'E_TYPE', [`${p}.mask[0][1]`, 'expected a number', given]);
    add(`mask flat plain array holds ${kind}`, { x, y, shape, mask: plainWith(new Float32Array(N * T).fill(1), 1, v) }, 'E_TYPE', [`${p}.mask[0][1]`, 'expected a number', given]);
  }
  add('mask is a string', { x, y, shape, mask: '111111' }, 'E_TYPE', [`${p}.mask`, 'expected nested arrays or a typed array', '"111111"']);

  // lengths
  add('lengths: one too many', { x, y, shape, lengths: [1, 2, 3] }, 'E_SHAPE', [`${p}.lengths`, `expected shape [${N}]`, 'got [3]']);
  add('lengths: empty', { x, y, shape, lengths: [] }, 'E_SHAPE', [`${p}.lengths`, `expected shape [${N}]`, 'got [0]']);
  for (const [kind, v] of [['T + 1', T + 1], ['-1', -1], ['1.5', 1.5], ['2.00000001 (an integer once rounded to float32)', 2.00000001], ['1e9', 1e9], ['2**31', 2 ** 31], ['Number.MAX_SAFE_INTEGER', Number.MAX_SAFE_INTEGER]]) {
    add(`lengths holds ${kind}`, { x, y, shape, lengths: [1, v] }, 'E_INVALID', [`${p}.lengths[1]`, `expected an integer from 0 to ${T}`, `got ${v}`]);
  }
  for (const [kind, v] of [['NaN', NaN], ['Infinity', Infinity]]) {
    add(`lengths holds ${kind}`, { x, y, shape, lengths: [1, v] }, 'E_NONFINITE', [`${p}.lengths[1]`, kind, 'finite']);
  }
  add('lengths holds a string', { x, y, shape, lengths: [1, '2'] }, 'E_TYPE', [`${p}.lengths[1]`, 'expected a number', '"2"']);
  add('lengths is a number', { x, y, shape, lengths: 3 }, 'E_TYPE', [`${p}.lengths`, 'expected nested arrays or a typed array', '3']);
  add('mask and lengths both', { x, y, shape, mask: new Float32Array(N * T).fill(1), lengths: [T, T] }, 'E_INVALID', [p, 'mask or lengths', 'not both']);

  // keys
  add("misspelt key 'shpae'", { x, y, shpae: shape }, 'E_INVALID', [p, "unknown option 'shpae'", "did you mean 'shape'?"]);
  add("misspelt key 'Y'", { x, Y: y, shape }, 'E_INVALID', [p, "unknown option 'Y'", "did you mean 'y'?"]);
  add("misspelt key 'lenghts'", { x, y, shape, lenghts: [T, T] }, 'E_INVALID', [p, "unknown option 'lenghts'", "did you mean 'lengths'?"]);
  add("misspelt key 'maks'", { x, y, shape, maks: new Float32Array(N * T) }, 'E_INVALID', [p, "unknown option 'maks'", "did you mean 'mask'?"]);
  add("unknown key 'inputs'", { inputs: x, x, y, shape }, 'E_INVALID', [p, "unknown option 'inputs'", 'known options: x, y, shape, mask, lengths']);
  return cases;
}

for (const call of DATA_CALLS) {
  for (const fxName of ['seq', 'last', 'ce', 'ceLast']) {
    describe(`${call.name}: bad data (${fxName}: ${FIXTURES[fxName].cell}, ${FIXTURES[fxName].loss ?? 'mse'}, output ${FIXTURES[fxName].output ?? 'sequence'})`, () => {
      // every kind on the MSE sequence model; the target kinds on the others
      const all = badDataSets(describeFixture(fxName), call.prefix);
      const chosen = fxName === 'seq' ? all : all.filter((c) => /^(y|class index|x and y|the data set is null)/.test(c.name));
      for (const c of chosen) badCase(`${call.name}(${c.name})`, { fx: fxName, call: ({ m }) => call.run(m, c.data), code: c.code, says: c.says });
    });
  }
}

// ---------------------------------------------------------------- options of the training calls

// Options common to trainStep and fit: optimizer, clipNorm, clipValue.
function trainingOptionCases(where) {
  const cases = [];
  const add = (name, options, code, says) => cases.push({ name, options, code, says });
  for (const [kind, v, given] of NOT_OBJECTS.filter(([k]) => k !== 'a string')) {
    add(`options ${kind}`, v, 'E_TYPE', [where, 'expected an object', given]);
  }
  add("misspelt 'optimiser'", { optimiser: 'sgd' }, 'E_INVALID', [where, "unknown option 'optimiser'", "did you mean 'optimizer'?"]);
  add("misspelt 'clipnorm'", { clipnorm: 1 }, 'E_INVALID', [where, "unknown option 'clipnorm'", "did you mean 'clipNorm'?"]);
  add("misspelt 'clip_value'", { clip_value: 1 }, 'E_INVALID', [where, "unknown option 'clip_value'", "did you mean 'clipValue'?"]);
  add("unknown 'learningRate'", { learningRate: 0.1 }, 'E_INVALID', [where, "unknown option 'learningRate'", 'known options: ']);
  const opt = `${where}.optimizer`;
  const types = "expected one of 'sgd', 'momentum', 'adam', 'adamw', 'rmsprop'";
  add("optimizer 'adamm'", { optimizer: 'adamm' }, 'E_INVALID', [`${opt}.type`, types, '"adamm"']);
  add("optimizer 'Adam'", { optimizer: 'Adam' }, 'E_INVALID', [`${opt}.type`, types, '"Adam"']);
  add('optimizer type 5', { optimizer: { type: 5 } }, 'E_TYPE', [`${opt}.type`, types, 'got 5']);
  for (const [kind, v, given] of NOT_OBJECTS.filter(([k]) => k !== 'a string' && k !== 'null')) {
    add(`optimizer is ${kind}`, { optimizer: v }, 'E_TYPE', [opt, 'expected an object', given]);
  }
  add("optimizer misspelt 'tpye'", { optimizer: { tpye: 'sgd' } }, 'E_INVALID', [opt, "unknown option 'tpye'", "did you mean 'type'?"]);
  add("optimizer misspelt 'learning_rate'", { optimizer: { type: 'sgd', learningrate: 0.1 } }, 'E_INVALID', [opt, "unknown option 'learningrate'", 'known options: type, lr']);
  add("optimizer misspelt 'beta_1'", { optimizer: { type: 'adam', beta_1: 0.9 } }, 'E_INVALID', [opt, "unknown option 'beta_1'", "did you mean 'beta1'?"]);
  add("optimizer misspelt 'weight_decay'", { optimizer: { type: 'adamw', weight_decay: 0.1 } }, 'E_INVALID', [opt, "unknown option 'weight_decay'", "did you mean 'weightDecay'?"]);
  for (const [kind, v, given] of [['0', 0, '0'], ['-0.1', -0.1, '-0.1'], ['NaN', NaN, 'NaN'], ['Infinity', Infinity, 'Infinity'], ['1e9', 1e9, '1000000000'],
    ['Number.MAX_SAFE_INTEGER', Number.MAX_SAFE_INTEGER, String(Number.MAX_SAFE_INTEGER)]]) {
    add(`optimizer lr ${kind}`, { optimizer: { type: 'sgd', lr: v } }, 'E_INVALID', [`${opt}.lr`, 'expected a finite number > 0', `got ${given}`]);
  }
  for (const [kind, v, given] of NOT_NUMBERS) add(`optimizer lr is ${kind}`, { optimizer: { type: 'sgd', lr: v } }, 'E_TYPE', [`${opt}.lr`, 'expected a number', given]);
  for (const [k, v] of [['momentum', 1], ['beta1', -0.1], ['beta2', 1.5], ['rho', NaN]]) {
    add(`optimizer ${k} ${v}`, { optimizer: { type: k === 'momentum' ? 'momentum' : k === 'rho' ? 'rmsprop' : 'adam', [k]: v } }, 'E_INVALID',
      [`${opt}.${k}`, 'expected a finite number >= 0 and < 1', `got ${v}`]);
  }
  add('optimizer eps 0', { optimizer: { type: 'adam', eps: 0 } }, 'E_INVALID', [`${opt}.eps`, 'expected a finite number > 0', 'got 0']);
  add('optimizer weightDecay -1', { optimizer: { type: 'adamw', weightDecay: -1 } }, 'E_INVALID', [`${opt}.weightDecay`, 'expected a finite number >= 0', 'got -1']);
  for (const k of ['clipNorm', 'clipValue']) {
    for (const [kind, v, given] of [['-1', -1, '-1'], ['NaN', NaN, 'NaN'], ['Infinity', Infinity, 'Infinity'], ['-Infinity', -Infinity, '-Infinity']]) {
      add(`${k} ${kind}`, { [k]: v }, 'E_INVALID', [`${where}.${k}`, 'expected a finite number >= 0', `got ${given}`]);
    }
    for (const [kind, v, given] of NOT_NUMBERS.filter(([n]) => n !== 'null')) add(`${k} is ${kind}`, { [k]: v }, 'E_TYPE', [`${where}.${k}`, 'expected a number >= 0', given]);
  }
  return cases;
}

// State options of trainStep, computeGradients, predict and gateTrace, for an
// LSTM (fixture 'seq', B = N) or a GRU (fixture 'last').
function stateCases(where, cell, B) {
  const L = 1, H = 4;
  const n = L * B * H;
  const h = new Float32Array(n).fill(0.1);
  const c = new Float32Array(n).fill(0.2);
  const base = cell === 'lstm' ? { h, c } : { h };
  const s = `${where}.state`;
  const cases = [];
  const add = (name, state, code, says) => cases.push({ name, state, code, says });
  for (const [kind, v, given] of NOT_OBJECTS) add(`state is ${kind}`, v, 'E_TYPE', [s, 'expected an object', given]);
  add("state misspelt 'H'", { ...base, H: h }, 'E_INVALID', [s, "unknown option 'H'", "did you mean 'h'?"]);
  add("state misspelt 'hidden'", { hidden: h }, 'E_INVALID', [s, "unknown option 'hidden'", 'known options: h, c']);
  add('state.h one value short', { ...base, h: h.subarray(1) }, 'E_SHAPE', [`${s}.h`, `expected ${n} values`, `got ${n - 1}`]);
  add('state.h one value too many', { ...base, h: new Float32Array(n + 1) }, 'E_SHAPE', [`${s}.h`, `expected ${n} values`, `got ${n + 1}`]);
  add('state.h nested [L, B + 1, H]', { ...base, h: nest(new Float32Array(L * (B + 1) * H), [L, B + 1, H]) }, 'E_SHAPE',
    [`${s}.h`, `expected shape [${L}, ${B}, ${H}]`, `got [${L}, ${B + 1}, ${H}]`]);
  add('state.h nested [B, H] (no layer dimension)', { ...base, h: nest(new Float32Array(B * H), [B, H]) }, 'E_SHAPE',
    [`${s}.h`, `expected shape [${L}, ${B}, ${H}]`, `got [${B}, ${H}]`]);
  for (const [kind, v, given] of NOT_ARRAYS) add(`state.h is ${kind}`, { ...base, h: v }, 'E_TYPE', [`${s}.h`, 'expected nested arrays or a typed array', given]);
  for (const [kind, v] of [['NaN', NaN], ['Infinity', Infinity], ['-Infinity', -Infinity]]) {
    add(`state.h holds ${kind}`, { ...base, h: withValue(h, n - 1, v) }, 'E_NONFINITE', [`${s}.h[0][${B - 1}][${H - 1}]`, kind.replace('-', ''), 'finite']);
  }
  add('state.h holds 1e39 (beyond float32)', { ...base, h: withValue(Float64Array.from(h), n - 1, 1e39) }, 'E_NONFINITE', [/h/, /1e\+?39|infinite|float32/, 'finite']);
  add('state.h nested holds a string', { ...base, h: nestedWith(h, [L, B, H], [0, 0, 1], '0.1') }, 'E_TYPE', [`${s}.h[0][0][1]`, 'expected a number', '"0.1"']);
  add('state.h flat plain array holds null', { ...base, h: plainWith(h, 1, null) }, 'E_TYPE', [`${s}.h[0][0][1]`, 'expected a number', 'null']);
  if (cell === 'lstm') {
    add('state.c missing for an LSTM', { h }, ['E_INVALID', 'E_TYPE'], [`${s}.c`, `[${L}, ${B}, ${H}]`, 'undefined']);
    add('state.c one value short', { h, c: c.subarray(1) }, 'E_SHAPE', [`${s}.c`, `expected ${n} values`, `got ${n - 1}`]);
    add('state.c holds NaN', { h, c: withValue(c, 0, NaN) }, 'E_NONFINITE', [`${s}.c[0][0][0]`, 'NaN', 'finite']);
    add('state.c is a string', { h, c: 'cells' }, 'E_TYPE', [`${s}.c`, 'expected nested arrays or a typed array', '"cells"']);
  } else {
    // a cell state for a cell that has none is bad input, not something to ignore
    add('state.c given for a GRU', { h, c }, 'E_INVALID', [`${s}.c`, /LSTM|no cell state|has no c/, /given|got/]);
    add('state.c given for a GRU, and not even an array', { h, c: 'junk' }, ['E_INVALID', 'E_TYPE'], [`${s}.c`, /LSTM|no cell state|has no c|expected/, /given|got/]);
  }
  return cases;
}

describe('trainStep: bad options', () => {
  for (const c of trainingOptionCases('trainStep options')) {
    badCase(`trainStep(data, ${c.name})`, { call: ({ fx, m }) => m.trainStep(fx.data, c.options), code: c.code, says: c.says });
  }
  for (const [fxName, cell] of [['seq', 'lstm'], ['last', 'gru']]) {
    for (const c of stateCases('trainStep options', cell, N)) {
      badCase(`trainStep(data, ${c.name}) [${cell}]`, { fx: fxName, call: ({ fx, m }) => m.trainStep(fx.data, { state: c.state }), code: c.code, says: c.says });
    }
  }
  // a failed call may not leave other options it was given in force
  badCase('trainStep(data, { optimizer: sgd, state: wrong size }) leaves the optimizer in force as it was', {
    call: ({ fx, m }) => m.trainStep(fx.data, { optimizer: { type: 'sgd', lr: 0.5 }, clipNorm: 0.01, state: { h: new Float32Array(1), c: new Float32Array(1) } }),
    code: 'E_SHAPE', says: ['trainStep options.state.h', 'expected 8 values', 'got 1'],
  });
  badCase('trainStep(bad data, { optimizer: sgd }) leaves the optimizer in force as it was', {
    call: ({ fx, m }) => m.trainStep({ ...fx.data, x: withValue(fx.x, 0, NaN) }, { optimizer: { type: 'sgd', lr: 0.5 } }),
    code: 'E_NONFINITE', says: ['batch.x[0][0][0]', 'NaN', 'finite'],
  });
});

describe('computeGradients: bad options', () => {
  for (const [kind, v, given] of NOT_OBJECTS.filter(([k]) => k !== 'a string')) {
    badCase(`computeGradients(data, options ${kind})`, { call: ({ fx, m }) => m.computeGradients(fx.data, v), code: 'E_TYPE', says: ['computeGradients options', 'expected an object', given] });
  }
  badCase("computeGradients(data, { optimizer }) (not an option of computeGradients)", {
    call: ({ fx, m }) => m.computeGradients(fx.data, { optimizer: 'sgd' }), code: 'E_INVALID', says: ['computeGradients options', "unknown option 'optimizer'", 'known options: state, training'],
  });
  badCase("computeGradients(data, { training: 'yes' })", {
    call: ({ fx, m }) => m.computeGradients(fx.data, { training: 'yes' }), code: 'E_TYPE', says: ['computeGradients options.training', 'expected true or false', '"yes"'],
  });
  badCase("computeGradients(data, { sate }) misspelt", {
    call: ({ fx, m }) => m.computeGradients(fx.data, { sate: {} }), code: 'E_INVALID', says: ['computeGradients options', "unknown option 'sate'", "did you mean 'state'?"],
  });
  for (const [fxName, cell] of [['seq', 'lstm'], ['last', 'gru']]) {
    for (const c of stateCases('computeGradients options', cell, N)) {
      badCase(`computeGradients(data, ${c.name}) [${cell}]`, { fx: fxName, call: ({ fx, m }) => m.computeGradients(fx.data, { state: c.state }), code: c.code, says: c.says });
    }
  }
});

describe('gradcheck: bad options', () => {
  const where = 'gradcheck options';
  for (const [kind, v, given] of NOT_OBJECTS.filter(([k]) => k !== 'a string')) {
    badCase(`gradcheck(data, options ${kind})`, { call: ({ fx, m }) => m.gradcheck(fx.data, v), code: 'E_TYPE', says: [where, 'expected an object', given] });
  }
  badCase("gradcheck(data, { sample }) misspelt", {
    call: ({ fx, m }) => m.gradcheck(fx.data, { sample: 3 }), code: 'E_INVALID', says: [where, "unknown option 'sample'", "did you mean 'samples'?"],
  });
  const cases = [
    ['samples 0', { samples: 0 }, 'E_INVALID', [`${where}.samples`, 'an integer from 1', 'got 0']],
    ['samples 2.5', { samples: 2.5 }, 'E_INVALID', [`${where}.samples`, 'got 2.5']],
    ['samples "3"', { samples: '3' }, 'E_TYPE', [`${where}.samples`, 'got "3"']],
    ['epsilon 0', { epsilon: 0 }, 'E_INVALID', [`${where}.epsilon`, '> 0', 'got 0']],
    ['epsilon NaN', { epsilon: NaN }, 'E_INVALID', [`${where}.epsilon`, 'got NaN']],
    ['epsilon 2', { epsilon: 2 }, 'E_INVALID', [`${where}.epsilon`, '<= 1', 'got 2']],
    ['tolerance -1', { tolerance: -1 }, 'E_INVALID', [`${where}.tolerance`, 'got -1']],
    ['seed -1', { seed: -1 }, 'E_INVALID', [`${where}.seed`, 'got -1']],
    ['training 1', { training: 1 }, 'E_TYPE', [`${where}.training`, 'expected true or false', 'got 1']],
  ];
  for (const [name, options, code, says] of cases) badCase(`gradcheck(data, ${name})`, { call: ({ fx, m }) => m.gradcheck(fx.data, options), code, says });
  for (const [fxName, cell] of [['seq', 'lstm'], ['last', 'gru']]) {
    for (const c of stateCases(where, cell, N)) {
      badCase(`gradcheck(data, ${c.name}) [${cell}]`, { fx: fxName, call: ({ fx, m }) => m.gradcheck(fx.data, { state: c.state }), code: c.code, says: c.says });
    }
  }
});

describe('fit: bad options', () => {
  const where = 'fit options';
  for (const c of trainingOptionCases(where)) {
    badCase(`fit(data, ${c.name})`, { call: ({ fx, m }) => m.fit(fx.data, c.options), code: c.code, says: c.says });
  }
  const cases = [];
  const add = (name, options, code, says, fxName = 'seq') => cases.push({ name, options, code, says, fxName });
  add("misspelt 'epoch'", { epoch: 2 }, 'E_INVALID', [where, "unknown option 'epoch'", "did you mean 'epochs'?"]);
  add("misspelt 'batchsize'", { batchsize: 2 }, 'E_INVALID', [where, "unknown option 'batchsize'", "did you mean 'batchSize'?"]);
  add("misspelt 'batch_size'", { batch_size: 2 }, 'E_INVALID', [where, "unknown option 'batch_size'", "did you mean 'batchSize'?"]);
  add("misspelt 'valdationData'", { valdationData: {} }, 'E_INVALID', [where, "unknown option 'valdationData'", "did you mean 'validationData'?"]);
  add("misspelt 'earlystopping'", { earlystopping: { patience: 1 } }, 'E_INVALID', [where, "unknown option 'earlystopping'", "did you mean 'earlyStopping'?"]);
  add("misspelt 'onstep'", { onstep: () => {} }, 'E_INVALID', [where, "unknown option 'onstep'", "did you mean 'onStep'?"]);
  add("misspelt 'shufle'", { shufle: false }, 'E_INVALID', [where, "unknown option 'shufle'", "did you mean 'shuffle'?"]);
  add("misspelt 'tbtt'", { tbtt: 2 }, 'E_INVALID', [where, "unknown option 'tbtt'", "did you mean 'tbptt'?"]);
  add("unknown 'verbosity'", { verbosity: 1 }, 'E_INVALID', [where, "unknown option 'verbosity'", 'known options: epochs, batchSize']);
  add("verbose 'yes'", { verbose: 'yes' }, 'E_TYPE', [`${where}.verbose`, 'expected true or false', '"yes"']);
  for (const [kind, v] of badIntegers(1, 1e9)) add(`epochs ${kind}`, { epochs: v }, 'E_INVALID', [`${where}.epochs`, 'expected an integer from 1 to 1000000000', `got ${v}`]);
  for (const [kind, v, given] of NOT_NUMBERS.filter(([n]) => n !== 'null')) add(`epochs is ${kind}`, { epochs: v }, 'E_TYPE', [`${where}.epochs`, 'expected an integer', given]);
  for (const [kind, v] of badIntegers(1, 1e6)) add(`batchSize ${kind}`, { batchSize: v }, 'E_INVALID', [`${where}.batchSize`, 'expected an integer from 1 to 1000000', `got ${v}`]);
  for (const [kind, v, given] of NOT_NUMBERS.filter(([n]) => n !== 'null')) add(`batchSize is ${kind}`, { batchSize: v }, 'E_TYPE', [`${where}.batchSize`, 'expected an integer', given]);
  for (const [kind, v, given] of [['a string', 'yes', '"yes"'], ['1', 1, '1'], ['an object', {}, 'an object']]) {
    add(`shuffle is ${kind}`, { shuffle: v }, 'E_TYPE', [`${where}.shuffle`, 'expected true or false', given]);
  }
  add("onNonFinite 'ignore'", { onNonFinite: 'ignore' }, 'E_INVALID', [`${where}.onNonFinite`, "expected one of 'stop', 'skip'", '"ignore"']);
  add('onNonFinite true', { onNonFinite: true }, 'E_TYPE', [`${where}.onNonFinite`, "expected one of 'stop', 'skip'", 'true']);
  for (const [kind, v] of badIntegers(1, 1e9)) add(`tbptt ${kind}`, { tbptt: v }, 'E_INVALID', [`${where}.tbptt`, 'expected an integer from 1', `got ${v}`]);
  add("tbptt '2'", { tbptt: '2' }, 'E_TYPE', [`${where}.tbptt`, 'expected an integer', '"2"']);
  for (const k of ['onStep', 'onEpoch']) {
    for (const [kind, v, given] of [['a number', 5, '5'], ['a string', 'log', '"log"'], ['an object', {}, 'an object'], ['true', true, 'true']]) {
      add(`${k} is ${kind}`, { [k]: v }, 'E_TYPE', [`${where}.${k}`, 'expected a function', given]);
    }
  }
  for (const [kind, v, given] of [['an object', {}, 'an object'], ['a string', 'abort', '"abort"'], ['true', true, 'true'], ['an AbortController', new AbortController(), /object|AbortController/]]) {
    add(`signal is ${kind}`, { signal: v }, 'E_TYPE', [`${where}.signal`, 'expected an AbortSignal', given]);
  }
  add('earlyStopping is a number', { earlyStopping: 3 }, 'E_TYPE', [`${where}.earlyStopping`, 'expected an object', '3']);
  add("earlyStopping misspelt 'patiense'", { earlyStopping: { patiense: 2 } }, 'E_INVALID', [`${where}.earlyStopping`, "unknown option 'patiense'", "did you mean 'patience'?"]);
  add('earlyStopping without patience', { earlyStopping: {} }, ['E_INVALID', 'E_TYPE'], ['earlyStopping.patience', 'undefined']);
  for (const [kind, v] of [['-1', -1], ['1.5', 1.5], ['NaN', NaN], ['2**31', 2 ** 31]]) {
    add(`earlyStopping.patience ${kind}`, { earlyStopping: { patience: v } }, 'E_INVALID', ['earlyStopping.patience', 'expected an integer from 0', `got ${v}`]);
  }
  add("earlyStopping.patience '2'", { earlyStopping: { patience: '2' } }, 'E_TYPE', ['earlyStopping.patience', 'expected an integer', '"2"']);
  add('earlyStopping.minDelta -1', { earlyStopping: { patience: 1, minDelta: -1 } }, 'E_INVALID', ['earlyStopping.minDelta', 'expected a finite number >= 0', 'got -1']);
  add("earlyStopping.monitor 'val'", { earlyStopping: { patience: 1, monitor: 'val' } }, 'E_INVALID', ['earlyStopping.monitor', "expected one of 'loss', 'valLoss'", '"val"']);
  add("earlyStopping.monitor 'valLoss' without validationData", { earlyStopping: { patience: 1, monitor: 'valLoss' } }, 'E_INVALID', ['earlyStopping.monitor', "'valLoss'", 'validationData']);
  const f = describeFixture('seq');
  add('validationData is null', { validationData: null }, 'E_TYPE', ['validationData', 'expected an object', 'null']);
  add('validationData is an array', { validationData: [f.x, f.y] }, 'E_TYPE', ['validationData', 'expected an object', 'an array of length 2']);
  add('validationData with wrong X', { validationData: { x: new Float32Array(N * T * 4), y: f.y, shape: [N, T, 4] } }, 'E_SHAPE', ['validationData.x', 'expected shape [?, ?, 3]', 'got [2, 3, 4]']);
  add('validationData with NaN in y', { validationData: { ...f.data, y: withValue(f.y, 1, NaN) } }, 'E_NONFINITE', ['validationData.y[0][0][1]', 'NaN', 'finite']);
  add('validationData without y', { validationData: { x: f.x, shape: f.shape } }, ['E_INVALID', 'E_TYPE'], ['validationData.y', 'undefined']);
  add("validationData misspelt 'shpae'", { validationData: { x: f.x, y: f.y, shpae: f.shape } }, 'E_INVALID', ['validationData', "unknown option 'shpae'", "did you mean 'shape'?"]);
  for (const c of cases) {
    badCase(`fit(data, ${c.name})`, { fx: c.fxName, call: ({ fx, m }) => m.fit(fx.data, c.options), code: c.code, says: c.says });
  }
});

describe('evaluate: bad options', () => {
  const where = 'evaluate options';
  for (const [kind, v, given] of NOT_OBJECTS.filter(([k]) => k !== 'a string')) {
    badCase(`evaluate(data, options ${kind})`, { call: ({ fx, m }) => m.evaluate(fx.data, v), code: 'E_TYPE', says: [where, 'expected an object', given] });
  }
  badCase("evaluate(data, { batchsize }) misspelt", { call: ({ fx, m }) => m.evaluate(fx.data, { batchsize: 2 }), code: 'E_INVALID', says: [where, "unknown option 'batchsize'", "did you mean 'batchSize'?"] });
  badCase("evaluate(data, { epochs }) (a fit option)", { call: ({ fx, m }) => m.evaluate(fx.data, { epochs: 2 }), code: 'E_INVALID', says: [where, "unknown option 'epochs'", 'known options: batchSize'] });
  for (const [kind, v] of badIntegers(1, 1e6)) {
    badCase(`evaluate(data, { batchSize: ${kind} })`, { call: ({ fx, m }) => m.evaluate(fx.data, { batchSize: v }), code: 'E_INVALID', says: [`${where}.batchSize`, 'expected an integer from 1 to 1000000', `got ${v}`] });
  }
  for (const [kind, v, given] of NOT_NUMBERS.filter(([n]) => n !== 'null')) {
    badCase(`evaluate(data, { batchSize: ${kind} })`, { call: ({ fx, m }) => m.evaluate(fx.data, { batchSize: v }), code: 'E_TYPE', says: [`${where}.batchSize`, 'expected an integer', given] });
  }
});

// ---------------------------------------------------------------- predict and gateTrace

function badInputs(f, what) {
  const { x, shape, X } = f;
  const xCount = N * T * X;
  const p = `${what}.x`;
  const cases = [];
  const add = (name, input, options, code, says) => cases.push({ name, input, options, code, says });
  add('x flat: one value too many', new Float32Array(xCount + 1), { shape }, 'E_SHAPE', [p, `expected ${xCount} values`, `got ${xCount + 1}`]);
  add('x flat: one value short', x.subarray(1), { shape }, 'E_SHAPE', [p, `expected ${xCount} values`, `got ${xCount - 1}`]);
  add('x flat: no shape', x, {}, 'E_SHAPE', [p, 'needs a shape', 'flat array']);
  add('x flat: wrong X in the shape', new Float32Array(N * T * (X + 1)), { shape: [N, T, X + 1] }, 'E_SHAPE', [p, `expected shape [?, ?, ${X}]`, `got [${N}, ${T}, ${X + 1}]`]);
  add('x nested: wrong X', nest(new Float32Array(N * T * (X - 1)), [N, T, X - 1]), {}, 'E_SHAPE', [p, `expected shape [?, ?, ${X}]`, `got [${N}, ${T}, ${X - 1}]`]);
  add('x nested: ragged in T', [nest(x, shape)[0], nest(x, shape)[1].slice(1)], {}, 'E_SHAPE', [`${p}[1]`, `expected an array of length ${T}`, `got an array of length ${T - 1}`]);
  add('x nested: rank 2', nest(x.subarray(0, T * X), [T, X]), {}, 'E_SHAPE', [p, `expected shape [?, ?, ${X}]`, `got [${T}, ${X}]`]);
  add('x: an empty array', [], {}, 'E_SHAPE', [p, `expected shape [?, ?, ${X}]`, 'got [0]']);
  add('x: [[[]]]', [[[]]], {}, 'E_SHAPE', [p, `expected shape [?, ?, ${X}]`, 'got [1, 1, 0]']);
  add('x nested, and a shape that contradicts it', nest(x, shape), { shape: [1, N * T, X] }, 'E_SHAPE', [/shape/, `[1, ${N * T}, ${X}]`, `[${N}, ${T}, ${X}]`]);
  for (const [kind, v, given] of NOT_ARRAYS) add(`x is ${kind}`, v, { shape }, 'E_TYPE', [p, 'expected nested arrays or a typed array', given]);
  add('x is missing', undefined, { shape }, ['E_INVALID', 'E_TYPE'], [p, 'undefined']);
  for (const [kind, make, given] of ODD_TYPED_ARRAYS) add(`x is ${kind}`, make(xCount), { shape }, 'E_TYPE', [p, 'expected a Float32Array', given]);
  for (const [kind, v, given] of [['a string', '1', '"1"'], ['null', null, 'null'], ['a boolean', true, 'true'], ['a BigInt', 1n, /\b1n\b|bigint/i]]) {
    add(`x nested holds ${kind}`, nestedWith(x, shape, [0, 2, 1], v), {}, 'E_TYPE', [`${p}[0][2][1]`, 'expected a number', given]);
    add(`x flat plain array holds ${kind}`, plainWith(x, 2 * X + 1, v), { shape }, 'E_TYPE', [`${p}[0][2][1]`, 'expected a number', given]);
  }
  for (const [kind, v] of [['NaN', NaN], ['Infinity', Infinity], ['-Infinity', -Infinity]]) {
    add(`x holds ${kind}`, withValue(x, 2 * X + 1, v), { shape }, 'E_NONFINITE', [`${p}[0][2][1]`, kind.replace('-', ''), 'finite']);
  }
  add('x holds 1e39 (beyond float32)', withValue(Float64Array.from(x), 1, 1e39), { shape }, 'E_NONFINITE', [/x/, /1e\+?39|infinite|float32/, 'finite']);
  const s = `${what}.shape`;
  for (const [kind, v, given] of [['two entries', [N, T], `[${N},${T}]`], ['zero N', [0, T, X], `[0,${T},${X}]`], ['negative T', [N, -T, X], `[${N},${-T},${X}]`],
    ['fractional', [N, T / 2, X], `[${N},${T / 2},${X}]`], ['NaN', [N, NaN, X], /NaN/], ['a BigInt entry', [N, BigInt(T), X], /3n|bigint/i], ['a string', 'N,T,X', '"N,T,X"']]) {
    add(`shape: ${kind}`, x, { shape: v }, 'E_SHAPE', [s, 'expected [N, T, X] of positive integers', given]);
  }
  for (const [kind, n] of [['1e9', 1e9], ['2**31', 2 ** 31], ['Number.MAX_SAFE_INTEGER', Number.MAX_SAFE_INTEGER]]) {
    add(`shape: T = ${kind}`, x, { shape: [N, n, X] }, 'E_SHAPE', [p, 'values for shape', `got ${xCount}`]);
  }
  const o = `${what} options`;
  for (const [kind, v, given] of NOT_OBJECTS) add(`options ${kind}`, x, v, 'E_TYPE', [o, 'expected an object', given]);
  add("options misspelt 'shpae'", x, { shpae: shape }, 'E_INVALID', [o, "unknown option 'shpae'", "did you mean 'shape'?"]);
  add("options misspelt 'sate'", nest(x, shape), { sate: {} }, 'E_INVALID', [o, "unknown option 'sate'", "did you mean 'state'?"]);
  add("options: 'batchSize' (not an option here)", x, { shape, batchSize: 2 }, 'E_INVALID', [o, "unknown option 'batchSize'", 'known options: shape, state']);
  return cases;
}

for (const what of ['predict', 'gateTrace']) {
  describe(`${what}: bad inputs`, () => {
    for (const c of badInputs(describeFixture('seq'), what)) {
      badCase(`${what}(${c.name})`, { call: ({ m }) => m[what](c.input, c.options), code: c.code, says: c.says });
    }
    for (const [fxName, cell] of [['seq', 'lstm'], ['last', 'gru']]) {
      for (const c of stateCases(`${what} options`, cell, N)) {
        badCase(`${what}(x, ${c.name}) [${cell}]`, { fx: fxName, call: ({ fx, m }) => m[what](fx.x, { shape: fx.shape, state: c.state }), code: c.code, says: c.says });
      }
    }
  });
}

// ---------------------------------------------------------------- sample

describe('sample: bad options', () => {
  const o = 'sample options';
  const vocab = Vocabulary.fromText('abcd'); // 4 characters, like the 'ce' fixture
  const cases = [];
  const add = (name, options, code, says, fxName = 'ce') => cases.push({ name, options, code, says, fxName });
  for (const [kind, v, given] of NOT_OBJECTS) add(`options ${kind}`, v, 'E_TYPE', [o, 'expected an object', given]);
  add('no options', undefined, ['E_INVALID', 'E_TYPE'], [o, 'undefined']);
  add("misspelt 'lenght'", { lenght: 5 }, 'E_INVALID', [o, "unknown option 'lenght'", "did you mean 'length'?"]);
  add("misspelt 'temprature'", { length: 5, temprature: 0.5 }, 'E_INVALID', [o, "unknown option 'temprature'", "did you mean 'temperature'?"]);
  add("misspelt 'primer'", { length: 5, primer: 'ab' }, 'E_INVALID', [o, "unknown option 'primer'", "did you mean 'prime'?"]);
  add("misspelt 'sed'", { length: 5, sed: 1 }, 'E_INVALID', [o, "unknown option 'sed'", "did you mean 'seed'?"]);
  add("unknown 'topK'", { length: 5, topK: 3 }, 'E_INVALID', [o, "unknown option 'topK'", 'known options: prime, length']);
  add('length missing', {}, ['E_INVALID', 'E_TYPE'], [`${o}.length`, 'undefined']);
  for (const [kind, v] of badIntegers(0, 1e6)) add(`length ${kind}`, { length: v }, 'E_INVALID', [`${o}.length`, 'expected an integer from 0 to 1000000', `got ${v}`]);
  for (const [kind, v, given] of NOT_NUMBERS) add(`length is ${kind}`, { length: v }, 'E_TYPE', [`${o}.length`, 'expected an integer', given]);
  for (const [kind, v] of [['0', 0], ['-1', -1], ['NaN', NaN], ['Infinity', Infinity], ['101', 101]]) {
    add(`temperature ${kind}`, { length: 3, temperature: v }, 'E_INVALID', [`${o}.temperature`, 'expected a finite number > 0', `got ${v}`]);
  }
  for (const [kind, v, given] of NOT_NUMBERS.filter(([n]) => n !== 'null')) add(`temperature is ${kind}`, { length: 3, temperature: v }, 'E_TYPE', [`${o}.temperature`, 'expected a number', given]);
  for (const [kind, v] of badIntegers(0, 0xffffffff)) add(`seed ${kind}`, { length: 3, seed: v }, 'E_INVALID', [`${o}.seed`, 'expected an integer from 0 to 4294967295', `got ${v}`]);
  add("seed '1'", { length: 3, seed: '1' }, 'E_TYPE', [`${o}.seed`, 'expected an integer', '"1"']);
  add('vocab of another size', { length: 3, vocab: Vocabulary.fromText('abcde') }, 'E_INVALID', [`${o}.vocab`, 'expected a Vocabulary of 4 characters', 'of 5']);
  for (const [kind, v, given] of [['a string', 'abcd', '"abcd"'], ['a number', 4, '4'], ['an object', {}, 'an object'], ['an array of characters', ['a', 'b', 'c', 'd'], 'an array of length 4'], ['true', true, 'true']]) {
    add(`vocab is ${kind}`, { length: 3, vocab: v }, 'E_TYPE', [`${o}.vocab`, 'expected a Vocabulary', given]);
  }
  add('a string prime without vocab', { length: 3, prime: 'ab' }, 'E_INVALID', [`${o}.prime`, 'needs options.vocab', /string/]);
  add('a prime with a character outside the vocabulary', { length: 3, prime: 'abz', vocab }, 'E_INVALID', [/"z"/, 'position 2', 'vocabulary of 4']);
  for (const [kind, v] of [['4 (= outputSize)', 4], ['-1', -1], ['1.5', 1.5], ['NaN', NaN], ['1e9', 1e9]]) {
    add(`prime id ${kind}`, { length: 3, prime: [0, v] }, 'E_INVALID', [`${o}.prime[1]`, 'expected an integer from 0 to 3', `got ${v}`]);
  }
  for (const [kind, v, given] of [['a string', '1', '"1"'], ['null', null, 'null'], ['a BigInt', 1n, /\b1n\b|bigint/i]]) {
    add(`prime id is ${kind}`, { length: 3, prime: [0, v] }, 'E_TYPE', [`${o}.prime[1]`, 'expected an integer', given]);
  }
  for (const [kind, v, given] of [['a number', 2, '2'], ['an object', { 0: 1 }, 'an object'], ['true', true, 'true']]) {
    add(`prime is ${kind}`, { length: 3, prime: v }, 'E_TYPE', [`${o}.prime`, /expected/, given]);
  }
  add('a model that is not character-level', { length: 3 }, 'E_STATE', ['sample', "loss 'cross-entropy'", "got loss 'mse'"], 'seq');
  add("output 'last'", { length: 3 }, 'E_STATE', ['sample', "output 'sequence'", "output 'last'"], 'ceLast');
  for (const c of cases) badCase(`sample(${c.name})`, { fx: c.fxName, call: ({ m }) => m.sample(c.options), code: c.code, says: c.says });
});

// ---------------------------------------------------------------- setParameters

describe('setParameters: bad parameters', () => {
  const n = 4 * 4 * (3 + 4 + 1) + 2 * 4 + 2; // the 'seq' LSTM: 138
  const good = randomArray(n, 21);
  const cases = [];
  const add = (name, value, code, says) => cases.push({ name, value, code, says });
  add('one value too many', new Float32Array(n + 1), 'E_SHAPE', ['setParameters', `${n}`, `got ${n + 1}`]);
  add('one value short', good.subarray(1), 'E_SHAPE', ['setParameters', `${n}`, `got ${n - 1}`]);
  add('empty', new Float32Array(0), 'E_SHAPE', ['setParameters', `${n}`, 'got 0']);
  add('an empty plain array', [], 'E_SHAPE', ['setParameters', `${n}`, /got \[?0\]?/]);
  add('nested [1, n]', [Array.from(good)], 'E_SHAPE', ['setParameters', `[${n}]`, `got [1, ${n}]`]);
  add('the exportWeights dict', { 'head.bias': { shape: [2], data: new Float32Array(2) } }, 'E_TYPE', ['setParameters', 'expected', 'an object']);
  for (const [kind, v, given] of NOT_ARRAYS) add(`${kind}`, v, 'E_TYPE', ['setParameters', 'expected', given]);
  add('an array-like object { length: n }', { length: n }, 'E_TYPE', ['setParameters', 'expected', 'an object']);
  add('missing', undefined, ['E_INVALID', 'E_TYPE'], ['setParameters', 'undefined']);
  for (const [kind, make, given] of ODD_TYPED_ARRAYS) add(kind, make(n), 'E_TYPE', ['setParameters', 'expected a Float32Array', given]);
  for (const [kind, v] of [['NaN', NaN], ['Infinity', Infinity], ['-Infinity', -Infinity]]) {
    add(`holding ${kind}`, withValue(good, 17, v), 'E_NONFINITE', ['setParameters[17]', kind.replace('-', ''), 'finite']);
    add(`a plain array holding ${kind}`, plainWith(good, 17, v), 'E_NONFINITE', ['setParameters[17]', kind.replace('-', ''), 'finite']);
  }
  add('a Float64Array holding 1e39 (beyond float32)', withValue(Float64Array.from(good), 17, 1e39), 'E_NONFINITE', [/setParameters/, /1e\+?39|float32|Infinity/, /17/]);
  add('a plain array holding -1e39 (beyond float32)', plainWith(good, 17, -1e39), 'E_NONFINITE', [/setParameters/, /1e\+?39|float32|Infinity/, /17/]);
  for (const [kind, v, given] of [['a string', '0.1', '"0.1"'], ['null', null, 'null'], ['a boolean', false, 'false'], ['a BigInt', 1n, /\b1n\b|bigint/i], ['undefined', undefined, 'undefined']]) {
    add(`a plain array holding ${kind}`, plainWith(good, 17, v), 'E_TYPE', ['setParameters[17]', 'expected a number', given]);
  }
  for (const c of cases) badCase(`setParameters(${c.name})`, { call: ({ m }) => m.setParameters(c.value), code: c.code, says: c.says });
});

// ---------------------------------------------------------------- importWeights

describe('importWeights: bad weight dicts', () => {
  // the 'seq' LSTM: weight_ih [16, 3], weight_hh [16, 4], biases [16], head [2, 4] and [2]
  const make = () => {
    const dict = {};
    for (const [name, shape] of [['rnn.weight_ih_l0', [16, 3]], ['rnn.weight_hh_l0', [16, 4]], ['rnn.bias_ih_l0', [16]], ['rnn.bias_hh_l0', [16]], ['head.weight', [2, 4]], ['head.bias', [2]]]) {
      dict[name] = { shape, data: randomArray(shape.reduce((a, b) => a * b, 1), name.length) };
    }
    return dict;
  };
  const edit = (fn) => { const d = make(); fn(d); return d; };
  const W = 'rnn.weight_ih_l0';
  const cases = [];
  const add = (name, dict, code, says, fxName = 'seq') => cases.push({ name, dict, code, says, fxName });
  for (const [kind, v, given] of NOT_OBJECTS.filter(([k]) => k !== 'an array')) add(`the dict is ${kind}`, v, 'E_TYPE', ['importWeights', /expected|must be/, given]);
  add('the dict is an array', [make()[W]], 'E_TYPE', ['importWeights', /expected|must be/, /array/]);
  add('the dict is missing', undefined, ['E_INVALID', 'E_TYPE'], ['importWeights', 'undefined']);
  add('a tensor is missing', edit((d) => delete d['head.bias']), 'E_SHAPE', ["'head.bias'", 'missing', 'expected shape [2]']);
  add('an extra tensor', edit((d) => { d['rnn.weight_ih_l1'] = d[W]; }), 'E_SHAPE', ["'rnn.weight_ih_l1'", 'expected no such tensor', 'given [16, 3]']);
  add('a misspelt tensor name', edit((d) => { d['head.wieght'] = d['head.weight']; delete d['head.weight']; }), 'E_SHAPE', ["'head.weight'", 'missing', 'expected shape [2, 4]']);
  add('a transposed tensor', edit((d) => { d[W].shape = [3, 16]; }), 'E_SHAPE', [`'${W}'`, 'expected shape [16, 3]', 'given [3, 16]']);
  add('a tensor of the wrong rank', edit((d) => { d['head.bias'].shape = [1, 2]; }), 'E_SHAPE', ["'head.bias'", 'expected shape [2]', 'given [1, 2]']);
  add('a tensor without shape', edit((d) => { delete d[W].shape; }), 'E_SHAPE', [`'${W}'`, 'expected shape [16, 3]', 'no shape']);
  add('a shape with string entries', edit((d) => { d[W].shape = ['16', '3']; }), 'E_SHAPE', [`'${W}'`, 'expected shape [16, 3]', /"16"|string/]);
  add('a shape with BigInt entries', edit((d) => { d[W].shape = [16n, 3n]; }), 'E_SHAPE', [`'${W}'`, 'expected shape [16, 3]', /16n|bigint/i]);
  add('data one value short', edit((d) => { d[W].data = d[W].data.subarray(1); }), 'E_SHAPE', [`'${W}'`, 'expected 48', 'has 47 values']);
  add('data one value too many', edit((d) => { d[W].data = new Float32Array(49); }), 'E_SHAPE', [`'${W}'`, 'expected 48', 'has 49 values']);
  for (const [kind, v, given] of [['null', null, 'null'], ['a number', 5, /5|number/], ['a string', 'w', /"w"|string/]]) {
    add(`a tensor is ${kind}`, edit((d) => { d[W] = v; }), 'E_TYPE', [`'${W}'`, /expected|must be/, given]);
  }
  add('a tensor is a bare Float32Array', edit((d) => { d[W] = new Float32Array(48); }), 'E_FORMAT', [`'${W}'`, 'no data array', 'expected shape [16, 3]']);
  add('a tensor without data', edit((d) => { delete d[W].data; }), 'E_FORMAT', [`'${W}'`, 'no data array', 'expected shape [16, 3]']);
  add('tensor data is a string', edit((d) => { d[W].data = 'abc'; }), 'E_FORMAT', [`'${W}'`, 'no data array', 'expected shape [16, 3]']);
  // wrong dtypes, as from a file of integers or a foreign tensor library
  for (const dtype of ['I64', 'I32', 'U8', 'BOOL', 'F8_E4M3', 'int64', 'torch.int32', 'float8']) {
    add(`dtype ${dtype}`, edit((d) => { d[W].dtype = dtype; }), 'E_FORMAT', [`'${W}'`, 'expected a floating-point tensor', `"${dtype}"`]);
  }
  add('dtype is a number', edit((d) => { d[W].dtype = 32; }), 'E_FORMAT', [`'${W}'`, 'expected a floating-point tensor', '32']);
  add('dtype is a BigInt', edit((d) => { d[W].dtype = 32n; }), 'E_FORMAT', [`'${W}'`, 'expected a floating-point tensor', /32n|bigint/i]);
  for (const Type of [Int32Array, Uint8Array, Int8Array, Int16Array, Uint16Array, Uint32Array, Uint8ClampedArray, BigInt64Array, BigUint64Array]) {
    add(`data is a ${Type.name}`, edit((d) => { d[W].data = new Type(48); }), 'E_FORMAT', [`'${W}'`, `data of type ${Type.name}`, 'expected floating point values']);
  }
  for (const [kind, v, given] of [['a string', '0.5', 'string'], ['null', null, 'object'], ['a boolean', true, 'boolean'], ['a BigInt', 1n, 'bigint'], ['undefined', undefined, 'undefined']]) {
    add(`data holds ${kind}`, edit((d) => { d[W].data = plainWith(d[W].data, 5, v); }), 'E_FORMAT', [`'${W}'`, `holds a ${given} at index 5`, 'expected numbers']);
  }
  for (const [kind, v] of [['NaN', NaN], ['Infinity', Infinity], ['-Infinity', -Infinity]]) {
    add(`data holds ${kind}`, edit((d) => { d[W].data = withValue(d[W].data, 5, v); }), 'E_NONFINITE', [`'${W}'`, `holds ${v} at index 5`, /finite/]);
  }
  add('a Float64Array holding 1e39 (beyond float32)', edit((d) => { d[W].data = withValue(Float64Array.from(d[W].data), 5, 1e39); }), 'E_NONFINITE', ['W of layer 0', 'Infinity in float32', 'exceeds the float32 range']);
  add('two biases that overflow float32 when added', edit((d) => { d['rnn.bias_ih_l0'].data = new Float64Array(16).fill(3e38); d['rnn.bias_hh_l0'].data = new Float64Array(16).fill(3e38); }), 'E_NONFINITE',
    ['b of layer 0', 'Infinity in float32', 'exceeds the float32 range']);
  add('weights of a GRU into an LSTM', (() => {
    const d = make();
    for (const k of Object.keys(d)) if (k.startsWith('rnn.')) d[k] = { shape: [12, ...d[k].shape.slice(1)], data: new Float32Array(12 * (d[k].shape[1] ?? 1)) };
    return d;
  })(), 'E_SHAPE', [`'${W}'`, 'expected shape [16, 3]', 'given [12, 3]']);
  add('into a reset-before GRU', make(), 'E_STATE', ['importWeights', "gruVariant 'reset-before'", "'reset-after'"], 'gruBefore');
  for (const c of cases) badCase(`importWeights(${c.name})`, { fx: c.fxName, call: ({ m }) => m.importWeights(c.dict), code: c.code, says: c.says });
});

// ---------------------------------------------------------------- save

describe('save: bad options', () => {
  for (const [kind, v, given] of NOT_OBJECTS) {
    badCase(`save(options ${kind})`, { call: ({ m }) => m.save(v), code: 'E_TYPE', says: ['save options', 'expected an object', given] });
  }
  badCase("save({ optimiser }) misspelt", { call: ({ m }) => m.save({ optimiser: false }), code: 'E_INVALID', says: ['save options', "unknown option 'optimiser'", "did you mean 'optimizer'?"] });
  badCase("save({ format }) unknown", { call: ({ m }) => m.save({ format: 'json' }), code: 'E_INVALID', says: ['save options', "unknown option 'format'", 'known options: optimizer'] });
  badCase("save({ metdata }) misspelt", { call: ({ m }) => m.save({ metdata: {} }), code: 'E_INVALID', says: ['save options', "unknown option 'metdata'", "did you mean 'metadata'?"] });
  const circular = {};
  circular.self = circular;
  for (const [kind, v, given] of [['a BigInt', 1n, /BigInt/], ['a function', () => 1, 'a function'], ['a Symbol', Symbol('m'), /Symbol/],
    ['a circular object', circular, /circular/], ['an object holding a BigInt', { steps: 10n }, /BigInt/]]) {
    badCase(`save({ metadata: ${kind} })`, { call: ({ m }) => m.save({ metadata: v }), code: 'E_TYPE', says: ['save options.metadata', 'expected a JSON-serialisable value', given] });
  }
  for (const [kind, v, given] of [['a string', 'yes', '"yes"'], ['1', 1, '1'], ['an object', {}, 'an object']]) {
    badCase(`save({ optimizer: ${kind} })`, { call: ({ m }) => m.save({ optimizer: v }), code: 'E_TYPE', says: ['save options.optimizer', 'expected true or false', given] });
  }
});

// ---------------------------------------------------------------- createModel

describe('createModel: bad configs', () => {
  const base = { cell: 'lstm', inputSize: 3, hiddenSize: 4, outputSize: 2 };
  const o = 'createModel config';
  const cases = [];
  const add = (name, config, code, says) => cases.push({ name, config, code, says });
  for (const [kind, v, given] of [...NOT_OBJECTS, ['a Symbol', Symbol('c'), 'Symbol(c)']]) add(`config ${kind}`, v, 'E_TYPE', [o, 'expected an object', given]);
  add('no config', undefined, ['E_INVALID', 'E_TYPE'], [o, 'undefined']);
  for (const k of ['cell', 'inputSize', 'hiddenSize', 'outputSize']) {
    const { [k]: _, ...rest } = base;
    add(`${k} missing`, rest, ['E_INVALID', 'E_TYPE'], [k, 'expected', 'undefined']);
  }
  for (const [k, given, hint] of [['hiddensize', 4, 'hiddenSize'], ['hidenSize', 4, 'hiddenSize'], ['inputsize', 3, 'inputSize'], ['outputSise', 2, 'outputSize'],
    ['layer', 2, 'layers'], ['numLayers', 2, 'layers'], ['cel', 'gru', 'cell'], ['activaton', 'relu', 'activation'], ['gru_variant', 'reset-after', 'gruVariant'],
    ['recurrentscale', 1, 'recurrentScale'], ['forgetBias', true, 'forgetBiasOne'], ['sed', 2, 'seed'], ['lose', 'mse', 'loss'], ['outputs', 'last', 'output']]) {
    const config = { ...base, [k]: given };
    if (['cel'].includes(k)) delete config.cell;
    if (['hidenSize', 'hiddensize'].includes(k)) delete config.hiddenSize;
    add(`misspelt '${k}'`, config, 'E_INVALID', [o, `unknown option '${k}'`, `did you mean '${hint}'?`]);
  }
  add("unknown 'dropOut' (misspelt)", { ...base, dropOut: 0.5 }, 'E_INVALID', [o, "unknown option 'dropOut'", "did you mean 'dropout'?"]);
  add("unknown 'recurrent_dropout' (the C name)", { ...base, recurrent_dropout: 0.5 }, 'E_INVALID', [o, "unknown option 'recurrent_dropout'", "did you mean 'recurrentDropout'?"]);
  for (const [kind, v, given] of [['1', 1, '1'], ["'true'", 'true', '"true"'], ['null', null, 'null']]) {
    add(`bidirectional ${kind}`, { ...base, bidirectional: v }, 'E_TYPE', ['bidirectional', 'expected true or false', given]);
  }
  for (const [kind, v] of [["'LSTM'", 'LSTM'], ["'lstmm'", 'lstmm'], ["'transformer'", 'transformer'], ["''", '']]) {
    add(`cell ${kind}`, { ...base, cell: v }, 'E_INVALID', ['cell', "expected one of 'rnn', 'lstm', 'gru'", JSON.stringify(v)]);
  }
  for (const [kind, v, given] of NOT_NUMBERS.filter(([n]) => n !== 'a numeric string')) add(`cell is ${kind}`, { ...base, cell: v }, 'E_TYPE', ['cell', "expected one of 'rnn', 'lstm', 'gru'", given]);
  for (const k of ['inputSize', 'hiddenSize', 'outputSize']) {
    for (const [kind, v] of badIntegers(1, 65536)) add(`${k} ${kind}`, { ...base, [k]: v }, 'E_INVALID', [k, 'expected an integer from 1 to 65536', `got ${v}`]);
    for (const [kind, v, given] of NOT_NUMBERS) add(`${k} is ${kind}`, { ...base, [k]: v }, 'E_TYPE', [k, 'expected an integer from 1 to 65536', given]);
  }
  for (const [kind, v] of badIntegers(1, 16)) add(`layers ${kind}`, { ...base, layers: v }, 'E_INVALID', ['layers', 'expected an integer from 1 to 16', `got ${v}`]);
  for (const [kind, v, given] of NOT_NUMBERS.filter(([n]) => n !== 'null')) add(`layers is ${kind}`, { ...base, layers: v }, 'E_TYPE', ['layers', 'expected an integer from 1 to 16', given]);
  for (const [k, v, choices] of [['output', 'many', "'sequence', 'last'"], ['loss', 'ce', "'mse', 'cross-entropy'"], ['loss', 'crossentropy', "'mse', 'cross-entropy'"],
    ['activation', 'sigmoid', "'tanh', 'relu'"], ['gruVariant', 'v3', "'reset-before', 'reset-after'"], ['init', 'he', "'glorot', 'pytorch'"],
    ['recurrentInit', 'identity', "'orthogonal', 'gaussian'"]]) {
    add(`${k} '${v}'`, { ...base, [k]: v }, 'E_INVALID', [k, `expected one of ${choices}`, `"${v}"`]);
    add(`${k} is a number`, { ...base, [k]: 1 }, 'E_TYPE', [k, `expected one of ${choices}`, 'got 1']);
  }
  for (const [kind, v] of [['-1', -1], ['NaN', NaN], ['Infinity', Infinity], ['101', 101], ['1e9', 1e9]]) {
    add(`recurrentScale ${kind}`, { ...base, recurrentScale: v }, 'E_INVALID', ['recurrentScale', 'expected a finite number >= 0 and <= 100', `got ${v}`]);
  }
  add("recurrentScale '1'", { ...base, recurrentScale: '1' }, 'E_TYPE', ['recurrentScale', 'expected a number', '"1"']);
  for (const [kind, v, given] of [['1', 1, '1'], ["'true'", 'true', '"true"'], ['null', null, 'null']]) {
    add(`forgetBiasOne ${kind}`, { ...base, forgetBiasOne: v }, 'E_TYPE', ['forgetBiasOne', 'expected true or false', given]);
  }
  for (const [kind, v] of badIntegers(0, 0xffffffff)) add(`seed ${kind}`, { ...base, seed: v }, 'E_INVALID', ['seed', 'expected an integer from 0 to 4294967295', `got ${v}`]);
  for (const [kind, v, given] of NOT_NUMBERS.filter(([n]) => n !== 'null')) add(`seed is ${kind}`, { ...base, seed: v }, 'E_TYPE', ['seed', 'expected an integer from 0 to 4294967295', given]);
  for (const k of ['dropout', 'inputDropout', 'recurrentDropout']) { // SPEC §12: 0 <= p < 1
    for (const [kind, v] of [['1', 1], ['-0.1', -0.1], ['NaN', NaN], ['Infinity', Infinity], ['1.5', 1.5]]) {
      add(`${k} ${kind}`, { ...base, [k]: v }, 'E_INVALID', [k, 'expected a finite number >= 0 and < 1', `got ${v}`]);
    }
    add(`${k} 0.99999999 (1 as a float32)`, { ...base, [k]: 0.99999999 }, 'E_INVALID', [k, 'up to (not including) 1', 'got 0.99999999']);
    for (const [kind, v, given] of NOT_NUMBERS.filter(([n]) => n !== 'null')) add(`${k} is ${kind}`, { ...base, [k]: v }, 'E_TYPE', [k, 'expected a number', given]);
  }
  add('cross-entropy with one class', { ...base, loss: 'cross-entropy', outputSize: 1 }, 'E_INVALID', ['outputSize', 'at least 2 classes', 'got 1']);
  // sizes each in range, together far too large for wasm memory
  add('hiddenSize 65536 with 16 layers', { ...base, hiddenSize: 65536, layers: 16 }, 'E_NOMEM', ['createModel', /needs \d{9,} parameters/, /at most \d+/]);
  add('every size 65536', { cell: 'lstm', inputSize: 65536, hiddenSize: 65536, outputSize: 65536 }, 'E_NOMEM', ['createModel', /needs \d{9,} parameters/, /at most \d+/]);
  for (const c of cases) badCase(`createModel(${c.name})`, { call: () => createModel(c.config), code: c.code, says: c.says });
});

// ---------------------------------------------------------------- bidirectional (SPEC §11)

describe('bidirectional model: what it cannot do', () => {
  const holey = () => { const m = new Float32Array(N * T).fill(1); m[1] = 0; return m; };
  for (const [name, run] of [['computeGradients', (m, d) => m.computeGradients(d)], ['trainStep', (m, d) => m.trainStep(d)],
    ['evaluate', (m, d) => m.evaluate(d)], ['fit', (m, d) => m.fit(d, { epochs: 1, shuffle: false })]]) {
    badCase(`${name} with a mask that is not a prefix [bi]`, { fx: 'bi', call: ({ fx, m }) => run(m, { ...fx.data, mask: holey() }),
      code: 'E_INVALID', says: ['prefix mask', 'sequence 0', 'got 0 at step 1 and 1 at step 2'] });
  }
  badCase('predict with a mask that is not a prefix [bi]', { fx: 'bi', call: ({ fx, m }) => m.predict(fx.x, { shape: fx.shape, mask: holey() }),
    code: 'E_INVALID', says: ['predict.mask of sequence 0', 'prefix mask', 'got 0 at step 1 and 1 at step 2'] });
  badCase('predict with lengths past T [bi]', { fx: 'bi', call: ({ fx, m }) => m.predict(fx.x, { shape: fx.shape, lengths: [T + 1, 1] }),
    code: 'E_INVALID', says: ['predict.lengths[0]', `an integer from 0 to ${T}`, `got ${T + 1}`] });
  badCase('predict with lengths and a mask [bi]', { fx: 'bi', call: ({ fx, m }) => m.predict(fx.x, { shape: fx.shape, lengths: [1, 1], mask: holey() }),
    code: 'E_INVALID', says: ['predict', 'mask or lengths, not both'] });
  badCase('fit with tbptt [bi]', { fx: 'bi', call: ({ fx, m }) => m.fit(fx.data, { tbptt: 2, epochs: 1 }), code: 'E_INVALID', says: ['fit options.tbptt', 'bidirectional', 'given tbptt 2'] });
  badCase('trainer with tbptt [bi]', { fx: 'bi', call: ({ fx, m }) => m.trainer(fx.data, { tbptt: 1 }), code: 'E_INVALID', says: ['tbptt', 'bidirectional', 'given tbptt 1'] });
  badCase('predict with a one-direction state [bi]', { fx: 'bi', call: ({ fx, m }) => m.predict(fx.x, { shape: fx.shape, state: { h: new Float32Array(2 * N * 4), c: new Float32Array(2 * N * 4) } }),
    code: 'E_SHAPE', says: ['state.h', `[4, ${N}, 4]`] });
});

// ---------------------------------------------------------------- loadModel

describe('loadModel: bad bytes', () => {
  let saved = null; // bytes of the 'ce' fixture's model, saved once
  const bytes = async () => {
    if (!saved) {
      const m = await createModel(FIXTURES.ce);
      saved = m.save();
      m.dispose();
    }
    return saved;
  };
  const cases = [];
  const add = (name, make, code, says) => cases.push({ name, make, code, says });
  for (const [kind, v, given] of [...NOT_ARRAYS, ['an array of bytes', [82, 78, 78], 'an array of length 3'], ['an Int8Array', new Int8Array(200), 'Int8Array(200)'],
    ['a Uint16Array', new Uint16Array(200), 'Uint16Array(200)'], ['a DataView', new DataView(new ArrayBuffer(200)), /DataView(?!\(undefined\))/]]) {
    if (kind === 'an ArrayBuffer') continue; // an ArrayBuffer is accepted
    add(kind, () => v, 'E_TYPE', ['loadModel', 'expected a Uint8Array or ArrayBuffer', given]);
  }
  add('nothing', () => undefined, ['E_INVALID', 'E_TYPE'], ['loadModel', 'undefined']);
  add('an empty Uint8Array', () => new Uint8Array(0), 'E_FORMAT', ['loadModel', 'the 132-byte minimum', /\b0 bytes?\b|got 0/]);
  add('an empty ArrayBuffer', () => new ArrayBuffer(0), 'E_FORMAT', ['loadModel', 'the 132-byte minimum', /\b0 bytes?\b|got 0/]);
  for (const keep of [1, 8, 131]) {
    add(`the first ${keep} bytes`, async () => (await bytes()).subarray(0, keep), 'E_FORMAT', ['loadModel', 'the 132-byte minimum', new RegExp(`\\b${keep} bytes?\\b|got ${keep}\\b`)]);
  }
  for (const [kind, cut] of [['132 bytes', () => 132], ['half the file', (n) => n >> 1], ['all but the checksum', (n) => n - 4], ['all but the last byte', (n) => n - 1]]) {
    add(`truncated to ${kind}`, async () => { const b = await bytes(); return b.subarray(0, cut(b.length)); }, 'E_FORMAT',
      ['loadModel', /checksum|truncated/, /\d+ bytes|0x[0-9a-f]{8}/i]);
  }
  add('one byte appended', async () => { const b = await bytes(); const c = new Uint8Array(b.length + 1); c.set(b); return c; }, 'E_FORMAT',
    ['loadModel', /checksum|truncated|altered/, /\d+ bytes|0x[0-9a-f]{8}/i]);
  for (const at of [0, 7]) {
    add(`bit flip in the magic (byte ${at})`, async () => { const c = (await bytes()).slice(); c[at] ^= 1; return c; }, 'E_FORMAT', ['loadModel', 'magic', /got|given|found/]);
  }
  add('bit flip in the version', async () => { const c = (await bytes()).slice(); c[8] ^= 1; return c; }, 'E_FORMAT', ['loadModel', 'version 0', 'version 1']);
  for (const at of [12, 20, 100, 500]) {
    add(`bit flip at byte ${at}`, async () => { const c = (await bytes()).slice(); c[at] ^= 0x10; return c; }, 'E_FORMAT', ['loadModel', 'checksum', /\d+ bytes|0x[0-9a-f]{8}/i]);
  }
  add('bit flip in the checksum', async () => { const c = (await bytes()).slice(); c[c.length - 1] ^= 0x80; return c; }, 'E_FORMAT', ['loadModel', 'checksum', /\d+ bytes|0x[0-9a-f]{8}/i]);
  add('a safetensors file', () => { const c = new Uint8Array(200); c[0] = 16; c.set(new TextEncoder().encode('{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}'), 8); return c; }, 'E_FORMAT', ['loadModel', 'magic', /got|given|found/]);
  add('200 bytes of text', () => new TextEncoder().encode('x'.repeat(200)), 'E_FORMAT', ['loadModel', 'magic', /got|given|found/]);
  for (const c of cases) badCase(`loadModel(${c.name})`, { call: async () => loadModel(await c.make()), code: c.code, says: c.says });
});

// ---------------------------------------------------------------- Vocabulary

describe('Vocabulary: bad input', () => {
  const vocab = Vocabulary.fromText('abcd');
  const cases = [];
  const add = (name, call, code, says) => cases.push({ name, call, code, says });
  for (const [kind, v, given] of [['a number', 5, '5'], ['null', null, 'null'], ['an object', {}, 'an object'], ['an array', ['a', 'b'], 'an array of length 2'],
    ['a boolean', true, 'true'], ['a BigInt', 5n, /\b5n\b|bigint/i], ['a Uint8Array of UTF-8', new TextEncoder().encode('ab'), 'Uint8Array(2)']]) {
    add(`Vocabulary.fromText(${kind})`, () => Vocabulary.fromText(v), 'E_TYPE', ['Vocabulary.fromText', 'expected a string', given]);
  }
  add('Vocabulary.fromText()', () => Vocabulary.fromText(), ['E_INVALID', 'E_TYPE'], ['Vocabulary.fromText', 'undefined']);
  add("Vocabulary.fromText('')", () => Vocabulary.fromText(''), 'E_INVALID', ['Vocabulary.fromText', 'non-empty text', 'an empty string']);
  for (const [kind, v, given] of [['a string', 'abc', '"abc"'], ['null', null, 'null'], ['an empty array', [], 'an array of length 0'], ['multi-character strings', ['ab', 'c'], 'an array of length 2'],
    ['numbers', [1, 2], 'an array of length 2'], ['an empty string', ['', 'a'], 'an array of length 2']]) {
    add(`new Vocabulary(${kind})`, () => new Vocabulary(v), 'E_TYPE', ['Vocabulary', 'expected a non-empty array of single characters', given]);
  }
  add('new Vocabulary(duplicates)', () => new Vocabulary(['a', 'b', 'a']), 'E_INVALID', ['Vocabulary', 'distinct', /'a'|"a"|got/]);
  for (const [kind, v, given] of [['a number', 5, '5'], ['null', null, 'null'], ['an array', ['a'], 'an array of length 1'], ['an Int32Array', Int32Array.of(0, 1), 'Int32Array(2)']]) {
    add(`vocab.encode(${kind})`, () => vocab.encode(v), 'E_TYPE', ['encode', 'expected a string', given]);
  }
  add('vocab.encode()', () => vocab.encode(), ['E_INVALID', 'E_TYPE'], ['encode', 'undefined']);
  add("vocab.encode('abz')", () => vocab.encode('abz'), 'E_INVALID', ['encode', '"z"', 'vocabulary of 4 characters']);
  for (const [kind, v, given] of [['null', null, 'null'], ['a number', 5, '5'], ['a string of digits', '01', '"01"'], ['an object', { 0: 1 }, 'an object'], ['true', true, 'true']]) {
    add(`vocab.decode(${kind})`, () => vocab.decode(v), 'E_TYPE', ['decode', /expected/, given]);
  }
  add('vocab.decode()', () => vocab.decode(), ['E_INVALID', 'E_TYPE'], ['decode', 'undefined']);
  for (const [kind, v] of [['4 (= size)', 4], ['-1', -1], ['1.5', 1.5], ['NaN', NaN], ['1e9', 1e9]]) {
    add(`vocab.decode([0, ${kind}])`, () => vocab.decode([0, v]), 'E_INVALID', ['decode', 'expected 0 to 3', `id ${v}`]);
  }
  for (const [kind, v, given] of [['a string id', '1', '"1"'], ['a BigInt id', 1n, /\b1n\b|bigint/i], ['a null id', null, 'null']]) {
    add(`vocab.decode([0, ${kind}])`, () => vocab.decode([0, v]), 'E_TYPE', ['decode', /expected/, given]);
  }
  const text = 'abcdabcdabcd';
  for (const [kind, v, given] of [['a number', 5, '5'], ['null', null, 'null'], ['an array', ['a', 'b'], 'an array of length 2']]) {
    add(`vocab.dataset(text ${kind})`, () => vocab.dataset(v, { seqLength: 2 }), 'E_TYPE', [/dataset/, 'expected a string', given]);
  }
  add('vocab.dataset(text with a character outside the vocabulary)', () => vocab.dataset('abcdz', { seqLength: 2 }), 'E_INVALID', ['"z"', 'position 4', 'vocabulary of 4 characters']);
  add('vocab.dataset(text shorter than a sequence)', () => vocab.dataset('abc', { seqLength: 3 }), 'E_SHAPE', ['seqLength 3', '4 characters', 'got 3']);
  for (const [kind, v, given] of NOT_OBJECTS) add(`vocab.dataset(text, options ${kind})`, () => vocab.dataset(text, v), 'E_TYPE', ['dataset options', 'expected an object', given]);
  add('vocab.dataset(text) without options', () => vocab.dataset(text), ['E_INVALID', 'E_TYPE'], ['dataset options', 'undefined']);
  add("vocab.dataset(text, { seqlength }) misspelt", () => vocab.dataset(text, { seqlength: 2 }), 'E_INVALID', ['dataset options', "unknown option 'seqlength'", "did you mean 'seqLength'?"]);
  add("vocab.dataset(text, { strid }) misspelt", () => vocab.dataset(text, { seqLength: 2, strid: 1 }), 'E_INVALID', ['dataset options', "unknown option 'strid'", "did you mean 'stride'?"]);
  add('vocab.dataset(text, {}) without seqLength', () => vocab.dataset(text, {}), ['E_INVALID', 'E_TYPE'], ['dataset options.seqLength', 'undefined']);
  for (const [kind, v] of badIntegers(1, 1e6)) {
    add(`vocab.dataset(text, { seqLength: ${kind} })`, () => vocab.dataset(text, { seqLength: v }), 'E_INVALID', ['dataset options.seqLength', 'expected an integer from 1 to 1000000', `got ${v}`]);
  }
  for (const [kind, v, given] of NOT_NUMBERS.filter(([n]) => n !== 'null')) {
    add(`vocab.dataset(text, { seqLength: ${kind} })`, () => vocab.dataset(text, { seqLength: v }), 'E_TYPE', ['dataset options.seqLength', 'expected an integer', given]);
  }
  for (const [kind, v] of [['0', 0], ['-1', -1], ['1.5', 1.5], ['2**31', 2 ** 31]]) {
    add(`vocab.dataset(text, { stride: ${kind} })`, () => vocab.dataset(text, { seqLength: 2, stride: v }), 'E_INVALID', ['dataset options.stride', 'expected an integer from 1 to 1000000', `got ${v}`]);
  }
  add("vocab.dataset(text, { stride: '1' })", () => vocab.dataset(text, { seqLength: 2, stride: '1' }), 'E_TYPE', ['dataset options.stride', 'expected an integer', '"1"']);
  for (const key of ['oneHot', 'ids']) {
    for (const [kind, v, given] of [['a string', 'yes', '"yes"'], ['1', 1, '1'], ['null', null, 'null'], ['an object', {}, 'an object']]) {
      add(`vocab.dataset(text, { ${key}: ${kind} })`, () => vocab.dataset(text, { seqLength: 2, [key]: v }), 'E_TYPE', [`dataset options.${key}`, 'expected true or false', given]);
    }
  }
  add("vocab.dataset(text, { onehot }) misspelt", () => vocab.dataset(text, { seqLength: 2, onehot: true }), 'E_INVALID', ['dataset options', "unknown option 'onehot'", "did you mean 'oneHot'?"]);
  for (const both of [true, false]) {
    add(`vocab.dataset(text, { oneHot: ${both}, ids: ${both} }), which contradict each other`, () => vocab.dataset(text, { seqLength: 2, oneHot: both, ids: both }),
      'E_INVALID', ['dataset options.ids', `expected ${!both} (the opposite of oneHot: ${both}) or left out`, `got ${both}`]);
  }
  for (const c of cases) badCase(c.name, { call: c.call, code: c.code, says: c.says });
});

// ---------------------------------------------------------------- init options

describe('init: bad options', () => {
  // What init must reject, as source text for a fresh process. An unknown or
  // misspelt key, or a value of the wrong type, must not be ignored.
  const INIT_CASES = [
    ['a number', '7', 'E_TYPE', ['init options', 'expected an object', /\b7\b|number/]],
    ['a string', "'simd'", 'E_TYPE', ['init options', 'expected an object', /"simd"|string/]],
    ['null', 'null', 'E_TYPE', ['init options', 'expected an object', 'null']],
    ['a function', '() => ({})', 'E_TYPE', ['init options', 'expected an object', 'function']],
    ["simd: 'yes'", "{ simd: 'yes' }", 'E_TYPE', ['simd', 'expected true or false', '"yes"']],
    ['simd: 1', '{ simd: 1 }', 'E_TYPE', ['simd', 'expected true or false', '1']],
    ['wasm: 5', '{ wasm: 5 }', 'E_TYPE', ['wasm', /expected/, '5']],
    ['wasm: {}', '{ wasm: {} }', 'E_TYPE', ['wasm', /expected/, 'an object']],
    ['wasm: true', '{ wasm: true }', 'E_TYPE', ['wasm', /expected/, 'true']],
    ["misspelt 'wsam'", "{ wsam: new URL('file:///nonexistent.wasm') }", 'E_INVALID', ['init options', "unknown option 'wsam'", "did you mean 'wasm'?"]],
    ["misspelt 'SIMD'", '{ SIMD: false }', 'E_INVALID', ['init options', "unknown option 'SIMD'", "did you mean 'simd'?"]],
    ["misspelt 'thread'", '{ thread: 2 }', 'E_INVALID', ['init options', "unknown option 'thread'", "did you mean 'threads'?"]],
    ["unknown 'workers'", '{ workers: 2 }', 'E_INVALID', ['init options', "unknown option 'workers'", 'known options: wasm, simd, threads']],
    ['threads: 0', '{ threads: 0 }', 'E_INVALID', ['init options.threads', 'expected an integer from 1 to 16', 'got 0']],
    ['threads: 17', '{ threads: 17 }', 'E_INVALID', ['init options.threads', 'expected an integer from 1 to 16', 'got 17']],
    ['threads: 1.5', '{ threads: 1.5 }', 'E_INVALID', ['init options.threads', 'expected an integer from 1 to 16', 'got 1.5']],
    ['threads: NaN', '{ threads: NaN }', 'E_INVALID', ['init options.threads', 'expected an integer from 1 to 16', 'got NaN']],
    ["threads: '2'", "{ threads: '2' }", 'E_TYPE', ['init options.threads', 'expected an integer from 1 to 16', '"2"']],
    ['wasm: bytes that are not WebAssembly', '{ wasm: new Uint8Array([1, 2, 3, 4]) }', 'E_LOAD', ['could not load the rnnlab WebAssembly module', /magic|expected/, /wasm|WebAssembly/]],
  ];
  const lib = JSON.stringify(new URL('../web/rnnlab.js', import.meta.url).href);

  // Before the engine has loaded: a fresh process per case. Afterwards the
  // same process loads the engine with a plain init() and trains a step.
  for (const [name, source, code, says] of INIT_CASES) {
    test(`init(${name}) before the engine loaded (a fresh process)`, async (t) => {
      tried(t);
      const script = `
        import { init, createModel, RnnlabError } from ${lib};
        const out = {};
        try { await init(${source}); out.resolved = true; }
        catch (e) { out.error = { isRnnlabError: e instanceof RnnlabError, name: e?.constructor?.name, code: e?.code, message: String(e?.message) }; }
        try {
          await init();
          const m = await createModel({ cell: 'gru', inputSize: 1, hiddenSize: 3, outputSize: 1 });
          out.after = m.trainStep({ x: [[[1], [2]]], y: [[[0], [1]]] }).loss;
        } catch (e) { out.after = String(e); }
        console.log(JSON.stringify(out));
      `;
      const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(run.status, 0, run.stderr);
      const out = JSON.parse(run.stdout.trim().split('\n').pop());
      await expectError(() => {
        if (out.resolved) return;
        const e = out.error.isRnnlabError ? new RnnlabError(out.error.code, out.error.message) : new Error(`${out.error.name}: ${out.error.message}`);
        throw e;
      }, code, says);
      assert.equal(typeof out.after, 'number', `the engine loads and trains after the failed init: ${out.after}`);
      passed(t);
    });
  }

  // After the engine has loaded (this process): the options are still checked.
  for (const [name, source, code, says] of INIT_CASES.filter(([, , c]) => c !== 'E_LOAD')) {
    // eslint-disable-next-line no-new-func
    const options = new Function('URL', `return (${source});`)(URL);
    badCase(`init(${name}) after the engine loaded`, { call: () => init(options), code, says });
  }
});

// ---------------------------------------------------------------- calls after dispose

// Every model call with good arguments and, where it takes any, bad ones.
function modelCalls(fx) {
  const { data, x, shape } = fx;
  const vocab = Vocabulary.fromText('abcd');
  return [
    ['fit', (m) => m.fit(data)],
    ['fit', (m) => m.fit(null, { epoch: 1 }), 'bad arguments'],
    ['trainStep', (m) => m.trainStep(data)],
    ['trainStep', (m) => m.trainStep({ x: 'bad' }, 7), 'bad arguments'],
    ['computeGradients', (m) => m.computeGradients(data)],
    ['computeGradients', (m) => m.computeGradients(undefined), 'bad arguments'],
    ['evaluate', (m) => m.evaluate(data)],
    ['evaluate', (m) => m.evaluate(data, { batchSize: -1 }), 'bad arguments'],
    ['predict', (m) => m.predict(x, { shape })],
    ['predict', (m) => m.predict(NaN, { shape: 'no' }), 'bad arguments'],
    ['gateTrace', (m) => m.gateTrace(x, { shape })],
    ['gateTrace', (m) => m.gateTrace([[[]]]), 'bad arguments'],
    ['sample', (m) => m.sample({ length: 3, vocab, prime: 'ab' })],
    ['sample', (m) => m.sample({ lenght: -1 }), 'bad arguments'],
    ['setParameters', (m) => m.setParameters(fx.params)],
    ['setParameters', (m) => m.setParameters(new Float32Array(1).fill(NaN)), 'bad arguments'],
    ['importWeights', (m) => m.importWeights(fx.weights)],
    ['importWeights', (m) => m.importWeights({ 'head.bias': { dtype: 'I64' } }), 'bad arguments'],
    ['getParameters', (m) => m.getParameters()],
    ['exportWeights', (m) => m.exportWeights()],
    ['gradients', (m) => m.gradients()],
    ['spectralNorms', (m) => m.spectralNorms()],
    ['save', (m) => m.save()],
    ['save', (m) => m.save({ optimiser: 'yes' }), 'bad arguments'],
    ['gradientFlow', (m) => m.gradientFlow()],
    ['parameterCount', (m) => m.parameterCount()],
  ];
}

describe('calls after dispose', () => {
  const fx0 = describeFixture('ce');
  for (const [method, , bad] of modelCalls(fx0)) {
    test(`${method}(${bad ?? 'good arguments'}) after dispose → E_DISPOSED`, async (t) => {
      tried(t);
      const fx = await fixture('ce');
      const before = snapshot(fx);
      const m = await createModel(fx.config);
      const args = { ...fx, params: m.getParameters(), weights: m.exportWeights() };
      m.dispose();
      const [, run] = modelCalls(args).find(([name, , b]) => name === method && b === bad);
      await expectError(() => run(m), 'E_DISPOSED', [method, 'disposed']);
      assert.equal(m.disposed, true);
      m.dispose(); // twice is fine
      // the other models of the engine are untouched, and a new model works
      assertIntact(fx, before);
      const fresh = await createModel(fx.config);
      assert.ok(Number.isFinite(fresh.trainStep(fx.data).loss));
      fresh.dispose();
      passed(t);
    });
  }
});

// ---------------------------------------------------------------- calls during a running fit

describe('calls during a running fit', () => {
  const fx0 = describeFixture('ce');
  const calls = [...modelCalls(fx0), ['dispose', (m) => m.dispose()]]
    .filter(([name]) => name !== 'gradientFlow' && name !== 'parameterCount'); // reads that cannot disturb a fit
  const FIT = { epochs: 2, batchSize: 1, optimizer: { type: 'adam', lr: 0.01 } };

  // The call is made from onStep (inside the fit, step 2) or right after fit()
  // returned its promise (the fit waits at a yield); the model must give
  // E_BUSY and the fit must run exactly as an undisturbed twin's.
  for (const when of ['from onStep', 'while fit awaits']) {
    for (const [method, , bad] of calls) {
      test(`${method}(${bad ?? 'good arguments'}) ${when} → E_BUSY, the fit undisturbed`, async (t) => {
        tried(t);
        const fx = describeFixture('ce');
        const [m, twin] = await Promise.all([createModel(fx.config), createModel(fx.config)]);
        const args = { ...fx, params: m.getParameters(), weights: m.exportWeights() };
        const [, run] = [...modelCalls(args), ['dispose', (mm) => mm.dispose()]].find(([name, , b]) => name === method && b === bad);
        const attempt = () => expectError(() => run(m), 'E_BUSY', [method, 'fit() is running']);
        let checked = null;
        let history;
        if (when === 'from onStep') {
          history = await m.fit(fx.data, { ...FIT, onStep: async (s) => { if (s.step === 2) checked = await attempt().then(() => true, (e) => e); } });
        } else {
          const running = m.fit(fx.data, FIT);
          checked = await attempt().then(() => true, (e) => e);
          history = await running;
        }
        if (checked !== true) throw checked ?? new Error('the call was never made');
        const undisturbed = await twin.fit(fx.data, FIT);
        sameBits(history.steps.loss, undisturbed.steps.loss, 'step losses against the undisturbed twin');
        const twinFx = { ...fx, model: m, twin };
        assertIntact(twinFx, { params: twin.getParameters(), out: twin.predict(fx.probe.x, { shape: fx.probe.shape }).output });
        m.dispose();
        twin.dispose();
        passed(t);
      });
    }
  }
});

// ---------------------------------------------------------------- the figure

test('bad inputs tried and passed (for the issue\'s closing note)', (t) => {
  t.diagnostic(`bad inputs tried: ${tally.tried}, passed: ${tally.passed}, failed: ${tally.failed.length}`);
});
