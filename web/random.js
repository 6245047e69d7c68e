// mulberry32: a seeded generator of uniform numbers in [0, 1) with 32 bits of
// state. Fast and good enough for shuffling, sampling and toy data; the same
// seed gives the same sequence in every JavaScript engine.
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
