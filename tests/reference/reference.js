// reference.js — an independent float64 implementation of the math in
// SPEC.md, used by the tests to check the C engine. Written from SPEC.md
// alone: plain loops over small vectors, no performance tricks. Readability
// and obvious correctness are the only goals here.
//
// Exports: layout, run, spectralNorm, recurrentSpectralNorms, clipGradients,
// optimizerStep, and the helper gateCount.

// ===========================================================================
// Parameter layout
// ===========================================================================

/** Gate blocks per cell: RNN 1, GRU 3 (r, z, n), LSTM 4 (i, f, g, o). */
export function gateCount(cell) {
  if (cell === 'rnn') return 1;
  if (cell === 'gru') return 3;
  if (cell === 'lstm') return 4;
  throw new Error(`unknown cell '${cell}'`);
}

function hasBhn(config) {
  return config.cell === 'gru' && config.gruVariant === 'reset-after';
}

/**
 * The flat parameter vector: per layer W (G*H, X_l), U (G*H, H), b (G*H),
 * [bhn (H) for GRU reset-after]; then the head V (Y, H), c (Y).
 */
export function layout(config) {
  const { inputSize: X, hiddenSize: H, outputSize: Y } = config;
  const L = config.layers ?? 1;
  const D = config.bidirectional ? 2 : 1; // SPEC §11: each layer's forward, then its reverse direction
  const G = gateCount(config.cell);
  const tensors = [];
  let offset = 0;
  // unit: index into unpack's layers (layer l direction d is unit l*D + d)
  const add = (name, layer, kind, shape, unit = layer) => {
    const count = shape.reduce((a, s) => a * s, 1);
    tensors.push({ name, layer, kind, offset, count, shape, unit });
    offset += count;
  };
  for (let l = 0; l < L; l++) {
    const Xl = l === 0 ? X : D * H;
    for (let d = 0; d < D; d++) {
      const u = l * D + d, r = d ? 'r' : '';
      add(`W${l}${r}`, l, 'W', [G * H, Xl], u);
      add(`U${l}${r}`, l, 'U', [G * H, H], u);
      add(`b${l}${r}`, l, 'b', [G * H], u);
      if (hasBhn(config)) add(`bhn${l}${r}`, l, 'bhn', [H], u);
    }
  }
  add('V', L, 'V', [Y, D * H]);
  add('c', L, 'c', [Y]);
  return { total: offset, tensors };
}

/** Views (copies) of each tensor of the flat vector, keyed as {layers:[{W,U,b,bhn}], V, c}. */
function unpack(config, flat) {
  const lay = layout(config);
  const L = config.layers ?? 1;
  const out = { layers: Array.from({ length: L * (config.bidirectional ? 2 : 1) }, () => ({})), V: null, c: null };
  for (const t of lay.tensors) {
    const data = Float64Array.from({ length: t.count }, (_, i) => flat[t.offset + i]);
    if (t.layer === L) out[t.kind] = data;
    else out.layers[t.unit][t.kind] = data;
  }
  return out;
}

/** The inverse of unpack: tensors back into one flat Float64Array. */
function pack(config, parts) {
  const lay = layout(config);
  const L = config.layers ?? 1;
  const flat = new Float64Array(lay.total);
  for (const t of lay.tensors) {
    const data = t.layer === L ? parts[t.kind] : parts.layers[t.unit][t.kind];
    flat.set(data, t.offset);
  }
  return flat;
}

/** Zero-filled tensors of the same shapes as unpack gives. */
function zerosLike(parts) {
  const z = (a) => (a ? new Float64Array(a.length) : undefined);
  return {
    layers: parts.layers.map((p) => ({ W: z(p.W), U: z(p.U), b: z(p.b), bhn: z(p.bhn) })),
    V: z(parts.V),
    c: z(parts.c),
  };
}

// ===========================================================================
// Small vector helpers (row-major matrices, explicit sizes)
// ===========================================================================

const sigmoid = (a) => 1 / (1 + Math.exp(-a));

/** out[r] = Σ_j M[(row0 + r), j] v[j] for r < rows; M has `cols` columns. */
function matVec(M, cols, row0, rows, v) {
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = 0; j < cols; j++) s += M[(row0 + r) * cols + j] * v[j];
    out[r] = s;
  }
  return out;
}

/** out[j] += Σ_r M[(row0 + r), j] d[r]: the transposed product, accumulated. */
function matTVecAdd(out, M, cols, row0, rows, d) {
  for (let r = 0; r < rows; r++) {
    const dr = d[r];
    for (let j = 0; j < cols; j++) out[j] += M[(row0 + r) * cols + j] * dr;
  }
}

/** dM[(row0 + r), j] += d[r] v[j]: an outer product, accumulated. */
function outerAdd(dM, cols, row0, d, v) {
  for (let r = 0; r < d.length; r++) {
    for (let j = 0; j < cols; j++) dM[(row0 + r) * cols + j] += d[r] * v[j];
  }
}

