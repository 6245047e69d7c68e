// TensorFlow.js LayersModel (model.json + weights) -> rnnlab config and
// weights (interchange.js's form). A Sequential of LSTM / GRU / SimpleRNN
// layers (alike, stacked), optionally after an Embedding, Dropout (an
// identity at inference), then a Dense head (TimeDistributed or not). Layers
// rnnlab cannot represent are E_FORMAT naming the layer (an Embedding with
// mask_zero among them: Keras then skips the steps of id 0, which rnnlab's
// layers do not). Bidirectional(layer, merge_mode='concat') wrappers are
// bidirectional layers (SPEC §11: [h→; h←]); weights under
// `<wrapper>/forward_…` and `<wrapper>/backward_…` (tfjs's and Keras's names).

import { RnnlabError, describe } from '../errors.js';
import { GATE_ORDER, negatedBlock, fromForeignBlocks, transpose } from '../interchange.js';

const CELL = { SimpleRNN: 'rnn', LSTM: 'lstm', GRU: 'gru' };
const IDENTITY = new Set(['Dropout', 'InputLayer']);

const fail = (message) => {
  throw new RnnlabError('E_FORMAT', `loadTFJS: ${message}`);
};

/** The Sequential's layer list of a model.json object. */
export function sequentialLayers(modelJSON) {
  const topo = modelJSON?.modelTopology;
  if (!topo || typeof topo !== 'object') fail(`model.json has no modelTopology (given ${describe(topo)})`);
  const model = topo.model_config ?? topo; // tensorflowjs_converter nests the Keras config
  if (model.class_name !== 'Sequential') fail(`the model is a ${describe(model.class_name)}, expected a Sequential`);
  const layers = Array.isArray(model.config) ? model.config : model.config?.layers;
  if (!Array.isArray(layers)) fail('the Sequential has no layer list');
  return layers;
}

// A recurrent layer's settings; refuses what rnnlab's cells do not compute.
function cellSettings(layer, where, goBackwards = false) {
  const c = layer.config ?? {};
  const cell = CELL[layer.class_name];
  const want = { go_backwards: goBackwards, return_state: false, time_major: false, use_bias: true };
  for (const [k, v] of Object.entries(want)) {
    if (c[k] !== undefined && c[k] !== v) fail(`${where}: ${k} ${c[k]}, expected ${v}`);
  }
  const activation = c.activation ?? 'tanh';
  const allowed = cell === 'rnn' ? ['tanh', 'relu'] : ['tanh'];
  if (!allowed.includes(activation)) fail(`${where}: activation '${activation}', expected ${allowed.join(' or ')}`);
  if (cell !== 'rnn' && c.recurrent_activation !== 'sigmoid') {
    fail(`${where}: recurrent_activation ${describe(c.recurrent_activation)}, expected 'sigmoid' (rnnlab's gates are the logistic sigmoid)`);
  }
  if (!Number.isSafeInteger(c.units) || c.units < 1 || c.units > 65536) fail(`${where}: units ${describe(c.units)}, expected 1 to 65536`);
  const s = { cell, hiddenSize: c.units, returnSequences: c.return_sequences === true, directions: 1 };
  if (cell === 'rnn') s.activation = activation;
  if (cell === 'gru') s.gruVariant = c.reset_after === true ? 'reset-after' : 'reset-before';
  return s;
}

// Keras's Bidirectional: merge_mode 'concat' only; the wrapped layer's
// settings, and backward_layer's (when written) the same but go_backwards true.
function bidirectionalSettings(layer, where) {
  const c = layer.config;
  const mode = c.merge_mode === undefined ? 'concat' : c.merge_mode;
  if (mode !== 'concat') fail(`${where}: merge_mode ${typeof mode === 'string' ? `'${mode}'` : describe(mode)}, expected 'concat' (rnnlab joins the directions as [h→; h←])`);
  const inner = c.layer;
  if (!CELL[inner?.class_name]) fail(`${where}: wraps a ${describe(inner?.class_name)}, expected an LSTM, GRU or SimpleRNN`);
  const s = cellSettings(inner, `${where}, its layer`);
  const back = c.backward_layer;
  if (back !== undefined && back !== null) {
    if (back?.class_name !== inner.class_name) fail(`${where}: its backward_layer is a ${describe(back?.class_name)}, its layer a ${inner.class_name}`);
    const b = cellSettings(back, `${where}, its backward_layer`, true);
    if (['hiddenSize', 'activation', 'gruVariant', 'returnSequences'].some((k) => b[k] !== s[k])) {
      fail(`${where}: its backward_layer differs from its layer in units, activation, reset_after or return_sequences`);
    }
  }
  return { ...s, directions: 2 };
}

