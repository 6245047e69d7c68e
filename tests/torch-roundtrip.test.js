// rnnlab's weights through PyTorch itself (SPEC.md §8), both directions, for
// every cell PyTorch has: RNN tanh and relu, LSTM, GRU (reset-after), 1 and 2
// layers, MSE and cross-entropy, outputs 'sequence' and 'last'.
//
// (a) rnnlab -> PyTorch: rnnlab makes each model from a seed and trains it
//     three Adam steps (so every bias, b_hn included, is non-zero), exports
//     safetensors (JSON for one case); tests/torch/roundtrip.py loads them into
//     nn.RNN/LSTM/GRU + nn.Linear and computes outputs, final states, loss and
//     all gradients in float64; rnnlab must match them.
// (b) PyTorch -> rnnlab: PyTorch initialises each model with its own seed,
//     trains it a few SGD steps and saves the state dict (F32, F64, F16
//     safetensors, or rnnlab's JSON); rnnlab imports it and must reproduce
//     PyTorch's outputs, states, loss and gradients.
// The README's Python snippet runs too, on an LSTM rnnlab exported.
//
// One Python process per direction (/usr/bin/python3, or $RNNLAB_PYTHON).
// Without it or without torch the tests skip, except under CI
// (process.env.CI), where CI installs python3-torch and its absence fails.
//
// Tolerance: rnnlab computes in float32 and PyTorch's reference in float64
// from the very same float32 weights and inputs, so every difference is
// rnnlab's rounding. At these sizes (H = 6, T = 5) the largest seen is 3e-7
// (the last test prints them per cell); atol 2e-5 + rtol 1e-4, as for the
// fixtures, leaves a wide margin for other builds and still catches any
// wrong term, which moves values by 1e-3 or more.
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { createModel } from '../web/rnnlab.js';
import { encodeSafetensors, decodeSafetensors, readSafetensors } from '../web/safetensors.js';
import { weightsToJSON, weightsFromJSON } from '../web/weights-json.js';
import { assertClose, maxAbsDiff } from './helpers/engine.js';
import { PYTHON, torchStatus } from './helpers/torch.js';
import { mulberry32 as uniform } from '../web/random.js';

const SCRIPT = fileURLToPath(new URL('./torch/roundtrip.py', import.meta.url));
const README = fileURLToPath(new URL('../README.md', import.meta.url));
const TOL = { atol: 2e-5, rtol: 1e-4 };

const { missing, skip } = torchStatus();

function requireTorch() {
  assert.ok(!missing, `${missing}: CI installs python3-torch, so the PyTorch round trip cannot be skipped`);
}

function runPython(mode, dir) {
  const r = spawnSync(PYTHON, [SCRIPT, mode, dir], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `roundtrip.py ${mode} failed (status ${r.status}, ${r.error ?? ''}):\n${r.stderr}`);
}

// ---------------------------------------------------------------- cases

