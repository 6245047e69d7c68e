// Seeded random numbers for the page's data. Every task draws from one of
// these, so the same seed gives the same batches in every browser.

import { mulberry32 } from '../random.js';

export function createRandom(seed) {
  const next = mulberry32((seed >>> 0) || 0x9e3779b9);
  let spareNormal = null;
  return {
    /** Uniform in [0, 1). */
    next,
    /** Uniform in [lo, hi). */
    uniform: (lo, hi) => lo + (hi - lo) * next(),
    /** Integer in [0, n). */
    int: (n) => Math.floor(next() * n),
    /** Standard normal (Box–Muller, one value kept for the next call). */
    normal() {
      if (spareNormal !== null) { const v = spareNormal; spareNormal = null; return v; }
      const u = 1 - next();
      const v = next();
      const r = Math.sqrt(-2 * Math.log(u));
      spareNormal = r * Math.sin(2 * Math.PI * v);
      return r * Math.cos(2 * Math.PI * v);
    },
    /** One element of an array. */
    pick: (items) => items[Math.floor(next() * items.length)],
  };
}