const slice = (a, start, n) => Float64Array.from({ length: n }, (_, i) => a[start + i]);
const sumSquares = (v) => v.reduce((s, x) => s + x * x, 0);

/** v ⊙ mask[k] (SPEC §12: block k's dropout mask), or v without masks. */
const masked = (v, mask, k) => (mask ? v.map((e, j) => e * mask[k][j]) : v);

/** a_k = W_k (x ⊙ mx_k) + U_k (h ⊙ mh_k) + b_k for gate block k (H rows starting at k*H). */
function blockPreact(p, k, H, Xl, x, h, dims) {
  const wx = matVec(p.W, Xl, k * H, H, masked(x, dims.mx, k));
  const uh = matVec(p.U, H, k * H, H, masked(h, dims.mh, k));
  return wx.map((v, j) => v + uh[j] + p.b[k * H + j]);
}

// ===========================================================================
// Cells: one step forward and its backward, for one sequence of the batch.
// A cache holds what backward needs; `gates` are the post-activation values.
// ===========================================================================

function rnnForward(p, dims, x, h, activation) {
  const { H, Xl } = dims;
  // a = W x + U h + b
  const a = blockPreact(p, 0, H, Xl, x, h, dims);
  // h' = tanh(a) or relu(a)
  const hNew = a.map((v) => (activation === 'relu' ? Math.max(v, 0) : Math.tanh(v)));
  return { h: hNew, c: null, gates: hNew, preact: a, cache: { x, hPrev: h, a, hNew } };
}

function rnnBackward(p, dims, cache, dh, _dc, grads, activation) {
  const { x, hPrev, a, hNew } = cache;
  // da = dh ⊙ act'(a); relu'(0) is taken as 0
  const da = dh.map((d, j) =>
    activation === 'relu' ? (a[j] > 0 ? d : 0) : d * (1 - hNew[j] * hNew[j]));
  return affineBackward(p, dims, grads, [da], x, hPrev, [0]);
}

/**
 * Backward of a_k = W_k (x ⊙ mx_k) + U_k (h ⊙ mh_k) + b_k for the given
 * blocks: accumulates dW, dU, db and returns { dx, dhPrev } (dc is filled
 * in by the caller).
 */
function affineBackward(p, dims, grads, daBlocks, x, hPrev, blocks) {
  const { H, Xl } = dims;
  const dx = new Float64Array(Xl);
  const dhPrev = new Float64Array(H);
  blocks.forEach((k, i) => {
    const da = daBlocks[i];
    outerAdd(grads.W, Xl, k * H, da, masked(x, dims.mx, k));
    outerAdd(grads.U, H, k * H, da, masked(hPrev, dims.mh, k));
    for (let j = 0; j < H; j++) grads.b[k * H + j] += da[j];
    const dxk = new Float64Array(Xl), dhk = new Float64Array(H);
    matTVecAdd(dxk, p.W, Xl, k * H, H, da);
    matTVecAdd(dhk, p.U, H, k * H, H, da);
    masked(dxk, dims.mx, k).forEach((v, j) => { dx[j] += v; });
    masked(dhk, dims.mh, k).forEach((v, j) => { dhPrev[j] += v; });
  });
  return { dx, dhPrev, dcPrev: null };
}

function lstmForward(p, dims, x, h, c) {
  const { H, Xl } = dims;
  const [ai, af, ag, ao] = [0, 1, 2, 3].map((k) => blockPreact(p, k, H, Xl, x, h, dims));
  // i = σ(W_i x + U_i h + b_i)
  const i = ai.map(sigmoid);
  // f = σ(W_f x + U_f h + b_f)
  const f = af.map(sigmoid);
  // g = tanh(W_g x + U_g h + b_g)
  const g = ag.map(Math.tanh);
  // o = σ(W_o x + U_o h + b_o)
  const o = ao.map(sigmoid);
  // c' = f ⊙ c + i ⊙ g
  const cNew = f.map((fj, j) => fj * c[j] + i[j] * g[j]);
  // h' = o ⊙ tanh(c')
  const tc = cNew.map(Math.tanh);
  const hNew = o.map((oj, j) => oj * tc[j]);
  const gates = concat([i, f, g, o]);
  const preact = concat([ai, af, ag, ao]);
  return { h: hNew, c: cNew, gates, preact, cache: { x, hPrev: h, cPrev: c, i, f, g, o, tc } };
}

function lstmBackward(p, dims, cache, dh, dc, grads) {
  const { x, hPrev, cPrev, i, f, g, o, tc } = cache;
  // total dc' = dc (from later steps) + dh ⊙ o ⊙ (1 - tanh²(c'))
  const dcTotal = dc.map((d, j) => d + dh[j] * o[j] * (1 - tc[j] * tc[j]));
  // do = dh ⊙ tanh(c'), through σ'
  const dao = dh.map((d, j) => d * tc[j] * o[j] * (1 - o[j]));
  // di = dc' ⊙ g, through σ'
  const dai = dcTotal.map((d, j) => d * g[j] * i[j] * (1 - i[j]));
  // df = dc' ⊙ c, through σ'
  const daf = dcTotal.map((d, j) => d * cPrev[j] * f[j] * (1 - f[j]));
  // dg = dc' ⊙ i, through tanh'
  const dag = dcTotal.map((d, j) => d * i[j] * (1 - g[j] * g[j]));
  const out = affineBackward(p, dims, grads, [dai, daf, dag, dao], x, hPrev, [0, 1, 2, 3]);
  // dc = dc' ⊙ f
  out.dcPrev = dcTotal.map((d, j) => d * f[j]);
  out.dcTotal = dcTotal;
  return out;
}

