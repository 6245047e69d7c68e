// model.js — the Model class: one engine model behind a checked JS API.

import { RnnlabError, STATUS_CODES, describe, formatShape } from './errors.js';
import { getEngine } from './engine.js';
import { normalizeData, toTensor, copyRows } from './data.js';
import {
  checkModelConfig, encodeConfig, decodeConfig, CONFIG_WORDS, checkOptimizer, encodeOptimizer,
  decodeOptimizer, OPTIMIZER_WORDS, gateNames,
} from './config.js';
import {
  checkObject, checkKeys, checkInt, checkNumber, checkEnum, checkBoolean, checkFunction, isNumberList,
} from './options.js';
import { toStateDict, fromStateDict, gradsToStateDict } from './weights.js';
import { Vocabulary } from './vocab.js';
import { mulberry32 } from './random.js';

// Buffer ids and stats slots of src/rnnlab.h.
const BUF = {
  X: 0, Y: 1, LABELS: 2, MASK: 3, H0: 4, C0: 5, OUT: 6, HT: 7, CT: 8, DX: 9, DH0: 10, DC0: 11,
  FLOW_H: 12, FLOW_C: 13, GATES: 14, HIDDEN: 15, CELLS: 16, PARAMS: 17, GRADS: 18, OPT_M: 19,
  OPT_V: 20, STATS: 21,
};
const STAT = { LOSS: 0, GRAD_NORM: 1, GRAD_NORM_AFTER: 2, CLIPPED: 3, COUNTED: 4, CORRECT: 5, STEP: 6 };
const USE_MASK = 1;
const USE_H0 = 2;

const registry = typeof FinalizationRegistry === 'function'
  ? new FinalizationRegistry(({ engine, handle }) => engine.exports.rnnlab_free(handle))
  : null;


// Prefixes the method name to errors from the weight converters.
function withCaller(what, fn) {
  try {
    return fn();
  } catch (e) {
    if (e instanceof RnnlabError) e.message = `${what}: ${e.message}`;
    throw e;
  }
}

const yieldToEventLoop = () => new Promise((resolve) => setTimeout(resolve, 0));

// Runs fn(ptr) with `bytes` of engine scratch memory, freed afterwards. When
// wasm memory has no room left: E_NOMEM, saying what the bytes were for.
function withScratch(engine, bytes, what, purpose, fn) {
  const ptr = engine.exports.rnnlab_scratch(bytes);
  if (ptr === 0) {
    throw new RnnlabError('E_NOMEM', `${what}: out of memory: wasm memory has no room for ${purpose} (${bytes} bytes)`);
  }
  try {
    return fn(ptr);
  } finally {
    engine.exports.rnnlab_bytes_free(ptr);
  }
}

// Views of an engine struct of 4-byte fields (rnnlab_config, rnnlab_optimizer).
function structViews(engine, ptr, words) {
  const buf = engine.memory.buffer;
  return [new Int32Array(buf, ptr, words), new Float32Array(buf, ptr, words), new Uint32Array(buf, ptr, words)];
}

const optimizerKey = ({ optimizer, clipNorm, clipValue }) => JSON.stringify([optimizer, clipNorm, clipValue]);

// The config and the optimiser settings in force, read back from the engine:
// the single source of truth (Adam for a new model, the saved settings for a
// loaded one).
function readSettings(engine, handle, what) {
  const e = engine.exports;
  const bytes = 4 * Math.max(CONFIG_WORDS, OPTIMIZER_WORDS);
  return withScratch(engine, bytes, what, 'the model settings', (ptr) => {
    e.rnnlab_get_config(handle, ptr);
    const config = decodeConfig(...structViews(engine, ptr, CONFIG_WORDS));
    e.rnnlab_get_optimizer(handle, ptr);
    const settings = decodeOptimizer(...structViews(engine, ptr, OPTIMIZER_WORDS).slice(0, 2));
    return { config, settings };
  });
}

export class Model {
  constructor(engine, handle, { config, settings }) {
    this._engine = engine;
    this._handle = handle;
    this._busy = false;
    this._lastFlow = null;
    this._hasGrads = false;
    this.config = config;
    // { optimizer, clipNorm, clipValue } in force until a call passes others
    this._current = settings;
    this._optimizerKey = optimizerKey(settings);
    registry?.register(this, { engine, handle }, this);
  }

  // ---------------------------------------------------------------- plumbing

