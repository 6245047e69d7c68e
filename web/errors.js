// RnnlabError: every failure the library reports, with a stable code.

export class RnnlabError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'RnnlabError';
    this.code = code;
  }
}

export function fail(code, message) {
  throw new RnnlabError(code, message);
}

// Describes a value for a message: what was given. Never throws, whatever
// the value (a BigInt or a Symbol cannot go through a template literal or
// JSON.stringify).
export function describe(value) {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'undefined': return 'undefined';
    case 'number': return String(value); // NaN, Infinity, -0 as 0
    case 'bigint': return `${String(value)}n`;
    case 'boolean': return String(value);
    case 'symbol': return value.toString();
    case 'string': return JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value);
    case 'function': return 'a function';
    default: break;
  }
  if (value instanceof DataView) return `a DataView of ${value.byteLength} bytes`;
  if (ArrayBuffer.isView(value)) return `${value.constructor.name}(${value.length})`;
  if (value instanceof ArrayBuffer) return `an ArrayBuffer of ${value.byteLength} bytes`;
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  return 'an object';
}

// A shape for messages, "[2, 3, 4]"; entries that are not numbers show as
// what they are ("16", 16n, null), and a shape that is not an array as
// describe() has it. `separator` ',' writes what was given as compactly as
// it was typed: [2,"3",4].
export function formatShape(shape, separator = ', ') {
  if (!Array.isArray(shape)) return describe(shape);
  return `[${shape.map((d) => (typeof d === 'number' ? String(d) : describe(d))).join(separator)}]`;
}
