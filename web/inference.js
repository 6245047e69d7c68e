// inference.js — what a model computes without learning: predictions, the
// loss over a data set, gate traces, and sampling text from a character model.

import { RnnlabError, describe } from './errors.js';
import { BUF, STAT, FLAG } from './abi.js';
import { normalizeData } from './data.js';
import { gateNames } from './config.js';
import { checkObject, checkKeys, checkInt, checkNumber, isNumberList } from './options.js';
import { Vocabulary } from './vocab.js';
import { mulberry32 } from './random.js';

// exp((logit - max) / temperature) for each logit, and their sum.
function softmaxWeights(logits, temperature) {
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  const p = new Float64Array(logits.length);
  let sum = 0;
  for (let k = 0; k < logits.length; k++) sum += (p[k] = Math.exp((logits[k] - max) / temperature));
  return { p, sum };
}

/** Softmax of `logits` at `temperature`: the probabilities sample() draws from (Float64Array). */
export function softmax(logits, temperature = 1) {
  const { p, sum } = softmaxWeights(logits, temperature);
  for (let k = 0; k < p.length; k++) p[k] /= sum;
  return p;
}

// Mean loss over a checked data set, in batches of `batchSize`.
export function evaluateData(model, d, batchSize) {
  let lossSum = 0;
  let counted = 0;
  let correct = 0;
  for (let start = 0; start < d.N; start += batchSize) {
    const index = [];
    for (let b = start; b < Math.min(d.N, start + batchSize); b++) index.push(b);
    model._shape(index.length, d.T, 'evaluate');
    const flags = model._write(d, index, 0, d.T);
    model._check(model._abi.forward(model._handle, flags, true), 'evaluate');
    const s = model._stats();
    lossSum += s[STAT.LOSS] * s[STAT.COUNTED];
    counted += s[STAT.COUNTED];
    correct += s[STAT.CORRECT];
  }
  const loss = counted ? lossSum / counted : 0;
  const out = { loss };
  if (model.config.loss === 'cross-entropy') {
    out.accuracy = counted ? correct / counted : 0;
    out.perplexity = Math.exp(loss);
  }
  return out;
}

export function evaluate(model, data, options) {
  model._idle('evaluate');
  checkObject(options, 'evaluate options');
  checkKeys(options, ['batchSize'], 'evaluate options');
  const d = normalizeData(data, model.config, { name: 'data' });
  return evaluateData(model, d, checkInt(options.batchSize ?? 256, 'evaluate options.batchSize', 1, 1e6));
}

// Forward pass on x [B, T, X]; leaves the activations in the engine. The
// lengths or mask pick each sequence's last step for output 'last', and where
// a bidirectional model's reverse direction starts (SPEC §11).
function forwardInputs(model, x, options, what) {
  checkObject(options, `${what} options`);
  checkKeys(options, ['shape', 'state', 'lengths', 'mask'], `${what} options`);
  const given = Object.fromEntries(['shape', 'lengths', 'mask'].filter((k) => options[k] !== undefined).map((k) => [k, options[k]]));
  const d = normalizeData({ x, ...given }, model.config, { needTargets: false, name: what });
  const state = model._checkState(options.state, d.N, `${what} options`);
  model._shape(d.N, d.T, what);
  const flags = model._write(d, [...Array(d.N).keys()], 0, d.T) | model._writeState(state);
  model._check(model._abi.forward(model._handle, flags, false), what);
  return d;
}

export function predict(model, x, options) {
  model._idle('predict');
  const d = forwardInputs(model, x, options, 'predict');
  const { outputSize: Y } = model.config;
  const shape = model.config.output === 'last' ? [d.N, Y] : [d.N, d.T, Y];
  return { output: model._buf(BUF.OUT).slice(), shape, state: model._readState() };
}

// (T, B, width) time-major slices of `src` from `base` to (B, T, H) batch-major.
function unitsBatchMajor(src, base, { B, T, H }, rowWidth, col, tOffset) {
  const out = new Float32Array(B * T * H);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const from = base + ((t + tOffset) * B + b) * rowWidth + col;
      out.set(src.subarray(from, from + H), (b * T + t) * H);
    }
  }
  return out;
}

// The share of activations near their bounds: sigmoid gates below 0.05 or
// above 0.95, tanh-like values beyond ±0.95.
function saturation(values, tanhLike) {
  let sat = 0;
  for (const a of values) sat += tanhLike ? (Math.abs(a) > 0.95 ? 1 : 0) : (a < 0.05 || a > 0.95 ? 1 : 0);
  return sat / values.length;
}

