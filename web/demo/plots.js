// uPlot charts for the page, and the bounded stores that feed them.

import uPlot from '../vendor/uPlot.esm.js';

export const CELL_COLORS = { rnn: '#c7621d', lstm: '#2d64ad', gru: '#1f8a63' };
export const INK = '#1c2330';
export const MUTED = '#8a93a0';
const GRID = '#eceef2';
const FONT = '12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
const LABEL_FONT = '600 12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';

/** A colour with alpha, for the lighter companion lines. */
export function fade(hex, alpha) {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

function axis(label, extra = {}) {
  return {
    label, labelFont: LABEL_FONT, font: FONT, stroke: MUTED, labelSize: 20, size: 44,
    grid: { stroke: GRID, width: 1 }, ticks: { stroke: GRID, width: 1, size: 4 },
    ...extra,
  };
}

// Labels for log axes: powers of ten only, and on a tall range only every
// second or third power, so the labels never crowd.
function logValues(u, splits) {
  const exponents = splits.map((v) => (v > 0 ? Math.log10(v) : NaN));
  const whole = exponents.filter((e) => Math.abs(e - Math.round(e)) < 1e-6);
  const every = Math.max(1, Math.ceil(whole.length / 6));
  return exponents.map((e) => {
    if (!(Math.abs(e - Math.round(e)) < 1e-6)) return '';
    const exponent = Math.round(e);
    if (exponent % every !== 0) return '';
    if (exponent >= -2 && exponent <= 3) return String(10 ** exponent).replace(/^0\./, '.');
    return `1e${exponent}`;
  });
}

// Log scales: with no data yet the range would span hundreds of decades, and
// uPlot's log ticks only work within about 1e-16 … 1e16 (beyond, its tick
// loop never ends). So: one decade when empty, and clamped to 1e-15 … 1e15;
// values outside are drawn off the edge of the plot.
const LOG_FLOOR = 1e-15;
const LOG_CEILING = 1e15;

function logRange(u, min, max) {
  if (!(min > 0) || !(max > 0) || !Number.isFinite(min) || !Number.isFinite(max)) return [0.1, 1];
  const lo = Math.min(Math.max(min, LOG_FLOOR), LOG_CEILING / 10);
  const hi = Math.max(Math.min(max, LOG_CEILING), lo * 10);
  const [a, b] = uPlot.rangeLog(lo, hi, 10, true);
  return [Math.max(a, LOG_FLOOR), Math.min(b, LOG_CEILING)];
}

/**
 * A chart in `container`. series: [{ label, stroke, dash, width, points, fill,
 * show }]. Options: xLabel, yLabel, xLog, yLog, height, xValues (tick labels),
 * yRange [lo, hi] fixed range, scatter (points only).
 */
export function createChart(container, options) {
  const { series, xLabel, yLabel, xLog = false, yLog = false, height = 220, yRange = null, xValues = null } = options;
  const width = Math.max(240, container.clientWidth || 400);
  const opts = {
    width, height,
    pxAlign: 0,
    legend: { live: false, markers: { width: 2 } },
    cursor: { drag: { x: false, y: false }, points: { size: 6 } },
    scales: {
      x: { time: false, ...(xLog ? { distr: 3 } : {}) },
      y: {
        ...(yLog ? { distr: 3, range: logRange } : {}),
        ...(yRange ? { range: () => yRange } : {}),
      },
    },
    axes: [
      axis(xLabel, xValues ? { values: xValues } : {}),
      axis(yLabel, { size: 50, ...(yLog ? { values: logValues } : {}) }),
    ],
    series: [
      { label: xLabel },
      ...series.map((s) => ({
        label: s.label,
        stroke: s.stroke,
        width: s.width ?? 1.5,
        dash: s.dash,
        fill: s.fill,
        show: s.show ?? true,
        spanGaps: s.spanGaps ?? false,
        points: s.points ? { show: true, size: s.points, stroke: s.stroke, fill: s.stroke, width: 1 } : { show: false },
        paths: s.paths === 'none' ? () => null : s.paths === 'stepped' ? uPlot.paths.stepped({ align: 1 }) : undefined,
        value: s.value ?? ((u, v) => (v == null ? '—' : formatValue(v))),
      })),
    ],
  };
  const empty = [[], ...series.map(() => [])];
  const plot = new uPlot(opts, empty, container);
  let points = 0;
  return {
    plot,
    setData(data) {
      points = data[0].length;
      // batch() draws now rather than in a microtask, so the caller's frame
      // budget sees the real cost.
      plot.batch(() => plot.setData(data, true));
    },
    get points() { return points; },
    resize(w) {
      const next = Math.max(240, Math.floor(w));
      if (next !== plot.width) plot.batch(() => plot.setSize({ width: next, height }));
    },
    destroy() { plot.destroy(); },
  };
}

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

/** Merges tables with different x into one aligned table (gaps where absent). */
export function joinTables(tables) {
  const live = tables.filter((t) => t[0].length);
  const widths = tables.map((t) => t.length - 1);
  if (!live.length) return [[], ...widths.flatMap((n) => Array.from({ length: n }, () => []))];
  const joined = live.length === 1 ? live[0] : uPlot.join(live);
  const x = joined[0];
  const out = [x];
  let column = 1;
  tables.forEach((t, i) => {
    for (let k = 0; k < widths[i]; k++) {
      out.push(t[0].length ? joined[column++] : new Array(x.length).fill(null));
    }
  });
  return out;
}