function gruForward(p, dims, x, h, resetAfter) {
  const { H, Xl } = dims;
  const ar = blockPreact(p, 0, H, Xl, x, h, dims);
  const az = blockPreact(p, 1, H, Xl, x, h, dims);
  // r = σ(W_r x + U_r h + b_r)
  const r = ar.map(sigmoid);
  // z = σ(W_z x + U_z h + b_z)
  const z = az.map(sigmoid);
  // with dropout x ⊙ mx_n and h ⊙ mh_n inside n (z still mixes h itself)
  const wn = matVec(p.W, Xl, 2 * H, H, masked(x, dims.mx, 2));
  const hn = masked(h, dims.mh, 2);
  let an, q = null, rh = null;
  if (resetAfter) {
    // q = U_n h + b_hn;  n = tanh(W_n x + b_n + r ⊙ q)
    q = matVec(p.U, H, 2 * H, H, hn).map((v, j) => v + p.bhn[j]);
    an = wn.map((v, j) => v + p.b[2 * H + j] + r[j] * q[j]);
  } else {
    // n = tanh(W_n x + U_n (r ⊙ h) + b_n)
    rh = hn.map((v, j) => r[j] * v);
    const urh = matVec(p.U, H, 2 * H, H, rh);
    an = wn.map((v, j) => v + urh[j] + p.b[2 * H + j]);
  }
  const n = an.map(Math.tanh);
  // h' = (1 - z) ⊙ h + z ⊙ n
  const hNew = z.map((zj, j) => (1 - zj) * h[j] + zj * n[j]);
  const gates = concat([r, z, n]);
  const preact = concat([ar, az, an]);
  return { h: hNew, c: null, gates, preact, cache: { x, hPrev: h, r, z, n, q, rh } };
}

function gruBackward(p, dims, cache, dh, _dc, grads, resetAfter) {
  const { H, Xl } = dims;
  const { x, hPrev, r, z, n, q, rh } = cache;
  // h' = (1 - z) h + z n:  dn = dh ⊙ z, dz = dh ⊙ (n - h), dh_prev gets dh ⊙ (1 - z)
  const dan = dh.map((d, j) => d * z[j] * (1 - n[j] * n[j]));
  const daz = dh.map((d, j) => d * (n[j] - hPrev[j]) * z[j] * (1 - z[j]));
  // the W_n x + b_n part of n's preactivation
  outerAdd(grads.W, Xl, 2 * H, dan, masked(x, dims.mx, 2));
  for (let j = 0; j < H; j++) grads.b[2 * H + j] += dan[j];
  const dxn = new Float64Array(Xl);
  matTVecAdd(dxn, p.W, Xl, 2 * H, H, dan);
  const dx = masked(dxn, dims.mx, 2);
  const dhPrev = dh.map((d, j) => d * (1 - z[j]));
  const hn = masked(hPrev, dims.mh, 2), ones = new Float64Array(H).fill(1);
  const mhn = dims.mh ? dims.mh[2] : ones;
  let dr;
  if (resetAfter) {
    // n = tanh(… + r ⊙ q), q = U_n h + b_hn:  dr = dan ⊙ q, dq = dan ⊙ r
    dr = dan.map((d, j) => d * q[j]);
    const dq = dan.map((d, j) => d * r[j]);
    outerAdd(grads.U, H, 2 * H, dq, hn);
    for (let j = 0; j < H; j++) grads.bhn[j] += dq[j];
    const dhn = new Float64Array(H);
    matTVecAdd(dhn, p.U, H, 2 * H, H, dq);
    for (let j = 0; j < H; j++) dhPrev[j] += dhn[j] * mhn[j];
  } else {
    // n = tanh(U_n (r ⊙ h) + …):  d(r ⊙ h) = U_nᵀ dan, dr = d(r⊙h) ⊙ h
    outerAdd(grads.U, H, 2 * H, dan, rh);
    const drh = new Float64Array(H);
    matTVecAdd(drh, p.U, H, 2 * H, H, dan);
    dr = drh.map((d, j) => d * hn[j]);
    for (let j = 0; j < H; j++) dhPrev[j] += drh[j] * r[j] * mhn[j];
  }
  const dar = dr.map((d, j) => d * r[j] * (1 - r[j]));
  const gatesPart = affineBackward(p, dims, grads, [dar, daz], x, hPrev, [0, 1]);
  for (let j = 0; j < Xl; j++) dx[j] += gatesPart.dx[j];
  for (let j = 0; j < H; j++) dhPrev[j] += gatesPart.dhPrev[j];
  return { dx, dhPrev, dcPrev: null };
}

