// Gradient flow (SPEC §4) and the spectral norm of the recurrent weights.
//
// The case: a vanilla tanh RNN with U = s·Q (Q orthogonal: recurrentInit
// 'orthogonal', recurrentScale s), loss on the last step only, and inputs so
// small (|x| <= 1e-5) that every h_t stays ~1e-4 and tanh' = 1 - h² = 1 to
// ~1e-8. BPTT then gives δh_{t-1} = Uᵀ (δh_t ⊙ tanh'(·)) ≈ s·Qᵀ δh_t, and an
// orthogonal Qᵀ keeps every norm: g_{T-k} / g_T = s^k for each sequence and
// for the batch norm alike. Tolerance on that ratio: 1e-4 relative — the
// tanh' terms contribute ~1e-8 per step and float32 rounding ~1e-7 per step,
// so 1e-4 is ~100x the expected error, while the wrong exponent (s^(k±1)) is
// off by a factor of 2 or 1.5.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createModel } from '../web/rnnlab.js';
import { run, spectralNorm, recurrentSpectralNorms, layout, gateCount } from './reference/reference.js';
import { rng, uniform } from './helpers/cases.js';

const T = 12, B = 4, X = 2, H = 16;

async function flowCase(scale, inputScale, seed = 5) {
  const config = {
    cell: 'rnn', activation: 'tanh', inputSize: X, hiddenSize: H, outputSize: 1, layers: 1,
    output: 'last', recurrentInit: 'orthogonal', recurrentScale: scale, seed,
  };
  const model = await createModel(config);
  const r = rng(seed * 31);
  const x = uniform(r, B * T * X, inputScale);
  const y = uniform(r, B, 1);
  const g = model.computeGradients({ x, shape: [B, T, X], y });
  const ref = run(config, model.getParameters(), { B, T, x, y, labels: null, mask: null, h0: null, c0: null });
  return { model, config, flow: g.flow[0], ref };
}

// flow[t] is the norm for the state step t outputs; g_T is flow[T-1].
const ratios = (flow) => Array.from({ length: T }, (_, lag) => flow[T - 1 - lag] / flow[T - 1]);

for (const scale of [0.5, 1.5]) {
  test(`gradient flow, orthogonal U × ${scale}, near-linear tanh: g_{T-k}/g_T = ${scale}^k, monotone`, async () => {
    const { model, flow } = await flowCase(scale, 1e-5);
    assert.equal(flow.length, T);
    const r = ratios(flow);
    for (let lag = 0; lag < T; lag++) {
      const expected = scale ** lag;
      assert.ok(Math.abs(r[lag] / expected - 1) <= 1e-4, `lag ${lag}: ratio ${r[lag]}, expected ${scale}^${lag} = ${expected}`);
    }
    for (let t = 1; t < T; t++) {
      if (scale < 1) assert.ok(flow[t - 1] < flow[t], `decays with lag: g_${t - 1} = ${flow[t - 1]} >= g_${t} = ${flow[t]}`);
      else assert.ok(flow[t - 1] > flow[t], `grows with lag: g_${t - 1} = ${flow[t - 1]} <= g_${t} = ${flow[t]}`);
    }
    // end to end: 0.5^11 ≈ 4.9e-4 (vanishing), 1.5^11 ≈ 86.5 (exploding)
    if (scale < 1) assert.ok(r[T - 1] < 1e-3);
    else assert.ok(r[T - 1] > 50);
    model.dispose();
  });

  test(`gradient flow, orthogonal U × ${scale}: engine = float64 reference flowH on the engine's own parameters`, async () => {
    // float32 vs float64 over T = 12 steps of H = 16: ~1e-6 relative expected; 1e-5 allowed
    for (const inputScale of [1e-5, 1]) {
      const { model, flow, ref } = await flowCase(scale, inputScale, 6);
      for (let t = 0; t < T; t++) {
        const e = ref.flowH[0][t];
        assert.ok(Math.abs(flow[t] - e) <= 1e-5 * e, `inputs ×${inputScale}, t = ${t}: engine ${flow[t]}, reference ${e}`);
      }
      model.dispose();
    }
  });
}

test('gradient flow with saturating tanh: each step shrinks by at most s = ‖U‖, and saturation shrinks it more', async () => {
  // ‖δh_{t-1}‖ = ‖Uᵀ (δh_t ⊙ tanh')‖ <= s ‖δh_t‖ since 0 < tanh' <= 1 and ‖Uᵀ‖ = s.
  const scale = 1.5;
  const { model, flow } = await flowCase(scale, 3, 7);
  for (let t = 1; t < T; t++) {
    assert.ok(flow[t - 1] <= scale * flow[t] * (1 + 1e-5), `step ${t}: ${flow[t - 1]} > ${scale} × ${flow[t]}`);
  }
  const r = ratios(flow)[T - 1];
  assert.ok(r < 0.5 * scale ** (T - 1), `large inputs saturate tanh: ratio ${r} should be well below ${scale ** (T - 1)}`);
  model.dispose();
});

