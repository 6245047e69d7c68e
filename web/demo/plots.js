// uPlot charts for the page, and the bounded stores that feed them.

import uPlot from '../vendor/uPlot.esm.js';
import { shapePoints, keyboardLegend, syncLegend } from './shapes.js';
import { formatValue } from './series.js';

export { DecimatedSeries, formatValue } from './series.js';
export { CELL_SHAPES } from './shapes.js';

// Okabe and Ito's palette (vermillion, blue, bluish green), which stays apart
// for the common kinds of colour blindness; each cell has a marker shape too.
export const CELL_COLORS = { rnn: '#d55e00', lstm: '#0072b2', gru: '#009e73' };
export const INK = '#1c2330';
export const MUTED = '#8a93a0';
const AXIS_INK = '#5d6674'; // axis labels: text, so 4.5:1 on white
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
    label, labelFont: LABEL_FONT, font: FONT, stroke: AXIS_INK, labelSize: 20, size: 44,
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
 * show, shape, phase }] (shape: a marker drawn along the line, or at every
 * point when `points` is set). Options: xLabel, yLabel, xLog, yLog, height, xValues (tick labels),
 * yRange [lo, hi] fixed range, scatter (points only), onCursor(index, plot) when the pointer moves.
 */
// A series' points: none, every point (scatter) or a few markers on its line,
// in the series' shape when it has one.
function seriesPoints(s) {
  if (s.shape) return shapePoints({ shape: s.shape, stroke: s.stroke, size: s.points || 7, every: Boolean(s.points), phase: s.phase ?? 0 });
  if (s.points) return { show: true, size: s.points, stroke: s.stroke, fill: s.stroke, width: 1 };
  return { show: false };
}

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
        points: seriesPoints(s),
        paths: s.paths === 'none' ? () => null : s.paths === 'stepped' ? uPlot.paths.stepped({ align: 1 }) : undefined,
        value: s.value ?? ((u, v) => (v == null ? '—' : formatValue(v))),
      })),
    ],
  };
  const empty = [[], ...series.map(() => [])];
  opts.hooks = { setSeries: [(u) => syncLegend(u)] };
  // The point under the pointer: `onCursor(index into the data, plot)`.
  if (options.onCursor) opts.hooks.setCursor = [(u) => { if (u.cursor.idx != null) options.onCursor(u.cursor.idx, u); }];
  const plot = new uPlot(opts, empty, container);
  keyboardLegend(plot, series);
  let points = 0;
  return {
    plot,
    labels: [xLabel, ...series.map((s) => s.label)],
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