// The weights under `prefix` (a layer's name and '/', or a wrapper's
// '<name>/forward_') by their last name part (kernel, recurrent_kernel, bias).
function weightsOf(prefix, weights, where) {
  const out = {};
  for (const [full, t] of weights) {
    if (!full.startsWith(prefix)) continue;
    const kind = full.split('/').pop().replace(/_\d+$/, '').replace(/:\d+$/, '');
    out[kind] = t;
  }
  const get = (kind, shape) => {
    const t = out[kind];
    if (!t) fail(`${where}: its weight '${kind}' is missing from the manifest`);
    if (t.dtype !== 'float32') fail(`${where}: its ${kind} is ${t.dtype}, expected float32`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) fail(`${where}: its ${kind} has shape [${t.shape}], expected [${shape}]`);
    return t.data;
  };
  get.rows = (kind) => {
    const shape = out[kind]?.shape;
    if (!Array.isArray(shape) || shape.length !== 2) fail(`${where}: its weight '${kind}' is missing or not 2-D`);
    return shape[0];
  };
  return get;
}

function recurrentWeights(s, X, get) {
  const { cell, hiddenSize: H } = s;
  const order = GATE_ORDER.keras[cell];
  const neg = negatedBlock(cell);
  const GH = order.length * H;
  const W = fromForeignBlocks(transpose(get('kernel', [X, GH]), X, GH), H, X, order, neg);
  const U = fromForeignBlocks(transpose(get('recurrent_kernel', [H, GH]), H, GH), H, H, order, neg);
  if (s.gruVariant !== 'reset-after') return { inputSize: X, W, U, b: fromForeignBlocks(get('bias', [GH]), H, 1, order, neg), bhn: null };
  const both = get('bias', [2, GH]); // input biases, recurrent biases
  const bias = new Float32Array(GH);
  for (let i = 0; i < GH; i++) bias[i] = both[i] + (i >= 2 * H ? 0 : both[GH + i]);
  return { inputSize: X, W, U, b: fromForeignBlocks(bias, H, 1, order, neg), bhn: both.slice(GH + 2 * H, GH + 3 * H) };
}

function denseHead(layer, H, weights, where) {
  const dense = layer.class_name === 'TimeDistributed' ? layer.config?.layer : layer;
  if (dense?.class_name !== 'Dense') fail(`${where}: a TimeDistributed of ${describe(dense?.class_name)}, expected of a Dense`);
  const c = dense.config ?? {};
  if ((c.activation ?? 'linear') !== 'linear') fail(`${where}: activation '${c.activation}', expected 'linear' (rnnlab's head is linear; apply softmax to its output)`);
  if (c.use_bias === false) fail(`${where}: use_bias false, expected a bias`);
  const Y = c.units;
  if (!Number.isSafeInteger(Y) || Y < 1 || Y > 65536) fail(`${where}: units ${describe(Y)}, expected 1 to 65536`);
  const get = weightsOf(`${layer.config.name}/`, weights, where);
  return { V: transpose(get('kernel', [H, Y]), H, Y), c: Float32Array.from(get('bias', [Y])) };
}

