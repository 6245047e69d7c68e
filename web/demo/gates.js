// The gates card: heatmaps of one example's gate activations and states for
// the chosen cell and layer, plus the tabs and layer picker that choose them.

import { drawHeatmap, absMax } from './heatmap.js';
import { formatValue } from './plots.js';
import { $, setText } from './dom.js';

// [name in the trace, caption, colour map] per cell type.
const PANELS = {
  lstm: [
    ['i', 'input gate i', 'sequential'], ['f', 'forget gate f', 'sequential'],
    ['o', 'output gate o', 'sequential'], ['c', 'cell state c', 'diverging'],
  ],
  gru: [['r', 'reset gate r', 'sequential'], ['z', 'update gate z', 'sequential'], ['h', 'hidden state h', 'diverging']],
  rnn: [['h', 'hidden state h', 'diverging']],
};

// What the read-out lists for one (step, unit), in the equations' order.
const READOUT = { lstm: ['i', 'f', 'g', 'o', 'c', 'h'], gru: ['r', 'z', 'n', 'h'], rnn: ['h'] };
const ARROWS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };

export class GateView {
  /** `onChange(cellId)` runs when the user picks another cell or layer. */
  constructor(onChange) {
    this.onChange = onChange;
    this.cellId = null;
    this.layer = 0;
    this.panels = null;
    this.shown = null; // { cell, layer } whose trace the panels show
    this.at = { t: 0, unit: 0 }; // the step and unit the read-out names
    // Each canvas's CSS size, so drawing never has to ask for it (which
    // would force a layout in the middle of a frame).
    this.sizes = new WeakMap();
    this.observer = new ResizeObserver((entries) => {
      for (const entry of entries) {
        this.sizes.set(entry.target, { width: entry.contentRect.width, height: entry.contentRect.height });
      }
      this.onChange(this.cellId);
    });
    $('gate-layer').addEventListener('change', (event) => {
      this.layer = Number(event.target.value);
      this.onChange(this.cellId);
    });
  }

  /** New cells: tabs for them (the LSTM first shown), a layer picker. */
  reset(cells) {
    const tabs = $('gate-cell');
    tabs.replaceChildren();
    this.cellId = (cells.find((c) => c.cell === 'lstm') ?? cells[0])?.id ?? null;
    if (cells.length > 1) {
      for (const c of cells) {
        const label = document.createElement('label');
        const input = document.createElement('input');
        input.type = 'radio';
        input.name = 'gate-cell';
        input.value = c.id;
        input.checked = c.id === this.cellId;
        input.addEventListener('change', () => { this.cellId = c.id; this.onChange(c.id); });
        const span = document.createElement('span');
        span.textContent = c.label;
        label.append(input, span);
        tabs.append(label);
      }
    }
    tabs.hidden = cells.length < 2;
    const layers = Math.max(...cells.map((c) => c.layers), 1);
    $('gate-layer').replaceChildren(...Array.from({ length: layers }, (_, l) => new Option(`${l + 1}`, `${l}`)));
    this.layer = 0;
    $('gate-layer-field').hidden = layers < 2;
    this.dropPanels();
  }

  /** Draws the chosen cell's trace; `markers` are time steps to flag. Returns the values drawn. */
  draw(cells, markers) {
    const container = $('heatmaps');
    const cell = cells.find((c) => c.id === this.cellId);
    if (!cell?.trace) {
      if (!container.querySelector('.empty')) {
        const empty = document.createElement('p');
        empty.className = 'empty';
        empty.textContent = 'The gates appear after the first evaluation.';
        container.replaceChildren(empty);
        this.dropPanels();
      }
      return 0;
    }
    const panels = PANELS[cell.cell];
    const key = `${cell.id}:${this.layer}`;
    if (!this.panels || this.panels.key !== key) {
      this.dropPanels();
      this.panels = { key, list: panels.map(([name, caption, kind]) => this.makePanel(name, caption, kind)) };
      container.replaceChildren(...this.panels.list.map((p) => p.figure));
    }
    const { T, H } = cell.trace;
    const l = Math.min(this.layer, cell.trace.layers.length - 1);
    const layer = cell.trace.layers[l];
    this.shown = { cell, layer: l };
    this.markerTop = markers.length ? 6 : 0; // heatmap.js draws the ticks in the top 6 px
    const saturation = cell.trace.saturation[l] ?? {};
    let drawn = 0;
    panels.forEach(([name, , kind], k) => {
      const values = layer[name];
      const panel = this.panels.list[k];
      const size = this.sizes.get(panel.canvas);
      if (!values || !size) return; // not laid out yet: the observer asks again
      const m = kind === 'sequential' ? 1 : absMax(values);
      const range = kind === 'sequential' ? [0, 1] : [-m, m];
      drawHeatmap(panel.canvas, values, T, H, { range, kind, markers, size });
      if (kind === 'sequential') {
        setText(panel.detail, saturation[name] != null ? `${Math.round(100 * saturation[name])}% saturated` : '');
        setText(panel.low, '0');
        setText(panel.high, '1');
      } else {
        setText(panel.detail, `|max| ${formatValue(m)}`);
        setText(panel.low, formatValue(-m));
        setText(panel.high, formatValue(m));
      }
      drawn += values.length;
    });
    if (this.readoutActive) this.showReadout();
    return drawn;
  }

