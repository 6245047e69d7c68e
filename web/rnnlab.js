// rnnlab — recurrent neural networks (RNN, LSTM, GRU) trained in WebAssembly.
// The public entry point; see index.d.ts for the types and README.md for use.

export { RnnlabError } from './errors.js';
export { init, terminate } from './engine.js';
export { createModel, loadModel } from './model.js';
export { Trainer } from './trainer.js';
export { softmax } from './inference.js';
export { Vocabulary } from './vocab.js';
export { encodeSafetensors, decodeSafetensors, readSafetensors } from './safetensors.js';
export { weightsToJSON, weightsFromJSON, readWeightsJSON } from './weights-json.js';

export const version = '0.1.0';
