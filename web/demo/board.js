// The board: everything the page draws for one run. It keeps bounded stores
// of what the worker reports and redraws at most once per animation frame.

import { createChart, DecimatedSeries, joinTables, CELL_COLORS, CELL_SHAPES, MUTED, INK, fade, formatValue } from './plots.js';
import { PlotTexts } from './a11y.js';
import { GateView } from './gates.js';
import { ComparisonTable } from './table.js';
import { $, setText } from './dom.js';

const GATE_DASHES = [undefined, [6, 3], [2, 3], [10, 3, 2, 3]];
const LAYER_ALPHA = [1, 0.6, 0.38];

const MIN_INTERVAL = 200; // ms between redraws of one part
const FRAME_BUDGET = 6;    // ms of drawing per animation frame

const BASELINE_NOTES = {
  adding: 'on the adding problem, always answering 1 (MSE 1/6)',
  copy: 'here, a uniform guess among the 8 symbols (log 8 ≈ 2.08)',
  sines: 'here, always answering 0, whose error is the signal\'s variance',
  chars: 'here, a uniform guess over the alphabet (log of its size)',
};
// Replaces an element's paragraphs with these texts.
function setParagraphs(element, texts) {
  element.replaceChildren(...texts.map((text) => {
    const p = document.createElement('p');
    p.textContent = text;
    return p;
  }));
}

const CHART_PARTS = new Set(['loss', 'grad', 'flow', 'spectral', 'prediction']);
const CANVAS_PARTS = new Set([...CHART_PARTS, 'gates']);

export class Board {
  constructor() {
    this.charts = {};
    this.cells = [];
    this.totalSteps = 0;
    this.frame = 0;
    this.timer = 0;
    this.dirty = new Set();
    this.lastDrawn = {};
    this.gates = new GateView(() => this.request('gates', 'prediction'));
    this.table = new ComparisonTable();
    this.plotData = {};
    this.texts = new PlotTexts(this);
    this.resizeObserver = new ResizeObserver((entries) => {
      for (const entry of entries) this.pendingResize.set(entry.target, entry.contentRect.width);
      this.request('resize');
    });
    this.pendingResize = new Map();
    for (const id of ['plot-loss', 'plot-flow', 'plot-grad', 'plot-spectral', 'plot-prediction']) {
      this.resizeObserver.observe($(id));
    }
  }

  /** A new run: new stores, charts shaped for its cells and task. */
  reset(built, hyper) {
    if (this.task) {
      this.table.archive({ task: this.task, settings: this.settings, hyper: this.hyper, cells: this.cells, totalSteps: this.totalSteps });
    }
    this.task = built.task;
    this.settings = built.settings;
    this.hyper = hyper;
    this.cells = built.cells.map((c, k) => ({
      ...c, color: CELL_COLORS[c.cell], shape: CELL_SHAPES[c.cell], phase: k / built.cells.length, summary: null, val: null, reachedAt: null,
      flow: null, flowC: null, trace: null, prediction: null, spectral: null,
    }));
    this.totalSteps = 0;
    this.stepsPerSecond = null;
    const ids = this.cells.map((c) => c.id);
    this.lossStore = new DecimatedSeries(ids);
    this.gradStore = new DecimatedSeries(ids.flatMap((id) => [`${id}:before`, `${id}:after`]));
    this.valStore = new DecimatedSeries(ids, 300);
    this.spectralKeys = this.cells.flatMap((c) => spectralNames(c).map((n) => `${c.id}:${n.key}`));
    this.spectralStore = new DecimatedSeries(this.spectralKeys, 300);
    this.destroyCharts();
    this.gates.reset(this.cells);
    setText($('baseline-note'), BASELINE_NOTES[this.task.name]);
    $('passage').hidden = this.task.name !== 'chars';
    $('passage').replaceChildren();
    this.table.reset(this.task, this.cells);
    this.plotData = {};
    this.texts.reset();
    this.request('loss', 'grad', 'flow', 'spectral', 'gates', 'prediction', 'table', 'stats');
  }

  setHyper(hyper) {
    this.hyper = hyper;
    this.request('grad');
  }

  // ---- incoming data ---------------------------------------------------------

