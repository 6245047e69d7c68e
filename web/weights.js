// Weight exchange between rnnlab's flat parameter vector and PyTorch-style
// state dicts (web/SPEC.md §2, §8). Pure functions over a layout from
// describeLayout (the engine's offsets), no wasm.
//
// Flat layout, per layer l (X_l = inputSize for l = 0, hiddenSize after):
//   W_l (G*H, X_l), U_l (G*H, H), b_l (G*H), bhn_l (H, GRU reset-after only)
// then the head V (Y, H), c (Y). Gate blocks in rows: LSTM i,f,g,o; GRU r,z,n.
//
// PyTorch names: rnn.weight_ih_l{k}, rnn.weight_hh_l{k}, rnn.bias_ih_l{k},
// rnn.bias_hh_l{k}, head.weight, head.bias. PyTorch's GRU is reset-after and
// writes h = z'h + (1-z')n with z' = 1 - z, so the z block is negated.

import { RnnlabError, describe, formatShape } from './errors.js';

const GATES = { rnn: 1, gru: 3, lstm: 4 };

function err(code, message) {
  return new RnnlabError(code, message);
}

/**
 * A model's flat parameter layout, described for weight exchange: the offsets
 * and counts are the engine's (`slices`, from rnnlab_param_slice_* through
 * abi.js: { count, layers: [{ W, U, b, bhn? }], head: { V, c } }), the
 * shapes follow from the config. Returns { cell, G, resetAfter, count,
 * pytorchCount, tensors, layerSlices, head }: tensors lists every slice in
 * order as { name ('W', 'U', 'b', 'bhn', 'V', 'c'), layer (L for the head),
 * offset, count, shape }; layerSlices[l] = { inputSize, W, U, b, bhn? } and
 * head = { V, c } point at the same entries.
 */
export function describeLayout(config, slices) {
  const { cell, inputSize: X, hiddenSize: H, outputSize: Y, layers: L } = config;
  const G = GATES[cell];
  const tensors = [];
  const add = (name, layer, shape, slice) => {
    const count = shape.reduce((a, b) => a * b, 1);
    if (slice.count !== count) {
      throw err('E_STATE', `the engine lays out ${name} of layer ${layer} as ${slice.count} values, expected ${formatShape(shape)}`);
    }
    const t = { name, layer, offset: slice.offset, count, shape };
    tensors.push(t);
    return t;
  };
  // bidirectional (SPEC §11): each layer's forward unit, then its reverse one ('_reverse' in PyTorch names)
  const D = slices.layers.length / L;
  const layerSlices = slices.layers.map((s, u) => {
    const l = Math.floor(u / D), reverse = u % D === 1, Xl = l === 0 ? X : D * H;
    const add2 = (name, shape, slice) => Object.assign(add(name, l, shape, slice), reverse ? { reverse } : {});
    const entry = { inputSize: Xl, layer: l, suffix: reverse ? '_reverse' : '',
      W: add2('W', [G * H, Xl], s.W), U: add2('U', [G * H, H], s.U), b: add2('b', [G * H], s.b) };
    if (s.bhn) entry.bhn = add2('bhn', [H], s.bhn);
    return entry;
  });
  const head = { V: add('V', L, [Y, D * H], slices.head.V), c: add('c', L, [Y], slices.head.c) };
  // the embedding table (SPEC §13) sits after the head; PyTorch's embedding.weight
  const embedding = slices.embedding ? add('embedding', -1, [config.embedding.vocabSize, X], slices.embedding) : null;
  // PyTorch keeps two biases per gate block where rnnlab adds them into one
  // (but for the GRU's b_hn, which both keep apart).
  const pytorchCount = slices.count + layerSlices.reduce((n, s) => n + G * H - (s.bhn ? H : 0), 0);
  return { cell, G, resetAfter: Boolean(layerSlices[0]?.bhn), inputSize: X, hiddenSize: H, outputSize: Y, layers: L, directions: D,
    count: slices.count, pytorchCount, tensors, layerSlices, head, embedding };
}

