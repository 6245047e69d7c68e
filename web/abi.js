// abi.js — the engine's ABI in one place. Every export of the wasm module is
// wrapped once here; the enums, buffer ids, stats slots, flags and struct
// layouts of src/rnnlab.h are written here and nowhere else in JS
// (tests/abi.test.js reads rnnlab.h and checks them). Defaults and the
// parameter layout come from the engine, not from JS copies of them.

import { RnnlabError } from './errors.js';

// rnnlab_status
export const STATUS_CODES = ['OK', 'E_NOMEM', 'E_INVALID', 'E_SHAPE', 'E_FORMAT', 'E_NONFINITE', 'E_STATE'];
export const STATUS_NONFINITE = 5;

// rnnlab_buffer_id
export const BUF = {
  X: 0, Y: 1, LABELS: 2, MASK: 3, H0: 4, C0: 5, OUT: 6, HT: 7, CT: 8, DX: 9, DH0: 10, DC0: 11,
  FLOW_H: 12, FLOW_C: 13, GATES: 14, HIDDEN: 15, CELLS: 16, PARAMS: 17, GRADS: 18, OPT_M: 19,
  OPT_V: 20, STATS: 21, IDS: 22, DROP_LAYER: 23, DROP_INPUT: 24, DROP_RECURRENT: 25, COUNT: 26,
};
const INT_BUFFERS = new Set([BUF.LABELS, BUF.IDS]);

// RNNLAB_STAT_*
export const STAT = { LOSS: 0, GRAD_NORM: 1, GRAD_NORM_AFTER: 2, CLIPPED: 3, COUNTED: 4, CORRECT: 5, STEP: 6, COUNT: 7 };

// Flags of a step: RNNLAB_USE_MASK, RNNLAB_USE_H0, RNNLAB_CARRY_STATE, RNNLAB_TRAINING.
export const FLAG = { USE_MASK: 1, USE_H0: 2, CARRY_STATE: 4, TRAINING: 8 };

// The engine's enums, by value: the JS names of RNNLAB_CELL_*, RNNLAB_OPT_*, ...
export const ENUMS = {
  cell: ['rnn', 'lstm', 'gru'],
  activation: ['tanh', 'relu'],
  gruVariant: ['reset-before', 'reset-after'],
  output: ['sequence', 'last'],
  loss: ['mse', 'cross-entropy'],
  init: ['glorot', 'pytorch'],
  recurrentInit: ['orthogonal', 'gaussian'],
  optimizer: ['sgd', 'momentum', 'adam', 'adamw', 'rmsprop'],
};
const BOOL = [false, true];

// Struct layouts, one 4-byte word per field in declaration order:
// [C field, word type, JS key, the JS values of an enum field].
export const CONFIG_FIELDS = [
  ['cell', 'i32', 'cell', ENUMS.cell],
  ['activation', 'i32', 'activation', ENUMS.activation],
  ['gru_reset_after', 'i32', 'gruVariant', ENUMS.gruVariant],
  ['input_size', 'i32', 'inputSize'],
  ['hidden_size', 'i32', 'hiddenSize'],
  ['output_size', 'i32', 'outputSize'],
  ['layers', 'i32', 'layers'],
  ['output', 'i32', 'output', ENUMS.output],
  ['loss', 'i32', 'loss', ENUMS.loss],
  ['init', 'i32', 'init', ENUMS.init],
  ['recurrent_init', 'i32', 'recurrentInit', ENUMS.recurrentInit],
  ['recurrent_scale', 'f32', 'recurrentScale'],
  ['forget_bias_one', 'i32', 'forgetBiasOne', BOOL],
  ['seed', 'u32', 'seed'],
  ['embedding_vocab', 'i32', 'embeddingVocab'],
  ['dropout', 'f32', 'dropout'],
  ['input_dropout', 'f32', 'inputDropout'],
  ['recurrent_dropout', 'f32', 'recurrentDropout'],
  ['bidirectional', 'i32', 'bidirectional', BOOL],
];
export const OPTIMIZER_FIELDS = [
  ['type', 'i32', 'type', ENUMS.optimizer],
  ['lr', 'f32', 'lr'],
  ['momentum', 'f32', 'momentum'],
  ['beta1', 'f32', 'beta1'],
  ['beta2', 'f32', 'beta2'],
  ['eps', 'f32', 'eps'],
  ['rho', 'f32', 'rho'],
  ['weight_decay', 'f32', 'weightDecay'],
  ['clip_norm', 'f32', 'clipNorm'],
  ['clip_value', 'f32', 'clipValue'],
];

