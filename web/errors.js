// RnnlabError: every failure the library reports, with a stable code.

export class RnnlabError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'RnnlabError';
    this.code = code;
  }
}

// Engine status codes (src/rnnlab.h) to error codes.
export const STATUS_CODES = ['OK', 'E_NOMEM', 'E_INVALID', 'E_SHAPE', 'E_FORMAT', 'E_NONFINITE', 'E_STATE'];

export function fail(code, message) {
  throw new RnnlabError(code, message);
}

// Describes a value for a message: what was given.
export function describe(value) {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value);
  if (ArrayBuffer.isView(value)) return `${value.constructor.name}(${value.length})`;
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (typeof value === 'function') return 'a function';
  return typeof value === 'object' ? `an object` : String(value);
}
