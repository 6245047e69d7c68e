// Shared helpers for tests that drive the engine: both builds, comparisons.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

export const WASM = {
  simd: new URL('../../web/dist/rnnlab-simd.wasm', import.meta.url),
  plain: new URL('../../web/dist/rnnlab.wasm', import.meta.url),
};

// Largest |a - b| / (atol + rtol·|b|) over two arrays: <= 1 means within tolerance.
export function worstError(actual, expected, { atol, rtol }) {
  assert.equal(actual.length, expected.length, 'lengths differ');
  let worst = 0;
  let at = -1;
  for (let i = 0; i < actual.length; i++) {
    const e = Math.abs(actual[i] - expected[i]) / (atol + rtol * Math.abs(expected[i]));
    if (!(e <= worst)) { worst = e; at = i; }
  }
  return { worst, at };
}

export function assertClose(actual, expected, tol, what) {
  const { worst, at } = worstError(actual, expected, tol);
  assert.ok(worst <= 1, `${what}: element ${at} is ${actual[at]}, expected ${expected[at]} (atol ${tol.atol}, rtol ${tol.rtol})`);
}

export function maxAbsDiff(a, b) {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export function readJson(url) {
  return JSON.parse(readFileSync(url, 'utf8'));
}
