// The sentence each experiment prints, built only from its result's numbers
// (experiments.js measures them). Pure functions: no DOM, no library.

const SUPERSCRIPT = { '-': '⁻', 0: '⁰', 1: '¹', 2: '²', 3: '³', 4: '⁴', 5: '⁵', 6: '⁶', 7: '⁷', 8: '⁸', 9: '⁹' };

/** A number for a sentence: 3 significant digits, powers of ten written out when very small or large. */
export function num(v, digits = 3) {
  if (v === null || v === undefined || Number.isNaN(v)) return 'n/a';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '−∞';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e-3 && a < 1e5) return String(Number(v.toPrecision(digits)));
  const [mantissa, exponent] = v.toExponential(digits - 1).split('e');
  const power = String(Number(exponent)).split('').map((ch) => SUPERSCRIPT[ch]).join('');
  return `${Number(mantissa)} × 10${power}`;
}

const pct = (v) => `${Math.round(100 * v)}%`;
const steps = (n) => `${n} step${n === 1 ? '' : 's'}`;

// What the radius sweep showed, said only when its numbers show it.
function sweepVerdict(sweep) {
  const rising = sweep.every((s, k) => k === 0 || s.factor >= sweep[k - 1].factor);
  const below = sweep.every((s) => s.factor <= s.radius * (1 + 1e-6));
  const parts = [];
  if (rising) parts.push('the smaller the radius, the faster the gradient vanished');
  if (below) parts.push('no factor exceeded its radius, as tanh′ ≤ 1 only shrinks');
  return parts.length ? `: ${parts.join('; ')}` : '';
}

// Whether the run showed the highway, and why, from its numbers.
function highwayVerdict(r) {
  const units = r.memoryUnits === 1 ? '1 unit' : `${r.memoryUnits} units`;
  const memory = r.memoryUnits > 0
    ? `${units} of ${r.H} kept a forget gate of ${num(r.memoryForget)} on average along the example (all units: ${num(r.forgetMean)}): on ${r.memoryUnits === 1 ? 'that unit' : 'those'} the gradient along cₜ is multiplied by almost 1 per step`
    : `no unit's forget gate averaged ${num(r.threshold)} or more along the example (the highest: ${num(r.forgetMax)}; all units: ${num(r.forgetMean)}), so every step back multiplies the gradient along cₜ by clearly less than 1`;
  const carried = r.lstmFactor > r.rnnFactor
    ? 'So here the highway carried the gradient further than the RNN\'s recurrence did'
    : 'So here the highway did not carry the gradient further than the RNN\'s recurrence did';
  return `${carried}: ${memory}.`;
}