/** Names and shapes of the PyTorch state dict of a model, in order. */
export function stateDictShapes(lay) {
  const H = lay.hiddenSize;
  const out = lay.embedding ? [{ name: 'embedding.weight', shape: lay.embedding.shape.slice() }] : [];
  lay.layerSlices.forEach((s) => {
    const k = `${s.layer}${s.suffix}`;
    out.push({ name: `rnn.weight_ih_l${k}`, shape: [lay.G * H, s.inputSize] });
    out.push({ name: `rnn.weight_hh_l${k}`, shape: [lay.G * H, H] });
    out.push({ name: `rnn.bias_ih_l${k}`, shape: [lay.G * H] });
    out.push({ name: `rnn.bias_hh_l${k}`, shape: [lay.G * H] });
  });
  out.push({ name: 'head.weight', shape: [lay.outputSize, lay.directions * H] });
  out.push({ name: 'head.bias', shape: [lay.outputSize] });
  return out;
}

// E_STATE, as the README's error table has it: a call that does not fit the model.
function requirePytorchCompatible(lay, what) {
  if (lay.cell === 'gru' && !lay.resetAfter) {
    throw err('E_STATE',
      `cannot ${what} a GRU with gruVariant 'reset-before': PyTorch's nn.GRU is the reset-after ` +
      `variant (r multiplies U_n h + b_hn), which a reset-before model cannot be written as; ` +
      `use gruVariant 'reset-after' for weight exchange with PyTorch`);
  }
}

function checkFlat(lay, flat, what) {
  if (!flat || typeof flat.length !== 'number' || typeof flat === 'string') {
    throw err('E_INVALID', `${what} must be an array of numbers, given ${flat === null ? 'null' : typeof flat}`);
  }
  if (flat.length !== lay.count) {
    throw err('E_SHAPE', `${what} has ${flat.length} values, expected ${lay.count} for this model`);
  }
}

// Copies rows of a (rows, cols) matrix, negating rows [negFrom, negTo).
function copyRows(dst, dOff, src, sOff, rows, cols, negFrom, negTo) {
  for (let r = 0; r < rows; r++) {
    const s = r >= negFrom && r < negTo ? -1 : 1;
    for (let j = 0; j < cols; j++) {
      const v = src[sOff + r * cols + j];
      dst[dOff + r * cols + j] = s === 1 ? v : -v;
    }
  }
}

function exportDict(lay, flat, grads) {
  requirePytorchCompatible(lay, grads ? 'export gradients of' : 'export');
  checkFlat(lay, flat, grads ? 'the gradient vector' : 'the parameter vector');
  const { G } = lay;
  const H = lay.hiddenSize;
  // GRU: z is the second block, rows [H, 2H).
  const zFrom = lay.cell === 'gru' ? H : 0;
  const zTo = lay.cell === 'gru' ? 2 * H : 0;
  const dict = {};
  const slice = (t) => ({ shape: t.shape.slice(), data: Float32Array.from({ length: t.count }, (_, i) => flat[t.offset + i]) });
  if (lay.embedding) dict['embedding.weight'] = slice(lay.embedding);
  lay.layerSlices.forEach((s) => {
    const k = `${s.layer}${s.suffix}`;
    const wih = new Float32Array(G * H * s.inputSize);
    copyRows(wih, 0, flat, s.W.offset, G * H, s.inputSize, zFrom, zTo);
    const whh = new Float32Array(G * H * H);
    copyRows(whh, 0, flat, s.U.offset, G * H, H, zFrom, zTo);
    const bih = new Float32Array(G * H);
    copyRows(bih, 0, flat, s.b.offset, G * H, 1, zFrom, zTo);
    // Parameters: bias_hh is zero. Gradients: d/d bias_hh = d/d b (both add into b).
    const bhh = grads ? Float32Array.from(bih) : new Float32Array(G * H);
    if (lay.resetAfter) {
      for (let j = 0; j < H; j++) bhh[2 * H + j] = flat[s.bhn.offset + j];
    }
    dict[`rnn.weight_ih_l${k}`] = { shape: [G * H, s.inputSize], data: wih };
    dict[`rnn.weight_hh_l${k}`] = { shape: [G * H, H], data: whh };
    dict[`rnn.bias_ih_l${k}`] = { shape: [G * H], data: bih };
    dict[`rnn.bias_hh_l${k}`] = { shape: [G * H], data: bhh };
  });
  dict['head.weight'] = slice(lay.head.V);
  dict['head.bias'] = slice(lay.head.c);
  return dict;
}

