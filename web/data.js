// data.js — turns what users pass (flat typed arrays with a shape, or nested
// arrays) into flat, checked arrays of known shape.

import { RnnlabError, describe, formatShape } from './errors.js';
import { checkObject, checkKeys } from './options.js';

// The largest finite float32; a finite double beyond it becomes ±Infinity.
const FLOAT32_MAX = 3.4028234663852886e38;

const TYPED_INPUTS = [Float32Array, Float64Array, Int8Array, Uint8Array, Int16Array, Uint16Array, Int32Array, Uint32Array];

const isArrayLike = (v) => Array.isArray(v) || ArrayBuffer.isView(v);

const fmt = (shape) => `[${shape.join(', ')}]`;
const fmtExpected = (expected) => fmt(expected.map((e) => e ?? '?')); // null: any size
const sameShape = (a, b) => a.length === b.length && a.every((d, i) => d === b[i]);

// Shape of a nested array, following first elements down to the numbers.
function nestedShape(value) {
  const shape = [];
  let v = value;
  while (isArrayLike(v)) {
    shape.push(v.length);
    if (v.length === 0) break;
    v = v[0];
  }
  return shape;
}

// The innermost entries of a nested array of `shape`, in order (any type:
// checkNumbers says which is not a number). Ragged input is E_SHAPE.
function flatten(value, name, shape) {
  const out = [];
  const walk = (v, d, path) => {
    if (!isArrayLike(v) || v.length !== shape[d]) {
      throw new RnnlabError('E_SHAPE', `${name}${path}: expected an array of length ${shape[d]}, got ${describe(v)} (ragged input)`);
    }
    if (d === shape.length - 1) {
      for (let i = 0; i < v.length; i++) out.push(v[i]);
      return;
    }
    for (let i = 0; i < v.length; i++) walk(v[i], d + 1, `${path}[${i}]`);
  };
  walk(value, 0, '');
  return out;
}

// Index into a flat array as [i][j][k] for messages.
function position(index, shape) {
  const idx = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    idx.unshift(index % shape[d]);
    index = Math.floor(index / shape[d]);
  }
  return idx.map((i) => `[${i}]`).join('');
}

function checkNumbers(values, name, shape) {
  for (let i = 0; i < values.length; i++) {
    if (typeof values[i] !== 'number') {
      throw new RnnlabError('E_TYPE', `${name}${position(i, shape)}: expected a number, got ${describe(values[i])}`);
    }
  }
}

// NaN and ±Infinity, and with `float32` the finite doubles that would become
// ±Infinity in float32. `counted(i)`, when given, says which entries must be
// finite (the others are padding).
function checkFinite(values, name, shape, float32, counted) {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isFinite(v) && !(float32 && Math.abs(v) > FLOAT32_MAX)) continue;
    if (counted && !counted(i)) continue;
    const where = `${name}${position(i, shape)}`;
    if (!Number.isFinite(v)) throw new RnnlabError('E_NONFINITE', `${where} is ${describe(v)}: expected finite numbers`);
    throw new RnnlabError('E_NONFINITE', `${where} is ${v}, which is ${v < 0 ? '-' : ''}Infinity in float32: ` +
      `expected finite numbers within the float32 range (magnitude at most ${FLOAT32_MAX})`);
  }
}

// The entries of a flat array (typed, or plain with a shape) of `flatShape`.
function flatValues(value, name, expected, flatShape) {
  if (!flatShape) {
    throw new RnnlabError('E_SHAPE', `${name}: a flat array needs a shape; pass nested arrays ${fmtExpected(expected)} or give the shape`);
  }
  const total = flatShape.reduce((a, b) => a * b, 1);
  if (value.length !== total) {
    throw new RnnlabError('E_SHAPE', `${name}: expected ${total} values for shape ${fmt(flatShape)}, got ${value.length}`);
  }
  if (!ArrayBuffer.isView(value)) checkNumbers(value, name, flatShape);
  return { values: value, shape: flatShape };
}

// The entries and shape of nested or flat input, every entry a number.
function readValues(value, name, expected, flatShape) {
  if (ArrayBuffer.isView(value)) {
    if (!TYPED_INPUTS.some((Type) => value instanceof Type)) {
      throw new RnnlabError('E_TYPE', `${name}: expected a Float32Array, Float64Array, an integer typed array or nested arrays, got ${describe(value)}`);
    }
    return flatValues(value, name, expected, flatShape);
  }
  if (!Array.isArray(value)) {
    throw new RnnlabError('E_TYPE', `${name}: expected nested arrays or a typed array, got ${describe(value)}`);
  }
  if (flatShape && expected.length > 1 && !isArrayLike(value[0])) return flatValues(value, name, expected, flatShape);
  const shape = nestedShape(value);
  if (shape.length !== expected.length) {
    throw new RnnlabError('E_SHAPE', `${name}: expected shape ${fmtExpected(expected)}, got ${fmt(shape)}`);
  }
  const values = flatten(value, name, shape);
  checkNumbers(values, name, shape);
  return { values, shape };
}

