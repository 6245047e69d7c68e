// safetensors reader and writer.
//
// The format: an unsigned 64-bit little-endian header length N, N bytes of
// UTF-8 JSON, then the raw data. The JSON maps each tensor name to
// { dtype, shape, data_offsets: [begin, end] } (byte offsets into the data
// that follows the header) and may hold "__metadata__": { string: string }.
// Values are little-endian. We write F32. We read F32, F64, and F16 and BF16
// (into Float32Array: every half value is exactly a float32), and the integer
// and BOOL dtypes into typed arrays of their own kind, so that whoever uses
// the tensors can say which one has the wrong dtype.

import { RnnlabError } from './errors.js';

// Bytes per element and how to read one element at a byte offset.
const DTYPES = {
  F64: { size: 8, Array: Float64Array, get: (v, at) => v.getFloat64(at, true) },
  F32: { size: 4, Array: Float32Array, get: (v, at) => v.getFloat32(at, true) },
  F16: { size: 2, Array: Float32Array, get: (v, at) => halfToNumber(v.getUint16(at, true)) },
  BF16: { size: 2, Array: Float32Array, get: (v, at) => bfloatToNumber(v.getUint16(at, true)) },
  I64: { size: 8, Array: BigInt64Array, get: (v, at) => v.getBigInt64(at, true) },
  U64: { size: 8, Array: BigUint64Array, get: (v, at) => v.getBigUint64(at, true) },
  I32: { size: 4, Array: Int32Array, get: (v, at) => v.getInt32(at, true) },
  U32: { size: 4, Array: Uint32Array, get: (v, at) => v.getUint32(at, true) },
  I16: { size: 2, Array: Int16Array, get: (v, at) => v.getInt16(at, true) },
  U16: { size: 2, Array: Uint16Array, get: (v, at) => v.getUint16(at, true) },
  I8: { size: 1, Array: Int8Array, get: (v, at) => v.getInt8(at) },
  U8: { size: 1, Array: Uint8Array, get: (v, at) => v.getUint8(at) },
  BOOL: { size: 1, Array: Uint8Array, get: (v, at) => v.getUint8(at) },
};
// Dtypes the format defines that this reader does not convert.
const OTHER_DTYPES = new Set(['F8_E4M3', 'F8_E5M2', 'F8_E8M0', 'F4', 'F6_E2M3', 'F6_E3M2', 'C64']);
const MAX_HEADER = 100 * 1024 * 1024;

// bfloat16 is the top 16 bits of a float32.
const bitsView = new DataView(new ArrayBuffer(4));
function bfloatToNumber(bits) {
  bitsView.setUint32(0, bits << 16 >>> 0);
  return bitsView.getFloat32(0);
}

