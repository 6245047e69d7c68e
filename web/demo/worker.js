// The training worker: owns the models and the task data, trains in slices of
// about 30 ms, and posts what the page plots. The main thread never trains.
//
// Protocol (main → worker): init, text, build, run, pause, step, hyper,
// sample, save, export, safetensors, onnx, tfjs, load, experiment. Worker →
// main: ready, text-ready, built, progress, diag, running, sampled, file,
// notice, error, experiment-started, experiment-measuring, experiment-result.
// See app.js.

import { init, createModel, loadModel, Vocabulary, softmax, weightsToJSON, encodeSafetensors } from '../rnnlab.js';
import { toONNX, useProtobuf } from '../onnx.js';
import { toTFJS } from '../tfjs.js';
import { createTask, exampleIds } from './tasks.js';
import { generateCorpus } from './corpus.js';
import { prepareText, MAX_TEXT_CHARS } from './text.js';
import { experimentById, measureExperiment, modelOptions } from './experiments.js';

const SLICE_MS = 30;          // train this long between looks at the mailbox
const PROGRESS_MS = 100;      // post step records this often
const DIAG_INTERVAL_MS = 500; // validation, spectral norms, gate traces
const MAX_MODEL_FILE_BYTES = 256 * 1024 * 1024;
const TEXT_READ_BYTES = 4 * MAX_TEXT_CHARS; // UTF-8 needs at most 4 bytes a character
const GIVE_UP_AFTER_SKIPS = 10;
const FLOW_SMOOTHING = 0.2;   // weight of the newest step in the flow average
const SCATTER_EXAMPLES = 64;  // adding problem: predictions shown against targets

const CELL_LABELS = { rnn: 'RNN', lstm: 'LSTM', gru: 'GRU' };

let settings = null;  // structural settings of the current run
let hyper = null;     // live settings: optimiser, lr, clipping, batch, TBPTT
let task = null;
let entries = [];     // one per model: { id, cell, label, model, ...running stats }
let steps = 0;        // optimiser steps taken by each model
let running = false;
let pending = null;   // step records since the last progress message
let lastDiag = 0;
let corpus = null;    // the built-in text, prepared once
let userText = null;  // the user's text, prepared

// ---- mailbox ---------------------------------------------------------------

// protobufjs for rnnlab/onnx: its minimal browser build, served under /vendor/,
// sets self.protobuf when run (a worker cannot resolve the bare 'protobufjs').
let protobufLoaded = false;
async function protobufForOnnx() {
  if (protobufLoaded) return;
  await import('../vendor/protobuf.minimal.js');
  useProtobuf(self.protobuf);
  protobufLoaded = true;
}