function concat(parts) {
  const out = new Float64Array(parts.reduce((s, a) => s + a.length, 0));
  let at = 0;
  for (const a of parts) { out.set(a, at); at += a.length; }
  return out;
}

/** The step functions of one cell type, with the config's options bound. */
function cellOps(config) {
  const act = config.activation ?? 'tanh';
  const resetAfter = config.gruVariant === 'reset-after';
  switch (config.cell) {
    case 'rnn': return {
      forward: (p, d, x, h) => rnnForward(p, d, x, h, act),
      backward: (p, d, cache, dh, dc, g) => rnnBackward(p, d, cache, dh, dc, g, act),
    };
    case 'lstm': return { forward: lstmForward, backward: lstmBackward };
    case 'gru': return {
      forward: (p, d, x, h) => gruForward(p, d, x, h, resetAfter),
      backward: (p, d, cache, dh, dc, g) => gruBackward(p, d, cache, dh, dc, g, resetAfter),
    };
    default: throw new Error(`unknown cell '${config.cell}'`);
  }
}

// ===========================================================================
// Head and losses
// ===========================================================================

/** Which (b, t) positions get the head and whether they count in the loss. */
function headPositions(config, batch) {
  const { B, T, mask } = batch;
  const counts = (b, t) => !mask || mask[b * T + t] !== 0;
  const positions = [];
  for (let b = 0; b < B; b++) {
    if ((config.output ?? 'sequence') === 'sequence') {
      for (let t = 0; t < T; t++) positions.push({ b, t, counted: counts(b, t), out: b * T + t });
    } else {
      // many-to-one: the last counted step; an empty sequence still gets an
      // output at T-1, but it does not count.
      let last = -1;
      for (let t = 0; t < T; t++) if (counts(b, t)) last = t;
      positions.push({ b, t: last < 0 ? T - 1 : last, counted: last >= 0, out: b });
    }
  }
  return positions;
}

/** Loss of one position and dLoss/dŷ, both before dividing by the count. */
function positionLoss(config, yhat, batch, out) {
  const Y = yhat.length;
  if ((config.loss ?? 'mse') === 'mse') {
    // Σ_k (ŷ_k - y_k)²
    const diff = yhat.map((v, k) => v - batch.y[out * Y + k]);
    return { loss: sumSquares(diff), dyhat: diff.map((d) => 2 * d) };
  }
  // -log softmax(ŷ)[label], computed with the max subtracted
  const label = batch.labels[out];
  const mx = Math.max(...yhat);
  const e = yhat.map((v) => Math.exp(v - mx));
  const sum = e.reduce((a, v) => a + v, 0);
  const loss = Math.log(sum) + mx - yhat[label];
  const dyhat = e.map((v, k) => v / sum - (k === label ? 1 : 0));
  return { loss, dyhat };
}

// ===========================================================================
// Forward + BPTT
// ===========================================================================

/**
 * Forward and full BPTT in float64 for one batch { B, T, x, y, labels, mask,
 * h0, c0 } (flat row-major; mask, h0, c0 may be null). Returns { loss,
 * output, hT, cT, grads, dx, dh0, dc0, flowH, flowC, gates, cells } and,
 * for tests, hidden (per layer (T+1, B, H): h_0 … h_T) and preacts (per
 * layer (T, B, G*H) gate preactivations; for GRU n the whole argument of tanh).
 *
 * The mask only selects which head outputs count in the loss; the recurrence
 * runs through every step. flowH[l][t] is the norm over the batch of the
 * total dLoss/dh of the state step t outputs (flowC the same for c).
 */
export function run(config, params, batch) {
  if (config.bidirectional) return runBidirectional(config, params, batch);
  const ops = cellOps(config);
  const p = unpack(config, params);
  const fwd = forwardStack(config, ops, p, batch);
  const grads = zerosLike(p);
  const head = headAndLoss(config, p, batch, fwd.top, grads);
  const bwd = backwardStack(config, ops, p, batch, fwd.caches, head.dhTop, grads);
  return {
    loss: head.loss, output: head.output, hT: fwd.hT, cT: fwd.cT,
    grads: pack(config, grads), dx: bwd.dx, dh0: bwd.dh0, dc0: bwd.dc0,
    flowH: bwd.flowH, flowC: bwd.flowC, gates: fwd.gates, cells: fwd.cells,
    hidden: fwd.hidden, preacts: fwd.preacts,
  };
}

