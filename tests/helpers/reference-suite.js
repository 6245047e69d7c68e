// The engine against the float64 reference (tests/reference/reference.js)
// and against finite differences of its own float32 loss. Run once per build
// (reference-simd.test.js, reference-plain.test.js).
//
// Tolerances. Engine vs reference: the engine is float32 (u = 6e-8); values
// here are O(1) with a few hundred operations each, so errors of ~1e-6 are
// expected: atol 3e-5, rtol 3e-4 is ~10x that and still far below the 1e-2
// a wrong term would cause. Directional finite differences on the float32
// loss: step 1e-3 along a random direction; rounding of the loss (~1e-7·L)
// over the step gives ~1e-4·L/|g·v| relative, truncation ~1e-6: we allow
// |fd - g·v| <= 2e-3·|g·v| + 5e-4·L.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createModel } from '../../web/rnnlab.js';
import { run, layout } from '../reference/reference.js';
import { CELLS, cellName, makeCase, referenceBatch, libraryArgs, rng, uniform } from './cases.js';
import { assertClose } from './engine.js';

const TOL = { atol: 3e-5, rtol: 3e-4 };

async function engineFor(c) {
  const m = await createModel(c.config);
  m.setParameters(c.params);
  return m;
}

function variants() {
  const out = [];
  for (const cellSpec of CELLS) {
    for (const layers of [1, 2]) {
      for (const loss of ['mse', 'cross-entropy']) {
        for (const output of ['sequence', 'last']) {
          out.push({ cellSpec, layers, loss, output, mask: false, state: false, T: 1, B: 2 });
          out.push({ cellSpec, layers, loss, output, mask: true, state: true, T: 6, B: 3 });
        }
      }
      out.push({ cellSpec, layers, loss: 'mse', output: 'sequence', mask: false, state: true, T: 13, B: 2, H: 9, X: 5 });
    }
  }
  return out;
}

const label = (v) => `${cellName(v.cellSpec)} L${v.layers} ${v.loss} ${v.output} T${v.T}${v.mask ? ' mask' : ''}${v.state ? ' h0' : ''}`;

export function referenceSuite(build) {
  let seed = 100;
  for (const v of variants()) {
    const caseSeed = seed++;
    test(`[${build}] engine = reference: ${label(v)}`, async () => {
      const c = makeCase({ ...v, seed: caseSeed });
      const ref = run(c.config, c.params, referenceBatch(c));
      const m = await engineFor(c);
      const { batch, options } = libraryArgs(c);
      const g = m.computeGradients(batch, options);
      assertClose([g.loss], [ref.loss], TOL, 'loss');
      assertClose(g.output, ref.output, TOL, 'output');
      assertClose(g.state.h, ref.hT, TOL, 'hT');
      for (const t of layout(c.config).tensors) {
        assertClose(g.flatGradients.subarray(t.offset, t.offset + t.count), ref.grads.subarray(t.offset, t.offset + t.count), TOL, `d${t.name}`);
      }
      assertClose(g.dx, ref.dx, TOL, 'dx');
      assertClose(g.dState.h, ref.dh0, TOL, 'dh0');
      for (let l = 0; l < c.config.layers; l++) assertClose(g.flow[l], ref.flowH[l], TOL, `flow h layer ${l}`);
      if (c.config.cell === 'lstm') {
        assertClose(g.state.c, ref.cT, TOL, 'cT');
        assertClose(g.dState.c, ref.dc0, TOL, 'dc0');
        for (let l = 0; l < c.config.layers; l++) assertClose(g.flowC[l], ref.flowC[l], TOL, `flow c layer ${l}`);
      }
      m.dispose();
    });
  }

  // Finite differences on the engine itself, one random direction per tensor.
  // relu is left out: a step of 1e-3 along a direction over a whole tensor
  // crosses relu's kink somewhere, where a difference quotient means nothing.
  // Its gradients are checked above against the reference, whose own
  // float64 finite-difference test keeps every preactivation off the kink.
  for (const cellSpec of CELLS.filter((c) => c.activation !== 'relu')) {
    for (const layers of [1, 2]) {
      for (const loss of ['mse', 'cross-entropy']) {
        const caseSeed = seed++;
        test(`[${build}] finite differences: ${cellName(cellSpec)} L${layers} ${loss} (mask, h0, T 4 and 9)`, async () => {
          for (const T of [4, 9]) {
            const c = makeCase({ cellSpec, layers, loss, output: 'sequence', mask: true, state: true, T, seed: caseSeed + T });
            const m = await engineFor(c);
            const { batch, options } = libraryArgs(c);
            const g = m.computeGradients(batch, options);
            const r = rng(caseSeed * 7 + T);
            const eps = 1e-3;
            const check = (what, gv, lossAt) => {
              const fd = (lossAt(eps) - lossAt(-eps)) / (2 * eps);
              const bound = 2e-3 * Math.abs(gv) + 5e-4 * Math.max(g.loss, 1e-3);
              assert.ok(Math.abs(fd - gv) <= bound, `${what}: finite difference ${fd}, gradient ${gv} (T ${T})`);
            };
            for (const t of layout(c.config).tensors) {
              const dir = uniform(r, t.count);
              let gv = 0;
              for (let i = 0; i < t.count; i++) gv += g.flatGradients[t.offset + i] * dir[i];
              check(`d${t.name}`, gv, (e) => {
                const p = c.params.slice();
                for (let i = 0; i < t.count; i++) p[t.offset + i] += e * dir[i];
                m.setParameters(p);
                return m.computeGradients(batch, options).loss;
              });
            }
            m.setParameters(c.params);
            for (const [name, base, grad] of [['x', batch.x, g.dx], ['h0', options.state.h, g.dState.h], ['c0', options.state.c, g.dState.c]]) {
              if (!base) continue;
              const dir = uniform(r, base.length);
              let gv = 0;
              for (let i = 0; i < base.length; i++) gv += grad[i] * dir[i];
              check(`d${name}`, gv, (e) => {
                const moved = Float32Array.from(base, (v, i) => v + e * dir[i]);
                const b2 = name === 'x' ? { ...batch, x: moved } : batch;
                const o2 = name === 'x' ? options : { state: { ...options.state, [name === 'h0' ? 'h' : 'c']: moved } };
                return m.computeGradients(b2, o2).loss;
              });
            }
            m.dispose();
          }
        });
      }
    }
  }
}
