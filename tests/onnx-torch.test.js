// PyTorch -> torch.onnx.export -> loadONNX -> rnnlab: rnnlab's outputs and
// final states equal PyTorch's. tests/torch/onnx_export.py builds each model
// (nn.RNN tanh and relu, nn.LSTM, nn.GRU, batch_first=True, 1 and 2 layers,
// then nn.Linear on every step or on seq[:, -1]; and with an nn.Embedding
// first, reading int64 or int32 ids; and bidirectional, the head on [h→; h←]
// at every step or on h_n's top layer), exports it with dynamic batch and time
// axes and writes PyTorch's own results on a random input.
//
// Python: /usr/bin/python3 (or $RNNLAB_PYTHON) with Debian's python3-torch;
// without it the test skips, except under CI, where it fails.
//
// Tolerance: both sides float32 (PyTorch runs the module in float32, as the
// exported graph does); the largest difference seen is about 2e-7 (printed);
// atol 2e-5 + rtol 1e-4 as in tests/torch-roundtrip.test.js.
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { loadONNX } from '../web/onnx.js';
import { assertClose } from './helpers/engine.js';
import { Worst } from './helpers/interchange.js';
import { PYTHON, torchStatus } from './helpers/torch.js';

const SCRIPT = fileURLToPath(new URL('./torch/onnx_export.py', import.meta.url));
const TOL = { atol: 2e-5, rtol: 1e-4 };

const { missing, skip } = torchStatus();

const JOBS = [];
let seed = 1;
for (const [cell, nonlinearity] of [['rnn', 'tanh'], ['rnn', 'relu'], ['lstm', 'tanh'], ['gru', 'tanh']]) {
  for (const layers of [1, 2]) {
    for (const output of ['sequence', 'last']) {
      JOBS.push({ name: `${cell}_${nonlinearity}_l${layers}_${output}`, cell, nonlinearity, layers, X: 3, H: 5, Y: 2, output, N: 3, T: 6, seed: seed++ });
    }
  }
}

// nn.Embedding first: ids [N, T], int64 (torch's own) and int32, 1 and 2 layers.
for (const [cell, nonlinearity] of [['rnn', 'tanh'], ['rnn', 'relu'], ['lstm', 'tanh'], ['gru', 'tanh']]) {
  for (const [layers, output, ids] of [[1, 'sequence', 'int64'], [2, 'last', 'int32']]) {
    JOBS.push({ name: `emb_${cell}_${nonlinearity}_l${layers}_${output}_${ids}`, cell, nonlinearity, layers, X: 3, H: 5, Y: 2, output, N: 3, T: 6, seed: seed++, vocab: 11, ids });
  }
}

// bidirectional=True: Y joined to [T, N, 2H] by Transpose and Reshape; the
// 'last' head reads torch.cat([h_n[-2], h_n[-1]], 1) (Gathers from h_n's Concat).
for (const [cell, nonlinearity] of [['rnn', 'tanh'], ['rnn', 'relu'], ['lstm', 'tanh'], ['gru', 'tanh']]) {
  for (const layers of [1, 2]) {
    for (const output of ['sequence', 'last']) {
      JOBS.push({ name: `bi_${cell}_${nonlinearity}_l${layers}_${output}`, cell, nonlinearity, layers, X: 3, H: 5, Y: 2, output, N: 3, T: 6, seed: seed++, bidirectional: true });
    }
  }
}

test('PyTorch -> torch.onnx.export -> loadONNX -> rnnlab', { skip }, async (t) => {
  assert.ok(!missing, `${missing}: CI installs python3-torch, so this test cannot be skipped`);
  const dir = mkdtempSync(join(tmpdir(), 'rnnlab-onnx-torch-'));
  const worst = new Worst();
  try {
    writeFileSync(join(dir, 'jobs.json'), JSON.stringify(JOBS));
    const r = spawnSync(PYTHON, [SCRIPT, dir], { encoding: 'utf8', timeout: 300_000 });
    assert.equal(r.status, 0, `onnx_export.py failed (status ${r.status}, ${r.error ?? ''}):\n${r.stderr}`);
    for (const job of JOBS) {
      const ref = JSON.parse(readFileSync(join(dir, `${job.name}.json`), 'utf8'));
      const model = await loadONNX(readFileSync(join(dir, `${job.name}.onnx`)));
      assert.equal(model.config.cell, job.cell, job.name);
      assert.equal(model.config.layers, job.layers, job.name);
      assert.equal(model.config.output, job.output, job.name);
      assert.equal(Boolean(model.config.bidirectional), Boolean(job.bidirectional), `${job.name}: bidirectional`);
      if (job.cell === 'gru') assert.equal(model.config.gruVariant, 'reset-after', job.name);
      if (job.cell === 'rnn') assert.equal(model.config.activation, job.nonlinearity, job.name);
      assert.deepEqual(model.config.embedding, job.vocab ? { vocabSize: job.vocab, size: job.X } : null, `${job.name}: embedding`);
      const p = model.predict(Float32Array.from(ref.input), { shape: ref.shape });
      const label = (job.cell === 'rnn' ? `rnn ${job.nonlinearity}` : job.cell) + (job.vocab ? ' + embedding' : '') + (job.bidirectional ? ' bidirectional' : '');
      assert.deepEqual(p.shape, ref.output.shape, `${job.name}: output shape`);
      for (const [what, got, want] of [['output', p.output, ref.output], ['h_n', p.state.h, ref.h_n], ['c_n', p.state.c, ref.c_n]]) {
        if (!want) continue;
        assertClose(got, want.data, TOL, `${job.name} ${what}`);
        worst.record(label, got, want.data);
      }
      model.dispose();
    }
    t.diagnostic(`max |rnnlab - PyTorch| per cell:\n${worst.table()}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
