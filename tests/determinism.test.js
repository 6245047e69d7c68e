// Determinism (SPEC §9): one seed fixes initialisation and shuffling, so the
// same seed on the same build gives the same losses bit for bit; the SIMD and
// the fallback build may differ only in the last bits.
//
// The library loads one engine per process (init() is once), so the builds
// are compared by running the same small training job in child processes,
// one per build (and the SIMD one twice, to show the bits are reproducible
// across processes too). Each child prints JSON; JSON keeps doubles exactly.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createModel } from '../web/rnnlab.js';
import { run } from './reference/reference.js';
import { rng, uniform } from './helpers/cases.js';

const N = 24, T = 7, X = 3, H = 13, Y = 2; // H not a multiple of the SIMD width: edge tiles too

function makeData(seed) {
  const r = rng(seed);
  return { x: uniform(r, N * T * X), shape: [N, T, X], y: uniform(r, N * T * Y, 0.8) };
}

const fitOptions = { epochs: 3, batchSize: 5, shuffle: true, optimizer: { type: 'adam', lr: 0.02 } };

async function losses(seed, options = fitOptions, cell = 'lstm') {
  const model = await createModel({ cell, inputSize: X, hiddenSize: H, outputSize: Y, seed });
  const history = await model.fit(makeData(42), options);
  const params = model.getParameters();
  model.dispose();
  return { loss: history.steps.loss, params };
}

const bitsEqual = (a, b) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

for (const cell of ['lstm', 'gru', 'rnn']) {
  test(`same seed twice → bit-identical losses and parameters over 3 shuffled epochs (${cell})`, async () => {
    const a = await losses(7, fitOptions, cell);
    const b = await losses(7, fitOptions, cell);
    assert.equal(a.loss.length, 3 * Math.ceil(N / 5));
    assert.ok(bitsEqual(a.loss, b.loss), 'losses differ between two runs with the same seed');
    assert.ok(bitsEqual(Array.from(a.params), Array.from(b.params)), 'parameters differ');
  });
}

test('two models with the same seed trained at the same time (interleaved fits) → the same bits as one at a time', async () => {
  // fit() yields to the event loop (after every epoch, and every 8 ms), so the
  // two runs interleave: state shared between models (scratch buffers, packed
  // weights) would show here.
  const alone = await losses(7);
  const [a, b] = await Promise.all([losses(7), losses(7)]);
  assert.ok(bitsEqual(a.loss, alone.loss) && bitsEqual(b.loss, alone.loss), 'interleaved runs differ from a run alone');
  assert.ok(bitsEqual(Array.from(a.params), Array.from(alone.params)));
});

test('another seed → different losses; shuffling follows the seed (shuffle on ≠ off)', async () => {
  const a = await losses(7);
  const c = await losses(8);
  assert.ok(!bitsEqual(a.loss, c.loss), 'seeds 7 and 8 gave the same losses');
  assert.notEqual(a.loss[0], c.loss[0], 'different initial weights give a different first loss');
  // The shuffle matters: without it the batches of epochs 2 and 3 come in another order.
  const noShuffle = await losses(7, { ...fitOptions, shuffle: false });
  assert.ok(!bitsEqual(a.loss, noShuffle.loss), 'shuffle: true and false gave the same losses');
});

// ---------------------------------------------------------------------------
// SIMD vs fallback build, in child processes
// ---------------------------------------------------------------------------

const LIB = new URL('../web/rnnlab.js', import.meta.url).href;
const HELPERS = new URL('./helpers/cases.js', import.meta.url).href;

// The job each child runs: gradients at the initial weights, then 4 epochs of Adam.
const CHILD = `
import { init, createModel } from ${JSON.stringify(LIB)};
import { rng, uniform } from ${JSON.stringify(HELPERS)};
const simd = process.argv[1] === 'simd';
const loaded = await init({ simd });
const r = rng(42);
const data = { x: uniform(r, ${N * T * X}), shape: [${N}, ${T}, ${X}], y: uniform(r, ${N * T * Y}, 0.8) };
const model = await createModel({ cell: 'lstm', inputSize: ${X}, hiddenSize: ${H}, outputSize: ${Y}, seed: 7 });
const params0 = Array.from(model.getParameters());
const g = model.computeGradients(data);
const history = await model.fit(data, { epochs: 4, batchSize: 5, shuffle: true, optimizer: { type: 'adam', lr: 0.02 } });
process.stdout.write(JSON.stringify({
  simd: loaded.simd, params0, loss0: g.loss, grads0: Array.from(g.flatGradients),
  losses: history.steps.loss, params: Array.from(model.getParameters()),
}));
`;

