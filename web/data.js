// data.js — turns what users pass (flat typed arrays with a shape, or nested
// arrays) into flat, checked arrays of known shape.

import { RnnlabError, describe } from './errors.js';
import { checkObject, checkKeys } from './options.js';

const isArrayLike = (v) => Array.isArray(v) || ArrayBuffer.isView(v);

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

function flatten(value, name, shape) {
  const total = shape.reduce((a, b) => a * b, 1);
  const out = new Float64Array(total);
  let k = 0;
  const walk = (v, d, path) => {
    if (!isArrayLike(v) || v.length !== shape[d]) {
      throw new RnnlabError('E_SHAPE', `${name}${path}: expected an array of length ${shape[d]}, got ${describe(v)} (ragged input)`);
    }
    if (d === shape.length - 1) {
      for (let i = 0; i < v.length; i++) {
        const x = v[i];
        if (typeof x !== 'number') {
          throw new RnnlabError('E_TYPE', `${name}${path}[${i}]: expected a number, got ${describe(x)}`);
        }
        out[k++] = x;
      }
      return;
    }
    for (let i = 0; i < v.length; i++) walk(v[i], d + 1, `${path}[${i}]`);
  };
  walk(value, 0, '');
  return out;
}

const fmt = (shape) => `[${shape.join(', ')}]`;

// Index into a flat array as [i][j][k] for messages.
function position(index, shape) {
  const idx = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    idx.unshift(index % shape[d]);
    index = Math.floor(index / shape[d]);
  }
  return idx.map((i) => `[${i}]`).join('');
}

function checkFinite(arr, name, shape) {
  for (let i = 0; i < arr.length; i++) {
    if (!Number.isFinite(arr[i])) {
      throw new RnnlabError('E_NONFINITE', `${name}${position(i, shape)} is ${describe(arr[i])}: expected finite numbers`);
    }
  }
}

// A tensor of `expected` shape (null entries are free) from nested or flat input.
export function toTensor(value, name, expected, { flatShape, Type = Float32Array, finite = true } = {}) {
  let shape;
  let flat;
  if (ArrayBuffer.isView(value) || (Array.isArray(value) && !isArrayLike(value[0]) && expected.length > 1 && flatShape)) {
    if (!flatShape) {
      throw new RnnlabError('E_SHAPE', `${name}: a flat array needs a shape; pass nested arrays ${fmt(expected.map((e) => e ?? '?'))} or give the shape`);
    }
    if (ArrayBuffer.isView(value) && !(value instanceof Float32Array || value instanceof Float64Array || value instanceof Int32Array || value instanceof Uint8Array || value instanceof Int16Array || value instanceof Uint16Array || value instanceof Uint32Array || value instanceof Int8Array)) {
      throw new RnnlabError('E_TYPE', `${name}: expected a Float32Array, Float64Array, an integer typed array or nested arrays, got ${describe(value)}`);
    }
    shape = flatShape;
    flat = value;
    const total = shape.reduce((a, b) => a * b, 1);
    if (flat.length !== total) {
      throw new RnnlabError('E_SHAPE', `${name}: expected ${total} values for shape ${fmt(shape)}, got ${flat.length}`);
    }
  } else if (Array.isArray(value)) {
    shape = nestedShape(value);
    if (shape.length !== expected.length) {
      throw new RnnlabError('E_SHAPE', `${name}: expected shape ${fmt(expected.map((e) => e ?? '?'))}, got ${fmt(shape)}`);
    }
    flat = flatten(value, name, shape);
  } else {
    throw new RnnlabError('E_TYPE', `${name}: expected nested arrays or a typed array, got ${describe(value)}`);
  }
  if (shape.length !== expected.length || expected.some((e, i) => e !== null && e !== shape[i])) {
    throw new RnnlabError('E_SHAPE', `${name}: expected shape ${fmt(expected.map((e) => e ?? '?'))}, got ${fmt(shape)}`);
  }
  if (finite) checkFinite(flat, name, shape);
  const out = flat instanceof Type ? flat : Type.from(flat);
  return { data: out, shape };
}

const DATA_KEYS = ['x', 'y', 'shape', 'mask', 'lengths'];