// ---------------------------------------------------------------------------
// Spectral norms
// ---------------------------------------------------------------------------

const CELL_SPECS = [
  { cell: 'rnn' },
  { cell: 'lstm' },
  { cell: 'gru', gruVariant: 'reset-before' },
  { cell: 'gru', gruVariant: 'reset-after' },
];
const NAMES = { rnn: ['h'], lstm: ['i', 'f', 'g', 'o'], gru: ['r', 'z', 'n'] };

for (const spec of CELL_SPECS) {
  const name = spec.cell + (spec.gruVariant ? ` ${spec.gruVariant}` : '');
  test(`spectralNorms (${name}, 2 layers): orthogonal init gives recurrentScale for every block; = reference Jacobi SVD`, async () => {
    for (const scale of [0.5, 1.5]) {
      const config = { ...spec, inputSize: 3, hiddenSize: 7, outputSize: 2, layers: 2, recurrentInit: 'orthogonal', recurrentScale: scale, seed: 11 };
      const model = await createModel(config);
      const norms = model.spectralNorms();
      const ref = recurrentSpectralNorms(config, model.getParameters());
      assert.equal(norms.length, 2);
      for (let l = 0; l < 2; l++) {
        assert.deepEqual(Object.keys(norms[l]), NAMES[spec.cell]);
        NAMES[spec.cell].forEach((gate, k) => {
          // float32 entries of s·Q: singular values within ~H·6e-8 relative of s
          assert.ok(Math.abs(norms[l][gate] - scale) <= 1e-5 * scale, `layer ${l} ${gate}: ${norms[l][gate]}, expected ${scale}`);
          assert.ok(Math.abs(norms[l][gate] - ref[l][k]) <= 1e-5 * ref[l][k], `layer ${l} ${gate}: ${norms[l][gate]} vs reference ${ref[l][k]}`);
        });
      }
      model.dispose();
    }
  });
}

test('spectralNorms of Gaussian and of hand-made U blocks (distinct singular values) = reference', async () => {
  const config = { cell: 'lstm', inputSize: 2, hiddenSize: 6, outputSize: 1, recurrentInit: 'gaussian', recurrentScale: 1, seed: 3 };
  const model = await createModel(config);
  let norms = model.spectralNorms()[0];
  let ref = recurrentSpectralNorms({ ...config, layers: 1 }, model.getParameters())[0];
  ['i', 'f', 'g', 'o'].forEach((g, k) => assert.ok(Math.abs(norms[g] - ref[k]) <= 1e-5 * ref[k], `${g}: ${norms[g]} vs ${ref[k]}`));

  // U blocks written by hand: block k = D_k P with D_k diagonal, P a permutation,
  // so the singular values are |D_k| and the largest is known exactly.
  const p = model.getParameters();
  const U = layout({ ...config, layers: 1 }).tensors.find((t) => t.name === 'U0');
  const Hh = config.hiddenSize;
  const diagonals = [[3, -2, 1, 0.5, 0.25, 0.1], [0.2, 0.1, -0.7, 0.3, 0.3, 0.1], [1, 1, 1, 1, 1, 1.25], [0, 0, 0, 0, 0, -4]];
  for (let k = 0; k < 4; k++) {
    for (let i = 0; i < Hh; i++) {
      for (let j = 0; j < Hh; j++) p[U.offset + k * Hh * Hh + i * Hh + j] = j === (i + 1) % Hh ? diagonals[k][i] : 0;
    }
  }
  model.setParameters(p);
  norms = model.spectralNorms()[0];
  ['i', 'f', 'g', 'o'].forEach((g, k) => {
    const expected = Math.max(...diagonals[k].map(Math.abs));
    assert.ok(Math.abs(norms[g] - expected) <= 1e-6 * expected, `${g}: ${norms[g]}, expected ${expected}`);
    const block = p.subarray(U.offset + k * Hh * Hh, U.offset + (k + 1) * Hh * Hh);
    assert.ok(Math.abs(spectralNorm(block, Hh, Hh) - expected) <= 1e-6 * expected, 'the reference agrees');
  });
  assert.equal(gateCount('lstm'), 4);
  model.dispose();
});
