// ONNX graph -> rnnlab config and weights. The graph is read by what its
// nodes do, not by its names (torch.onnx.export loses the weight names): each
// value gets a description, and each node must turn the descriptions of its
// inputs into ones rnnlab can represent, or the node is refused (E_FORMAT,
// naming the node and its operator).
//
// Descriptions: { kind: 'const', tensor } (initializers, Constant nodes);
// 'ids' (the graph input of an embedding model, integer [N, T]: only a Gather
// of rows from a table may read it, or Shape);
// 'aux' (shape arithmetic: Shape and what follows from it); 'zeros' (a
// ConstantOfShape of 0: PyTorch's default initial state); 'lens' and
// 'stateIn' (graph inputs sequence_lens and initial states); 'data': the
// model's activations { axes (labels N, T, D, F), stage (-1: the input, l:
// layer l's output), width, time ('all' | 'last'), state ('h' | 'c' | null),
// head ({ V, c } once the head has been applied) }; 'stateOut' (a
// concatenation of final states).

import { RnnlabError } from '../errors.js';
import { DATA_TYPE, int64 } from './proto.js';
import { readTensor, typeName } from './tensors.js';
import { recurrentNode } from './recurrent.js';
import { OPERATORS, embeddingGather } from './operators.js';

const fail = (message) => {
  throw new RnnlabError('E_FORMAT', `loadONNX: ${message}`);
};

function checkModel(proto) {
  if (!proto.graph) fail('the file has no graph (not an ONNX model?)');
  const main = proto.opsetImport.find((o) => o.domain === '' || o.domain === 'ai.onnx');
  const version = main ? int64(main.version) : NaN;
  if (!(version >= 7 && version <= 22)) {
    fail(`the model imports opset ${Number.isNaN(version) ? 'none' : version} of the default domain, expected 7 to 22 (rnnlab writes 14)`);
  }
}

// Graph inputs that are not initializers: the model's input, float [N, T, X]
// or integer ids [N, T] (an embedding's), then sequence_lens and initial states.
function graphInputs(graph, env) {
  let data = null;
  for (const v of graph.input) {
    if (env.has(v.name)) continue; // an initializer that may be overridden
    const t = v.type?.tensorType;
    const rank = t?.shape?.dim?.length;
    const where = `graph input '${v.name}'`;
    if (!t) fail(`${where} is not a tensor`);
    const integer = t.elemType === DATA_TYPE.INT32 || t.elemType === DATA_TYPE.INT64;
    if (t.elemType === DATA_TYPE.FLOAT && rank === 3 && data === null) {
      const width = int64(t.shape.dim[2].dimValue);
      if (!(width > 0)) fail(`${where} [N, T, X] needs a fixed size X, given ${t.shape.dim[2].dimParam || 'none'}`);
      data = { kind: 'data', axes: ['N', 'T', 'F'], stage: -1, width, time: 'all', state: null, head: null };
      env.set(v.name, data);
    } else if (integer && rank === 2 && data === null) {
      data = { kind: 'ids' };
      env.set(v.name, data);
    } else if (integer && rank === 1) {
      env.set(v.name, { kind: 'lens' });
    } else if (t.elemType === DATA_TYPE.FLOAT && rank === 3) {
      env.set(v.name, { kind: 'stateIn' });
    } else {
      fail(`${where} (${typeName(t.elemType)}, rank ${rank}) is not an input rnnlab can take: expected one model input, ` +
        'float [N, T, X] or integer ids [N, T] (an embedding\'s), then sequence_lens [N] or initial states [layers, N, H]');
    }
  }
  if (!data) fail('the graph has no model input: float [N, T, X] or integer ids [N, T]');
}