const X = 3, H = 6, B = 3, T = 5;
const CASES = [];
for (const [cell, activation] of [['rnn', 'tanh'], ['rnn', 'relu'], ['lstm'], ['gru']]) {
  for (const layers of [1, 2]) {
    CASES.push({ name: `${cell}${activation ? `_${activation}` : ''}_l${layers}`, cell, activation, layers, loss: 'mse', output: 'sequence', Y: 2 });
  }
}
CASES.push({ name: 'lstm_ce_last_l2', cell: 'lstm', layers: 2, loss: 'cross-entropy', output: 'last', Y: 4 });
CASES.push({ name: 'gru_ce_l1', cell: 'gru', layers: 1, loss: 'cross-entropy', output: 'sequence', Y: 4 });
CASES.push({ name: 'rnn_relu_last_l2', cell: 'rnn', activation: 'relu', layers: 2, loss: 'mse', output: 'last', Y: 2 });
// embedding inputs (SPEC §13): ids [B, T] into nn.Embedding(V, X)
CASES.push({ name: 'lstm_emb_ce_l1', cell: 'lstm', layers: 1, loss: 'cross-entropy', output: 'sequence', Y: 4, V: 7 });
CASES.push({ name: 'gru_emb_l2', cell: 'gru', layers: 2, loss: 'mse', output: 'sequence', Y: 2, V: 5 });
// bidirectional (SPEC §11) with unequal lengths through pack_padded_sequence
const LENGTHS = [5, 2, 4];
for (const [cell, activation] of [['rnn', 'tanh'], ['rnn', 'relu'], ['lstm'], ['gru']]) {
  for (const layers of [1, 2]) {
    CASES.push({ name: `bi_${cell}${activation ? `_${activation}` : ''}_l${layers}`, cell, activation, layers, loss: 'mse', output: 'sequence', Y: 2, bi: true, lengths: LENGTHS });
  }
}
CASES.push({ name: 'bi_lstm_ce_last_l2', cell: 'lstm', layers: 2, loss: 'cross-entropy', output: 'last', Y: 4, bi: true, lengths: LENGTHS });
CASES.push({ name: 'bi_gru_ce_l1', cell: 'gru', layers: 1, loss: 'cross-entropy', output: 'sequence', Y: 4, bi: true, lengths: LENGTHS });

const cellLabel = (c) => (c.cell === 'rnn' ? `rnn ${c.activation}` : c.cell === 'gru' ? 'gru (reset-after)' : c.cell) + (c.V ? ' + embedding' : '') +
  (c.bi ? ` bidirectional ${c.layers} layer${c.layers > 1 ? 's' : ''}` : '');

function modelConfig(c, seed) {
  return {
    cell: c.cell, inputSize: X, hiddenSize: H, outputSize: c.Y, layers: c.layers, output: c.output, loss: c.loss, seed,
    ...(c.cell === 'rnn' ? { activation: c.activation } : {}), ...(c.cell === 'gru' ? { gruVariant: 'reset-after' } : {}),
    ...(c.V ? { embedding: { vocabSize: c.V, size: X } } : {}), ...(c.bi ? { bidirectional: true } : {}),
  };
}
// The config roundtrip.py reads (names as in rnnlab's config).
function pyConfig(c) {
  return { cell: c.cell, activation: c.activation ?? 'tanh', inputSize: X, hiddenSize: H, outputSize: c.Y, layers: c.layers, output: c.output, loss: c.loss,
    embedding: c.V ? { vocabSize: c.V, size: X } : null, bidirectional: Boolean(c.bi), lengths: c.lengths ?? null };
}

function randomBatch(c, seed) {
  const r = uniform(seed);
  const fill = (n, f) => Float32Array.from({ length: n }, f);
  const steps = c.output === 'last' ? B : B * T;
  const S = c.layers * (c.bi ? 2 : 1); // states [layers·directions, B, H]
  const batch = {
    x: c.V ? { shape: [B, T], data: fill(B * T, () => Math.floor(r() * c.V)) } : { shape: [B, T, X], data: fill(B * T * X, () => r() * 2 - 1) },
    h0: { shape: [S, B, H], data: fill(S * B * H, () => (r() - 0.5) * 0.8) },
    target: c.loss === 'cross-entropy'
      ? { shape: c.output === 'last' ? [B] : [B, T], data: fill(steps, () => Math.floor(r() * c.Y)) }
      : { shape: c.output === 'last' ? [B, c.Y] : [B, T, c.Y], data: fill(steps * c.Y, () => r() * 2 - 1) },
  };
  if (c.cell === 'lstm') batch.c0 = { shape: [S, B, H], data: fill(S * B * H, () => (r() - 0.5) * 0.8) };
  if (c.lengths) batch.lengths = { shape: [B], data: Float32Array.from(c.lengths) };
  return batch;
}
const stateOf = (inputs) => ({ h: inputs.h0.data, ...(inputs.c0 ? { c: inputs.c0.data } : {}) });
function dataOf(c, inputs) {
  const y = c.loss === 'cross-entropy' ? Int32Array.from(inputs.target.data) : inputs.target.data;
  return { x: inputs.x.data, shape: c.V ? [B, T] : [B, T, X], y, ...(c.lengths ? { lengths: c.lengths } : {}) };
}

