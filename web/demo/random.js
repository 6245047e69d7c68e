// Seeded random numbers for the page's data. Every task draws from one of
// these, so the same seed gives the same batches in every browser.

// mulberry32: a 32-bit state, fast, and good enough for toy data.
export function createRandom(seed) {
  let state = (seed >>> 0) || 0x9e3779b9;
  let spareNormal = null;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
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