const handlers = {
  async init() {
    const { simd, threads, threadsUnavailable } = await init();
    await warmUp();
    post({ type: 'ready', simd, threads, threadsUnavailable });
  },
  async text({ text, file }) {
    userText = null;
    // Of a file, only the part that can be used is read, however large it is.
    const raw = file ? await file.slice(0, TEXT_READ_BYTES).text() : text;
    userText = prepareCharacters(raw);
    if (file && file.size > TEXT_READ_BYTES) userText.fileBytes = file.size;
    post({ type: 'text-ready', info: describeText(userText), preview: userText.text.slice(0, 4000) });
  },
  async build({ settings: next, hyper: nextHyper }) {
    stop();
    // Everything new is made first; the current run is replaced only when
    // all of it worked, so a bad setting leaves the old run as it was.
    const nextTask = makeTask(next);
    const made = await makeModels(next, nextTask);
    commitRun(next, nextHyper, nextTask, made);
    announceBuilt(null);
  },
  run() {
    if (!running && entries.length) { running = true; post({ type: 'running', running }); loop(); }
  },
  pause() {
    const wasRunning = running;
    stop();
    if (wasRunning) diagnose(); // the figures shown then match the weights kept
  },
  step() {
    if (!entries.length) return;
    stop();
    trainRound();
    flush();
    diagnose();
  },
  hyper({ hyper: next }) {
    hyper = next;
    for (const entry of entries) entry.trainer.update(trainerOptions());
  },
  // A guided experiment (experiments.js): a new run from the settings, trained
  // a bounded number of steps as Train would, then measured.
  async experiment({ id, settings: next, hyper: nextHyper }) {
    const experiment = experimentById(id);
    if (!experiment) throw new Error(`unknown experiment ${JSON.stringify(id)}`);
    await handlers.build({ settings: next, hyper: nextHyper });
    for (const entry of entries) entry.history = [];
    post({ type: 'experiment-started', id, steps: experiment.steps });
    await trainBounded(experiment.steps);
    flush();
    diagnose();
    post({ type: 'experiment-measuring', id });
    const runs = entries.map((entry) => ({ cell: entry.cell, model: entry.model, infos: entry.history }));
    const result = await measureExperiment(id, { lib: { createModel }, settings, hyper, task, runs });
    for (const entry of entries) entry.history = null;
    post({ type: 'experiment-result', id, result });
  },
  // Each model's gradients against finite differences, on a few validation sequences.
  gradcheck() {
    if (!entries.length) throw new Error('there is no model yet: press Reset or Train');
    const batch = sliceBatch(task.validation, 4);
    const results = entries.map((entry) => {
      const r = entry.model.gradcheck(batch, { samples: 4 });
      const [tensor] = Object.entries(r.tensors).reduce((a, b) => (b[1].maxRelError > a[1].maxRelError ? b : a));
      return { label: entry.label, ok: r.ok, maxRelError: r.maxRelError, tensor, tolerance: r.tolerance };
    });
    post({ type: 'gradchecked', results });
  },
  sample({ id, temperature, length, prime }) {
    const entry = findEntry(id);
    if (!task?.vocab) throw new Error('sampling needs the character language model task');
    const known = [...prime].filter((ch) => task.vocab.chars.includes(ch)).join('');
    const text = entry.model.sample({
      prime: known || task.vocab.decode([task.example.y[0]]),
      length, temperature, vocab: task.vocab, seed: steps + 1,
    });
    post({ type: 'sampled', id, text, prime: known });
  },
  save({ id }) {
    const entry = findEntry(id);
    // The task's settings and, for a character model, its alphabet travel
    // with the weights, so loading it back uses the same data and encoding.
    const metadata = {
      savedBy: 'rnnlab page',
      task: {
        name: settings.task, seqLength: settings.seqLength, patternLength: settings.patternLength,
        horizon: settings.horizon, textSource: settings.textSource,
      },
      alphabet: task.vocab ? task.vocab.chars.join('') : null,
      steps,
    };
    const bytes = entry.model.save({ optimizer: true, metadata });
    const name = `rnnlab-${entry.cell}-${settings.task}-step${steps}.rnnlab`;
    post({ type: 'file', name, mime: 'application/octet-stream', bytes }, [bytes.buffer]);
  },
  // The weights in the library's own formats: JSON that weightsFromJSON reads
  // back, and safetensors for PyTorch (both under PyTorch's state-dict names).
  export({ id }) {
    const entry = findEntry(id);
    const { cell, hiddenSize, layers } = entry.model.config;
    const metadata = { savedBy: 'rnnlab page', cell, hiddenSize: String(hiddenSize), layers: String(layers), task: settings.task };
    const bytes = new TextEncoder().encode(weightsToJSON(entry.model.exportWeights(), { metadata }));
    const name = `rnnlab-${entry.cell}-${settings.task}-weights.json`;
    post({ type: 'file', name, mime: 'application/json', bytes }, [bytes.buffer]);
  },
  safetensors({ id }) {
    const entry = findEntry(id);
    const bytes = encodeSafetensors(entry.model.exportWeights(), { savedBy: 'rnnlab page', task: settings.task });
    const name = `rnnlab-${entry.cell}-${settings.task}-weights.safetensors`;
    post({ type: 'file', name, mime: 'application/octet-stream', bytes }, [bytes.buffer]);
  },
  // The model for other runtimes: ONNX (onnxruntime, PyTorch's exporter's
  // format) and the TensorFlow.js Layers format.
  async onnx({ id }) {
    const entry = findEntry(id);
    await protobufForOnnx();
    const bytes = await toONNX(entry.model);
    const name = `rnnlab-${entry.cell}-${settings.task}.onnx`;
    post({ type: 'file', name, mime: 'application/octet-stream', bytes }, [bytes.buffer]);
  },
  // Two downloads, model.json and its weights: tf.loadLayersModel reads the
  // model.json from a URL and fetches the weights file beside it by the name
  // in its manifest, which is this download's (no archive format needed).
  tfjs({ id }) {
    const entry = findEntry(id);
    const { modelJSON, weightData } = toTFJS(entry.model);
    const base = `rnnlab-${entry.cell}-${settings.task}`;
    modelJSON.weightsManifest[0].paths = [`${base}.weights.bin`];
    const json = new TextEncoder().encode(JSON.stringify(modelJSON));
    post({ type: 'file', name: `${base}.model.json`, mime: 'application/json', bytes: json }, [json.buffer]);
    const bytes = new Uint8Array(weightData);
    post({ type: 'file', name: `${base}.weights.bin`, mime: 'application/octet-stream', bytes }, [bytes.buffer]);
  },
  async load({ file, settings: current, hyper: nextHyper, ranges }) {
    if (file.size > MAX_MODEL_FILE_BYTES) {
      throw new Error(`${file.name} is ${formatBytes(file.size)}; model files up to ${formatBytes(MAX_MODEL_FILE_BYTES)} are read`);
    }
    const bytes = new Uint8Array(await file.arrayBuffer());
    const model = await loadModel(bytes); // the library checks the file
    try {
      const config = model.config;
      const fits = taskFor(config, current);
      if (!fits) {
        throw new Error(`${file.name} holds a ${CELL_LABELS[config.cell]} with ${inputsOf(config)} and ${config.outputSize} outputs (${config.loss}, ${config.output}); no task here has that shape`);
      }
      const saved = pageMetadata(model.metadata, fits.task, ranges);
      const next = {
        ...current, ...fits, ...saved.task, cell: config.cell, hiddenSize: config.hiddenSize, layers: config.layers,
        activation: config.activation, gruVariant: config.gruVariant, recurrentInit: config.recurrentInit,
        recurrentScale: config.recurrentScale, forgetBiasOne: config.forgetBiasOne, seed: config.seed,
        bidirectional: config.bidirectional, dropout: config.recurrentDropout,
      };
      const nextTask = makeTask(next);
      if (saved.alphabet !== null && nextTask.vocab && saved.alphabet !== nextTask.vocab.chars.join('')) {
        throw new Error(`${file.name} was trained on another alphabet (${preview(saved.alphabet)}) than the current text's (${preview(nextTask.vocab.chars.join(''))}); load the text it was trained on first`);
      }
      if (nextTask.model.outputSize !== config.outputSize) {
        throw new Error(`${file.name} expects an alphabet of ${config.outputSize} characters; the current text has ${nextTask.model.outputSize}`);
      }
      stop();
      commitRun(next, nextHyper, nextTask, [makeEntry(model, config.cell, `${CELL_LABELS[config.cell]} (loaded)`)]);
    } catch (error) {
      model.dispose();
      throw error;
    }
    announceBuilt(file.name);
  },
};