// Outputs at counted positions only: past a sequence's length PyTorch's padded
// output is 0 while rnnlab's forward direction runs on (neither counts).
function counted(c, output) {
  if (!c.lengths || c.output === 'last') return Array.from(output);
  const Y = output.length / (B * T);
  return Array.from(output).filter((_, i) => Math.floor(i / Y) % T < c.lengths[Math.floor(i / (Y * T))]);
}

// ---------------------------------------------------------------- comparison

// Largest absolute difference per cell and direction: { label: { what: max } }.
const worst = {};
function record(c, direction, what, actual, expected) {
  const key = `${cellLabel(c)} | ${direction}`;
  worst[key] ??= {};
  worst[key][what] = Math.max(worst[key][what] ?? 0, maxAbsDiff(actual, expected));
}

// rnnlab on `inputs` against PyTorch's float64 `ref` (a safetensors dict).
function compareWithPyTorch(model, c, inputs, ref, direction) {
  const name = `${direction} ${c.name}`;
  // with lengths only computeGradients reads them: its outputs and final states are compared
  const g = model.computeGradients(dataOf(c, inputs), { state: stateOf(inputs) });
  const p = c.lengths ? { output: g.output, state: g.state } : model.predict(inputs.x.data, { shape: c.V ? [B, T] : [B, T, X], state: stateOf(inputs) });
  if (!c.lengths) assert.deepEqual(p.shape, ref.output.shape, `${name}: output shape`);
  const checks = [['output', counted(c, p.output), counted(c, ref.output.data)], ['hT', p.state.h, ref.hT.data]];
  if (c.cell === 'lstm') checks.push(['cT', p.state.c, ref.cT.data]);
  for (const [what, actual, expected] of checks) {
    assertClose(actual, expected, TOL, `${name} ${what}`);
    record(c, direction, 'outputs+states', actual, expected);
  }

  assertClose([g.loss], ref.loss.data, TOL, `${name} loss`);
  record(c, direction, 'loss', [g.loss], ref.loss.data);
  assertClose(counted(c, g.output), counted(c, ref.output.data), TOL, `${name} output (computeGradients)`);
  const grads = model.gradients();
  const expectedNames = Object.keys(ref).filter((k) => k.startsWith('grad.') && !/^grad\.(x|h0|c0)$/.test(k));
  assert.deepEqual(Object.keys(grads).sort(), expectedNames.map((k) => k.slice(5)).sort(), `${name}: gradient names`);
  const gradChecks = [['dh0', g.dState.h, ref['grad.h0']]];
  if (!c.V) gradChecks.push(['dx', g.dx, ref['grad.x']]); // ids have no gradient; embedding.weight's is checked below
  if (c.cell === 'lstm') gradChecks.push(['dc0', g.dState.c, ref['grad.c0']]);
  for (const [k, t] of Object.entries(grads)) gradChecks.push([`d ${k}`, t.data, ref[`grad.${k}`]]);
  for (const [what, actual, expected] of gradChecks) {
    assertClose(actual, expected.data, TOL, `${name} ${what}`);
    record(c, direction, 'gradients', actual, expected.data);
  }
}

// ---------------------------------------------------------------- the README snippet

// README_SNIPPET from roundtrip.py: the Python code README.md shows.
function readmeSnippet() {
  const text = readFileSync(SCRIPT, 'utf8');
  const m = /README_SNIPPET = r'''\n([\s\S]*?)'''/.exec(text);
  assert.ok(m, 'README_SNIPPET not found in roundtrip.py');
  return m[1];
}

