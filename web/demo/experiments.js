// The guided experiments: one per claim of the lesson. Each names the controls
// it sets, how many steps the page's run trains, and a `measure` that reads
// numbers off that run (and, where a claim needs a comparison, off side runs
// made here from the same seed). The same code runs in the page's worker and
// in Node (tests), so a sentence on the page can be checked against the
// library's own output. No DOM here; the sentences are in experiment-text.js.

import { createTask } from './tasks.js';

/**
 * The experiments, in the order the page lists them. `controls` are form
 * values (by control name) set on top of the form's defaults; `steps` the
 * optimiser steps of the run the page plots.
 */
export const EXPERIMENTS = [
  {
    id: 'vanishing',
    claim: 'Backpropagation multiplies by the same recurrent matrix once per step. With its spectral radius below 1 the gradient from the answer fades geometrically on its way back to the first steps.',
    title: 'Gradients vanish through a repeated matrix', steps: 60,
    controls: { task: 'adding', seqLength: 100, cell: 'rnn', recurrentScale: 0.8 },
    measure: measureVanishing,
  },
  {
    id: 'exploding',
    claim: 'With a radius above 1 the same product grows instead: one step\'s gradient can be astronomically large. Plain SGD then jumps to a useless point; clipping the global norm keeps every step a sane length.',
    title: 'Radius above 1: gradients explode, clipping rescues', steps: 120,
    controls: { task: 'adding', seqLength: 50, cell: 'rnn', recurrentScale: 1.8, optimizer: 'sgd', lrLog: -1, clip: true, tauLog: 0 },
    measure: measureExploding,
  },
  {
    id: 'direction',
    claim: 'Clipping by the global norm rescales the gradient by one positive number: its direction, the cosine with the unclipped gradient, is untouched, only its length is capped at τ.',
    title: 'Clipping keeps the direction, bounds the size', steps: 40,
    controls: { task: 'adding', seqLength: 50, cell: 'rnn', recurrentScale: 1.8, optimizer: 'sgd', lrLog: -1, clip: true, tauLog: 0 },
    measure: measureDirection,
  },
  {
    id: 'clip-vanishing',
    claim: 'Clipping only ever shrinks a gradient. A gradient that has already faded 99 steps back stays faded: the flow curve with clipping on has the same slope as with it off.',
    title: 'Clipping does not fix vanishing', steps: 60,
    controls: { task: 'adding', seqLength: 100, cell: 'rnn', recurrentScale: 0.8, clip: true, tauLog: -1 },
    measure: measureClipVanishing,
  },
  {
    id: 'highway',
    claim: 'The LSTM\'s cell state is updated by addition, cₜ = fₜ ⊙ cₜ₋₁ + iₜ ⊙ gₜ, so the gradient along it is only multiplied by the forget gate: no matrix and no tanh′ in the way. Where a unit has learnt to keep a memory (fₜ near 1), that product barely shrinks. Both nets train on the adding problem long enough for the LSTM to learn it; compare its ‖∂L/∂cₜ‖ with the RNN\'s ‖∂L/∂hₜ‖ at the same lags.',
    title: 'The LSTM cell state is a gradient highway', steps: 500,
    controls: { task: 'adding', seqLength: 50, cell: 'all', recurrentScale: 1 },
    measure: measureHighway,
  },
  {
    id: 'forget',
    claim: 'To keep a memory, an LSTM unit must not erase it (forget gate near 1) and must not overwrite it (input gate near 0). Starting the forget gate\'s bias at 1 instead of 0 puts the cell near that regime from the first step.',
    title: 'Forget gate near 1, input gate near 0: memory kept', steps: 600,
    controls: { task: 'copy', seqLength: 20, patternLength: 3, cell: 'lstm', forgetBiasOne: true },
    measure: measureForget,
  },
  {
    id: 'gru',
    claim: 'The GRU has no separate cell: its new state is a convex blend (1 − z) ⊙ hₜ₋₁ + z ⊙ nₜ of the old state and a candidate. Three weight blocks instead of four make it smaller and faster.',
    title: 'The GRU: a convex blend with fewer parameters', steps: 150,
    controls: { task: 'adding', seqLength: 50, cell: 'all' },
    measure: measureGru,
  },
  {
    id: 'seeds',
    claim: 'One run proves little: which cell learns faster depends on the seed. Here each cell trains from several seeds to the task\'s target, and the table gives mean and spread.',
    title: 'LSTM against GRU over several seeds', steps: 100,
    controls: { task: 'adding', seqLength: 30, cell: 'all' },
    measure: measureSeeds,
  },
  {
    id: 'depth',
    claim: 'Unrolled over T steps a recurrent net is a T-layer deep network with shared weights. The longer the sequence, the smaller the share of gradient that reaches its first step.',
    title: 'A long sequence is a deep network', steps: 30,
    controls: { task: 'adding', seqLength: 100, cell: 'rnn', recurrentScale: 1 },
    measure: measureDepth,
  },
];