// A checked data set for `cfg` (the model's JS config): x [N, T, X] and,
// when `needTargets`, y as the loss and output mode want it.
export function normalizeData(data, cfg, { needTargets = true, name = 'data' } = {}) {
  checkObject(data, name);
  checkKeys(data, DATA_KEYS, name);
  if (data.x === undefined) throw new RnnlabError('E_INVALID', `${name}.x: expected the inputs [N, T, ${cfg.inputSize}], got undefined`);
  let flatShape = null;
  if (data.shape !== undefined) {
    const s = data.shape;
    if (!Array.isArray(s) || s.length !== 3 || !s.every((v) => Number.isInteger(v) && v >= 1)) {
      throw new RnnlabError('E_SHAPE', `${name}.shape: expected [N, T, X] of positive integers, got ${JSON.stringify(s)}`);
    }
    flatShape = s;
  }
  const x = toTensor(data.x, `${name}.x`, [null, null, cfg.inputSize], { flatShape });
  const [N, T] = x.shape;
  if (N < 1 || T < 1) throw new RnnlabError('E_SHAPE', `${name}.x: expected at least one sequence of at least one step, got shape ${fmt(x.shape)}`);
  const out = { N, T, X: cfg.inputSize, Y: cfg.outputSize, last: cfg.output === 'last', x: x.data, y: null, labels: null, mask: null };

  if (data.mask !== undefined && data.lengths !== undefined) {
    throw new RnnlabError('E_INVALID', `${name}: give mask or lengths, not both`);
  }
  if (data.mask !== undefined) {
    const m = toTensor(data.mask, `${name}.mask`, [N, T], { flatShape: [N, T] });
    for (let i = 0; i < m.data.length; i++) {
      if (m.data[i] !== 0 && m.data[i] !== 1) {
        throw new RnnlabError('E_INVALID', `${name}.mask${position(i, [N, T])}: expected 0 or 1, got ${m.data[i]}`);
      }
    }
    out.mask = m.data;
  } else if (data.lengths !== undefined) {
    const len = toTensor(data.lengths, `${name}.lengths`, [N], { flatShape: [N] });
    out.mask = new Float32Array(N * T);
    for (let b = 0; b < N; b++) {
      const l = len.data[b];
      if (!Number.isInteger(l) || l < 0 || l > T) {
        throw new RnnlabError('E_INVALID', `${name}.lengths[${b}]: expected an integer from 0 to ${T}, got ${l}`);
      }
      out.mask.fill(1, b * T, b * T + l);
    }
  }

  if (!needTargets) return out;
  if (data.y === undefined) {
    throw new RnnlabError('E_INVALID', `${name}.y: expected targets, got undefined`);
  }
  const last = cfg.output === 'last';
  if (cfg.loss === 'cross-entropy') {
    const shape = last ? [N] : [N, T];
    const t = toTensor(data.y, `${name}.y`, shape, { flatShape: shape, Type: Float64Array, finite: false });
    for (let i = 0; i < t.data.length; i++) {
      const counted = !out.mask || (last ? out.mask.subarray(i * T, (i + 1) * T).includes(1) : out.mask[i] === 1);
      const v = t.data[i];
      if (counted && (!Number.isInteger(v) || v < 0 || v >= cfg.outputSize)) {
        throw new RnnlabError('E_INVALID', `${name}.y${position(i, shape)}: expected a class index from 0 to ${cfg.outputSize - 1}, got ${describe(v)}`);
      }
    }
    out.labels = Int32Array.from(t.data, (v) => (Number.isInteger(v) ? v : 0));
  } else {
    const shape = last ? [N, cfg.outputSize] : [N, T, cfg.outputSize];
    const y = toTensor(data.y, `${name}.y`, shape, { flatShape: shape, finite: false }).data;
    const Y = cfg.outputSize;
    for (let i = 0; i < y.length; i++) { // padding (mask 0) may hold anything
      if (Number.isFinite(y[i])) continue;
      const row = Math.floor(i / Y);
      const counted = !out.mask || (last ? out.mask.subarray(row * T, (row + 1) * T).includes(1) : out.mask[row] === 1);
      if (counted) throw new RnnlabError('E_NONFINITE', `${name}.y${position(i, shape)} is ${describe(y[i])}: expected finite numbers`);
    }
    out.y = y;
  }
  return out;
}

// Copies sequences `index` of a data set, time steps [t0, t0 + Tw), into the
// engine's batch buffers dst { x, mask, y, labels } (each may be null).
export function copyRows(src, index, t0, Tw, dst) {
  const { T, X, Y, last } = src;
  const steps = last ? 1 : Tw; // target rows per sequence in the window
  for (let r = 0; r < index.length; r++) {
    const b = index[r];
    dst.x.set(src.x.subarray((b * T + t0) * X, (b * T + t0 + Tw) * X), r * Tw * X);
    if (dst.mask && src.mask) dst.mask.set(src.mask.subarray(b * T + t0, b * T + t0 + Tw), r * Tw);
    const s0 = last ? b : b * T + t0;
    if (dst.y && src.y) dst.y.set(src.y.subarray(s0 * Y, (s0 + steps) * Y), r * steps * Y);
    if (dst.labels && src.labels) dst.labels.set(src.labels.subarray(s0, s0 + steps), r * steps);
  }
}