// The shortest decimal that is the same float32 (0.001, not 0.0010000000474974513).
function shortestFloat32(v) {
  for (let p = 1; p < 9; p++) {
    const d = Number(v.toPrecision(p));
    if (Math.fround(d) === v) return d;
  }
  return v;
}

// Which tensor of the flat parameter vector rnnlab_param_slice_* is asked for.
// Kinds 4..7 are W, U, b, bhn of a bidirectional layer's reverse direction.
const SLICE_KIND = { W: 0, U: 1, b: 2, bhn: 3, V: 0, c: 1, embedding: 0 };

// The JS config has `embedding: { vocabSize, size } | null`; the struct has
// embedding_vocab, with the size as input_size.
function toStructConfig(config) {
  const e = config.embedding;
  return { ...config, inputSize: e ? e.size : config.inputSize, embeddingVocab: e ? e.vocabSize : 0 };
}
function fromStructConfig({ embeddingVocab, ...config }) {
  config.embedding = embeddingVocab ? Object.freeze({ vocabSize: embeddingVocab, size: config.inputSize }) : null;
  return config;
}

/** A loaded engine: the wrapped exports, views of its memory, structs. */
export class Abi {
  // `memory`: the threaded build imports its (shared) memory instead of
  // exporting one.
  constructor(instance, simd, memory = instance.exports.memory) {
    this.memory = memory;
    this.simd = simd;
    /** Calls into wasm so far (tests count them per API call). */
    this.calls = 0;
    /** Threads that run the engine's work (1 unless a pool is attached). */
    this.threads = 1;
    /** Why the engine runs on one thread where more were wanted, or null (engine.js). */
    this.threadsWhy = null;
    this.pool = null;
    this._views = null;
    this._defaults = null;
    this._stopped = null; // the error every call throws once the engine is terminated
    this._pending = null; // a lost worker, reported by the next call of the API
    this._lostWord = 0;
    // every export wrapped once: counted, and reached only through this object
    const raw = instance.exports;
    this._fn = {};
    for (const [name, f] of Object.entries(raw)) {
      if (typeof f !== 'function') continue;
      this._fn[name.replace(/^rnnlab_/, '')] = (...args) => {
        if (this._stopped) throw this._stopped;
        this.calls++;
        const result = f(...args);
        if (this._lostWord && this._heap().i32[this._lostWord >>> 2] !== 0) this._workerLost();
        return result;
      };
    }
  }

  // ---------------------------------------------------------------- threads

  /** A lost worker is reported once, by the next call of the API (model methods, createModel, loadModel). */
  throwPending() {
    const err = this._pending;
    if (!err) return;
    this._pending = null;
    throw err;
  }

  /** A table of 2 words per thread (stack top, TLS block), or null. */
  poolStart(threads) {
    const ptr = this._fn.pool_start(threads);
    return ptr === 0 ? null : Array.from(this.u32(ptr, 2 * threads));
  }

  poolUse(threads) {
    if (this._fn.pool_use(threads) !== 0) throw new RnnlabError('E_LOAD', `init: the engine cannot run on ${threads} threads`);
    this.threads = threads;
    this._lostWord = this._fn.pool_word(1, 0);
  }

  poolWord(what, thread) { return this._fn.pool_word(what, thread); }

  poolStop() {
    this._lostWord = 0;
    this._fn.pool_stop();
    this.threads = 1;
  }