/** Forward through the layers; layer l > 0 reads layer l-1's h_t. */
function forwardStack(config, ops, p, batch) {
  const { B, T } = batch;
  const { inputSize: X, hiddenSize: H } = config;
  const L = config.layers ?? 1;
  const G = gateCount(config.cell);
  const isLstm = config.cell === 'lstm';
  const caches = []; // caches[l][t][b]
  const gates = [], cells = [], hidden = [], preacts = [];
  const hT = new Float64Array(L * B * H);
  const cT = isLstm ? new Float64Array(L * B * H) : null;
  // inputs[t][b]: the input vector of the current layer
  let inputs = Array.from({ length: T }, (_, t) =>
    Array.from({ length: B }, (_, b) => slice(batch.x, (b * T + t) * X, X)));
  for (let l = 0; l < L; l++) {
    const dims = { H, Xl: l === 0 ? X : H };
    const dimsOf = (b) => dropoutDims(batch.dropout, dims, l, b, G);
    let h = Array.from({ length: B }, (_, b) => initialState(batch.h0, l, b, B, H));
    let c = Array.from({ length: B }, (_, b) => initialState(isLstm ? batch.c0 : null, l, b, B, H));
    gates.push(new Float64Array(T * B * G * H));
    preacts.push(new Float64Array(T * B * G * H));
    cells.push(isLstm ? new Float64Array(T * B * H) : null);
    hidden.push(new Float64Array((T + 1) * B * H));
    h.forEach((hb, b) => hidden[l].set(hb, b * H));
    caches.push([]);
    const outputs = [];
    for (let t = 0; t < T; t++) {
      const steps = inputs[t].map((x, b) => ops.forward(p.layers[l], dimsOf(b), x, h[b], c[b]));
      steps.forEach((s, b) => {
        gates[l].set(s.gates, (t * B + b) * G * H);
        preacts[l].set(s.preact, (t * B + b) * G * H);
        if (isLstm) cells[l].set(s.c, (t * B + b) * H);
        hidden[l].set(s.h, ((t + 1) * B + b) * H);
      });
      caches[l].push(steps.map((s, b) => ({ ...s.cache, dims: dimsOf(b) })));
      h = steps.map((s) => s.h);
      c = steps.map((s) => s.c);
      outputs.push(h);
    }
    h.forEach((hb, b) => hT.set(hb, (l * B + b) * H));
    if (isLstm) c.forEach((cb, b) => cT.set(cb, (l * B + b) * H));
    // dropout between layers: the next layer reads h ⊙ its mask of (l, t, b)
    const between = batch.dropout?.layer && l + 1 < L;
    inputs = between ? outputs.map((row, t) => row.map((hb, b) => masked(hb, [batch.dropout.layer(l, t, b)], 0))) : outputs;
  }
  // top[t][b]: the top layer's h_{t+1}
  return { caches, gates, cells, hidden, preacts, hT, cT, top: inputs };
}

/**
 * Head ŷ = V h + c at the head positions, the loss over counted ones (MSE
 * divided by counted × Y, cross-entropy by counted), dV and dc accumulated
 * into grads, and dhTop[t][b] = dLoss/dh of the top layer from the head.
 */
function headAndLoss(config, p, batch, top, grads) {
  const { B, T } = batch;
  const { hiddenSize: H, outputSize: Y } = config;
  const sequence = (config.output ?? 'sequence') === 'sequence';
  const output = new Float64Array((sequence ? B * T : B) * Y);
  const positions = headPositions(config, batch);
  const counted = positions.filter((q) => q.counted).length;
  const norm = (config.loss ?? 'mse') === 'mse' ? counted * Y : counted;
  const dhTop = Array.from({ length: T }, () =>
    Array.from({ length: B }, () => new Float64Array(H)));
  let loss = 0;
  for (const q of positions) {
    const hb = top[q.t][q.b];
    // ŷ = V h + c
    const yhat = matVec(p.V, H, 0, Y, hb).map((v, k) => v + p.c[k]);
    output.set(yhat, q.out * Y);
    if (!q.counted) continue;
    const pl = positionLoss(config, yhat, batch, q.out);
    loss += pl.loss / norm;
    const dyhat = pl.dyhat.map((d) => d / norm);
    // dV += dŷ hᵀ, dc += dŷ, dh = Vᵀ dŷ
    outerAdd(grads.V, H, 0, dyhat, hb);
    for (let k = 0; k < Y; k++) grads.c[k] += dyhat[k];
    matTVecAdd(dhTop[q.t][q.b], p.V, H, 0, Y, dyhat);
  }
  return { loss, output, dhTop };
}

/** BPTT, top layer first: a layer's dx is the gradient from above of the layer below. */
function backwardStack(config, ops, p, batch, caches, dhTop, grads) {
  const { B, T } = batch;
  const { inputSize: X, hiddenSize: H } = config;
  const L = config.layers ?? 1;
  const isLstm = config.cell === 'lstm';
  const flowH = [], flowC = isLstm ? [] : null;
  const dh0 = new Float64Array(L * B * H);
  const dc0 = isLstm ? new Float64Array(L * B * H) : null;
  let dhAbove = dhTop;
  for (let l = L - 1; l >= 0; l--) {
    const dims = { H, Xl: l === 0 ? X : H };
    const res = backwardLayer(ops, p.layers[l], grads.layers[l], dims, caches[l], dhAbove, isLstm);
    flowH[l] = res.flowH;
    if (isLstm) flowC[l] = res.flowC;
    res.dhPrev.forEach((d, b) => dh0.set(d, (l * B + b) * H));
    if (isLstm) res.dcPrev.forEach((d, b) => dc0.set(d, (l * B + b) * H));
    dhAbove = res.dx;
    if (batch.dropout?.layer && l > 0) dhAbove = dhAbove.map((row, t) => row.map((d, b) => masked(d, [batch.dropout.layer(l - 1, t, b)], 0)));
  }
  const dx = new Float64Array(B * T * X);
  for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) dx.set(dhAbove[t][b], (b * T + t) * X);
  return { dx, dh0, dc0, flowH, flowC };
}

