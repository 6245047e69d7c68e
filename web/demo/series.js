// The bounded stores behind the plots, and how the page writes a number.
// No DOM and no uPlot here: the tests replay the worker's messages through
// the same code to check what the page says against what it drew.

export function formatValue(v) {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 1e5) return v.toExponential(2);
  if (a >= 1000) return v.toFixed(0);
  if (a >= 1) return v.toFixed(3);
  if (a >= 1e-3) return v.toPrecision(3);
  return v.toExponential(2);
}

/**
 * Step-indexed columns kept under `max` points: values are averaged in
 * buckets of `stride` steps, and when the store fills up, neighbouring
 * buckets merge and the stride doubles. Nulls are skipped in the averages.
 */
export class DecimatedSeries {
  constructor(keys, max = 500) {
    this.keys = keys;
    this.max = max;
    this.stride = 1;
    this.x = [];
    this.columns = keys.map(() => []);
    this.open = null;
  }

  push(x, values) {
    const open = this.open ??= { n: 0, x: 0, sums: this.keys.map(() => 0), counts: this.keys.map(() => 0) };
    open.n++;
    open.x = x;
    values.forEach((v, k) => {
      if (v != null && Number.isFinite(v)) { open.sums[k] += v; open.counts[k]++; }
    });
    if (open.n >= this.stride) {
      this.closeBucket();
      if (this.x.length > this.max) this.compact();
    }
  }

  closeBucket() {
    const open = this.open;
    this.x.push(open.x);
    this.columns.forEach((column, k) => column.push(open.counts[k] ? open.sums[k] / open.counts[k] : null));
    this.open = null;
  }

  compact() {
    const half = (array, combine) => {
      const out = [];
      for (let i = 0; i + 1 < array.length; i += 2) out.push(combine(array[i], array[i + 1]));
      if (array.length % 2) out.push(array[array.length - 1]);
      return out;
    };
    this.x = half(this.x, (a, b) => b);
    this.columns = this.columns.map((column) => half(column, (a, b) => {
      if (a == null) return b;
      if (b == null) return a;
      return (a + b) / 2;
    }));
    this.stride *= 2;
  }

  /** [x, ...columns], with the partly filled bucket as a last point. */
  data() {
    if (!this.open) return [this.x, ...this.columns];
    const open = this.open;
    return [
      [...this.x, open.x],
      ...this.columns.map((column, k) => [...column, open.counts[k] ? open.sums[k] / open.counts[k] : null]),
    ];
  }

  get length() { return this.x.length + (this.open ? 1 : 0); }
}