  // The engine finished a job alone because a worker was gone (src/pool.c):
  // it runs on one thread from now on, and the next call says so.
  _workerLost(why = null) {
    const thread = this._heap().i32[this._lostWord >>> 2] - 1;
    this._lostWord = 0;
    const was = this.threads;
    this.threads = 1;
    const what = why ?? `worker thread ${thread} of ${was} stopped`;
    const torn = this._heap().i32[this._fn.pool_word(3, 0) >>> 2] !== 0;
    const before = torn
      ? 'it stopped in the middle of its share of the previous call, so that call\'s results (and the weights, if it trained) cannot be trusted: load the model from a save; '
      : 'the previous call finished without it, with the same results; ';
    this._pending = new RnnlabError('E_LOAD', `${what}: ${before}the engine runs on 1 thread from now on, with the same results; ` +
      'this call was not carried out: make it again (or call terminate() and init() to start the threads again)');
  }

  /** A worker ended (its JS saw it): the engine stops using it. */
  markDead(thread, why) {
    if (this._stopped || this.threads === 1) return;
    Atomics.store(this._heap().i32, this._fn.pool_word(0, thread) >>> 2, 1);
    this._fn.pool_use(1);
    if (this._lostWord) this._workerLost(why);
  }

  /** Every later call throws `err` (terminate()). */
  stop(err) {
    this._stopped = err;
  }

  get stopped() { return this._stopped !== null; }

  // ---------------------------------------------------------------- memory

  // Views are remade when memory has grown (the old buffer is detached).
  _heap() {
    if (this._views?.buffer !== this.memory.buffer) {
      const b = this.memory.buffer;
      this._views = { buffer: b, f32: new Float32Array(b), i32: new Int32Array(b), u32: new Uint32Array(b), u8: new Uint8Array(b) };
    }
    return this._views;
  }

  get heapGeneration() {
    return this.memory.buffer;
  }

  f32(ptr, n) { return this._heap().f32.subarray(ptr >>> 2, (ptr >>> 2) + n); }
  i32(ptr, n) { return this._heap().i32.subarray(ptr >>> 2, (ptr >>> 2) + n); }
  u32(ptr, n) { return this._heap().u32.subarray(ptr >>> 2, (ptr >>> 2) + n); }
  u8(ptr, n) { return this._heap().u8.subarray(ptr >>> 0, (ptr >>> 0) + n); }

  cString(ptr) {
    const u8 = this._heap().u8;
    let end = ptr >>> 0;
    while (u8[end] !== 0) end++;
    return new TextDecoder().decode(u8.slice(ptr >>> 0, end)); // a copy: shared memory cannot be decoded
  }

  memoryBytes() {
    return this.memory.buffer.byteLength;
  }

  // Runs fn(ptr) with `bytes` of engine scratch memory, freed afterwards.
  withScratch(bytes, what, purpose, fn) {
    const ptr = this._fn.scratch(bytes);
    if (ptr === 0) {
      throw new RnnlabError('E_NOMEM', `${what}: out of memory: wasm memory has no room for ${purpose} (${bytes} bytes)`);
    }
    try {
      return fn(ptr);
    } finally {
      this._fn.bytes_free(ptr);
    }
  }

  // ---------------------------------------------------------------- structs

  // Room for one struct (rnnlab_config, rnnlab_optimizer), allocated once and
  // kept for the engine's life: passing settings costs no allocation calls.
  _struct(what) {
    if (!this._structPtr) {
      const ptr = this._fn.scratch(4 * Math.max(CONFIG_FIELDS.length, OPTIMIZER_FIELDS.length));
      if (ptr === 0) throw new RnnlabError('E_NOMEM', `${what}: out of memory: wasm memory has no room for the model settings`);
      this._structPtr = ptr;
    }
    return this._structPtr;
  }

  writeStruct(fields, ptr, obj) {
    const i32 = this.i32(ptr, fields.length);
    const f32 = this.f32(ptr, fields.length);
    const u32 = this.u32(ptr, fields.length);
    fields.forEach(([, type, key, values], k) => {
      const v = values ? values.indexOf(obj[key]) : obj[key];
      if (type === 'f32') f32[k] = v;
      else if (type === 'u32') u32[k] = v >>> 0;
      else i32[k] = v;
    });
  }