// An Embedding before the recurrent layers: { vocabSize, size, table }.
function embeddingLayer(layer, weights, where) {
  const c = layer.config;
  if (c.mask_zero === true) {
    fail(`${where}: mask_zero true (Keras skips the steps whose id is 0, carrying the state over them), which rnnlab's layers do not do; ` +
      'expected mask_zero false');
  }
  for (const k of ['input_dim', 'output_dim']) {
    if (!Number.isSafeInteger(c[k]) || c[k] < 1 || c[k] > 65536) fail(`${where}: ${k} ${describe(c[k])}, expected 1 to 65536`);
  }
  const get = weightsOf(`${c.name}/`, weights, where);
  return { vocabSize: c.input_dim, size: c.output_dim, table: Float32Array.from(get('embeddings', [c.input_dim, c.output_dim])) };
}

function sameAsFirst(first, s, where) {
  if (first && ['cell', 'hiddenSize', 'activation', 'gruVariant', 'directions'].some((k) => first[k] !== s[k])) {
    fail(`${where} differs from the first recurrent layer in its type, units, activation, reset_after or direction; rnnlab's layers are all alike`);
  }
  if (first && !first.returnSequences) fail(`${where} follows a recurrent layer that does not return sequences`);
}

// A recurrent layer (or Bidirectional wrapper) read: its settings and its
// units' weights (forward, then backward), after the layer before, `prev`
// (undefined for the first, whose input width is the embedding's or its kernel's).
function recurrentLayer(layer, weights, where, prev, embedding) {
  const name = layer.config.name;
  const s = layer.class_name === 'Bidirectional' ? bidirectionalSettings(layer, where) : cellSettings(layer, where);
  sameAsFirst(prev, s, where);
  const inputs = prev ? s.directions * s.hiddenSize : embedding?.size;
  const prefixes = s.directions === 2 ? [`${name}/forward_`, `${name}/backward_`] : [`${name}/`];
  const gets = prefixes.map((p, k) => weightsOf(p, weights, s.directions === 2 ? `${where} (${k ? 'backward' : 'forward'})` : where));
  const X = inputs ?? gets[0].rows('kernel');
  return { ...s, inputSize: X, units: gets.map((get) => recurrentWeights(s, X, get)) };
}

/** { config, weights } from the layer list and the weights read from the manifest. */
export function readLayers(layers, weights) {
  const rnn = [];
  let head = null;
  let embedding = null;
  for (const layer of layers) {
    const name = layer?.config?.name;
    const where = `layer '${name}' (${layer?.class_name})`;
    if (typeof name !== 'string') fail(`a layer without a name (${describe(layer?.class_name)})`);
    if (IDENTITY.has(layer.class_name)) continue;
    if (head) fail(`${where} follows the Dense head; rnnlab's head is the last layer`);
    if (layer.class_name === 'Embedding') {
      if (rnn.length || embedding) fail(`${where} comes after ${embedding ? 'another Embedding' : 'a recurrent layer'}; rnnlab's embedding is the first layer`);
      embedding = embeddingLayer(layer, weights, where);
    } else if (CELL[layer.class_name] || layer.class_name === 'Bidirectional') {
      rnn.push(recurrentLayer(layer, weights, where, rnn.at(-1), embedding));
    } else if (layer.class_name === 'Dense' || layer.class_name === 'TimeDistributed') {
      if (rnn.length === 0) fail(`${where} comes before any recurrent layer`);
      head = denseHead(layer, rnn[0].directions * rnn[0].hiddenSize, weights, where);
    } else {
      fail(`${where}: rnnlab cannot represent a ${layer.class_name} layer`);
    }
  }
  if (rnn.length === 0) fail('the model has no LSTM, GRU or SimpleRNN layer');
  if (!head) fail('the model has no Dense head after its recurrent layers');
  const first = rnn[0];
  const config = {
    cell: first.cell, inputSize: first.inputSize, hiddenSize: first.hiddenSize, outputSize: head.c.length, layers: rnn.length,
    output: rnn.at(-1).returnSequences ? 'sequence' : 'last', ...(first.directions === 2 ? { bidirectional: true } : {}),
    ...(first.activation ? { activation: first.activation } : {}), ...(first.gruVariant ? { gruVariant: first.gruVariant } : {}),
    ...(embedding ? { embedding: { vocabSize: embedding.vocabSize, size: embedding.size } } : {}),
  };
  return { config, weights: { layers: rnn.flatMap((l) => l.units), head, embedding: embedding?.table ?? null } };
}