export function experimentById(id) {
  return EXPERIMENTS.find((e) => e.id === id) ?? null;
}

const VANISHING_RADII = [0.5, 0.8, 1, 1.2];
const HIGHWAY_LAGS = [10, 25, 50, 99];
// A unit whose forget gate averages at least this along the example keeps a memory.
const MEMORY_FORGET = 0.95;
const DEPTH_LENGTHS = [10, 25, 50, 100, 200];
const SEED_COUNT = 3;
const SEED_MAX_STEPS = 400;
const SEED_EVAL_EVERY = 20;
const PROBE_BATCH = 32;

// ---- what the page's worker and the tests share --------------------------------

/** The library's model options for the page's settings (as the worker's makeModels). */
export function modelOptions(settings, task, cell) {
  return {
    cell,
    inputSize: task.model.inputSize,
    embedding: task.model.embedding ?? null, // the character task reads ids
    hiddenSize: settings.hiddenSize,
    outputSize: task.model.outputSize,
    layers: settings.layers,
    output: task.model.output,
    loss: task.model.loss,
    activation: settings.activation,
    gruVariant: settings.gruVariant,
    recurrentInit: settings.recurrentInit,
    recurrentScale: settings.recurrentScale,
    forgetBiasOne: settings.forgetBiasOne,
    seed: settings.seed,
  };
}

/** The page's live settings as trainer options (as the worker's trainerOptions). */
export function trainerOptions(hyper) {
  return {
    optimizer: { type: hyper.optimizer, lr: hyper.lr },
    clipNorm: hyper.clip ? hyper.tau : 0,
    tbptt: hyper.tbptt > 0 ? hyper.tbptt : null,
    onNonFinite: 'skip',
  };
}

/** The first `count` sequences of a batch (x [N, T, X], or ids [N, T]). */
export function firstOf(batch, count) {
  const [N, T] = batch.shape;
  const n = Math.min(N, count);
  const perX = batch.x.length / N;
  const perY = batch.y.length / N;
  const out = { x: batch.x.slice(0, n * perX), shape: [n, ...batch.shape.slice(1)], y: batch.y.slice(0, n * perY) };
  if (batch.mask) out.mask = batch.mask.slice(0, n * T);
  return out;
}

/**
 * A run made here: the model for `cell` under settings and hyper changed by
 * `change`, trained `steps` steps on its task's batches (the seed's). Calls
 * `use(run)` with { model, task, infos, settings } and frees the model after.
 * `every(step, run)` (optional) is called after each step; returning true stops.
 */
export async function sideRun(ctx, change, use) {
  const settings = { ...ctx.settings, ...change.settings };
  const hyper = { ...ctx.hyper, ...change.hyper };
  const task = createTask(settings);
  const model = await ctx.lib.createModel(modelOptions(settings, task, change.cell));
  try {
    const trainer = model.trainer(null, trainerOptions(hyper));
    const run = { model, task, settings, hyper, infos: [] };
    for (let step = 1; step <= (change.steps ?? 0); step++) {
      run.infos.push(...trainer.trainOn(task.batch(hyper.batchSize)));
      if (change.every?.(step, run)) break;
    }
    return await use(run);
  } finally {
    model.dispose();
  }
}

// ---- numbers from curves ---------------------------------------------------------

/** Last step of a run whose flow is known. */
function lastInfo(infos) {
  for (let k = infos.length - 1; k >= 0; k--) if (!infos[k].skipped && infos[k].flow?.length) return infos[k];
  return null;
}

/**
 * From a flow curve g_0..g_{T-1} (loss at the last step): the ratio g_0/g_{T-1}
 * and the mean factor per step back, exp of the least-squares slope of ln g
 * against the lag, over the positive values.
 */
export function decay(g) {
  const T = g.length;
  const end = g[T - 1];
  let n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (let lag = 0; lag < T; lag++) {
    const v = g[T - 1 - lag];
    if (!(v > 0) || !Number.isFinite(v)) continue;
    const y = Math.log(v);
    n++; sx += lag; sy += y; sxx += lag * lag; sxy += lag * y;
  }
  const slope = n > 1 ? (n * sxy - sx * sy) / (n * sxx - sx * sx) : NaN;
  return { ratio: end > 0 ? g[0] / end : NaN, factor: Math.exp(slope), fitted: n, T };
}

