// Shared by the ONNX and TensorFlow.js tests: seeded models with every
// parameter random (so every bias, b_hn included, matters), seeded inputs,
// and the largest differences seen, for the closing table.
import { createModel } from '../../web/rnnlab.js';
import { maxAbsDiff } from './engine.js';
import { mulberry32 } from '../../web/random.js';

// The project's seeded uniform generator in [0, 1).
export const uniform = mulberry32;

export const randomArray = (n, seed, scale = 1) => {
  const r = uniform(seed);
  return Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale);
};

/** The model kinds: every cell, activation and GRU variant. */
export const KINDS = [
  { label: 'rnn tanh', cell: 'rnn', activation: 'tanh' },
  { label: 'rnn relu', cell: 'rnn', activation: 'relu' },
  { label: 'lstm', cell: 'lstm' },
  { label: 'gru reset-before', cell: 'gru', gruVariant: 'reset-before' },
  { label: 'gru reset-after', cell: 'gru', gruVariant: 'reset-after' },
];

/** A model of `kind` whose parameters are uniform in ±0.5 from `seed`. */
export async function randomModel(kind, { X, H, Y, layers, output, seed }) {
  const { label, ...cell } = kind;
  void label;
  const model = await createModel({ ...cell, inputSize: X, hiddenSize: H, outputSize: Y, layers, output, seed });
  model.setParameters(randomArray(model.getParameters().length, seed * 7 + 1, 0.5));
  return model;
}

/** Largest absolute differences: record(key, actual, expected), table() for a diagnostic. */
export class Worst {
  constructor() {
    this.values = {};
  }

  record(key, actual, expected) {
    this.values[key] = Math.max(this.values[key] ?? 0, maxAbsDiff(actual, expected));
  }

  max() {
    return Math.max(0, ...Object.values(this.values));
  }

  table() {
    return Object.entries(this.values).map(([k, v]) => `${k}: ${v.toExponential(2)}`).join('\n');
  }
}