// Messages are handled one after another: a 'run' sent right after a 'build'
// waits for the models to exist. The training loop itself is not a handler,
// so 'pause' still gets through while it runs.
let queue = Promise.resolve();
self.onmessage = (event) => {
  const message = event.data;
  queue = queue.then(() => handleMessage(message));
};

async function handleMessage(message) {
  const handler = handlers[message?.type];
  if (!handler) { post({ type: 'error', message: `unknown message ${message?.type}` }); return; }
  try {
    await handler(message);
  } catch (error) {
    stop();
    post({
      type: 'error', during: message.type,
      code: error?.code ?? null,
      message: String(error?.message ?? error),
    });
  }
}

function post(message, transfer) {
  self.postMessage(message, transfer ?? []);
}

// ---- building --------------------------------------------------------------

function prepareCharacters(raw) {
  const prepared = prepareText(raw);
  const vocab = Vocabulary.fromText(prepared.text);
  return { ...prepared, vocab, ids: vocab.encode(prepared.text) };
}

function describeText(prepared) {
  return {
    length: prepared.text.length,
    originalLength: prepared.originalLength,
    truncated: prepared.truncated,
    replacedKinds: prepared.replacedKinds,
    vocabSize: prepared.vocab.size,
    fileBytes: prepared.fileBytes ?? null,
  };
}