// The README's adding-problem LSTM, trained a step and exported for the
// snippet, which runs in the same Python process as direction (a).
async function prepareReadme(dir) {
  const config = { cell: 'lstm', inputSize: 2, hiddenSize: 32, outputSize: 1, output: 'last', seed: 42 };
  const model = await createModel(config);
  const r = uniform(9);
  const x = Float32Array.from({ length: 4 * 7 * 2 }, () => r() * 2 - 1);
  model.trainStep({ x, shape: [4, 7, 2], y: Float32Array.from({ length: 4 }, r) }, { optimizer: { type: 'adam', lr: 0.05 } });
  writeFileSync(join(dir, 'rnnlab-weights.safetensors'), encodeSafetensors(model.exportWeights()));
  writeFileSync(join(dir, 'inputs.safetensors'), encodeSafetensors({ x: { shape: [4, 7, 2], data: x } }));
  const job = { kind: 'readme', dir, inputs: join(dir, 'inputs.safetensors'), results: join(dir, 'readme.results.safetensors') };
  return { config, model, x, job };
}

async function checkReadme(dir, { config, model, x, job }) {
  const snippet = readmeSnippet();
  // Once README.md shows the snippet, it must be this tested one.
  const readme = existsSync(README) ? readFileSync(README, 'utf8') : '';
  if (readme.includes('def load_safetensors')) {
    assert.ok(readme.includes(snippet.trim()), 'README.md shows a Python snippet that differs from README_SNIPPET in tests/torch/roundtrip.py');
  }
  // PyTorch (in float32, as a user runs it) computes what rnnlab computes.
  const out = decodeSafetensors(readFileSync(job.results)).output;
  const mine = model.predict(x, { shape: [4, 7, 2] });
  assertClose(mine.output, out.data, TOL, 'README snippet output');
  record({ cell: 'lstm' }, 'README snippet, torch float32', 'outputs+states', mine.output, out.data);
  // What the snippet saved imports into a fresh model: the same weights.
  const fresh = await createModel({ ...config, seed: 7 });
  fresh.importWeights(decodeSafetensors(readFileSync(join(dir, 'pytorch-weights.safetensors'))));
  assert.deepEqual(fresh.getParameters(), model.getParameters());
  model.dispose();
  fresh.dispose();
}

// ---------------------------------------------------------------- (a) rnnlab -> PyTorch

