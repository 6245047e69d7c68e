// Every error code of index.d.ts's ErrorCode: an RnnlabError with that code,
// a message that names what was expected and what was given, and a model that
// afterwards predicts exactly as before and still trains.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

import { createModel, loadModel, Vocabulary, RnnlabError, decodeSafetensors } from '../web/rnnlab.js';
import { rng as unitRandom } from './helpers/cases.js';
import { expectError } from './helpers/expect-error.js';

// ---------------------------------------------------------------- helpers

// centred seeded numbers in [-0.5, 0.5)
const rng = (seed) => { const r = unitRandom(seed); return () => r() - 0.5; };
const randomArray = (n, seed) => { const r = rng(seed); return Float32Array.from({ length: n }, r); };

const CONFIG = { cell: 'lstm', inputSize: 3, hiddenSize: 4, outputSize: 2, seed: 3 };
const N = 2, T = 3;
const X = randomArray(N * T * 3, 1);
const Y = randomArray(N * T * 2, 2);
const DATA = { x: X, y: Y, shape: [N, T, 3] };

/**
 * Runs fn (sync or async) and checks the RnnlabError it throws: its code, and
 * that the message contains every string (or matches every RegExp) in `says`.
 */

/** What a model predicts now, to compare with after the errors. */
function snapshot(model) {
  return { params: model.getParameters(), out: model.predict(X, { shape: [N, T, 3] }).output };
}

/** Training data that fits `model` (class indices for cross-entropy). */
function dataFor(model) {
  if (model.config.loss !== 'cross-entropy') return DATA;
  return { x: X, y: Int32Array.from({ length: N * T }, (_, i) => i % model.config.outputSize), shape: [N, T, 3] };
}

/** The model predicts exactly as at `before` and still trains. */
async function assertIntact(model, before) {
  assert.equal(model.disposed, false);
  assert.deepEqual(model.getParameters(), before.params, 'parameters after the error');
  assert.deepEqual(model.predict(X, { shape: [N, T, 3] }).output, before.out, 'predictions after the error');
  const step = model.trainStep(dataFor(model), { optimizer: { type: 'adam', lr: 0.01 } });
  assert.ok(Number.isFinite(step.loss), 'trainStep after the error');
  const h = await model.fit(dataFor(model), { epochs: 1 });
  assert.ok(Number.isFinite(h.epochs.loss[0]), 'fit after the error');
  assert.notDeepEqual(model.getParameters(), before.params, 'training moved the weights');
}

/** A fresh model, `fn(model)` to raise errors on it, then the intact check. */
async function withIntactModel(config, fn) {
  const model = await createModel(config);
  const before = snapshot(model);
  await fn(model);
  await assertIntact(model, before);
  model.dispose();
}

