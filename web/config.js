// config.js — model and optimiser options: defaults, checks, and their
// encoding into the engine's structs (src/rnnlab.h field order).

import { RnnlabError } from './errors.js';
import { checkObject, checkKeys, checkInt, checkNumber, checkEnum, checkBoolean } from './options.js';

export const CELLS = ['rnn', 'lstm', 'gru'];
export const OPTIMIZERS = ['sgd', 'momentum', 'adam', 'adamw', 'rmsprop'];

const MODEL_DEFAULTS = {
  layers: 1,
  output: 'sequence',
  loss: 'mse',
  activation: 'tanh',
  gruVariant: 'reset-before',
  init: 'glorot',
  recurrentInit: 'orthogonal',
  recurrentScale: 1,
  forgetBiasOne: true,
  seed: 1,
};
const MODEL_KEYS = ['cell', 'inputSize', 'hiddenSize', 'outputSize', ...Object.keys(MODEL_DEFAULTS)];

// A complete, checked model config from the user's.
export function checkModelConfig(config) {
  checkObject(config, 'createModel config');
  checkKeys(config, MODEL_KEYS, 'createModel config');
  const c = { ...MODEL_DEFAULTS };
  for (const [k, v] of Object.entries(config)) if (v !== undefined) c[k] = v;
  if (c.cell === undefined) throw new RnnlabError('E_INVALID', `cell: expected one of 'rnn', 'lstm', 'gru', got undefined`);
  checkEnum(c.cell, 'cell', CELLS);
  for (const k of ['inputSize', 'hiddenSize', 'outputSize']) {
    if (c[k] === undefined) throw new RnnlabError('E_INVALID', `${k}: expected an integer from 1 to 65536, got undefined`);
    checkInt(c[k], k, 1, 65536);
  }
  checkInt(c.layers, 'layers', 1, 16);
  checkEnum(c.output, 'output', ['sequence', 'last']);
  checkEnum(c.loss, 'loss', ['mse', 'cross-entropy']);
  checkEnum(c.activation, 'activation', ['tanh', 'relu']);
  checkEnum(c.gruVariant, 'gruVariant', ['reset-before', 'reset-after']);
  checkEnum(c.init, 'init', ['glorot', 'pytorch']);
  checkEnum(c.recurrentInit, 'recurrentInit', ['orthogonal', 'gaussian']);
  checkNumber(c.recurrentScale, 'recurrentScale', { min: 0, max: 100 });
  checkBoolean(c.forgetBiasOne, 'forgetBiasOne');
  checkInt(c.seed, 'seed', 0, 0xffffffff);
  if (c.loss === 'cross-entropy' && c.outputSize < 2) {
    throw new RnnlabError('E_INVALID', `outputSize: cross-entropy needs at least 2 classes, got ${c.outputSize}`);
  }
  return Object.freeze(c);
}

// rnnlab_config: 14 four-byte fields.
export const CONFIG_WORDS = 14;

export function encodeConfig(c, i32, f32, u32) {
  i32[0] = CELLS.indexOf(c.cell);
  i32[1] = c.activation === 'relu' ? 1 : 0;
  i32[2] = c.gruVariant === 'reset-after' ? 1 : 0;
  i32[3] = c.inputSize;
  i32[4] = c.hiddenSize;
  i32[5] = c.outputSize;
  i32[6] = c.layers;
  i32[7] = c.output === 'last' ? 1 : 0;
  i32[8] = c.loss === 'cross-entropy' ? 1 : 0;
  i32[9] = c.init === 'pytorch' ? 1 : 0;
  i32[10] = c.recurrentInit === 'gaussian' ? 1 : 0;
  f32[11] = c.recurrentScale;
  i32[12] = c.forgetBiasOne ? 1 : 0;
  u32[13] = c.seed >>> 0;
}

export function decodeConfig(i32, f32, u32) {
  return Object.freeze({
    cell: CELLS[i32[0]],
    inputSize: i32[3],
    hiddenSize: i32[4],
    outputSize: i32[5],
    layers: i32[6],
    output: i32[7] ? 'last' : 'sequence',
    loss: i32[8] ? 'cross-entropy' : 'mse',
    activation: i32[1] ? 'relu' : 'tanh',
    gruVariant: i32[2] ? 'reset-after' : 'reset-before',
    init: i32[9] ? 'pytorch' : 'glorot',
    recurrentInit: i32[10] ? 'gaussian' : 'orthogonal',
    recurrentScale: f32[11],
    forgetBiasOne: i32[12] === 1,
    seed: u32[13],
  });
}

const OPT_KEYS = ['type', 'lr', 'momentum', 'beta1', 'beta2', 'eps', 'rho', 'weightDecay'];

// A complete optimiser setting from 'adam' or { type: 'adam', lr: ... }.
export function checkOptimizer(opt, where = 'optimizer') {
  if (typeof opt === 'string') opt = { type: opt };
  checkObject(opt, where);
  checkKeys(opt, OPT_KEYS, where);
  const type = checkEnum(opt.type ?? 'adam', `${where}.type`, OPTIMIZERS);
  const sgd = type === 'sgd' || type === 'momentum';
  const o = {
    type,
    lr: sgd ? 0.01 : 0.001,
    momentum: 0.9,
    beta1: 0.9,
    beta2: 0.999,
    eps: type === 'rmsprop' ? 1e-7 : 1e-8,
    rho: 0.9,
    weightDecay: type === 'adamw' ? 0.01 : 0,
  };
  for (const [k, v] of Object.entries(opt)) if (v !== undefined) o[k] = v;
  checkNumber(o.lr, `${where}.lr`, { min: 0, minExclusive: true, max: 1e6 });
  for (const k of ['momentum', 'beta1', 'beta2', 'rho']) checkNumber(o[k], `${where}.${k}`, { min: 0, max: 1, maxExclusive: true });
  checkNumber(o.eps, `${where}.eps`, { min: 0, minExclusive: true, max: 1 });
  checkNumber(o.weightDecay, `${where}.weightDecay`, { min: 0, max: 1e6 });
  return o;
}

// rnnlab_optimizer: 10 four-byte fields.
export const OPTIMIZER_WORDS = 10;

export function encodeOptimizer(o, clipNorm, clipValue, i32, f32) {
  i32[0] = OPTIMIZERS.indexOf(o.type);
  f32[1] = o.lr;
  f32[2] = o.momentum;
  f32[3] = o.beta1;
  f32[4] = o.beta2;
  f32[5] = o.eps;
  f32[6] = o.rho;
  f32[7] = o.weightDecay;
  f32[8] = clipNorm;
  f32[9] = clipValue;
}

// The shortest decimal that is the same float32 (0.001, not 0.0010000000474974513).
function shortestFloat32(v) {
  for (let p = 1; p < 9; p++) {
    const d = Number(v.toPrecision(p));
    if (Math.fround(d) === v) return d;
  }
  return v;
}

export function decodeOptimizer(i32, f32) {
  const f = (k) => shortestFloat32(f32[k]);
  return {
    optimizer: {
      type: OPTIMIZERS[i32[0]], lr: f(1), momentum: f(2), beta1: f(3), beta2: f(4),
      eps: f(5), rho: f(6), weightDecay: f(7),
    },
    clipNorm: f(8),
    clipValue: f(9),
  };
}

export function gateNames(cell) {
  return cell === 'lstm' ? ['i', 'f', 'g', 'o'] : cell === 'gru' ? ['r', 'z', 'n'] : ['h'];
}