// The task for these settings, with its data; the character task takes the
// built-in corpus or the user's prepared text.
function makeTask(next) {
  let text = null;
  if (next.task === 'chars') {
    if (next.textSource === 'user') {
      if (!userText) throw new Error('paste or drop a text first, or choose the built-in corpus');
      text = userText;
    } else {
      corpus ??= prepareCharacters(generateCorpus({ length: 80000, seed: 7 }));
      text = corpus;
    }
  }
  const made = createTask({ ...next, ids: text?.ids, vocabSize: text?.vocab.size });
  if (text) { made.vocab = text.vocab; made.textInfo = describeText(text); }
  if (made.name === 'adding') made.scatter = sliceBatch(made.validation, SCATTER_EXAMPLES);
  return made;
}

async function makeModels(next, nextTask) {
  const cells = next.cell === 'all' ? ['rnn', 'lstm', 'gru'] : [next.cell];
  const made = [];
  try {
    for (const cell of cells) {
      const model = await createModel({
        ...modelOptions(next, nextTask, cell), // the character task's models read ids through an embedding
        // SPEC §11, §12: the page's dropout p goes on x_t and h_{t-1} (Keras-style, one mask per sequence)
        bidirectional: Boolean(next.bidirectional),
        inputDropout: next.dropout ?? 0,
        recurrentDropout: next.dropout ?? 0,
      });
      made.push(makeEntry(model, cell, CELL_LABELS[cell]));
    }
  } catch (error) {
    for (const entry of made) entry.model.dispose();
    throw error;
  }
  return made;
}

// Makes the new run the current one and frees the old models.
function commitRun(next, nextHyper, nextTask, made) {
  disposeModels();
  settings = next;
  hyper = nextHyper;
  task = nextTask;
  entries = made;
  for (const entry of entries) entry.trainer = entry.model.trainer(null, trainerOptions());
  steps = 0;
  pending = null;
}

function makeEntry(model, cell, label) {
  return {
    id: `${cell}-${Math.random().toString(36).slice(2, 8)}`,
    cell, label, model,
    msPerStep: null, clippedCount: 0, skippedCount: 0, skipsInARow: 0,
    diverged: false, firstLoss: null, lossAverage: null, reachedAt: null,
    flowLog: null, flowLogC: null, val: null, history: null,
  };
}

function announceBuilt(loadedFrom) {
  post({
    type: 'built',
    loadedFrom,
    settings,
    task: {
      name: task.name, T: task.model.T,
      inputSize: task.model.inputSize, outputSize: task.model.outputSize,
      embedding: task.model.embedding ?? null,
      output: task.model.output, loss: task.model.loss,
      target: task.target, baseline: task.baseline,
      patternLength: task.patternLength ?? null, gap: task.gap ?? null, horizon: task.horizon ?? null,
      text: task.textInfo ?? null,
      markers: exampleMarkers(),
    },
    cells: entries.map((entry) => ({
      id: entry.id, cell: entry.cell, label: entry.label,
      params: entry.model.parameterCount(),
      layers: entry.model.config.layers,
      hiddenSize: entry.model.config.hiddenSize,
    })),
  });
  diagnose();
}