  get disposed() {
    return this._handle === 0;
  }

  _live(what) {
    if (this._handle === 0) throw new RnnlabError('E_DISPOSED', `${what}: the model was disposed; create or load a new one`);
  }

  _idle(what) {
    this._live(what);
    if (this._busy) throw new RnnlabError('E_BUSY', `${what}: fit() is running on this model; wait for it or stop it with its AbortSignal`);
  }

  _check(status, what) {
    if (status === 0) return;
    const msg = this._engine.cString(this._engine.exports.rnnlab_last_error(this._handle));
    throw new RnnlabError(STATUS_CODES[status] ?? 'E_INVALID', `${what}: ${msg}`);
  }

  _buffer(id) {
    const e = this._engine.exports;
    const ptr = e.rnnlab_buffer_ptr(this._handle, id);
    const len = e.rnnlab_buffer_len(this._handle, id) >>> 0;
    if (id === BUF.LABELS) return this._engine.i32(ptr, len);
    return this._engine.f32(ptr, len);
  }

  _stats() {
    return this._buffer(BUF.STATS);
  }

  _setBatch(B, T, what) {
    this._check(this._engine.exports.rnnlab_set_batch(this._handle, B, T), what);
  }

  // Puts `settings` ({ optimizer, clipNorm, clipValue }) in force when they
  // differ from the engine's. Called last, once everything else is checked:
  // a call that fails leaves the settings as they were.
  _setOptimizer(settings, what) {
    const key = optimizerKey(settings);
    if (key === this._optimizerKey) return;
    const status = withScratch(this._engine, 4 * OPTIMIZER_WORDS, what, 'the optimizer settings', (ptr) => {
      const [i32, f32] = structViews(this._engine, ptr, OPTIMIZER_WORDS);
      encodeOptimizer(settings.optimizer, settings.clipNorm, settings.clipValue, i32, f32);
      return this._engine.exports.rnnlab_set_optimizer(this._handle, ptr);
    });
    this._check(status, `${what} optimizer`);
    this._optimizerKey = key;
    this._current = settings;
  }

  // Options not given keep the settings in force; null or 0 turns clipping off.
  _trainingOptions(options, where) {
    const cur = this._current;
    const optimizer = options.optimizer === undefined ? cur.optimizer : checkOptimizer(options.optimizer, `${where}.optimizer`);
    const clip = (v, name, now) => (v === undefined ? now : v === null ? 0 : checkNumber(v, `${where}.${name}`, { min: 0 }));
    return { optimizer, clipNorm: clip(options.clipNorm, 'clipNorm', cur.clipNorm), clipValue: clip(options.clipValue, 'clipValue', cur.clipValue) };
  }

  // Copies sequences `index` (steps t0 .. t0+Tw) of a checked data set in.
  _writeRows(d, index, t0, Tw) {
    const ce = this.config.loss === 'cross-entropy';
    copyRows(d, index, t0, Tw, {
      x: this._buffer(BUF.X),
      mask: d.mask ? this._buffer(BUF.MASK) : null,
      y: d.y ? this._buffer(BUF.Y) : null,
      labels: ce && d.labels ? this._buffer(BUF.LABELS) : null,
    });
    return d.mask ? USE_MASK : 0;
  }

  // The state option, checked: { h, c } (c for an LSTM only) or null.
  _checkState(state, B, what) {
    if (state === undefined) return null;
    const { layers: L, hiddenSize: H, cell } = this.config;
    const where = `${what}.state`;
    checkObject(state, where);
    checkKeys(state, ['h', 'c'], where);
    const shape = [L, B, H];
    const h = toTensor(state.h, `${where}.h`, shape, { flatShape: shape }).data;
    if (cell !== 'lstm') {
      if (state.c !== undefined) {
        throw new RnnlabError('E_INVALID', `${where}.c: only an LSTM has a cell state; a ${cell.toUpperCase()} takes h alone, got c = ${describe(state.c)}`);
      }
      return { h, c: null };
    }
    if (state.c === undefined) throw new RnnlabError('E_INVALID', `${where}.c: an LSTM state needs c ${formatShape(shape)}, got undefined`);
    return { h, c: toTensor(state.c, `${where}.c`, shape, { flatShape: shape }).data };
  }

