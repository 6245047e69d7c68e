// Mutation fuzzing of the loaders of users' model files: truncations, bit
// flips, and absurd sizes and counts. Every mutant must load (a model, then
// disposed) or fail with an RnnlabError; nothing else may escape, and no
// mutant may make the loader allocate from a size it has not checked (a dim
// of 2^40 must be refused at once, not after an allocation attempt).
import test from 'node:test';
import assert from 'node:assert/strict';

import { RnnlabError } from '../web/rnnlab.js';
import { toONNX, loadONNX } from '../web/onnx.js';
import { onnxModelCodec } from '../web/onnx/proto.js';
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
  const codec = await onnxModelCodec();
  const mutants = [];
  // plain LSTM and GRU, an embedding model (ids int32) whose table is the first initializer, and a bidirectional RNN
  const kinds = [[{ cell: 'lstm' }, {}], [{ cell: 'gru', gruVariant: 'reset-after' }, {}], [{ cell: 'gru', embedding: { vocabSize: 6, size: 3 } }, { ids: 'int32' }],
    [{ cell: 'rnn', bidirectional: true }, {}]];
  for (const [k, [kind, options]] of kinds.entries()) {
    const model = await randomModel(kind, { X: 3, H: 4, Y: 2, layers: 2, output: 'sequence', seed: 5 + k });
    const bytes = await toONNX(model, { sequenceLens: true, initialState: true, ...options });
    model.dispose();
    mutants.push(...byteMutants(bytes, { step: 7, flips: 600, seed: 99 + k }));
    // absurd dims and counts, the data left as it is
    for (const dims of [[2 ** 40], [1, 2 ** 31, 2 ** 31], [-1, 12, 3], [2 ** 53, 2 ** 53], [0, 12, 3]]) {
      const proto = codec.decode(bytes);
      proto.graph.initializer[0].dims = dims;
      mutants.push([`dims [${dims}]`, codec.encode(proto)]);
    }
    // a length prefix claiming 2^35 bytes
    mutants.push(['huge length', Uint8Array.from([...bytes.slice(0, 2), 0xff, 0xff, 0xff, 0xff, 0x7f, ...bytes.slice(2)])]);
  }
  const started = Date.now();
  const counts = await fuzz(mutants, loadONNX);
  t.diagnostic(`${mutants.length} ONNX mutants: ${counts.loaded} loaded, ${counts.refused} refused (RnnlabError), ${Date.now() - started} ms`);
  assert.ok(counts.refused > mutants.length / 4);
});

// JSON mutants of model.json: every number replaced by absurd values, keys and values dropped.
function jsonMutants(json) {
  const out = [];
  const paths = [];
  const walk = (v, path) => {
    paths.push(path);
    if (v && typeof v === 'object') for (const k of Object.keys(v)) walk(v[k], [...path, k]);
  };
  walk(json, []);
  const absurd = [-1, 2 ** 31, 2 ** 53, 1e308, 0.5, null, 'x', [], {}];
  for (const path of paths.slice(1)) {
    for (const value of [...absurd, undefined]) {
      const copy = JSON.parse(JSON.stringify(json));
      let o = copy;
      for (const k of path.slice(0, -1)) o = o[k];
      if (value === undefined) delete o[path.at(-1)];
      else o[path.at(-1)] = value;
      out.push([`${path.join('.')} = ${JSON.stringify(value)}`, copy]);
    }
  }
  return out;
}

test('loadTFJS: model.json and weight mutants give only RnnlabErrors', async (t) => {
  const { toTFJS, loadTFJS } = await import('../web/tfjs.js');
  const mutants = [];
  // a plain GRU, an LSTM with an Embedding first and a bidirectional RNN (Bidirectional wrappers, concat)
  const kinds = [{ cell: 'gru', gruVariant: 'reset-after' }, { cell: 'lstm', embedding: { vocabSize: 5, size: 2 } }, { cell: 'rnn', bidirectional: true }];
  for (const [k, kind] of kinds.entries()) {
    const model = await randomModel(kind, { X: 2, H: 3, Y: 2, layers: 2, output: 'last', seed: 4 + k });
    const { modelJSON, weightData } = toTFJS(model);
    model.dispose();
    const weights = new Uint8Array(weightData);
    mutants.push(
      ...jsonMutants(modelJSON).map(([label, json]) => [label, { json, weights }]),
      ...byteMutants(new TextEncoder().encode(JSON.stringify(modelJSON)), { step: 5, flips: 500, seed: 3 + k }).map(([l, b]) => [`model.json ${l}`, { json: b, weights }]),
      ...byteMutants(weights, { step: 3, flips: 200, seed: 4 + k }).map(([l, b]) => [`weights ${l}`, { json: modelJSON, weights: b }]),
    );
  }
  const counts = await fuzz(mutants, ({ json, weights: w }) => loadTFJS(json, w));
  t.diagnostic(`${mutants.length} TF.js mutants: ${counts.loaded} loaded, ${counts.refused} refused (RnnlabError)`);
  assert.ok(counts.refused > mutants.length / 4);
});