/**
 * A layer's dims for sequence b with its Keras masks (SPEC §12): mx[k] on x,
 * mh[k] on h_{t-1} for gate block k, one per sequence for every step.
 * dropout: { input(l, k, b), recurrent(l, k, b), layer(l, t, b) }, any left out.
 */
function dropoutDims(dropout, dims, l, b, G) {
  if (!dropout) return dims;
  const blocks = (f) => (f ? Array.from({ length: G }, (_, k) => f(l, k, b)) : null);
  return { ...dims, mx: blocks(dropout.input), mh: blocks(dropout.recurrent) };
}

function initialState(flat, l, b, B, H) {
  return flat ? slice(flat, (l * B + b) * H, H) : new Float64Array(H);
}

/**
 * BPTT through one layer, t = T-1 … 0. dhAbove[t][b] is the gradient reaching
 * the layer's output at step t from above (head or next layer). Records the
 * gradient-flow norms of the *total* dh (and dc) of every step.
 */
function backwardLayer(ops, p, grads, dims, cachesL, dhAbove, isLstm) {
  const T = cachesL.length;
  const B = cachesL[0].length;
  const { H } = dims;
  const flowH = new Float64Array(T);
  const flowC = new Float64Array(T);
  let dhNext = Array.from({ length: B }, () => new Float64Array(H));
  let dcNext = Array.from({ length: B }, () => new Float64Array(H));
  const dx = Array.from({ length: T }, () => []);
  for (let t = T - 1; t >= 0; t--) {
    let sh = 0, sc = 0;
    for (let b = 0; b < B; b++) {
      // total dh of this step's output: from above + from step t+1
      const dh = dhAbove[t][b].map((v, j) => v + dhNext[b][j]);
      sh += sumSquares(dh);
      const res = ops.backward(p, cachesL[t][b].dims ?? dims, cachesL[t][b], dh, dcNext[b], grads);
      if (isLstm) { sc += sumSquares(res.dcTotal); dcNext[b] = res.dcPrev; }
      dhNext[b] = res.dhPrev;
      dx[t][b] = res.dx;
    }
    flowH[t] = Math.sqrt(sh);
    flowC[t] = Math.sqrt(sc);
  }
  return { dx, dhPrev: dhNext, dcPrev: dcNext, flowH, flowC: isLstm ? flowC : null };
}

// ===========================================================================
// Spectral norm by one-sided Jacobi (independent of power iteration)
// ===========================================================================

/**
 * Largest singular value of a (rows × cols) row-major matrix. One-sided
 * Jacobi (Hestenes): rotate column pairs until all columns are mutually
 * orthogonal; the singular values are then the column norms.
 */
