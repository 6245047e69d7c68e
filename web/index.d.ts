// Type declarations for rnnlab, written by hand. See README.md for examples.

export type CellType = 'rnn' | 'lstm' | 'gru';

export type ErrorCode =
  | 'E_SHAPE'      // sizes do not fit each other or the model
  | 'E_INVALID'    // an option or value is out of range, or unknown
  | 'E_TYPE'       // a value has the wrong type
  | 'E_NONFINITE'  // NaN or Infinity in data, loss or gradients
  | 'E_NOMEM'      // wasm memory could not be grown
  | 'E_FORMAT'     // a saved model or weight file is corrupt or foreign
  | 'E_STATE'      // a call out of order
  | 'E_DISPOSED'   // the model was disposed
  | 'E_BUSY'       // a fit() is running on this model
  | 'E_ABORTED'    // fit() was stopped through its AbortSignal
  | 'E_LOAD';      // the WebAssembly module could not be loaded

export class RnnlabError extends Error {
  readonly code: ErrorCode;
  /** fit() errors (E_ABORTED, E_NONFINITE): the history up to the stop. */
  readonly history?: History;
  constructor(code: ErrorCode, message: string);
}

/** Inputs as ids [N, T] into a trained table (V, size): SPEC §13, PyTorch's embedding.weight. */
export interface EmbeddingConfig {
  vocabSize: number;
  size: number;
}

/** A model reads vectors of inputSize, or with `embedding` ids (inputSize is then embedding.size). */
export type ModelConfig = ModelConfigBase & (
  | { inputSize: number; embedding?: null }
  | { inputSize?: number; embedding: EmbeddingConfig });

export interface ModelConfigBase {
  cell: CellType;
  hiddenSize: number;
  outputSize: number;
  /** Stacked layers, default 1. */
  layers?: number;
  /** 'sequence' (many-to-many, default) or 'last' (many-to-one). */
  output?: 'sequence' | 'last';
  /** 'mse' (default) or 'cross-entropy' (targets are class indices). */
  loss?: 'mse' | 'cross-entropy';
  /** Vanilla RNN nonlinearity, default 'tanh'. */
  activation?: 'tanh' | 'relu';
  /** GRU candidate, default 'reset-before' (SPEC §1); PyTorch uses 'reset-after'. */
  gruVariant?: 'reset-before' | 'reset-after';
  /** 'glorot' (default: Glorot W, orthogonal U) or 'pytorch' (U(±1/sqrt(H)) everywhere). */
  init?: 'glorot' | 'pytorch';
  /** Recurrent weights: 'orthogonal' (default) or 'gaussian'. */
  recurrentInit?: 'orthogonal' | 'gaussian';
  /** Scale of the recurrent weights, i.e. their spectral radius; default 1. */
  recurrentScale?: number;
  /** LSTM forget-gate bias 1 (default true) or 0. */
  forgetBiasOne?: boolean;
  /** Seed of every random choice; default 1. */
  seed?: number;
  /** SPEC §12, p in [0, 1), default 0: on each layer's output but the last, a fresh mask per step (PyTorch). */
  dropout?: number;
  /** p on each layer's x_t, one mask per sequence and gate block for all steps (Keras dropout). */
  inputDropout?: number;
  /** p on h_{t-1} where it enters each gate block, one mask per sequence and block (Keras recurrent_dropout). */
  recurrentDropout?: number;
  /**
   * SPEC §11: a second layer over each sequence reversed (from its own last valid step); outputs
   * [h→ ; h←] (2H), states [layers·2, B, H], PyTorch's `_reverse` weights. Masks must be prefixes
   * (lengths); no tbptt, no sample. Diagnostics (flow, gateTrace, spectralNorms) per layer and direction.
   */
  bidirectional?: boolean;
}

/** A dropout mask of the engine: 0 or 1/(1-p), row-major in `shape`. */
export interface DropoutMask { data: Float32Array; shape: [number, number, number, number] }

export type FlatOrNested = Float32Array | Float64Array | ArrayLike<number> | number[][] | number[][][];

