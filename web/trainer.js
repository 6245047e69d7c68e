// trainer.js — training over data. One resumable Trainer owns batching,
// shuffling, truncated-BPTT windows (the recurrent state carried from window
// to window inside the engine), the non-finite policy, the history, validation
// and early stopping. fit() is a short loop over it, and the page's worker
// drives the same Trainer one batch at a time, so the two cannot disagree
// about what a training step is.

import { RnnlabError, describe } from './errors.js';
import { FLAG, STAT } from './abi.js';
import { normalizeData } from './data.js';
import { checkObject, checkKeys, checkInt, checkNumber, checkEnum, checkBoolean, checkFunction } from './options.js';
import { evaluateData } from './inference.js';
import { mulberry32 } from './random.js';
import { progressBar } from './progress.js';

const LIVE_KEYS = ['optimizer', 'clipNorm', 'clipValue', 'tbptt', 'onNonFinite'];
const DATA_KEYS = ['epochs', 'batchSize', 'shuffle', 'optimizer', 'clipNorm', 'clipValue', 'validationData',
  'earlyStopping', 'tbptt', 'onNonFinite'];
const FIT_KEYS = [...DATA_KEYS, 'onStep', 'onEpoch', 'signal', 'verbose'];

function checkEarlyStopping(options, val, where) {
  if (options.earlyStopping == null) return null;
  const e = options.earlyStopping;
  checkObject(e, `${where}.earlyStopping`);
  checkKeys(e, ['patience', 'minDelta', 'monitor'], `${where}.earlyStopping`);
  const early = {
    patience: checkInt(e.patience, 'earlyStopping.patience', 0, 1e9),
    minDelta: checkNumber(e.minDelta ?? 0, 'earlyStopping.minDelta', { min: 0 }),
    monitor: checkEnum(e.monitor ?? (val ? 'valLoss' : 'loss'), 'earlyStopping.monitor', ['loss', 'valLoss']),
  };
  if (early.monitor === 'valLoss' && !val) throw new RnnlabError('E_INVALID', `earlyStopping.monitor: 'valLoss' needs validationData`);
  return early;
}

// Truncated BPTT over output 'last' trains only the window with the last
// step; with a mask a sequence may end in an earlier window, whose target
// would be lost, so that combination is refused.
function checkWindows(model, d, tbptt, where) {
  if (model.config.bidirectional && tbptt !== Infinity && (!d || tbptt < d.T)) {
    throw new RnnlabError('E_INVALID', `${where}.tbptt: a bidirectional model reads each sequence whole, from its end too, ` +
      `so it cannot train in windows with the state carried; expected no tbptt (or one at least the sequence length), given tbptt ${tbptt}` +
      `${d ? ` for sequences of ${d.T} steps` : ''}`);
  }
  if (!d || tbptt >= d.T || model.config.output !== 'last' || !d.mask) return;
  throw new RnnlabError('E_INVALID', `${where}.tbptt: truncated BPTT with output 'last' reads each sequence's target in ` +
    `the last window only, and a mask or lengths can end a sequence earlier; use output 'sequence', or no tbptt ` +
    `(given tbptt ${tbptt} for sequences of ${d.T} steps)`);
}

function emptyHistory() {
  return {
    steps: { step: [], epoch: [], loss: [], gradNorm: [], gradNormAfter: [], clipped: [], skipped: [] },
    epochs: { epoch: [], loss: [], valLoss: [], valAccuracy: [], accuracy: [] },
    stoppedEarly: false,
  };
}

export class Trainer {
  /**
   * `data` null: the caller hands in batches (trainOn). Otherwise a data set,
   * trained in epochs with next().
   */
  constructor(model, data, options = {}, what = 'trainer') {
    this._model = model;
    this._what = what;
    const where = `${what} options`;
    checkObject(options, where);
    checkKeys(options, data === null ? LIVE_KEYS : DATA_KEYS, where);
    this._d = data === null ? null : normalizeData(data, model.config, { name: 'data' });
    this.history = emptyHistory();
    this.done = false;
    if (this._d) this._setupData(options, where);
    this._applyLive(options, where);
    if (this._d) this._reserve(where);
  }

  _setupData(options, where) {
    const d = this._d;
    this._val = options.validationData === undefined ? null : normalizeData(options.validationData, this._model.config, { name: 'validationData' });
    this.epochs = checkInt(options.epochs ?? 1, `${where}.epochs`, 1, 1e9);
    this._batchSize = Math.min(checkInt(options.batchSize ?? 32, `${where}.batchSize`, 1, 1e6), d.N);
    this._shuffle = checkBoolean(options.shuffle ?? true, `${where}.shuffle`);
    this._early = checkEarlyStopping(options, this._val, where);
    this._random = mulberry32(this._model.config.seed ^ 0x5eed);
    this._order = [...Array(d.N).keys()];
    this._epoch = 0;
    this._pos = null; // { start, t0, index, loss, counted, correct } within an epoch
    this._best = Infinity;
    this._waited = 0;
    this._stopping = false;
  }