  // Writes a checked state (after _setBatch); returns the flag for it.
  _writeState(state) {
    if (!state) return 0;
    this._buffer(BUF.H0).set(state.h);
    if (state.c) this._buffer(BUF.C0).set(state.c);
    return USE_H0;
  }

  _readState() {
    const state = { h: this._buffer(BUF.HT).slice() };
    if (this.config.cell === 'lstm') state.c = this._buffer(BUF.CT).slice();
    return state;
  }

  _stepInfo(step, epoch, skipped) {
    const s = this._stats();
    const { layers: L } = this.config;
    const T = this._buffer(BUF.FLOW_H).length / L;
    const fh = this._buffer(BUF.FLOW_H);
    const flow = Array.from({ length: L }, (_, l) => fh.slice(l * T, (l + 1) * T));
    let flowC;
    if (this.config.cell === 'lstm') {
      const fc = this._buffer(BUF.FLOW_C);
      flowC = Array.from({ length: L }, (_, l) => fc.slice(l * T, (l + 1) * T));
    }
    if (!skipped) {
      this._lastFlow = { h: flow, c: flowC };
      this._hasGrads = true;
    }
    const info = {
      step, epoch, loss: s[STAT.LOSS], gradNorm: s[STAT.GRAD_NORM], gradNormAfter: s[STAT.GRAD_NORM_AFTER],
      clipped: s[STAT.CLIPPED] === 1, skipped, flow,
    };
    if (flowC) info.flowC = flowC;
    if (this.config.loss === 'cross-entropy') info.accuracy = s[STAT.COUNTED] ? s[STAT.CORRECT] / s[STAT.COUNTED] : 0;
    return info;
  }

  // ---------------------------------------------------------------- training

  trainStep(batch, options = {}) {
    this._idle('trainStep');
    checkObject(options, 'trainStep options');
    checkKeys(options, ['optimizer', 'clipNorm', 'clipValue', 'state'], 'trainStep options');
    const d = normalizeData(batch, this.config, { name: 'batch' });
    const settings = this._trainingOptions(options, 'trainStep options');
    const state = this._checkState(options.state, d.N, 'trainStep options');
    this._setBatch(d.N, d.T, 'trainStep');
    const previous = this._current;
    this._setOptimizer(settings, 'trainStep');
    const flags = this._writeRows(d, [...Array(d.N).keys()], 0, d.T) | this._writeState(state);
    const status = this._engine.exports.rnnlab_train_step(this._handle, flags);
    if (status !== 0) this._setOptimizer(previous, 'trainStep'); // a failed step changes nothing
    this._check(status, 'trainStep');
    const info = this._stepInfo(this._stats()[STAT.STEP], 0, false);
    info.state = this._readState();
    return info;
  }

  // Loss and every gradient for one batch, without changing the weights.
  computeGradients(batch, options = {}) {
    this._idle('computeGradients');
    checkObject(options, 'computeGradients options');
    checkKeys(options, ['state'], 'computeGradients options');
    const d = normalizeData(batch, this.config, { name: 'batch' });
    const state = this._checkState(options.state, d.N, 'computeGradients options');
    this._setBatch(d.N, d.T, 'computeGradients');
    const flags = this._writeRows(d, [...Array(d.N).keys()], 0, d.T) | this._writeState(state);
    this._check(this._engine.exports.rnnlab_compute_gradients(this._handle, flags), 'computeGradients');
    const info = this._stepInfo(this._stats()[STAT.STEP], 0, false);
    const dState = { h: this._buffer(BUF.DH0).slice() };
    if (this.config.cell === 'lstm') dState.c = this._buffer(BUF.DC0).slice();
    return {
      loss: info.loss, gradNorm: info.gradNorm, flow: info.flow, ...(info.flowC ? { flowC: info.flowC } : {}),
      output: this._buffer(BUF.OUT).slice(), state: this._readState(),
      flatGradients: this._buffer(BUF.GRADS).slice(), dx: this._buffer(BUF.DX).slice(), dState,
    };
  }

  // The parameters in rnnlab's own flat layout (README, "Parameter layout").
  getParameters() {
    this._idle('getParameters');
    return this._buffer(BUF.PARAMS).slice();
  }

  setParameters(flat) {
    this._idle('setParameters');
    const n = this._engine.exports.rnnlab_param_count(this._handle) >>> 0;
    const t = toTensor(flat, 'setParameters', [n], { flatShape: [n] });
    this._buffer(BUF.PARAMS).set(t.data);
    this._engine.exports.rnnlab_params_changed(this._handle);
  }