/** g at the given lags, relative to g at lag 0. */
function atLags(g, lags) {
  const T = g.length;
  return lags.map((lag) => (lag < T && g[T - 1] > 0 ? g[T - 1 - lag] / g[T - 1] : NaN));
}

function mean(values) {
  const v = values.filter(Number.isFinite);
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN;
}

function spread(values) {
  const v = values.filter(Number.isFinite);
  if (v.length < 2) return v.length ? 0 : NaN;
  const m = mean(v);
  return Math.sqrt(v.reduce((s, x) => s + (x - m) ** 2, 0) / (v.length - 1));
}

function meanLoss(infos, last = 10) {
  return mean(infos.filter((i) => !i.skipped).slice(-last).map((i) => i.loss));
}

/** The losses of the page's run, per cell: what a copied link must reproduce. */
function mainLosses(ctx) {
  return ctx.runs.map((r) => ({ cell: r.cell, losses: r.infos.map((i) => (i.skipped ? null : i.loss)) }));
}

function runOf(ctx, cell) {
  return ctx.runs.find((r) => r.cell === cell);
}

/** Gradient flow of a fresh model on a probe batch (the validation set's first sequences). */
async function freshFlow(ctx, settings, cell) {
  return sideRun(ctx, { settings, cell }, ({ model, task }) => {
    const grads = model.computeGradients(firstOf(task.validation, PROBE_BATCH));
    return { h: Array.from(grads.flow[0]), c: grads.flowC ? Array.from(grads.flowC[0]) : null };
  });
}

// ---- the experiments --------------------------------------------------------------

async function measureVanishing(ctx) {
  const run = runOf(ctx, 'rnn');
  const last = lastInfo(run.infos);
  const trained = decay(Array.from(last.flow[0]));
  const sweep = [];
  for (const radius of VANISHING_RADII) {
    const { h } = await freshFlow(ctx, { recurrentScale: radius }, 'rnn');
    sweep.push({ radius, ...decay(h) });
  }
  return {
    radius: ctx.settings.recurrentScale, T: ctx.settings.seqLength, steps: run.infos.length,
    trained, spectral: run.model.spectralNorms()[0].h ?? Object.values(run.model.spectralNorms()[0])[0],
    sweep, main: mainLosses(ctx),
  };
}

function clipSummary(infos) {
  const kept = infos.filter((i) => !i.skipped);
  const losses = kept.map((i) => i.loss);
  return {
    steps: infos.length,
    skipped: infos.length - kept.length,
    clipped: kept.filter((i) => i.clipped).length,
    firstLoss: losses[0] ?? NaN,
    maxLoss: losses.length ? Math.max(...losses) : NaN,
    finalLoss: meanLoss(infos),
    maxNormBefore: kept.length ? Math.max(...kept.map((i) => i.gradNorm)) : NaN,
    maxNormAfter: kept.length ? Math.max(...kept.map((i) => i.gradNormAfter)) : NaN,
    firstNonFinite: infos.findIndex((i) => i.skipped || !Number.isFinite(i.loss)) + 1,
  };
}

async function measureExploding(ctx) {
  const run = runOf(ctx, 'rnn');
  const withClip = clipSummary(run.infos);
  const withoutClip = await sideRun(ctx, { cell: 'rnn', hyper: { clip: false }, steps: run.infos.length },
    ({ infos }) => clipSummary(infos));
  return {
    radius: ctx.settings.recurrentScale, tau: ctx.hyper.tau, optimizer: ctx.hyper.optimizer, lr: ctx.hyper.lr,
    withClip, withoutClip, main: mainLosses(ctx),
  };
}

/** cos(a, b), ‖a‖, ‖b‖ in double precision. */
export function compare(a, b) {
  let ab = 0, aa = 0, bb = 0;
  for (let k = 0; k < a.length; k++) { ab += a[k] * b[k]; aa += a[k] * a[k]; bb += b[k] * b[k]; }
  return { cosine: ab / Math.sqrt(aa * bb), normA: Math.sqrt(aa), normB: Math.sqrt(bb) };
}

async function measureDirection(ctx) {
  const run = runOf(ctx, 'rnn');
  const tau = ctx.hyper.tau;
  const grads = run.model.computeGradients(firstOf(ctx.task.validation, PROBE_BATCH));
  const g = grads.flatGradients;
  const n = compare(g, g).normA;
  const clipped = Float64Array.from(g, (v) => (n > tau ? (v * tau) / n : v));
  const byNorm = compare(g, clipped);
  // Clipping each entry instead, at τ/√P, also bounds the norm by τ, but bends the direction.
  const v = tau / Math.sqrt(g.length);
  const byValue = compare(g, Float64Array.from(g, (x) => Math.max(-v, Math.min(v, x))));
  const training = clipSummary(run.infos);
  return {
    tau, parameters: g.length, engineNorm: grads.gradNorm,
    byNorm, byValue, valueThreshold: v, training, main: mainLosses(ctx),
  };
}