export function spectralNorm(matrix, rows, cols) {
  const A = Float64Array.from({ length: rows * cols }, (_, i) => matrix[i]);
  const col = (p, q) => {
    let alpha = 0, beta = 0, gamma = 0;
    for (let i = 0; i < rows; i++) {
      const ap = A[i * cols + p], aq = A[i * cols + q];
      alpha += ap * ap; beta += aq * aq; gamma += ap * aq;
    }
    return { alpha, beta, gamma };
  };
  for (let sweep = 0; sweep < 100; sweep++) {
    let rotated = false;
    for (let p = 0; p < cols - 1; p++) {
      for (let q = p + 1; q < cols; q++) {
        const { alpha, beta, gamma } = col(p, q);
        if (gamma === 0 || Math.abs(gamma) <= 1e-15 * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        // the rotation that zeroes the (p, q) entry of AᵀA
        const zeta = (beta - alpha) / (2 * gamma);
        const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const cs = 1 / Math.sqrt(1 + t * t), sn = cs * t;
        for (let i = 0; i < rows; i++) {
          const ap = A[i * cols + p], aq = A[i * cols + q];
          A[i * cols + p] = cs * ap - sn * aq;
          A[i * cols + q] = sn * ap + cs * aq;
        }
      }
    }
    if (!rotated) break;
  }
  let best = 0;
  for (let j = 0; j < cols; j++) {
    let s = 0;
    for (let i = 0; i < rows; i++) s += A[i * cols + j] ** 2;
    best = Math.max(best, Math.sqrt(s));
  }
  return best;
}

/** Per layer, the spectral norm of each H×H gate block of U_l (G values). */
export function recurrentSpectralNorms(config, params) {
  const H = config.hiddenSize;
  const G = gateCount(config.cell);
  return layout(config).tensors.filter((t) => t.kind === 'U').map((t) =>
    Array.from({ length: G }, (_, k) =>
      spectralNorm(slice(params, t.offset + k * H * H, H * H), H, H)));
}

// ===========================================================================
// Clipping and optimisers (SPEC §5, §7)
// ===========================================================================

const globalNorm = (g) => Math.sqrt(sumSquares(g));

/** Norm clipping first, then value clipping. Returns a new gradient array. */
export function clipGradients(grads, { clipNorm = 0, clipValue = 0 } = {}) {
  let g = Float64Array.from(grads);
  const normBefore = globalNorm(g);
  let clipped = false;
  // if n > τ: g ← τ g / n
  if (clipNorm > 0 && normBefore > clipNorm) {
    g = g.map((v) => (v * clipNorm) / normBefore);
    clipped = true;
  }
  // each element to [-v, v]
  if (clipValue > 0) g = g.map((v) => Math.min(clipValue, Math.max(-clipValue, v)));
  return { grads: g, normBefore, normAfter: globalNorm(g), clipped };
}

/**
 * One optimiser step (step counts from 1). state is { m, v } (Float64Arrays,
 * or null/undefined for zeros): momentum keeps its velocity in m, RMSprop
 * its running mean square s in v, Adam/AdamW both moments. Returns
 * { params, state } as new arrays; the inputs are not modified.
 */
export function optimizerStep(type, opts, params, grads, state, step) {
  const o = {
    lr: 1e-3, momentum: 0.9, beta1: 0.9, beta2: 0.999, rho: 0.9, weightDecay: 0,
    eps: type === 'rmsprop' ? 1e-7 : 1e-8, ...dropUndefined(opts),
  };
  const n = params.length;
  const theta = Float64Array.from(params);
  const g = Float64Array.from(grads);
  const m = state?.m ? Float64Array.from(state.m) : new Float64Array(n);
  const v = state?.v ? Float64Array.from(state.v) : new Float64Array(n);
  for (let i = 0; i < n; i++) {
    if (type === 'sgd') {
      // θ ← θ - η g
      theta[i] -= o.lr * g[i];
    } else if (type === 'momentum') {
      // v ← μ v + g;  θ ← θ - η v
      m[i] = o.momentum * m[i] + g[i];
      theta[i] -= o.lr * m[i];
    } else if (type === 'adam' || type === 'adamw') {
      // m ← β1 m + (1-β1) g;  v ← β2 v + (1-β2) g²
      m[i] = o.beta1 * m[i] + (1 - o.beta1) * g[i];
      v[i] = o.beta2 * v[i] + (1 - o.beta2) * g[i] * g[i];
      const mHat = m[i] / (1 - o.beta1 ** step);
      const vHat = v[i] / (1 - o.beta2 ** step);
      // θ ← θ - η (m̂ / (√v̂ + ε) + λ θ), λ only for AdamW, θ before the step
      const decay = type === 'adamw' ? o.weightDecay * theta[i] : 0;
      theta[i] -= o.lr * (mHat / (Math.sqrt(vHat) + o.eps) + decay);
    } else if (type === 'rmsprop') {
      // s ← ρ s + (1-ρ) g²;  θ ← θ - η g / (√s + ε)
      v[i] = o.rho * v[i] + (1 - o.rho) * g[i] * g[i];
      theta[i] -= (o.lr * g[i]) / (Math.sqrt(v[i]) + o.eps);
    } else {
      throw new Error(`unknown optimiser '${type}'`);
    }
  }
  return { params: theta, state: { m, v } };
}

function dropUndefined(obj) {
  return Object.fromEntries(Object.entries(obj ?? {}).filter(([, val]) => val !== undefined));
}

// ===========================================================================
// Bidirectional layers (SPEC §11)
// ===========================================================================

/** Each sequence's length from a prefix mask (every T without a mask). */
function sequenceLengths(batch) {
  const { B, T, mask } = batch;
  return Array.from({ length: B }, (_, b) => {
    let n = 0;
    while (n < T && (!mask || mask[b * T + n] !== 0)) n++;
    return n;
  });
}

/** One direction of one layer over rows[t][b]; steps[t][b] of the unit, in its own order. */
function runUnit(ops, p, dims, rows, h0, c0, isLstm) {
  const T = rows.length, B = rows[0].length;
  let h = h0, c = c0;
  const caches = [], outs = [], hs = [h0], cs = [c0];
  for (let t = 0; t < T; t++) {
    const steps = rows[t].map((x, b) => ops.forward(p, dims, x, h[b], c[b]));
    caches.push(steps.map((st) => st.cache));
    h = steps.map((st) => st.h);
    c = steps.map((st) => (isLstm ? st.c : c[0]));
    outs.push(h);
    hs.push(h);
    cs.push(c);
  }
  return { caches, outs, hs, cs };
}

/**
 * The forward direction reads t = 0 … T-1; the reverse one reads each
 * sequence's own steps T_b-1 … 0 (then zeros, whose steps reach no valid
 * output); a layer's output at t is [h→_t ; h←_t], h← = 0 past T_b.
 */
function runBidirectional(config, params, batch) {
  const { B, T } = batch;
  const { inputSize: X, hiddenSize: H } = config;
  const L = config.layers ?? 1, isLstm = config.cell === 'lstm';
  const ops = cellOps(config), p = unpack(config, params), grads = zerosLike(p);
  const len = sequenceLengths(batch);
  const reverse = (rows, n) => rows.map((_, s) => rows[0].map((__, b) => (s < len[b] ? rows[len[b] - 1 - s][b] : new Float64Array(n))));
  const state = (flat, u, b) => initialState(flat, u, b, B, H);
  const hT = new Float64Array(2 * L * B * H), cT = isLstm ? new Float64Array(2 * L * B * H) : null;
  let rows = Array.from({ length: T }, (_, t) => Array.from({ length: B }, (_, b) => slice(batch.x, (b * T + t) * X, X)));
  const layers = [];
  for (let l = 0; l < L; l++) {
    const dims = { H, Xl: l === 0 ? X : 2 * H };
    const units = [rows, reverse(rows, dims.Xl)].map((r, d) => {
      const u = 2 * l + d, h0 = r[0].map((_, b) => state(batch.h0, u, b));
      const c0 = r[0].map((_, b) => state(isLstm ? batch.c0 : null, u, b));
      const res = runUnit(ops, p.layers[u], dims, r, h0, c0, isLstm);
      for (let b = 0; b < B; b++) { // h_n: the state after each sequence's own T_b steps
        hT.set(res.hs[len[b]][b], (u * B + b) * H);
        if (isLstm) cT.set(res.cs[len[b]][b], (u * B + b) * H);
      }
      return res;
    });
    const out = rows.map((_, t) => rows[0].map((__, b) =>
      concat([units[0].outs[t][b], t < len[b] ? units[1].outs[len[b] - 1 - t][b] : new Float64Array(H)])));
    layers.push({ rows, units, dims });
    rows = out;
  }
  return bidirectionalHeadAndBackward(config, { ops, p, grads, len, layers, top: rows, hT, cT, isLstm }, batch);
}

function bidirectionalHeadAndBackward(config, f, batch) {
  const { B, T } = batch;
  const { inputSize: X, hiddenSize: H } = config;
  const L = config.layers ?? 1, last = (config.output ?? 'sequence') === 'last';
  // 'last': the head reads [h→ at the last valid step ; h← at step 0]
  const top = f.top.map((row) => row.slice());
  const positions = headPositions(config, batch);
  if (last) for (const q of positions) top[q.t][q.b] = concat([f.top[q.t][q.b].subarray(0, H), f.top[0][q.b].subarray(H)]);
  const head = headAndLoss({ ...config, hiddenSize: 2 * H }, f.p, batch, top, f.grads);
  let dcat = head.dhTop;
  if (last) {
    dcat = dcat.map((row) => row.map((d) => new Float64Array(2 * H)));
    for (const q of positions) {
      const d = head.dhTop[q.t][q.b];
      for (let j = 0; j < H; j++) { dcat[q.t][q.b][j] += d[j]; dcat[0][q.b][H + j] += d[H + j]; }
    }
  }
  const dh0 = new Float64Array(2 * L * B * H), dc0 = f.isLstm ? new Float64Array(2 * L * B * H) : null;
  const flowH = [], flowC = f.isLstm ? [] : null;
  for (let l = L - 1; l >= 0; l--) {
    const { units, dims } = f.layers[l];
    const zeros = (n) => new Float64Array(n);
    const dFwd = dcat.map((row) => row.map((d) => d.slice(0, H)));
    const dRev = dcat.map((_, s) => dcat[0].map((__, b) => (s < f.len[b] ? dcat[f.len[b] - 1 - s][b].slice(H) : zeros(H))));
    const din = dcat.map((row) => row.map(() => zeros(dims.Xl)));
    [dFwd, dRev].forEach((dAbove, d) => {
      const u = 2 * l + d;
      const res = backwardLayer(f.ops, f.p.layers[u], f.grads.layers[u], dims, units[d].caches, dAbove, f.isLstm);
      flowH[u] = res.flowH;
      if (f.isLstm) flowC[u] = res.flowC;
      res.dhPrev.forEach((v, b) => dh0.set(v, (u * B + b) * H));
      if (f.isLstm) res.dcPrev.forEach((v, b) => dc0.set(v, (u * B + b) * H));
      for (let s = 0; s < T; s++) for (let b = 0; b < B; b++) {
        const t = d ? f.len[b] - 1 - s : s; // the reverse unit's step s is time T_b - 1 - s
        if (t >= 0) res.dx[s][b].forEach((v, j) => { din[t][b][j] += v; });
      }
    });
    dcat = din;
  }
  const dx = new Float64Array(B * T * X);
  for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) dx.set(dcat[t][b], (b * T + t) * X);
  return { loss: head.loss, output: head.output, hT: f.hT, cT: f.cT, grads: pack(config, f.grads), dx, dh0, dc0, flowH, flowC };
}
