// A typed tour of the whole public API, type-checked (never run) by
// tests/types.test.js against web/index.d.ts through the package's own name.
// Lines under `@ts-expect-error` are misuse the types must reject.

import {
  init, createModel, loadModel, Vocabulary, RnnlabError, version,
  encodeSafetensors, decodeSafetensors, readSafetensors, weightsToJSON, weightsFromJSON, readWeightsJSON,
} from 'rnnlab';
import type {
  CellType, ErrorCode, ModelConfig, DataSet, FitOptions, History, StepInfo, EpochInfo, Evaluation,
  Prediction, State, GateTrace, WeightDict, Model, OptimizerOptions, InitOptions, GradcheckResult, IdDataSet, OneHotDataSet,
} from 'rnnlab';

// ---------------------------------------------------------------- engine

const loaded: { simd: boolean } = await init();
const options: InitOptions = { wasm: new URL('./rnnlab-simd.wasm', 'https://example.com/'), simd: true };
void options;
const v: string = version;

// ---------------------------------------------------------------- models

const cell: CellType = 'gru';
const config: ModelConfig = {
  cell, inputSize: 2, hiddenSize: 16, outputSize: 1, layers: 2, output: 'last', loss: 'mse',
  activation: 'tanh', gruVariant: 'reset-after', init: 'pytorch', recurrentInit: 'gaussian',
  recurrentScale: 0.9, forgetBiasOne: false, seed: 7,
};
const model: Model = await createModel(config);
const lstm = await createModel({ cell: 'lstm', inputSize: 1, hiddenSize: 8, outputSize: 1 });
const hidden: number = model.config.hiddenSize;      // Required<…>: no undefined
const layers: number = model.config.layers;
const disposed: boolean = model.disposed;

// ---------------------------------------------------------------- data and training

const x = new Float32Array(4 * 10 * 2);
const y = new Float32Array(4);
const data: DataSet = { x, y, shape: [4, 10, 2], lengths: [10, 9, 8, 7] };
const nested: DataSet = { x: [[[0, 1], [1, 0]]], y: [[0.5]], mask: [[1, 0]] };

const controller = new AbortController();
const adam: OptimizerOptions = { type: 'adam', lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 };
const fitOptions: FitOptions = {
  epochs: 5, batchSize: 2, shuffle: true, optimizer: adam, clipNorm: 1, clipValue: 5,
  validationData: nested, earlyStopping: { patience: 2, minDelta: 1e-4, monitor: 'valLoss' },
  tbptt: 5, onNonFinite: 'skip', signal: controller.signal,
  onStep: (info: StepInfo) => {
    const flow: Float32Array = info.flow[0];
    const cellFlow: Float32Array | undefined = info.flowC?.[0];
    void cellFlow;
    return info.loss > 0 && flow.length > 0;
  },
  onEpoch: async (e: EpochInfo) => { if (e.valLoss !== undefined && e.valLoss < 1e-3) return false; },
};
const history: History = await model.fit(data, fitOptions);
const lastLoss: number | undefined = history.epochs.loss.at(-1);
const clipped: boolean[] = history.steps.clipped;
await model.fit(data, { optimizer: 'sgd' });

try {
  await model.fit(data, { signal: AbortSignal.abort() });
} catch (e) {
  if (e instanceof RnnlabError) {
    const code: ErrorCode = e.code;
    // README: "E_ABORTED … the error carries history"
    if (code === 'E_ABORTED') console.log(e.history?.steps.loss.length);
  }
}

const step = model.trainStep(data, { optimizer: { type: 'rmsprop', rho: 0.95 }, clipNorm: 1 });
const carried: State = step.state;
model.trainStep(data, { state: carried });
const grads = model.computeGradients(data, { state: carried });
const withIds = await createModel({ cell: 'gru', embedding: { vocabSize: 30, size: 8 }, hiddenSize: 16, outputSize: 30, loss: 'cross-entropy' });
const embeddingRows: number | undefined = withIds.config.embedding?.vocabSize;
void embeddingRows;
// @ts-expect-error a model without an embedding needs inputSize
void createModel({ cell: 'gru', hiddenSize: 16, outputSize: 30 });
const check: GradcheckResult = model.gradcheck(data, { samples: 4, state: carried });
const worstU: number = check.tensors['U_0'].maxRelError;
void worstU;
const flat: Float32Array = grads.flatGradients;
const dx: Float32Array = grads.dx;
const dh0: Float32Array = grads.dState.h;

