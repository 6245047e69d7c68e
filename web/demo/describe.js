// What each plot shows now, in words and numbers, and its data as a table.
// Everything here reads the data the board last drew (board.plotData, which
// is what uPlot was given) or, for the gates, the trace it drew: the text
// alternative and the picture carry the same numbers. No DOM here.

import { formatValue } from './series.js';

const TABLE_ROWS = 60; // a long series is thinned to this many rows, the last one always kept

const count = (n) => n.toLocaleString('en-US');
const num = (v) => (v == null || !Number.isFinite(v) ? '—' : formatValue(v));

/** The last value in a column that is not null. */
export function lastValue(column) {
  for (let i = column.length - 1; i >= 0; i--) if (column[i] != null) return column[i];
  return null;
}

// "label value" for every series of a chart (its last plotted value).
function lastPoints(board, part, keep = () => true) {
  const data = board.plotData[part];
  const labels = board.charts[part]?.labels ?? board.plotLabels?.[part] ?? [];
  if (!data) return [];
  return data.slice(1).flatMap((column, k) => {
    const v = lastValue(column);
    return v == null || !keep(labels[k + 1]) ? [] : [`${labels[k + 1]} ${num(v)}`];
  });
}

const NOTHING_YET = 'No data yet: press Train or Step.';
const nothingYet = (board) => (board.totalSteps ? `After ${count(board.totalSteps)} steps, no finite value to plot yet.` : NOTHING_YET);

function describeLoss(board) {
  const points = lastPoints(board, 'loss');
  if (!points.length) return nothingYet(board);
  return `Loss after ${count(board.totalSteps)} steps, the last point of each line: ${points.join(', ')}. `
    + `Target: ${board.task.target.label}.`;
}

function describeGrad(board) {
  const points = lastPoints(board, 'grad', (label) => label !== 'τ');
  if (!points.length) return nothingYet(board);
  const steps = board.totalSteps;
  const clipped = board.cells.filter((c) => c.summary).map((c) => {
    const n = c.summary.clippedCount;
    return `${c.label} ${Math.round((100 * n) / steps)}% (${count(n)} of ${count(steps)})`;
  });
  const clip = board.hyper.clip
    ? ` Steps clipped at τ = ${formatValue(board.hyper.tau)}: ${clipped.join(', ')}.`
    : ' Clipping is off.';
  const skipped = board.cells.filter((c) => c.summary?.skippedCount).map((c) => `${c.label} ${count(c.summary.skippedCount)}`);
  return `Global gradient norm, the last point of each line (before and after clipping): ${points.join(', ')}.${clip}`
    + `${skipped.length ? ` Steps skipped as not finite: ${skipped.join(', ')}.` : ''}`;
}

function describeFlow(board) {
  const data = board.plotData.flow;
  const points = lastPoints(board, 'flow');
  if (!data || !points.length) return NOTHING_YET;
  const lag = data[0][data[0].length - 1];
  return `Gradient ratio g_t / g_T at the farthest lag, ${count(lag)} steps back: ${points.join(', ')}. `
    + 'Below 1 the gradient has shrunk on its way back; far below, it has vanished.';
}

function describeSpectral(board) {
  const points = lastPoints(board, 'spectral');
  if (!points.length) return NOTHING_YET;
  const x = board.plotData.spectral[0];
  return `Spectral norm of each recurrent block U at step ${count(x[x.length - 1])}: ${points.join(', ')}.`;
}

// Mean of a gate over every unit and step, and the share the worker counted saturated.
function describePanel(name, values, saturation) {
  let sum = 0;
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) { sum += v; lo = Math.min(lo, v); hi = Math.max(hi, v); }
  const mean = `${name} mean ${num(sum / values.length)}`;
  return saturation != null ? `${mean}, ${Math.round(100 * saturation)}% saturated` : `${mean}, from ${num(lo)} to ${num(hi)}`;
}

function describeGates(board) {
  const view = board.gates;
  const cell = board.cells.find((c) => c.id === view.cellId);
  if (!cell?.trace) return 'The gates appear after the first evaluation.';
  const { T, H } = cell.trace;
  const l = Math.min(view.layer, cell.trace.layers.length - 1);
  const layer = cell.trace.layers[l];
  const saturation = cell.trace.saturation[l] ?? {};
  const parts = view.panelNames(cell).filter(([name]) => layer[name])
    .map(([name, caption]) => describePanel(caption, layer[name], saturation[name]));
  return `${cell.label}, layer ${l + 1}, ${H} units over ${T} steps of one validation sequence: ${parts.join('; ')}.`;
}