// IEEE 754 half precision: 1 sign bit, 5 exponent bits (bias 15), 10 fraction bits.
function halfToNumber(bits) {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24; // zero and subnormals
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

function formatError(message) {
  return new RnnlabError('E_FORMAT', `safetensors: ${message}`);
}

function setOwn(obj, key, value) {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function isNonNegInt(v) {
  return Number.isSafeInteger(v) && v >= 0;
}

/**
 * Encodes { name: { shape, data } } (data: any array of numbers) as F32
 * safetensors bytes. metadata, if given, is an object of string values.
 */
export function encodeSafetensors(dict, metadata) {
  if (dict === null || typeof dict !== 'object' || Array.isArray(dict)) {
    throw new RnnlabError('E_INVALID', `encodeSafetensors: expected an object of tensors, given ${dict === null ? 'null' : typeof dict}`);
  }
  const names = Object.keys(dict).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const header = {};
  if (metadata !== undefined && metadata !== null) {
    if (typeof metadata !== 'object' || Array.isArray(metadata)) {
      throw new RnnlabError('E_INVALID', `encodeSafetensors: metadata must be an object of strings, given ${typeof metadata}`);
    }
    const meta = {};
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') {
        throw new RnnlabError('E_INVALID', `encodeSafetensors: metadata '${k}' must be a string, given ${typeof v}`);
      }
      setOwn(meta, k, v);
    }
    header.__metadata__ = meta;
  }
  let offset = 0;
  const tensors = [];
  for (const name of names) {
    if (name === '__metadata__') {
      throw new RnnlabError('E_INVALID', `encodeSafetensors: '__metadata__' cannot be a tensor name`);
    }
    const t = dict[name];
    if (t === null || typeof t !== 'object' || !Array.isArray(t.shape) ||
        !t.data || typeof t.data.length !== 'number') {
      throw new RnnlabError('E_INVALID', `encodeSafetensors: tensor '${name}' must be { shape, data }`);
    }
    if (!t.shape.every(isNonNegInt)) {
      throw new RnnlabError('E_SHAPE', `encodeSafetensors: tensor '${name}' has an invalid shape [${t.shape.join(', ')}]`);
    }
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) {
      throw new RnnlabError('E_SHAPE', `encodeSafetensors: tensor '${name}' has shape [${t.shape.join(', ')}] (${n} values) but ${t.data.length} values`);
    }
    setOwn(header, name, { dtype: 'F32', shape: t.shape.slice(), data_offsets: [offset, offset + 4 * n] });
    tensors.push({ data: t.data, offset, n });
    offset += 4 * n;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  // Pad the header with spaces so the data starts 8-byte aligned.
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, padded, true);
  view.setUint32(4, 0, true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  const base = 8 + padded;
  for (const { data, offset: o, n } of tensors) {
    for (let i = 0; i < n; i++) view.setFloat32(base + o + 4 * i, data[i], true);
  }
  return out;
}

