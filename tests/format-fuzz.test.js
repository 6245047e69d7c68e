// Mutation fuzzing of the loaders of users' model files: truncations, bit
// flips, and absurd sizes and counts. Every mutant must load (a model, then
// disposed) or fail with an RnnlabError; nothing else may escape, and no
// mutant may make the loader allocate from a size it has not checked (a dim
// of 2^40 must be refused at once, not after an allocation attempt).
import test from 'node:test';
import assert from 'node:assert/strict';

import { RnnlabError } from '../web/rnnlab.js';
import { toONNX, loadONNX } from '../web/onnx.js';
import { onnxModelType } from '../web/onnx/proto.js';
import { randomModel, uniform } from './helpers/interchange.js';

// Runs `load` on each mutant; returns { loaded, refused } counts.
export async function fuzz(mutants, load) {
  const counts = { loaded: 0, refused: 0 };
  for (const [label, input] of mutants) {
    try {
      const model = await load(input);
      model.dispose();
      counts.loaded++;
    } catch (e) {
      assert.ok(e instanceof RnnlabError, `${label}: expected an RnnlabError, got ${e?.constructor?.name}: ${e?.message}`);
      counts.refused++;
    }
  }
  return counts;
}

/** Truncations at every `step` bytes and `flips` seeded single-bit flips of `bytes`. */
export function byteMutants(bytes, { step, flips, seed }) {
  const out = [];
  for (let n = 0; n < bytes.length; n += step) out.push([`truncated to ${n} bytes`, bytes.slice(0, n)]);
  const r = uniform(seed);
  for (let k = 0; k < flips; k++) {
    const copy = bytes.slice();
    const at = Math.floor(r() * copy.length);
    copy[at] ^= 1 << Math.floor(r() * 8);
    out.push([`bit flip at byte ${at}`, copy]);
  }
  return out;
}

test('loadONNX: truncations, bit flips, absurd dims and lengths give only RnnlabErrors', async (t) => {
  const Type = await onnxModelType();
  const mutants = [];
  for (const [k, cell] of ['lstm', 'gru'].entries()) {
    const model = await randomModel({ cell, gruVariant: 'reset-after' }, { X: 3, H: 4, Y: 2, layers: 2, output: 'sequence', seed: 5 + k });
    const bytes = await toONNX(model, { sequenceLens: true, initialState: true });
    model.dispose();
    mutants.push(...byteMutants(bytes, { step: 7, flips: 600, seed: 99 + k }));
    // absurd dims and counts, the data left as it is
    for (const dims of [[2 ** 40], [1, 2 ** 31, 2 ** 31], [-1, 12, 3], [2 ** 53, 2 ** 53], [0, 12, 3]]) {
      const proto = Type.decode(bytes);
      proto.graph.initializer[0].dims = dims;
      mutants.push([`dims [${dims}]`, Type.encode(proto).finish()]);
    }
    // a length prefix claiming 2^35 bytes
    mutants.push(['huge length', Uint8Array.from([...bytes.slice(0, 2), 0xff, 0xff, 0xff, 0xff, 0x7f, ...bytes.slice(2)])]);
  }
  const started = Date.now();
  const counts = await fuzz(mutants, loadONNX);
  t.diagnostic(`${mutants.length} ONNX mutants: ${counts.loaded} loaded, ${counts.refused} refused (RnnlabError), ${Date.now() - started} ms`);
  assert.ok(counts.refused > mutants.length / 4);
});
