// The page's tasks. Each one makes batches from a seeded generator, a fixed
// validation set, one fixed example for the gate heatmaps, and says what model
// it needs and what "solved" means. No library import: plain typed arrays.

import { createRandom } from './random.js';

export const TASKS = {
  adding: 'Adding problem',
  copy: 'Copy / delayed recall',
  sines: 'Sine forecasting',
  chars: 'Character language model',
};

const VALIDATION_SIZE = 128;

/**
 * A task from the page's settings:
 *   { task, seqLength, seed, patternLength, horizon } and, for 'chars',
 *   { ids: Int32Array, vocabSize } (the text already encoded) and optionally
 *   embeddingSize (see charTask).
 */
export function createTask(settings) {
  switch (settings.task) {
    case 'adding': return addingTask(settings);
    case 'copy': return copyTask(settings);
    case 'sines': return sinesTask(settings);
    case 'chars': return charTask(settings);
    default: throw new Error(`unknown task ${JSON.stringify(settings.task)}`);
  }
}

// The inputs of B sequences: one id a step for a model with an embedding
// (shape [B, T]), else a vector of inputSize a step ([B, T, X]).
function emptyInputs(task, B) {
  const { T, inputSize: X, embedding } = task.model;
  return embedding ? { x: new Int32Array(B * T), shape: [B, T] } : { x: new Float32Array(B * T * X), shape: [B, T, X] };
}

// Fills B sequences with `fill(random, b, x, y, mask)` into fresh arrays.
function makeBatch(task, random, B) {
  const { T, outputSize: Y } = task.model;
  const last = task.model.output === 'last';
  const classes = task.model.loss === 'cross-entropy';
  const { x, shape } = emptyInputs(task, B);
  const yLength = classes ? (last ? B : B * T) : (last ? B * Y : B * T * Y);
  const y = classes ? new Int32Array(yLength) : new Float32Array(yLength);
  const mask = task.masked ? new Float32Array(B * T) : null;
  for (let b = 0; b < B; b++) task.fill(random, b, x, y, mask);
  const batch = { x, shape, y };
  if (mask) batch.mask = mask;
  return batch;
}

function finishTask(task, seed) {
  const trainRandom = createRandom(seed);
  const validationRandom = createRandom(seed ^ 0x5bd1e995);
  task.batch = (B) => makeBatch(task, trainRandom, B);
  task.validation = makeBatch(task, validationRandom, VALIDATION_SIZE);
  task.example = sliceExample(task, task.validation, 0);
  return task;
}

/** Sequence `b` of a batch as a batch of one. */
export function sliceExample(task, batch, b) {
  const { T, outputSize: Y } = task.model;
  const last = task.model.output === 'last';
  const classes = task.model.loss === 'cross-entropy';
  const yStride = classes ? (last ? 1 : T) : (last ? Y : T * Y);
  const xStride = batch.x.length / batch.shape[0];
  const example = {
    x: batch.x.slice(b * xStride, (b + 1) * xStride),
    shape: [1, ...batch.shape.slice(1)],
    y: batch.y.slice(b * yStride, (b + 1) * yStride),
  };
  if (batch.mask) example.mask = batch.mask.slice(b * T, (b + 1) * T);
  return example;
}

// ---- Adding problem -------------------------------------------------------
// Two channels: a value in [0, 1) and a marker. Exactly two steps are marked,
// one in each half; the target is the sum of their values, read at the end.
// Always answering 1 gives MSE 1/6 ≈ 0.167, the bar to get under.
function addingTask({ seqLength: T, seed }) {
  const task = {
    name: 'adding',
    model: { T, inputSize: 2, outputSize: 1, output: 'last', loss: 'mse' },
    baseline: 1 / 6,
    target: { metric: 'loss', value: 0.01, label: 'val MSE < 0.01' },
    fill(random, b, x, y) {
      const base = b * T * 2;
      for (let t = 0; t < T; t++) x[base + 2 * t] = random.next();
      const half = Math.max(1, Math.floor(T / 2));
      const first = random.int(half);
      const second = Math.min(T - 1, half + random.int(T - half));
      x[base + 2 * first + 1] = 1;
      x[base + 2 * second + 1] = 1;
      y[b] = x[base + 2 * first] + x[base + 2 * second];
    },
  };
  return finishTask(task, seed);
}

// ---- Copy / delayed recall ------------------------------------------------
// S symbols (one-hot, K kinds), a silent gap, a "go" flag on the last gap step,
// then the S symbols must be reproduced. Only the recall steps count.
// Chance accuracy is 1/K.
export const COPY_SYMBOLS = 8;

