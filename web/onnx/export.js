// rnnlab model -> ONNX graph (opset 14), as a plain object of onnx.proto's
// ModelProto fields for proto.js to encode.
//
//   (embedding: ids [N, T] ─Gather rows of embedding.weight [V, E]→ [N, T, E])
//   input [N, T, X] ─Transpose→ [T, N, X] ─RNN/LSTM/GRU→ Y [T, 1, N, H] ─Squeeze→ [T, N, H] → next layer
//   top layer: 'sequence': Transpose → [N, T, H] ─MatMul V^T, Add c→ output [N, T, Y]
//              'last':     Y_h [1, N, H] ─Squeeze→ [N, H] ─MatMul V^T, Add c→ output [N, Y]
//   h_n, c_n [L, N, H]: the layers' Y_h, Y_c concatenated.
//   bidirectional (SPEC §11): direction 'bidirectional', W, R, B [2, …]
//   (forward, then reverse); Y [T, 2, N, H] ─Transpose→ [T, N, 2, H]
//   ─Reshape→ [T, N, 2H] = [h→; h←]; 'last': Y_h [2, N, H] ─Transpose,
//   Reshape→ [N, 2H] (h→ at the last valid step, h← at step 0); h_n, c_n
//   [2L, N, H] in PyTorch's order.
//
// The operators run time-major (layout 0): onnxruntime refuses layout = 1
// (/work/shared/ONNX.md), so Transpose nodes make the graph batch-first.
// N and T are dynamic axes. Optional graph inputs: sequence_lens [N] (int32)
// and initial_h, initial_c [L, N, H] (sliced per layer). With an embedding
// the input is ids [N, T], int64 (as torch.onnx.export writes) or int32
// (options.ids): Gather takes either.

import { DATA_TYPE, ATTRIBUTE_TYPE } from './proto.js';
import { GATE_ORDER, negatedBlock, unpackWeights, toForeignBlocks, transpose } from '../interchange.js';

export const OPSET = 14;
export const IR_VERSION = 7;
const OP = { rnn: 'RNN', lstm: 'LSTM', gru: 'GRU' };

// Float32 values as little-endian bytes (raw_data).
function floatBytes(values) {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(4 * i, values[i], true);
  return bytes;
}

const encodeText = (s) => new TextEncoder().encode(s);

function attribute(name, value) {
  if (typeof value === 'string') return { name, type: ATTRIBUTE_TYPE.STRING, s: encodeText(value) };
  if (Array.isArray(value) && typeof value[0] === 'string') return { name, type: ATTRIBUTE_TYPE.STRINGS, strings: value.map(encodeText) };
  if (Array.isArray(value)) return { name, type: ATTRIBUTE_TYPE.INTS, ints: value };
  return { name, type: ATTRIBUTE_TYPE.INT, i: value };
}

function valueInfo(name, elemType, dims) {
  const dim = dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d }));
  return { name, type: { tensorType: { elemType, shape: { dim } } } };
}

/** Nodes and initializers, named in the order they are added. */
class GraphBuilder {
  constructor() {
    this.node = [];
    this.initializer = [];
    this.counts = {};
  }

  floats(name, dims, values) {
    this.initializer.push({ name, dims, dataType: DATA_TYPE.FLOAT, rawData: floatBytes(values) });
    return name;
  }

  // An int64 vector (axes, slice bounds); one initializer per name.
  ints(name, values) {
    if (!this.initializer.some((t) => t.name === name)) {
      this.initializer.push({ name, dims: [values.length], dataType: DATA_TYPE.INT64, int64Data: values });
    }
    return name;
  }

  // One node; returns its output names (`outputs` given, or fresh ones).
  add(opType, input, attrs = {}, outputs = 1) {
    const n = (this.counts[opType] = (this.counts[opType] ?? 0) + 1);
    const name = `${opType}_${n}`;
    const output = typeof outputs === 'number' ? Array.from({ length: outputs }, (_, k) => `${name}_out${k}`) : outputs;
    const attributes = Object.entries(attrs).map(([k, v]) => attribute(k, v));
    this.node.push({ name, opType, input, output, attribute: attributes });
    return output;
  }
}