/** A set of sequences. `x` is [N, T, X] (ids [N, T] for a model with an embedding); `y` is
 *  [N, T, Y] / [N, Y] for MSE or class indices [N, T] / [N] for cross-entropy. Flat arrays need `shape`. */
export interface DataSet {
  x: FlatOrNested;
  /** [N, T, X], or [N, T] of ids; required when x is flat. */
  shape?: [number, number, number] | [number, number];
  y?: FlatOrNested | Int32Array;
  /** [N, T] of 0/1: which positions count. */
  mask?: FlatOrNested;
  /** Per-sequence lengths, an alternative to mask (right-padded data). */
  lengths?: ArrayLike<number>;
}

/** Vocabulary.dataset's ids: x [N, T] for a model with an embedding, y the next character's id [N, T]. */
export interface IdDataSet extends DataSet {
  x: Int32Array;
  shape: [number, number];
  y: Int32Array;
}

/** Vocabulary.dataset's one-hot vectors: x [N, T, V], y the next character's id [N, T]. */
export interface OneHotDataSet extends DataSet {
  x: Float32Array;
  shape: [number, number, number];
  y: Int32Array;
}

export type OptimizerType = 'sgd' | 'momentum' | 'adam' | 'adamw' | 'rmsprop';

export interface OptimizerOptions {
  type: OptimizerType;
  lr?: number;
  momentum?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  rho?: number;
  weightDecay?: number;
}

export interface State {
  /** [L, B, H]; bidirectional [L·2, B, H], layer-major then direction (PyTorch's order) */
  h: Float32Array;
  /** the same shape, LSTM only */
  c?: Float32Array;
}

export interface StepInfo {
  step: number;
  epoch: number;
  loss: number;
  gradNorm: number;
  gradNormAfter: number;
  clipped: boolean;
  /** The step was skipped for a non-finite loss or gradient. */
  skipped: boolean;
  /** Cross-entropy only: share of counted positions predicted right. */
  accuracy?: number;
  /** Gradient flow of this step per layer: ||dL/dh_t|| for t = 0..T-1. */
  flow: Float32Array[];
  /** LSTM only: ||dL/dc_t|| per layer. */
  flowC?: Float32Array[];
}

export interface EpochInfo {
  epoch: number;
  loss: number;
  valLoss?: number;
  valAccuracy?: number;
  accuracy?: number;
}

export interface FitOptions {
  epochs?: number;
  batchSize?: number;
  shuffle?: boolean;
  /** Default: the settings in force — Adam (lr 1e-3) for a new model, the saved
   *  ones for a loaded model, else the last ones passed to fit or trainStep. */
  optimizer?: OptimizerType | OptimizerOptions;
  /** Global-norm clipping threshold τ; 0 or null turns it off; default: in force. */
  clipNorm?: number | null;
  /** Element clipping to [-v, v]; 0 or null turns it off; default: in force. */
  clipValue?: number | null;
  validationData?: DataSet;
  earlyStopping?: { patience: number; minDelta?: number; monitor?: 'loss' | 'valLoss' };
  /** Truncated BPTT window k: sequences are trained k steps at a time, the state carried
   *  over inside the engine. With output 'last' only the window holding the last step
   *  learns (the earlier ones carry the state); that needs data without mask or lengths. */
  tbptt?: number | null;
  /** What a non-finite step does: 'stop' (default; fit rejects with E_NONFINITE) or 'skip'. */
  onNonFinite?: 'stop' | 'skip';
  /** Node: one progress line per epoch (steps, loss, steps/s, time left); default false. */
  verbose?: boolean;
  /** Called after every step; return false to stop training. */
  onStep?: (info: StepInfo) => void | boolean | Promise<void | boolean>;
  onEpoch?: (info: EpochInfo) => void | boolean | Promise<void | boolean>;
  signal?: AbortSignal;
}

/** Columnar training history. */
export interface History {
  steps: {
    step: number[]; epoch: number[]; loss: number[]; gradNorm: number[];
    gradNormAfter: number[]; clipped: boolean[]; skipped: boolean[];
  };
  epochs: { epoch: number[]; loss: number[]; valLoss: number[]; valAccuracy: number[]; accuracy: number[] };
  stoppedEarly: boolean;
}

