// rnnlab/onnx — rnnlab models to and from ONNX files (opset 14): the
// recurrent layers as ONNX's RNN, LSTM and GRU operators, the head as MatMul
// and Add. A separate entry point so that the core stays free of
// dependencies: this one needs the package protobufjs (an optional peer
// dependency; its Reader and Writer only), imported on the first call or
// given to useProtobuf; without it the calls throw E_LOAD.

import { RnnlabError, describe } from './errors.js';
import { createModel } from './model.js';
import { checkObject, checkKeys, checkBoolean, checkEnum } from './options.js';
import { onnxModelCodec, useProtobuf } from './onnx/proto.js';
import { buildModelProto } from './onnx/export.js';
import { readModelProto } from './onnx/import.js';
import { modelWithWeights } from './interchange.js';

export { useProtobuf };

const VERSION = '0.1.0';

/**
 * The model as ONNX bytes. options: { sequenceLens, initialState } (false by
 * default): add the graph inputs sequence_lens [N] (int32) and initial_h
 * (and initial_c for an LSTM) [layers, N, hiddenSize]; ids ('int64' by
 * default, or 'int32'): the type of the input ids of a model with an embedding.
 */
export async function toONNX(model, options = {}) {
  if (!model || typeof model.getParameters !== 'function') {
    throw new RnnlabError('E_TYPE', `toONNX: expected an rnnlab model, given ${describe(model)}`);
  }
  checkObject(options, 'toONNX options');
  checkKeys(options, ['sequenceLens', 'initialState', 'ids'], 'toONNX options');
  const opts = {
    sequenceLens: checkBoolean(options.sequenceLens ?? false, 'toONNX options.sequenceLens'),
    initialState: checkBoolean(options.initialState ?? false, 'toONNX options.initialState'),
    ids: checkEnum(options.ids ?? 'int64', 'toONNX options.ids (the type of the input ids)', ['int64', 'int32']),
  };
  const flat = model.getParameters(); // E_DISPOSED, E_BUSY first
  const codec = await onnxModelCodec();
  return codec.encode(buildModelProto(model.config, model._layout, flat, opts, VERSION));
}

/**
 * A model from ONNX bytes written by rnnlab's toONNX or by torch.onnx.export
 * (an nn.RNN, nn.LSTM or nn.GRU with batch_first=True, bidirectional or not,
 * and an nn.Linear).
 * Anything rnnlab cannot represent is E_FORMAT naming the node and operator.
 */
export async function loadONNX(bytes) {
  if (bytes instanceof ArrayBuffer) bytes = new Uint8Array(bytes);
  if (!(bytes instanceof Uint8Array)) {
    throw new RnnlabError('E_TYPE', `loadONNX: expected a Uint8Array or ArrayBuffer, given ${describe(bytes)}`);
  }
  const codec = await onnxModelCodec();
  let proto;
  try {
    proto = codec.decode(bytes);
  } catch (e) {
    throw new RnnlabError('E_FORMAT', `loadONNX: not an ONNX model file (${bytes.length} bytes): the protobuf does not decode (${e.message})`);
  }
  const { config, weights } = readModelProto(proto);
  return modelWithWeights(createModel, config, weights);
}
