// options.js — checking user options: known keys, types and ranges, with
// messages that say what was expected and what was given.

import { RnnlabError, describe } from './errors.js';

// Edit distance, for "did you mean" hints on misspelt keys.
function distance(a, b) {
  a = a.toLowerCase();
  b = b.toLowerCase();
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

// An array or a typed array (not a DataView): what a list of numbers may be.
export const isNumberList = (v) => Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView));

export function checkObject(value, where) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new RnnlabError('E_TYPE', `${where}: expected an object, got ${describe(value)}`);
  }
}

// Rejects keys not in `known`, suggesting the closest known key.
export function checkKeys(obj, known, where) {
  for (const key of Object.keys(obj)) {
    if (known.includes(key)) continue;
    const best = known.reduce((a, k) => (distance(key, k) < distance(key, a) ? k : a), known[0]);
    const hint = distance(key, best) <= Math.max(2, key.length / 3) ? ` (did you mean '${best}'?)` : '';
    throw new RnnlabError('E_INVALID', `${where}: unknown option '${key}'${hint}; known options: ${known.join(', ')}`);
  }
}

export function checkInt(value, name, min, max) {
  if (typeof value !== 'number') {
    throw new RnnlabError('E_TYPE', `${name}: expected an integer from ${min} to ${max}, got ${describe(value)}`);
  }
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RnnlabError('E_INVALID', `${name}: expected an integer from ${min} to ${max}, got ${describe(value)}`);
  }
  return value;
}

export function checkNumber(value, name, { min = -Infinity, max = Infinity, minExclusive = false, maxExclusive = false } = {}) {
  const range = `${minExclusive ? '>' : '>='} ${min}${Number.isFinite(max) ? ` and ${maxExclusive ? '<' : '<='} ${max}` : ''}`;
  if (typeof value !== 'number') {
    throw new RnnlabError('E_TYPE', `${name}: expected a number ${range}, got ${describe(value)}`);
  }
  const low = minExclusive ? value <= min : value < min;
  const high = maxExclusive ? value >= max : value > max;
  if (!Number.isFinite(value) || low || high) {
    throw new RnnlabError('E_INVALID', `${name}: expected a finite number ${range}, got ${describe(value)}`);
  }
  return value;
}

export function checkEnum(value, name, choices) {
  if (typeof value !== 'string') {
    throw new RnnlabError('E_TYPE', `${name}: expected one of ${choices.map((c) => `'${c}'`).join(', ')}, got ${describe(value)}`);
  }
  if (!choices.includes(value)) {
    throw new RnnlabError('E_INVALID', `${name}: expected one of ${choices.map((c) => `'${c}'`).join(', ')}, got ${describe(value)}`);
  }
  return value;
}

export function checkBoolean(value, name) {
  if (typeof value !== 'boolean') {
    throw new RnnlabError('E_TYPE', `${name}: expected true or false, got ${describe(value)}`);
  }
  return value;
}

export function checkFunction(value, name) {
  if (typeof value !== 'function') {
    throw new RnnlabError('E_TYPE', `${name}: expected a function, got ${describe(value)}`);
  }
  return value;
}
