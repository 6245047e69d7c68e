// rnnlab model -> TensorFlow.js Layers format (Keras semantics): a Sequential
// of an Embedding (for a model with one), LSTM / GRU / SimpleRNN layers and a Dense head (TimeDistributed for
// output 'sequence'), and the weights as one little-endian float32 buffer.
// A bidirectional model's layers are Bidirectional wrappers, merge_mode
// 'concat' ([h→; h←], SPEC §11); the head reads 2H values.
//
// Keras kernels are rnnlab's W and U transposed ([in, G·H], [H, G·H]), gate
// blocks LSTM i, f, c, o (rnnlab's order) and GRU z, r, h, whose z keeps the
// old state (negated across the boundary). GRU reset-before is Keras's
// reset_after=false (one bias); reset-after is reset_after=true, bias [2, 3H]:
// the input biases, then the recurrent ones (rnnlab's b_hn in the h block).
// TensorFlow.js 4.22 itself cannot run reset_after=true (its GRUCell refuses
// it); Keras can, after tensorflowjs_converter.

import { GATE_ORDER, negatedBlock, unpackWeights, toForeignBlocks, transpose } from '../interchange.js';

const CLASS = { rnn: 'SimpleRNN', lstm: 'LSTM', gru: 'GRU' };

function cellConfig(config, l, name, goBackwards) {
  const { cell, hiddenSize: H, layers: L } = config;
  const c = {
    name, trainable: true, dtype: 'float32', units: H,
    activation: cell === 'rnn' ? config.activation : 'tanh', use_bias: true,
    return_sequences: l < L - 1 || config.output === 'sequence', return_state: false, go_backwards: goBackwards, stateful: false, unroll: false,
  };
  if (cell !== 'rnn') c.recurrent_activation = 'sigmoid';
  if (cell === 'gru') c.reset_after = config.gruVariant === 'reset-after';
  return c;
}

// The inner layer's name in a Bidirectional wrapper; tfjs names its weights
// `rnn_l/forward_<name>/…` and `rnn_l/backward_<name>/…`.
const innerName = (cell, l) => `${CLASS[cell].toLowerCase()}_${l}`;

// Layer l: a SimpleRNN / LSTM / GRU, or for a bidirectional model Keras's
// Bidirectional(layer, merge_mode='concat') with both directions' configs
// (backward_layer go_backwards true, as Keras stores it; tfjs reads `layer`).
function recurrentLayer(config, l) {
  const cls = CLASS[config.cell];
  const inputShape = l === 0 && !config.embedding ? { batch_input_shape: [null, null, config.inputSize] } : {};
  if (!config.bidirectional) return { class_name: cls, config: { ...cellConfig(config, l, `rnn_${l}`, false), ...inputShape } };
  const inner = innerName(config.cell, l);
  return { class_name: 'Bidirectional', config: {
    name: `rnn_${l}`, trainable: true, dtype: 'float32', merge_mode: 'concat', ...inputShape,
    layer: { class_name: cls, config: cellConfig(config, l, inner, false) },
    backward_layer: { class_name: cls, config: cellConfig(config, l, `backward_${inner}`, true) },
  } };
}

// Keras's Embedding: ids [N, T] -> rows of embeddings [input_dim, output_dim]; no masking.
function embeddingLayer({ vocabSize, size }) {
  return { class_name: 'Embedding', config: { name: 'embedding', trainable: true, dtype: 'float32', batch_input_shape: [null, null],
    input_dim: vocabSize, output_dim: size, mask_zero: false, input_length: null } };
}

function headLayer(config) {
  const dense = { class_name: 'Dense', config: { name: 'head', trainable: true, units: config.outputSize, activation: 'linear', use_bias: true } };
  if (config.output === 'last') return dense;
  return { class_name: 'TimeDistributed', config: { name: 'head', trainable: true, layer: dense } };
}

// One recurrent unit's kernel, recurrent_kernel and bias under `prefix`.
function unitWeights(config, w, prefix) {
  const { cell, hiddenSize: H } = config;
  const order = GATE_ORDER.keras[cell];
  const neg = negatedBlock(cell);
  const GH = order.length * H;
  const X = w.inputSize;
  const out = [
    { name: `${prefix}/kernel`, shape: [X, GH], data: transpose(toForeignBlocks(w.W, H, X, order, neg), GH, X) },
    { name: `${prefix}/recurrent_kernel`, shape: [H, GH], data: transpose(toForeignBlocks(w.U, H, H, order, neg), GH, H) },
  ];
  const b = toForeignBlocks(w.b, H, 1, order, neg);
  if (w.bhn) {
    const both = new Float32Array(2 * GH);
    both.set(b);
    both.set(w.bhn, GH + 2 * H); // h is Keras's third GRU block
    out.push({ name: `${prefix}/bias`, shape: [2, GH], data: both });
  } else {
    out.push({ name: `${prefix}/bias`, shape: [GH], data: b });
  }
  return out;
}

// The weights in Keras's shapes and order: [{ name, shape, data }]. A
// bidirectional layer's units are forward then reverse (weights.js's order).
function kerasWeights(config, weights) {
  const D = config.bidirectional ? 2 : 1;
  const out = weights.embedding ? [{ name: 'embedding/embeddings', shape: [config.embedding.vocabSize, config.embedding.size], data: weights.embedding }] : [];
  weights.layers.forEach((w, u) => {
    const l = Math.floor(u / D);
    const prefix = D === 1 ? `rnn_${l}` : `rnn_${l}/${u % 2 ? 'backward' : 'forward'}_${innerName(config.cell, l)}`;
    out.push(...unitWeights(config, w, prefix));
  });
  const HD = D * config.hiddenSize;
  out.push({ name: 'head/kernel', shape: [HD, config.outputSize], data: transpose(weights.head.V, config.outputSize, HD) });
  out.push({ name: 'head/bias', shape: [config.outputSize], data: weights.head.c });
  return out;
}

/** { modelJSON (model.json's object), weightData (ArrayBuffer) } of a model. */
export function buildTFJS(config, layout, flat, generatedBy) {
  const layers = Array.from({ length: config.layers }, (_, l) => recurrentLayer(config, l));
  if (config.embedding) layers.unshift(embeddingLayer(config.embedding));
  layers.push(headLayer(config));
  const tensors = kerasWeights(config, unpackWeights(layout, flat));
  const total = tensors.reduce((n, t) => n + t.data.length, 0);
  const bytes = new Uint8Array(total * 4);
  const view = new DataView(bytes.buffer);
  let at = 0;
  for (const t of tensors) {
    for (const v of t.data) { view.setFloat32(at, v, true); at += 4; }
  }
  const modelJSON = {
    format: 'layers-model', generatedBy, convertedBy: null,
    modelTopology: { class_name: 'Sequential', config: { name: 'rnnlab', layers }, keras_version: 'tfjs-layers 4.22.0', backend: 'tensor_flow.js' },
    weightsManifest: [{ paths: ['weights.bin'], weights: tensors.map((t) => ({ name: t.name, shape: t.shape, dtype: 'float32' })) }],
  };
  return { modelJSON, weightData: bytes.buffer };
}
