// The ONNX protobuf messages rnnlab reads and writes, through protobufjs's
// Reader and Writer (an optional peer dependency of rnnlab/onnx, loaded on
// first use, or given to useProtobuf) and codec.js.
//
// The schema below is the subset of onnx/onnx's onnx.proto (IR version 7+)
// that a model of recurrent layers and a linear head needs, with the field
// numbers of onnx.proto. Fields not listed are skipped when reading (protobuf
// keeps unknown fields out of the way), so a file that uses them still loads
// as far as rnnlab is concerned; sparse initializers, functions and external
// data are not listed because rnnlab refuses them anyway.

import { RnnlabError, describe } from '../errors.js';
import { messageCodec } from './codec.js';

const scalar = (type, id) => ({ type, id });
const repeated = (type, id) => ({ rule: 'repeated', type, id });

const SCHEMA = {
  nested: {
    onnx: {
      nested: {
        ModelProto: { fields: {
          irVersion: scalar('int64', 1), opsetImport: repeated('OperatorSetIdProto', 8),
          producerName: scalar('string', 2), producerVersion: scalar('string', 3), domain: scalar('string', 4),
          modelVersion: scalar('int64', 5), docString: scalar('string', 6), graph: scalar('GraphProto', 7),
          metadataProps: repeated('StringStringEntryProto', 14),
        } },
        OperatorSetIdProto: { fields: { domain: scalar('string', 1), version: scalar('int64', 2) } },
        StringStringEntryProto: { fields: { key: scalar('string', 1), value: scalar('string', 2) } },
        GraphProto: { fields: {
          node: repeated('NodeProto', 1), name: scalar('string', 2), initializer: repeated('TensorProto', 5),
          sparseInitializer: repeated('bytes', 15), docString: scalar('string', 10),
          input: repeated('ValueInfoProto', 11), output: repeated('ValueInfoProto', 12),
          valueInfo: repeated('ValueInfoProto', 13),
        } },
        NodeProto: { fields: {
          input: repeated('string', 1), output: repeated('string', 2), name: scalar('string', 3),
          opType: scalar('string', 4), domain: scalar('string', 7), attribute: repeated('AttributeProto', 5),
          docString: scalar('string', 6),
        } },
        AttributeProto: { fields: {
          name: scalar('string', 1), type: scalar('int32', 20), f: scalar('float', 2), i: scalar('int64', 3),
          s: scalar('bytes', 4), t: scalar('TensorProto', 5), g: scalar('GraphProto', 6),
          floats: repeated('float', 7), ints: repeated('int64', 8), strings: repeated('bytes', 9),
        } },
        TensorProto: { fields: {
          dims: repeated('int64', 1), dataType: scalar('int32', 2), floatData: repeated('float', 4),
          int32Data: repeated('int32', 5), int64Data: repeated('int64', 7), name: scalar('string', 8),
          rawData: scalar('bytes', 9), doubleData: repeated('double', 10), externalData: repeated('StringStringEntryProto', 13),
          dataLocation: scalar('int32', 14),
        } },
        ValueInfoProto: { fields: { name: scalar('string', 1), type: scalar('TypeProto', 2), docString: scalar('string', 3) } },
        TypeProto: { fields: { tensorType: scalar('TensorTypeProto', 1) } },
        TensorTypeProto: { fields: { elemType: scalar('int32', 1), shape: scalar('TensorShapeProto', 2) } },
        TensorShapeProto: { fields: { dim: repeated('Dimension', 1) } },
        Dimension: { fields: { dimValue: scalar('int64', 1), dimParam: scalar('string', 2) } },
      },
    },
  },
};

// onnx.proto's enums, as far as rnnlab uses them.
export const DATA_TYPE = { FLOAT: 1, INT32: 6, INT64: 7, DOUBLE: 11 };
export const ATTRIBUTE_TYPE = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8 };

export const PEER = 'protobufjs';
let injected = null;
let codec = null;

// protobufjs as given (its CommonJS module's default, an ES namespace, or the
// browser build's global): whatever has Reader.create and Writer.create.
function protobufApi(m) {
  for (const c of [m, m?.default]) {
    if (typeof c?.Reader?.create === 'function' && typeof c?.Writer?.create === 'function') return c;
  }
  return null;
}

/**
 * Use `protobuf` (protobufjs, any build with Reader and Writer: minimal,
 * light or full, e.g. the browser's dist/minimal/protobuf.min.js) instead of
 * importing the package 'protobufjs/minimal.js' on first use: for a Web Worker
 * or page that cannot resolve bare specifiers.
 */
export function useProtobuf(protobuf) {
  const api = protobufApi(protobuf);
  if (!api) {
    throw new RnnlabError('E_TYPE', `useProtobuf: expected the protobufjs module (with Reader.create and Writer.create), given ${describe(protobuf)}`);
  }
  injected = api;
  codec = null;
}

/**
 * The ModelProto codec { decode(bytes) -> object, encode(object) -> Uint8Array };
 * the first call imports protobufjs's minimal build unless useProtobuf gave
 * one (E_LOAD when it is not installed).
 */
export async function onnxModelCodec() {
  if (codec) return codec;
  let api = injected;
  if (!api) {
    try {
      api = protobufApi(await import('protobufjs/minimal.js'));
    } catch (e) {
      throw new RnnlabError('E_LOAD', `rnnlab/onnx needs the package '${PEER}' (an optional peer dependency of rnnlab, ` +
        `for reading and writing ONNX protobuf): install it with 'npm install ${PEER}', or pass it to useProtobuf (${e.message})`);
    }
    if (!api) throw new RnnlabError('E_LOAD', `rnnlab/onnx: the package '${PEER}' has no Reader and Writer (expected protobufjs 7 or 8)`);
  }
  const messages = messageCodec(api, SCHEMA.nested.onnx.nested);
  codec = { decode: (bytes) => messages.decode('ModelProto', bytes), encode: (obj) => messages.encode('ModelProto', obj) };
  return codec;
}

/**
 * An int64 field as a Number: codec.js gives a number when exact, else a Long
 * or an inexact number. Values beyond 2^53 are returned as NaN, for callers to refuse.
 */
export function int64(v) {
  if (typeof v === 'number') return v;
  if (v === null || v === undefined) return 0;
  const n = typeof v.toNumber === 'function' ? v.toNumber() : Number(v);
  return Number.isSafeInteger(n) ? n : NaN;
}