/** The settings a Trainer may change between steps. */
export interface TrainerLiveOptions {
  optimizer?: OptimizerType | OptimizerOptions;
  clipNorm?: number | null;
  clipValue?: number | null;
  tbptt?: number | null;
  onNonFinite?: 'stop' | 'skip';
}

/**
 * The resumable trainer fit() runs. Over a data set: next() takes one optimiser
 * step at a time (epochs, batches, shuffling, TBPTT windows, validation, early
 * stopping). Over batches handed in (data null): trainOn(batch) trains every
 * TBPTT window of one batch.
 */
export class Trainer {
  readonly history: History;
  readonly done: boolean;
  readonly epochs: number;
  next(): { step: StepInfo | null; epoch: EpochInfo | null };
  trainOn(batch: DataSet): StepInfo[];
  update(options: TrainerLiveOptions): void;
  /** Windows per epoch and how many of the current epoch's are done. */
  progress(): { epoch: number; epochs: number; done: number; total: number };
  /** Ends training after the current epoch's record. */
  stop(): void;
}

/** Softmax of logits at a temperature: the probabilities sample() draws from. */
export function softmax(logits: ArrayLike<number>, temperature?: number): Float64Array;

export interface Evaluation { loss: number; accuracy?: number; perplexity?: number; }

export interface Prediction {
  /** [B, T, Y] for 'sequence' output, [B, Y] for 'last'. Logits for cross-entropy. */
  output: Float32Array;
  shape: number[];
  state: State;
}

export interface GateTraceLayer {
  /** Gate activations, each [B, T, H]: i, f, g, o (LSTM); r, z, n (GRU); h (RNN). */
  gates: Record<string, Float32Array>;
  /** Hidden state h_t [B, T, H]. */
  h: Float32Array;
  /** LSTM cell state c_t [B, T, H]. */
  c?: Float32Array;
  /** Fraction of sigmoid gate values below 0.05 or above 0.95, per gate. */
  saturation: Record<string, number>;
  /** Bidirectional models: the layer and direction of this entry ('reverse': steps in its own order, step s = time T_b-1-s). */
  layer?: number;
  direction?: 'forward' | 'reverse';
}

export interface GateTrace { shape: [number, number, number]; layers: GateTraceLayer[]; }

export interface WeightTensor { shape: number[]; data: Float32Array; }
export type WeightDict = Record<string, WeightTensor>;

/** A tensor as read from a file: F16 and BF16 arrive as exact Float32Array values. */
export interface DecodedTensor {
  shape: number[];
  dtype: 'F32' | 'F64' | 'F16' | 'BF16' | 'I64' | 'U64' | 'I32' | 'U32' | 'I16' | 'U16' | 'I8' | 'U8' | 'BOOL';
  data: Float32Array | Float64Array | BigInt64Array | BigUint64Array | Int32Array | Uint32Array | Int16Array | Uint16Array | Int8Array | Uint8Array;
}
export type TensorLike = { shape: number[]; data: ArrayLike<number> };
/** A state dict as safetensors bytes (F32, names sorted, data 8-byte aligned). */
export function encodeSafetensors(dict: Record<string, TensorLike>, metadata?: Record<string, string>): Uint8Array;
/** safetensors bytes -> { name: tensor }; pass the result to model.importWeights. */
export function decodeSafetensors(bytes: Uint8Array | ArrayBuffer): Record<string, DecodedTensor>;
/** Like decodeSafetensors, with the file's __metadata__ (or null). */
export function readSafetensors(bytes: Uint8Array | ArrayBuffer): { tensors: Record<string, DecodedTensor>; metadata: Record<string, string> | null };
/** A state dict as rnnlab's JSON weight format: { format: 'rnnlab-weights', version: 1, metadata?, tensors }. */
export function weightsToJSON(dict: Record<string, TensorLike>, options?: { metadata?: Record<string, string> }): string;
/** JSON weight text (or its UTF-8 bytes) -> { name: { shape, data } }; pass the result to model.importWeights. */
export function weightsFromJSON(text: string | Uint8Array | ArrayBuffer): WeightDict;
/** Like weightsFromJSON, with the file's metadata (or null). */
export function readWeightsJSON(text: string | Uint8Array | ArrayBuffer): { tensors: WeightDict; metadata: Record<string, string> | null };