// Steps of the heatmap example worth flagging: the two marked numbers of the
// adding problem, or the pattern and the go signal of the copy task.
function exampleMarkers() {
  const { x } = task.example;
  const { T, inputSize: X } = task.model;
  const markers = [];
  if (task.name === 'adding') {
    for (let t = 0; t < T; t++) if (x[2 * t + 1] > 0) markers.push(t);
  } else if (task.name === 'copy') {
    for (let t = 0; t < T; t++) {
      const row = x.subarray(t * X, (t + 1) * X);
      if (row.some((v) => v > 0)) markers.push(t);
    }
  }
  return markers;
}

function disposeModels() {
  for (const entry of entries) entry.model.dispose();
  entries = [];
}

// The task a loaded model fits. A character model reads ids through an
// embedding (as the page builds them) or, saved before that, one-hot vectors.
function taskFor(config, current) {
  const { inputSize: X, outputSize: Y, output, loss, embedding } = config;
  const chars = { task: 'chars', textSource: current.textSource, embeddingSize: embedding ? embedding.size : 0 };
  if (loss === 'cross-entropy' && output === 'sequence' && (embedding ? embedding.vocabSize : X) === Y) return chars;
  if (embedding) return null;
  if (loss === 'mse' && output === 'last' && X === 2 && Y === 1) return { task: 'adding' };
  if (loss === 'mse' && output === 'sequence' && X === 1 && Y === 1) return { task: 'sines' };
  if (loss === 'cross-entropy' && output === 'sequence' && X === 9 && Y === 8) return { task: 'copy' };
  return null;
}

// "8 inputs", or "ids of 40 symbols through an embedding of 16".
function inputsOf(config) {
  const e = config.embedding;
  return e ? `ids of ${e.vocabSize} symbols through an embedding of ${e.size}` : `${config.inputSize} inputs`;
}

// What the page saved with a model (see save), checked field by field: a
// file from elsewhere may carry any metadata, or none. `ranges` holds the
// form's [min, max] of each task field.
function pageMetadata(metadata, taskName, ranges) {
  const out = { task: {}, alphabet: null };
  if (!metadata || typeof metadata !== 'object' || metadata.savedBy !== 'rnnlab page') return out;
  const t = metadata.task ?? {};
  if (t.name !== taskName) return out;
  for (const [key, [lo, hi]] of Object.entries(ranges)) {
    if (Number.isInteger(t[key]) && t[key] >= lo && t[key] <= hi) out.task[key] = t[key];
  }
  // The built-in text can always be made again; a user's text must be given.
  if (t.textSource === 'builtin') out.task.textSource = 'builtin';
  if (typeof metadata.alphabet === 'string' && metadata.alphabet.length > 0) out.alphabet = metadata.alphabet;
  return out;
}

function preview(alphabet) {
  const chars = Array.from(alphabet);
  const shown = JSON.stringify(chars.slice(0, 24).join(''));
  return `${chars.length} characters: ${shown}${chars.length > 24 ? '…' : ''}`;
}

function findEntry(id) {
  const entry = entries.find((e) => e.id === id) ?? entries[0];
  if (!entry) throw new Error('there is no model yet: press Reset or Train');
  return entry;
}

// ---- warm-up ---------------------------------------------------------------

// V8 first runs WebAssembly from its baseline compiler, and recompiles the
// functions that turn out hot with its optimising compiler on background
// threads. Left to the first press of Train, that recompilation takes a few
// hundred ms of CPU just when training starts, and on a two-core machine the
// page's own thread waits for it. A few steps of every cell here, throwaway
// models on throwaway data, move it to start-up.
const WARM_UP_STEPS = 12;

