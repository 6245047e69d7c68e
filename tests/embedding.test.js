// The embedding input (SPEC §13): ids [N, T] read rows of a trained table.
// It is exactly a model fed those rows as vectors (the same weights: the
// table is drawn after everything else), its gradient is the scatter-sum of
// dL/dx, finite differences agree, bad ids are refused with their position,
// and it saves (format version 2) and exchanges as embedding.weight.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createModel, loadModel } from '../web/rnnlab.js';
import { BUF } from '../web/abi.js';
import { expectError } from './helpers/expect-error.js';

const V = 6, E = 3, N = 3, T = 5;
const ids = [[1, 2, 3, 1, 5], [0, 0, 4, 2, 1], [5, 4, 3, 2, 1]];
const labels = [[2, 3, 1, 5, 0], [0, 4, 2, 1, 3], [4, 3, 2, 1, 0]];

const embModel = (cell, extra = {}) => createModel({ cell, embedding: { vocabSize: V, size: E }, hiddenSize: 4, outputSize: V,
  loss: 'cross-entropy', seed: 21, ...(cell === 'gru' ? { gruVariant: 'reset-after' } : {}), ...extra });

function rowsOf(table, idList) {
  const x = new Float32Array(N * T * E);
  idList.flat().forEach((id, r) => x.set(table.subarray(id * E, id * E + E), r * E));
  return x;
}

for (const cell of ['rnn', 'lstm', 'gru']) {
  test(`${cell}: an embedding is the plain model fed the table's rows, bit for bit, and its gradient is their scatter-sum`, async () => {
    const m = await embModel(cell, { layers: 2 });
    const plain = await createModel({ ...m.config, embedding: null, inputSize: E });
    const lay = m._layout;
    const params = m.getParameters();
    assert.deepEqual(plain.getParameters(), params.subarray(0, lay.embedding.offset), 'the same draws for every other tensor');
    const table = params.subarray(lay.embedding.offset);
    const x = rowsOf(table, ids);
    assert.deepEqual(m.predict(ids).output, plain.predict(x, { shape: [N, T, E] }).output);
    const g = m.computeGradients({ x: ids, y: labels });
    const gp = plain.computeGradients({ x, y: labels, shape: [N, T, E] });
    assert.equal(g.loss, gp.loss);
    assert.deepEqual(g.flatGradients.subarray(0, lay.embedding.offset), gp.flatGradients);
    assert.deepEqual(g.dx, gp.dx, 'dx: dL/d(the rows read)');
    const dTable = new Float32Array(V * E); // the engine adds time-major: t, then b
    for (let t = 0; t < T; t++) for (let b = 0; b < N; b++) for (let k = 0; k < E; k++) {
      const at = ids[b][t] * E + k;
      dTable[at] = Math.fround(dTable[at] + gp.dx[(b * T + t) * E + k]);
    }
    assert.deepEqual(g.flatGradients.subarray(lay.embedding.offset), dTable);
    // a training step moves the table (only the rows used)
    const unused = await embModel(cell);
    const before = unused.getParameters();
    unused.trainStep({ x: [[1, 2, 1]], y: [[0, 1, 2]] }, { optimizer: { type: 'sgd', lr: 0.5 } });
    const after = unused.getParameters(), off = unused._layout.embedding.offset;
    for (let v = 0; v < V; v++) {
      const moved = [0, 1, 2].some((k) => after[off + v * E + k] !== before[off + v * E + k]);
      assert.equal(moved, v === 1 || v === 2, `row ${v}`);
    }
    for (const x of [m, plain, unused]) x.dispose();
  });

  test(`${cell}: embedding gradients agree with finite differences`, async () => {
    const m = await embModel(cell);
    const r = m.gradcheck({ x: ids, y: labels, lengths: [5, 3, 4] }, { samples: 18 });
    assert.ok(r.tensors.embedding, 'the table is checked');
    assert.equal(r.tensors.x, undefined, 'ids have no gradient');
    assert.ok(r.ok, JSON.stringify(r.tensors));
    m.dispose();
  });
}

