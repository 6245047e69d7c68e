// ONNX TensorProto -> numbers, every size checked against the bytes present
// before anything is allocated (a file's dims can claim anything).

import { RnnlabError } from '../errors.js';
import { DATA_TYPE, int64 } from './proto.js';

const TYPE_NAME = { 1: 'FLOAT', 2: 'UINT8', 3: 'INT8', 4: 'UINT16', 5: 'INT16', 6: 'INT32', 7: 'INT64', 8: 'STRING',
  9: 'BOOL', 10: 'FLOAT16', 11: 'DOUBLE', 12: 'UINT32', 13: 'UINT64', 16: 'BFLOAT16' };
export const typeName = (t) => TYPE_NAME[t] ?? `data type ${t}`;

// Per data type: bytes per value in raw_data, the repeated field, a reader.
const LAYOUTS = {
  [DATA_TYPE.FLOAT]: { size: 4, field: 'floatData', kind: 'float', read: (v, at) => v.getFloat32(at, true) },
  [DATA_TYPE.DOUBLE]: { size: 8, field: 'doubleData', kind: 'float', read: (v, at) => v.getFloat64(at, true) },
  [DATA_TYPE.INT32]: { size: 4, field: 'int32Data', kind: 'int', read: (v, at) => v.getInt32(at, true) },
  [DATA_TYPE.INT64]: { size: 8, field: 'int64Data', kind: 'int', read: (v, at) => safeNumber(v.getBigInt64(at, true)) },
};

function safeNumber(big) {
  const n = Number(big);
  return Number.isSafeInteger(n) ? n : NaN;
}

function fail(message) {
  throw new RnnlabError('E_FORMAT', message);
}

// The dims as numbers and their product, each a safe non-negative integer.
function checkedDims(t, what) {
  const dims = t.dims.map(int64);
  let n = 1;
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0) fail(`${what} has a dimension ${d}, expected a non-negative integer`);
    n *= d;
    if (!Number.isSafeInteger(n)) fail(`${what} has dims [${dims}], whose product is beyond any file`);
  }
  return { dims, n };
}

/**
 * A TensorProto's { dims, kind ('float' | 'int'), data }: a Float32Array for
 * FLOAT and DOUBLE, an array of numbers for INT32 and INT64 (NaN where an
 * int64 is beyond 2^53). `what` names the tensor in messages.
 */
export function readTensor(t, what) {
  const layout = LAYOUTS[t.dataType];
  if (!layout) fail(`${what} holds ${typeName(t.dataType)} values, expected FLOAT, DOUBLE, INT32 or INT64`);
  if (t.dataLocation === 1 || t.externalData?.length) fail(`${what} keeps its data in an external file, which rnnlab cannot read`);
  const { dims, n } = checkedDims(t, what);
  const raw = t.rawData;
  const out = layout.kind === 'float' ? new Float32Array(0) : [];
  if (raw && raw.length) {
    if (raw.length !== n * layout.size) fail(`${what} has dims [${dims}] (${n} values) but ${raw.length} bytes of raw data, expected ${n * layout.size}`);
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const data = layout.kind === 'float' ? new Float32Array(n) : new Array(n);
    for (let i = 0; i < n; i++) data[i] = layout.read(view, i * layout.size);
    return { dims, kind: layout.kind, data };
  }
  const values = t[layout.field] ?? out;
  if (values.length !== n) fail(`${what} has dims [${dims}] (${n} values) but holds ${values.length}`);
  const data = layout.kind === 'float' ? Float32Array.from(values) : Array.from(values, int64);
  return { dims, kind: layout.kind, data };
}
