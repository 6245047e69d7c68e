// A model's weights per layer, in rnnlab's own convention (SPEC §1, §2), for
// the file formats of other runtimes (ONNX, TensorFlow.js / Keras): each
// format only reorders gate blocks, negates the GRU's z block, splits or joins
// biases and transposes. The flat layout itself is weights.js's describeLayout.
//
// Gate blocks in rnnlab's rows: LSTM i, f, g, o; GRU r, z, n; RNN one block.
// A foreign order lists, for each of the format's blocks in turn, the index of
// rnnlab's block it holds. ONNX and Keras (and PyTorch) keep the old state at
// z = 1 where rnnlab takes the new candidate (h = (1-z) h + z n): their z
// pre-activations are the negated ones.

import { RnnlabError } from './errors.js';

export const GATE_ORDER = {
  onnx: { rnn: [0], lstm: [0, 3, 1, 2], gru: [1, 0, 2] }, // i o f c; z r h
  keras: { rnn: [0], lstm: [0, 1, 2, 3], gru: [1, 0, 2] }, // i f c o; z r h
};

/** The rnnlab block that is negated across the boundary: the GRU's z, else none (-1). */
export const negatedBlock = (cell) => (cell === 'gru' ? 1 : -1);

const slice = (flat, t) => Float32Array.from(flat.subarray(t.offset, t.offset + t.count));

/**
 * Flat parameters -> { layers: [{ inputSize, W (G·H, X_l), U (G·H, H), b (G·H),
 * bhn (H) or null }], head: { V (Y, H), c (Y) }, embedding: the table
 * (vocabSize, size) row-major, or null }, rnnlab's rows and signs.
 */
export function unpackWeights(lay, flat) {
  const layers = lay.layerSlices.map((s) => ({
    inputSize: s.inputSize, W: slice(flat, s.W), U: slice(flat, s.U), b: slice(flat, s.b), bhn: s.bhn ? slice(flat, s.bhn) : null,
  }));
  return { layers, head: { V: slice(flat, lay.head.V), c: slice(flat, lay.head.c) }, embedding: lay.embedding ? slice(flat, lay.embedding) : null };
}

/** The inverse of unpackWeights: checks every size against the layout. */
export function packWeights(lay, weights) {
  const flat = new Float32Array(lay.count);
  const put = (t, data, what) => {
    if (!data || data.length !== t.count) {
      throw new RnnlabError('E_STATE', `${what}: expected ${t.count} values, given ${data ? data.length : 'none'}`);
    }
    flat.set(data, t.offset);
  };
  lay.layerSlices.forEach((s, l) => {
    const w = weights.layers[l];
    put(s.W, w.W, `layer ${l} W`);
    put(s.U, w.U, `layer ${l} U`);
    put(s.b, w.b, `layer ${l} b`);
    if (s.bhn) put(s.bhn, w.bhn, `layer ${l} b_hn`);
  });
  put(lay.head.V, weights.head.V, 'head V');
  put(lay.head.c, weights.head.c, 'head c');
  if (lay.embedding) put(lay.embedding, weights.embedding, 'the embedding table');
  return flat;
}

// Copies `H` rows of `cols` from block `from` of src to block `to` of dst, times `sign`.
function copyBlock(dst, to, src, from, H, cols, sign) {
  const n = H * cols;
  for (let i = 0; i < n; i++) dst[to * n + i] = sign * src[from * n + i];
}

/** rnnlab's gate blocks (rows of `cols`) -> a format's order; z negated. */
export function toForeignBlocks(mat, H, cols, order, negBlock) {
  const out = new Float32Array(mat.length);
  order.forEach((k, pos) => copyBlock(out, pos, mat, k, H, cols, k === negBlock ? -1 : 1));
  return out;
}

/** A format's gate blocks -> rnnlab's order; z negated back. */
export function fromForeignBlocks(mat, H, cols, order, negBlock) {
  const out = new Float32Array(mat.length);
  order.forEach((k, pos) => copyBlock(out, k, mat, pos, H, cols, k === negBlock ? -1 : 1));
  return out;
}

/** A row-major (rows, cols) matrix transposed to (cols, rows). */
export function transpose(mat, rows, cols) {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[c * rows + r] = mat[r * cols + c];
  }
  return out;
}

/** Elementwise a + b into a new Float32Array. */
export function addArrays(a, b) {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] + b[i];
  return out;
}

/**
 * A new model with `config` holding `weights` (unpackWeights' form): the
 * loaders' last step. The model is disposed again when the weights do not fit.
 */
export async function modelWithWeights(createModel, config, weights) {
  const model = await createModel(config);
  try {
    model.setParameters(packWeights(model._layout, weights));
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}
