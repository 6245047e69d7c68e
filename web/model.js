// model.js — the Model: one engine handle behind a checked API. Its
// lifecycle, its settings, one training step and the weights live here;
// inference is in inference.js, training over data sets in trainer.js.

import { RnnlabError, describe, formatShape } from './errors.js';
import { getEngine } from './engine.js';
import { BUF, STAT, FLAG, STATUS_NONFINITE, BatchBuffers } from './abi.js';
import { normalizeData, toTensor, writeRows, toBatchMajor } from './data.js';
import { checkModelConfig, checkOptimizer, gateNames, directions } from './config.js';
import { checkObject, checkKeys, checkNumber, checkBoolean } from './options.js';
import { describeLayout, toStateDict, fromStateDict, gradsToStateDict } from './weights.js';
import { predict, evaluate, gateTrace, sample } from './inference.js';
import { fit, Trainer } from './trainer.js';
import { gradcheck } from './gradcheck.js';

const registry = typeof FinalizationRegistry === 'function'
  ? new FinalizationRegistry(({ abi, handle }) => { if (!abi.stopped) abi.free(handle); })
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

const optimizerKey = ({ optimizer, clipNorm, clipValue }) => JSON.stringify([optimizer, clipNorm, clipValue]);

export class Model {
  constructor(abi, handle, { config, settings }) {
    this._abi = abi;
    this._handle = handle;
    this._buffers = new BatchBuffers(abi, handle);
    this._busy = null; // the Trainer of a running fit()
    this._lastFlow = null;
    this._hasGrads = false;
    this.config = config;
    this._layout = describeLayout(config, abi.paramLayout(handle, config.layers, directions(config)));
    // { optimizer, clipNorm, clipValue } in force until a call passes others
    this._current = settings;
    this._optimizerKey = optimizerKey(settings);
    registry?.register(this, { abi, handle }, this);
  }

  // ---------------------------------------------------------------- plumbing

  get disposed() {
    return this._handle === 0 || this._abi.stopped;
  }

  _live(what) {
    if (this._handle === 0) throw new RnnlabError('E_DISPOSED', `${what}: the model was disposed; create or load a new one`);
    if (this._abi.stopped) throw new RnnlabError('E_DISPOSED', `${what}: the engine was stopped with terminate(); create or load a new model`);
    this._abi.throwPending();
  }

  // `owner`: the Trainer that fit() runs, which may go on while it is busy.
  _idle(what, owner = null) {
    this._live(what);
    if (this._busy && this._busy !== owner) throw new RnnlabError('E_BUSY', `${what}: fit() is running on this model; wait for it or stop it with its AbortSignal`);
  }

  _check(status, what) {
    this._abi.check(this._handle, status, what);
  }

  _buf(id) {
    return this._buffers.get(id);
  }

  // Sizes the engine's batch buffers (only when the shape changes).
  _shape(B, T, what) {
    this._buffers.shape(B, T, what);
  }

  // Puts `settings` ({ optimizer, clipNorm, clipValue }) in force when they
  // differ from the engine's. Called last, once everything else is checked:
  // a call that fails leaves the settings as they were.
  _setOptimizer(settings, what) {
    const key = optimizerKey(settings);
    if (key === this._optimizerKey) return;
    this._check(this._abi.setOptimizer(this._handle, settings, what), `${what} optimizer`);
    this._optimizerKey = key;
    this._current = settings;
  }

  // Options not given keep the settings in force; null or 0 turns clipping off.
  _trainingOptions(options, where) {
    const cur = this._current;
    const defaults = this._abi.defaults().optimizers;
    const optimizer = options.optimizer === undefined ? cur.optimizer : checkOptimizer(options.optimizer, `${where}.optimizer`, defaults);
    const clip = (v, name, now) => (v === undefined ? now : v === null ? 0 : checkNumber(v, `${where}.${name}`, { min: 0 }));
    return { optimizer, clipNorm: clip(options.clipNorm, 'clipNorm', cur.clipNorm), clipValue: clip(options.clipValue, 'clipValue', cur.clipValue) };
  }

