// The JSON weight format: the same state dict as the safetensors files
// (PyTorch names, row-major data), as text people can read and diff.
//
//   {
//     "format": "rnnlab-weights",
//     "version": 1,
//     "metadata": { "any": "strings" },                 (optional)
//     "tensors": {
//       "rnn.weight_ih_l0": { "shape": [20, 3], "data": [0.1, -0.25, ...] },
//       ...
//     }
//   }
//
// Values are float32. The writer prints each as the shortest decimal that
// reads back to the same float32 (0.1, not 0.10000000149011612), so a file
// written and read again gives the same bits. The reader accepts any finite
// numbers within float32 range (e.g. Python's json.dump of a float64 state dict).

import { RnnlabError, describe, formatShape } from './errors.js';

export const JSON_FORMAT = 'rnnlab-weights';
export const JSON_VERSION = 1;
const FLOAT32_MAX = 3.4028234663852886e38;

function fail(code, message) {
  throw new RnnlabError(code, `weights JSON: ${message}`);
}

const values = (n) => `${n} value${n === 1 ? '' : 's'}`;
const isPlainObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v) && !ArrayBuffer.isView(v);
const isDim = (d) => Number.isSafeInteger(d) && d >= 0;

function setOwn(obj, key, value) {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

// State-dict order whatever the insertion order: per layer weight_ih,
// weight_hh, bias_ih, bias_hh; then head.weight, head.bias; then any other
// names by code point.
const KIND_ORDER = ['weight_ih', 'weight_hh', 'bias_ih', 'bias_hh'];
function sortKey(name) {
  const m = /^rnn\.(weight_ih|weight_hh|bias_ih|bias_hh)_l(\d+)$/.exec(name);
  if (m) return [0, Number(m[2]), KIND_ORDER.indexOf(m[1]), ''];
  if (name === 'head.weight') return [1, 0, 0, ''];
  if (name === 'head.bias') return [1, 0, 1, ''];
  return [2, 0, 0, name];
}
function compareNames(a, b) {
  const ka = sortKey(a);
  const kb = sortKey(b);
  for (let i = 0; i < 3; i++) if (ka[i] !== kb[i]) return ka[i] - kb[i];
  return ka[3] < kb[3] ? -1 : ka[3] > kb[3] ? 1 : 0;
}

// Shortest decimal that rounds to the same float32. More digits never hurt
// (the closest p+1-digit decimal is at least as close as the p-digit one),
// so a binary search over 1..9 significant digits finds the shortest.
function float32Text(value) {
  const v = Math.fround(value);
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  let lo = 1;
  let hi = 9; // 9 significant digits always identify a float32
  let best = Number(v.toPrecision(9));
  while (lo < hi) {
    const p = (lo + hi) >> 1;
    const d = Number(v.toPrecision(p));
    if (Math.fround(d) === v) {
      hi = p;
      best = d;
    } else {
      lo = p + 1;
    }
  }
  // String() of the decimal's double drops trailing zeros and is valid JSON.
  return String(best);
}

/**
 * A state dict { name: { shape, data } } as JSON text (see the top of this
 * file). options.metadata: an object of strings kept in the file.
 * Throws E_INVALID for a malformed dict, E_SHAPE when data and shape
 * disagree, E_NONFINITE for NaN, Infinity or values beyond float32.
 */
export function weightsToJSON(dict, options = {}) {
  if (!isPlainObject(dict)) {
    throw new RnnlabError('E_INVALID', `weightsToJSON: expected an object of tensors { shape, data }, given ${describe(dict)}`);
  }
  if (!isPlainObject(options)) {
    throw new RnnlabError('E_INVALID', `weightsToJSON: options must be an object, given ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (key !== 'metadata') throw new RnnlabError('E_INVALID', `weightsToJSON: unknown option '${key}' (expected 'metadata')`);
  }
  const lines = ['{', `  "format": ${JSON.stringify(JSON_FORMAT)},`, `  "version": ${JSON_VERSION},`];
  if (options.metadata !== undefined) {
    const meta = options.metadata;
    if (!isPlainObject(meta)) {
      throw new RnnlabError('E_INVALID', `weightsToJSON: metadata must be an object of strings, given ${describe(meta)}`);
    }
    for (const [k, v] of Object.entries(meta)) {
      if (typeof v !== 'string') {
        throw new RnnlabError('E_INVALID', `weightsToJSON: metadata '${k}' must be a string, given ${describe(v)}`);
      }
    }
    lines.push(`  "metadata": ${JSON.stringify(meta)},`);
  }
  const names = Object.keys(dict).sort(compareNames);
  const entries = names.map((name) => {
    const t = dict[name];
    if (!isPlainObject(t) || !Array.isArray(t.shape) || !t.data || typeof t.data.length !== 'number' || typeof t.data === 'string') {
      throw new RnnlabError('E_INVALID', `weightsToJSON: tensor '${name}' must be { shape, data }, given ${describe(t)}`);
    }
    if (!t.shape.every(isDim)) {
      throw new RnnlabError('E_SHAPE', `weightsToJSON: tensor '${name}' has an invalid shape ${formatShape(t.shape)}`);
    }
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== n) {
      throw new RnnlabError('E_SHAPE', `weightsToJSON: tensor '${name}' of shape ${formatShape(t.shape)} needs ${values(n)}, given ${t.data.length}`);
    }
    const text = new Array(n);
    for (let i = 0; i < n; i++) {
      const v = t.data[i];
      if (typeof v !== 'number') {
        throw new RnnlabError('E_INVALID', `weightsToJSON: tensor '${name}' holds ${describe(v)} at index ${i}, expected numbers`);
      }
      if (!Number.isFinite(Math.fround(v))) {
        throw new RnnlabError('E_NONFINITE', `weightsToJSON: tensor '${name}' (shape ${formatShape(t.shape)}) holds ${v} at index ${i}` +
          (Number.isFinite(v) ? ', beyond the float32 range' : ''));
      }
      text[i] = float32Text(v);
    }
    return `    ${JSON.stringify(name)}: { "shape": ${JSON.stringify(t.shape)}, "data": [${text.join(', ')}] }`;
  });
  lines.push(entries.length ? `  "tensors": {\n${entries.join(',\n')}\n  }` : '  "tensors": {}');
  lines.push('}');
  return lines.join('\n') + '\n';
}

// JSON has no NaN or Infinity, but Python's json.dump writes them. Turn the
// bare tokens (outside strings) into marker strings so the reader can say
// which tensor holds them instead of "not valid JSON".
const NONFINITE_MARK = '\u0000nonfinite:';
function markNonFinite(text) {
  return text.replace(/"(?:[^"\\]|\\.)*"|-?Infinity|NaN/g,
    (m) => (m[0] === '"' ? m : JSON.stringify(NONFINITE_MARK + m)));
}

function parse(text) {
  try {
    return JSON.parse(text);
  } catch (e) {
    try {
      return JSON.parse(markNonFinite(text));
    } catch {
      fail('E_FORMAT', `not valid JSON (${e.message})`);
    }
  }
}

function readTensor(name, t) {
  if (!isPlainObject(t)) fail('E_FORMAT', `tensor '${name}' must be an object { shape, data }, given ${describe(t)}`);
  for (const key of Object.keys(t)) {
    if (key !== 'shape' && key !== 'data') fail('E_FORMAT', `tensor '${name}' has an unknown key '${key}' (expected only shape and data)`);
  }
  const { shape, data } = t;
  if (!Array.isArray(shape) || !shape.every(isDim)) {
    fail('E_FORMAT', `tensor '${name}' needs a shape of non-negative integers, given ${shape === undefined ? 'none' : formatShape(shape)}`);
  }
  if (!Array.isArray(data)) fail('E_FORMAT', `tensor '${name}' needs data as an array of numbers, given ${describe(data)}`);
  let n = 1;
  for (const d of shape) n *= d;
  if (data.length !== n) {
    fail('E_SHAPE', `tensor '${name}' of shape ${formatShape(shape)} needs ${values(n)}, given ${data.length}`);
  }
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const v = data[i];
    if (typeof v === 'string' && v.startsWith(NONFINITE_MARK)) {
      fail('E_NONFINITE', `tensor '${name}' (shape ${formatShape(shape)}) holds ${v.slice(NONFINITE_MARK.length)} at index ${i}: expected finite numbers`);
    }
    if (typeof v !== 'number') {
      const hint = Array.isArray(v) ? ' (data must be flat, row-major: t.flatten().tolist() in PyTorch)' : '';
      fail('E_FORMAT', `tensor '${name}' holds ${describe(v)} at index ${i}, expected a number${hint}`);
    }
    // JSON.parse reads 1e999 as Infinity; 1e39 is finite but overflows float32
    // (3.4028235e38, just above the largest float32, still rounds to it).
    if (!Number.isFinite(Math.fround(v))) {
      fail('E_NONFINITE', `tensor '${name}' (shape ${formatShape(shape)}) holds ${v} at index ${i}, ` +
        `expected finite numbers within the float32 range (±${FLOAT32_MAX})`);
    }
    out[i] = v;
  }
  return { shape: shape.slice(), data: out };
}

/**
 * Reads the JSON weight format: text (or its UTF-8 bytes) to
 * { tensors: { name: { shape, data: Float32Array } }, metadata (object or null) }.
 * Bad JSON and wrong types throw E_FORMAT, data that does not fit its shape
 * E_SHAPE, NaN / Infinity / values beyond float32 E_NONFINITE.
 */
export function readWeightsJSON(text) {
  if (text instanceof ArrayBuffer || ArrayBuffer.isView(text)) {
    const bytes = text instanceof ArrayBuffer ? new Uint8Array(text) : new Uint8Array(text.buffer, text.byteOffset, text.byteLength);
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      fail('E_FORMAT', 'the bytes are not valid UTF-8 text');
    }
  }
  if (typeof text !== 'string') {
    throw new RnnlabError('E_TYPE', `weightsFromJSON: expected JSON text, a Uint8Array or an ArrayBuffer, given ${describe(text)}`);
  }
  const doc = parse(text);
  if (!isPlainObject(doc)) fail('E_FORMAT', `expected a JSON object, given ${Array.isArray(doc) ? 'an array' : describe(doc)}`);
  if (doc.format !== JSON_FORMAT) {
    fail('E_FORMAT', `"format" must be ${JSON.stringify(JSON_FORMAT)}, given ${doc.format === undefined ? 'none' : JSON.stringify(doc.format)}`);
  }
  if (doc.version !== JSON_VERSION) {
    const newer = Number.isInteger(doc.version) && doc.version > JSON_VERSION;
    fail('E_FORMAT', `"version" must be ${JSON_VERSION}, given ${JSON.stringify(doc.version) ?? 'none'}` +
      (newer ? ' (written by a newer rnnlab)' : ''));
  }
  for (const key of Object.keys(doc)) {
    if (!['format', 'version', 'metadata', 'tensors'].includes(key)) {
      fail('E_FORMAT', `unknown top-level key '${key}' (expected format, version, metadata, tensors)`);
    }
  }
  let metadata = null;
  if (doc.metadata !== undefined) {
    if (!isPlainObject(doc.metadata) || !Object.values(doc.metadata).every((v) => typeof v === 'string')) {
      fail('E_FORMAT', `"metadata" must be an object of strings, given ${JSON.stringify(doc.metadata)}`);
    }
    metadata = doc.metadata;
  }
  if (!isPlainObject(doc.tensors)) fail('E_FORMAT', `"tensors" must be an object of { shape, data }, given ${describe(doc.tensors)}`);
  const tensors = {};
  for (const [name, t] of Object.entries(doc.tensors)) setOwn(tensors, name, readTensor(name, t));
  return { tensors, metadata };
}

/** JSON weight text (or bytes) -> { name: { shape, data: Float32Array } }. */
export function weightsFromJSON(text) {
  return readWeightsJSON(text).tensors;
}