/**
 * Flat parameters -> PyTorch state dict { name: { shape, data: Float32Array } }.
 * Every bias goes into bias_ih; bias_hh is zero except the GRU b_hn (n rows).
 */
export function toStateDict(lay, flat) {
  return exportDict(lay, flat, false);
}

/**
 * Flat gradients -> PyTorch-named gradients. The gradient of bias_ih and of
 * bias_hh both equal the gradient of the combined bias (GRU: n rows of
 * bias_hh get the gradient of b_hn); the GRU z block is negated like the weights.
 */
export function gradsToStateDict(lay, flatGrads) {
  return exportDict(lay, flatGrads, true);
}

const INT_ARRAYS = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array,
  Int32Array, Uint32Array];
// Floating-point dtypes as safetensors, NumPy and PyTorch spell them; the
// safetensors reader gives F16 and BF16 as exact Float32Array values.
const FLOAT_DTYPES = new Set(['F32', 'F64', 'F16', 'BF16', 'float32', 'float64', 'float16', 'bfloat16',
  'torch.float32', 'torch.float64', 'torch.float16', 'torch.bfloat16']);

const givenShape = (t) => (Array.isArray(t.shape) ? formatShape(t.shape) : 'no shape');

// Checks one tensor of a state dict; returns its data as an indexable array.
// `why` adds what the dict as a whole looks like to shape errors.
function readTensor(dict, name, shape, why) {
  const t = dict[name];
  const expected = formatShape(shape);
  if (t === null || typeof t !== 'object') {
    throw err('E_TYPE', `tensor '${name}' must be an object { shape, data }, given ${describe(t)} (expected shape ${expected})`);
  }
  if (t.dtype !== undefined && !FLOAT_DTYPES.has(t.dtype)) {
    throw err('E_FORMAT', `tensor '${name}' has dtype ${describe(t.dtype)}, expected a floating-point tensor ` +
      `(F32, F64, F16 or BF16) of shape ${expected}, given shape ${givenShape(t)}`);
  }
  const data = t.data;
  if (data === null || typeof data !== 'object' || typeof data.length !== 'number') {
    throw err('E_FORMAT', `tensor '${name}' has no data array (expected shape ${expected}, given ${givenShape(t)})`);
  }
  if (INT_ARRAYS.some((C) => data instanceof C) ||
      (typeof BigInt64Array !== 'undefined' && (data instanceof BigInt64Array || data instanceof BigUint64Array))) {
    throw err('E_FORMAT', `tensor '${name}' has data of type ${data.constructor.name}, expected floating point values ` +
      `(Float32Array, Float64Array or numbers) of shape ${expected}, given shape ${givenShape(t)}`);
  }
  if (!Array.isArray(t.shape)) {
    throw err('E_SHAPE', `tensor '${name}': expected shape ${expected}, given no shape`);
  }
  const same = t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i]);
  if (!same) {
    throw err('E_SHAPE', `tensor '${name}': expected shape ${expected}, given ${formatShape(t.shape)}${why()}`);
  }
  const n = shape.reduce((a, b) => a * b, 1);
  if (data.length !== n) {
    throw err('E_SHAPE', `tensor '${name}' (shape ${expected}) has ${data.length} values, expected ${n}`);
  }
  for (let i = 0; i < n; i++) {
    const v = data[i];
    if (typeof v !== 'number') {
      throw err('E_FORMAT', `tensor '${name}' (shape ${expected}) holds a ${typeof v} at index ${i}, expected numbers`);
    }
    if (!Number.isFinite(v)) {
      throw err('E_NONFINITE', `tensor '${name}' (shape ${expected}) holds ${v} at index ${i}: expected finite values`);
    }
  }
  return data;
}

// ---------------------------------------------------------------- mismatch hints

const CELL_OF_GATES = { 1: 'rnn', 3: 'gru', 4: 'lstm' };
const CELL_NAME = { rnn: 'a vanilla RNN', lstm: 'an LSTM', gru: 'a GRU' };
const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