  // Writes sequences `index` (steps t0 .. t0+Tw) of a checked data set into
  // the engine, after _shape(index.length, Tw); returns the step's flags.
  _write(d, index, t0, Tw) {
    const ce = this.config.loss === 'cross-entropy';
    writeRows(d, index, t0, Tw, {
      x: this._buf(d.ids ? BUF.IDS : BUF.X),
      mask: d.mask ? this._buf(BUF.MASK) : null,
      y: d.y ? this._buf(BUF.Y) : null,
      labels: ce && d.labels ? this._buf(BUF.LABELS) : null,
    });
    return d.mask ? FLAG.USE_MASK : 0;
  }

  // The state option, checked: { h, c } (c for an LSTM only) or null.
  _checkState(state, B, what) {
    if (state === undefined) return null;
    const { layers: L, hiddenSize: H, cell } = this.config;
    const where = `${what}.state`;
    checkObject(state, where);
    checkKeys(state, ['h', 'c'], where);
    const shape = [L * directions(this.config), B, H]; // PyTorch's [layers·directions, B, H]
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

  // Writes a checked state (after _shape); returns the flag for it.
  _writeState(state) {
    if (!state) return 0;
    this._buf(BUF.H0).set(state.h);
    if (state.c) this._buf(BUF.C0).set(state.c);
    return FLAG.USE_H0;
  }

  _readState() {
    const state = { h: this._buf(BUF.HT).slice() };
    if (this.config.cell === 'lstm') state.c = this._buf(BUF.CT).slice();
    return state;
  }

  _stats() {
    return this._buf(BUF.STATS);
  }

  // One optimiser step on the batch in the engine. Returns the status: 0, or
  // STATUS_NONFINITE when the step was refused as non-finite (nothing changed).
  // A failed step also leaves the optimiser settings as they were.
  _trainStep(settings, flags, what) {
    const previous = this._current;
    this._setOptimizer(settings, what);
    const status = this._abi.trainStep(this._handle, flags);
    if (status !== 0) {
      const error = this._abi.error(this._handle, status, what);
      this._setOptimizer(previous, what);
      if (status !== STATUS_NONFINITE) throw error;
      this._lastError = error;
    }
    return status;
  }

  // What a step reports, from the engine's stats and flow buffers.
  _stepInfo(step, epoch, skipped) {
    const s = this._stats();
    const L = this.config.layers * directions(this.config); // per unit: layer-major, then direction
    const split = (v) => Array.from({ length: L }, (_, l) => v.slice((l * v.length) / L, ((l + 1) * v.length) / L));
    const flow = split(this._buf(BUF.FLOW_H));
    const flowC = this.config.cell === 'lstm' ? split(this._buf(BUF.FLOW_C)) : undefined;
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

  // A whole checked batch into the engine, with an optional initial state.
  _loadBatch(batch, options, what) {
    const d = normalizeData(batch, this.config, { name: 'batch' });
    const state = this._checkState(options.state, d.N, `${what} options`);
    this._shape(d.N, d.T, what);
    const flags = this._write(d, [...Array(d.N).keys()], 0, d.T) | this._writeState(state);
    return { d, flags };
  }

  // ---------------------------------------------------------------- training

  trainStep(batch, options = {}) {
    this._idle('trainStep');
    checkObject(options, 'trainStep options');
    checkKeys(options, ['optimizer', 'clipNorm', 'clipValue', 'state'], 'trainStep options');
    const settings = this._trainingOptions(options, 'trainStep options');
    const { flags } = this._loadBatch(batch, options, 'trainStep');
    if (this._trainStep(settings, flags, 'trainStep') !== 0) throw this._lastError;
    const info = this._stepInfo(this._stats()[STAT.STEP], 0, false);
    info.state = this._readState();
    return info;
  }

  // Loss and every gradient for one batch, without changing the weights.
  // options.training: with the dropout masks of the model's step count (SPEC §12).
  computeGradients(batch, options = {}) {
    this._idle('computeGradients');
    checkObject(options, 'computeGradients options');
    checkKeys(options, ['state', 'training'], 'computeGradients options');
    const training = checkBoolean(options.training ?? false, 'computeGradients options.training');
    const { d, flags } = this._loadBatch(batch, options, 'computeGradients');
    this._check(this._abi.computeGradients(this._handle, flags | (training ? FLAG.TRAINING : 0)), 'computeGradients');
    const info = this._stepInfo(this._stats()[STAT.STEP], 0, false);
    const dState = { h: this._buf(BUF.DH0).slice() };
    if (this.config.cell === 'lstm') dState.c = this._buf(BUF.DC0).slice();
    return {
      loss: info.loss, gradNorm: info.gradNorm, flow: info.flow, ...(info.flowC ? { flowC: info.flowC } : {}),
      output: this._buf(BUF.OUT).slice(), state: this._readState(),
      flatGradients: this._buf(BUF.GRADS).slice(), dx: toBatchMajor(this._buf(BUF.DX), d.T, d.N, this.config.inputSize), dState,
    };
  }

  // The engine's gradients against central finite differences (gradcheck.js).
  gradcheck(batch, options = {}) {
    return gradcheck(this, batch, options);
  }

  fit(data, options = {}) {
    return fit(this, data, options);
  }

  /** A Trainer over `data` (epochs, next()), or with data null over batches handed to trainOn(). */
  trainer(data = null, options = {}) {
    this._idle('trainer');
    return new Trainer(this, data, options);
  }

  // The parameters in rnnlab's own flat layout (README, "Parameter layout").
  getParameters() {
    this._idle('getParameters');
    return this._buf(BUF.PARAMS).slice();
  }

  setParameters(flat) {
    this._idle('setParameters');
    const n = this._layout.count;
    const t = toTensor(flat, 'setParameters', [n], { flatShape: [n] });
    this._buf(BUF.PARAMS).set(t.data);
    this._abi.paramsChanged(this._handle);
  }

  // ---------------------------------------------------------------- inference

  evaluate(data, options = {}) {
    return evaluate(this, data, options);
  }

  predict(x, options = {}) {
    return predict(this, x, options);
  }

  gateTrace(x, options = {}) {
    return gateTrace(this, x, options);
  }

  sample(options) {
    return sample(this, options);
  }

  // ---------------------------------------------------------------- diagnostics

  // The dropout masks of the last forward that applied dropout (SPEC §12):
  // { layer?, input?, recurrent? }, each { data, shape }, for the p > 0 only.
  dropoutMasks() {
    this._idle('dropoutMasks');
    const { layers, hiddenSize: H, cell } = this.config;
    const D = directions(this.config), L = layers * D; // units, as the engine's masks
    const G = gateNames(cell).length, B = this._buffers.B, T = this._buffers.T;
    if (!B) return {};
    const out = {};
    const take = (key, id, shape) => { const v = this._buf(id); if (v) out[key] = { data: v.slice(), shape }; };
    take('layer', BUF.DROP_LAYER, [layers - 1, T, B, D * H]);
    const Xm = this._buf(BUF.DROP_INPUT) ? this._buf(BUF.DROP_INPUT).length / (L * G * B) : 0;
    take('input', BUF.DROP_INPUT, [L, G, B, Xm]);
    take('recurrent', BUF.DROP_RECURRENT, [L, G, B, H]);
    return out;
  }

  gradientFlow() {
    this._live('gradientFlow');
    if (!this._lastFlow) return null;
    const copy = (a) => a.map((v) => v.slice());
    return this._lastFlow.c ? { h: copy(this._lastFlow.h), c: copy(this._lastFlow.c) } : { h: copy(this._lastFlow.h) };
  }

  spectralNorms() {
    this._idle('spectralNorms');
    const names = gateNames(this.config.cell);
    const units = this.config.layers * directions(this.config); // bidirectional: [l·2 + d]
    const n = units * names.length;
    const v = this._abi.spectralNorms(this._handle, n, 'spectralNorms');
    return Array.from({ length: units }, (_, l) => Object.fromEntries(names.map((g, k) => [g, v[l * names.length + k]])));
  }

  parameterCount() {
    this._live('parameterCount');
    return { rnnlab: this._layout.count, pytorch: this._layout.pytorchCount };
  }

  // ---------------------------------------------------------------- weights

  exportWeights() {
    this._idle('exportWeights');
    return withCaller('exportWeights', () => toStateDict(this._layout, this._buf(BUF.PARAMS)));
  }

  importWeights(dict) {
    this._idle('importWeights');
    const flat = withCaller('importWeights', () => fromStateDict(this._layout, dict)); // checks everything before writing
    this._buf(BUF.PARAMS).set(flat);
    this._abi.paramsChanged(this._handle);
  }

  gradients() {
    this._idle('gradients');
    if (!this._hasGrads) return null;
    return withCaller('gradients', () => gradsToStateDict(this._layout, this._buf(BUF.GRADS)));
  }

  // The optimiser and clipping settings in force (see FitOptions.optimizer).
  get optimizerSettings() {
    this._live('optimizerSettings');
    const { optimizer, clipNorm, clipValue } = this._current;
    return { optimizer: { ...optimizer }, clipNorm, clipValue };
  }

  // ---------------------------------------------------------------- files

  // What the caller saved with the model (JSON), or null.
  get metadata() {
    this._live('metadata');
    const bytes = this._abi.metadata(this._handle);
    return bytes === null ? null : JSON.parse(new TextDecoder().decode(bytes));
  }

  _setMetadata(metadata) {
    let text;
    try {
      text = JSON.stringify(metadata);
    } catch (err) {
      throw new RnnlabError('E_TYPE', `save options.metadata: expected a JSON-serialisable value, got one that fails: ${err.message}`);
    }
    if (text === undefined) throw new RnnlabError('E_TYPE', `save options.metadata: expected a JSON-serialisable value, got ${describe(metadata)}`);
    this._abi.setMetadata(this._handle, new TextEncoder().encode(text), 'save options.metadata');
  }

  save(options = {}) {
    this._idle('save');
    checkObject(options, 'save options');
    checkKeys(options, ['optimizer', 'metadata'], 'save options');
    const withOpt = checkBoolean(options.optimizer ?? true, 'save options.optimizer');
    if (options.metadata !== undefined) this._setMetadata(options.metadata);
    return this._abi.save(this._handle, withOpt, 'save');
  }

  dispose() {
    if (this._handle === 0) return;
    if (this._abi.stopped) { // terminate() took the engine and the model with it
      registry?.unregister(this);
      this._handle = 0;
      return;
    }
    if (this._busy) throw new RnnlabError('E_BUSY', 'dispose: fit() is running on this model; stop it with its AbortSignal first');
    registry?.unregister(this);
    this._abi.free(this._handle);
    this._handle = 0;
  }
}

// A Model for a new engine handle; the handle is freed when that fails.
function adopt(abi, handle, what) {
  try {
    return new Model(abi, handle, abi.readSettings(handle, what));
  } catch (err) {
    abi.free(handle);
    throw err;
  }
}

export async function createModel(config) {
  const abi = await getEngine();
  const c = checkModelConfig(config, abi.defaults().config);
  return adopt(abi, abi.create(c, 'createModel'), 'createModel');
}

export async function loadModel(bytes) {
  if (bytes instanceof ArrayBuffer) bytes = new Uint8Array(bytes);
  if (!(bytes instanceof Uint8Array)) {
    throw new RnnlabError('E_TYPE', `loadModel: expected a Uint8Array or ArrayBuffer, got ${describe(bytes)}`);
  }
  const abi = await getEngine();
  const model = adopt(abi, abi.load(bytes, 'loadModel'), 'loadModel');
  try {
    void model.metadata; // must be JSON: reject a file whose metadata is not
  } catch (err) {
    model.dispose();
    throw new RnnlabError('E_FORMAT', `loadModel: not a valid rnnlab model file: its metadata is not JSON (${err.message})`);
  }
  return model;
}