async function measureClipVanishing(ctx) {
  const run = runOf(ctx, 'rnn');
  const withClip = decay(Array.from(lastInfo(run.infos).flow[0]));
  const clippedSteps = run.infos.filter((i) => i.clipped).length;
  const withoutClip = await sideRun(ctx, { cell: 'rnn', hyper: { clip: false }, steps: run.infos.length },
    ({ infos }) => decay(Array.from(lastInfo(infos).flow[0])));
  return {
    tau: ctx.hyper.tau, T: ctx.settings.seqLength, radius: ctx.settings.recurrentScale,
    steps: run.infos.length, clippedSteps, withClip, withoutClip, main: mainLosses(ctx),
  };
}

/** Per unit, the forget gate's mean along the example; the units at or above MEMORY_FORGET. */
function memoryUnits(model, task) {
  const trace = model.gateTrace(task.example.x, { shape: task.example.shape });
  const [, T, H] = trace.shape;
  const f = trace.layers[0].gates.f;
  const perUnit = Array.from({ length: H }, (_, j) => {
    let sum = 0;
    for (let t = 0; t < T; t++) sum += f[t * H + j];
    return sum / T;
  });
  const kept = perUnit.filter((v) => v >= MEMORY_FORGET);
  return { forgetMean: mean(Array.from(f)), memoryUnits: kept.length, memoryForget: mean(kept), forgetMax: Math.max(...perUnit), H };
}

async function measureHighway(ctx) {
  const rnnRun = runOf(ctx, 'rnn');
  const rnn = lastInfo(rnnRun.infos);
  const lstmRun = runOf(ctx, 'lstm');
  const lstm = lastInfo(lstmRun.infos);
  const T = ctx.settings.seqLength;
  const lags = [...HIGHWAY_LAGS.filter((lag) => lag < T - 1), T - 1];
  const valLoss = (run) => run.model.evaluate(ctx.task.validation, { batchSize: 128 }).loss;
  return {
    T, steps: lstmRun.infos.length, lags,
    lstmC: atLags(Array.from(lstm.flowC[0]), lags),
    lstmH: atLags(Array.from(lstm.flow[0]), lags),
    rnnH: atLags(Array.from(rnn.flow[0]), lags),
    lstmFactor: decay(Array.from(lstm.flowC[0])).factor,
    rnnFactor: decay(Array.from(rnn.flow[0])).factor,
    lstmLoss: valLoss(lstmRun), rnnLoss: valLoss(rnnRun), baseline: ctx.task.baseline,
    threshold: MEMORY_FORGET, ...memoryUnits(lstmRun.model, ctx.task),
    main: mainLosses(ctx),
  };
}

/** Mean forget and input gate over the copy task's silent gap, and accuracy. */
function memoryReading(model, task) {
  const trace = model.gateTrace(task.example.x, { shape: task.example.shape });
  const [, T, H] = trace.shape;
  const { gates } = trace.layers[0];
  const S = task.patternLength;
  const gapSteps = [];
  for (let t = S; t < S + task.gap - 1; t++) gapSteps.push(t);
  const gateMean = (values) => mean(gapSteps.flatMap((t) => Array.from(values.subarray(t * H, (t + 1) * H))));
  const val = model.evaluate(task.validation, { batchSize: 128 });
  return { forget: gateMean(gates.f), input: gateMean(gates.i), accuracy: val.accuracy, loss: val.loss, gap: task.gap, T };
}

async function measureForget(ctx) {
  const run = runOf(ctx, 'lstm');
  const bias = ctx.settings.forgetBiasOne ? 1 : 0;
  const main = memoryReading(run.model, ctx.task);
  const other = await sideRun(ctx, { cell: 'lstm', settings: { forgetBiasOne: !ctx.settings.forgetBiasOne }, steps: run.infos.length },
    ({ model, task }) => memoryReading(model, task));
  return {
    steps: run.infos.length, S: ctx.settings.patternLength,
    readings: [{ bias, ...main }, { bias: 1 - bias, ...other }], main: mainLosses(ctx),
  };
}