export interface GradcheckOptions {
  /** random coordinates per tensor besides the one of the largest gradient; default 8 */
  samples?: number;
  /** the finite-difference step h; default 1e-2 */
  epsilon?: number;
  /** the largest relative error that passes; default 1e-2 */
  tolerance?: number;
  /** which coordinates are drawn; default 1 */
  seed?: number;
  /** the initial state (zeros when not given); its gradient is checked too */
  state?: State;
  /** with the dropout masks of the model's step count (fixed for the whole check); default false */
  training?: boolean;
}

export interface GradcheckTensor {
  /** the worst |analytic − numeric| / max(|analytic|, |numeric|, floor) over the checked coordinates */
  maxRelError: number;
  /** where it was, with both values */
  index: number; analytic: number; numeric: number;
  /** the denominator's floor for this tensor: max(5e-3·|loss|, 1% of its largest gradient) */
  floor: number;
  checked: number;
}

export interface GradcheckResult {
  loss: number; epsilon: number; tolerance: number;
  /** the loss part of the denominator's floor, 5e-3·|loss|: below it the float32 loss cannot resolve a gradient */
  floor: number;
  /** why the tolerance is right for float32 */
  why: string;
  maxRelError: number;
  ok: boolean;
  /** by name: 'W_0', 'U_0', 'b_0', 'bhn_0', …, 'V', 'c', 'x', 'h0', 'c0' */
  tensors: Record<string, GradcheckTensor>;
}

export interface Model {
  readonly config: Readonly<Required<ModelConfigBase> & { inputSize: number; embedding: EmbeddingConfig | null }>;
  readonly disposed: boolean;
  fit(data: DataSet, options?: FitOptions): Promise<History>;
  /** The Trainer fit() uses: over `data` in epochs, or (data null) over batches passed to trainOn. */
  trainer(data?: DataSet | null, options?: Omit<FitOptions, 'onStep' | 'onEpoch' | 'signal' | 'verbose'>): Trainer;
  trainStep(batch: DataSet, options?: { optimizer?: OptimizerType | OptimizerOptions; clipNorm?: number | null; clipValue?: number | null; state?: State }): StepInfo & { state: State };
  /** Loss and all gradients for one batch; the weights do not change. */
  /** The masks of the last forward with dropout: layer [L-1, T, B, H], input [L, G, B, max X_l], recurrent [L, G, B, H]. */
  dropoutMasks(): { layer?: DropoutMask; input?: DropoutMask; recurrent?: DropoutMask };
  /** `training`: apply dropout, with the masks of the model's step count. */
  computeGradients(batch: DataSet, options?: { state?: State; training?: boolean }): {
    loss: number; gradNorm: number; flow: Float32Array[]; flowC?: Float32Array[];
    output: Float32Array; state: State;
    /** Gradients in rnnlab's flat parameter layout (see getParameters). */
    flatGradients: Float32Array;
    /** dLoss/dx [B, T, X] */
    dx: Float32Array;
    /** dLoss/dh0 (and dc0), shaped as State */
    dState: State;
  };
  /**
   * The engine's gradients against central finite differences of its float32 loss, on
   * `samples` random coordinates (and the largest) of every tensor: W_l, U_l, b_l, bhn_l,
   * V, c, x, h0 (c0). Restores everything it perturbs.
   */
  gradcheck(batch: DataSet, options?: GradcheckOptions): GradcheckResult;
  /** A copy of the parameters in rnnlab's flat layout (README: "Parameter layout"). */
  getParameters(): Float32Array;
  setParameters(flat: Float32Array | ArrayLike<number>): void;
  evaluate(data: DataSet, options?: { batchSize?: number }): Evaluation;
  /** `lengths` (or a 0/1 `mask`): each sequence's valid steps, for output 'last' and a bidirectional model's reverse direction. */
  predict(x: FlatOrNested, options?: { shape?: [number, number, number] | [number, number]; state?: State; lengths?: ArrayLike<number>; mask?: FlatOrNested }): Prediction;
  sample(options: { prime?: string | ArrayLike<number>; length: number; temperature?: number; vocab?: Vocabulary; seed?: number }): string | number[];
  gradientFlow(): { h: Float32Array[]; c?: Float32Array[] } | null;
  gateTrace(x: FlatOrNested, options?: { shape?: [number, number, number] | [number, number]; lengths?: ArrayLike<number>; mask?: FlatOrNested }): GateTrace;
  spectralNorms(): Record<string, number>[];
  parameterCount(): { rnnlab: number; pytorch: number };
  exportWeights(): WeightDict;
  importWeights(dict: WeightDict | Record<string, { shape: number[]; data: ArrayLike<number> | BigInt64Array | BigUint64Array; dtype?: string }>): void;
  gradients(): WeightDict | null;
  /** Bytes of the model; `metadata` (any JSON value, e.g. a vocabulary) is kept
   *  with the model and saved with it. */
  save(options?: { optimizer?: boolean; metadata?: unknown }): Uint8Array;
  /** The metadata saved with the model, or null. */
  readonly metadata: unknown;
  /** The optimiser and clipping settings in force (a loaded model: the saved ones). */
  readonly optimizerSettings: { optimizer: Required<OptimizerOptions>; clipNorm: number; clipValue: number };
  dispose(): void;
}