  onProgress(message) {
    const byId = new Map(message.cells.map((c) => [c.id, c]));
    message.steps.forEach((step, i) => {
      const losses = this.cells.map((c) => byId.get(c.id)?.record.loss[i] ?? null);
      this.lossStore.push(step, losses);
      this.gradStore.push(step, this.cells.flatMap((c) => {
        const r = byId.get(c.id)?.record;
        return [r?.gradNorm[i] ?? null, r?.gradNormAfter[i] ?? null];
      }));
    });
    for (const c of this.cells) {
      const info = byId.get(c.id);
      if (!info) continue;
      c.summary = info;
      if (info.flow) c.flow = info.flow;
      if (info.flowC) c.flowC = info.flowC;
    }
    this.totalSteps = message.totalSteps;
    if (message.stepsPerSecond != null) this.stepsPerSecond = message.stepsPerSecond;
    this.request('loss', 'grad', 'flow', 'table', 'stats');
  }

  onDiag(message) {
    const byId = new Map(message.cells.map((c) => [c.id, c]));
    for (const c of this.cells) {
      const d = byId.get(c.id);
      if (!d) continue;
      c.val = d.val;
      c.reachedAt = d.reachedAt;
      c.spectral = d.spectral;
      c.trace = d.trace;
      c.prediction = d.prediction;
    }
    this.valStore.push(message.step, this.cells.map((c) => c.val?.loss ?? null));
    const values = [];
    for (const c of this.cells) {
      for (const n of spectralNames(c)) values.push(c.spectral?.[n.layer]?.[n.gate] ?? null);
    }
    this.spectralStore.push(message.step, values);
    this.request('loss', 'spectral', 'gates', 'prediction', 'table');
  }

  // ---- drawing ----------------------------------------------------------------

  request(...parts) {
    for (const p of parts) this.dirty.add(p);
    this.schedule(0);
  }

  schedule(delay) {
    if (this.frame || this.timer) return;
    if (delay <= 0) this.frame = requestAnimationFrame(() => this.draw());
    else this.timer = setTimeout(() => { this.timer = 0; this.schedule(0); }, delay);
  }

  // Draws the parts that changed, oldest first, each at most every
  // MIN_INTERVAL ms, and stops after FRAME_BUDGET ms so no frame runs long;
  // what is left waits for a later frame.
  draw() {
    this.frame = 0;
    const started = performance.now();
    if (this.dirty.has('resize')) {
      this.dirty.delete('resize');
      for (const [element, width] of this.pendingResize) {
        const chart = Object.values(this.charts).find((c) => c && c.plot.root.parentElement === element);
        chart?.resize(width);
      }
      this.pendingResize.clear();
    }
    if (!this.task) { this.dirty.clear(); return; }
    const since = (part) => started - (this.lastDrawn[part] ?? -Infinity);
    // Oldest first, but text after canvases: a text change before a chart
    // draw would make the chart's first canvas call wait for a layout.
    const textLast = (part) => (part === 'table' || part === 'stats' ? 1 : 0);
    const due = [...this.dirty]
      .filter((part) => since(part) >= MIN_INTERVAL)
      .sort((a, b) => textLast(a) - textLast(b) || since(b) - since(a));
    let painted = false;
    for (const part of due) {
      if (CANVAS_PARTS.has(part)) {
        // Canvas drawing is recorded now but rasterised when the frame is
        // committed, so its cost never shows in the time measured here:
        // at most one canvas part per frame.
        if (painted) continue;
        painted = true;
        if (CHART_PARTS.has(part) && !this.charts[part]) {
          // Creating a chart is the costliest thing here; its data follows
          // in a later frame.
          this.charts[part] = this.makeChart(part);
          this.texts.chartCreated(part, this.charts[part]);
          continue;
        }
      }
      this.dirty.delete(part);
      this.lastDrawn[part] = started;
      this.drawPart(part);
      if (performance.now() - started > FRAME_BUDGET) break;
    }
    if (this.dirty.size) {
      const wait = Math.min(...[...this.dirty].map((part) => (
        CHART_PARTS.has(part) && !this.charts[part] ? 0 : MIN_INTERVAL - since(part))));
      this.schedule(wait);
    }
  }

  drawPart(part) {
    switch (part) {
      case 'loss': this.drawLoss(); break;
      case 'grad': this.drawGrad(); break;
      case 'flow': this.drawFlow(); break;
      case 'spectral': this.drawSpectral(); break;
      case 'prediction': this.drawPrediction(); break;
      case 'gates': this.drawGates(); break;
      case 'table': this.table.update(this.cells, this.totalSteps); break;
      case 'stats': this.updateStats(); break;
      default: break;
    }
  }

  destroyCharts() {
    for (const chart of Object.values(this.charts)) chart?.destroy();
    this.charts = {};
    for (const id of ['plot-loss', 'plot-flow', 'plot-grad', 'plot-spectral', 'plot-prediction']) {
      $(id).closest('.card').dataset.points = '0';
    }
  }