function copyTask({ seqLength: T, patternLength: S, seed }) {
  const K = COPY_SYMBOLS;
  const X = K + 1;
  const gap = T - 2 * S;
  if (S < 1 || gap < 1) {
    throw new Error(`copy task: length ${T} leaves no gap for a pattern of ${S}; use a length of at least ${2 * S + 1}`);
  }
  const task = {
    name: 'copy',
    model: { T, inputSize: X, outputSize: K, output: 'sequence', loss: 'cross-entropy' },
    masked: true,
    gap,
    patternLength: S,
    baseline: Math.log(K),
    target: { metric: 'accuracy', value: 0.9, label: 'val accuracy ≥ 90%' },
    fill(random, b, x, y, mask) {
      const xBase = b * T * X;
      for (let s = 0; s < S; s++) {
        const symbol = random.int(K);
        x[xBase + s * X + symbol] = 1;
        y[b * T + S + gap + s] = symbol;
        mask[b * T + S + gap + s] = 1;
      }
      x[xBase + (S + gap - 1) * X + K] = 1;
    },
  };
  return finishTask(task, seed);
}

// ---- Sine forecasting -----------------------------------------------------
// A sum of two sines with random frequency, amplitude and phase, plus noise on
// the input; the target is the clean signal `horizon` steps ahead.
function sinesTask({ seqLength: T, horizon, seed }) {
  const task = {
    name: 'sines',
    model: { T, inputSize: 1, outputSize: 1, output: 'sequence', loss: 'mse' },
    horizon,
    // Mean variance of the clean signal: two sines, amplitude uniform in [0.3, 1).
    baseline: 2 * ((1 - 0.3 ** 3) / (3 * 0.7)) / 2,
    target: { metric: 'loss', value: 0.05, label: 'val MSE < 0.05' },
    fill(random, b, x, y) {
      const parts = [0, 1].map(() => ({
        frequency: random.uniform(0.02, 0.12),
        amplitude: random.uniform(0.3, 1),
        phase: random.uniform(0, 2 * Math.PI),
      }));
      const signal = (t) => parts.reduce(
        (sum, p) => sum + p.amplitude * Math.sin(2 * Math.PI * p.frequency * t + p.phase), 0);
      for (let t = 0; t < T; t++) {
        x[b * T + t] = signal(t) + 0.05 * random.normal();
        y[b * T + t] = signal(t + horizon);
      }
    },
  };
  return finishTask(task, seed);
}

// ---- Character language model ---------------------------------------------
// Windows of the encoded text; y is the next character. The model reads each
// character as its id, which picks that character's row of an embedding: a
// learnt table of CHAR_EMBEDDING numbers per character (as many as the
// alphabet when it is smaller), trained with the rest. `embeddingSize` 0
// gives one-hot vectors instead, for a model saved before the page used an
// embedding. The last tenth of the text is held out for validation.
export const CHAR_EMBEDDING = 16;

function charTask({ seqLength: T, ids, vocabSize: V, embeddingSize, seed }) {
  if (ids.length < 2 * (T + 1)) {
    throw new Error(`the text has ${ids.length} characters; a sequence length of ${T} needs at least ${2 * (T + 1)}`);
  }
  let split = Math.floor(ids.length * 0.9);
  if (ids.length - split < T + 1) split = ids.length - (T + 1);
  const trainIds = ids.subarray(0, split);
  const validationIds = ids.subarray(split);
  const E = embeddingSize ?? Math.min(V, CHAR_EMBEDDING);
  const embedding = E > 0 ? { vocabSize: V, size: E } : null;
  // step r (sequence b, time t: r = b T + t) reads character `id`
  const put = embedding ? (x, r, id) => { x[r] = id; } : (x, r, id) => { x[r * V + id] = 1; };
  let source = trainIds;
  const task = {
    name: 'chars',
    model: { T, inputSize: embedding ? E : V, outputSize: V, embedding, output: 'sequence', loss: 'cross-entropy' },
    baseline: Math.log(V),
    target: { metric: 'accuracy', value: 0.7, label: 'val accuracy ≥ 70%' },
    fill(random, b, x, y) {
      const offset = random.int(source.length - T);
      for (let t = 0; t < T; t++) {
        put(x, b * T + t, source[offset + t]);
        y[b * T + t] = source[offset + t + 1];
      }
    },
  };
  const trainRandom = createRandom(seed);
  task.batch = (B) => { source = trainIds; return makeBatch(task, trainRandom, B); };
  // Validation: evenly spaced windows of the held-out text.
  const windows = Math.max(1, Math.min(VALIDATION_SIZE, Math.floor((validationIds.length - 1) / T)));
  const validation = { ...emptyInputs(task, windows), y: new Int32Array(windows * T) };
  const step = Math.max(1, Math.floor((validationIds.length - T - 1) / windows));
  for (let w = 0; w < windows; w++) {
    const offset = Math.min(w * step, validationIds.length - T - 1);
    for (let t = 0; t < T; t++) {
      put(validation.x, w * T + t, validationIds[offset + t]);
      validation.y[w * T + t] = validationIds[offset + t + 1];
    }
  }
  task.validation = validation;
  task.example = sliceExample(task, validation, 0);
  return task;
}

/** The characters (ids) a character task's batch of one reads: its ids, or the ones of its one-hot rows. */
export function exampleIds(task, example) {
  if (task.model.embedding) return Int32Array.from(example.x);
  const { T, inputSize: V } = task.model;
  const out = new Int32Array(T);
  for (let t = 0; t < T; t++) out[t] = example.x.subarray(t * V, (t + 1) * V).indexOf(1);
  return out;
}
