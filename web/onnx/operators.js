// The ONNX operators around the recurrent nodes that rnnlab can follow (see
// import.js for the descriptions they pass on): shape arithmetic, the zero
// initial states PyTorch builds, the Transpose/Squeeze/Gather that make a
// time-major operator batch-first, the head (MatMul + Add, or Gemm) and the
// concatenated final states. Everything else on the model's activations is
// refused.

import { RnnlabError } from '../errors.js';
import { int64, ATTRIBUTE_TYPE } from './proto.js';
import { readTensor } from './tensors.js';
import { transpose } from '../interchange.js';

const fail = (message) => {
  throw new RnnlabError('E_FORMAT', `loadONNX: ${message}`);
};

const auxLike = (d) => d === null || d.kind === 'const' || d.kind === 'aux';
const restAux = (inputs) => inputs.slice(1).every(auxLike);

function attr(node, name) {
  const a = node.attribute.find((x) => x.name === name);
  if (!a) return undefined;
  if (a.type === ATTRIBUTE_TYPE.INT) return int64(a.i);
  if (a.type === ATTRIBUTE_TYPE.INTS) return a.ints.map(int64);
  if (a.type === ATTRIBUTE_TYPE.FLOAT) return a.f;
  if (a.type === ATTRIBUTE_TYPE.TENSOR) return a.t;
  return a;
}

// Integer constants from input k (opset 13+) or the attribute of the same name (before).
function intList(node, inputs, k, name, where) {
  const d = inputs[k];
  if (d) {
    if (d.kind !== 'const' || d.tensor.kind !== 'int') fail(`${where}: its ${name} must be integer constants`);
    return d.tensor.data;
  }
  return attr(node, name);
}

// Ops that only move shape numbers, zeros or initial states along.
function plumbing(node, inputs, where) {
  const first = inputs[0];
  if (inputs.every(auxLike)) return [{ kind: 'aux' }];
  if (first && (first.kind === 'zeros' || first.kind === 'stateIn') && restAux(inputs)) return [{ kind: first.kind }];
  fail(`${where}: rnnlab cannot represent ${node.opType} on the model's activations`);
}

const axisOf = (a, rank, where) => {
  const k = a < 0 ? a + rank : a;
  if (!(k >= 0 && k < rank)) fail(`${where}: axis ${a} is out of range for rank ${rank}`);
  return k;
};

function squeeze(node, inputs, where) {
  const d = inputs[0];
  if (d?.kind !== 'data') return plumbing(node, inputs, where);
  const axes = intList(node, inputs, 1, 'axes', where);
  const drop = axes ? axes.map((a) => axisOf(a, d.axes.length, where)) : d.axes.map((l, k) => (l === 'D' ? k : -1)).filter((k) => k >= 0);
  if (drop.some((k) => d.axes[k] !== 'D')) fail(`${where}: squeezes axes [${axes}] of [${d.axes}], expected only the direction axis D`);
  if (drop.length && d.dirs === 2) fail(`${where}: squeezes the direction axis of a bidirectional layer's output, which has 2 directions`);
  return [{ ...d, axes: d.axes.filter((_, k) => !drop.includes(k)) }];
}

function transposeNode(node, inputs, where) {
  const d = inputs[0];
  if (d?.kind !== 'data') return plumbing(node, inputs, where);
  const rank = d.axes.length;
  const perm = attr(node, 'perm') ?? d.axes.map((_, k) => rank - 1 - k);
  if (perm.length !== rank || new Set(perm).size !== rank || perm.some((p) => !(p >= 0 && p < rank))) {
    fail(`${where}: perm [${perm}] is not a permutation of ${rank} axes`);
  }
  return [{ ...d, axes: perm.map((p) => d.axes[p]) }];
}

/**
 * Gather(table, ids): the embedding, rows of a float [V, E] constant picked by
 * the graph's ids [N, T]; records { vocabSize, size, table } in `model` and
 * returns the description of the model's input [N, T, E].
 */
export function embeddingGather(node, inputs, model, where) {
  const [d] = inputs;
  if (model.embedding) fail(`${where}: a second lookup with the ids; rnnlab has one embedding`);
  if (d?.kind !== 'const' || d.tensor.kind !== 'float' || d.tensor.dims.length !== 2) {
    fail(`${where}: looks the ids up in ${d?.kind === 'const' ? `${d.tensor.kind === 'int' ? 'an integer' : 'a float'} tensor of dims [${d.tensor.dims}]` : 'something that is not a constant'}, expected a float table [vocabSize, size]`);
  }
  if ((attr(node, 'axis') ?? 0) !== 0) fail(`${where}: axis ${attr(node, 'axis')}, expected 0 (rows of the table)`);
  const [V, E] = d.tensor.dims;
  for (const [name, n] of [['vocabSize', V], ['size', E]]) {
    if (!(n >= 1 && n <= 65536)) fail(`${where}: the table has dims [${V}, ${E}], expected a ${name} from 1 to 65536`);
  }
  model.embedding = { vocabSize: V, size: E, table: Float32Array.from(d.tensor.data) };
  return [{ kind: 'data', axes: ['N', 'T', 'F'], stage: -1, width: E, time: 'all', state: null, head: null }];
}

