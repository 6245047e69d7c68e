// Types of rnnlab/tfjs: rnnlab models to and from the TensorFlow.js Layers
// format (model.json and weights; Keras semantics). No dependency.
import type { Model } from './index.js';

/** model.json as an object: modelTopology (a Keras Sequential) and weightsManifest. */
export interface TFJSModelJSON {
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  modelTopology: object;
  weightsManifest: { paths: string[]; weights: { name: string; shape: number[]; dtype: string }[] }[];
}

/**
 * The model as model.json's object and the bytes of its weights file
 * ('weights.bin' in the manifest), for tf.loadLayersModel. A model with an
 * embedding starts with an Embedding layer (ids [N, T] in). A GRU with
 * gruVariant 'reset-after' is written with reset_after true, which Keras runs
 * and TensorFlow.js 4.22 refuses. A bidirectional model's layers are Keras's
 * Bidirectional(layer, merge_mode 'concat'), its head reading [h→; h←].
 */
export function toTFJS(model: Model): { modelJSON: TFJSModelJSON; weightData: ArrayBuffer };

/**
 * A model from a TensorFlow.js LayersModel: a Sequential of an optional
 * Embedding (mask_zero false), LSTM / GRU / SimpleRNN layers (Dropout
 * allowed; all of them Bidirectional with merge_mode 'concat', or none), then
 * Dense or TimeDistributed(Dense).
 * weightData: the weights file, or its shards in manifest order. Layers rnnlab
 * cannot represent reject with 'E_FORMAT' naming the layer.
 */
export function loadTFJS(
  modelJSON: TFJSModelJSON | string | Uint8Array | ArrayBuffer,
  weightData: ArrayBuffer | ArrayBufferView | (ArrayBuffer | ArrayBufferView)[],
): Promise<Model>;