  seriesName(c, what) {
    return this.cells.length > 1 || what ? `${c.label}${what ? ` ${what}` : ''}` : c.label;
  }

  makeChart(part) {
    switch (part) {
      case 'loss': return this.makeLossChart();
      case 'grad': return this.makeGradChart();
      case 'flow': return this.makeFlowChart();
      case 'spectral': return this.makeSpectralChart();
      default: return this.makePredictionChart();
    }
  }

  makeLossChart() {
    return createChart($('plot-loss'), {
      xLabel: 'step', yLabel: this.task.loss === 'mse' ? 'MSE' : 'cross-entropy', yLog: true,
      series: [
        ...this.cells.map((c) => ({ label: this.seriesName(c, 'train'), stroke: c.color, width: 1.25, shape: c.shape, phase: c.phase })),
        ...this.cells.map((c) => ({ label: this.seriesName(c, 'val'), stroke: c.color, dash: [6, 4], width: 2, spanGaps: true, shape: c.shape, phase: c.phase + 0.5 / this.cells.length })),
        { label: 'baseline', stroke: MUTED, dash: [2, 4], width: 1.25 },
      ],
    });
  }

  makeGradChart() {
    return createChart($('plot-grad'), {
      xLabel: 'step', yLabel: 'global gradient norm', yLog: true,
      series: [
        ...this.cells.flatMap((c) => [
          { label: this.seriesName(c, 'before'), stroke: c.color, width: 1.25, shape: c.shape, phase: c.phase },
          { label: this.seriesName(c, 'after'), stroke: fade(c.color, 0.45), width: 1 },
        ]),
        { label: 'τ', stroke: MUTED, dash: [5, 4], width: 1.5 },
      ],
    });
  }

  makeFlowChart() {
    const series = [];
    this.flowKeys = [];
    for (const c of this.cells) {
      for (let l = 0; l < c.layers; l++) {
        const layer = c.layers > 1 ? ` L${l + 1}` : '';
        series.push({ label: `${c.label}${layer} h`, stroke: fade(c.color, LAYER_ALPHA[l]), width: 2, shape: c.shape, phase: c.phase });
        this.flowKeys.push({ id: c.id, layer: l, kind: 'h' });
        if (c.cell === 'lstm') {
          series.push({ label: `${c.label}${layer} c`, stroke: fade(c.color, LAYER_ALPHA[l]), width: 2, dash: [2, 3], shape: c.shape, phase: c.phase + 0.15 });
          this.flowKeys.push({ id: c.id, layer: l, kind: 'c' });
        }
      }
    }
    return createChart($('plot-flow'), {
      xLabel: 'steps back from the end (T − t)', yLabel: 'g_t / g_T', yLog: true, series,
      onCursor: (index, plot) => this.flowReadout(index, plot),
    });
  }

  /** The read-out under the flow chart: every line's value at the lag under the pointer. */
  flowReadout(index, plot) {
    const lag = plot.data[0][index];
    if (lag == null) return;
    const parts = this.flowKeys.map(({ id, layer, kind }, k) => {
      const c = this.cells.find((cell) => cell.id === id);
      const name = `${c.label}${c.layers > 1 ? ` L${layer + 1}` : ''}`;
      const ratio = kind === 'c' ? '‖∂L/∂cₜ‖ / ‖∂L/∂c_T‖' : 'gₜ / g_T';
      const v = plot.data[k + 1][index];
      return `${name} ${ratio} = ${v == null ? '—' : formatValue(v)}`;
    });
    const out = $('flow-readout');
    setText(out, `${lag} step${lag === 1 ? '' : 's'} back: ${parts.join(' · ')}`);
    out.dataset.lag = String(lag);
  }

  makeSpectralChart() {
    const series = [];
    for (const c of this.cells) {
      for (const n of spectralNames(c)) {
        series.push({
          label: `${c.label}${c.layers > 1 ? ` L${n.layer + 1}` : ''} ${n.gate}`,
          stroke: fade(c.color, LAYER_ALPHA[n.layer]), width: 1.5, dash: GATE_DASHES[n.index % 4],
          shape: c.shape, phase: c.phase + n.index / 16,
        });
      }
    }
    return createChart($('plot-spectral'), { xLabel: 'step', yLabel: 'spectral norm ‖U‖₂', series });
  }