const TEXTS = {
  vanishing(r) {
    const sweep = r.sweep.map((s) => `${num(s.factor)} at radius ${num(s.radius)}`).join(', ');
    return `After ${steps(r.steps)} with spectral radius ${num(r.radius)} (now ${num(r.spectral)}), the RNN's gradient ${r.T - 1} steps back was ${num(r.trained.ratio)} of its value at the last step: on average it shrank by a factor ${num(r.trained.factor)} per step. `
      + `Before any training the factor per step was ${sweep}${sweepVerdict(r.sweep)}.`;
  },
  exploding(r) {
    const w = r.withClip;
    const o = r.withoutClip;
    const without = o.skipped > 0
      ? `Without clipping, the loss rose to ${num(o.maxLoss)} and ${o.skipped} of ${o.steps} steps were skipped as not finite (the first at step ${o.firstNonFinite}); the largest gradient norm was ${num(o.maxNormBefore)}.`
      : `Without clipping, the loss peaked at ${num(o.maxLoss)} and ended at ${num(o.finalLoss)}; the largest gradient norm was ${num(o.maxNormBefore)}.`;
    return `Radius ${num(r.radius)}, ${r.optimizer.toUpperCase()} at learning rate ${num(r.lr)}. ${without} `
      + `With clipping at τ = ${num(r.tau)}, ${w.clipped} of ${w.steps} steps were clipped: gradient norms up to ${num(w.maxNormBefore)} were cut to at most ${num(w.maxNormAfter)}, no step was lost (${w.skipped} skipped), and the loss went from ${num(w.firstLoss)} to ${num(w.finalLoss)}.`;
  },
  direction(r) {
    return `On one batch the gradient's norm was ${num(r.byNorm.normA)} (${r.parameters} parameters); scaled by τ/‖g‖ it has norm ${num(r.byNorm.normB)} = τ and cosine ${r.byNorm.cosine.toFixed(6)} with the unclipped gradient: the same direction, a bounded size. `
      + `Clipping each entry to ±${num(r.valueThreshold)} instead also gives a norm of ${num(r.byValue.normB)}, but the cosine drops to ${num(r.byValue.cosine)}: that changes the direction. During training, ${r.training.clipped} of ${r.training.steps} steps clipped, norms up to ${num(r.training.maxNormBefore)} left at most ${num(r.training.maxNormAfter)}.`;
  },
  'clip-vanishing'(r) {
    return `With clipping at τ = ${num(r.tau)} (${r.clippedSteps} of ${r.steps} steps clipped), the gradient ${r.T - 1} steps back was ${num(r.withClip.ratio)} of its value at the last step, a factor ${num(r.withClip.factor)} per step. `
      + `The same run without clipping: ${num(r.withoutClip.ratio)}, a factor ${num(r.withoutClip.factor)} per step. Clipping multiplies the whole gradient by one number, so it cannot lift the far end of the curve relative to the near end.`;
  },
  highway(r) {
    const lags = r.lags.map((lag, k) => `lag ${lag}: ${num(r.lstmC[k])} against ${num(r.rnnH[k])}`).join('; ');
    return `After ${steps(r.steps)} on the adding problem (T = ${r.T}), the validation MSE was ${num(r.lstmLoss)} for the LSTM and ${num(r.rnnLoss)} for the RNN (always answering 1 gives ${num(r.baseline)}). `
      + `The LSTM's ‖∂L/∂cₜ‖ and the RNN's ‖∂L/∂hₜ‖, each relative to the last step: ${lags}. `
      + `Per step back the cell-state gradient was multiplied on average by ${num(r.lstmFactor)} and the RNN's by ${num(r.rnnFactor)}. ${highwayVerdict(r)}`;
  },
  forget(r) {
    const [a, b] = r.readings;
    const line = (x) => `with forget bias ${x.bias}, the forget gate averaged ${num(x.forget)} and the input gate ${num(x.input)} over the gap, and validation accuracy was ${pct(x.accuracy)}`;
    return `After ${steps(r.steps)} on the copy task (${r.S} symbols, a gap of ${a.gap} steps): ${line(a)}; ${line(b)}. `
      + `A forget gate near 1 keeps cₜ ≈ cₜ₋₁ and an input gate near 0 writes little over it, so what the cell stored survives the gap.`;
  },
  gru(r) {
    const fewer = pct(1 - r.gru.parameters / r.lstm.parameters);
    return `With ${r.H} hidden units the GRU has ${r.gru.parameters} parameters and the LSTM ${r.lstm.parameters} (${fewer} fewer); one forward and backward pass took ${num(r.timing.gruMs)} ms against ${num(r.timing.lstmMs)} ms. `
      + `Its update gate z, averaged over units, ranged from ${num(r.update.min)} to ${num(r.update.max)} along the example (${num(r.update.atMarks)} at the two marked steps, ${num(r.update.elsewhere)} elsewhere): each step keeps a share 1 − z of the old state and takes z of the candidate. `
      + `After ${steps(r.steps)} the validation loss was ${num(r.gru.val)} for the GRU and ${num(r.lstm.val)} for the LSTM.`;
  },
  seeds(r) {
    const cell = (name, c) => (c.reachedCount
      ? `the ${name} reached ${r.target.label} in ${num(c.stepsMean)} ± ${num(c.stepsSpread)} steps (${c.reachedCount} of ${r.seeds.length} seeds), final validation loss ${num(c.lossMean)} ± ${num(c.lossSpread)}`
      : `the ${name} did not reach ${r.target.label} within ${r.maxSteps} steps for any seed; final validation loss ${num(c.lossMean)} ± ${num(c.lossSpread)}`);
    return `Seeds ${r.seeds.join(', ')}, sequence length ${r.T}, checked every ${r.evalEvery} steps for at most ${r.maxSteps}: ${cell('LSTM', r.lstm)}; ${cell('GRU', r.gru)} (mean ± standard deviation over seeds).`;
  },
  depth(r) {
    const rows = r.lengths.map((l) => `T = ${l.T}: ${num(l.ratio)}`).join(', ');
    return `Before training, with radius ${num(r.radius)}, the gradient reaching the first step, relative to the last: ${rows}. `
      + `Each extra step is one more layer to backpropagate through, so the first step's share falls exponentially with T. After ${steps(r.steps)} at T = ${r.T} it was ${num(r.trained.ratio)}.`;
  },
};

/** The sentence for an experiment's result. */
export function describeExperiment(result) {
  const text = TEXTS[result?.id];
  if (!text) throw new Error(`no sentence for experiment ${JSON.stringify(result?.id)}`);
  return text(result);
}
