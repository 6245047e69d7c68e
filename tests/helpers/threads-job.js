// threads-job.js — trains a set of models and prints the hash of every
// result, for tests/threads.test.js: the same bits must come out of every
// thread count, build and V8 tier.
//
//   node tests/helpers/threads-job.js THREADS [threaded]
//
// THREADS is passed to init({ threads }); `threaded` loads the threaded build
// even for one thread. The products are big enough that the engine splits
// them among the threads (src/pool.c plans chunks of 400k flops and up).

import { createHash } from 'node:crypto';
import { init, createModel, terminate } from '../../web/rnnlab.js';
import { mulberry32 } from '../../web/random.js';

const threads = Number(process.argv[2]);
const wasm = process.argv[3] === 'threaded' ? new URL('../../web/dist/rnnlab-simd-threads.wasm', import.meta.url) : undefined;

const CASES = {
  'lstm 2 layers, mse, adam': { config: { cell: 'lstm', layers: 2 }, optimizer: { type: 'adam', lr: 0.01 } },
  'gru reset-after, clipped': { config: { cell: 'gru', gruVariant: 'reset-after' }, optimizer: { type: 'rmsprop', lr: 0.005 }, clipNorm: 0.5 },
  'gru reset-before, last': { config: { cell: 'gru', gruVariant: 'reset-before', output: 'last' }, optimizer: { type: 'momentum', lr: 0.02 } },
  'rnn relu, adamw': { config: { cell: 'rnn', activation: 'relu' }, optimizer: { type: 'adamw', lr: 0.003 } },
  'bidirectional lstm, lengths': { config: { cell: 'lstm', layers: 2, bidirectional: true }, optimizer: { type: 'adam', lr: 0.01 }, lengths: true },
  'lstm with every dropout': { config: { cell: 'lstm', layers: 2, dropout: 0.2, inputDropout: 0.1, recurrentDropout: 0.1 }, optimizer: { type: 'adam', lr: 0.01 } },
};

const [N, T, X, H] = [48, 40, 24, 96];

function data(r, withLengths) {
  const x = Float32Array.from({ length: N * T * X }, () => 2 * r() - 1);
  const y = Float32Array.from({ length: N * T * X }, () => r() - 0.5);
  const lengths = withLengths ? Array.from({ length: N }, (_, i) => T - (i % 7) * 3) : undefined;
  return { x, y, shape: [N, T, X], lengths };
}

const loaded = await init({ threads, ...(wasm ? { wasm } : {}) });
const hashes = {};
for (const [name, c] of Object.entries(CASES)) {
  const r = mulberry32(11);
  const model = await createModel({ inputSize: X, hiddenSize: H, outputSize: X, seed: 5, ...c.config });
  const { x, y, shape, lengths } = data(r, c.lengths);
  const target = c.config.output === 'last' ? y.slice(0, N * X) : y;
  const history = await model.fit({ x, y: target, shape, ...(lengths ? { lengths } : {}) }, {
    epochs: 2, batchSize: 16, shuffle: true, optimizer: c.optimizer, ...(c.clipNorm ? { clipNorm: c.clipNorm } : {}),
  });
  const out = model.predict(x, { shape });
  const h = createHash('sha256');
  h.update(model.getParameters());
  h.update(Float32Array.from(history.steps.loss));
  h.update(out instanceof Float32Array ? out : out.output);
  hashes[name] = h.digest('hex').slice(0, 16);
  model.dispose();
}
process.stdout.write(`${JSON.stringify({ loaded, hashes })}\n`);
await terminate();