const params: Float32Array = model.getParameters();
model.setParameters(params);
model.setParameters(Array.from(params));

// ---------------------------------------------------------------- inference

const ev: Evaluation = model.evaluate(data, { batchSize: 64 });
const accuracy: number | undefined = ev.accuracy;
const p: Prediction = model.predict(x, { shape: [4, 10, 2] });
const next: Prediction = model.predict(x, { shape: [4, 10, 2], state: p.state });
const out: Float32Array = next.output;
const lstmState = lstm.predict([[[1], [2]]]).state;
const c: Float32Array | undefined = lstmState.c;

const text = 'hello world. '.repeat(10);
const vocab = Vocabulary.fromText(text);
const chars: string[] = vocab.chars;
const ids: Int32Array = vocab.encode('hello');
const back: string = vocab.decode(ids);
const charModel = await createModel({ cell: 'lstm', embedding: { vocabSize: vocab.size, size: 8 }, hiddenSize: 32, outputSize: vocab.size, loss: 'cross-entropy' });
const idData = vocab.dataset(text, { seqLength: 16, stride: 4 });
const idX: Int32Array = idData.x;
const idShape: [number, number] = idData.shape;
void [idX, idShape];
await charModel.fit(idData, { epochs: 1 });
void charModel.predict(idData.x.subarray(0, 16), { shape: [1, 16] });
const oneHotModel = await createModel({ cell: 'lstm', inputSize: vocab.size, hiddenSize: 32, outputSize: vocab.size, loss: 'cross-entropy' });
const oneHotData = vocab.dataset(text, { seqLength: 16, oneHot: true });
const oneHotX: Float32Array = oneHotData.x;
const oneHotShape: [number, number, number] = oneHotData.shape;
void [oneHotX, oneHotShape];
await oneHotModel.fit(oneHotData, { epochs: 1 });
const oldSpelling: [number, number, number] = vocab.dataset(text, { seqLength: 16, ids: false }).shape;
const oldIds: [number, number] = vocab.dataset(text, { seqLength: 16, ids: true }).shape;
void [oldSpelling, oldIds];
// @ts-expect-error ids are not one-hot vectors
const wrong: Float32Array = vocab.dataset(text, { seqLength: 16 }).x;
void wrong;
const either: IdDataSet | OneHotDataSet = vocab.dataset(text, { seqLength: 16, oneHot: text.length > 3 });
// @ts-expect-error oneHot decided at run time: ids or vectors
const notKnown: Int32Array = vocab.dataset(text, { seqLength: 16, oneHot: text.length > 3 }).x;
void [either, notKnown];
// @ts-expect-error oneHot is a boolean
vocab.dataset(text, { seqLength: 16, oneHot: 1 });
const sampled = charModel.sample({ vocab, prime: 'hel', length: 20, temperature: 0.8, seed: 1 });
const sampledText: string = typeof sampled === 'string' ? sampled : vocab.decode(sampled);
const sampledIds = charModel.sample({ prime: [0, 1], length: 5 });
void new Vocabulary(['a', 'b']);

// ---------------------------------------------------------------- diagnostics and weights