  makePredictionChart() {
    const task = this.task;
    const cells = this.cells;
    const title = $('prediction-title');
    const note = $('prediction-note');
    let options;
    if (task.name === 'adding') {
      title.textContent = 'Predicted sum against the true sum';
      setParagraphs(note, ['Each point is one of 64 validation sequences: the true sum of its two marked numbers across, the model\'s answer up. Perfect answers lie on the grey diagonal.', 'A model that only learnt the average answers about 1 whatever it is shown, a flat row of points — the baseline in the loss plot.']);
      options = {
        xLabel: 'true sum', yLabel: 'prediction',
        series: [
          { label: 'perfect', stroke: MUTED, dash: [4, 4], width: 1 },
          ...cells.map((c) => ({ label: c.label, stroke: c.color, paths: 'none', points: 6, shape: c.shape })),
        ],
      };
    } else if (task.name === 'sines') {
      title.textContent = `Forecast ${task.horizon} steps ahead, one sequence`;
      setParagraphs(note, [`The grey line is the noisy input the model reads; the black dashed line is the clean signal ${task.horizon} steps later, which it has to predict at every step.`, `Early steps are hard for every cell — it has not yet seen enough of the wave to know its frequencies; watch how quickly each one locks on.`]);
      options = {
        xLabel: 'time step t', yLabel: 'value',
        series: [
          { label: 'input', stroke: '#b7bdc6', width: 1 },
          { label: 'target', stroke: INK, dash: [5, 4], width: 1.5 },
          ...cells.map((c) => ({ label: c.label, stroke: c.color, width: 1.75, shape: c.shape, phase: c.phase })),
        ],
      };
    } else if (task.name === 'copy') {
      title.textContent = 'Recalled symbols, one sequence';
      setParagraphs(note, [`After a gap of ${task.gap} steps the model has to replay the ${task.patternLength} symbols it saw. Black squares are the symbols it should say, coloured dots what each cell says (its most likely symbol).`, `Chance is one in eight. The gap is what makes it hard: the gradient must cross it (see the flow plot).`]);
      options = {
        xLabel: 'time step t', yLabel: 'symbol', yRange: [-0.5, 7.5],
        series: [
          { label: 'target', stroke: INK, paths: 'none', points: 9 },
          ...cells.map((c) => ({ label: c.label, stroke: c.color, paths: 'none', points: 6, shape: c.shape })),
        ],
      };
    } else {
      title.textContent = 'Probability of the actual next character';
      setParagraphs(note, ['For the first validation passage, the probability each model gave to the character that really came next. Below, the passage itself, each character shaded by the probability that the cell shown in the gates card gave it: dark is confident and right.', 'Inside a word the next letter is often certain; after a space it is a guess. A model that has learnt spelling is dark mid-word.']);
      options = {
        xLabel: 'position in the passage', yLabel: 'p(next character)', yRange: [0, 1],
        series: cells.map((c) => ({ label: c.label, stroke: c.color, width: 1.75, paths: 'stepped', shape: c.shape, phase: c.phase })),
      };
    }
    return createChart($('plot-prediction'), options);
  }

  drawLoss() {
    const data = joinTables([this.lossStore.data(), this.valStore.data()]);
    const baseline = this.task.baseline;
    data.push(data[0].map(() => baseline));
    this.setChart('loss', data);
    const target = this.task.target;
    setText($('loss-aside'), `target: ${target.label}`);
  }

  drawGrad() {
    const data = this.gradStore.data();
    const tau = this.hyper.clip ? this.hyper.tau : null;
    data.push(data[0].map(() => tau));
    this.setChart('grad', data);
    const steps = this.totalSteps || 0;
    const parts = this.cells
      .filter((c) => c.summary)
      .map((c) => `${this.cells.length > 1 ? `${c.label} ` : ''}${steps ? Math.round((100 * c.summary.clippedCount) / steps) : 0}%`);
    setText($('grad-aside'), this.hyper.clip
      ? `steps clipped at τ = ${formatValue(this.hyper.tau)}: ${parts.join(' · ') || '—'}`
      : 'clipping off');
  }