  /** The step and unit under a pointer at (x, y) in a canvas's CSS box. */
  cellAt(canvas, x, y) {
    const { T, H } = this.shown.cell.trace;
    const size = this.sizes.get(canvas) ?? { width: canvas.clientWidth, height: canvas.clientHeight };
    const top = this.markerTop ?? 0;
    const t = Math.floor((x / size.width) * T);
    const unit = Math.floor(((y - top) / Math.max(1, size.height - top)) * H);
    return { t: Math.max(0, Math.min(T - 1, t)), unit: Math.max(0, Math.min(H - 1, unit)) };
  }

  /** Writes the values of every gate and state at this.at into the read-out. */
  showReadout() {
    const out = $('gate-readout');
    if (!this.shown) return;
    const { cell, layer } = this.shown;
    const { T, H } = cell.trace;
    const t = Math.min(this.at.t, T - 1);
    const unit = Math.min(this.at.unit, H - 1);
    const values = cell.trace.layers[layer];
    const parts = READOUT[cell.cell].filter((name) => values[name])
      .map((name) => `${name} = ${formatValue(values[name][t * H + unit])}`);
    const where = `${cell.label}${cell.trace.layers.length > 1 ? ` layer ${layer + 1}` : ''}, step t = ${t}, unit ${unit}`;
    setText(out, `${where}: ${parts.join(', ')}`);
    out.dataset.t = String(t);
    out.dataset.unit = String(unit);
    this.readoutActive = true;
  }

  /** Pointer and arrow keys on a heatmap move the read-out's (step, unit). */
  listen(canvas) {
    canvas.addEventListener('pointermove', (event) => {
      if (!this.shown) return;
      this.at = this.cellAt(canvas, event.offsetX, event.offsetY);
      this.showReadout();
    });
    canvas.addEventListener('focus', () => this.showReadout());
    canvas.addEventListener('keydown', (event) => {
      const move = ARROWS[event.key];
      if (!move || !this.shown) return;
      event.preventDefault();
      const { T, H } = this.shown.cell.trace;
      const step = event.shiftKey ? 10 : 1;
      this.at = {
        t: Math.max(0, Math.min(T - 1, this.at.t + move[0] * step)),
        unit: Math.max(0, Math.min(H - 1, this.at.unit + move[1] * step)),
      };
      this.showReadout();
    });
  }

  /** [name, caption, colour map] of the panels drawn for a cell. */
  panelNames(cell) {
    return PANELS[cell.cell];
  }

  dropPanels() {
    for (const panel of this.panels?.list ?? []) this.observer.unobserve(panel.canvas);
    this.panels = null;
  }

  makePanel(name, caption, kind) {
    const figure = document.createElement('figure');
    figure.className = 'heatmap';
    const figcaption = document.createElement('figcaption');
    const title = document.createElement('b');
    title.textContent = caption;
    const detail = document.createElement('span');
    figcaption.append(title, detail);
    const canvas = document.createElement('canvas');
    canvas.setAttribute('role', 'img');
    canvas.setAttribute('aria-label', `${caption}: time across, hidden units down. Arrow keys move along steps and units; the values are read out below the maps.`);
    canvas.setAttribute('aria-describedby', 'gate-readout');
    canvas.tabIndex = 0;
    this.listen(canvas);
    const scale = document.createElement('div');
    scale.className = 'scale';
    const low = document.createElement('span');
    const bar = document.createElement('span');
    bar.className = `bar ${kind}`;
    const high = document.createElement('span');
    scale.append(low, bar, high);
    figure.append(figcaption, canvas, scale);
    this.observer.observe(canvas);
    return { figure, canvas, detail, low, high, name };
  }
}
