// model.gradcheck: the engine's gradients against central finite differences
// pass for every cell, every tensor (parameters, x, h0, c0) is checked, a
// wrong gradient is caught, and the model is left exactly as it was.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createModel } from '../web/rnnlab.js';
import { rng as unitRandom } from './helpers/cases.js';

const random = (n, seed) => { const r = unitRandom(seed); return Float32Array.from({ length: n }, () => r() - 0.5); };

function batchFor(m, N = 3, T = 6) {
  const { inputSize: X, outputSize: Y, loss, output } = m.config;
  const b = { x: random(N * T * X, 5), shape: [N, T, X], lengths: [T, T - 2, 2] };
  if (loss === 'cross-entropy') b.y = output === 'last' ? [0, 1, Y - 1] : Array.from({ length: N * T }, (_, i) => i % Y);
  else b.y = random(output === 'last' ? N * Y : N * T * Y, 6);
  return b;
}

const CASES = [
  { cell: 'rnn' }, { cell: 'rnn', activation: 'relu', layers: 2 }, { cell: 'lstm', layers: 2 },
  { cell: 'gru' }, { cell: 'gru', gruVariant: 'reset-after', layers: 2 },
  { cell: 'lstm', loss: 'cross-entropy', outputSize: 3, output: 'last' },
  { cell: 'gru', loss: 'cross-entropy', outputSize: 4 },
];

for (const cfg of CASES) {
  test(`gradcheck passes: ${JSON.stringify(cfg)}`, async () => {
    const m = await createModel({ inputSize: 3, hiddenSize: 5, outputSize: 2, seed: 3, ...cfg });
    const r = m.gradcheck(batchFor(m), { samples: 12 });
    assert.equal(Object.keys(r.tensors).length, m._layout.tensors.length + (cfg.cell === 'lstm' ? 3 : 2), 'every parameter tensor, x, h0 (and c0)');
    for (const name of ['x', 'h0', 'V', 'c', 'W_0', 'U_0', 'b_0']) assert.ok(r.tensors[name], `${name} checked`);
    if (cfg.cell === 'lstm') assert.ok(r.tensors.c0, 'c0 checked');
    if (cfg.layers === 2) assert.ok(r.tensors.U_1, 'layer 1 checked');
    assert.equal(r.tolerance, 1e-2);
    assert.match(r.why, /float32/);
    for (const [name, t] of Object.entries(r.tensors)) {
      assert.ok(t.maxRelError <= r.tolerance, `${name}: relative error ${t.maxRelError} (analytic ${t.analytic}, numeric ${t.numeric})`);
      assert.ok(t.checked >= 1);
    }
    assert.equal(r.ok, true);
    m.dispose();
  });
}

test('gradcheck leaves the model as it was and is deterministic', async () => {
  const m = await createModel({ cell: 'lstm', inputSize: 3, hiddenSize: 5, outputSize: 2, seed: 9 });
  const b = batchFor(m);
  const before = m.getParameters();
  const p0 = m.predict(b.x, { shape: b.shape }).output;
  const r1 = m.gradcheck(b);
  const r2 = m.gradcheck(b);
  assert.deepEqual(m.getParameters(), before);
  assert.deepEqual(m.predict(b.x, { shape: b.shape }).output, p0);
  assert.deepEqual(r1, r2);
  m.dispose();
});

test('gradcheck catches a wrong gradient in any tensor', async () => {
  const m = await createModel({ cell: 'gru', inputSize: 3, hiddenSize: 4, outputSize: 2, seed: 4 });
  const b = batchFor(m);
  const honest = m.computeGradients.bind(m);
  for (const [name, corrupt] of [
    ['U_0', (g) => { const o = m._layout.tensors.find((t) => t.name === 'U' && t.layer === 0).offset; for (let i = 0; i < 12; i++) g.flatGradients[o + i] *= 1.5; }],
    ['x', (g) => { for (let i = 0; i < g.dx.length; i++) g.dx[i] *= -1; }],
    ['h0', (g) => { g.dState.h.fill(0); }],
  ]) {
    m.computeGradients = (...args) => { const g = honest(...args); corrupt(g); return g; };
    const r = m.gradcheck(b, { samples: 1000 });
    assert.equal(r.ok, false, name);
    assert.ok(r.tensors[name].maxRelError > 0.05, `${name}: ${r.tensors[name].maxRelError}`);
    for (const [other, t] of Object.entries(r.tensors)) if (other !== name) assert.ok(t.maxRelError <= r.tolerance, other);
  }
  m.dispose();
});

test('gradcheck with a given initial state', async () => {
  const m = await createModel({ cell: 'lstm', inputSize: 2, hiddenSize: 3, outputSize: 1, seed: 2 });
  const b = { x: random(2 * 4 * 2, 3), y: random(2 * 4, 4), shape: [2, 4, 2] };
  const r = m.gradcheck(b, { state: { h: random(6, 7), c: random(6, 8) }, samples: 20 });
  assert.ok(r.ok, JSON.stringify(r.tensors));
  m.dispose();
});

// Trained models saturate their gates: the loss curves sharply and the float32
// differences of small coordinates drown in rounding. The check must still
// pass there (it did not with a plain central difference and a loss-only floor).
test('gradcheck passes on models trained for 200 steps (the adding problem, as on the page)', async () => {
  let s = 11;
  const r = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const adding = (N, T) => {
    const x = new Float32Array(N * T * 2), y = new Float32Array(N);
    for (let n = 0; n < N; n++) {
      const a = Math.floor(r() * T / 2), b = T / 2 + Math.floor(r() * T / 2);
      for (let t = 0; t < T; t++) { x[(n * T + t) * 2] = r(); x[(n * T + t) * 2 + 1] = t === a || t === b ? 1 : 0; }
      y[n] = x[(n * T + a) * 2] + x[(n * T + b) * 2];
    }
    return { x, y, shape: [N, T, 2] };
  };
  for (const cell of ['rnn', 'lstm', 'gru']) {
    const m = await createModel({ cell, inputSize: 2, hiddenSize: 32, outputSize: 1, output: 'last', seed: 1 });
    const trainer = m.trainer(null, { optimizer: { type: 'adam', lr: 0.01 }, clipNorm: 1 });
    for (let i = 0; i < 200; i++) trainer.trainOn(adding(32, 50));
    const check = m.gradcheck(adding(4, 50));
    assert.ok(check.ok, `${cell}: worst ${check.maxRelError} in ${Object.entries(check.tensors).find(([, t]) => t.maxRelError === check.maxRelError)[0]}`);
    m.dispose();
  }
});
