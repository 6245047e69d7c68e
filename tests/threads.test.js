// Threads in Node: the same bits on any thread count, build and V8 tier; the
// thread count chosen and refused; workers that end; terminate(); no leak of
// workers or memory over many cycles. The browsers' side is in
// tests/threads-browser.test.js.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { init, createModel, terminate, RnnlabError } from '../web/rnnlab.js';

const JOB = fileURLToPath(new URL('./helpers/threads-job.js', import.meta.url));

function runJob(args, nodeFlags = []) {
  const out = execFileSync(process.execPath, [...nodeFlags, JOB, ...args], { encoding: 'utf8', timeout: 240_000 });
  return JSON.parse(out.trim().split('\n').at(-1));
}

test('the same bits on 1, 2 and 3 threads, from either build, in both V8 tiers', { timeout: 900_000 }, () => {
  const single = runJob(['1']);
  assert.equal(single.loaded.threads, 1);
  assert.equal(Object.keys(single.hashes).length, 6);
  const runs = [
    { what: 'the threaded build on 1 thread', args: ['1', 'threaded'], threads: 1 },
    { what: '2 threads', args: ['2'], threads: 2 },
    { what: '3 threads', args: ['3'], threads: 3 },
    // Node 20's baseline compiler once lost locals across atomic waits
    { what: '2 threads, liftoff only', args: ['2'], threads: 2, flags: ['--liftoff-only'] },
  ];
  for (const run of runs) {
    const r = runJob(run.args, run.flags);
    assert.equal(r.loaded.threads, run.threads, `${run.what}: init says ${r.loaded.threads} threads`);
    assert.deepEqual(r.hashes, single.hashes, `${run.what}: other bits than the single-threaded build`);
  }
});

const small = { cell: 'lstm', inputSize: 24, hiddenSize: 96, outputSize: 4, seed: 3 };
function batch(seed = 1) {
  const [N, T, X] = [16, 30, 24];
  let s = seed;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) - 0.5;
  return { x: Float32Array.from({ length: N * T * X }, next), y: Float32Array.from({ length: N * T * 4 }, next), shape: [N, T, X] };
}
const step = (model, data) => model.trainStep(data, { optimizer: { type: 'adam', lr: 0.01 } }).loss;

// Three steps on one thread (a fresh engine): the losses and parameters a
// run that loses a worker must still give. Leaves a 2-thread engine and a
// model on it.
async function referenceThenTwoThreads(data) {
  await terminate();
  await init({ threads: 1 });
  const reference = await createModel(small);
  const want = [step(reference, data), step(reference, data), step(reference, data)];
  const wantParams = reference.getParameters();
  await terminate();
  await init({ threads: 2 });
  return { want, wantParams, model: await createModel(small) };
}

test('init: threads default to the core count; bad counts are refused with what was given', async () => {
  await terminate();
  const loaded = await init();
  const cores = os.availableParallelism?.() ?? os.cpus().length;
  assert.equal(loaded.threads, cores, 'the default is the core count');
  assert.equal(loaded.threadsUnavailable, null);
  for (const [threads, code] of [[0, 'E_INVALID'], [17, 'E_INVALID'], [1.5, 'E_INVALID'], ['2', 'E_TYPE'], [null, 'E_TYPE']]) {
    await assert.rejects(init({ threads }), (err) => err instanceof RnnlabError && err.code === code &&
      /init options\.threads: expected an integer from 1 to 16, got/.test(err.message), `threads ${String(threads)}`);
  }
  const other = cores === 1 ? 2 : 1;
  await assert.rejects(init({ threads: other }), (err) => err.code === 'E_STATE' &&
    err.message.includes(`already running on ${cores} thread`) && err.message.includes('terminate()'));
  assert.deepEqual(await init({ threads: cores }), loaded, 'the same count is fine');
  await terminate();
});

test('terminate(): the workers stop, models made before are gone, a new engine starts', async () => {
  await terminate();
  await init({ threads: 3 });
  const model = await createModel(small);
  const workers = [...model._abi.pool.workers];
  assert.equal(workers.length, 2);
  step(model, batch());
  await terminate();
  assert.ok(workers.every((w) => w.threadId === -1), 'every worker has exited');
  assert.equal(model.disposed, true);
  assert.throws(() => model.predict(batch().x, { shape: batch().shape }), (err) => err.code === 'E_DISPOSED' && /terminate\(\)/.test(err.message));
  assert.doesNotThrow(() => model.dispose(), 'dispose after terminate is a no-op');
  await terminate(); // twice is fine
  const again = await init({ threads: 2 });
  assert.equal(again.threads, 2);
  const fresh = await createModel(small);
  assert.ok(Number.isFinite(step(fresh, batch())));
  fresh.dispose();
  await terminate();
});