test('ids out of range are E_INVALID with the position, in JS and in the engine', async () => {
  const m = await embModel('lstm');
  await expectError(() => m.predict([[1, 6]]), 'E_INVALID', ['predict.x[0][1]', 'expected an id from 0 to 5', 'got 6']);
  await expectError(() => m.trainStep({ x: [[1, 2], [3, -1]], y: [[0, 1], [1, 2]] }), 'E_INVALID', ['batch.x[1][1]', 'got -1']);
  await expectError(() => m.evaluate({ x: [[1.5, 2]], y: [[0, 1]] }), 'E_INVALID', ['data.x[0][0]', 'got 1.5']);
  await expectError(() => m.predict(new Float32Array(6), { shape: [2, 3, 1] }), 'E_SHAPE', ['predict.shape', '[N, T]', 'embedding']);
  await expectError(() => m.predict([[[0.5, 0.5, 0.5]]]), 'E_SHAPE', ['predict.x', 'expected shape [?, ?]']);
  // the engine checks too, whatever is written into its ids buffer
  m.predict([[1, 2, 3], [0, 1, 2]]);
  m._buf(BUF.IDS)[3] = 9; // time-major: step 1, sequence 1
  const status = m._abi.forward(m._handle, 0, false);
  const err = m._abi.error(m._handle, status, 'forward');
  assert.equal(err.code, 'E_INVALID');
  assert.match(err.message, /ids\[3\] \(sequence 1, step 1\) is 9: expected an id from 0 to 5/);
  m.dispose();
});

test('embedding config: checked, and inputSize is its size', async () => {
  await expectError(() => createModel({ cell: 'gru', embedding: { vocabSize: 0, size: 3 }, hiddenSize: 2, outputSize: 2 }), 'E_INVALID', ['embedding.vocabSize', 'got 0']);
  await expectError(() => createModel({ cell: 'gru', embedding: { vocabSize: 4 }, hiddenSize: 2, outputSize: 2 }), 'E_INVALID', ['embedding.size', 'undefined']);
  await expectError(() => createModel({ cell: 'gru', embedding: { vocabSize: 4, size: 3, dim: 1 }, hiddenSize: 2, outputSize: 2 }), 'E_INVALID', ["unknown option 'dim'"]);
  await expectError(() => createModel({ cell: 'gru', embedding: 'yes', hiddenSize: 2, outputSize: 2 }), 'E_TYPE', ['embedding', 'expected an object']);
  await expectError(() => createModel({ cell: 'gru', embedding: { vocabSize: 4, size: 3 }, inputSize: 4, hiddenSize: 2, outputSize: 2 }), 'E_INVALID', ['inputSize', 'embedding.size (3)', 'got 4']);
  const m = await createModel({ cell: 'gru', embedding: { vocabSize: 4, size: 3 }, inputSize: 3, hiddenSize: 2, outputSize: 2 });
  assert.equal(m.config.inputSize, 3);
  assert.deepEqual(m.config.embedding, { vocabSize: 4, size: 3 });
  assert.equal(m.parameterCount().rnnlab - m._layout.embedding.offset, 12);
  m.dispose();
  const plain = await createModel({ cell: 'gru', inputSize: 3, hiddenSize: 2, outputSize: 2 });
  assert.equal(plain.config.embedding, null);
  plain.dispose();
});

test('save and load: an embedding model is format version 2, a plain one stays version 1', async () => {
  const m = await embModel('lstm');
  m.trainStep({ x: ids, y: labels });
  const bytes = m.save({ metadata: { v: 2 } });
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  assert.equal(view.getUint32(8, true), 2);
  assert.equal(view.getUint32(128, true), 1, 'one config word after the first 14');
  assert.equal(view.getInt32(132, true), V, 'embedding_vocab');
  const back = await loadModel(bytes);
  assert.deepEqual(back.config, m.config);
  assert.deepEqual(back.getParameters(), m.getParameters());
  assert.deepEqual(back.predict(ids).output, m.predict(ids).output);
  assert.deepEqual(back.save({ metadata: { v: 2 } }), bytes, 'saves back to the same bytes');
  back.dispose();
  m.dispose();
  const plain = await createModel({ cell: 'lstm', inputSize: 2, hiddenSize: 3, outputSize: 1 });
  assert.equal(new DataView(plain.save().buffer).getUint32(8, true), 1);
  plain.dispose();
});

test('version 1 files kept from the format before version 2 still load, with their parameters and outputs', async () => {
  const dir = new URL('./fixtures/format-v1/', import.meta.url);
  const expected = JSON.parse(readFileSync(new URL('expected.json', dir), 'utf8'));
  for (const [name, e] of Object.entries(expected)) {
    const bytes = readFileSync(new URL(`${name}.rnnlab`, dir));
    assert.equal(bytes.readUInt32LE(8), 1, `${name} is a version 1 file`);
    const m = await loadModel(bytes);
    assert.equal(m.config.embedding, null);
    for (const [k, v] of Object.entries(e.config)) assert.equal(m.config[k], v, `${name} ${k}`);
    assert.deepEqual(Array.from(m.getParameters()), e.parameters, `${name}: parameters`);
    assert.deepEqual(Array.from(m.predict(Float32Array.from(e.x), { shape: [2, 4, 3] }).output), e.output, `${name}: outputs`);
    assert.deepEqual(Buffer.from(m.save({ optimizer: name.includes('opt'), ...(m.metadata ? { metadata: m.metadata } : {}) })), bytes, `${name}: saves back to the same version 1 bytes`);
    m.dispose();
  }
});

