// TensorFlow.js Layers format, checked by TensorFlow.js 4.22 itself (CPU backend):
// (a) rnnlab -> toTFJS -> tf.loadLayersModel (tf.io.fromMemory) -> predict
//     equals rnnlab's predict, for RNN tanh and relu, LSTM, GRU reset-before,
//     1 and 2 layers, outputs 'sequence' and 'last'.
// (b) a model built and saved by TensorFlow.js (random weights, biases
//     included; Dropout and TimeDistributed(Dense) among its layers) ->
//     loadTFJS -> rnnlab's predict equals tfjs's.
// (c) the same with an Embedding first (ids [N, T] as int32 tensors), both
//     ways: rnnlab's Embedding in tfjs, and tfjs's tf.layers.embedding in rnnlab.
// GRU reset-after is Keras's reset_after=true, which TensorFlow.js's GRUCell
// refuses: that file is for Keras (tensorflowjs_converter); here it loads
// back into rnnlab bit for bit, and tfjs's refusal is checked.
//
// (d) bidirectional models both ways: rnnlab's as Keras's
//     Bidirectional(layer, merge_mode='concat') in tfjs, and tfjs's
//     tf.layers.bidirectional in rnnlab; Keras's return_sequences false (h→ at
//     T-1 joined with h← after the whole reversed sequence) is rnnlab's output
//     'last' (no masks here).
//
// Tolerance: both float32; tfjs's CPU backend uses Math.exp/tanh, rnnlab
// src/vmath.c; the largest difference seen is about 3e-7 (printed);
// atol 2e-5 + rtol 1e-4 as for PyTorch and onnxruntime.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';

import { toTFJS, loadTFJS } from '../web/tfjs.js';
import { assertClose } from './helpers/engine.js';
import { KINDS, randomModel, randomArray, uniform, Worst } from './helpers/interchange.js';

await tf.setBackend('cpu');
const TOL = { atol: 2e-5, rtol: 1e-4 };
const X = 3, H = 5, Y = 2, N = 3, T = 6;
const worstOut = new Worst();
const worstIn = new Worst();
const worstBiOut = new Worst();
const worstBiIn = new Worst();

async function tfjsPredict(tfModel, x) {
  const out = tfModel.predict(tf.tensor3d(x, [N, T, X]));
  const data = await out.data();
  out.dispose();
  return data;
}

const fromRnnlab = (saved) => tf.io.fromMemory({
  modelTopology: saved.modelJSON.modelTopology, weightSpecs: saved.modelJSON.weightsManifest[0].weights, weightData: saved.weightData,
});

for (const kind of KINDS.filter((k) => k.gruVariant !== 'reset-after')) {
  test(`rnnlab -> TF.js -> tf.loadLayersModel: ${kind.label}`, async () => {
    let seed = 40;
    for (const layers of [1, 2]) {
      for (const output of ['sequence', 'last']) {
        const model = await randomModel(kind, { X, H, Y, layers, output, seed: seed++ });
        const saved = toTFJS(model);
        const tfModel = await tf.loadLayersModel(fromRnnlab({ modelJSON: JSON.parse(JSON.stringify(saved.modelJSON)), weightData: saved.weightData }));
        const x = randomArray(N * T * X, seed);
        const got = await tfjsPredict(tfModel, x);
        const want = model.predict(x, { shape: [N, T, X] }).output;
        assertClose(got, want, TOL, `${kind.label} L${layers} ${output}`);
        worstOut.record(kind.label, got, want);
        const back = await loadTFJS(JSON.stringify(saved.modelJSON), saved.weightData);
        assert.deepEqual(back.getParameters(), model.getParameters(), 'loadTFJS(toTFJS(model)) gives the parameters bit for bit');
        back.dispose();
        model.dispose();
        tfModel.dispose();
      }
    }
  });
}

// Embedding models: ids [N, T] (int32 tensors) through Keras's Embedding.
const V = 9;
const randomIds = (n, seed) => {
  const r = uniform(seed);
  return Int32Array.from({ length: n }, () => Math.floor(r() * V));
};

