// gradcheck.js — model.gradcheck(batch): the engine's gradients against
// central finite differences of its own float32 loss, on a sample of the
// coordinates of every tensor (parameters, inputs, initial states).

import { BUF, STAT, FLAG } from './abi.js';
import { checkObject, checkKeys, checkInt, checkNumber, checkBoolean } from './options.js';
import { mulberry32 } from './random.js';

const U32 = 2 ** -24; // float32 unit roundoff

// Why the defaults are right for float32, returned with every result.
const WHY =
  'The loss is computed in float32, so it is known to about 1e-6 of the values it is made of. A central ' +
  'difference (L(θ+h) − L(θ−h)) / 2h with h = 1e-2 (the step taken exactly as the float32 values differ) ' +
  'then carries a rounding error of about 1e-6·|L| / 0.02 and a truncation error of h²/6·|L\'\'\'|, which ' +
  'grows on trained models with saturated gates. Each coordinate is judged by the better of two estimates: ' +
  'that difference, and the Richardson combination (4·D(h/2) − D(h)) / 3, which cancels the h² term at the ' +
  'cost of more rounding; a wrong gradient agrees with neither. Relative errors are |analytic − numeric| / ' +
  'max(|analytic|, |numeric|, floor), the floor being the larger of 5e-3·|L| (the rounding noise of the ' +
  'loss) and 1% of the largest gradient of the same tensor: float32 differences cannot resolve a ' +
  'coordinate a thousand times smaller than its neighbours (measured on trained models: errors of 1e-6 ' +
  'on gradients of 4e-5 beside 4e-2), while a wrong term shows in the large coordinates too. A coordinate ' +
  'still over the tolerance is measured again with h/10 and the smaller error kept: a ReLU kink crossed ' +
  'within ±h disappears, a wrong gradient does not. Tolerance 1e-2: on models trained for hundreds of ' +
  'steps the worst error measured was 8e-3, while a wrong gradient term gives errors near 1. Float64 ' +
  'would allow 1e-6; float32 cannot.';

function checkOptions(options) {
  checkObject(options, 'gradcheck options');
  checkKeys(options, ['samples', 'epsilon', 'tolerance', 'seed', 'state', 'training'], 'gradcheck options');
  return {
    training: checkBoolean(options.training ?? false, 'gradcheck options.training'),
    samples: checkInt(options.samples ?? 8, 'gradcheck options.samples', 1, 100000),
    epsilon: checkNumber(options.epsilon ?? 1e-2, 'gradcheck options.epsilon', { min: 0, minExclusive: true, max: 1 }),
    tolerance: checkNumber(options.tolerance ?? 1e-2, 'gradcheck options.tolerance', { min: 0, minExclusive: true, max: 1 }),
    seed: checkInt(options.seed ?? 1, 'gradcheck options.seed', 0, 0xffffffff),
  };
}

// The coordinates to check: the one of the largest |gradient| and `samples` drawn at random.
function pickCoordinates(grad, samples, random) {
  let top = 0;
  for (let i = 1; i < grad.length; i++) if (Math.abs(grad[i]) > Math.abs(grad[top])) top = i;
  const picked = new Set([top]);
  if (grad.length <= samples + 1) return [...grad.keys()];
  while (picked.size < samples + 1) picked.add(Math.floor(random() * grad.length));
  return [...picked];
}

// Central difference of the loss along one float32 value buf[i].
function centralDifference(buf, i, h, loss) {
  const v = buf[i];
  buf[i] = Math.fround(v + h);
  const up = buf[i];
  const lossUp = loss();
  buf[i] = Math.fround(v - h);
  const down = buf[i];
  const lossDown = loss();
  buf[i] = v;
  return (lossUp - lossDown) / (up - down);
}

// The tensors checked: name, analytic gradient, the engine buffer perturbed,
// and the map from a gradient index to a buffer index.
function tensorsToCheck(model, analytic, d) {
  const params = model._buf(BUF.PARAMS);
  const out = model._layout.tensors.map((t) => ({
    name: t.layer >= 0 && t.layer < model.config.layers ? `${t.name}_${t.layer}${t.reverse ? '_reverse' : ''}` : t.name,
    grad: analytic.flatGradients.subarray(t.offset, t.offset + t.count),
    buf: params, at: (i) => t.offset + i, isParam: true,
  }));
  const { N: B, T } = d, X = model.config.inputSize;
  // dx is batch-major (B, T, X); the engine's x is time-major (T, B, X)
  const xAt = (i) => { const k = i % X, bt = (i - k) / X, t = bt % T, b = (bt - t) / T; return (t * B + b) * X + k; };
  // with an embedding x is the table's rows, checked as the table
  if (!d.ids) out.push({ name: 'x', grad: analytic.dx, buf: model._buf(BUF.X), at: xAt });
  out.push({ name: 'h0', grad: analytic.dState.h, buf: model._buf(BUF.H0), at: (i) => i });
  if (analytic.dState.c) out.push({ name: 'c0', grad: analytic.dState.c, buf: model._buf(BUF.C0), at: (i) => i });
  return out;
}

