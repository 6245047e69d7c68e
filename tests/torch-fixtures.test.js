// rnnlab against PyTorch: outputs, final states, loss and every gradient for
// values PyTorch 1.13 computed in float64 (tests/fixtures/torch, made by
// make_fixtures.py there). The weights go in through importWeights, so the
// SPEC §8 conversions are under test too.
//
// Tolerance: the engine computes in float32 (unit roundoff 6e-8). With these
// small sizes (H = 5, T = 4) errors stay near 1e-6 relative; atol 2e-5 and
// rtol 1e-4 leave a margin of ~10x and still catch any wrong term, which moves
// values by 1e-2 or more.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { createModel } from '../web/rnnlab.js';
import { assertClose, maxAbsDiff, readJson } from './helpers/engine.js';

const dir = new URL('./fixtures/torch/', import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
const TOL = { atol: 2e-5, rtol: 1e-4 };
export const worstSeen = {};

test('there are fixtures for every PyTorch cell, one and two directions', () => {
  const names = files.join(' ');
  for (const c of ['rnn_tanh', 'rnn_relu', 'lstm', 'gru']) {
    assert.match(names, new RegExp(`(^| )${c}`));
    assert.match(names, new RegExp(`bi_${c}`));
  }
});

// Values at counted positions: past a sequence's length (bidirectional
// fixtures, SPEC §11) PyTorch's padded output is 0, rnnlab's forward
// direction runs on; neither counts.
function counted(f, values, T) {
  if (!f.lengths) return Array.from(values);
  const per = values.length / (f.lengths.length * T);
  return Array.from(values).filter((_, i) => Math.floor(i / per) % T < f.lengths[Math.floor(i / (per * T))]);
}

for (const file of files) {
  test(`matches PyTorch: ${file}`, async (t) => {
    const f = readJson(new URL(file, dir));
    const { cell, activation, gruVariant, inputSize, hiddenSize, outputSize, layers, loss, bidirectional } = f.config;
    const model = await createModel({
      cell, inputSize, hiddenSize, outputSize, layers, loss,
      ...(cell === 'rnn' ? { activation } : {}), ...(cell === 'gru' ? { gruVariant } : {}),
      ...(bidirectional ? { bidirectional } : {}),
    });
    model.importWeights(Object.fromEntries(Object.entries(f.stateDict).map(([k, v]) => [k, { shape: v.shape, data: Float32Array.from(v.data) }])));
    const { B, T } = f.shapes;
    const state = { h: f.h0, ...(f.c0 ? { c: f.c0 } : {}) };
    const lengths = f.lengths ? { lengths: f.lengths } : {};
    const g = model.computeGradients({ x: Float32Array.from(f.x), shape: [B, T, inputSize], y: f.target, ...lengths }, { state });

    assertClose([g.loss], [f.loss], TOL, 'loss');
    assertClose(counted(f, g.output, T), counted(f, f.output, T), TOL, 'output');
    assertClose(g.state.h, f.hT, TOL, 'hT');
    if (cell === 'lstm') assertClose(g.state.c, f.cT, TOL, 'cT');
    const grads = model.gradients();
    let worst = Math.abs(g.loss - f.loss);
    for (const [name, t] of Object.entries(f.grads)) {
      assert.deepEqual(grads[name].shape, t.shape, `${name} shape`);
      assertClose(grads[name].data, t.data, TOL, `d${name}`);
      worst = Math.max(worst, maxAbsDiff(grads[name].data, t.data));
    }
    assertClose(g.dx, f.inputGrads.x, TOL, 'dx');
    assertClose(g.dState.h, f.inputGrads.h0, TOL, 'dh0');
    if (cell === 'lstm') assertClose(g.dState.c, f.inputGrads.c0, TOL, 'dc0');
    worst = Math.max(worst, maxAbsDiff(counted(f, g.output, T), counted(f, f.output, T)), maxAbsDiff(g.dx, f.inputGrads.x));
    t.diagnostic(`${file}: largest absolute difference ${worst.toExponential(2)}`);
    model.dispose();
  });
}