  readStruct(fields, ptr) {
    const i32 = this.i32(ptr, fields.length);
    const f32 = this.f32(ptr, fields.length);
    const u32 = this.u32(ptr, fields.length);
    const out = {};
    fields.forEach(([, type, key, values], k) => {
      const v = type === 'f32' ? shortestFloat32(f32[k]) : type === 'u32' ? u32[k] : i32[k];
      out[key] = values ? values[v] : v;
    });
    return out;
  }

  // ---------------------------------------------------------------- errors

  error(handle, status, what) {
    const msg = this.cString(this._fn.last_error(handle));
    return new RnnlabError(STATUS_CODES[status] ?? 'E_INVALID', `${what}: ${msg}`);
  }

  check(handle, status, what) {
    if (status !== 0) throw this.error(handle, status, what);
  }

  globalError(what) {
    const status = this._fn.global_status();
    const msg = this.cString(this._fn.global_error());
    return new RnnlabError(STATUS_CODES[status] ?? 'E_INVALID', `${what}: ${msg}`);
  }

  // ---------------------------------------------------------------- lifecycle

  /** The engine's defaults: { config, optimizers: { adam: {...}, ... } }. */
  defaults() {
    if (!this._defaults) {
      const ptr = this._struct('init');
      this._fn.config_default_into(ptr);
      const config = fromStructConfig(this.readStruct(CONFIG_FIELDS, ptr));
      const optimizers = {};
      ENUMS.optimizer.forEach((type, k) => {
        this._fn.optimizer_default_into(ptr, k);
        const { clipNorm, clipValue, ...o } = this.readStruct(OPTIMIZER_FIELDS, ptr);
        optimizers[type] = o;
      });
      this._defaults = { config, optimizers };
    }
    return this._defaults;
  }

  create(config, what) {
    this.throwPending();
    const ptr = this._struct(what);
    this.writeStruct(CONFIG_FIELDS, ptr, toStructConfig(config));
    const handle = this._fn.create_from(ptr);
    if (handle === 0) throw this.globalError(what);
    return handle;
  }

  load(bytes, what) {
    this.throwPending();
    const handle = this.withScratch(bytes.length, what, `a copy of the ${bytes.length}-byte file`, (ptr) => {
      this.u8(ptr, bytes.length).set(bytes);
      return this._fn.load_from(ptr, bytes.length);
    });
    if (handle === 0) throw this.globalError(what);
    return handle;
  }

  free(handle) {
    this._fn.free(handle);
  }

  /** { config, settings: { optimizer, clipNorm, clipValue } } in force. */
  readSettings(handle, what) {
    const ptr = this._struct(what);
    this._fn.get_config(handle, ptr);
    const config = Object.freeze(fromStructConfig(this.readStruct(CONFIG_FIELDS, ptr)));
    this._fn.get_optimizer(handle, ptr);
    const { clipNorm, clipValue, ...optimizer } = this.readStruct(OPTIMIZER_FIELDS, ptr);
    return { config, settings: { optimizer, clipNorm, clipValue } };
  }

  setOptimizer(handle, { optimizer, clipNorm, clipValue }, what) {
    const ptr = this._struct(what);
    this.writeStruct(OPTIMIZER_FIELDS, ptr, { ...optimizer, clipNorm, clipValue });
    return this._fn.set_optimizer(handle, ptr);
  }

  /**
   * The flat parameter layout, as the engine lays it out:
   * { count, layers: [{ W, U, b, bhn? }], head: { V, c } }, each { offset, count };
   * with D = 2 directions layers has L*2 entries, layer l's forward then its reverse.
   */
  paramLayout(handle, L, D = 1) {
    const slice = (layer, kind, d = 0) => ({
      offset: this._fn.param_slice_offset(handle, layer, SLICE_KIND[kind] + 4 * d) >>> 0,
      count: this._fn.param_slice_count(handle, layer, SLICE_KIND[kind] + 4 * d) >>> 0,
    });
    const layers = [];
    for (let l = 0; l < L; l++) {
      for (let d = 0; d < D; d++) {
        const entry = { W: slice(l, 'W', d), U: slice(l, 'U', d), b: slice(l, 'b', d) };
        const bhn = slice(l, 'bhn', d);
        if (bhn.count > 0) entry.bhn = bhn;
        layers.push(entry);
      }
    }
    const embedding = slice(-1, 'embedding');
    return { count: this._fn.param_count(handle) >>> 0, layers, head: { V: slice(L, 'V'), c: slice(L, 'c') },
      ...(embedding.count > 0 ? { embedding } : {}) };
  }