  async fit(data, options = {}) {
    this._idle('fit');
    checkObject(options, 'fit options');
    checkKeys(options, ['epochs', 'batchSize', 'shuffle', 'optimizer', 'clipNorm', 'clipValue', 'validationData',
      'earlyStopping', 'tbptt', 'onNonFinite', 'onStep', 'onEpoch', 'signal'], 'fit options');
    const d = normalizeData(data, this.config, { name: 'data' });
    const val = options.validationData === undefined ? null : normalizeData(options.validationData, this.config, { name: 'validationData' });
    const epochs = checkInt(options.epochs ?? 1, 'fit options.epochs', 1, 1e9);
    const batchSize = Math.min(checkInt(options.batchSize ?? 32, 'fit options.batchSize', 1, 1e6), d.N);
    const shuffle = checkBoolean(options.shuffle ?? true, 'fit options.shuffle');
    const onNonFinite = checkEnum(options.onNonFinite ?? 'stop', 'fit options.onNonFinite', ['stop', 'skip']);
    const tbptt = options.tbptt == null ? d.T : checkInt(options.tbptt, 'fit options.tbptt', 1, 1e9);
    if (tbptt < d.T && this.config.output === 'last') {
      throw new RnnlabError('E_INVALID', `fit options.tbptt: truncated BPTT needs output 'sequence' (a loss in every window), got output 'last'`);
    }
    const onStep = options.onStep == null ? null : checkFunction(options.onStep, 'fit options.onStep');
    const onEpoch = options.onEpoch == null ? null : checkFunction(options.onEpoch, 'fit options.onEpoch');
    const signal = options.signal ?? null;
    if (signal !== null && (typeof signal !== 'object' || typeof signal.aborted !== 'boolean')) {
      throw new RnnlabError('E_TYPE', `fit options.signal: expected an AbortSignal, got ${describe(signal)}`);
    }
    let early = null;
    if (options.earlyStopping != null) {
      checkObject(options.earlyStopping, 'fit options.earlyStopping');
      checkKeys(options.earlyStopping, ['patience', 'minDelta', 'monitor'], 'fit options.earlyStopping');
      early = {
        patience: checkInt(options.earlyStopping.patience, 'earlyStopping.patience', 0, 1e9),
        minDelta: checkNumber(options.earlyStopping.minDelta ?? 0, 'earlyStopping.minDelta', { min: 0 }),
        monitor: checkEnum(options.earlyStopping.monitor ?? (val ? 'valLoss' : 'loss'), 'earlyStopping.monitor', ['loss', 'valLoss']),
      };
      if (early.monitor === 'valLoss' && !val) throw new RnnlabError('E_INVALID', `earlyStopping.monitor: 'valLoss' needs validationData`);
    }
    const settings = this._trainingOptions(options, 'fit options');
    // Buffers for the largest batch first (they only grow): a data set too
    // large for memory fails here, before any setting changes or step is taken.
    if (val) this._setBatch(Math.min(batchSize, val.N), val.T, 'fit');
    this._setBatch(batchSize, Math.min(tbptt, d.T), 'fit');
    this._setOptimizer(settings, 'fit');

    const history = {
      steps: { step: [], epoch: [], loss: [], gradNorm: [], gradNormAfter: [], clipped: [], skipped: [] },
      epochs: { epoch: [], loss: [], valLoss: [], valAccuracy: [], accuracy: [] },
      stoppedEarly: false,
    };
    const random = mulberry32(this.config.seed ^ 0x5eed);
    const order = [...Array(d.N).keys()];
    const ce = this.config.loss === 'cross-entropy';
    let best = Infinity;
    let waited = 0;
    let lastYield = Date.now();
    this._busy = true;
    const stop = (code, message) => {
      const err = new RnnlabError(code, message);
      err.history = history;
      return err;
    };
    try {
      for (let epoch = 0; epoch < epochs; epoch++) {
        if (shuffle) {
          for (let i = order.length - 1; i > 0; i--) {
            const j = Math.floor(random() * (i + 1));
            [order[i], order[j]] = [order[j], order[i]];
          }
        }
        let lossSum = 0;
        let counted = 0;
        let correct = 0;
        let stopNow = false;
        for (let start = 0; start < d.N && !stopNow; start += batchSize) {
          const index = order.slice(start, start + batchSize);
          for (let t0 = 0; t0 < d.T && !stopNow; t0 += tbptt) {
            if (signal?.aborted) throw stop('E_ABORTED', 'fit: stopped by its AbortSignal');
            const Tw = Math.min(tbptt, d.T - t0);
            // the state, not its gradient, carries across windows (copied out
            // first: a window of another length re-carves the batch buffers)
            const carried = t0 > 0 ? this._readState() : null;
            this._setBatch(index.length, Tw, 'fit');
            let flags = this._writeRows(d, index, t0, Tw);
            if (carried) {
              this._buffer(BUF.H0).set(carried.h);
              if (carried.c) this._buffer(BUF.C0).set(carried.c);
              flags |= USE_H0;
            }
            const status = this._engine.exports.rnnlab_train_step(this._handle, flags);
            const skipped = status === 5;
            if (skipped && onNonFinite === 'stop') {
              const msg = this._engine.cString(this._engine.exports.rnnlab_last_error(this._handle));
              throw stop('E_NONFINITE', `fit: ${msg}; pass onNonFinite: 'skip' to skip such steps`);
            }
            if (!skipped) this._check(status, 'fit');
            const step = history.steps.step.length + 1;
            const info = this._stepInfo(step, epoch, skipped);
            const s = this._stats();
            if (!skipped) {
              lossSum += info.loss * s[STAT.COUNTED];
              counted += s[STAT.COUNTED];
              correct += s[STAT.CORRECT];
            }
            const h = history.steps;
            h.step.push(step); h.epoch.push(epoch); h.loss.push(info.loss); h.gradNorm.push(info.gradNorm);
            h.gradNormAfter.push(info.gradNormAfter); h.clipped.push(info.clipped); h.skipped.push(skipped);
            if (onStep && (await onStep(info)) === false) stopNow = true;
            if (Date.now() - lastYield > 8) {
              await yieldToEventLoop();
              lastYield = Date.now();
            }
          }
        }
        const e = history.epochs;
        const epochInfo = { epoch, loss: counted ? lossSum / counted : NaN };
        if (ce) epochInfo.accuracy = counted ? correct / counted : 0;
        if (val) {
          const ev = this._evaluate(val, batchSize);
          epochInfo.valLoss = ev.loss;
          if (ce) epochInfo.valAccuracy = ev.accuracy;
        }
        e.epoch.push(epoch); e.loss.push(epochInfo.loss); e.valLoss.push(epochInfo.valLoss ?? NaN);
        e.valAccuracy.push(epochInfo.valAccuracy ?? NaN); e.accuracy.push(epochInfo.accuracy ?? NaN);
        if (onEpoch && (await onEpoch(epochInfo)) === false) stopNow = true;
        if (early) {
          const v = early.monitor === 'valLoss' ? epochInfo.valLoss : epochInfo.loss;
          if (v < best - early.minDelta) { best = v; waited = 0; } else if (++waited > early.patience) {
            history.stoppedEarly = true;
            stopNow = true;
          }
        }
        if (stopNow) break;
        await yieldToEventLoop();
        lastYield = Date.now();
      }
    } finally {
      this._busy = false;
    }
    return history;
  }