test('rnnlab with an embedding -> TF.js (Embedding first) -> tf.loadLayersModel, and back', async () => {
  let seed = 90;
  for (const kind of KINDS.filter((k) => k.gruVariant !== 'reset-after')) {
    for (const [layers, output] of [[1, 'sequence'], [2, 'last']]) {
      const model = await randomModel({ ...kind, embedding: { vocabSize: V, size: X } }, { X, H, Y, layers, output, seed: seed++ });
      const saved = toTFJS(model);
      assert.equal(saved.modelJSON.modelTopology.config.layers[0].class_name, 'Embedding');
      const tfModel = await tf.loadLayersModel(fromRnnlab({ modelJSON: JSON.parse(JSON.stringify(saved.modelJSON)), weightData: saved.weightData }));
      const ids = randomIds(N * T, seed);
      ids[0] = V - 1;
      const out = tfModel.predict(tf.tensor2d(ids, [N, T], 'int32'));
      const got = await out.data();
      out.dispose();
      const want = model.predict(ids, { shape: [N, T] }).output;
      assertClose(got, want, TOL, `${kind.label} embedding L${layers} ${output}`);
      worstOut.record(`${kind.label} + embedding`, got, want);
      const back = await loadTFJS(JSON.stringify(saved.modelJSON), saved.weightData);
      assert.deepEqual(back.config.embedding, model.config.embedding);
      assert.deepEqual(back.getParameters(), model.getParameters(), 'loadTFJS(toTFJS(model)) gives the table back bit for bit');
      back.dispose();
      model.dispose();
      tfModel.dispose();
    }
  }
});

test('GRU reset-after: reset_after=true, which TF.js refuses and rnnlab loads back', async () => {
  const model = await randomModel(KINDS[4], { X, H, Y, layers: 2, output: 'sequence', seed: 3 });
  const saved = toTFJS(model);
  assert.equal(saved.modelJSON.modelTopology.config.layers[0].config.reset_after, true);
  await assert.rejects(() => tf.loadLayersModel(fromRnnlab(saved)), /reset_after/);
  const back = await loadTFJS(saved.modelJSON, new Uint8Array(saved.weightData));
  assert.deepEqual(back.getParameters(), model.getParameters());
  back.dispose();
  model.dispose();
});

// A tfjs Sequential: optionally an Embedding, the recurrent layers, optionally Dropout, then the head.
function tfjsModel({ cls, layers, output, activation, seed, embedding = false }) {
  const m = tf.sequential();
  if (embedding) m.add(tf.layers.embedding({ inputDim: V, outputDim: X, inputShape: [null] }));
  for (let l = 0; l < layers; l++) {
    const opts = { units: H, returnSequences: l < layers - 1 || output === 'sequence', ...(l === 0 && !embedding ? { inputShape: [null, X] } : {}) };
    if (cls === 'simpleRNN') opts.activation = activation;
    else opts.recurrentActivation = 'sigmoid';
    m.add(tf.layers[cls](opts));
    if (l === 0) m.add(tf.layers.dropout({ rate: 0.3 }));
  }
  m.add(output === 'sequence' ? tf.layers.timeDistributed({ layer: tf.layers.dense({ units: Y }) }) : tf.layers.dense({ units: Y }));
  let k = seed;
  m.setWeights(m.getWeights().map((w) => tf.tensor(randomArray(w.size, k++, 0.5), w.shape)));
  return m;
}

