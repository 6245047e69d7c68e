// rnnlab/tfjs — rnnlab models to and from the TensorFlow.js Layers format
// (model.json and its weights; Keras semantics). No dependency: the files are
// JSON and little-endian float32, written and read here.

import { RnnlabError, describe } from './errors.js';
import { createModel } from './model.js';
import { buildTFJS } from './tfjs/export.js';
import { weightBytes, readWeights } from './tfjs/manifest.js';
import { sequentialLayers, readLayers } from './tfjs/import.js';
import { modelWithWeights } from './interchange.js';

const VERSION = '0.1.0';

/**
 * The model as { modelJSON, weightData }: modelJSON is model.json's object
 * (its manifest names the weights file 'weights.bin'), weightData that file's
 * bytes (ArrayBuffer). tf.loadLayersModel reads them (tf.io.fromMemory, or
 * the two files side by side). A bidirectional model's layers are Keras's
 * Bidirectional wrappers (merge_mode 'concat').
 */
export function toTFJS(model) {
  if (!model || typeof model.getParameters !== 'function') {
    throw new RnnlabError('E_TYPE', `toTFJS: expected an rnnlab model, given ${describe(model)}`);
  }
  const flat = model.getParameters(); // E_DISPOSED, E_BUSY first
  return buildTFJS(model.config, model._layout, flat, `rnnlab ${VERSION}`);
}

function parseModelJSON(modelJSON) {
  if (modelJSON instanceof ArrayBuffer || ArrayBuffer.isView(modelJSON)) {
    try {
      modelJSON = new TextDecoder('utf-8', { fatal: true }).decode(modelJSON);
    } catch {
      throw new RnnlabError('E_FORMAT', 'loadTFJS: model.json is not UTF-8 text');
    }
  }
  if (typeof modelJSON === 'string') {
    try {
      modelJSON = JSON.parse(modelJSON);
    } catch (e) {
      throw new RnnlabError('E_FORMAT', `loadTFJS: model.json is not valid JSON (${e.message})`);
    }
  }
  if (modelJSON === null || typeof modelJSON !== 'object' || Array.isArray(modelJSON)) {
    throw new RnnlabError('E_FORMAT', `loadTFJS: model.json must be an object, given ${describe(modelJSON)}`);
  }
  return modelJSON;
}

/**
 * A model from a TensorFlow.js LayersModel: modelJSON (model.json as an
 * object, text or bytes) and weightData (the weight file's bytes, or the
 * shards in manifest order).
 */
export async function loadTFJS(modelJSON, weightData) {
  const bytes = weightBytes(weightData);
  const json = parseModelJSON(modelJSON);
  const layers = sequentialLayers(json);
  const { config, weights } = readLayers(layers, readWeights(json.weightsManifest, bytes));
  return modelWithWeights(createModel, config, weights);
}