function describeModel(lay) {
  const emb = lay.embedding ? `an embedding of ${lay.embedding.shape[0]} ids, ` : '';
  const bi = lay.directions === 2 ? 'bidirectional ' : '';
  return `${lay.cell}, ${plural(lay.layers, `${bi}layer`)}, ${emb}inputSize ${lay.inputSize}, hiddenSize ${lay.hiddenSize}, ` +
    `outputSize ${lay.outputSize}`;
}

// What a state dict looks like from its names and shapes alone:
// { prefix, layers, cell, G, H, X, Y }, each field only where it can be told.
function inferFromDict(dict) {
  const names = Object.keys(dict);
  const has = (n) => Object.prototype.hasOwnProperty.call(dict, n);
  // only shapes of whole numbers tell anything
  const shapeOf = (n) => {
    const s = has(n) && dict[n] ? dict[n].shape : null;
    return Array.isArray(s) && s.every((d) => Number.isInteger(d) && d >= 0) ? s : null;
  };
  // The recurrent module's prefix: 'rnn.' for rnnlab, e.g. 'lstm.' or '' elsewhere.
  const hh0 = has('rnn.weight_hh_l0') ? 'rnn.weight_hh_l0' : names.find((n) => n.endsWith('weight_hh_l0'));
  const info = { prefix: hh0 === undefined ? 'rnn.' : hh0.slice(0, -'weight_hh_l0'.length) };
  const p = info.prefix;
  let L = 0;
  while (has(`${p}weight_ih_l${L}`) || has(`${p}weight_hh_l${L}`)) L++;
  if (L > 0) info.layers = L;
  if (L > 0) info.directions = has(`${p}weight_hh_l0_reverse`) ? 2 : 1; // SPEC §11: PyTorch's '_reverse' tensors
  const hh = shapeOf(`${p}weight_hh_l0`);
  if (hh && hh.length === 2 && hh[1] > 0 && hh[0] % hh[1] === 0 && CELL_OF_GATES[hh[0] / hh[1]]) {
    info.H = hh[1];
    info.G = hh[0] / hh[1];
    info.cell = CELL_OF_GATES[info.G];
  }
  const ih = shapeOf(`${p}weight_ih_l0`);
  if (ih && ih.length === 2) info.X = ih[1];
  const head = shapeOf('head.weight');
  if (head && head.length === 2) info.Y = head[0];
  return info;
}

// ". These weights are for ...; the model is ..." when the dict as a whole
// was made for another model (cell, layers, sizes or module names), else ''.
function mismatchHint(lay, dict) {
  const w = inferFromDict(dict);
  const p = w.prefix;
  const notes = [];
  if (p !== 'rnn.') {
    notes.push(p === ''
      ? `the names have no module prefix ('weight_ih_l0' rather than 'rnn.weight_ih_l0', a bare nn.${(w.cell ?? lay.cell).toUpperCase()} state dict?)`
      : `the recurrent tensors are named '${p}weight_ih_l0', …`);
    notes[notes.length - 1] += `: rnnlab expects a module with attributes rnn and head ('rnn.weight_ih_l0', …, 'head.weight', 'head.bias')`;
  }
  if (w.cell !== undefined && w.cell !== lay.cell) {
    notes.push(`they are for ${CELL_NAME[w.cell]} (${p}weight_hh_l0 is [${w.G * w.H}, ${w.H}]: ${plural(w.G, 'gate block')} of ${w.H} rows), ` +
      `the model is ${CELL_NAME[lay.cell]} (${plural(lay.G, 'gate block')} of ${lay.hiddenSize} rows)`);
  }
  if (w.directions !== undefined && w.directions !== lay.directions) {
    notes.push(w.directions === 2
      ? `they are for bidirectional layers (${p}weight_hh_l0_reverse …), the model's run forward only (bidirectional false)`
      : `they have no '_reverse' tensors, the model's layers are bidirectional (create it with bidirectional false)`);
  }
  if (w.layers !== undefined && w.layers !== lay.layers) {
    notes.push(`they have ${plural(w.layers, 'layer')}, the model ${lay.layers}`);
  }
  if (w.H !== undefined && w.H !== lay.hiddenSize) notes.push(`hiddenSize ${w.H} in the weights, ${lay.hiddenSize} in the model`);
  if (w.X !== undefined && w.X !== lay.inputSize) notes.push(`inputSize ${w.X} in the weights, ${lay.inputSize} in the model`);
  if (w.Y !== undefined && w.Y !== lay.outputSize) notes.push(`outputSize ${w.Y} in the weights, ${lay.outputSize} in the model`);
  if (notes.length === 0) return '';
  return `. These weights do not fit this model: ${notes.join('; ')}`;
}