  // Buffers for the largest batch first (they only grow): a data set too
  // large for memory fails here, before any setting changes or step is taken.
  _reserve(where) {
    const m = this._model;
    if (this._val) m._shape(Math.min(this._batchSize, this._val.N), this._val.T, this._what);
    m._shape(this._batchSize, Math.min(this._tbptt, this._d.T), this._what);
    m._setOptimizer(this._settings, this._what);
  }

  /** Changes the optimiser, clipping, tbptt or non-finite policy from the next step on. */
  update(options) {
    const where = `${this._what} update`;
    checkObject(options, where);
    checkKeys(options, LIVE_KEYS, where);
    this._applyLive(options, where);
  }

  _applyLive(options, where) {
    const m = this._model;
    const now = this._settings ?? {};
    this._settings = m._trainingOptions({ optimizer: now.optimizer, clipNorm: now.clipNorm, clipValue: now.clipValue, ...options }, where);
    if (options.onNonFinite !== undefined || this._onNonFinite === undefined) {
      this._onNonFinite = checkEnum(options.onNonFinite ?? 'stop', `${where}.onNonFinite`, ['stop', 'skip']);
    }
    if (options.tbptt !== undefined || this._tbptt === undefined) {
      this._tbptt = options.tbptt == null ? Infinity : checkInt(options.tbptt, `${where}.tbptt`, 1, 1e9);
      checkWindows(m, this._d, this._tbptt, where);
    }
  }

  // ---------------------------------------------------------------- windows

  // Whether a window has a position that counts: with output 'last' only the
  // last window, with a mask only where it holds a 1.
  _learns(d, index, t0, Tw) {
    if (d.last) return t0 + Tw === d.T;
    if (!d.mask) return true;
    for (const b of index) if (d.mask.subarray(b * d.T + t0, b * d.T + t0 + Tw).includes(1)) return true;
    return false;
  }

  // The window of sequences `index`, steps [t0, t0 + Tw): a training step, or
  // a forward pass that only carries the state on. Returns the step info or null.
  _window(d, index, t0, epoch) {
    const m = this._model;
    const Tw = Math.min(this._tbptt, d.T - t0);
    m._shape(index.length, Tw, this._what);
    const flags = m._write(d, index, t0, Tw) | (t0 > 0 ? FLAG.CARRY_STATE : 0);
    if (!this._learns(d, index, t0, Tw)) {
      m._check(m._abi.forward(m._handle, flags, false), this._what);
      return null;
    }
    const status = m._trainStep(this._settings, flags, this._what);
    const skipped = status !== 0;
    if (skipped && this._onNonFinite === 'stop') {
      throw new RnnlabError('E_NONFINITE', `${m._lastError.message}; pass onNonFinite: 'skip' to skip such steps`);
    }
    this._steps = (this._steps ?? 0) + 1;
    return m._stepInfo(this._steps, epoch, skipped);
  }

  /** One batch from the caller, every window of it: the steps it took (skipped ones included). */
  trainOn(batch) {
    this._model._idle(this._what);
    const d = normalizeData(batch, this._model.config, { name: 'batch' });
    checkWindows(this._model, d, this._tbptt, `${this._what} options`);
    const index = [...Array(d.N).keys()];
    const steps = [];
    for (let t0 = 0; t0 < d.T; t0 += Math.min(this._tbptt, d.T)) {
      const info = this._window(d, index, t0, 0);
      if (info) steps.push(info);
    }
    return steps;
  }

  // ---------------------------------------------------------------- epochs

  /** Windows per epoch, and how many of this epoch's are done. */
  progress() {
    const { N, T } = this._d;
    const perBatch = Math.ceil(T / Math.min(this._tbptt, T));
    const pos = this._pos;
    const done = pos ? (pos.start / this._batchSize) * perBatch + pos.t0 / Math.min(this._tbptt, T) : 0;
    return { epoch: this._epoch, epochs: this.epochs, done, total: Math.ceil(N / this._batchSize) * perBatch };
  }

