// One ONNX RNN, LSTM or GRU node -> one rnnlab layer, weights read by the
// operator's input positions: X, W, R, B, sequence_lens, initial_h,
// initial_c, P (onnx/onnx Operators.md, RNN-14, LSTM-14, GRU-14).

import { RnnlabError } from '../errors.js';
import { int64, ATTRIBUTE_TYPE } from './proto.js';
import { GATE_ORDER, negatedBlock, fromForeignBlocks } from '../interchange.js';

const CELL = { RNN: 'rnn', LSTM: 'lstm', GRU: 'gru' };
// The activations rnnlab computes, per cell, as ONNX spells them (forward direction).
const ACTIVATIONS = { rnn: { Tanh: 'tanh', Relu: 'relu' }, lstm: { 'Sigmoid,Tanh,Tanh': true }, gru: { 'Sigmoid,Tanh': true } };
const ATTRIBUTES = { rnn: ['hidden_size', 'direction', 'activations', 'layout'],
  lstm: ['hidden_size', 'direction', 'activations', 'layout', 'input_forget'],
  gru: ['hidden_size', 'direction', 'activations', 'layout', 'linear_before_reset'] };

const fail = (message) => {
  throw new RnnlabError('E_FORMAT', `loadONNX: ${message}`);
};
const text = (bytes) => new TextDecoder().decode(bytes);

function attributes(node, cell, where) {
  const out = {};
  for (const a of node.attribute) {
    if (!ATTRIBUTES[cell].includes(a.name)) fail(`${where}: rnnlab cannot represent its attribute '${a.name}'`);
    if (a.type === ATTRIBUTE_TYPE.INT) out[a.name] = int64(a.i);
    else if (a.type === ATTRIBUTE_TYPE.STRING) out[a.name] = text(a.s);
    else if (a.type === ATTRIBUTE_TYPE.STRINGS) out[a.name] = a.strings.map(text);
    else fail(`${where}: attribute '${a.name}' has type ${a.type}, expected an int, a string or strings`);
  }
  return out;
}

// The activations of one direction, as 'A,B,…'; with two directions ONNX lists
// the forward ones, then the reverse ones, which rnnlab needs to be the same.
function directionActivations(cell, given, D, where) {
  const per = cell === 'rnn' ? 1 : cell === 'lstm' ? 3 : 2;
  if (!given) return (cell === 'rnn' ? ['Tanh'] : cell === 'lstm' ? ['Sigmoid', 'Tanh', 'Tanh'] : ['Sigmoid', 'Tanh']).join(',');
  if (given.length !== per * D) fail(`${where}: ${given.length} activations, expected ${per * D} (${per} per direction)`);
  const first = given.slice(0, per).join(',');
  if (D === 2 && given.slice(per).join(',') !== first) {
    fail(`${where}: the directions have different activations ([${given}]); rnnlab's directions are alike`);
  }
  return first;
}

// hidden size, direction, layout, activations and variant -> a layer's settings.
function settings(cell, a, where) {
  const H = a.hidden_size;
  if (!(Number.isSafeInteger(H) && H >= 1 && H <= 65536)) fail(`${where}: hidden_size ${H}, expected an integer from 1 to 65536`);
  const direction = a.direction ?? 'forward';
  if (direction !== 'forward' && direction !== 'bidirectional') {
    fail(`${where}: direction '${direction}', expected 'forward' or 'bidirectional' (rnnlab has no layer that runs in reverse only)`);
  }
  if ((a.layout ?? 0) !== 0) fail(`${where}: layout ${a.layout}, expected 0 (time-major; batch-first graphs Transpose around the operator)`);
  if ((a.input_forget ?? 0) !== 0) fail(`${where}: input_forget ${a.input_forget} (coupled gates), which rnnlab's LSTM does not have`);
  const acts = directionActivations(cell, a.activations, direction === 'bidirectional' ? 2 : 1, where);
  if (!ACTIVATIONS[cell][acts]) fail(`${where}: activations [${acts}], expected ${Object.keys(ACTIVATIONS[cell]).map((k) => `[${k}]`).join(' or ')}`);
  const s = { cell, hiddenSize: H, directions: direction === 'bidirectional' ? 2 : 1 };
  if (cell === 'rnn') s.activation = ACTIVATIONS.rnn[acts];
  if (cell === 'gru') {
    const lbr = a.linear_before_reset ?? 0;
    if (lbr !== 0 && lbr !== 1) fail(`${where}: linear_before_reset ${lbr}, expected 0 or 1`);
    s.gruVariant = lbr === 1 ? 'reset-after' : 'reset-before';
  }
  return s;
}

