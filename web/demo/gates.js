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

export class GateView {
  /** `onChange(cellId)` runs when the user picks another cell or layer. */
  constructor(onChange) {
    this.onChange = onChange;
    this.cellId = null;
    this.layer = 0;
    this.panels = null;
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
    return drawn;
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
    canvas.setAttribute('aria-label', `${caption}: time across, hidden units down`);
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
