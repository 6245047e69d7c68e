// Seeded random models and batches for the numerical tests.
import { layout, gateCount } from '../reference/reference.js';
import { mulberry32 } from '../../web/random.js';

// Uniform numbers in [0, 1) from a seed: the library's own generator.
export const rng = mulberry32;

export const uniform = (r, n, s = 1) => Float32Array.from({ length: n }, () => (2 * r() - 1) * s);

// Every cell variant the engine has.
export const CELLS = [
  { cell: 'rnn', activation: 'tanh' },
  { cell: 'rnn', activation: 'relu' },
  { cell: 'lstm' },
  { cell: 'gru', gruVariant: 'reset-before' },
  { cell: 'gru', gruVariant: 'reset-after' },
];

export const cellName = (c) => c.cell + (c.activation ? `-${c.activation}` : '') + (c.gruVariant ? `-${c.gruVariant}` : '');

// A model config, its parameters, and one batch with targets, mask and state.
export function makeCase({ cellSpec, layers = 1, loss = 'mse', output = 'sequence', B = 3, T = 5, X = 3, H = 4, Y = 3,
  mask = false, state = false, seed = 1, scale = 0.6 }) {
  const r = rng(seed);
  const config = { ...cellSpec, inputSize: X, hiddenSize: H, outputSize: Y, layers, loss, output };
  const params = uniform(r, layout(config).total, scale);
  const x = uniform(r, B * T * X);
  const last = output === 'last';
  const rows = last ? B : B * T;
  let y;
  if (loss === 'mse') y = uniform(r, rows * Y);
  else y = Int32Array.from({ length: rows }, () => Math.floor(r() * Y));
  let m = null;
  if (mask) { // right padding of different lengths, one hole, and never all-empty
    m = new Float32Array(B * T).fill(1);
    for (let b = 0; b < B; b++) for (let t = T - b; t < T; t++) m[b * T + t] = 0;
    if (T > 2) m[1] = 0;
  }
  const L = layers;
  const h0 = state ? uniform(r, L * B * H, 0.8) : null;
  const c0 = state && cellSpec.cell === 'lstm' ? uniform(r, L * B * H, 0.8) : null;
  return { config, params, B, T, x, y, mask: m, h0, c0, G: gateCount(cellSpec.cell) };
}

// The same case as the reference implementation's batch.
export function referenceBatch(c) {
  const ce = c.config.loss === 'cross-entropy';
  return {
    B: c.B, T: c.T, x: c.x, y: ce ? null : c.y, labels: ce ? c.y : null, mask: c.mask, h0: c.h0, c0: c.c0,
  };
}

// The same case as the library's arguments.
export function libraryArgs(c) {
  const batch = { x: c.x, shape: [c.B, c.T, c.config.inputSize], y: c.y, ...(c.mask ? { mask: c.mask } : {}) };
  const options = c.h0 ? { state: { h: c.h0, ...(c.c0 ? { c: c.c0 } : {}) } } : {};
  return { batch, options };
}