function weightInput(d, name, dims, where) {
  if (!d || d.kind !== 'const' || d.tensor.kind !== 'float') fail(`${where}: its ${name} must be a float initializer or constant`);
  const given = d.tensor.dims;
  if (given.length !== dims.length || given.some((v, i) => v !== dims[i])) {
    fail(`${where}: ${name} has dims [${given}], expected [${dims}]`);
  }
  return d.tensor.data;
}

// rnnlab's W, U, b (and b_hn) of direction d from ONNX's W, R, B ([D, …] each).
function unitWeights(s, X, W, R, B, d) {
  const { cell, hiddenSize: H } = s;
  const order = GATE_ORDER.onnx[cell];
  const neg = negatedBlock(cell);
  const GH = order.length * H;
  const resetAfter = s.gruVariant === 'reset-after';
  const part = (a, n) => a.subarray(d * n, (d + 1) * n);
  const [Wd, Rd, Bd] = [part(W, GH * X), part(R, GH * H), part(B, 2 * GH)];
  const bias = new Float32Array(GH); // Wb + Rb, but for the reset-after GRU's Rb_h (ONNX's third block)
  for (let i = 0; i < GH; i++) bias[i] = Bd[i] + (resetAfter && i >= 2 * H ? 0 : Bd[GH + i]);
  return {
    inputSize: X, W: fromForeignBlocks(Wd, H, X, order, neg), U: fromForeignBlocks(Rd, H, H, order, neg),
    b: fromForeignBlocks(bias, H, 1, order, neg), bhn: resetAfter ? Bd.slice(GH + 2 * H, GH + 3 * H) : null,
  };
}

// The optional inputs: sequence_lens, initial states (absent, zeros or a graph input), no peepholes.
function checkOptional(inputs, cell, where) {
  if (inputs[4] && inputs[4].kind !== 'lens') fail(`${where}: its sequence_lens must be a graph input`);
  for (const k of cell === 'lstm' ? [5, 6] : [5]) {
    const d = inputs[k];
    if (d && d.kind !== 'zeros' && d.kind !== 'stateIn') fail(`${where}: input ${k} (an initial state) must be zeros or come from a graph input`);
  }
  if (cell === 'lstm' && inputs[7]) fail(`${where}: peephole weights P, which rnnlab's LSTM does not have`);
  if (inputs.length > (cell === 'lstm' ? 8 : 6)) fail(`${where} has ${inputs.length} inputs, more than the operator takes`);
}

/**
 * Reads a recurrent node; appends the layer ({ ...settings, inputSize,
 * units: the weights of each direction }) to `layers` and returns the descriptions of Y, Y_h (, Y_c).
 */
export function recurrentNode(node, inputs, layers, where) {
  const cell = CELL[node.opType];
  const s = settings(cell, attributes(node, cell, where), where);
  const x = inputs[0];
  const l = layers.length;
  if (!x || x.kind !== 'data' || x.axes.join('') !== 'TNF' || x.time !== 'all' || x.head || x.state || x.stage !== l - 1) {
    fail(`${where}: its input X must be ${l === 0 ? 'the graph input' : `the output of layer ${l - 1} (the previous recurrent node)`}, time-major [T, N, ${l === 0 ? 'X' : 'H'}]`);
  }
  const prev = layers[0];
  if (prev && ['cell', 'hiddenSize', 'activation', 'gruVariant', 'directions'].some((k) => prev[k] !== s[k])) {
    fail(`${where}: layer ${l} differs from layer 0 in its cell, hidden_size, activation, GRU variant or direction; rnnlab's layers are all alike`);
  }
  checkOptional(inputs, cell, where);
  const { hiddenSize: H, directions: D } = s;
  const GH = GATE_ORDER.onnx[cell].length * H;
  const W = weightInput(inputs[1], 'W', [D, GH, x.width], where);
  const R = weightInput(inputs[2], 'R', [D, GH, H], where);
  const B = inputs[3] ? weightInput(inputs[3], 'B', [D, 2 * GH], where) : new Float32Array(D * 2 * GH);
  const units = Array.from({ length: D }, (_, d) => unitWeights(s, x.width, W, R, B, d));
  layers.push({ ...s, inputSize: x.width, units });
  // dirs: the directions of the layer that made the value; D-axis 'D' until a Reshape merges it into F
  const out = { kind: 'data', stage: l, width: H, head: null, dirs: D };
  return [{ ...out, axes: ['T', 'D', 'N', 'F'], time: 'all', state: null },
    { ...out, axes: ['D', 'N', 'F'], time: 'last', state: 'h' },
    { ...out, axes: ['D', 'N', 'F'], time: 'last', state: 'c' }];
}