/** The GRU's update gate on the example, averaged over units: per step, and at the marked steps. */
function updateGate(model, task) {
  const trace = model.gateTrace(task.example.x, { shape: task.example.shape });
  const [, T, H] = trace.shape;
  const z = trace.layers[0].gates.z;
  const perStep = Array.from({ length: T }, (_, t) => mean(Array.from(z.subarray(t * H, (t + 1) * H))));
  const marked = [];
  for (let t = 0; t < T; t++) if (task.example.x[2 * t + 1] > 0) marked.push(t);
  const others = perStep.filter((_, t) => !marked.includes(t));
  return {
    min: Math.min(...perStep), max: Math.max(...perStep), mean: mean(perStep),
    atMarks: mean(marked.map((t) => perStep[t])), elsewhere: mean(others), marked,
  };
}

/** Milliseconds per training step of a model on one batch (`repeat` steps timed, weights restored). */
function timeSteps(model, batch, repeat = 10) {
  const saved = model.getParameters();
  const started = performance.now();
  for (let k = 0; k < repeat; k++) model.computeGradients(batch);
  const ms = (performance.now() - started) / repeat;
  model.setParameters(saved);
  return ms;
}

async function measureGru(ctx) {
  const gru = runOf(ctx, 'gru');
  const lstm = runOf(ctx, 'lstm');
  const batch = firstOf(ctx.task.validation, ctx.hyper.batchSize);
  const describe = (run) => ({
    parameters: run.model.parameterCount().rnnlab, finalLoss: meanLoss(run.infos),
    val: run.model.evaluate(ctx.task.validation, { batchSize: 128 }).loss,
  });
  return {
    steps: gru.infos.length, H: ctx.settings.hiddenSize,
    gru: describe(gru), lstm: describe(lstm), update: updateGate(gru.model, ctx.task),
    timing: { gruMs: timeSteps(gru.model, batch), lstmMs: timeSteps(lstm.model, batch) },
    main: mainLosses(ctx),
  };
}

/** Steps until the validation loss first meets the task's target (checked every few steps), or null. */
async function stepsToTarget(ctx, cell, seed) {
  let reached = null;
  const every = (step, run) => {
    if (step % SEED_EVAL_EVERY) return false;
    const val = run.model.evaluate(run.task.validation, { batchSize: 128 });
    const hit = run.task.target.metric === 'loss' ? val.loss < run.task.target.value : (val.accuracy ?? 0) >= run.task.target.value;
    if (hit) reached = step;
    return hit;
  };
  return sideRun(ctx, { cell, settings: { seed }, steps: SEED_MAX_STEPS, every }, ({ model, task, infos }) => ({
    seed, reached, finalLoss: model.evaluate(task.validation, { batchSize: 128 }).loss, steps: infos.length,
  }));
}

async function measureSeeds(ctx) {
  const seeds = Array.from({ length: SEED_COUNT }, (_, k) => ctx.settings.seed + k);
  const cells = {};
  for (const cell of ['lstm', 'gru']) {
    const runs = [];
    for (const seed of seeds) runs.push(await stepsToTarget(ctx, cell, seed));
    const reached = runs.map((r) => r.reached).filter((s) => s !== null);
    cells[cell] = {
      runs, reachedCount: reached.length, stepsMean: mean(reached), stepsSpread: spread(reached),
      lossMean: mean(runs.map((r) => r.finalLoss)), lossSpread: spread(runs.map((r) => r.finalLoss)),
    };
  }
  return {
    seeds, maxSteps: SEED_MAX_STEPS, evalEvery: SEED_EVAL_EVERY, target: ctx.task.target,
    T: ctx.settings.seqLength, lstm: cells.lstm, gru: cells.gru, main: mainLosses(ctx),
  };
}

async function measureDepth(ctx) {
  const lengths = [];
  for (const T of DEPTH_LENGTHS) {
    const { h } = await freshFlow(ctx, { seqLength: T }, 'rnn');
    const d = decay(h);
    lengths.push({ T, ratio: d.ratio, factor: d.factor });
  }
  const trained = decay(Array.from(lastInfo(runOf(ctx, 'rnn').infos).flow[0]));
  return { radius: ctx.settings.recurrentScale, lengths, trained, T: ctx.settings.seqLength, steps: runOf(ctx, 'rnn').infos.length, main: mainLosses(ctx) };
}

/**
 * Runs one experiment's measurement after its main run trained:
 * ctx = { lib: { createModel }, settings, hyper, task, runs: [{ cell, model, infos }] }.
 */
export async function measureExperiment(id, ctx) {
  const experiment = experimentById(id);
  if (!experiment) throw new Error(`unknown experiment ${JSON.stringify(id)}`);
  return { id, settings: ctx.settings, hyper: ctx.hyper, ...(await experiment.measure(ctx)) };
}