  // ---------------------------------------------------------------- inference

  _evaluate(d, batchSize) {
    let lossSum = 0;
    let counted = 0;
    let correct = 0;
    for (let start = 0; start < d.N; start += batchSize) {
      const index = [];
      for (let b = start; b < Math.min(d.N, start + batchSize); b++) index.push(b);
      this._setBatch(index.length, d.T, 'evaluate');
      const flags = this._writeRows(d, index, 0, d.T);
      this._check(this._engine.exports.rnnlab_forward(this._handle, flags, 1), 'evaluate');
      const s = this._stats();
      lossSum += s[STAT.LOSS] * s[STAT.COUNTED];
      counted += s[STAT.COUNTED];
      correct += s[STAT.CORRECT];
    }
    const loss = counted ? lossSum / counted : 0;
    const out = { loss };
    if (this.config.loss === 'cross-entropy') {
      out.accuracy = counted ? correct / counted : 0;
      out.perplexity = Math.exp(loss);
    }
    return out;
  }

  evaluate(data, options = {}) {
    this._idle('evaluate');
    checkObject(options, 'evaluate options');
    checkKeys(options, ['batchSize'], 'evaluate options');
    const d = normalizeData(data, this.config, { name: 'data' });
    return this._evaluate(d, checkInt(options.batchSize ?? 256, 'evaluate options.batchSize', 1, 1e6));
  }