const execFileP = promisify(execFile);
async function child(build) {
  const { stdout } = await execFileP(process.execPath, ['--input-type=module', '-e', CHILD, build], { maxBuffer: 1 << 24 });
  return JSON.parse(stdout);
}

let builds = null;
const getBuilds = () => (builds ??= Promise.all([child('simd'), child('simd'), child('plain')]).then(([simd, simd2, plain]) => ({ simd, simd2, plain })));

test('SIMD build in two processes → bit-identical losses and parameters', async () => {
  const { simd, simd2, plain } = await getBuilds();
  assert.equal(simd.simd, true);
  assert.equal(plain.simd, false);
  assert.ok(bitsEqual(simd.losses, simd2.losses), 'losses differ between two processes');
  assert.ok(bitsEqual(simd.params, simd2.params), 'parameters differ between two processes');
});

test('SIMD vs fallback build: same initial weights; gradients and training losses agree within float32 rounding', async () => {
  const { simd, plain } = await getBuilds();
  // initialisation is scalar double-precision code: identical in both builds
  assert.ok(bitsEqual(simd.params0, plain.params0), 'initial weights differ between builds');
  // One forward + BPTT on the same weights: both are float32 with different
  // summation orders, ~1e-7 relative each; allow 1e-5 relative to the largest gradient.
  const gmax = Math.max(...simd.grads0.map(Math.abs));
  let worstGrad = 0;
  simd.grads0.forEach((v, i) => { worstGrad = Math.max(worstGrad, Math.abs(v - plain.grads0[i])); });
  assert.ok(worstGrad <= 1e-5 * gmax, `gradients differ by ${worstGrad} (largest |g| ${gmax})`);
  assert.ok(Math.abs(simd.loss0 - plain.loss0) <= 1e-6 * simd.loss0, `loss ${simd.loss0} vs ${plain.loss0}`);
  // Both against the float64 reference on the same weights.
  const cfg = { cell: 'lstm', inputSize: X, hiddenSize: H, outputSize: Y, layers: 1, output: 'sequence', loss: 'mse' };
  const r = rng(42);
  const x = uniform(r, N * T * X), y = uniform(r, N * T * Y, 0.8);
  const ref = run(cfg, simd.params0, { B: N, T, x, y, labels: null, mask: null, h0: null, c0: null });
  for (const [name, out] of [['simd', simd], ['plain', plain]]) {
    assert.ok(Math.abs(out.loss0 - ref.loss) <= 1e-5 * ref.loss, `${name} loss ${out.loss0} vs reference ${ref.loss}`);
  }
  // 20 Adam steps later the rounding differences have been fed back through
  // the weights; Adam normalises steps, so they stay small: 1e-4 relative is
  // far below the loss change over training (which is tens of percent).
  assert.equal(simd.losses.length, plain.losses.length);
  let worstLoss = 0;
  simd.losses.forEach((l, i) => { worstLoss = Math.max(worstLoss, Math.abs(l - plain.losses[i]) / l); });
  assert.ok(worstLoss <= 1e-4, `training losses differ by up to ${worstLoss} relative`);
  let worstParam = 0;
  simd.params.forEach((v, i) => { worstParam = Math.max(worstParam, Math.abs(v - plain.params[i])); });
  assert.ok(worstParam <= 1e-4, `final parameters differ by up to ${worstParam}`);
  const drop = simd.losses[simd.losses.length - 1] / simd.losses[0];
  assert.ok(drop < 0.9, `the job trains (loss ratio ${drop}), so the comparison covers real updates`);
  console.log(`SIMD vs fallback: max |Δgrad| ${worstGrad.toExponential(2)} (max |g| ${gmax.toFixed(3)}), `
    + `max relative Δloss over ${simd.losses.length} steps ${worstLoss.toExponential(2)}, max |Δθ| after training ${worstParam.toExponential(2)}`);
});