export function gateTrace(model, x, options) {
  model._idle('gateTrace');
  const d = forwardInputs(model, x, options, 'gateTrace');
  const { layers, hiddenSize: H, cell, bidirectional } = model.config;
  const L = layers * (bidirectional ? 2 : 1); // units: layer-major, then direction (SPEC §11)
  const dims = { B: d.N, T: d.T, H };
  const names = gateNames(cell);
  const G = names.length;
  const gates = model._buf(BUF.GATES);
  const hidden = model._buf(BUF.HIDDEN);
  const cells = cell === 'lstm' ? model._buf(BUF.CELLS) : null;
  const out = [];
  for (let l = 0; l < L; l++) {
    const states = l * (d.T + 1) * d.N * H;
    const layer = { gates: {}, h: unitsBatchMajor(hidden, states, dims, H, 0, 1), saturation: {} };
    names.forEach((name, g) => {
      const v = unitsBatchMajor(gates, l * d.T * d.N * G * H, dims, G * H, g * H, 0);
      layer.gates[name] = v;
      layer.saturation[name] = saturation(v, name === 'g' || name === 'n' || name === 'h');
    });
    if (cells) layer.c = unitsBatchMajor(cells, states, dims, H, 0, 1);
    // the reverse direction's steps are in its own order: step s of sequence b is time T_b - 1 - s
    if (bidirectional) Object.assign(layer, { layer: l >> 1, direction: l % 2 ? 'reverse' : 'forward' });
    out.push(layer);
  }
  return { shape: [d.N, d.T, H], layers: out };
}

// The prime as ids, checked.
function primeIds(options, vocab, X) {
  let prime = options.prime ?? [];
  if (typeof prime === 'string') {
    if (!vocab) throw new RnnlabError('E_INVALID', 'sample options.prime: a string prime needs options.vocab');
    prime = vocab.encode(prime);
  } else if (!isNumberList(prime)) {
    throw new RnnlabError('E_TYPE', `sample options.prime: expected a string or an array of ids, got ${describe(prime)}`);
  }
  prime = Array.from(prime);
  for (const [i, id] of prime.entries()) checkInt(id, `sample options.prime[${i}]`, 0, X - 1);
  return prime;
}

function checkSampleOptions(model, options) {
  checkObject(options, 'sample options');
  checkKeys(options, ['prime', 'length', 'temperature', 'vocab', 'seed'], 'sample options');
  const { inputSize, outputSize: Y, loss, output, embedding } = model.config;
  const X = embedding ? embedding.vocabSize : inputSize; // the symbols read
  if (loss !== 'cross-entropy' || X !== Y || output !== 'sequence') {
    const reads = embedding ? `embedding.vocabSize ${X}` : `inputSize ${X}`;
    throw new RnnlabError('E_STATE', `sample: needs a character-level model (loss 'cross-entropy', output 'sequence', inputSize or embedding.vocabSize = outputSize), got loss '${loss}', output '${output}', ${reads}, outputSize ${Y}`);
  }
  if (model.config.bidirectional) {
    throw new RnnlabError('E_STATE', 'sample: a bidirectional model reads each sequence whole, from its end too, so it cannot ' +
      'generate one step at a time; sample from a model with bidirectional false');
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
  const prime = primeIds(options, vocab, X);
  const seed = checkInt(options.seed ?? model.config.seed, 'sample options.seed', 0, 0xffffffff);
  return { length, temperature, vocab, prime, seed };
}

/** Text (or ids) from a character-level model, one step at a time; the state stays in the engine. */
export function sample(model, options) {
  model._idle('sample');
  const { length, temperature, vocab, prime, seed } = checkSampleOptions(model, options);
  const X = model.config.outputSize;
  const random = mulberry32(seed);
  model._shape(1, 1, 'sample');
  let flags = 0; // the first step starts from zeros, every later one from the last
  const feed = (id) => {
    if (model.config.embedding) {
      model._buf(BUF.IDS)[0] = id;
    } else {
      const x = model._buf(BUF.X);
      x.fill(0);
      x[id] = 1;
    }
    model._check(model._abi.forward(model._handle, flags, false), 'sample');
    flags = FLAG.CARRY_STATE;
    return model._buf(BUF.OUT);
  };
  let current = prime.length ? prime[0] : Math.floor(random() * X);
  for (let i = 1; i < prime.length; i++) feed(prime[i - 1]);
  if (prime.length) current = prime[prime.length - 1];
  const out = [];
  for (let i = 0; i < length; i++) {
    const { p, sum } = softmaxWeights(feed(current), temperature);
    let r = random() * sum;
    let next = X - 1;
    for (let k = 0; k < X; k++) if ((r -= p[k]) < 0) { next = k; break; }
    out.push(next);
    current = next;
  }
  return vocab ? vocab.decode(out) : out;
}