  drawFlow() {
    let T = 0;
    for (const c of this.cells) T = Math.max(T, c.flow?.[0]?.length ?? 0);
    const x = Array.from({ length: T }, (_, lag) => lag);
    const columns = this.flowKeys.map(({ id, layer, kind }) => {
      const c = this.cells.find((cell) => cell.id === id);
      const row = (kind === 'c' ? c.flowC : c.flow)?.[layer];
      return x.map((lag) => {
        const v = row?.[lag];
        return v > 0 && Number.isFinite(v) ? v : null;
      });
    });
    this.setChart('flow', [x, ...columns]);
    const decays = this.cells
      .filter((c) => c.flow?.[0]?.length > 1)
      .map((c) => {
        const row = c.flow[0];
        const far = row[row.length - 1];
        return `${c.label} ${Number.isFinite(far) && far > 0 ? `×${formatRatio(far)}` : '—'}`;
      });
    setText($('flow-aside'), decays.length ? `at the farthest lag: ${decays.join(' · ')}` : '');
  }

  drawSpectral() {
    this.setChart('spectral', this.spectralStore.data());
  }

  drawPrediction() {
    const task = this.task;
    const cells = this.cells;
    const ready = cells.filter((c) => c.prediction);
    if (!ready.length) return;
    let data;
    if (task.name === 'adding') {
      const target = ready[0].prediction.target;
      const order = target.map((_, i) => i).sort((a, b) => target[a] - target[b]);
      const x = order.map((i) => target[i]);
      data = [x, x.slice(), ...cells.map((c) => order.map((i) => c.prediction?.output[i] ?? null))];
    } else if (task.name === 'sines') {
      const p = ready[0].prediction;
      const x = p.target.map((_, t) => t);
      data = [x, p.input, p.target, ...cells.map((c) => c.prediction?.output ?? x.map(() => null))];
    } else if (task.name === 'copy') {
      const p = ready[0].prediction;
      const x = p.target.map((_, t) => t);
      const start = p.target.findIndex((v) => v !== null);
      const from = Math.max(0, start - 1);
      data = [x.slice(from), p.target.slice(from), ...cells.map((c) => (c.prediction?.output ?? x.map(() => null)).slice(from))];
    } else {
      const p = ready[0].prediction;
      const x = p.probability.map((_, t) => t);
      data = [x, ...cells.map((c) => c.prediction?.probability ?? x.map(() => null))];
      this.drawPassage();
    }
    this.setChart('prediction', data);
  }

  // The passage with each character shaded by p(that character | before).
  drawPassage() {
    const cell = this.cells.find((c) => c.id === this.gates.cellId && c.prediction) ?? this.cells.find((c) => c.prediction);
    const passage = $('passage');
    const p = cell?.prediction;
    if (!p?.next) return;
    const chars = Array.from(p.next);
    if (passage.childElementCount !== chars.length) {
      passage.replaceChildren(...chars.map(() => document.createElement('span')));
    }
    chars.forEach((ch, t) => {
      const span = passage.children[t];
      setText(span, ch);
      const shade = Math.round(100 * (p.probability[t] ?? 0));
      span.className = `p${Math.min(9, Math.floor(shade / 10))}`;
      span.title = `${JSON.stringify(ch)}: p = ${(p.probability[t] ?? 0).toFixed(2)}`;
    });
  }

  setChart(name, data) {
    const chart = this.charts[name];
    if (!chart) return;
    this.plotData[name] = data;
    this.texts.mark(name);
    chart.setData(data);
    const card = chart.plot.root.closest('.card');
    const filled = data.slice(1).reduce((n, column) => n + column.filter((v) => v != null).length, 0);
    card.dataset.points = String(filled);
  }

  drawGates() {
    const drawn = this.gates.draw(this.cells, this.task.markers ?? []);
    $('card-gates').dataset.points = String(drawn);
    this.texts.mark('gates');
  }

  /** The speed figures in the top bar. */
  updateStats() {
    setText($('step-count'), (this.totalSteps || 0).toLocaleString('en-US'));
    setText($('steps-per-second'), this.stepsPerSecond != null
      ? Math.round(this.stepsPerSecond).toLocaleString('en-US') : '—');
    const ms = this.cells.map((c) => c.summary?.msPerStep).filter((v) => v != null);
    setText($('ms-per-step'), ms.length ? (ms.reduce((a, b) => a + b, 0) / ms.length).toFixed(2) : '—');
  }
}

function spectralNames(cell) {
  const gates = { rnn: ['h'], lstm: ['i', 'f', 'g', 'o'], gru: ['r', 'z', 'n'] }[cell.cell];
  const names = [];
  for (let layer = 0; layer < cell.layers; layer++) {
    gates.forEach((gate, index) => names.push({ layer, gate, index, key: `${layer}:${gate}` }));
  }
  return names;
}

function formatRatio(v) {
  if (v >= 0.01 && v < 1000) return v.toPrecision(2);
  return v.toExponential(0);
}