// The 8-byte length and the JSON header: { view, header, dataStart, dataLen }.
function readHeader(bytes) {
  const size = bytes.length;
  if (size < 8) throw formatError(`file of ${size} bytes is too short for the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lo = view.getUint32(0, true);
  const hi = view.getUint32(4, true);
  if (hi !== 0 || lo > size - 8) {
    const n = hi * 2 ** 32 + lo;
    throw formatError(`header length ${n} exceeds the ${size - 8} bytes after the length field (truncated or not a safetensors file)`);
  }
  if (lo > MAX_HEADER) throw formatError(`header length ${lo} exceeds the ${MAX_HEADER}-byte limit`);
  if (lo < 2) throw formatError(`header length ${lo} is too short for a JSON object`);
  let text;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + lo));
  } catch {
    throw formatError('header is not valid UTF-8');
  }
  let header;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw formatError(`header is not valid JSON (${e.message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw formatError('header is not a JSON object');
  }
  return { view, header, dataStart: 8 + lo, dataLen: size - 8 - lo };
}

// The dtype of a header entry, checked: one this reader converts.
function checkedDtype(name, dtype) {
  if (typeof dtype !== 'string') throw formatError(`tensor '${name}' has no dtype`);
  if (!Object.prototype.hasOwnProperty.call(DTYPES, dtype)) {
    if (OTHER_DTYPES.has(dtype)) {
      throw formatError(`tensor '${name}' has dtype ${dtype}, which this reader does not convert ` +
        `(it reads F32, F64, F16, BF16 and the integer dtypes)`);
    }
    throw formatError(`tensor '${name}' has unknown dtype ${JSON.stringify(dtype)} (expected F32, F64, F16 or BF16 for weights)`);
  }
  return dtype;
}

// One tensor's header entry, checked against itself and the data's length:
// { name, dtype, shape, begin, end, n }.
function tensorEntry(name, info, dataLen) {
  if (info === null || typeof info !== 'object' || Array.isArray(info)) {
    throw formatError(`tensor '${name}' has no { dtype, shape, data_offsets } entry`);
  }
  const { shape, data_offsets: off } = info;
  const dtype = checkedDtype(name, info.dtype);
  if (!Array.isArray(shape) || !shape.every(isNonNegInt)) {
    throw formatError(`tensor '${name}' has an invalid shape ${JSON.stringify(shape)}`);
  }
  if (!Array.isArray(off) || off.length !== 2 || !off.every(isNonNegInt) || off[0] > off[1]) {
    throw formatError(`tensor '${name}' has invalid data_offsets ${JSON.stringify(off)}`);
  }
  if (off[1] > dataLen) {
    throw formatError(`tensor '${name}' data_offsets [${off[0]}, ${off[1]}] run past the ${dataLen} data bytes (truncated file?)`);
  }
  const width = DTYPES[dtype].size;
  let n = 1;
  for (const d of shape) {
    n *= d;
    if (n * width > dataLen) break; // cannot match; avoids huge products
  }
  if (n * width !== off[1] - off[0]) {
    throw formatError(`tensor '${name}' of shape [${shape.join(', ')}] and dtype ${dtype} needs ${n * width} bytes, ` +
      `its data_offsets [${off[0]}, ${off[1]}] give ${off[1] - off[0]}`);
  }
  return { name, dtype, shape, begin: off[0], end: off[1], n };
}

// The header's __metadata__ and tensor entries, in the header's order.
function headerEntries(header, dataLen) {
  let metadata = null;
  const entries = [];
  for (const name of Object.keys(header)) {
    const info = header[name];
    if (name !== '__metadata__') {
      entries.push(tensorEntry(name, info, dataLen));
      continue;
    }
    if (info === null || typeof info !== 'object' || Array.isArray(info) ||
        !Object.values(info).every((v) => typeof v === 'string')) {
      throw formatError('__metadata__ must be an object of strings');
    }
    metadata = info;
  }
  return { metadata, entries };
}

// The tensors must tile the data exactly: no overlap, no gap, nothing after.
function checkTiling(entries, dataLen) {
  const sorted = entries.slice().sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  let prev = null;
  for (const e of sorted) {
    if (e.begin < pos) {
      throw formatError(`tensors '${prev.name}' [${prev.begin}, ${prev.end}] and '${e.name}' [${e.begin}, ${e.end}] overlap`);
    }
    if (e.begin > pos) throw formatError(`${e.begin - pos} unused data bytes before tensor '${e.name}' (offset ${pos})`);
    pos = e.end;
    prev = e;
  }
  if (pos !== dataLen) {
    throw formatError(`the tensors cover ${pos} data bytes but the file holds ${dataLen}`);
  }
}

// One tensor's values, converted from little-endian bytes into its typed array.
function tensorData(view, at, dtype, n) {
  const { size, Array: Out, get } = DTYPES[dtype];
  const data = new Out(n);
  for (let i = 0; i < n; i++) data[i] = get(view, at + size * i);
  return data;
}

/**
 * Decodes safetensors bytes into { tensors, metadata }: tensors maps names to
 * { shape, dtype, data }, data a Float64Array for F64, a Float32Array for
 * F32, F16 and BF16, and an integer typed array for the integer dtypes and
 * BOOL; metadata is the __metadata__ object or null. Every corruption is E_FORMAT.
 */
export function readSafetensors(bytes) {
  if (bytes instanceof ArrayBuffer) bytes = new Uint8Array(bytes);
  if (!(bytes instanceof Uint8Array)) {
    throw new RnnlabError('E_TYPE', `decodeSafetensors: expected a Uint8Array or ArrayBuffer, given ${bytes === null ? 'null' : typeof bytes}`);
  }
  const { view, header, dataStart, dataLen } = readHeader(bytes);
  const { metadata, entries } = headerEntries(header, dataLen);
  checkTiling(entries, dataLen);
  const tensors = {};
  for (const { name, dtype, shape, begin, n } of entries) {
    setOwn(tensors, name, { shape: shape.slice(), dtype, data: tensorData(view, dataStart + begin, dtype, n) });
  }
  return { tensors, metadata };
}

/** Decodes safetensors bytes into { name: { shape, dtype, data } }. */
export function decodeSafetensors(bytes) {
  return readSafetensors(bytes).tensors;
}
