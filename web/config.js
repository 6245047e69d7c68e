// config.js — the user's model and optimiser options, checked. Defaults are
// the engine's (rnnlab_config_default, rnnlab_optimizer_default through
// abi.js); the structs they travel in are abi.js's.

import { RnnlabError, describe } from './errors.js';
import { ENUMS } from './abi.js';
import { checkObject, checkKeys, checkInt, checkNumber, checkEnum, checkBoolean } from './options.js';

export const CELLS = ENUMS.cell;
export const OPTIMIZERS = ENUMS.optimizer;

const REQUIRED = ['cell', 'inputSize', 'hiddenSize', 'outputSize'];
const OPTIONAL = ['layers', 'output', 'loss', 'activation', 'gruVariant', 'init', 'recurrentInit', 'recurrentScale',
  'forgetBiasOne', 'seed', 'embedding', 'dropout', 'inputDropout', 'recurrentDropout', 'bidirectional'];

// embedding: { vocabSize, size } (ids in, SPEC §13) or null; inputSize is then the
// size, and may be left out.
function checkEmbedding(c) {
  if (c.embedding === null) return;
  checkObject(c.embedding, 'embedding');
  checkKeys(c.embedding, ['vocabSize', 'size'], 'embedding');
  for (const k of ['vocabSize', 'size']) {
    if (c.embedding[k] === undefined) throw new RnnlabError('E_INVALID', `embedding.${k}: expected an integer from 1 to 65536, got undefined`);
    checkInt(c.embedding[k], `embedding.${k}`, 1, 65536);
  }
  if (c.inputSize !== undefined && c.inputSize !== c.embedding.size) {
    throw new RnnlabError('E_INVALID', `inputSize: with an embedding layer 0 reads the embedding's vectors, so inputSize is ` +
      `embedding.size (${c.embedding.size}) or left out, got ${describe(c.inputSize)}`);
  }
  c.embedding = Object.freeze({ vocabSize: c.embedding.vocabSize, size: c.embedding.size });
  c.inputSize = c.embedding.size;
}

/** A complete, checked model config from the user's; `defaults` is the engine's default config. */
export function checkModelConfig(config, defaults) {
  checkObject(config, 'createModel config');
  checkKeys(config, [...REQUIRED, ...OPTIONAL], 'createModel config');
  const c = {};
  for (const k of OPTIONAL) c[k] = defaults[k];
  for (const [k, v] of Object.entries(config)) if (v !== undefined) c[k] = v;
  if (c.cell === undefined) throw new RnnlabError('E_INVALID', `cell: expected one of 'rnn', 'lstm', 'gru', got undefined`);
  checkEnum(c.cell, 'cell', CELLS);
  checkEmbedding(c);
  for (const k of ['inputSize', 'hiddenSize', 'outputSize']) {
    if (c[k] === undefined) throw new RnnlabError('E_INVALID', `${k}: expected an integer from 1 to 65536, got undefined`);
    checkInt(c[k], k, 1, 65536);
  }
  checkInt(c.layers, 'layers', 1, 16);
  for (const k of ['output', 'loss', 'activation', 'gruVariant', 'init', 'recurrentInit']) checkEnum(c[k], k, ENUMS[k]);
  checkNumber(c.recurrentScale, 'recurrentScale', { min: 0, max: 100 });
  checkBoolean(c.forgetBiasOne, 'forgetBiasOne');
  checkInt(c.seed, 'seed', 0, 0xffffffff);
  // SPEC §12: a probability p < 1 (kept units scale by 1/(1-p)), as a float32
  for (const k of ['dropout', 'inputDropout', 'recurrentDropout']) {
    checkNumber(c[k], k, { min: 0, max: 1, maxExclusive: true });
    if (Object.is(c[k], -0)) c[k] = 0; // the engine takes -0 for a sign it refuses
    if (Math.fround(c[k]) >= 1) throw new RnnlabError('E_INVALID', `${k}: expected a probability from 0 up to (not including) 1, got ${c[k]}, which is 1 as a float32`);
  }
  checkBoolean(c.bidirectional, 'bidirectional');
  if (c.loss === 'cross-entropy' && c.outputSize < 2) {
    throw new RnnlabError('E_INVALID', `outputSize: cross-entropy needs at least 2 classes, got ${c.outputSize}`);
  }
  return Object.freeze(c);
}

const OPT_KEYS = ['type', 'lr', 'momentum', 'beta1', 'beta2', 'eps', 'rho', 'weightDecay'];

/**
 * A complete optimiser setting from 'adam' or { type: 'adam', lr: ... };
 * `defaults` maps each type to the engine's defaults for it.
 */
export function checkOptimizer(opt, where, defaults) {
  if (typeof opt === 'string') opt = { type: opt };
  checkObject(opt, where);
  checkKeys(opt, OPT_KEYS, where);
  const type = checkEnum(opt.type ?? 'adam', `${where}.type`, OPTIMIZERS);
  const o = { ...defaults[type] };
  for (const [k, v] of Object.entries(opt)) if (v !== undefined) o[k] = v;
  checkNumber(o.lr, `${where}.lr`, { min: 0, minExclusive: true, max: 1e6 });
  for (const k of ['momentum', 'beta1', 'beta2', 'rho']) checkNumber(o[k], `${where}.${k}`, { min: 0, max: 1, maxExclusive: true });
  checkNumber(o.eps, `${where}.eps`, { min: 0, minExclusive: true, max: 1 });
  checkNumber(o.weightDecay, `${where}.weightDecay`, { min: 0, max: 1e6 });
  return o;
}

/** Directions of a model's layers: 2 when bidirectional (SPEC §11), else 1. */
export const directions = (config) => (config.bidirectional ? 2 : 1);

export function gateNames(cell) {
  return cell === 'lstm' ? ['i', 'f', 'g', 'o'] : cell === 'gru' ? ['r', 'z', 'n'] : ['h'];
}