async function saveTfjs(m) {
  let artifacts;
  await m.save(tf.io.withSaveHandler(async (a) => {
    artifacts = a;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  const modelJSON = { format: artifacts.format, generatedBy: artifacts.generatedBy, modelTopology: artifacts.modelTopology,
    weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }] };
  return { modelJSON, weightData: artifacts.weightData };
}

// The kinds TensorFlow.js 4.22 can build and run: [layer class, activation, label].
const TFJS_KINDS = [['simpleRNN', 'tanh', 'rnn tanh'], ['simpleRNN', 'relu', 'rnn relu'], ['lstm', null, 'lstm'], ['gru', null, 'gru reset-before']];

// A TF.js-built model through loadTFJS: the config it implies and the same predictions.
async function checkLoaded(m, { label, layers, output, seed, worst, bidirectional = false }) {
  const { modelJSON, weightData } = await saveTfjs(m);
  const model = await loadTFJS(JSON.stringify(modelJSON), weightData);
  assert.equal(model.config.bidirectional, bidirectional);
  assert.equal(model.config.layers, layers);
  assert.equal(model.config.output, output);
  const x = randomArray(N * T * X, seed);
  const want = await tfjsPredict(m, x);
  const got = model.predict(x, { shape: [N, T, X] }).output;
  assertClose(got, want, TOL, `${bidirectional ? 'bidirectional ' : ''}${label} L${layers} ${output}`);
  worst.record(label, got, want);
  model.dispose();
  m.dispose();
}

test('TF.js-built models -> loadTFJS -> rnnlab equals TF.js', async (t) => {
  let seed = 70;
  const kinds = TFJS_KINDS;
  for (const [cls, activation, label] of kinds) {
    for (const layers of [1, 2]) {
      for (const output of ['sequence', 'last']) {
        const m = tfjsModel({ cls, layers, output, activation, seed: seed++ });
        await checkLoaded(m, { label, layers, output, seed, worst: worstIn });
      }
    }
  }
  for (const [cls, activation, label] of kinds) {
    for (const [layers, output] of [[1, 'last'], [2, 'sequence']]) {
      const m = tfjsModel({ cls, layers, output, activation, seed: seed++, embedding: true });
      const { modelJSON, weightData } = await saveTfjs(m);
      const model = await loadTFJS(JSON.stringify(modelJSON), weightData);
      assert.deepEqual(model.config.embedding, { vocabSize: V, size: X });
      const ids = randomIds(N * T, seed);
      const out = m.predict(tf.tensor2d(ids, [N, T], 'int32'));
      const want = await out.data();
      out.dispose();
      const got = model.predict(ids, { shape: [N, T] }).output;
      assertClose(got, want, TOL, `${label} embedding L${layers} ${output}`);
      worstIn.record(`${label} + embedding`, got, want);
      model.dispose();
      m.dispose();
    }
  }
  t.diagnostic(`max |rnnlab - TF.js|, rnnlab -> TF.js:\n${worstOut.table()}\nTF.js -> rnnlab:\n${worstIn.table()}`);
});

// A model saved by toTFJS, and edit(fn): a deep copy of its model.json after
// fn(layers of the topology, weight specs of the manifest) changed it.
async function savedForEdits(kind, options) {
  const model = await randomModel(kind, options);
  const saved = toTFJS(model);
  model.dispose();
  const edit = (fn) => {
    const json = JSON.parse(JSON.stringify(saved.modelJSON));
    fn(json.modelTopology.config.layers, json.weightsManifest[0].weights);
    return json;
  };
  return { saved, edit };
}

test('layers rnnlab cannot represent are E_FORMAT naming the layer', async () => {
  const { expectError } = await import('./helpers/expect-error.js');
  const { saved, edit } = await savedForEdits(KINDS[2], { X, H, Y, layers: 1, output: 'sequence', seed: 9 });
  const cases = [
    [(ls) => { ls[0] = { class_name: 'Bidirectional', config: { name: 'bi', layer: ls[0] } }; }, ["layer 'bi' (Bidirectional) (forward)", "weight 'kernel' is missing"]],
    [(ls) => { ls.unshift({ class_name: 'Embedding', config: { name: 'emb', input_dim: 10, output_dim: 3 } }); }, ["layer 'emb' (Embedding)", "weight 'embeddings' is missing"]],
    [(ls) => { ls.splice(1, 0, { class_name: 'Embedding', config: { name: 'emb', input_dim: 10, output_dim: 3 } }); }, ["layer 'emb' (Embedding)", 'after a recurrent layer']],
    [(ls) => { ls.splice(1, 0, { class_name: 'Conv1D', config: { name: 'conv' } }); }, ["layer 'conv' (Conv1D)"]],
    [(ls) => { ls[0].config.recurrent_activation = 'hard_sigmoid'; }, ["layer 'rnn_0' (LSTM)", 'recurrent_activation']],
    [(ls) => { ls[0].config.go_backwards = true; }, ['go_backwards']],
    [(ls) => { ls[1].config.layer.config.activation = 'softmax'; }, ["layer 'head'", 'softmax']],
    [(ls) => { ls.pop(); }, ['no Dense head']],
  ];
  for (const [fn, says] of cases) await expectError(() => loadTFJS(edit(fn), saved.weightData), 'E_FORMAT', says);
  await expectError(() => loadTFJS(saved.modelJSON, saved.weightData.slice(4)), 'E_FORMAT', ['bytes']);
  // an embedding model: mask_zero (steps of id 0 skipped) and sizes that do not fit
  const { saved: embSaved, edit: embEdit } = await savedForEdits({ cell: 'gru', embedding: { vocabSize: 7, size: X } }, { X, H, Y, layers: 1, output: 'last', seed: 10 });
  const embCases = [
    [(c) => { c.mask_zero = true; }, ["layer 'embedding' (Embedding)", 'mask_zero true', 'expected mask_zero false']],
    [(c) => { c.input_dim = 0; }, ["layer 'embedding' (Embedding)", 'input_dim 0']],
    [(c) => { c.input_dim = 8; }, ["layer 'embedding' (Embedding)", 'shape [7,3], expected [8,3]']],
    [(c, w) => { c.input_dim = 21; c.output_dim = 1; w.shape = [21, 1]; }, ["layer 'rnn_0' (GRU)", 'kernel has shape [3,15], expected [1,15]']],
  ];
  for (const [fn, says] of embCases) await expectError(() => loadTFJS(embEdit((ls, ws) => fn(ls[0].config, ws[0])), embSaved.weightData), 'E_FORMAT', says);
  await expectError(() => loadTFJS('{not json', saved.weightData), 'E_FORMAT', ['not valid JSON']);
  await expectError(() => loadTFJS(saved.modelJSON, 'weights.bin'), 'E_TYPE');
});

// ---- bidirectional layers (SPEC §11) ----

const BI_KINDS = KINDS.filter((k) => k.gruVariant !== 'reset-after');

test('bidirectional rnnlab -> TF.js (Bidirectional, concat) -> tf.loadLayersModel, and back', async (t) => {
  let seed = 140;
  for (const kind of BI_KINDS) {
    for (const layers of [1, 2]) {
      for (const output of ['sequence', 'last']) {
        const model = await randomModel({ ...kind, bidirectional: true }, { X, H, Y, layers, output, seed: seed++ });
        const saved = toTFJS(model);
        const first = saved.modelJSON.modelTopology.config.layers[0];
        assert.equal(first.class_name, 'Bidirectional');
        assert.equal(first.config.merge_mode, 'concat');
        assert.equal(first.config.layer.config.go_backwards, false);
        assert.equal(first.config.backward_layer.config.go_backwards, true);
        const tfModel = await tf.loadLayersModel(fromRnnlab({ modelJSON: JSON.parse(JSON.stringify(saved.modelJSON)), weightData: saved.weightData }));
        const x = randomArray(N * T * X, seed);
        const got = await tfjsPredict(tfModel, x);
        const want = model.predict(x, { shape: [N, T, X] }).output;
        assertClose(got, want, TOL, `bidirectional ${kind.label} L${layers} ${output}`);
        worstBiOut.record(kind.label, got, want);
        const back = await loadTFJS(JSON.stringify(saved.modelJSON), saved.weightData);
        assert.equal(back.config.bidirectional, true);
        assert.deepEqual(back.getParameters(), model.getParameters(), 'loadTFJS(toTFJS(model)) gives the parameters bit for bit');
        back.dispose();
        model.dispose();
        tfModel.dispose();
      }
    }
  }
  // GRU reset-after (reset_after true, for Keras): back into rnnlab bit for bit
  const ra = await randomModel({ ...KINDS[4], bidirectional: true }, { X, H, Y, layers: 2, output: 'last', seed: 7 });
  const raSaved = toTFJS(ra);
  const raBack = await loadTFJS(raSaved.modelJSON, raSaved.weightData);
  assert.deepEqual(raBack.getParameters(), ra.getParameters());
  raBack.dispose();
  ra.dispose();
  t.diagnostic(`max |rnnlab - TF.js|, bidirectional, rnnlab -> TF.js:\n${worstBiOut.table()}`);
});

// A tfjs Sequential of Bidirectional layers (tfjs writes only `layer`; the backward one is its go_backwards twin).
function tfjsBidirectional({ cls, layers, output, activation, seed }) {
  const m = tf.sequential();
  for (let l = 0; l < layers; l++) {
    const opts = { units: H, returnSequences: l < layers - 1 || output === 'sequence' };
    if (cls === 'simpleRNN') opts.activation = activation;
    else opts.recurrentActivation = 'sigmoid';
    m.add(tf.layers.bidirectional({ layer: tf.layers[cls](opts), mergeMode: 'concat', ...(l === 0 ? { inputShape: [null, X] } : {}) }));
  }
  m.add(output === 'sequence' ? tf.layers.timeDistributed({ layer: tf.layers.dense({ units: Y }) }) : tf.layers.dense({ units: Y }));
  let k = seed;
  m.setWeights(m.getWeights().map((w) => tf.tensor(randomArray(w.size, k++, 0.5), w.shape)));
  return m;
}

test('TF.js-built bidirectional models -> loadTFJS -> rnnlab equals TF.js', async (t) => {
  let seed = 170;
  const kinds = TFJS_KINDS;
  for (const [cls, activation, label] of kinds) {
    for (const layers of [1, 2]) {
      for (const output of ['sequence', 'last']) {
        const m = tfjsBidirectional({ cls, layers, output, activation, seed: seed++ });
        await checkLoaded(m, { label, layers, output, seed, worst: worstBiIn, bidirectional: true });
      }
    }
  }
  t.diagnostic(`max |rnnlab - TF.js|, bidirectional, TF.js -> rnnlab:\n${worstBiIn.table()}`);
});

test('Bidirectional refusals: merge modes other than concat, backward layers that differ, mixed directions', async () => {
  const { expectError } = await import('./helpers/expect-error.js');
  const { saved, edit } = await savedForEdits({ cell: 'lstm', bidirectional: true }, { X, H, Y, layers: 2, output: 'last', seed: 11 });
  const cases = [
    ...['sum', 'ave', 'mul', null].map((mode) => [(ls) => { ls[1].config.merge_mode = mode; }, ["layer 'rnn_1' (Bidirectional)", `merge_mode ${mode === null ? 'null' : `'${mode}'`}`, "expected 'concat'"]]),
    [(ls) => { ls[0].config.backward_layer.config.go_backwards = false; }, ["layer 'rnn_0' (Bidirectional), its backward_layer", 'go_backwards false, expected true']],
    [(ls) => { ls[0].config.layer.config.go_backwards = true; }, ["layer 'rnn_0' (Bidirectional), its layer", 'go_backwards true, expected false']],
    [(ls) => { ls[0].config.backward_layer.config.units = 4; }, ["layer 'rnn_0' (Bidirectional)", 'backward_layer differs']],
    [(ls) => { ls[0].config.backward_layer.class_name = 'GRU'; }, ["layer 'rnn_0' (Bidirectional)", 'backward_layer is a "GRU", its layer a LSTM']],
    [(ls) => { ls[0].config.layer = { class_name: 'Dense', config: { name: 'd' } }; }, ["layer 'rnn_0' (Bidirectional)", 'wraps a "Dense"']],
    [(ls) => { ls[1] = ls[1].config.layer; ls[1].config.name = 'rnn_1'; }, ["layer 'rnn_1' (LSTM)", 'direction']],
  ];
  for (const [fn, says] of cases) await expectError(() => loadTFJS(edit(fn), saved.weightData), 'E_FORMAT', says);
  const names = saved.modelJSON.weightsManifest[0].weights.map((w) => w.name);
  assert.ok(names.includes('rnn_0/forward_lstm_0/kernel') && names.includes('rnn_1/backward_lstm_1/bias'), names.join(' '));
  const json = JSON.parse(JSON.stringify(saved.modelJSON));
  json.weightsManifest[0].weights.find((w) => w.name === 'rnn_1/backward_lstm_1/recurrent_kernel').name = 'rnn_1/other/recurrent_kernel';
  await expectError(() => loadTFJS(json, saved.weightData), 'E_FORMAT', ["layer 'rnn_1' (Bidirectional) (backward)", "'recurrent_kernel' is missing"]);
});

test("Bidirectional weights under Keras's names (tensorflowjs_converter: <wrapper>/forward_lstm/lstm_cell/kernel) load too", async () => {
  const model = await randomModel({ cell: 'lstm', bidirectional: true }, { X, H, Y, layers: 2, output: 'sequence', seed: 12 });
  const saved = toTFJS(model);
  const json = JSON.parse(JSON.stringify(saved.modelJSON));
  for (const w of json.weightsManifest[0].weights) w.name = w.name.replace(/(forward|backward)_lstm_\d\//, '$1_lstm/lstm_cell/');
  assert.ok(json.weightsManifest[0].weights.some((w) => w.name === 'rnn_1/backward_lstm/lstm_cell/recurrent_kernel'));
  const back = await loadTFJS(json, saved.weightData);
  assert.deepEqual(back.getParameters(), model.getParameters());
  back.dispose();
  model.dispose();
});