async function warmUp() {
  const [B, T, X, H] = [16, 40, 2, 32];
  const x = new Float32Array(B * T * X).map((_, i) => Math.sin(i));
  const y = new Float32Array(B).map((_, i) => Math.cos(i));
  const batch = { x, y, shape: [B, T, X] };
  for (const cell of ['rnn', 'lstm', 'gru']) {
    const model = await createModel({ cell, inputSize: X, hiddenSize: H, outputSize: 1, output: 'last', seed: 1 });
    try {
      for (let i = 0; i < WARM_UP_STEPS; i++) model.trainStep(batch, { optimizer: 'adam' });
      model.evaluate(batch);
      model.gateTrace(x.subarray(0, T * X), { shape: [1, T, X] });
      model.spectralNorms();
    } finally {
      model.dispose();
    }
  }
}

// ---- training --------------------------------------------------------------

function stop() {
  if (running) { running = false; flush(); post({ type: 'running', running }); }
}

const yieldChannel = new MessageChannel();
const yieldWaiters = [];
yieldChannel.port1.onmessage = () => yieldWaiters.shift()?.();
// Lets queued messages (pause, hyper, ...) in without the 4 ms setTimeout clamp.
function yieldToMailbox() {
  return new Promise((resolve) => { yieldWaiters.push(resolve); yieldChannel.port2.postMessage(0); });
}

async function loop() {
  while (running) {
    const sliceStart = performance.now();
    try {
      do { trainRound(); } while (running && performance.now() - sliceStart < SLICE_MS);
      if (performance.now() - pending.since >= PROGRESS_MS) flush();
      if (performance.now() - lastDiag > DIAG_INTERVAL_MS) diagnose();
      if (entries.every((e) => e.diverged)) {
        stop();
        post({ type: 'notice', message: 'every model diverged: lower the learning rate or turn clipping on, then Reset' });
      }
    } catch (error) {
      stop();
      post({ type: 'error', during: 'training', code: error?.code ?? null, message: String(error?.message ?? error) });
      return;
    }
    await yieldToMailbox();
  }
}

// Trains until `total` steps (an experiment's run), in slices like loop().
async function trainBounded(total) {
  while (steps < total && entries.some((e) => !e.diverged)) {
    const sliceStart = performance.now();
    do { trainRound(); } while (steps < total && entries.some((e) => !e.diverged) && performance.now() - sliceStart < SLICE_MS);
    if (performance.now() - pending.since >= PROGRESS_MS) flush();
    if (performance.now() - lastDiag > DIAG_INTERVAL_MS) diagnose();
    await yieldToMailbox();
  }
}

// The page's live settings as the library's trainer options. A step whose
// loss or gradients are not finite is skipped (the page shows it) rather
// than ending the run.
function trainerOptions() {
  return {
    optimizer: { type: hyper.optimizer, lr: hyper.lr },
    clipNorm: hyper.clip ? hyper.tau : 0,
    // a bidirectional model reads each sequence whole (SPEC §11): no TBPTT windows
    tbptt: hyper.tbptt > 0 && !settings?.bidirectional ? hyper.tbptt : null,
    onNonFinite: 'skip',
  };
}

/** One batch for every model, trained by the library's Trainer: the same data, one step per TBPTT window. */
function trainRound() {
  const batch = task.batch(hyper.batchSize);
  pending ??= newPending();
  const rounds = entries.map((entry) => {
    if (entry.diverged) return null;
    const started = performance.now();
    const infos = entry.trainer.trainOn(batch);
    return { infos, ms: (performance.now() - started) / Math.max(1, infos.length) };
  });
  const learning = Math.max(0, ...rounds.map((r) => r?.infos.length ?? 0));
  for (let i = 1; i <= learning; i++) pending.steps.push(steps + i);
  entries.forEach((entry, k) => {
    const record = pending.cells[entry.id] ??= newRecord();
    if (!rounds[k]) { for (let i = 0; i < learning; i++) pushStep(record, null); return; }
    for (const info of rounds[k].infos) noteStep(entry, record, info, rounds[k].ms);
  });
  steps += learning;
  pending.trainSteps += rounds.reduce((n, r) => n + (r ? r.infos.length : 0), 0);
}

