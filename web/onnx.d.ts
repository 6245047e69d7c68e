// Types of rnnlab/onnx: rnnlab models to and from ONNX files (opset 14).
// Needs the package protobufjs (an optional peer dependency; its Reader and
// Writer only), imported on first use or given to useProtobuf; without it
// both calls reject with an RnnlabError of code 'E_LOAD'.
import type { Model } from './index.js';

export interface ToONNXOptions {
  /** Add the graph input sequence_lens [N] (int32): each sequence stops at its length. Default false. */
  sequenceLens?: boolean;
  /** Add the graph inputs initial_h (and initial_c for an LSTM) [layers, N, hiddenSize]. Default false. */
  initialState?: boolean;
  /** With an embedding: the type of the input ids [N, T], 'int64' (as torch.onnx.export writes; the default) or 'int32'. */
  ids?: 'int64' | 'int32';
}

/**
 * The model as ONNX bytes: input [N, T, inputSize] (N, T dynamic), or with an
 * embedding ids [N, T] read by Gather from the table 'embedding.weight'; the
 * RNN/LSTM/GRU operators, the head as MatMul and Add; outputs 'output'
 * ([N, T, outputSize], or [N, outputSize] for output 'last'), 'h_n' and, for
 * an LSTM, 'c_n' [layers, N, hiddenSize].
 */
export function toONNX(model: Model, options?: ToONNXOptions): Promise<Uint8Array>;

/**
 * A model from ONNX bytes written by toONNX or by torch.onnx.export (an
 * nn.RNN / nn.LSTM / nn.GRU with batch_first=True, then an nn.Linear;
 * optionally an nn.Embedding first, whose ids may be int64 or int32). A graph
 * rnnlab cannot represent rejects with 'E_FORMAT', naming the node and operator.
 */
export function loadONNX(bytes: Uint8Array | ArrayBuffer): Promise<Model>;

/**
 * Use this protobufjs (any build with Reader and Writer: minimal, light or
 * full, as a module or the browser build's global `protobuf`) instead of
 * importing 'protobufjs/minimal.js' on first use: for a Web Worker or page
 * that cannot resolve bare specifiers. Anything else throws 'E_TYPE'.
 */
export function useProtobuf(protobuf: unknown): void;
