// Heatmaps of activations over time (x) and hidden units (y), drawn on a
// canvas: one pixel per (t, unit) scaled up without smoothing, so every cell
// of the picture is one number.

// Sequential map for values in [0, 1] (sigmoid gates): pale to deep blue-violet.
// style.css draws the legend bars with the same stops.
const SEQUENTIAL = [
  [0.0, [250, 248, 242]],
  [0.25, [200, 226, 222]],
  [0.5, [104, 180, 190]],
  [0.75, [52, 112, 168]],
  [1.0, [38, 40, 110]],
];
// Diverging map for signed values (cell state, hidden state): blue, white, red.
const DIVERGING = [
  [0.0, [44, 94, 168]],
  [0.5, [248, 247, 244]],
  [1.0, [190, 62, 48]],
];

function makeLookup(stops) {
  const table = new Uint8ClampedArray(256 * 3);
  for (let i = 0; i < 256; i++) {
    const v = i / 255;
    let k = 0;
    while (k < stops.length - 2 && v > stops[k + 1][0]) k++;
    const [v0, c0] = stops[k];
    const [v1, c1] = stops[k + 1];
    const f = (v - v0) / (v1 - v0);
    for (let ch = 0; ch < 3; ch++) table[3 * i + ch] = c0[ch] + f * (c1[ch] - c0[ch]);
  }
  return table;
}

const LOOKUPS = { sequential: makeLookup(SEQUENTIAL), diverging: makeLookup(DIVERGING) };

// One small canvas reused for every map: creating canvases and contexts per
// draw is what made this slow.
const scratch = { canvas: null, context: null, image: null };

function scratchImage(T, H) {
  if (!scratch.canvas) {
    scratch.canvas = document.createElement('canvas');
    scratch.context = scratch.canvas.getContext('2d');
  }
  if (scratch.canvas.width < T || scratch.canvas.height < H) {
    scratch.canvas.width = Math.max(T, scratch.canvas.width);
    scratch.canvas.height = Math.max(H, scratch.canvas.height);
  }
  if (!scratch.image || scratch.image.width !== T || scratch.image.height !== H) scratch.image = new ImageData(T, H);
  return scratch.image;
}

/**
 * Draws values [T, H] (batch of one, time-major rows of H units) onto a canvas
 * sized to its CSS box. `range` is [lo, hi]; `kind` 'sequential' or 'diverging'.
 * `markers` are time steps to flag with a tick above the map; `size` the
 * canvas's CSS { width, height }, when known.
 */
export function drawHeatmap(canvas, values, T, H, { range, kind = 'sequential', markers = [], size }) {
  const lookup = LOOKUPS[kind];
  const [lo, hi] = range;
  const scale = hi > lo ? 255 / (hi - lo) : 0;
  const image = scratchImage(T, H);
  const pixels = image.data;
  for (let t = 0; t < T; t++) {
    for (let u = 0; u < H; u++) {
      const v = values[t * H + u];
      const index = Number.isFinite(v) ? Math.max(0, Math.min(255, Math.round((v - lo) * scale))) : 0;
      const p = 4 * (u * T + t);
      pixels[p] = lookup[3 * index];
      pixels[p + 1] = lookup[3 * index + 1];
      pixels[p + 2] = lookup[3 * index + 2];
      pixels[p + 3] = 255;
    }
  }
  // `size` is the canvas's CSS box as measured by a ResizeObserver; reading
  // clientWidth here would force a layout in the middle of the frame.
  const ratio = window.devicePixelRatio || 1;
  const box = size ?? { width: canvas.clientWidth, height: canvas.clientHeight };
  const width = Math.max(1, Math.round(box.width * ratio));
  const height = Math.max(1, Math.round(box.height * ratio));
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  scratch.context.putImageData(image, 0, 0);
  const ctx = canvas.getContext('2d');
  ctx.imageSmoothingEnabled = false;
  const top = markers.length ? Math.round(6 * ratio) : 0;
  ctx.clearRect(0, 0, width, height);
  ctx.drawImage(scratch.canvas, 0, 0, T, H, 0, top, width, height - top);
  if (markers.length) {
    ctx.fillStyle = '#b8432f';
    for (const t of markers) {
      const x = ((t + 0.5) / T) * width;
      ctx.beginPath();
      ctx.moveTo(x - 4 * ratio, 0);
      ctx.lineTo(x + 4 * ratio, 0);
      ctx.lineTo(x, top);
      ctx.closePath();
      ctx.fill();
    }
  }
}

/** Largest absolute value, for a symmetric diverging range. */
export function absMax(values) {
  let m = 0;
  for (const v of values) if (Number.isFinite(v)) m = Math.max(m, Math.abs(v));
  return m || 1;
}