// One step's record, and the entry's running figures.
function noteStep(entry, record, info, ms) {
  entry.history?.push(info);
  if (info.skipped) {
    entry.skippedCount++;
    entry.skipsInARow++;
    if (entry.skipsInARow >= GIVE_UP_AFTER_SKIPS && !entry.diverged) {
      entry.diverged = true;
      post({ type: 'notice', message: `${entry.label} diverged at step ${steps}: its loss or gradients are no longer finite. Try clipping, a smaller learning rate or a smaller init scale.` });
    }
    pushStep(record, null);
    return;
  }
  entry.skipsInARow = 0;
  entry.msPerStep = entry.msPerStep === null ? ms : 0.9 * entry.msPerStep + 0.1 * ms;
  if (info.clipped) entry.clippedCount++;
  if (entry.firstLoss === null) entry.firstLoss = info.loss;
  entry.lossAverage = entry.lossAverage === null ? info.loss : 0.95 * entry.lossAverage + 0.05 * info.loss;
  pushStep(record, info);
  mixFlow(entry, info);
}

function newPending() {
  return { since: performance.now(), trainSteps: 0, steps: [], cells: {} };
}

function newRecord() {
  return { loss: [], gradNorm: [], gradNormAfter: [], clipped: [], accuracy: [] };
}

function pushStep(record, info) {
  record.loss.push(info ? info.loss : null);
  record.gradNorm.push(info ? info.gradNorm : null);
  record.gradNormAfter.push(info ? info.gradNormAfter : null);
  record.clipped.push(info ? (info.clipped ? 1 : 0) : null);
  record.accuracy.push(info?.accuracy ?? null);
}

// Gradient flow: g_t / g_T against lag T - t, averaged over recent steps in
// log space so one noisy batch does not make the curve jump.
function mixFlow(entry, info) {
  entry.flowLog = mixFlowLayers(entry.flowLog, info.flow);
  if (info.flowC) entry.flowLogC = mixFlowLayers(entry.flowLogC, info.flowC);
}

function mixFlowLayers(average, layers) {
  if (!layers?.length) return average;
  if (!average || average.length !== layers.length || average[0].length !== layers[0].length) {
    average = layers.map((g) => new Float64Array(g.length).fill(NaN));
  }
  layers.forEach((g, l) => {
    const T = g.length;
    const reference = g[T - 1] > 0 ? g[T - 1] : Math.max(...g);
    if (!(reference > 0)) return;
    const row = average[l];
    for (let lag = 0; lag < T; lag++) {
      const value = Math.log(Math.max(g[T - 1 - lag] / reference, 1e-30));
      row[lag] = Number.isNaN(row[lag]) ? value : (1 - FLOW_SMOOTHING) * row[lag] + FLOW_SMOOTHING * value;
    }
  });
  return average;
}

function flowOut(average) {
  return average?.map((row) => Float32Array.from(row, (v) => (Number.isNaN(v) ? NaN : Math.exp(v))));
}

function flush() {
  if (!pending || !pending.steps.length) return;
  const elapsed = performance.now() - pending.since;
  post({
    type: 'progress',
    steps: pending.steps,
    stepsPerSecond: elapsed > 0 ? (1000 * pending.trainSteps) / elapsed : null,
    cells: entries.map((entry) => ({
      id: entry.id,
      record: pending.cells[entry.id] ?? newRecord(),
      msPerStep: entry.msPerStep,
      clippedCount: entry.clippedCount,
      skippedCount: entry.skippedCount,
      diverged: entry.diverged,
      firstLoss: entry.firstLoss,
      lossAverage: entry.lossAverage,
      flow: flowOut(entry.flowLog),
      flowC: flowOut(entry.flowLogC),
    })),
    totalSteps: steps,
  });
  pending = newPending();
}