test('rnnlab -> PyTorch: exported weights give PyTorch the same outputs, loss and gradients', { skip }, async (t) => {
  requireTorch();
  const dir = mkdtempSync(join(tmpdir(), 'rnnlab-to-torch-'));
  try {
    const jobs = [];
    const models = {};
    for (const [i, c] of CASES.entries()) {
      const model = await createModel(modelConfig(c, 1000 + i));
      const train = randomBatch(c, 500 + i);
      for (let s = 0; s < 3; s++) model.trainStep(dataOf(c, train), { optimizer: { type: 'adam', lr: 0.05 } });
      const weights = model.exportWeights();
      const json = c.name === 'lstm_l2';
      const file = join(dir, `${c.name}.${json ? 'json' : 'safetensors'}`);
      writeFileSync(file, json ? weightsToJSON(weights, { metadata: { source: 'rnnlab' } }) : encodeSafetensors(weights, { format: 'pt' }));
      const inputs = randomBatch(c, 700 + i);
      writeFileSync(join(dir, `${c.name}.inputs.safetensors`), encodeSafetensors(inputs));
      models[c.name] = { model, weights, inputs };
      jobs.push({ config: pyConfig(c), format: json ? 'json' : 'safetensors', weights: file,
        inputs: join(dir, `${c.name}.inputs.safetensors`), results: join(dir, `${c.name}.results.safetensors`) });
    }
    const readme = await prepareReadme(dir);
    jobs.push(readme.job);
    writeFileSync(join(dir, 'jobs.json'), JSON.stringify(jobs));
    runPython('run', dir);

    for (const c of CASES) {
      const { model, weights, inputs } = models[c.name];
      const { tensors: ref } = readSafetensors(readFileSync(join(dir, `${c.name}.results.safetensors`)));
      // PyTorch read exactly what rnnlab wrote, bit for bit (JSON included).
      for (const [k, w] of Object.entries(weights)) {
        assert.equal(ref[`weights.${k}`].dtype, 'F32', k);
        assert.deepEqual(ref[`weights.${k}`].shape, w.shape, `${c.name} ${k}`);
        assert.deepEqual(ref[`weights.${k}`].data, w.data, `${c.name} ${k}`);
      }
      assert.equal(ref.loss.dtype, 'F64');
      compareWithPyTorch(model, c, inputs, ref, 'rnnlab->torch');
      model.dispose();
    }
    await t.test('the README Python snippet loads rnnlab weights into nn.LSTM + nn.Linear and saves them for import',
      () => checkReadme(dir, readme));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------- (b) PyTorch -> rnnlab

// How each case stores its weights: F32 safetensors unless named here.
const STORE = { gru_l2: 'F64', lstm_l1: 'F16', rnn_relu_l1: 'json' };

test('PyTorch -> rnnlab: PyTorch-trained weights give rnnlab the same outputs, loss and gradients', { skip }, async () => {
  requireTorch();
  const dir = mkdtempSync(join(tmpdir(), 'rnnlab-from-torch-'));
  try {
    const jobs = CASES.map((c, i) => {
      const store = STORE[c.name] ?? 'F32';
      return { config: pyConfig(c), B, T, seed: 3000 + 10 * i, steps: 5, lr: 0.5, store,
        weights: join(dir, `${c.name}.${store === 'json' ? 'json' : 'safetensors'}`),
        inputs: join(dir, `${c.name}.inputs.safetensors`), results: join(dir, `${c.name}.results.safetensors`) };
    });
    writeFileSync(join(dir, 'jobs.json'), JSON.stringify(jobs));
    runPython('make', dir);

    for (const [i, c] of CASES.entries()) {
      const job = jobs[i];
      const bytes = readFileSync(job.weights);
      const dict = job.store === 'json' ? weightsFromJSON(bytes.toString('utf8')) : decodeSafetensors(bytes);
      if (job.store !== 'json') for (const w of Object.values(dict)) assert.equal(w.dtype, job.store, c.name);
      const { tensors: ref } = readSafetensors(readFileSync(job.results));
      assert.ok(ref.trainedChange.data[0] > 1e-2, `${c.name}: training moved the weights by only ${ref.trainedChange.data[0]}`);
      // PyTorch keeps two different biases; only their sum (and b_hn) reaches rnnlab.
      assert.ok(maxAbsDiff(dict['rnn.bias_ih_l0'].data, dict['rnn.bias_hh_l0'].data) > 1e-3, `${c.name}: bias_ih and bias_hh should differ`);

      const model = await createModel(modelConfig(c, 1));
      model.importWeights(dict);
      const { tensors: inputs } = readSafetensors(readFileSync(job.inputs));
      compareWithPyTorch(model, c, inputs, ref, 'torch->rnnlab');
      model.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------- summary

test('largest absolute difference against PyTorch, per cell', { skip }, (t) => {
  requireTorch();
  assert.ok(Object.keys(worst).length > 0);
  t.diagnostic(`largest |rnnlab - PyTorch| (tolerance atol ${TOL.atol} + rtol ${TOL.rtol}·|PyTorch|):`);
  for (const [key, w] of Object.entries(worst).sort()) {
    t.diagnostic(`${key}: ${Object.entries(w).map(([what, v]) => `${what} ${v.toExponential(1)}`).join(', ')}`);
  }
});
