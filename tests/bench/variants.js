// variants.js — the cost of the options that change the work of a step
// (SPEC §11, §12), on LSTM-M with the SIMD build, one thread: each variant
// against the same model without it, interleaved step by step in one child
// process (worker-variant.js; separate processes differed by up to 50% on
// this machine). Targets: a bidirectional step at most 2.1× a
// unidirectional one (twice the recurrent work, plus the reversal and the
// wider head), dropout at most 1.1×; judged on the median of the per-pair
// ratios.

export const VARIANTS = [
  { name: 'bidirectional (1 layer)', base: { layers: 1 }, config: { layers: 1, bidirectional: true }, target: 2.1 },
  { name: 'dropout (between 2 layers, p 0.2)', base: { layers: 2 }, config: { layers: 2, dropout: 0.2 }, target: 1.1 },
  { name: 'inputDropout 0.2', base: { layers: 1 }, config: { layers: 1, inputDropout: 0.2 }, target: 1.1 },
  { name: 'recurrentDropout 0.2', base: { layers: 1 }, config: { layers: 1, recurrentDropout: 0.2 }, target: 1.1 },
];
export const VARIANT_CELL = 'lstm';
export const VARIANT_SIZE = 'M';

/** Runs every variant; `run(variant)` returns worker-variant.js's JSON (or { error }). */
export function runVariants(run) {
  return VARIANTS.map((v) => ({ ...v, result: run(v) }));
}

/** Rows, targets per clock and Markdown lines of the variants' results. */
export function variantsReport(measured, clocks) {
  const rows = measured.map((v) => {
    const r = v.result ?? {};
    const row = { variant: v.name, base: v.base, config: v.config, target: v.target, pairs: r.pairs };
    for (const c of clocks) {
      const m = r[c] ?? {};
      row[c] = { trainMs: m.variantMs, baseTrainMs: m.baseMs, ratio: m.ratio, ratioMin: m.ratioMin, ratioMax: m.ratioMax };
    }
    if (r.error || r.unavailable) row.error = r.error ?? r.unavailable;
    return row;
  });
  const targets = {};
  for (const c of clocks) {
    targets[c] = Object.fromEntries(rows.map((r) => [`LSTM-M ${r.variant} at most ${r.target}× the step without it`,
      Number.isFinite(r[c].ratio) ? r[c].ratio <= r.target : null]));
  }
  const f = (v) => (Number.isFinite(v) ? v.toFixed(1) : '–');
  const x = (v) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : '–');
  const spread = (m) => (Number.isFinite(m.ratioMin) ? `${m.ratioMin.toFixed(2)}–${m.ratioMax.toFixed(2)}` : '–');
  const md = [
    '| LSTM-M variant (SIMD, 1 thread) | pairs | step ms | without | ratio (median of pairs) | pairs\' range | CPU: step ms | without | ratio | target |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    md.push(`| ${r.variant} | ${r.pairs ?? '–'} | ${f(r.wall.trainMs)} | ${f(r.wall.baseTrainMs)} | ${x(r.wall.ratio)} | ${spread(r.wall)} | ${f(r.cpu.trainMs)} | ${f(r.cpu.baseTrainMs)} | ${x(r.cpu.ratio)} | ≤ ${r.target}× |`);
  }
  md.push('', 'Each variant and its base (same seed, same data) are built in one process, warmed up, then take turns: a base step, a variant step, and so on; the ratio is the median of the pairs\' ratios (variant / base), first by the wall clock, then by the process\'s CPU time. Step times are medians.');
  return { rows, targets, md };
}