// seq[:, -1] (the last step) or the one direction of a [D, ...] tensor.
function gather(node, inputs, where) {
  const [d] = inputs;
  const idx = inputs[1];
  if (d?.kind === 'stateOut') return pickState(node, inputs, where);
  if (d?.kind !== 'data') return plumbing(node, inputs, where);
  const k = axisOf(attr(node, 'axis') ?? 0, d.axes.length, where);
  const index = idx?.kind === 'const' && idx.tensor.kind === 'int' && idx.tensor.dims.length === 0 ? idx.tensor.data[0] : null;
  const label = d.axes[k];
  if (d.dirs === 2 && label === 'D' && k === 0 && d.state === 'h' && (index === 0 || index === 1 || index === -2 || index === -1)) {
    return [{ ...d, axes: d.axes.slice(1), dir: index < 0 ? index + 2 : index }]; // one direction of a layer's Y_h
  }
  if (d.dirs === 2 && (label === 'T' || label === 'D')) {
    fail(`${where}: gathers one ${label === 'T' ? 'time step' : 'direction'} of a bidirectional layer's output; rnnlab's 'last' ` +
      "head reads h→ at the last step and h← at step 0 (the top layer's Y_h, as PyTorch's h_n)");
  }
  if (label === 'T' && index === -1 && d.time === 'all') return [{ ...d, axes: d.axes.filter((_, j) => j !== k), time: 'last' }];
  if (label === 'D' && index === 0) return [{ ...d, axes: d.axes.filter((_, j) => j !== k) }];
  fail(`${where}: gathers index ${index ?? '(not a constant scalar)'} of axis ${label}, expected the last time step (-1)`);
}

// A bidirectional layer's [..., D, F] -> [..., D·F] ([h→; h←], SPEC §11): Reshape to [0, 0, -1] or [0, -1].
function reshape(node, inputs, where) {
  const [d, target] = inputs;
  if (d?.kind !== 'data') return plumbing(node, inputs, where);
  const dims = target?.kind === 'const' && target.tensor.kind === 'int' ? target.tensor.data : null;
  const rank = d.axes.length;
  const merged = d.dirs * d.width;
  const ok = dims && d.axes.at(-2) === 'D' && d.axes.at(-1) === 'F' && dims.length === rank - 1 &&
    dims.slice(0, -1).every((v) => v === 0) && (dims.at(-1) === -1 || dims.at(-1) === merged) && (attr(node, 'allowzero') ?? 0) === 0;
  if (!ok) {
    fail(`${where}: reshapes [${d.axes}] to [${dims ?? '(not integer constants)'}]; rnnlab can only join the two directions of a ` +
      `bidirectional layer, [..., D, F] to [${Array(Math.max(rank - 2, 0)).fill(0).join(', ')}${rank > 2 ? ', ' : ''}-1]`);
  }
  return [{ ...d, axes: [...d.axes.slice(0, -2), 'F'], width: merged }];
}

function identity(node, inputs, where) {
  const d = inputs[0];
  if (d?.kind !== 'data') return plumbing(node, inputs, where);
  if (node.opType === 'Cast' && attr(node, 'to') !== 1) fail(`${where}: casts the model's activations to type ${attr(node, 'to')}, expected FLOAT (1)`);
  return [d];
}

// [h→; h←] of the top layer from h_n: Concat(h_n[2L-2], h_n[2L-1], axis 1), as PyTorch's 'last' head.
function joinDirections(node, inputs, where) {
  const [f, r] = inputs;
  const ok = inputs.length === 2 && f.dir === 0 && r?.dir === 1 && f.stage === r.stage && f.axes.join('') === 'NF' && r.axes.join('') === 'NF';
  if (!ok || axisOf(attr(node, 'axis'), 2, where) !== 1) {
    fail(`${where}: rnnlab can only join a bidirectional layer's final states as [h→; h←] along axis 1`);
  }
  const { dir, ...d } = f;
  void dir;
  return [{ ...d, width: 2 * f.width }];
}

function concat(node, inputs, where) {
  if (inputs.every(auxLike)) return [{ kind: 'aux' }];
  if (inputs[0]?.kind === 'data' && inputs[0].dir !== undefined) return joinDirections(node, inputs, where);
  const state = inputs[0]?.state;
  const ok = state && inputs.every((d) => d?.kind === 'data' && d.state === state && !d.head && d.axes[0] === 'D');
  if (!ok || axisOf(attr(node, 'axis'), 3, where) !== 0) fail(`${where}: rnnlab can only concatenate the layers' final states along axis 0`);
  return [{ kind: 'stateOut', parts: inputs }];
}

