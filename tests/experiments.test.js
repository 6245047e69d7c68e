// The guided experiments in Node: each runs, its result is made of numbers,
// and its sentence is built from them (change a number, the sentence changes).
// The URL state's helpers are checked in the page tests.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EXPERIMENTS, decay, compare } from '../web/demo/experiments.js';
import { describeExperiment, num } from '../web/demo/experiment-text.js';
import { fromControls, runExperiment } from './helpers/experiments.js';

test('decay: a geometric curve gives its factor and end ratio', () => {
  const g = Array.from({ length: 20 }, (_, t) => 0.5 ** (19 - t));
  const d = decay(g);
  assert.ok(Math.abs(d.factor - 0.5) < 1e-12);
  assert.ok(Math.abs(d.ratio - 0.5 ** 19) < 1e-18);
});

test('compare: a rescaled vector has cosine 1', () => {
  const a = [3, -4, 12];
  const c = compare(a, a.map((v) => v * 0.1));
  assert.ok(Math.abs(c.cosine - 1) < 1e-15);
  assert.equal(c.normA, 13);
});

test('num writes small and large numbers with powers of ten', () => {
  assert.equal(num(0.5), '0.5');
  assert.equal(num(2.39e-9), '2.39 × 10⁻⁹');
  assert.equal(num(1.15e20), '1.15 × 10²⁰');
  assert.equal(num(NaN), 'n/a');
});

for (const experiment of EXPERIMENTS) {
  test(`experiment ${experiment.id}: the sentence is built from the run's numbers`, { timeout: 120_000 }, async () => {
    const result = await runExperiment(experiment.id, fromControls(experiment.controls));
    const sentence = describeExperiment(result);
    assert.ok(sentence.length > 80, sentence);
    assert.doesNotMatch(sentence, /undefined|NaN|n\/a/, sentence);
    assert.equal(result.main[0].losses.length, experiment.steps);
    // Not canned: every number the sentence shows moves it.
    const numbers = [];
    JSON.stringify(result, (key, value) => {
      if (typeof value === 'number' && key !== 'seed' && sentence.includes(num(value))) numbers.push(key);
      return value;
    });
    assert.ok(numbers.length >= 3, `the sentence shows at least three of the result's numbers: ${sentence}`);
    const altered = JSON.parse(JSON.stringify(result), (key, value) => (typeof value === 'number' && key !== 'seed' && !['T', 'S', 'H', 'steps', 'radius'].includes(key) ? value * 1.37 + 0.011 : value));
    assert.notEqual(describeExperiment(altered), sentence);
  });
}

// What experiment 5 claims: once the LSTM has learnt the adding problem, some
// unit keeps its memory (forget gate near 1) and the gradient along the cell
// state decays more slowly per step back than the RNN's along its hidden state.
test('experiment highway: the trained LSTM carries the gradient along cₜ further than the RNN', { timeout: 120_000 }, async () => {
  const experiment = EXPERIMENTS.find((e) => e.id === 'highway');
  const result = await runExperiment('highway', fromControls(experiment.controls));
  assert.ok(result.lstmLoss < result.baseline / 2, `the LSTM learnt the task: val MSE ${result.lstmLoss}`);
  assert.ok(result.memoryUnits >= 1, 'some unit keeps a forget gate near 1');
  assert.ok(result.memoryForget >= result.threshold && result.memoryForget < 1);
  assert.ok(result.lstmFactor > result.rnnFactor, `cell-state factor ${result.lstmFactor} against the RNN's ${result.rnnFactor}`);
  const far = result.lags.length - 1;
  assert.ok(result.lstmC[far] > result.rnnH[far], 'at the longest lag the cell-state gradient kept more of itself');
  assert.match(describeExperiment(result), /carried the gradient further/);
  // The same sentence says so when a run does not show it.
  const without = { ...result, lstmFactor: result.rnnFactor / 2, memoryUnits: 0 };
  assert.match(describeExperiment(without), /did not carry the gradient further.*no unit's forget gate/);
});