  // Forward pass on x [B, T, X]; leaves the activations in the engine.
  _forwardInputs(x, options, what) {
    checkObject(options, `${what} options`);
    checkKeys(options, ['shape', 'state'], `${what} options`);
    const d = normalizeData({ x, ...(options.shape !== undefined ? { shape: options.shape } : {}) }, this.config, { needTargets: false, name: what });
    const state = this._checkState(options.state, d.N, `${what} options`);
    this._setBatch(d.N, d.T, what);
    this._buffer(BUF.X).set(d.x);
    const flags = this._writeState(state);
    this._check(this._engine.exports.rnnlab_forward(this._handle, flags, 0), what);
    return d;
  }

  predict(x, options = {}) {
    this._idle('predict');
    const d = this._forwardInputs(x, options, 'predict');
    const { outputSize: Y } = this.config;
    const shape = this.config.output === 'last' ? [d.N, Y] : [d.N, d.T, Y];
    return { output: this._buffer(BUF.OUT).slice(), shape, state: this._readState() };
  }

  gateTrace(x, options = {}) {
    this._idle('gateTrace');
    const d = this._forwardInputs(x, options, 'gateTrace');
    const { layers: L, hiddenSize: H, cell } = this.config;
    const { N: B, T } = d;
    const names = gateNames(cell);
    const G = names.length;
    const gates = this._buffer(BUF.GATES);
    const hidden = this._buffer(BUF.HIDDEN);
    const cells = cell === 'lstm' ? this._buffer(BUF.CELLS) : null;
    // (T, B, width) time-major slices to (B, T, H) batch-major
    const toBatchMajor = (src, base, rowWidth, col, tOffset) => {
      const out = new Float32Array(B * T * H);
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < T; t++) {
          const from = base + ((t + tOffset) * B + b) * rowWidth + col;
          out.set(src.subarray(from, from + H), (b * T + t) * H);
        }
      }
      return out;
    };
    const layers = [];
    for (let l = 0; l < L; l++) {
      const layer = { gates: {}, h: toBatchMajor(hidden, l * (T + 1) * B * H, H, 0, 1), saturation: {} };
      names.forEach((name, g) => {
        const v = toBatchMajor(gates, l * T * B * G * H, G * H, g * H, 0);
        layer.gates[name] = v;
        const tanhLike = name === 'g' || name === 'n' || name === 'h';
        let sat = 0;
        for (const a of v) sat += tanhLike ? (Math.abs(a) > 0.95 ? 1 : 0) : (a < 0.05 || a > 0.95 ? 1 : 0);
        layer.saturation[name] = sat / v.length;
      });
      if (cells) layer.c = toBatchMajor(cells, l * (T + 1) * B * H, H, 0, 1);
      layers.push(layer);
    }
    return { shape: [B, T, H], layers };
  }

  sample(options) {
    this._idle('sample');
    checkObject(options, 'sample options');
    checkKeys(options, ['prime', 'length', 'temperature', 'vocab', 'seed'], 'sample options');
    const { inputSize: X, outputSize: Y, loss } = this.config;
    if (loss !== 'cross-entropy' || X !== Y || this.config.output !== 'sequence') {
      throw new RnnlabError('E_STATE', `sample: needs a character-level model (loss 'cross-entropy', output 'sequence', inputSize = outputSize), got loss '${loss}', output '${this.config.output}', inputSize ${X}, outputSize ${Y}`);
    }
    const length = checkInt(options.length, 'sample options.length', 0, 1e6);
    const temperature = checkNumber(options.temperature ?? 1, 'sample options.temperature', { min: 0, minExclusive: true, max: 100 });
    const vocab = options.vocab ?? null;
    if (vocab !== null && !(vocab instanceof Vocabulary)) {
      throw new RnnlabError('E_TYPE', `sample options.vocab: expected a Vocabulary of ${X} characters, got ${describe(vocab)}`);
    }
    if (vocab !== null && vocab.size !== X) {
      throw new RnnlabError('E_INVALID', `sample options.vocab: expected a Vocabulary of ${X} characters, got one of ${vocab.size}`);
    }
    let prime = options.prime ?? [];
    if (typeof prime === 'string') {
      if (!vocab) throw new RnnlabError('E_INVALID', 'sample options.prime: a string prime needs options.vocab');
      prime = vocab.encode(prime);
    } else if (!isNumberList(prime)) {
      throw new RnnlabError('E_TYPE', `sample options.prime: expected a string or an array of ids, got ${describe(prime)}`);
    }
    prime = Array.from(prime);
    for (const [i, id] of prime.entries()) checkInt(id, `sample options.prime[${i}]`, 0, X - 1);
    const random = mulberry32(checkInt(options.seed ?? this.config.seed, 'sample options.seed', 0, 0xffffffff));

    this._setBatch(1, 1, 'sample');
    const e = this._engine.exports;
    const out = [];
    let flags = 0;
    let current = prime.length ? prime[0] : Math.floor(random() * X);
    const feed = (id) => {
      const x = this._buffer(BUF.X);
      x.fill(0);
      x[id] = 1;
      this._check(e.rnnlab_forward(this._handle, flags, 0), 'sample');
      this._buffer(BUF.H0).set(this._buffer(BUF.HT));
      if (this.config.cell === 'lstm') this._buffer(BUF.C0).set(this._buffer(BUF.CT));
      flags = USE_H0;
      return this._buffer(BUF.OUT);
    };
    for (let i = 1; i < prime.length; i++) feed(prime[i - 1]);
    if (prime.length) current = prime[prime.length - 1];
    for (let i = 0; i < length; i++) {
      const logits = feed(current);
      let max = -Infinity;
      for (const v of logits) max = Math.max(max, v);
      let sum = 0;
      const p = new Float64Array(Y);
      for (let k = 0; k < Y; k++) sum += (p[k] = Math.exp((logits[k] - max) / temperature));
      let r = random() * sum;
      let next = Y - 1;
      for (let k = 0; k < Y; k++) if ((r -= p[k]) < 0) { next = k; break; }
      out.push(next);
      current = next;
    }
    return vocab ? vocab.decode(out) : out;
  }

  // ---------------------------------------------------------------- diagnostics

  gradientFlow() {
    this._live('gradientFlow');
    if (!this._lastFlow) return null;
    const copy = (a) => a.map((v) => v.slice());
    return this._lastFlow.c ? { h: copy(this._lastFlow.h), c: copy(this._lastFlow.c) } : { h: copy(this._lastFlow.h) };
  }

  spectralNorms() {
    this._idle('spectralNorms');
    const { layers: L, cell } = this.config;
    const names = gateNames(cell);
    const n = L * names.length;
    return withScratch(this._engine, 4 * n, 'spectralNorms', `${n} spectral norms`, (ptr) => {
      this._check(this._engine.exports.rnnlab_spectral_norms(this._handle, ptr, n), 'spectralNorms');
      const v = this._engine.f32(ptr, n);
      return Array.from({ length: L }, (_, l) => Object.fromEntries(names.map((g, k) => [g, v[l * names.length + k]])));
    });
  }

  parameterCount() {
    this._live('parameterCount');
    const { cell, inputSize: X, hiddenSize: H, outputSize: Y, layers: L } = this.config;
    const G = gateNames(cell).length;
    let pytorch = Y * (H + 1);
    for (let l = 0; l < L; l++) pytorch += G * H * ((l === 0 ? X : H) + H + 2);
    return { rnnlab: this._engine.exports.rnnlab_param_count(this._handle) >>> 0, pytorch };
  }

  // ---------------------------------------------------------------- weights

  exportWeights() {
    this._idle('exportWeights');
    return withCaller('exportWeights', () => toStateDict(this.config, this._buffer(BUF.PARAMS)));
  }

  importWeights(dict) {
    this._idle('importWeights');
    const flat = withCaller('importWeights', () => fromStateDict(this.config, dict)); // checks everything before writing
    this._buffer(BUF.PARAMS).set(flat);
    this._engine.exports.rnnlab_params_changed(this._handle);
  }

  gradients() {
    this._idle('gradients');
    if (!this._hasGrads) return null;
    return withCaller('gradients', () => gradsToStateDict(this.config, this._buffer(BUF.GRADS)));
  }

  // The optimiser and clipping settings in force (see FitOptions.optimizer).
  get optimizerSettings() {
    this._live('optimizerSettings');
    const { optimizer, clipNorm, clipValue } = this._current;
    return { optimizer: { ...optimizer }, clipNorm, clipValue };
  }

  // What the caller saved with the model (JSON), or null.
  get metadata() {
    this._live('metadata');
    const e = this._engine.exports;
    const len = e.rnnlab_metadata_len(this._handle) >>> 0;
    if (len === 0) return null;
    const text = new TextDecoder().decode(this._engine.u8(e.rnnlab_metadata_ptr(this._handle), len));
    return JSON.parse(text);
  }

  _setMetadata(metadata) {
    let text;
    try {
      text = JSON.stringify(metadata);
    } catch (err) {
      throw new RnnlabError('E_TYPE', `save options.metadata: expected a JSON-serialisable value, got one that fails: ${err.message}`);
    }
    if (text === undefined) throw new RnnlabError('E_TYPE', `save options.metadata: expected a JSON-serialisable value, got ${describe(metadata)}`);
    const bytes = new TextEncoder().encode(text);
    const status = withScratch(this._engine, bytes.length, 'save options.metadata', `${bytes.length} bytes of metadata`, (ptr) => {
      this._engine.u8(ptr, bytes.length).set(bytes);
      return this._engine.exports.rnnlab_set_metadata(this._handle, ptr, bytes.length);
    });
    this._check(status, 'save options.metadata');
  }

  save(options = {}) {
    this._idle('save');
    checkObject(options, 'save options');
    checkKeys(options, ['optimizer', 'metadata'], 'save options');
    const withOpt = checkBoolean(options.optimizer ?? true, 'save options.optimizer');
    if (options.metadata !== undefined) this._setMetadata(options.metadata);
    const e = this._engine.exports;
    const ptr = e.rnnlab_save_alloc(this._handle, withOpt ? 1 : 0);
    if (ptr === 0) {
      const status = e.rnnlab_global_status();
      this._check(status || 1, 'save');
    }
    const bytes = this._engine.u8(ptr, e.rnnlab_last_size() >>> 0).slice();
    e.rnnlab_bytes_free(ptr);
    return bytes;
  }

  dispose() {
    if (this._handle === 0) return;
    if (this._busy) throw new RnnlabError('E_BUSY', 'dispose: fit() is running on this model; stop it with its AbortSignal first');
    registry?.unregister(this);
    this._engine.exports.rnnlab_free(this._handle);
    this._handle = 0;
  }
}