// h_n[k]: one unit's final state [N, H] from the concatenated states (layer-major, then direction).
function pickState(node, inputs, where) {
  const [s, idx] = inputs;
  const units = s.parts.flatMap((p) => Array.from({ length: p.dirs }, (_, dir) => ({ ...p, dir })));
  const index = idx?.kind === 'const' && idx.tensor.kind === 'int' && idx.tensor.dims.length === 0 ? idx.tensor.data[0] : NaN;
  const unit = units[index < 0 ? index + units.length : index];
  if ((attr(node, 'axis') ?? 0) !== 0 || !unit) fail(`${where}: picks index ${index} of axis ${attr(node, 'axis') ?? 0} of the final states, expected one of their ${units.length} units`);
  const { dir, ...d } = unit;
  return [{ ...d, axes: ['N', 'F'], ...(unit.dirs === 2 ? { dir } : {}) }];
}

function constantOfShape(node, inputs, where) {
  if (!auxLike(inputs[0])) fail(`${where}: its shape must be shape arithmetic`);
  const t = attr(node, 'value');
  const value = t ? readTensor(t, `${where} value`) : { data: [0] };
  if (value.data.length !== 1 || value.data[0] !== 0) fail(`${where}: fills with ${value.data[0]}, expected 0 (a zero initial state)`);
  return [{ kind: 'zeros' }];
}

// ---------------------------------------------------------------- the head

// A float constant with `count` values whose dims are [count] after leading 1s.
function bias(d, count, where) {
  if (d?.kind !== 'const' || d.tensor.kind !== 'float') fail(`${where}: the head's bias must be a float constant`);
  const dims = d.tensor.dims;
  if (dims.at(-1) !== count || dims.slice(0, -1).some((v) => v !== 1)) fail(`${where}: the head's bias has dims [${dims}], expected [${count}]`);
  return Float32Array.from(d.tensor.data);
}

// The head's V (Y, H) from a [H, Y] (or, transposed, [Y, H]) constant.
function headMatrix(d, H, transposed, where) {
  if (d?.kind !== 'const' || d.tensor.kind !== 'float' || d.tensor.dims.length !== 2) fail(`${where}: the head's weight must be a 2-D float constant`);
  const [rows, cols] = d.tensor.dims;
  if ((transposed ? cols : rows) !== H) fail(`${where}: the head's weight has dims [${rows}, ${cols}], expected ${transposed ? `[Y, ${H}]` : `[${H}, Y]`}`);
  return transposed ? Float32Array.from(d.tensor.data) : transpose(d.tensor.data, rows, cols);
}

const headInput = (d) => d?.kind === 'data' && !d.head && !(d.state === 'c') && d.axes.at(-1) === 'F' && !d.axes.includes('D') && d.dir === undefined;

function matMul(node, inputs, where) {
  const [d, w] = inputs;
  if (inputs.every(auxLike)) return [{ kind: 'aux' }];
  if (!headInput(d)) fail(`${where}: rnnlab can only multiply the top layer's output by the head's weight`);
  const V = headMatrix(w, d.width, false, where);
  return [{ ...d, state: null, head: { V, c: null } }];
}

function add(node, inputs, where) {
  if (inputs.every(auxLike)) return [{ kind: 'aux' }];
  const k = inputs[0]?.kind === 'data' ? 0 : 1;
  const d = inputs[k];
  if (!(d?.kind === 'data' && d.head && !d.head.c)) fail(`${where}: rnnlab can only add the head's bias after its MatMul`);
  return [{ ...d, head: { V: d.head.V, c: bias(inputs[1 - k], d.head.V.length / d.width, where) } }];
}

function gemm(node, inputs, where) {
  const [d, w, c] = inputs;
  if (!headInput(d) || d.axes.length !== 2) fail(`${where}: rnnlab can only take a Gemm as the head on [N, H]`);
  for (const [name, want] of [['alpha', 1], ['beta', 1], ['transA', 0]]) {
    const v = attr(node, name) ?? want;
    if (v !== want) fail(`${where}: ${name} ${v}, expected ${want}`);
  }
  const V = headMatrix(w, d.width, (attr(node, 'transB') ?? 0) === 1, where);
  const Y = V.length / d.width;
  return [{ ...d, state: null, head: { V, c: c ? bias(c, Y, where) : new Float32Array(Y) } }];
}

const shape = () => [{ kind: 'aux' }];

/** Handlers by op type: (node, input descriptions, where) -> output descriptions. */
export const OPERATORS = {
  Shape: shape, Size: shape, Gather: gather, Unsqueeze: plumbing, Squeeze: squeeze, Concat: concat, Slice: plumbing,
  Reshape: reshape, Expand: plumbing, ConstantOfShape: constantOfShape, Transpose: transposeNode,
  Identity: identity, Cast: identity, MatMul: matMul, Add: add, Gemm: gemm,
};