test('20 init/terminate cycles leave no worker running', { timeout: 120_000 }, async () => {
  await terminate();
  const all = [];
  for (let i = 0; i < 20; i++) {
    await init({ threads: 2 });
    const model = await createModel(small);
    all.push(...model._abi.pool.workers);
    step(model, batch());
    await terminate();
  }
  assert.equal(all.length, 20);
  assert.ok(all.every((w) => w.threadId === -1), 'a worker outlived its engine');
});

test('1,000 createModel/dispose cycles on 2 threads: no new workers, no memory growth', { timeout: 300_000 }, async () => {
  await terminate();
  await init({ threads: 2 });
  const data = batch();
  let abi;
  let settled;
  for (let i = 0; i < 1000; i++) {
    const model = await createModel(small);
    abi = model._abi;
    if (i % 50 === 0) step(model, data);
    model.dispose();
    if (i === 99) settled = abi.memoryBytes();
  }
  assert.equal(abi.pool.workers.length, 1);
  assert.ok(abi.pool.workers.every((w) => w.threadId > 0), 'the worker is still running');
  assert.equal(abi.memoryBytes(), settled, 'wasm memory grew after the first 100 cycles');
  await terminate();
});

test('a worker that ends: the next call is E_LOAD, then the engine goes on alone with the same bits', { timeout: 120_000 }, async () => {
  const data = batch(7);
  const { want, wantParams, model } = await referenceThenTwoThreads(data);
  const got = [step(model, data)];
  const [worker] = model._abi.pool.workers;
  await worker.terminate(); // as if it crashed between calls
  await new Promise((resolve) => setImmediate(resolve));
  assert.throws(() => step(model, data), (err) => err.code === 'E_LOAD' && /worker thread 1 of 2 stopped/.test(err.message) &&
    /runs on 1 thread from now on/.test(err.message));
  got.push(step(model, data), step(model, data));
  assert.deepEqual(got, want, 'the losses of the single-threaded engine');
  assert.deepEqual(model.getParameters(), wantParams);
  assert.equal((await init()).threads, 1, 'init reports the engine running alone');
  await terminate();
});

test('a worker marked dead (as its JS does when it traps): the engine runs alone from the next job; E_LOAD on the call after', { timeout: 120_000 }, async () => {
  const data = batch(9);
  const { want, model } = await referenceThenTwoThreads(data);
  const abi = model._abi;
  const got = [step(model, data)];
  // the worker's dead word, as its JS sets it when the worker traps: the
  // next job sees it and runs alone (the step's losses stay the same)
  Atomics.store(abi._heap().i32, abi.poolWord(0, 1) >>> 2, 1);
  got.push(step(model, data));
  assert.throws(() => model.predict(data.x, { shape: data.shape }), (err) => err.code === 'E_LOAD' && /worker thread 1 of 2 stopped/.test(err.message));
  got.push(step(model, data));
  assert.deepEqual(got, want, 'the job with the lost worker gave the same bits');
  await terminate();
});

test('a worker that traps inside a job: the owner finishes the chunk it lost, the same bits; E_LOAD on the next call', { timeout: 120_000 }, async () => {
  const data = batch(5);
  const { want, model } = await referenceThenTwoThreads(data);
  const abi = model._abi;
  const [worker] = abi.pool.workers;
  const exited = new Promise((resolve) => worker.once('exit', resolve));
  const got = [step(model, data)];
  // fault injection (src/pool.c): the worker traps right after claiming its
  // next chunk, which then never finishes unless the owner takes it over
  Atomics.store(abi._heap().i32, abi.poolWord(2, 1) >>> 2, 1);
  got.push(step(model, data));
  assert.equal(Atomics.load(abi._heap().i32, abi.poolWord(0, 1) >>> 2), 1, 'the worker trapped and was marked dead');
  await exited;
  assert.throws(() => step(model, data), (err) => err.code === 'E_LOAD' && /worker thread 1 of 2 stopped/.test(err.message) &&
    /the previous call finished without it, with the same results/.test(err.message));
  got.push(step(model, data));
  assert.deepEqual(got, want, 'the step the worker died in gave the same bits');
  await terminate();
});