// The share of a tensor's largest gradient below which a coordinate's error is
// measured against that share instead of its own size (see WHY).
const TENSOR_FLOOR = 1e-2;

function checkTensor(model, t, o, random, loss, lossFloor) {
  let worst = { maxRelError: 0, index: -1, analytic: 0, numeric: 0 };
  const coords = pickCoordinates(t.grad, o.samples, random);
  let largest = 0;
  for (const g of t.grad) largest = Math.max(largest, Math.abs(g));
  const floor = Math.max(lossFloor, TENSOR_FLOOR * largest);
  const f = t.isParam ? () => { model._abi.paramsChanged(model._handle); return loss(); } : loss;
  for (const i of coords) {
    const a = t.grad[i];
    const error = (numeric) => ({ numeric, rel: Math.abs(a - numeric) / Math.max(Math.abs(a), Math.abs(numeric), floor) });
    // Richardson: (4·D(h/2) − D(h)) / 3 cancels the h² term of the central difference
    const coarse = centralDifference(t.buf, t.at(i), o.epsilon, f);
    const fine = centralDifference(t.buf, t.at(i), o.epsilon / 2, f);
    // each estimate has its own weakness (rounding grows as h shrinks, truncation as it
    // grows): the coordinate is judged by the one that agrees best, and a wrong gradient
    // agrees with none
    let { numeric, rel } = [error(coarse), error((4 * fine - coarse) / 3)].reduce((p, q) => (q.rel < p.rel ? q : p));
    if (rel > o.tolerance) { // a ReLU kink within ±h, or a wrong gradient: a wrong one stays wrong at h/10
      const near = error(centralDifference(t.buf, t.at(i), o.epsilon / 10, f));
      if (near.rel < rel) ({ numeric, rel } = near);
    }
    if (rel >= worst.maxRelError) worst = { maxRelError: rel, index: i, analytic: a, numeric };
  }
  if (t.isParam) model._abi.paramsChanged(model._handle);
  return { ...worst, floor, checked: coords.length };
}

function zeroState(model, B) {
  const { layers, hiddenSize: H, cell } = model.config;
  const n = layers * (model.config.bidirectional ? 2 : 1) * B * H;
  return cell === 'lstm' ? { h: new Float32Array(n), c: new Float32Array(n) } : { h: new Float32Array(n) };
}

/**
 * The engine's gradients against central finite differences: { loss,
 * epsilon, tolerance, floor, why, maxRelError, ok, tensors: { name: {
 * maxRelError, index, analytic, numeric, checked } } }.
 */
export function gradcheck(model, batch, options = {}) {
  model._idle('gradcheck');
  const o = checkOptions(options);
  const N = model._loadBatch(batch, {}, 'gradcheck').d.N; // checks the batch before anything runs
  const state = model._checkState(options.state, N, 'gradcheck options') ?? zeroState(model, N);
  // training: the dropout masks of the model's step count, the same in every
  // forward below (the count does not move), so the check is exact for them
  const analytic = model.computeGradients(batch, { state, training: o.training });
  const { d, flags } = model._loadBatch(batch, { state }, 'gradcheck');
  const train = o.training ? FLAG.TRAINING : 0;
  const loss = () => {
    model._check(model._abi.forward(model._handle, flags | FLAG.USE_H0 | train, true), 'gradcheck');
    return model._stats()[STAT.LOSS];
  };
  const floor = Math.max(5e-3 * Math.abs(analytic.loss), 64 * U32);
  const random = mulberry32(o.seed);
  const tensors = {};
  let maxRelError = 0;
  for (const t of tensorsToCheck(model, analytic, d)) {
    tensors[t.name] = checkTensor(model, t, o, random, loss, floor);
    maxRelError = Math.max(maxRelError, tensors[t.name].maxRelError);
  }
  return { loss: analytic.loss, epsilon: o.epsilon, tolerance: o.tolerance, floor, why: WHY, maxRelError,
    ok: maxRelError <= o.tolerance, tensors };
}