  // ---------------------------------------------------------------- batches and steps

  setBatch(handle, B, T) { return this._fn.set_batch(handle, B, T); }
  paramsChanged(handle) { this._fn.params_changed(handle); }
  resetOptimizer(handle) { this._fn.reset_optimizer(handle); }
  forward(handle, flags, withLoss) { return this._fn.forward(handle, flags, withLoss ? 1 : 0); }
  computeGradients(handle, flags) { return this._fn.compute_gradients(handle, flags); }
  trainStep(handle, flags) { return this._fn.train_step(handle, flags); }

  /** The buffer table: [{ ptr, count }] by buffer id (ptr 0 where none). */
  bufferTable(handle) {
    const ptr = this._fn.buffer_table(handle);
    const words = this.u32(ptr, 2 * BUF.COUNT);
    return Array.from({ length: BUF.COUNT }, (_, id) => ({ ptr: words[2 * id], count: words[2 * id + 1] }));
  }

  /** A typed-array view of one table entry. */
  view(id, entry) {
    return INT_BUFFERS.has(id) ? this.i32(entry.ptr, entry.count) : this.f32(entry.ptr, entry.count);
  }

  spectralNorms(handle, n, what) {
    return this.withScratch(4 * n, what, `${n} spectral norms`, (ptr) => {
      this.check(handle, this._fn.spectral_norms(handle, ptr, n), what);
      return this.f32(ptr, n).slice();
    });
  }

  save(handle, withOptimizer, what) {
    const ptr = this._fn.save_alloc(handle, withOptimizer ? 1 : 0);
    if (ptr === 0) this.check(handle, this._fn.global_status() || 1, what);
    const bytes = this.u8(ptr, this._fn.last_size() >>> 0).slice();
    this._fn.bytes_free(ptr);
    return bytes;
  }

  setMetadata(handle, bytes, what) {
    const status = this.withScratch(bytes.length, what, `${bytes.length} bytes of metadata`, (ptr) => {
      this.u8(ptr, bytes.length).set(bytes);
      return this._fn.set_metadata(handle, ptr, bytes.length);
    });
    this.check(handle, status, what);
  }

  /** The metadata bytes kept with the model (a copy), or null. */
  metadata(handle) {
    const len = this._fn.metadata_len(handle) >>> 0;
    return len === 0 ? null : this.u8(this._fn.metadata_ptr(handle), len).slice();
  }

  /** Raw scratch memory for tests that probe the allocator. */
  scratch(bytes) { return this._fn.scratch(bytes); }
  bytesFree(ptr) { this._fn.bytes_free(ptr); }
}

/**
 * One model's batch buffers: set_batch only when the shape changes, the
 * buffer table read once per shape, views remade only when memory grows.
 */
export class BatchBuffers {
  constructor(abi, handle) {
    this._abi = abi;
    this._handle = handle;
    this.B = 0;
    this.T = 0;
    this._table = null;
    this._heap = null;
    this._views = [];
  }

  /** Sizes the buffers for B x T (a no-op when they already are). */
  shape(B, T, what) {
    if (B === this.B && T === this.T && this._table) return;
    this._abi.check(this._handle, this._abi.setBatch(this._handle, B, T), what);
    this.B = B;
    this.T = T;
    this._table = null;
  }

  /** The view of buffer `id` (null where the model has no such buffer). */
  get(id) {
    const abi = this._abi;
    if (!this._table) {
      this._table = abi.bufferTable(this._handle);
      this._heap = null;
    }
    if (this._heap !== abi.heapGeneration) {
      this._heap = abi.heapGeneration;
      this._views = this._table.map((entry, k) => (entry.ptr ? abi.view(k, entry) : null));
    }
    return this._views[id];
  }
}