// The recurrent operator's attributes for a model.
function cellAttributes(config) {
  const attrs = { hidden_size: config.hiddenSize, direction: config.bidirectional ? 'bidirectional' : 'forward' };
  const act = config.activation === 'relu' ? 'Relu' : 'Tanh';
  if (config.cell === 'rnn') attrs.activations = config.bidirectional ? [act, act] : [act]; // one per direction
  if (config.cell === 'gru') attrs.linear_before_reset = config.gruVariant === 'reset-after' ? 1 : 0;
  return attrs;
}

// W, R, B of one direction's unit, ONNX's gate order and signs: B = [Wb, Rb],
// all of rnnlab's bias in Wb; Rb zero except the reset-after GRU's b_hn (h rows).
function unitBlocks(config, unit) {
  const { cell, hiddenSize: H } = config;
  const order = GATE_ORDER.onnx[cell];
  const neg = negatedBlock(cell);
  const GH = order.length * H;
  const bias = new Float32Array(2 * GH);
  bias.set(toForeignBlocks(unit.b, H, 1, order, neg));
  if (unit.bhn) bias.set(unit.bhn, GH + 2 * H); // h is ONNX's third GRU block
  return { W: toForeignBlocks(unit.W, H, unit.inputSize, order, neg), R: toForeignBlocks(unit.U, H, H, order, neg), B: bias };
}

const joined = (parts) => {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
  return out;
};

// W, R, B initializers of layer l with D directions (its units l·D … l·D+D-1), [D, …] each.
function layerInitializers(g, config, units, l) {
  const H = config.hiddenSize;
  const D = units.length;
  const GH = GATE_ORDER.onnx[config.cell].length * H;
  const blocks = units.map((u) => unitBlocks(config, u));
  const W = g.floats(`layer${l}.W`, [D, GH, units[0].inputSize], joined(blocks.map((b) => b.W)));
  const R = g.floats(`layer${l}.R`, [D, GH, H], joined(blocks.map((b) => b.R)));
  return [W, R, g.floats(`layer${l}.B`, [D, 2 * GH], joined(blocks.map((b) => b.B)))];
}

// The initial state of layer l, [D, N, H] sliced from a graph input, or '' (zeros).
function initialState(g, input, l, D, options) {
  if (!options.initialState) return '';
  const starts = g.ints(`state.l${l}.start`, [l * D]);
  const ends = g.ints(`state.l${l}.end`, [(l + 1) * D]);
  return g.add('Slice', [input, starts, ends, g.ints('axis0', [0])])[0];
}

// Y [T, D, N, H] -> [T, N, D·H]: Squeeze the direction axis, or (D = 2,
// SPEC §11) Transpose to [T, N, 2, H] and Reshape to [T, N, 2H] = [h→; h←].
function layerOutput(g, Y, D) {
  if (D === 1) return g.add('Squeeze', [Y, g.ints('axis1', [1])])[0];
  const t = g.add('Transpose', [Y], { perm: [0, 2, 1, 3] })[0];
  return g.add('Reshape', [t, g.ints('shape.TN_', [0, 0, -1])])[0];
}

// The recurrent layers on x [T, N, X]; returns { seq [T, N, D·H], hs: [Y_h], cs: [Y_c] }.
function recurrentLayers(g, config, weights, x, options) {
  const lstm = config.cell === 'lstm';
  const D = config.bidirectional ? 2 : 1;
  const hs = [];
  const cs = [];
  for (let l = 0; l < config.layers; l++) {
    const [W, R, B] = layerInitializers(g, config, weights.layers.slice(l * D, (l + 1) * D), l);
    const inputs = [x, W, R, B, options.sequenceLens ? 'sequence_lens' : '', initialState(g, 'initial_h', l, D, options)];
    if (lstm) inputs.push(initialState(g, 'initial_c', l, D, options));
    while (inputs.at(-1) === '') inputs.pop();
    const [Y, Yh, Yc] = g.add(OP[config.cell], inputs, cellAttributes(config), lstm ? 3 : 2);
    hs.push(Yh);
    if (lstm) cs.push(Yc);
    x = layerOutput(g, Y, D);
  }
  return { seq: x, hs, cs };
}