/**
 * A tensor of `expected` shape (null entries are free) from nested or flat
 * input, as a `Type` array. Every entry must be a number; with `finite`
 * (true, or a function of the flat index saying which entries count) also
 * finite, and within the float32 range when stored as float32. The checks see
 * the values as given, before any rounding.
 */
export function toTensor(value, name, expected, { flatShape = null, Type = Float32Array, finite = true } = {}) {
  const { values, shape } = readValues(value, name, expected, flatShape);
  if (shape.length !== expected.length || expected.some((e, i) => e !== null && e !== shape[i])) {
    throw new RnnlabError('E_SHAPE', `${name}: expected shape ${fmtExpected(expected)}, got ${fmt(shape)}`);
  }
  if (finite) checkFinite(values, name, shape, Type === Float32Array, finite === true ? null : finite);
  return { data: values instanceof Type ? values : Type.from(values), shape };
}

const DATA_KEYS = ['x', 'y', 'shape', 'mask', 'lengths'];

function checkShapeOption(s, name, ids) {
  if (!Array.isArray(s) || s.length !== (ids ? 2 : 3) || !s.every((v) => Number.isInteger(v) && v >= 1)) {
    throw new RnnlabError('E_SHAPE', `${name}.shape: expected ${ids ? '[N, T] (a model with an embedding reads ids)' : '[N, T, X]'} ` +
      `of positive integers, got ${formatShape(s, ',')}`);
  }
  return s;
}

// Ids [N, T] for a model with an embedding of `vocabSize` ids, as an Int32Array.
function readIds(value, name, flatShape, vocabSize) {
  const t = toTensor(value, name, [null, null], { flatShape, Type: Float64Array });
  for (let i = 0; i < t.data.length; i++) {
    const v = t.data[i];
    if (!Number.isInteger(v) || v < 0 || v >= vocabSize) {
      throw new RnnlabError('E_INVALID', `${name}${position(i, t.shape)}: expected an id from 0 to ${vocabSize - 1} ` +
        `(the embedding has ${vocabSize} rows), got ${describe(v)}`);
    }
  }
  return { data: Int32Array.from(t.data), shape: t.shape };
}

// The mask [N, T] from a mask of zeros and ones, or from sequence lengths.
function readMask(data, name, N, T) {
  if (data.mask !== undefined && data.lengths !== undefined) {
    throw new RnnlabError('E_INVALID', `${name}: give mask or lengths, not both`);
  }
  if (data.mask !== undefined) {
    // checked as given: 0.999999999 is not 1, though it is in float32
    const m = toTensor(data.mask, `${name}.mask`, [N, T], { flatShape: [N, T], Type: Float64Array }).data;
    for (let i = 0; i < m.length; i++) {
      if (m[i] !== 0 && m[i] !== 1) {
        throw new RnnlabError('E_INVALID', `${name}.mask${position(i, [N, T])}: expected 0 or 1, got ${describe(m[i])}`);
      }
    }
    return Float32Array.from(m);
  }
  if (data.lengths === undefined) return null;
  const lengths = toTensor(data.lengths, `${name}.lengths`, [N], { flatShape: [N], Type: Float64Array }).data;
  const mask = new Float32Array(N * T);
  for (let b = 0; b < N; b++) {
    const l = lengths[b];
    if (!Number.isInteger(l) || l < 0 || l > T) {
      throw new RnnlabError('E_INVALID', `${name}.lengths[${b}]: expected an integer from 0 to ${T}, got ${describe(l)}`);
    }
    mask.fill(1, b * T, b * T + l);
  }
  return mask;
}

// A bidirectional model (SPEC §11) reads lengths: a mask must be 1 … 1 0 … 0 in every row.
function checkPrefixMask(mask, name, N, T) {
  for (let b = 0; b < N; b++) {
    let n = 0;
    while (n < T && mask[b * T + n] !== 0) n++;
    for (let t = n; t < T; t++) {
      if (mask[b * T + t] !== 0) {
        throw new RnnlabError('E_INVALID', `${name}.mask of sequence ${b}: a bidirectional model needs a prefix mask ` +
          `(1 … 1 0 … 0, lengths with right padding), got 0 at step ${n} and 1 at step ${t}`);
      }
    }
  }
}