function globalError(engine, what) {
  const status = engine.exports.rnnlab_global_status();
  const msg = engine.cString(engine.exports.rnnlab_global_error());
  return new RnnlabError(STATUS_CODES[status] ?? 'E_INVALID', `${what}: ${msg}`);
}

// A Model for a new engine handle; the handle is freed when that fails.
function adopt(engine, handle, what) {
  try {
    return new Model(engine, handle, readSettings(engine, handle, what));
  } catch (err) {
    engine.exports.rnnlab_free(handle);
    throw err;
  }
}

export async function createModel(config) {
  const c = checkModelConfig(config);
  const engine = await getEngine();
  const handle = withScratch(engine, 4 * CONFIG_WORDS, 'createModel', 'the model config', (ptr) => {
    encodeConfig(c, ...structViews(engine, ptr, CONFIG_WORDS));
    return engine.exports.rnnlab_create_from(ptr);
  });
  if (handle === 0) throw globalError(engine, 'createModel');
  return adopt(engine, handle, 'createModel');
}

export async function loadModel(bytes) {
  if (bytes instanceof ArrayBuffer) bytes = new Uint8Array(bytes);
  if (!(bytes instanceof Uint8Array)) {
    throw new RnnlabError('E_TYPE', `loadModel: expected a Uint8Array or ArrayBuffer, got ${describe(bytes)}`);
  }
  const engine = await getEngine();
  const handle = withScratch(engine, bytes.length, 'loadModel', `a copy of the ${bytes.length}-byte file`, (ptr) => {
    engine.u8(ptr, bytes.length).set(bytes);
    return engine.exports.rnnlab_load_from(ptr, bytes.length);
  });
  if (handle === 0) throw globalError(engine, 'loadModel');
  const model = adopt(engine, handle, 'loadModel');
  try {
    void model.metadata; // must be JSON: reject a file whose metadata is not
  } catch (err) {
    model.dispose();
    throw new RnnlabError('E_FORMAT', `loadModel: not a valid rnnlab model file: its metadata is not JSON (${err.message})`);
  }
  return model;
}