// The 'last' head's input [N, D·H] from the top layer's Y_h [D, N, H]: h→ at
// each sequence's last valid step (T-1 without sequence_lens) and h← after
// reading it back to step 0, as SPEC §11 and PyTorch's h_n.
function lastStates(g, Yh, D) {
  if (D === 1) return g.add('Squeeze', [Yh, g.ints('axis0', [0])])[0];
  const t = g.add('Transpose', [Yh], { perm: [1, 0, 2] })[0];
  return g.add('Reshape', [t, g.ints('shape.N_', [0, -1])])[0];
}

// The linear head: MatMul by V^T [H, Y], Add c.
function head(g, config, weights, top) {
  const { outputSize: Y } = config;
  const H = config.hiddenSize * (config.bidirectional ? 2 : 1);
  const Vt = g.floats('head.weight_t', [H, Y], transpose(weights.head.V, Y, H));
  const c = g.floats('head.bias', [Y], weights.head.c);
  const product = g.add('MatMul', [top, Vt])[0];
  return g.add('Add', [product, c], {}, ['output']);
}

function graphInputs(config, options) {
  const { inputSize: X, hiddenSize: H } = config;
  const L = config.layers * (config.bidirectional ? 2 : 1);
  const inputs = [config.embedding
    ? valueInfo('input', options.ids === 'int32' ? DATA_TYPE.INT32 : DATA_TYPE.INT64, ['batch', 'time'])
    : valueInfo('input', DATA_TYPE.FLOAT, ['batch', 'time', X])];
  if (options.sequenceLens) inputs.push(valueInfo('sequence_lens', DATA_TYPE.INT32, ['batch']));
  if (options.initialState) {
    inputs.push(valueInfo('initial_h', DATA_TYPE.FLOAT, [L, 'batch', H]));
    if (config.cell === 'lstm') inputs.push(valueInfo('initial_c', DATA_TYPE.FLOAT, [L, 'batch', H]));
  }
  return inputs;
}

function graphOutputs(config) {
  const { hiddenSize: H, outputSize: Y } = config;
  const L = config.layers * (config.bidirectional ? 2 : 1);
  const outputs = [valueInfo('output', DATA_TYPE.FLOAT, config.output === 'last' ? ['batch', Y] : ['batch', 'time', Y]),
    valueInfo('h_n', DATA_TYPE.FLOAT, [L, 'batch', H])];
  if (config.cell === 'lstm') outputs.push(valueInfo('c_n', DATA_TYPE.FLOAT, [L, 'batch', H]));
  return outputs;
}

// The model's input [N, T, X]: the graph input, or the rows of the embedding table its ids pick.
function modelInput(g, config, weights) {
  if (!config.embedding) return 'input';
  const { vocabSize: V, size: E } = config.embedding;
  const table = g.floats('embedding.weight', [V, E], weights.embedding);
  return g.add('Gather', [table, 'input'], { axis: 0 })[0];
}

/**
 * The ModelProto object of a model: `config` (model.config), `layout`
 * (model._layout), `flat` (its parameters), options { sequenceLens,
 * initialState (booleans: add those graph inputs), ids ('int64' | 'int32':
 * the ids' type with an embedding) }, `producerVersion`.
 */
export function buildModelProto(config, layout, flat, options, producerVersion) {
  const g = new GraphBuilder();
  const weights = unpackWeights(layout, flat);
  const x = g.add('Transpose', [modelInput(g, config, weights)], { perm: [1, 0, 2] })[0];
  const { seq, hs, cs } = recurrentLayers(g, config, weights, x, options);
  const top = config.output === 'last'
    ? lastStates(g, hs.at(-1), config.bidirectional ? 2 : 1)
    : g.add('Transpose', [seq], { perm: [1, 0, 2] })[0];
  head(g, config, weights, top);
  g.add('Concat', hs, { axis: 0 }, ['h_n']);
  if (cs.length) g.add('Concat', cs, { axis: 0 }, ['c_n']);
  const graph = { name: 'rnnlab', node: g.node, initializer: g.initializer, input: graphInputs(config, options), output: graphOutputs(config) };
  return {
    irVersion: IR_VERSION, opsetImport: [{ domain: '', version: OPSET }], producerName: 'rnnlab', producerVersion, graph,
    metadataProps: [{ key: 'rnnlab.config', value: JSON.stringify(config) }],
  };
}
