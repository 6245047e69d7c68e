// Measuring the engine's memory from tests. Reaches the loaded engine through
// a model's internals (model._abi, the engine ABI).
import assert from 'node:assert/strict';
import { createModel } from '../../web/rnnlab.js';

let engine = null;

export async function getEngine() {
  if (!engine) {
    const m = await createModel({ cell: 'rnn', inputSize: 1, hiddenSize: 1, outputSize: 1 });
    engine = m._abi;
    m.dispose();
  }
  return engine;
}

// { bytes: wasm memory size, top: where a fresh 1 MB block lands }: a heap
// that leaks pushes `top` up long before the memory itself grows.
export function measure(e) {
  const probe = e.scratch(1 << 20);
  assert.notEqual(probe, 0, 'the 1 MB probe block was allocated');
  e.bytesFree(probe);
  return { bytes: e.memory.buffer.byteLength, top: probe >>> 0 };
}
