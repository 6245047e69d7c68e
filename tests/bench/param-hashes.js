// param-hashes.js — the parameters after 20 training steps of each model
// kind, hashed: the check that a change leaves the engine's arithmetic alone.
// Runs through the public API only, so the same file runs on any version.
//
//   node tests/bench/param-hashes.js [simd|plain]    (both when not given)
//
// Prints one line per case: build, case, sha256 of the float32 parameters.

import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CELLS = [
  { cell: 'rnn' }, { cell: 'rnn', activation: 'relu' }, { cell: 'lstm' },
  { cell: 'gru' }, { cell: 'gru', gruVariant: 'reset-after' },
];

function data(seed, N, T, X) {
  let s = seed >>> 0;
  const r = () => { s = (s + 0x6d2b79f5) >>> 0; let t = s; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
  return { r, x: Float32Array.from({ length: N * T * X }, () => r() * 2 - 1) };
}

const hash = (m) => createHash('sha256').update(Buffer.from(m.getParameters().buffer)).digest('hex').slice(0, 16);

async function cases(rnnlab) {
  const out = [];
  const N = 8, T = 12, X = 3, H = 7, Y = 4;
  for (const spec of CELLS) {
    const name = `${spec.cell}${spec.activation ? '-' + spec.activation : ''}${spec.gruVariant ? '-' + spec.gruVariant : ''}`;
    // 1 layer, MSE, sequence output, Adam with norm clipping, trainStep x 20
    {
      const { r, x } = data(1, N, T, X);
      const y = Float32Array.from({ length: N * T * Y }, () => r());
      const m = await rnnlab.createModel({ ...spec, inputSize: X, hiddenSize: H, outputSize: Y, seed: 3 });
      for (let i = 0; i < 20; i++) m.trainStep({ x, y, shape: [N, T, X] }, { optimizer: { type: 'adam', lr: 0.01 }, clipNorm: 0.5 });
      out.push([`${name} mse-seq`, hash(m)]); m.dispose();
    }
    // 2 layers, cross-entropy, sequence, mask, initial state, value clipping, momentum
    {
      const { r, x } = data(2, N, T, X);
      const y = Int32Array.from({ length: N * T }, () => Math.floor(r() * Y));
      const mask = Float32Array.from({ length: N * T }, () => (r() < 0.7 ? 1 : 0));
      const m = await rnnlab.createModel({ ...spec, inputSize: X, hiddenSize: H, outputSize: Y, layers: 2, loss: 'cross-entropy', seed: 4 });
      const state = { h: Float32Array.from({ length: 2 * N * H }, () => r() - 0.5) };
      if (spec.cell === 'lstm') state.c = Float32Array.from({ length: 2 * N * H }, () => r() - 0.5);
      for (let i = 0; i < 20; i++) m.trainStep({ x, y, mask, shape: [N, T, X] }, { optimizer: { type: 'momentum', lr: 0.05 }, clipValue: 0.1, state });
      out.push([`${name} 2L-ce-mask-h0`, hash(m)]); m.dispose();
    }
    // MSE, last output, lengths, AdamW
    {
      const { r, x } = data(3, N, T, X);
      const y = Float32Array.from({ length: N * Y }, () => r());
      const lengths = Array.from({ length: N }, (_, b) => 1 + ((b * 5) % T));
      const m = await rnnlab.createModel({ ...spec, inputSize: X, hiddenSize: H, outputSize: Y, output: 'last', seed: 5 });
      for (let i = 0; i < 20; i++) m.trainStep({ x, y, lengths, shape: [N, T, X] }, { optimizer: { type: 'adamw', lr: 0.01 } });
      out.push([`${name} last-lengths`, hash(m)]); m.dispose();
    }
    // fit: shuffled batches of 4, TBPTT windows of 5 (3 windows), 2 epochs
    // = 2 x 2 batches x 3 windows = 12 steps; then 8 more trainSteps (RMSprop)
    {
      const { r, x } = data(4, N, T, X);
      const y = Float32Array.from({ length: N * T * Y }, () => r());
      const m = await rnnlab.createModel({ ...spec, inputSize: X, hiddenSize: H, outputSize: Y, seed: 6 });
      await m.fit({ x, y, shape: [N, T, X] }, { epochs: 2, batchSize: 4, tbptt: 5, optimizer: { type: 'adam', lr: 0.01 }, clipNorm: 1 });
      for (let i = 0; i < 8; i++) m.trainStep({ x, y, shape: [N, T, X] }, { optimizer: { type: 'rmsprop', lr: 0.001 } });
      out.push([`${name} fit-tbptt`, hash(m)]); m.dispose();
    }
  }
  return out;
}

const build = process.argv[2];
if (build) {
  const rnnlab = await import(new URL('../../web/rnnlab.js', import.meta.url));
  await rnnlab.init({ simd: build === 'simd' });
  for (const [name, h] of await cases(rnnlab)) console.log(`${build.padEnd(5)} ${name.padEnd(32)} ${h}`);
} else {
  for (const b of ['simd', 'plain']) {
    const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), b], { encoding: 'utf8' });
    process.stdout.write(child.stdout);
    if (child.status !== 0) { process.stderr.write(child.stderr); process.exit(1); }
  }
}
