// rnnlab-engine.js — loads rnnlab's engine for a benchmark child, with a
// thread count when one is asked for.
//
// init({ threads: n }) (resolving to { simd, threads }, threads = the number
// actually used) is being added to the library; a build without it rejects
// the option (E_INVALID, "unknown option 'threads'"). Then a 1-thread run
// loads the build as it is (it has one thread), and any other count is
// reported as not available rather than failing the run.

import { init } from '../../web/rnnlab.js';
import { inputs } from './common.js';

const rejectsThreads = (err) => err?.name === 'RnnlabError' && /threads/.test(String(err.message));

/**
 * { simd, threads, threadsRequested, note? } once loaded, or
 * { unavailable, threadsRequested } when this build cannot run `threads`.
 */
export async function loadRnnlab(build, threads) {
  const options = { simd: build === 'simd' };
  if (threads === undefined) {
    const r = await init(options);
    return { simd: r.simd, threads: r.threads ?? 1, threadsRequested: null };
  }
  try {
    const r = await init({ ...options, threads });
    return { simd: r.simd, threads: r.threads ?? null, threadsRequested: threads };
  } catch (err) {
    if (!rejectsThreads(err)) throw err;
    const why = `init({ threads: ${threads} }) is not available in this build (${err.code ?? err.name}: ${err.message})`;
    if (threads !== 1) return { unavailable: why, threadsRequested: threads };
    const r = await init(options);
    return { simd: r.simd, threads: 1, threadsRequested: 1, note: `${why}: loaded without it, single-threaded` };
  }
}

/** Takes `--threads=N` out of a child's arguments: { threads, rest }. */
export function threadsArg(argv) {
  const a = argv.find((s) => s.startsWith('--threads='));
  const rest = argv.filter((s) => s !== a);
  if (a === undefined) return { threads: undefined, rest };
  const threads = Number(a.slice('--threads='.length));
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`--threads: expected a positive integer, got '${a}'`);
  return { threads, rest };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Warm-up, part 1: V8 compiles wasm with its baseline tier first and moves a
 * function to the optimising tier in the background once it has run enough;
 * a call already running stays on the baseline code (no on-stack
 * replacement). So: many short calls of a small shape, then a pause for the
 * background compiler, then a few more.
 */
export async function warmUpSmall(model, { X, B, T }, optimizer) {
  const b = Math.min(B, 4), t = Math.min(T, 8);
  const x = inputs(b * t * X, 99);
  const small = { x, y: x, shape: [b, t, X] };
  for (let i = 0; i < 30; i++) {
    await model.trainStep(small, { optimizer });
    await model.predict(x, { shape: [b, t, X] });
  }
  await sleep(100);
  for (let i = 0; i < 5; i++) await model.trainStep(small, { optimizer });
}