// The head's output and the final states among the graph outputs.
function graphOutputs(graph, env, layers) {
  let result = null;
  for (const v of graph.output) {
    const d = env.get(v.name);
    if (d?.kind === 'data' && d.head && result === null) {
      result = d;
    } else if (!(d?.kind === 'stateOut' || (d?.kind === 'data' && d.state && !d.head))) {
      fail(`graph output '${v.name}' is neither the linear head's result nor a final state`);
    }
  }
  if (!result) fail('no graph output is a linear head (MatMul and Add, or Gemm) on the recurrent layers');
  if (!result.head.c) fail('the head has no bias (Add after its MatMul)');
  if (result.stage !== layers.length - 1) fail('the head does not read the top recurrent layer');
  const key = result.axes.join('');
  if (key === 'NTF' && result.time === 'all') return { output: 'sequence', head: result.head };
  if (key === 'NF' && result.time === 'last') return { output: 'last', head: result.head };
  fail(`the head's result has axes [${result.axes}] (time ${result.time}), expected [N, T, Y] or [N, Y] at the last step`);
}

function constantOf(node, where) {
  const a = node.attribute[0];
  if (node.attribute.length !== 1 || !a) fail(`${where} has ${node.attribute.length} attributes, expected one value`);
  if (a.name === 'value' && a.t) return { kind: 'const', tensor: readTensor(a.t, `${where} value`) };
  if (a.name === 'value_float') return { kind: 'const', tensor: { dims: [], kind: 'float', data: Float32Array.of(a.f) } };
  if (a.name === 'value_floats') return { kind: 'const', tensor: { dims: [a.floats.length], kind: 'float', data: Float32Array.from(a.floats) } };
  if (a.name === 'value_int') return { kind: 'const', tensor: { dims: [], kind: 'int', data: [int64(a.i)] } };
  if (a.name === 'value_ints') return { kind: 'const', tensor: { dims: [a.ints.length], kind: 'int', data: a.ints.map(int64) } };
  fail(`${where} holds a '${a.name}', which rnnlab cannot read`);
}

function runNode(node, env, layers, model) {
  const where = `node '${node.name || node.output[0] || '?'}' (${node.opType})`;
  if (node.domain && node.domain !== 'ai.onnx') fail(`${where} is from the operator domain '${node.domain}', which rnnlab cannot represent`);
  const inputs = node.input.map((name) => {
    if (name === '') return null;
    if (!env.has(name)) fail(`${where} reads '${name}', which no initializer, input or earlier node defines`);
    return env.get(name);
  });
  let outputs;
  if (node.opType === 'Constant') outputs = [constantOf(node, where)];
  else if (node.opType === 'RNN' || node.opType === 'LSTM' || node.opType === 'GRU') outputs = recurrentNode(node, inputs, layers, where);
  else if (node.opType === 'Gather' && inputs[1]?.kind === 'ids') outputs = embeddingGather(node, inputs, model, where);
  else if (OPERATORS[node.opType]) outputs = OPERATORS[node.opType](node, inputs, where);
  else fail(`${where}: rnnlab cannot represent the operator ${node.opType}`);
  node.output.forEach((name, k) => {
    if (name !== '') env.set(name, outputs[k] ?? fail(`${where} has an output ${k} that rnnlab does not know`));
  });
}

/** { config, weights } (interchange.js's form) of a decoded ModelProto. */
export function readModelProto(proto) {
  checkModel(proto);
  const { graph } = proto;
  const env = new Map();
  graph.initializer.forEach((t, k) => env.set(t.name, { kind: 'const', tensor: readTensor(t, `initializer '${t.name || k}'`) }));
  graphInputs(graph, env);
  const layers = [];
  const model = { embedding: null }; // set by the Gather of rows for the ids
  for (const node of graph.node) runNode(node, env, layers, model);
  if (layers.length === 0) fail('the graph has no RNN, LSTM or GRU node');
  const { embedding } = model;
  const { output, head } = graphOutputs(graph, env, layers);
  const first = layers[0];
  const config = {
    cell: first.cell, inputSize: first.inputSize, hiddenSize: first.hiddenSize, outputSize: head.c.length,
    layers: layers.length, output, ...(first.directions === 2 ? { bidirectional: true } : {}),
    ...(first.cell === 'rnn' ? { activation: first.activation } : {}),
    ...(first.cell === 'gru' ? { gruVariant: first.gruVariant } : {}),
    ...(embedding ? { embedding: { vocabSize: embedding.vocabSize, size: embedding.size } } : {}),
  };
  return { config, weights: { layers: layers.flatMap((l) => l.units), head, embedding: embedding?.table ?? null } };
}