test('weights: embedding.weight in the state dict, exported and imported', async () => {
  const m = await embModel('lstm');
  const d = m.exportWeights();
  assert.deepEqual(Object.keys(d)[0], 'embedding.weight');
  assert.deepEqual(d['embedding.weight'].shape, [V, E]);
  const other = await embModel('lstm', { seed: 99 });
  other.importWeights(d);
  assert.deepEqual(other.getParameters(), m.getParameters());
  const { 'embedding.weight': _, ...without } = d;
  await expectError(() => other.importWeights(without), 'E_SHAPE', ["'embedding.weight' is missing", `[${V}, ${E}]`]);
  m.trainStep({ x: ids, y: labels });
  assert.deepEqual(m.gradients()['embedding.weight'].shape, [V, E]);
  m.dispose();
  other.dispose();
});

test('sample from a character model with an embedding', async () => {
  const m = await embModel('gru');
  const a = m.sample({ length: 8, prime: [1, 2], seed: 3 });
  assert.equal(a.length, 8);
  assert.ok(a.every((id) => Number.isInteger(id) && id >= 0 && id < V));
  assert.deepEqual(m.sample({ length: 8, prime: [1, 2], seed: 3 }), a);
  m.dispose();
});

// With the table set to the identity (size = vocabSize), row `id` is the
// one-hot vector of `id`: the model is a plain one fed one-hot vectors, and
// sample(), which feeds the embedding ids, must draw the very same characters.
test('sample from an embedding model draws what a one-hot model of the same weights draws, seed for seed', async () => {
  for (const cell of ['rnn', 'lstm', 'gru']) {
    const m = await embModel(cell, { embedding: { vocabSize: V, size: V }, layers: 2 });
    const plain = await createModel({ ...m.config, embedding: null, inputSize: V });
    const params = m.getParameters();
    const off = m._layout.embedding.offset;
    params.fill(0, off);
    for (let v = 0; v < V; v++) params[off + v * V + v] = 1;
    m.setParameters(params);
    plain.setParameters(params.subarray(0, off));
    for (const [seed, prime, temperature] of [[3, [1, 2], 1], [8, [], 0.7], [11, [5, 0, 4, 4], 1.6]]) {
      const a = m.sample({ length: 40, prime, seed, temperature });
      assert.deepEqual(a, plain.sample({ length: 40, prime, seed, temperature }), `${cell}, seed ${seed}`);
      assert.ok(new Set(a).size > 1, `${cell}, seed ${seed}: more than one id drawn`);
    }
    m.dispose();
    plain.dispose();
  }
});

test('Vocabulary.dataset (ids by default) feeds a character model with an embedding, which learns', async () => {
  const { Vocabulary } = await import('../web/rnnlab.js');
  const text = 'abcabcabdabcabcabd'.repeat(4);
  const vocab = Vocabulary.fromText(text);
  const oneHot = vocab.dataset(text, { seqLength: 6, oneHot: true });
  const d = vocab.dataset(text, { seqLength: 6 });
  assert.deepEqual(d.shape, [oneHot.shape[0], 6]);
  assert.deepEqual(d.y, oneHot.y);
  for (let i = 0; i < d.x.length; i++) assert.equal(oneHot.x[i * vocab.size + d.x[i]], 1);
  await expectError(() => vocab.dataset(text, { seqLength: 6, ids: 1 }), 'E_TYPE', ['dataset options.ids', 'true or false']);
  await expectError(() => vocab.dataset(text, { seqLength: 6, oneHot: 'yes' }), 'E_TYPE', ['dataset options.oneHot', 'true or false', '"yes"']);
  const m = await createModel({ cell: 'gru', embedding: { vocabSize: vocab.size, size: 4 }, hiddenSize: 12, outputSize: vocab.size, loss: 'cross-entropy', seed: 5 });
  const h = await m.fit(d, { epochs: 30, batchSize: 4, optimizer: { type: 'adam', lr: 0.03 } });
  assert.ok(h.epochs.loss.at(-1) < 0.5 * h.epochs.loss[0], `loss ${h.epochs.loss[0]} -> ${h.epochs.loss.at(-1)}`);
  assert.equal(typeof m.sample({ vocab, prime: 'ab', length: 5 }), 'string');
  m.dispose();
});
