// variants.js — the cost of the options that change the work of a step
// (SPEC §11, §12), on LSTM-M with the SIMD build: each variant against the
// same model without it, both timed in child processes right after each
// other. Targets: a bidirectional step at most 2.1× a unidirectional one
// (twice the recurrent work, plus the reversal and the wider head), dropout
// at most 1.1×.

export const VARIANTS = [
  { name: 'bidirectional', base: { layers: 1 }, config: { layers: 1, bidirectional: true }, target: 2.1 },
  { name: 'dropout (between 2 layers, p 0.2)', base: { layers: 2 }, config: { layers: 2, dropout: 0.2 }, target: 1.1 },
  { name: 'inputDropout 0.2', base: { layers: 1 }, config: { layers: 1, inputDropout: 0.2 }, target: 1.1 },
  { name: 'recurrentDropout 0.2', base: { layers: 1 }, config: { layers: 1, recurrentDropout: 0.2 }, target: 1.1 },
];

/** Runs every variant and its base; `run(config)` returns a worker's JSON (or { error }). */
export function runVariants(run) {
  const bases = new Map();
  return VARIANTS.map((v) => {
    const key = JSON.stringify(v.base);
    if (!bases.has(key)) bases.set(key, run(v.base));
    return { ...v, baseResult: bases.get(key), result: run(v.config) };
  });
}

/** Rows, targets per clock and Markdown lines of the variants' results. */
export function variantsReport(measured, clocks) {
  const ms = (r, c) => r?.timing?.train?.[`${c}Ms`];
  const rows = measured.map((v) => {
    const row = { variant: v.name, config: v.config, target: v.target };
    for (const c of clocks) {
      const a = ms(v.result, c), b = ms(v.baseResult, c);
      row[c] = { trainMs: a, baseTrainMs: b, ratio: Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : undefined };
    }
    if (v.result?.error || v.baseResult?.error) row.error = v.result?.error ?? v.baseResult?.error;
    return row;
  });
  const targets = {};
  for (const c of clocks) {
    targets[c] = Object.fromEntries(rows.map((r) => [`LSTM-M ${r.variant} at most ${r.target}× the step without it`,
      Number.isFinite(r[c].ratio) ? r[c].ratio <= r.target : null]));
  }
  const f = (v) => (Number.isFinite(v) ? v.toFixed(1) : '–');
  const x = (v) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : '–');
  const md = ['| LSTM-M variant (SIMD build) | step ms (wall) | without (wall) | ratio | step ms (CPU) | without (CPU) | ratio | target |',
    '|---|---:|---:|---:|---:|---:|---:|---:|'];
  for (const r of rows) {
    md.push(`| ${r.variant} | ${f(r.wall.trainMs)} | ${f(r.wall.baseTrainMs)} | ${x(r.wall.ratio)} | ${f(r.cpu.trainMs)} | ${f(r.cpu.baseTrainMs)} | ${x(r.cpu.ratio)} | ≤ ${r.target}× |`);
  }
  return { rows, targets, md };
}