export const SUMMARIES = {
  loss: describeLoss, grad: describeGrad, flow: describeFlow, spectral: describeSpectral, gates: describeGates,
  prediction: (board) => describePrediction(board),
};

// ---- the prediction card, per task ------------------------------------------------

const rms = (a, b) => Math.sqrt(a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0) / a.length);

function describePrediction(board) {
  const cells = board.cells.filter((c) => c.prediction);
  if (!cells.length) return 'The predictions appear after the first evaluation.';
  const per = (f) => cells.map((c) => `${c.label} ${f(c.prediction)}`).join(', ');
  const p = cells[0].prediction;
  switch (board.task.name) {
    case 'adding': {
      const mae = (q) => num(q.output.reduce((s, v, i) => s + Math.abs(v - q.target[i]), 0) / q.output.length);
      return `${p.target.length} validation sequences, true sums from ${num(Math.min(...p.target))} to ${num(Math.max(...p.target))}. Mean absolute error of the predicted sum: ${per(mae)}.`;
    }
    case 'sines': {
      const last = p.target.length - 1;
      return `One sequence of ${p.target.length} steps, forecast ${board.task.horizon} steps ahead. Root-mean-square error against the clean signal: ${per((q) => num(rms(q.output, q.target)))}. At the last step the target is ${num(p.target[last])}; predicted: ${per((q) => num(q.output[last]))}.`;
    }
    case 'copy': {
      const symbols = (list) => list.filter((v) => v != null).join(' ');
      const right = (q) => `${symbols(q.output)} (${q.output.filter((v, i) => v != null && v === q.target[i]).length} of ${q.target.filter((v) => v != null).length} right)`;
      return `Symbols to recall: ${symbols(p.target)}. Recalled: ${per(right)}.`;
    }
    default: {
      const mean = (q) => num(q.probability.reduce((s, v) => s + v, 0) / q.probability.length);
      return `Mean probability given to the actual next character over a ${p.probability.length}-character passage: ${per(mean)}.`;
    }
  }
}

// ---- tables -----------------------------------------------------------------------

/** Row indices of a series of `n` points, at most TABLE_ROWS of them, the last always included. */
export function thinned(n) {
  if (n <= TABLE_ROWS) return Array.from({ length: n }, (_, i) => i);
  const rows = Array.from({ length: TABLE_ROWS }, (_, k) => Math.round((k * (n - 1)) / (TABLE_ROWS - 1)));
  return [...new Set(rows)];
}

function chartTable(board, part) {
  const data = board.plotData[part];
  const labels = board.charts[part]?.labels;
  if (!data || !labels || !data[0].length) return null;
  const rows = thinned(data[0].length);
  return {
    columns: labels,
    rows: rows.map((i) => data.map((column, k) => (k === 0 ? String(column[i]) : num(column[i])))),
    note: rows.length < data[0].length ? `${rows.length} of the ${data[0].length} plotted points, evenly spaced, with the last.` : `All ${data[0].length} plotted points.`,
  };
}

function gatesTable(board) {
  const view = board.gates;
  const cell = board.cells.find((c) => c.id === view.cellId);
  if (!cell?.trace) return null;
  const { T, H } = cell.trace;
  const layer = cell.trace.layers[Math.min(view.layer, cell.trace.layers.length - 1)];
  const panels = view.panelNames(cell).filter(([name]) => layer[name]);
  const rows = Array.from({ length: T }, (_, t) => [String(t), ...panels.map(([name]) => {
    let sum = 0;
    for (let u = 0; u < H; u++) sum += layer[name][t * H + u];
    return num(sum / H);
  })]);
  return { columns: ['time step t', ...panels.map(([, caption]) => `${caption}, mean of ${H} units`)], rows, note: `${cell.label}: every time step of the sequence.` };
}

/** { columns, rows, note } for a part's data table, or null when it has no data yet. */
export function dataTable(board, part) {
  return part === 'gates' ? gatesTable(board) : chartTable(board, part);
}