/** CRC-32 (IEEE 802.3), as the saved-model format documents. */
function crc32(bytes) {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** A copy of a saved model with `edit(view)` applied and the checksum redone. */
function forge(bytes, edit) {
  const copy = bytes.slice();
  const view = new DataView(copy.buffer);
  edit(view);
  view.setUint32(copy.length - 4, crc32(copy.subarray(0, copy.length - 4)), true);
  return copy;
}

// Byte offsets of the saved format (README, "Saved model format").
const CONFIG_AT = 16;                         // 14 four-byte fields
const FIELD = { cell: 0, hiddenSize: 4, layers: 6 };

// ---------------------------------------------------------------- E_SHAPE

describe('E_SHAPE', () => {
  test('sizes that do not fit the model or each other', async () => {
    await withIntactModel(CONFIG, async (m) => {
      await expectError(() => m.predict(new Float32Array(24), { shape: [2, 3, 4] }), 'E_SHAPE', ['expected shape [?, ?, 3]', 'got [2, 3, 4]']);
      await expectError(() => m.predict(new Float32Array(18)), 'E_SHAPE', ['predict.x', 'needs a shape']);
      await expectError(() => m.trainStep({ x: X, y: new Float32Array(5), shape: [N, T, 3] }), 'E_SHAPE', ['y', '12', 'got 5']);
      await expectError(() => m.predict(X, { shape: [2, 3, 4] }), 'E_SHAPE', ['24', 'got 18']);
      await expectError(() => m.predict([[[1, 2, 3], [1, 2, 3]], [[1, 2, 3]]]), 'E_SHAPE', ['x[1]', 'length 2', 'length 1']);
      await expectError(() => m.predict(X, { shape: [N, T, 3], state: { h: new Float32Array(3), c: new Float32Array(8) } }), 'E_SHAPE', ['state.h', '8', 'got 3']);
      await expectError(() => m.setParameters(new Float32Array(5)), 'E_SHAPE', ['setParameters', String(m.parameterCount().rnnlab), 'got 5']);
      const w = m.exportWeights();
      w['head.weight'] = { shape: [3, 4], data: new Float32Array(12) };
      await expectError(() => m.importWeights(w), 'E_SHAPE', ['head.weight', '[2, 4]', '[3, 4]']);
      await expectError(() => m.fit({ x: X, y: Y, shape: [N, T, 3], lengths: [1, 2, 3] }), 'E_SHAPE', ['lengths', 'shape [2]', 'got [3]']);
    });
  });

  test('a batch beyond the engine\'s limit of 1,000,000 steps names the limit', async () => {
    await withIntactModel(CONFIG, async (m) => {
      const T = 1_000_001;
      await expectError(() => m.predict(new Float32Array(T * 3), { shape: [1, T, 3] }), 'E_SHAPE', ['1000000', 'T = 1000001']);
    });
  });

  test('Vocabulary.dataset on text shorter than a sequence', async () => {
    await expectError(() => Vocabulary.fromText('abc').dataset('abc', { seqLength: 5 }), 'E_SHAPE', ['seqLength 5', '6 characters', 'got 3']);
  });
});

// ---------------------------------------------------------------- E_INVALID

describe('E_INVALID', () => {
  test('misspelt option keys are rejected with a "did you mean" hint', async () => {
    await expectError(() => createModel({ ...CONFIG, hiddenSize: undefined, hiddensize: 4 }), 'E_INVALID',
      ["unknown option 'hiddensize'", "did you mean 'hiddenSize'"]);
    await expectError(() => createModel({ ...CONFIG, celltype: 'lstm' }), 'E_INVALID', ["'celltype'"]);
    await withIntactModel(CONFIG, async (m) => {
      await expectError(() => m.fit(DATA, { epoch: 2 }), 'E_INVALID', ["'epoch'", "did you mean 'epochs'"]);
      await expectError(() => m.fit(DATA, { batchsize: 2 }), 'E_INVALID', ["did you mean 'batchSize'"]);
      await expectError(() => m.trainStep(DATA, { clipnorm: 1 }), 'E_INVALID', ["did you mean 'clipNorm'"]);
      await expectError(() => m.trainStep(DATA, { optimizer: { type: 'adam', betta1: 0.9 } }), 'E_INVALID', ["did you mean 'beta1'"]);
      await expectError(() => m.predict(X, { shapes: [N, T, 3] }), 'E_INVALID', ["did you mean 'shape'"]);
      await expectError(() => m.evaluate({ X, y: Y, shape: [N, T, 3] }), 'E_INVALID', ["did you mean 'x'"]);
      await expectError(() => m.fit(DATA, { earlyStopping: { patients: 2 } }), 'E_INVALID', ["did you mean 'patience'"]);
      await expectError(() => m.save({ optimiser: false }), 'E_INVALID', ["did you mean 'optimizer'"]);
    });
  });

  test('values out of range', async () => {
    await expectError(() => createModel({ ...CONFIG, hiddenSize: 0 }), 'E_INVALID', ['hiddenSize', 'from 1 to 65536', 'got 0']);
    await expectError(() => createModel({ ...CONFIG, layers: 1.5 }), 'E_INVALID', ['layers', 'integer', 'got 1.5']);
    await expectError(() => createModel({ ...CONFIG, cell: 'transformer' }), 'E_INVALID', ["'rnn', 'lstm', 'gru'", 'transformer']);
    await expectError(() => createModel({ ...CONFIG, loss: 'cross-entropy', outputSize: 1 }), 'E_INVALID', ['outputSize', '2 classes', 'got 1']);
    await expectError(() => createModel({ cell: 'rnn', inputSize: 1, outputSize: 1 }), 'E_INVALID', ['hiddenSize', 'got undefined']);
    await withIntactModel(CONFIG, async (m) => {
      await expectError(() => m.trainStep(DATA, { optimizer: { type: 'adam', lr: -1 } }), 'E_INVALID', ['lr', '> 0', 'got -1']);
      await expectError(() => m.trainStep(DATA, { optimizer: 'adagrad' }), 'E_INVALID', ["'adam'", 'adagrad']);
      await expectError(() => m.trainStep(DATA, { clipNorm: -2 }), 'E_INVALID', ['clipNorm', 'got -2']);
      await expectError(() => m.fit(DATA, { epochs: 0 }), 'E_INVALID', ['epochs', 'got 0']);
      await expectError(() => m.fit(DATA, { onNonFinite: 'ignore' }), 'E_INVALID', ["'skip'", 'ignore']);
      await expectError(() => m.fit(DATA, { earlyStopping: { patience: 1, monitor: 'valLoss' } }), 'E_INVALID', ['valLoss', 'validationData']);
      const mask = new Float32Array(N * T).fill(2);
      await expectError(() => m.trainStep({ ...DATA, mask }), 'E_INVALID', ['mask[0][0]', '0 or 1', 'got 2']);
      await expectError(() => m.trainStep({ ...DATA, mask: new Float32Array(N * T), lengths: [1, 1] }), 'E_INVALID', ['mask or lengths']);
      await expectError(() => m.trainStep({ ...DATA, lengths: [1, 4] }), 'E_INVALID', ['lengths[1]', 'from 0 to 3', 'got 4']);
    });
    const last = await createModel({ ...CONFIG, output: 'last' });
    // truncated BPTT over output 'last' learns in the last window; lengths could end a sequence before it
    await expectError(() => last.fit({ x: X, y: new Float32Array(N * 2), lengths: [3, 1], shape: [N, T, 3] }, { tbptt: 2 }), 'E_INVALID', ['tbptt', "output 'last'", 'lengths']);
    last.dispose();
  });

  test('class indices out of range for cross-entropy, and characters outside a vocabulary', async () => {
    const vocab = Vocabulary.fromText('abc');
    await withIntactModel({ ...CONFIG, loss: 'cross-entropy', outputSize: 3 }, async (m) => {
      await expectError(() => m.trainStep({ x: X, y: [[0, 1, 3], [0, 0, 0]], shape: [N, T, 3] }), 'E_INVALID', ['y[0][2]', 'from 0 to 2', 'got 3']);
      await expectError(() => m.trainStep({ x: X, y: [[0, 1, 0.5], [0, 0, 0]], shape: [N, T, 3] }), 'E_INVALID', ['y[0][2]', 'got 0.5']);
      await expectError(() => m.sample({ prime: 'ab', length: 3 }), 'E_INVALID', ['prime', 'vocab']);
      await expectError(() => m.sample({ vocab: Vocabulary.fromText('ab'), length: 3 }), 'E_INVALID', ['3 characters', 'one of 2']);
    });
    await expectError(() => vocab.encode('abd'), 'E_INVALID', ['"d"', 'position 2']);
    await expectError(() => vocab.decode([0, 5]), 'E_INVALID', ['id 5', '0 to 2']);
    await expectError(() => new Vocabulary(['a', 'a']), 'E_INVALID', ['distinct']);
  });
});

// ---------------------------------------------------------------- E_TYPE

describe('E_TYPE', () => {
  test('values of the wrong type', async () => {
    await expectError(() => createModel({ ...CONFIG, hiddenSize: '4' }), 'E_TYPE', ['hiddenSize', 'integer', 'got "4"']);
    await expectError(() => createModel(null), 'E_TYPE', ['expected an object', 'got null']);
    await expectError(() => createModel('lstm'), 'E_TYPE', ['expected an object', 'got "lstm"']);
    await expectError(() => createModel({ ...CONFIG, forgetBiasOne: 1 }), 'E_TYPE', ['forgetBiasOne', 'true or false', 'got 1']);
    await expectError(() => loadModel('abc'), 'E_TYPE', ['Uint8Array', 'got "abc"']);
    await expectError(() => Vocabulary.fromText(42), 'E_TYPE', ['string', 'got 42']);
    await withIntactModel(CONFIG, async (m) => {
      await expectError(() => m.predict('abc'), 'E_TYPE', ['predict.x', 'typed array', 'got "abc"']);
      await expectError(() => m.predict([[[1, '2', 3]]]), 'E_TYPE', ['x[0][0][1]', 'a number', 'got "2"']);
      await expectError(() => m.fit(DATA, { onStep: 'log' }), 'E_TYPE', ['onStep', 'a function', 'got "log"']);
      await expectError(() => m.fit(DATA, { signal: true }), 'E_TYPE', ['signal', 'AbortSignal', 'got true']);
      await expectError(() => m.fit(DATA, { shuffle: 'yes' }), 'E_TYPE', ['shuffle', 'true or false', 'got "yes"']);
      await expectError(() => m.fit(DATA, 5), 'E_TYPE', ['fit options', 'an object', 'got 5']);
      await expectError(() => m.trainStep(null), 'E_TYPE', ['batch', 'an object', 'got null']);
      await expectError(() => m.trainStep(DATA, { optimizer: { type: 'sgd', lr: '0.1' } }), 'E_TYPE', ['lr', 'a number', 'got "0.1"']);
    });
  });
});

// ---------------------------------------------------------------- E_NONFINITE

describe('E_NONFINITE', () => {
  test('NaN or Infinity in the data', async () => {
    await withIntactModel(CONFIG, async (m) => {
      const x = X.slice(); x[5] = NaN;
      await expectError(() => m.predict(x, { shape: [N, T, 3] }), 'E_NONFINITE', ['x[0][1][2]', 'is NaN', 'finite']);
      const y = Y.slice(); y[7] = -Infinity;
      await expectError(() => m.trainStep({ x: X, y, shape: [N, T, 3] }), 'E_NONFINITE', ['y[1][0][1]', '-Infinity']);
      await expectError(() => m.fit({ x: X, y, shape: [N, T, 3] }), 'E_NONFINITE', ['-Infinity']);
      await expectError(() => m.setParameters(new Float32Array(m.parameterCount().rnnlab).fill(Infinity)), 'E_NONFINITE', ['Infinity']);
    });
  });

  test('a step whose loss overflows leaves weights and optimizer state as they were', async () => {
    const huge = { x: X, y: new Float32Array(N * T * 2).fill(3e38), shape: [N, T, 3] }; // finite, but (ŷ - y)² is not
    const optimizer = { type: 'adam', lr: 0.01 };
    const [m, twin] = await Promise.all([createModel(CONFIG), createModel(CONFIG)]);
    m.trainStep(DATA, { optimizer });
    twin.trainStep(DATA, { optimizer });
    const before = snapshot(m);
    await expectError(() => m.trainStep(huge, { optimizer }), 'E_NONFINITE', ['trainStep', 'loss']);
    assert.deepEqual(m.getParameters(), before.params);
    const err = await expectError(() => m.fit(huge, { optimizer, epochs: 3 }), 'E_NONFINITE', ["onNonFinite: 'skip'"]);
    assert.equal(err.history.steps.step.length, 0, 'no step counted');
    const h = await m.fit(huge, { optimizer, epochs: 3, onNonFinite: 'skip' });
    assert.deepEqual(h.steps.skipped, [true, true, true]);
    assert.deepEqual(snapshot(m), before);
    // the Adam moments and step count were not touched either: training goes on as for the twin
    for (let i = 0; i < 3; i++) assert.equal(m.trainStep(DATA, { optimizer }).loss, twin.trainStep(DATA, { optimizer }).loss);
    assert.deepEqual(m.getParameters(), twin.getParameters());
    m.dispose();
    twin.dispose();
  });
});

// ---------------------------------------------------------------- E_NOMEM

describe('E_NOMEM', () => {
  test('a model too large for wasm memory', async () => {
    await withIntactModel(CONFIG, async () => {
      await expectError(() => createModel({ cell: 'lstm', inputSize: 1, hiddenSize: 65536, outputSize: 1, layers: 16 }), 'E_NOMEM',
        ['createModel', 'parameters', /\d{9,}/]);
    });
  });
});

// ---------------------------------------------------------------- E_FORMAT

describe('E_FORMAT', () => {
  test('a truncated or altered save file is rejected whole', async () => {
    await withIntactModel(CONFIG, async (m) => {
      const bytes = m.save();
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
      assert.equal(new TextDecoder().decode(bytes.subarray(0, 6)), 'RNNLAB');
      assert.equal(view.getUint32(bytes.length - 4, true), crc32(bytes.subarray(0, bytes.length - 4)), 'the last 4 bytes are the CRC-32 of the rest');
      for (const n of [0, 10, 131, bytes.length >> 1, bytes.length - 1]) {
        await expectError(() => loadModel(bytes.subarray(0, n)), 'E_FORMAT', ['loadModel', 'not a valid rnnlab model file']);
      }
      const flipped = bytes.slice();
      flipped[bytes.length - 40] ^= 0x10;
      await expectError(() => loadModel(flipped), 'E_FORMAT', ['checksum']);
      const longer = new Uint8Array(bytes.length + 4);
      longer.set(bytes);
      await expectError(() => loadModel(longer), 'E_FORMAT', ['checksum']);
      const magic = bytes.slice();
      magic[0] = 0x50;
      await expectError(() => loadModel(magic), 'E_FORMAT', ['magic']);
      await expectError(() => loadModel(forge(bytes, (v) => v.setUint32(8, 2, true))), 'E_FORMAT', ['version 2', 'version 1']);
      await expectError(() => loadModel(forge(bytes, (v) => v.setUint32(12, 4, true))), 'E_FORMAT', ['flags']);
      await expectError(() => loadModel(forge(bytes, (v) => v.setFloat32(140, NaN, true))), 'E_FORMAT', ['non-finite']);
      await expectError(() => loadModel(forge(bytes, (v) => v.setInt32(CONFIG_AT + 4 * FIELD.hiddenSize, 5, true))), 'E_FORMAT', ['parameter count']);
    });
  });

  test('a forged configuration is rejected with a message that says what is wrong', async () => {
    const m = await createModel(CONFIG);
    const bytes = m.save({ optimizer: false });
    m.dispose();
    for (const [field, value, says] of [['cell', 9, 'cell'], ['layers', 0, 'layers'], ['hiddenSize', -3, 'hidden']]) {
      await expectError(() => loadModel(forge(bytes, (v) => v.setInt32(CONFIG_AT + 4 * FIELD[field], value, true))), 'E_FORMAT',
        ['bad configuration', says, String(value)]);
    }
  });

  test('a tiny forged file does not make loadModel allocate the model it claims', async () => {
    const m = await createModel({ cell: 'rnn', inputSize: 1, hiddenSize: 2, outputSize: 1 });
    const bytes = m.save({ optimizer: false });
    const memory = () => m._abi.memoryBytes(); // internals: the wasm memory size
    const before = memory();
    const started = performance.now();
    // 176 bytes claiming hiddenSize 1000: a million parameters it does not hold
    const forged = forge(bytes, (v) => v.setInt32(CONFIG_AT + 4 * FIELD.hiddenSize, 1000, true));
    await expectError(() => loadModel(forged), 'E_FORMAT', ['parameter count']);
    const grewMB = (memory() - before) / 2 ** 20;
    assert.ok(grewMB < 1, `wasm memory grew by ${grewMB.toFixed(1)} MB (and ${(performance.now() - started).toFixed(0)} ms) to reject a ${forged.length}-byte file: check the parameter count against the file size before allocating`);
    m.dispose();
  });

  test('every header byte altered (with a valid checksum) loads or fails with a code, never crashes', async () => {
    const m = await createModel({ cell: 'gru', inputSize: 2, hiddenSize: 3, outputSize: 2, loss: 'cross-entropy' });
    await m.fit({ x: randomArray(2 * 3 * 2, 4), y: [[0, 1, 1], [1, 0, 0]], shape: [2, 3, 2] });
    const bytes = m.save();
    const codes = new Map();
    for (let at = 8; at < 128; at++) {
      for (const value of [0x00, 0x01, 0x7f, 0xff]) {
        if (bytes[at] === value) continue;
        const forged = forge(bytes, (v) => v.setUint8(at, value));
        try {
          const loaded = await loadModel(forged);
          const p = loaded.predict(randomArray(6, 5), { shape: [1, 3, 2] });
          assert.ok(p.output.every(Number.isFinite) || p.output.length === 0, `byte ${at} = ${value}: loaded, but predicts non-finite values`);
          loaded.dispose();
          codes.set('loaded', (codes.get('loaded') ?? 0) + 1);
        } catch (e) {
          assert.ok(e instanceof RnnlabError, `byte ${at} = ${value}: ${e}`);
          assert.ok(['E_FORMAT', 'E_NOMEM'].includes(e.code), `byte ${at} = ${value}: ${e.code} ${e.message}`);
          codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
        }
      }
    }
    assert.ok(codes.get('E_FORMAT') > 100, 'most alterations are rejected');
    m.dispose();
  });

  test('a corrupt safetensors file', async () => {
    await expectError(() => decodeSafetensors(new Uint8Array(20)), 'E_FORMAT', ['safetensors', 'header length 0']);
  });
});

// ---------------------------------------------------------------- E_STATE

describe('E_STATE', () => {
  test('sample on a model that is not character-level', async () => {
    await withIntactModel(CONFIG, async (m) => {
      await expectError(() => m.sample({ length: 3 }), 'E_STATE', ['sample', "loss 'cross-entropy'", "got loss 'mse'"]);
    });
    const last = await createModel({ cell: 'gru', inputSize: 3, hiddenSize: 4, outputSize: 3, loss: 'cross-entropy', output: 'last' });
    await expectError(() => last.sample({ length: 3 }), 'E_STATE', ["output 'sequence'", "output 'last'"]);
    last.dispose();
  });

  test('PyTorch weight exchange on a reset-before GRU, a call that does not fit the model', async () => {
    // README: E_STATE is "a call that does not fit the model"; PyTorch's GRU is reset-after only
    await withIntactModel({ ...CONFIG, cell: 'gru' }, async (m) => {
      await expectError(() => m.exportWeights(), 'E_STATE', ['exportWeights', "'reset-after'"]);
      m.computeGradients(DATA); // gradients exist, weights unchanged
      await expectError(() => m.gradients(), 'E_STATE', ['gradients', "'reset-after'"]);
    });
  });
});

// ---------------------------------------------------------------- E_DISPOSED

// Every public method with arguments that would otherwise work.
function everyCall(m, extra) {
  return {
    fit: () => m.fit(DATA),
    trainStep: () => m.trainStep(DATA),
    computeGradients: () => m.computeGradients(DATA),
    gradcheck: () => m.gradcheck(DATA, { samples: 1 }),
    getParameters: () => m.getParameters(),
    setParameters: () => m.setParameters(extra.params),
    evaluate: () => m.evaluate(DATA),
    predict: () => m.predict(X, { shape: [N, T, 3] }),
    sample: () => m.sample({ length: 2 }),
    gradientFlow: () => m.gradientFlow(),
    gateTrace: () => m.gateTrace(X, { shape: [N, T, 3] }),
    spectralNorms: () => m.spectralNorms(),
    dropoutMasks: () => m.dropoutMasks(),
    parameterCount: () => m.parameterCount(),
    exportWeights: () => m.exportWeights(),
    importWeights: () => m.importWeights(extra.weights),
    gradients: () => m.gradients(),
    save: () => m.save(),
    trainer: () => m.trainer(DATA),
  };
}

describe('E_DISPOSED', () => {
  test('every method after dispose, named in the message; dispose twice is fine', async () => {
    const m = await createModel(CONFIG);
    const other = await createModel(CONFIG);
    const before = snapshot(other);
    const extra = { params: m.getParameters(), weights: m.exportWeights() };
    const methods = Object.getOwnPropertyNames(Object.getPrototypeOf(m))
      .filter((k) => !k.startsWith('_') && k !== 'constructor' && k !== 'dispose' && typeof m[k] === 'function');
    const calls = everyCall(m, extra);
    assert.deepEqual(methods.filter((k) => !(k in calls)), [], 'a method this test does not call');
    m.dispose();
    assert.equal(m.disposed, true);
    m.dispose();
    for (const [name, call] of Object.entries(calls)) {
      await expectError(call, 'E_DISPOSED', [name, 'disposed']);
    }
    await assertIntact(other, before);
    other.dispose();
  });
});

// ---------------------------------------------------------------- E_BUSY

describe('E_BUSY', () => {
  test('calls on a model while its fit() runs; other models are free', async () => {
    const m = await createModel({ ...CONFIG, loss: 'cross-entropy', outputSize: 3, inputSize: 3 });
    const other = await createModel(CONFIG);
    const before = snapshot(other);
    const data = { x: X, y: [[0, 1, 2], [2, 1, 0]], shape: [N, T, 3] };
    const extra = { params: m.getParameters(), weights: m.exportWeights() };
    const weightsBefore = m.getParameters();
    const calls = everyCall(m, extra);
    calls.fit = () => m.fit(data);
    calls.trainStep = () => m.trainStep(data);
    calls.gradcheck = () => m.gradcheck(data, { samples: 1 });
    calls.computeGradients = () => m.computeGradients(data);
    calls.evaluate = () => m.evaluate(data);
    calls.dispose = () => m.dispose();
    const free = new Set(['gradientFlow', 'parameterCount']); // reads that cannot disturb a fit
    const running = m.fit(data, { epochs: 3, batchSize: 1 });
    for (const [name, call] of Object.entries(calls)) {
      if (free.has(name)) {
        await call();
        continue;
      }
      await expectError(call, 'E_BUSY', [name, 'fit() is running']);
    }
    assert.deepEqual(other.predict(X, { shape: [N, T, 3] }).output, before.out, 'another model predicts during the fit');
    const h = await running;
    assert.equal(h.steps.step.length, 6, 'the running fit was not disturbed');
    assert.equal(m.disposed, false);
    // afterwards everything works again
    m.predict(X, { shape: [N, T, 3] });
    m.trainStep(data);
    await m.fit(data);
    assert.notDeepEqual(m.getParameters(), weightsBefore);
    await assertIntact(other, before);
    m.dispose();
    other.dispose();
  });
});

// ---------------------------------------------------------------- E_ABORTED

describe('E_ABORTED', () => {
  test('fit stopped through its AbortSignal', async () => {
    await withIntactModel(CONFIG, async (m) => {
      const controller = new AbortController();
      const snapshotWeights = m.getParameters();
      const err = await expectError(() => m.fit(DATA, { epochs: 1000, batchSize: 1, signal: controller.signal, onStep: (s) => { if (s.step === 4) controller.abort(); } }),
        'E_ABORTED', ['fit', 'AbortSignal']);
      assert.equal(err.history.steps.step.length, 4);
      m.setParameters(snapshotWeights); // for the intact check: the model itself is fine
    });
  });
});

// ---------------------------------------------------------------- E_LOAD

describe('E_LOAD', () => {
  // init() caches the engine, so these run in a fresh Node process.
  const script = `
    import { init, createModel, RnnlabError } from ${JSON.stringify(new URL('../web/rnnlab.js', import.meta.url).href)};
    const results = [];
    for (const wasm of [new Uint8Array([0, 97, 115, 109, 9, 9, 9, 9]), new URL('file:///nonexistent/rnnlab.wasm')]) {
      try { await init({ wasm }); results.push({ loaded: true }); }
      catch (e) { results.push({ isRnnlabError: e instanceof RnnlabError, code: e.code, message: e.message }); }
    }
    try { await init(7); } catch (e) { results.push({ isRnnlabError: e instanceof RnnlabError, code: e.code, message: e.message }); }
    // a failed init is not cached: the real engine loads afterwards
    const engine = await init();
    const m = await createModel({ cell: 'gru', inputSize: 1, hiddenSize: 3, outputSize: 1 });
    const step = m.trainStep({ x: [[[1], [2]]], y: [[[0], [1]]] });
    results.push({ simd: engine.simd, loss: step.loss });
    console.log(JSON.stringify(results));
  `;

  test('init with a bogus or missing wasm, then a working init', () => {
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(run.status, 0, run.stderr);
    const [bogus, missing, notAnObject, ok] = JSON.parse(run.stdout.trim().split('\n').pop());
    for (const r of [bogus, missing]) {
      assert.equal(r.isRnnlabError, true);
      assert.equal(r.code, 'E_LOAD');
      assert.match(r.message, /could not load the rnnlab WebAssembly module/);
    }
    assert.match(missing.message, /nonexistent/, 'names the file it looked for');
    assert.equal(notAnObject.code, 'E_TYPE');
    assert.match(notAnObject.message, /expected an object, got number/);
    assert.equal(typeof ok.simd, 'boolean');
    assert.ok(Number.isFinite(ok.loss));
  });

  test('the shipped .wasm files are real WebAssembly', () => {
    for (const f of ['rnnlab-simd.wasm', 'rnnlab.wasm']) {
      const bytes = readFileSync(new URL(`../web/dist/${f}`, import.meta.url));
      assert.ok(WebAssembly.validate(bytes), f);
    }
  });
});
