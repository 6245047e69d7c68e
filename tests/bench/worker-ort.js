// worker-ort.js — the forward pass of the same model in onnxruntime-web
// (its wasm backend), one workload and one thread count per process.
// ONNX Runtime has no training in onnxruntime-web's wasm backend: forward
// only.
//
//   node tests/bench/worker-ort.js CELL SIZE THREADS [budgetMs]
//
// The model is rnnlab's own (seed 7, as worker-rnnlab.js builds it), written
// by the project's exporter (web/onnx.js: toONNX, opset 14), so both run the
// same weights and shapes: input [B, T, X] → output [B, T, X] (the layer as
// ONNX's RNN/LSTM/GRU between Transposes, the head as MatMul + Add). One call
// = session.run on x [B, T, X], outputs read back as ORT returns them
// (output, h_n and c_n). Before timing, ORT's output is compared with
// rnnlab's predict on the same x (maxAbsDiff in the result).
//
// Threads: ort.env.wasm.numThreads = THREADS before the session is created.
// ORT-web then runs its threaded wasm build, whose threads in Node are
// worker_threads over a shared WebAssembly.Memory; the result records the
// count ORT kept and the CPU time per call against the wall time (about 2×
// when two threads really work).

import { WORKLOADS, forwardFlops, median, inputs, timeReps, emit } from './common.js';
import { createModel } from '../../web/rnnlab.js';
import { toONNX } from '../../web/onnx.js';
import { loadRnnlab } from './rnnlab-engine.js';

const [cell, size, threadsArg, budgetArg] = process.argv.slice(2);
const w = WORKLOADS[size];
const threads = Number(threadsArg);
if (!w || !['rnn', 'lstm', 'gru'].includes(cell) || !Number.isInteger(threads) || threads < 1) {
  console.error('usage: worker-ort.js rnn|lstm|gru S|M|LONG THREADS [budgetMs]');
  process.exit(2);
}
const budgetMs = Number(budgetArg ?? 3000);
const { X, H, B, T } = w;

await loadRnnlab('simd');
const model = await createModel({ cell, inputSize: X, hiddenSize: H, outputSize: X, layers: 1, seed: 7 });
const bytes = await toONNX(model);

const ort = await import('onnxruntime-web');
ort.env.wasm.numThreads = threads;
ort.env.logLevel = 'error';
const t0 = performance.now();
const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
const sessionMs = performance.now() - t0;

const x = inputs(B * T * X);
const run = () => session.run({ input: new ort.Tensor('float32', x, [B, T, X]) });

// Same weights, same answer: ORT's output against rnnlab's.
const first = await run();
const mine = model.predict(x, { shape: [B, T, X] }).output;
let maxAbsDiff = 0;
for (let i = 0; i < mine.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(first.output.data[i] - mine[i]));
if (!(maxAbsDiff < 1e-3)) throw new Error(`onnxruntime-web's output differs from rnnlab's by ${maxAbsDiff}`);
model.dispose();

// Warm-up: ORT allocates and plans on its first runs of a shape.
for (let i = 0; i < 3; i++) await run();
const fwd = await timeReps(run, { minReps: 5, maxReps: 25, minMs: 300, budgetMs });
await session.release();

const wallMs = median(fwd.wall), cpuMs = median(fwd.cpu);
const flops = forwardFlops(cell, w);
emit({
  impl: 'ort-web', version: ort.env.versions?.web ?? null, cell, size, ...w,
  threadsRequested: threads, threads: ort.env.wasm.numThreads, cpuPerWall: cpuMs / wallMs,
  timing: { forward: { wallMs, cpuMs, reps: fwd.wall.length, wallGflops: flops / wallMs / 1e6, cpuGflops: flops / cpuMs / 1e6, wall: fwd.wall, cpu: fwd.cpu } },
  sessionMs, onnxBytes: bytes.length, maxAbsDiff,
});
// ORT's worker threads would keep the process alive
process.exit(0);