export class Vocabulary {
  static fromText(text: string): Vocabulary;
  constructor(chars: string[]);
  readonly chars: string[];
  readonly size: number;
  encode(text: string): Int32Array;
  /** ids: an array or an integer typed array (E_TYPE otherwise). */
  decode(ids: readonly number[] | Int32Array | Uint8Array | Uint16Array | Uint32Array): string;
  /** Next-character data: ids x [N, T] for a model with an embedding, y the next characters [N, T].
   *  `ids` is the older spelling, read as the opposite of oneHot (ids: false is oneHot: true). */
  dataset(text: string, options: { seqLength: number; stride?: number; oneHot?: false; ids?: true }): IdDataSet;
  /** With oneHot: true (or ids: false), one-hot x [N, T, size] for a model with inputSize = size. */
  dataset(text: string, options: { seqLength: number; stride?: number; oneHot: true; ids?: false }
    | { seqLength: number; stride?: number; oneHot?: true; ids: false }): OneHotDataSet;
  /** Either, when oneHot is only known as a boolean (ids and oneHot given together must disagree: E_INVALID). */
  dataset(text: string, options: { seqLength: number; stride?: number; oneHot?: boolean; ids?: boolean }): IdDataSet | OneHotDataSet;
}

export interface InitOptions {
  /** A compiled module, the bytes, or a URL of the .wasm to use. */
  wasm?: WebAssembly.Module | BufferSource | URL | string;
  /** Force the SIMD (true) or the fallback (false) build. */
  simd?: boolean;
  /**
   * Threads that train (1 to 16). Default: the core count where workers can
   * share memory (Node; a cross-origin isolated page), else 1. The results are
   * the same bits on any count. Without SIMD the engine runs on 1 thread.
   */
  threads?: number;
}

export interface Loaded {
  simd: boolean;
  /** The threads the engine runs on. */
  threads: number;
  /** Why more threads cannot run here (not cross-origin isolated, …), or null. */
  threadsUnavailable: string | null;
}

/**
 * Loads the engine once; later calls return the same promise (asking for
 * another thread count then is E_STATE: terminate() first).
 */
export function init(options?: InitOptions): Promise<Loaded>;
/**
 * Stops the engine's worker threads and unloads it: models made before are
 * disposed (E_DISPOSED). The next init() or createModel() loads a new engine.
 */
export function terminate(): Promise<void>;
export function createModel(config: ModelConfig): Promise<Model>;
export function loadModel(bytes: Uint8Array | ArrayBuffer): Promise<Model>;
export const version: string;