const flowNow = model.gradientFlow();
const flowH: Float32Array | undefined = flowNow?.h[0];
const trace: GateTrace = lstm.gateTrace([[[1], [2], [3]]]);
const forget: Float32Array | undefined = trace.layers[0]?.gates['f'];
const saturation: number | undefined = trace.layers[0]?.saturation['f'];
const cells: Float32Array | undefined = trace.layers[0]?.c;
const norms: Record<string, number>[] = model.spectralNorms();
const counts: { rnnlab: number; pytorch: number } = model.parameterCount();
const weights: WeightDict = model.exportWeights();
model.importWeights(weights);
model.importWeights({ 'head.bias': { shape: [1], data: [0] } });
const gradientDict: WeightDict | null = model.gradients();
const safetensors: Uint8Array = encodeSafetensors(weights, { source: 'rnnlab' });
model.importWeights(decodeSafetensors(safetensors));
const stMetadata: Record<string, string> | null = readSafetensors(safetensors).metadata;
const json: string = weightsToJSON(weights, { metadata: { note: 'typed' } });
model.importWeights(weightsFromJSON(json));
const jsonTensors: WeightDict = readWeightsJSON(json).tensors;
const bytes: Uint8Array = model.save({ optimizer: false });
const again: Model = await loadModel(bytes);
const fetched: ArrayBuffer = await (await fetch('model.bin')).arrayBuffer();
await loadModel(fetched);
again.dispose();
model.dispose();
lstm.dispose();
charModel.dispose();

// ---------------------------------------------------------------- misuse the types reject

// @ts-expect-error: not a cell type
await createModel({ cell: 'transformer', inputSize: 1, hiddenSize: 1, outputSize: 1 });
// @ts-expect-error: hiddenSize is required
await createModel({ cell: 'rnn', inputSize: 1, outputSize: 1 });
// @ts-expect-error: misspelt key
await createModel({ cell: 'rnn', inputSize: 1, hiddensize: 4, hiddenSize: 4, outputSize: 1 });
// @ts-expect-error: a string is not a number
await createModel({ cell: 'rnn', inputSize: '1', hiddenSize: 4, outputSize: 1 });
// @ts-expect-error: epochs, not epoch
await lstm.fit(data, { epoch: 3 });
// @ts-expect-error: not an optimizer
lstm.trainStep(data, { optimizer: 'adagrad' });
// @ts-expect-error: config is read-only
model.config.hiddenSize = 3;
// @ts-expect-error: not an error code
const wrongCode: ErrorCode = 'E_OOPS';
// @ts-expect-error: loadModel takes bytes
await loadModel('model.bin');
// @ts-expect-error: sample needs a length
charModel.sample({ vocab });
// @ts-expect-error: predict takes numbers
model.predict('abc');

export {
  loaded, v, hidden, layers, disposed, lastLoss, clipped, flat, dx, dh0, accuracy, out, c, chars, back, sampledText,
  sampledIds, flowH, forget, saturation, cells, norms, counts, gradientDict, wrongCode, stMetadata, jsonTensors,
};

// ---------------------------------------------------------------- rnnlab/onnx

import { toONNX, loadONNX, useProtobuf } from 'rnnlab/onnx';
import type { ToONNXOptions } from 'rnnlab/onnx';
{
  const m = await createModel({ cell: 'gru', inputSize: 2, hiddenSize: 4, outputSize: 1 });
  const onnxOptions: ToONNXOptions = { sequenceLens: true, initialState: false };
  const onnxBytes: Uint8Array = await toONNX(m, onnxOptions);
  const fromOnnx: Model = await loadONNX(onnxBytes);
  void fromOnnx;
  // @ts-expect-error: the options are booleans
  await toONNX(m, { sequenceLens: 'yes' });
  const e = await createModel({ cell: 'lstm', embedding: { vocabSize: 10, size: 4 }, hiddenSize: 4, outputSize: 1 });
  await toONNX(e, { ids: 'int32' });
  // @ts-expect-error: ids are int64 or int32
  await toONNX(e, { ids: 'int8' });
  useProtobuf({});
}

// ---------------------------------------------------------------- rnnlab/tfjs

import { toTFJS, loadTFJS } from 'rnnlab/tfjs';
{
  const m = await createModel({ cell: 'lstm', inputSize: 2, hiddenSize: 4, outputSize: 1 });
  const { modelJSON, weightData } = toTFJS(m);
  const fromTfjs: Model = await loadTFJS(JSON.stringify(modelJSON), [new Uint8Array(weightData)]);
  void fromTfjs;
  // @ts-expect-error: the weights are bytes
  await loadTFJS(modelJSON, 'weights.bin');
}