// ---- diagnostics -----------------------------------------------------------

function diagnose() {
  lastDiag = performance.now();
  if (!task || !entries.length) return;
  const cells = entries.map((entry) => {
    const val = entry.model.evaluate(task.validation, { batchSize: 128 });
    const reached = task.target.metric === 'loss'
      ? val.loss < task.target.value
      : (val.accuracy ?? 0) >= task.target.value;
    if (reached && entry.reachedAt === null && steps > 0) entry.reachedAt = steps;
    entry.val = val;
    return {
      id: entry.id,
      val,
      reachedAt: entry.reachedAt,
      spectral: entry.model.spectralNorms(),
      trace: gateTrace(entry),
      prediction: prediction(entry),
    };
  });
  const transfer = [];
  for (const cell of cells) {
    for (const layer of cell.trace.layers) {
      for (const array of Object.values(layer)) transfer.push(array.buffer);
    }
  }
  post({ type: 'diag', step: steps, cells }, transfer);
}

// Activations of one example, per layer: the sigmoid gates and the states.
function gateTrace(entry) {
  const { shape } = task.example;
  const trace = entry.model.gateTrace(task.example.x, { shape });
  const [, T, H] = trace.shape;
  return {
    T, H,
    layers: trace.layers.map((layer) => {
      const out = {};
      for (const [name, values] of Object.entries(layer.gates)) out[name] = values.slice();
      out.h = layer.h.slice();
      if (layer.c) out.c = layer.c.slice();
      return out;
    }),
    saturation: trace.layers.map((layer) => layer.saturation),
  };
}

// The example's prediction next to its target, in whatever form the task suits.
function prediction(entry) {
  const T = task.model.T;
  if (task.name === 'adding') {
    const { x, shape, y } = task.scatter;
    const out = entry.model.predict(x, { shape }).output;
    return { kind: 'scatter', target: Array.from(y), output: Array.from(out) };
  }
  const { x, shape, y } = task.example;
  const out = entry.model.predict(x, { shape }).output;
  if (task.name === 'sines') {
    return { kind: 'series', input: Array.from(x), target: Array.from(y), output: Array.from(out) };
  }
  const classes = task.model.outputSize;
  if (task.name === 'copy') {
    const predicted = [];
    const target = [];
    for (let t = 0; t < T; t++) {
      const counts = task.example.mask[t] > 0;
      predicted.push(counts ? argmax(out, t * classes, classes) : null);
      target.push(counts ? y[t] : null);
    }
    return { kind: 'classes', target, output: predicted, classes };
  }
  // Character model: probability given to the character that actually came next.
  const probability = [];
  for (let t = 0; t < T; t++) probability.push(softmax(out.subarray(t * classes, (t + 1) * classes))[y[t]]);
  const text = task.vocab.decode(exampleIds(task, task.example));
  return { kind: 'chars', probability, text, next: task.vocab.decode(Array.from(y)) };
}

function argmax(values, offset, n) {
  let best = 0;
  for (let k = 1; k < n; k++) if (values[offset + k] > values[offset + best]) best = k;
  return best;
}

// The first `count` sequences of a batch (x [N, T, X], or ids [N, T]), without its mask.
function sliceBatch(batch, count) {
  const N = batch.shape[0];
  const n = Math.min(N, count);
  const perX = batch.x.length / N;
  const perY = batch.y.length / N;
  return { x: batch.x.slice(0, n * perX), shape: [n, ...batch.shape.slice(1)], y: batch.y.slice(0, n * perY) };
}

function formatBytes(n) {
  return n >= 1048576 ? `${(n / 1048576).toFixed(1)} MB` : `${Math.ceil(n / 1024)} kB`;
}
