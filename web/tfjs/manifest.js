// TensorFlow.js weight manifests: { name, shape, dtype } entries over one
// concatenated little-endian buffer. Every shape and the total size are
// checked against the bytes given before any tensor is made.

import { RnnlabError, describe } from '../errors.js';

const BYTES = { float32: 4, int32: 4, bool: 1, complex64: 8, string: NaN };

const fail = (message) => {
  throw new RnnlabError('E_FORMAT', `loadTFJS: ${message}`);
};

// The weight data as one Uint8Array (an ArrayBuffer, a typed array, or a list of them: the shards in order).
export function weightBytes(weightData) {
  const asBytes = (d) => (d instanceof ArrayBuffer ? new Uint8Array(d)
    : ArrayBuffer.isView(d) ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength) : null);
  const parts = Array.isArray(weightData) ? weightData.map(asBytes) : [asBytes(weightData)];
  if (parts.some((p) => p === null)) {
    throw new RnnlabError('E_TYPE', `loadTFJS: weightData must be an ArrayBuffer, a Uint8Array or a list of them, given ${describe(weightData)}`);
  }
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

function checkSpec(spec, k) {
  if (spec === null || typeof spec !== 'object') fail(`weightsManifest entry ${k} must be an object { name, shape, dtype }, given ${describe(spec)}`);
  const { name, shape, dtype } = spec;
  if (typeof name !== 'string') fail(`weightsManifest entry ${k} has no name`);
  if (spec.quantization) fail(`weight '${name}' is quantized (${describe(spec.quantization.dtype)}), which rnnlab cannot read`);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`weight '${name}' has a shape ${JSON.stringify(shape)}, expected non-negative integers`);
  const size = BYTES[dtype];
  if (!(size > 0)) fail(`weight '${name}' has dtype ${describe(dtype)}, expected float32`);
  let n = 1;
  for (const d of shape) {
    n *= d;
    if (!Number.isSafeInteger(n)) fail(`weight '${name}' has a shape [${shape}] beyond any file`);
  }
  return { name, shape, dtype, n, bytes: n * size };
}

/** The manifest's weights as { name: { shape, dtype, data } } (float32 data a Float32Array), read from `bytes`. */
export function readWeights(manifest, bytes) {
  if (!Array.isArray(manifest)) fail(`weightsManifest must be a list of { paths, weights }, given ${describe(manifest)}`);
  const specs = [];
  manifest.forEach((group, g) => {
    if (!group || !Array.isArray(group.weights)) fail(`weightsManifest group ${g} has no weights list`);
    group.weights.forEach((s) => specs.push(checkSpec(s, specs.length)));
  });
  const total = specs.reduce((n, s) => n + s.bytes, 0);
  if (total !== bytes.length) fail(`the manifest's weights take ${total} bytes, the weight data has ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Map();
  let at = 0;
  for (const s of specs) {
    if (out.has(s.name)) fail(`weight '${s.name}' appears twice in the manifest`);
    const data = s.dtype === 'float32' ? new Float32Array(s.n) : null;
    if (data) for (let i = 0; i < s.n; i++) data[i] = view.getFloat32(at + 4 * i, true);
    out.set(s.name, { shape: s.shape, dtype: s.dtype, data });
    at += s.bytes;
  }
  return out;
}