/**
 * PyTorch state dict -> flat Float32Array parameters. bias_ih + bias_hh add up,
 * except the GRU reset-after b_hn (n rows of bias_hh); the z block is negated back.
 * A dict or tensor that is not an object throws E_TYPE, missing or extra names
 * and wrong shapes E_SHAPE, wrong dtypes E_FORMAT, NaN/Infinity (or values
 * beyond float32) E_NONFINITE. When the dict as a whole was made for another
 * model (cell, layer count, sizes, module names), the E_SHAPE message says so.
 */
export function fromStateDict(lay, dict) {
  requirePytorchCompatible(lay, 'import PyTorch weights into');
  if (dict === null || typeof dict !== 'object' || Array.isArray(dict)) {
    throw err('E_TYPE', `the state dict must be an object of tensors, given ${describe(dict)}`);
  }
  const shapes = stateDictShapes(lay);
  const known = new Set(shapes.map((s) => s.name));
  const why = () => mismatchHint(lay, dict);
  for (const { name, shape } of shapes) {
    if (!Object.prototype.hasOwnProperty.call(dict, name)) {
      throw err('E_SHAPE', `tensor '${name}' is missing from the state dict: expected shape ${formatShape(shape)}, given none${why()}`);
    }
  }
  for (const name of Object.keys(dict)) {
    if (!known.has(name)) {
      const given = dict[name] && Array.isArray(dict[name].shape) ? formatShape(dict[name].shape) : 'a tensor';
      throw err('E_SHAPE', `unexpected tensor '${name}' in the state dict: expected no such tensor for this model ` +
        `(${describeModel(lay)}), given ${given}${why()}`);
    }
  }
  const data = {};
  for (const { name, shape } of shapes) data[name] = readTensor(dict, name, shape, why);

  const { G } = lay;
  const H = lay.hiddenSize;
  const zFrom = lay.cell === 'gru' ? H : 0;
  const zTo = lay.cell === 'gru' ? 2 * H : 0;
  const flat = new Float32Array(lay.count);
  lay.layerSlices.forEach((s) => {
    const k = `${s.layer}${s.suffix}`;
    copyRows(flat, s.W.offset, data[`rnn.weight_ih_l${k}`], 0, G * H, s.inputSize, zFrom, zTo);
    copyRows(flat, s.U.offset, data[`rnn.weight_hh_l${k}`], 0, G * H, H, zFrom, zTo);
    const bih = data[`rnn.bias_ih_l${k}`];
    const bhh = data[`rnn.bias_hh_l${k}`];
    for (let r = 0; r < G * H; r++) {
      const keepApart = lay.resetAfter && r >= 2 * H;
      const v = keepApart ? bih[r] : bih[r] + bhh[r];
      flat[s.b.offset + r] = r >= zFrom && r < zTo ? -v : v;
      if (keepApart) flat[s.bhn.offset + r - 2 * H] = bhh[r];
    }
  });
  const { V, c } = lay.head;
  flat.set(data['head.weight'], V.offset);
  flat.set(data['head.bias'], c.offset);
  if (lay.embedding) flat.set(data['embedding.weight'], lay.embedding.offset);

  // Finite doubles can still overflow float32 (or the sum of two biases can).
  for (let i = 0; i < flat.length; i++) {
    if (!Number.isFinite(flat[i])) {
      const t = lay.tensors.find((e) => i >= e.offset && i < e.offset + e.count);
      const where = t.layer < 0 ? 'the embedding' : t.layer < lay.layers ? `layer ${t.layer}` : 'the head';
      throw err('E_NONFINITE', `parameter ${t.name} of ${where} ` +
        `(shape ${formatShape(t.shape)}) becomes ${flat[i]} in float32: a value exceeds the float32 range`);
    }
  }
  return flat;
}
