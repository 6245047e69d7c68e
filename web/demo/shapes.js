// Markers that tell the cells apart without colour: a circle for the RNN, a
// square for the LSTM, a triangle for the GRU, drawn on the plots' lines (a
// few per line) and before their names in legends and tables. Also makes a
// uPlot legend operable from the keyboard.

export const CELL_SHAPES = { rnn: 'circle', lstm: 'square', gru: 'triangle' };
export const SHAPE_GLYPHS = { circle: '●', square: '■', triangle: '▲' };
const MARKERS_PER_LINE = 7;

function addShape(path, shape, x, y, r) {
  if (shape === 'square') {
    path.moveTo(x - r, y - r);
    path.rect(x - r, y - r, 2 * r, 2 * r);
  } else if (shape === 'triangle') {
    const h = 1.2 * r;
    path.moveTo(x, y - h);
    path.lineTo(x + h, y + 0.8 * h);
    path.lineTo(x - h, y + 0.8 * h);
    path.closePath();
  } else {
    path.moveTo(x + r, y);
    path.arc(x, y, r, 0, 2 * Math.PI);
  }
}

// Indices of a few markers along a line, shifted by `phase` (0…1) so the
// markers of different cells do not sit on one another.
function markerIndices(y, i0, i1, phase) {
  const n = i1 - i0;
  if (n < 1) return [i0];
  const out = [];
  for (let k = 0; k < MARKERS_PER_LINE; k++) {
    const i = i0 + Math.round(((k + phase) / MARKERS_PER_LINE) * n);
    if (i <= i1 && y[i] != null) out.push(i);
  }
  return out;
}

/**
 * uPlot `points` options drawing `shape` at every point (`every`) or at a few
 * points along the line, offset by `phase`.
 */
export function shapePoints({ shape, stroke, size = 7, every = false, phase = 0 }) {
  return {
    show: true, size, stroke, fill: stroke, width: 1,
    filter: every ? null : (u, si) => markerIndices(u.data[si], 0, u.data[si].length - 1, phase),
    paths: (u, si, i0, i1, indices) => {
      const path = new Path2D();
      const ratio = window.devicePixelRatio || 1;
      const r = (size / 2) * ratio;
      const xs = u.data[0];
      const ys = u.data[si];
      const draw = (i) => {
        if (ys[i] == null || xs[i] == null) return;
        addShape(path, shape, u.valToPos(xs[i], 'x', true), u.valToPos(ys[i], u.series[si].scale, true), r);
      };
      if (indices) indices.forEach(draw);
      else for (let i = i0; i <= i1; i++) draw(i);
      const { left, top, width, height } = u.bbox;
      const clip = new Path2D();
      clip.rect(left - 2 * r, top - 2 * r, width + 4 * r, height + 4 * r);
      return { stroke: path, fill: path, clip, flags: 0 };
    },
  };
}

/**
 * The legend of a uPlot chart, operable from the keyboard: each series name
 * becomes a toggle button (uPlot's own click handler does the toggling), and
 * series with a shape show it before their name.
 */
export function keyboardLegend(plot, series) {
  const rows = plot.root.querySelectorAll('.u-legend tr.u-series');
  rows.forEach((row, k) => {
    const s = series[k - (rows.length - series.length)];
    const th = row.querySelector('th');
    if (!s || !th) return;
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'legend-toggle';
    button.setAttribute('aria-pressed', 'true');
    button.title = 'Show or hide this line';
    if (s.shape) {
      button.classList.add('shaped'); // the glyph stands for uPlot's marker
      const glyph = document.createElement('span');
      glyph.className = 'shape';
      glyph.setAttribute('aria-hidden', 'true');
      glyph.textContent = SHAPE_GLYPHS[s.shape];
      glyph.style.color = s.stroke;
      button.append(glyph);
    }
    button.append(...[...th.childNodes]);
    th.append(button);
  });
}

/** Keeps the legend buttons' aria-pressed in step with the series shown (a uPlot setSeries hook). */
export function syncLegend(plot) {
  const rows = [...plot.root.querySelectorAll('.u-legend tr.u-series')];
  const offset = plot.series.length - rows.length;
  rows.forEach((row, k) => {
    row.querySelector('.legend-toggle')?.setAttribute('aria-pressed', String(plot.series[k + offset].show));
  });
}