// A checked data set for `cfg` (the model's JS config): x [N, T, X] and,
// when `needTargets`, y as the loss and output mode want it. Every value is
// checked here, before anything is trained.
export function normalizeData(data, cfg, { needTargets = true, name = 'data' } = {}) {
  checkObject(data, name);
  checkKeys(data, DATA_KEYS, name);
  const emb = cfg.embedding ?? null;
  if (data.x === undefined) throw new RnnlabError('E_INVALID', `${name}.x: expected the inputs ${emb ? '(ids) [N, T]' : `[N, T, ${cfg.inputSize}]`}, got undefined`);
  const flatShape = data.shape === undefined ? null : checkShapeOption(data.shape, name, emb);
  const x = emb ? readIds(data.x, `${name}.x`, flatShape, emb.vocabSize) : toTensor(data.x, `${name}.x`, [null, null, cfg.inputSize], { flatShape });
  if (flatShape && !sameShape(x.shape, flatShape)) {
    throw new RnnlabError('E_SHAPE', `${name}.shape: ${fmt(flatShape)} contradicts the shape of the nested ${name}.x, ${fmt(x.shape)}`);
  }
  const [N, T] = x.shape;
  if (N < 1 || T < 1) throw new RnnlabError('E_SHAPE', `${name}.x: expected at least one sequence of at least one step, got shape ${fmt(x.shape)}`);
  const last = cfg.output === 'last';
  // with an embedding x holds one id per step: X = 1 in the batch, ids = true
  const out = { N, T, X: emb ? 1 : cfg.inputSize, ids: Boolean(emb), Y: cfg.outputSize, last, x: x.data, y: null, labels: null, mask: null };
  out.mask = readMask(data, name, N, T);
  if (out.mask && cfg.bidirectional) checkPrefixMask(out.mask, name, N, T);

  if (!needTargets) return out;
  if (data.y === undefined) {
    throw new RnnlabError('E_INVALID', `${name}.y: expected targets, got undefined`);
  }
  // Whether target row r counts: padding (mask 0) may hold anything.
  const counts = (r) => !out.mask || (last ? out.mask.subarray(r * T, (r + 1) * T).includes(1) : out.mask[r] === 1);
  if (cfg.loss === 'cross-entropy') {
    const shape = last ? [N] : [N, T];
    const t = toTensor(data.y, `${name}.y`, shape, { flatShape: shape, Type: Float64Array, finite: false });
    for (let i = 0; i < t.data.length; i++) {
      const v = t.data[i];
      if (counts(i) && (!Number.isInteger(v) || v < 0 || v >= cfg.outputSize)) {
        throw new RnnlabError('E_INVALID', `${name}.y${position(i, shape)}: expected a class index from 0 to ${cfg.outputSize - 1}, got ${describe(v)}`);
      }
    }
    out.labels = Int32Array.from(t.data, (v) => (Number.isInteger(v) ? v : 0));
  } else {
    const Y = cfg.outputSize;
    const shape = last ? [N, Y] : [N, T, Y];
    out.y = toTensor(data.y, `${name}.y`, shape, { flatShape: shape, finite: (i) => counts(Math.floor(i / Y)) }).data;
  }
  return out;
}

/**
 * Writes sequences `index` of a checked data set, steps [t0, t0 + Tw), into
 * the engine's batch buffers: the one copy of a batch into wasm. x goes
 * time-major (T, B, X), the layout the engine computes on; mask, y and labels
 * batch-major. `dst` holds the buffer views (null where not wanted).
 */
export function writeRows(src, index, t0, Tw, dst) {
  const { T, X, Y, last } = src;
  const B = index.length;
  const steps = last ? 1 : Tw; // target rows per sequence in the window
  for (let r = 0; r < B; r++) {
    const b = index[r];
    for (let t = 0; t < Tw; t++) {
      const from = (b * T + t0 + t) * X;
      const to = (t * B + r) * X;
      for (let k = 0; k < X; k++) dst.x[to + k] = src.x[from + k];
    }
    if (dst.mask && src.mask) dst.mask.set(src.mask.subarray(b * T + t0, b * T + t0 + Tw), r * Tw);
    const s0 = last ? b : b * T + t0;
    if (dst.y && src.y) dst.y.set(src.y.subarray(s0 * Y, (s0 + steps) * Y), r * steps * Y);
    if (dst.labels && src.labels) dst.labels.set(src.labels.subarray(s0, s0 + steps), r * steps);
  }
}

/** A time-major (T, B, W) array as batch-major (B, T, W). */
export function toBatchMajor(src, T, B, W) {
  const out = new Float32Array(B * T * W);
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) {
      const from = (t * B + b) * W;
      const to = (b * T + t) * W;
      for (let k = 0; k < W; k++) out[to + k] = src[from + k];
    }
  }
  return out;
}