  _beginEpoch() {
    if (this._shuffle) {
      const order = this._order;
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(this._random() * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
    }
    this._pos = { start: 0, t0: 0, index: null, loss: 0, counted: 0, correct: 0 };
  }

  // Trains windows until one takes a step; null when the epoch's data is used up.
  _nextStep() {
    const d = this._d;
    const pos = this._pos;
    while (pos.start < d.N) {
      pos.index ??= this._order.slice(pos.start, pos.start + this._batchSize);
      const info = this._window(d, pos.index, pos.t0, this._epoch);
      pos.t0 += Math.min(this._tbptt, d.T);
      if (pos.t0 >= d.T) Object.assign(pos, { t0: 0, start: pos.start + this._batchSize, index: null });
      if (info) {
        this._record(info);
        return info;
      }
    }
    return null;
  }

  _record(info) {
    const h = this.history.steps;
    h.step.push(info.step); h.epoch.push(info.epoch); h.loss.push(info.loss); h.gradNorm.push(info.gradNorm);
    h.gradNormAfter.push(info.gradNormAfter); h.clipped.push(info.clipped); h.skipped.push(info.skipped);
    if (info.skipped) return;
    const s = this._model._stats();
    this._pos.loss += info.loss * s[STAT.COUNTED];
    this._pos.counted += s[STAT.COUNTED];
    this._pos.correct += s[STAT.CORRECT];
  }

  _endEpoch() {
    const { loss, counted, correct } = this._pos;
    const ce = this._model.config.loss === 'cross-entropy';
    const info = { epoch: this._epoch, loss: counted ? loss / counted : NaN };
    if (ce) info.accuracy = counted ? correct / counted : 0;
    if (this._val) {
      const ev = evaluateData(this._model, this._val, this._batchSize);
      info.valLoss = ev.loss;
      if (ce) info.valAccuracy = ev.accuracy;
    }
    const e = this.history.epochs;
    e.epoch.push(info.epoch); e.loss.push(info.loss); e.valLoss.push(info.valLoss ?? NaN);
    e.valAccuracy.push(info.valAccuracy ?? NaN); e.accuracy.push(info.accuracy ?? NaN);
    this._earlyStopping(info);
    this._epoch++;
    this._pos = null;
    if (this._stopping || this._epoch >= this.epochs) this.done = true;
    return info;
  }

  _earlyStopping(info) {
    if (!this._early) return;
    const v = this._early.monitor === 'valLoss' ? info.valLoss : info.loss;
    if (v < this._best - this._early.minDelta) {
      this._best = v;
      this._waited = 0;
    } else if (++this._waited > this._early.patience) {
      this.history.stoppedEarly = true;
      this._stopping = true;
    }
  }

  /**
   * The next optimiser step over the data set: { step, epoch }, step the
   * step's info (null when none was left), epoch the epoch's record when
   * this call finished one (else null).
   */
  next() {
    if (this.done) return { step: null, epoch: null };
    this._model._idle(this._what, this);
    if (!this._pos) this._beginEpoch();
    const step = this._stopping ? null : this._nextStep();
    const finished = this._stopping || this._pos.start >= this._d.N;
    return { step, epoch: finished ? this._endEpoch() : null };
  }

  /** Ends training after the current epoch's record (at once between epochs). */
  stop() {
    if (this._pos) this._stopping = true;
    else this.done = true;
  }
}

// ---------------------------------------------------------------- fit

const yieldToEventLoop = () => new Promise((resolve) => setTimeout(resolve, 0));

function checkFitCallbacks(options) {
  checkObject(options, 'fit options');
  checkKeys(options, FIT_KEYS, 'fit options');
  const { onStep, onEpoch, signal, verbose, ...rest } = options;
  if (signal != null && (typeof signal !== 'object' || typeof signal.aborted !== 'boolean')) {
    throw new RnnlabError('E_TYPE', `fit options.signal: expected an AbortSignal, got ${describe(signal)}`);
  }
  return {
    onStep: onStep == null ? null : checkFunction(onStep, 'fit options.onStep'),
    onEpoch: onEpoch == null ? null : checkFunction(onEpoch, 'fit options.onEpoch'),
    signal: signal ?? null,
    verbose: verbose == null ? false : checkBoolean(verbose, 'fit options.verbose'),
    rest,
  };
}

// The errors that end a fit carry the history so far.
function withHistory(err, history, code, message) {
  const e = code ? new RnnlabError(code, message) : err;
  if (e instanceof RnnlabError && (e.code === 'E_NONFINITE' || e.code === 'E_ABORTED')) e.history = history;
  return e;
}

/** model.fit: trains `data` for options.epochs; resolves to the history. */
export async function fit(model, data, options) {
  model._idle('fit');
  const { onStep, onEpoch, signal, verbose, rest } = checkFitCallbacks(options);
  checkObject(data, 'data'); // null would mean batches handed in, which fit has none of
  const trainer = new Trainer(model, data, rest, 'fit');
  const bar = verbose ? progressBar(trainer) : null;
  model._busy = trainer;
  let lastYield = Date.now();
  try {
    while (!trainer.done) {
      if (signal?.aborted) throw withHistory(null, trainer.history, 'E_ABORTED', 'fit: stopped by its AbortSignal');
      const { step, epoch } = trainer.next();
      if (step && onStep && (await onStep(step)) === false) trainer.stop();
      bar?.update(step, epoch);
      if (epoch && onEpoch && (await onEpoch(epoch)) === false) trainer.stop();
      if (epoch || Date.now() - lastYield > 8) {
        await yieldToEventLoop();
        lastYield = Date.now();
      }
    }
  } catch (err) {
    throw withHistory(err, trainer.history);
  } finally {
    model._busy = null;
  }
  return trainer.history;
}
