// threads.js — the threaded engine: the threaded SIMD build instantiated on
// the calling thread and on each worker, over one shared WebAssembly.Memory
// (src/pool.c has the other half). The workers are ours, started from a
// source string in this file (a bundler cannot lose a separate worker file):
// Node's worker_threads with `eval`, or a Blob URL in browsers (the page's
// CSP needs `worker-src blob:`). In Node they do not keep a process alive.

import { RnnlabError } from './errors.js';

// The build's memory: src/build.sh links it with 16 MiB initial and 2 GiB
// maximum (64 KiB pages); an imported shared memory must match.
const INITIAL_PAGES = 256;
const MAXIMUM_PAGES = 32768;
const READY_TIMEOUT_MS = 20000;

// What a worker runs: instantiate the module over the shared memory, move
// onto its own stack and TLS, report ready, then serve jobs until stopped.
// A trap marks the worker dead in shared memory, so the owner finishes its
// work instead of waiting for it.
// In Node it may run as a script or as a module (a process started with
// --input-type=module passes that on to its workers): import() works in both.
const WORKER_SOURCE = `'use strict';
const inNode = typeof process === 'object' && !!(process.versions && process.versions.node);
let port = inNode ? null : self;
const post = (message) => port.postMessage(message);
function start({ module, memory, thread, stackTop, tls, dead }) {
  const i32 = new Int32Array(memory.buffer);
  const fail = (err) => {
    Atomics.store(i32, dead >>> 2, 1);
    post({ error: String((err && err.message) || err) });
  };
  let exports;
  try {
    const env = {
      memory,
      emscripten_notify_memory_growth() {},
      rnnlab_wait(word, expected) { Atomics.wait(i32, word >>> 2, expected); },
      rnnlab_notify(word) { Atomics.notify(i32, word >>> 2, 1); },
      rnnlab_now() { return performance.now(); },
    };
    exports = new WebAssembly.Instance(module, { env }).exports;
    exports.stackRestore(stackTop);
    exports.__wasm_init_tls(tls);
  } catch (err) {
    fail(err);
    return;
  }
  post({ ready: true });
  try {
    exports.rnnlab_worker_main(thread);
    post({ stopped: true });
  } catch (err) {
    fail(err);
  }
  if (!inNode) self.close();
}
if (inNode) {
  import('node:worker_threads').then((threads) => {
    port = threads.parentPort;
    start(threads.workerData);
  });
} else {
  self.onmessage = (event) => start(event.data);
}
`;

const inNode = typeof process === 'object' && !!process.versions?.node && typeof window === 'undefined';

/** How many threads this runtime can run: { max, reason } (max 1 with the reason why). */
export async function threadSupport() {
  if (!inNode && globalThis.crossOriginIsolated !== true) {
    return { max: 1, reason: 'the page is not cross-origin isolated (it needs the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)' };
  }
  if (typeof SharedArrayBuffer === 'undefined' || typeof Atomics === 'undefined') {
    return { max: 1, reason: 'this runtime has no SharedArrayBuffer' };
  }
  if (inNode) {
    const osModule = 'node:os';
    const os = await import(/* webpackIgnore: true */ /* @vite-ignore */ osModule);
    return { max: os.availableParallelism?.() ?? os.cpus().length, reason: null };
  }
  if (typeof Worker === 'undefined') return { max: 1, reason: 'this context cannot start workers' };
  return { max: navigator.hardwareConcurrency || 1, reason: null };
}

/** The shared memory the threaded build imports. */
export function sharedMemory() {
  return new WebAssembly.Memory({ initial: INITIAL_PAGES, maximum: MAXIMUM_PAGES, shared: true });
}

/** Does this module import its memory (the threaded build)? */
export function isThreadedModule(module) {
  return WebAssembly.Module.imports(module).some((i) => i.module === 'env' && i.name === 'memory' && i.kind === 'memory');
}

/** The imports of the threaded build on the owning thread. */
export function threadedImports(memory) {
  return {
    env: {
      memory,
      emscripten_notify_memory_growth() {},
      rnnlab_wait() { throw new Error('the owning thread never waits'); },
      rnnlab_notify(word) { Atomics.notify(new Int32Array(memory.buffer, word, 1), 0, 1); },
      rnnlab_now() { return performance.now(); },
    },
  };
}

async function spawn(data) {
  if (inNode) {
    const wtModule = 'node:worker_threads';
    const { Worker } = await import(/* webpackIgnore: true */ /* @vite-ignore */ wtModule);
    return new Worker(WORKER_SOURCE, { eval: true, workerData: data });
  }
  const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'text/javascript' }));
  const worker = new Worker(url);
  worker.postMessage(data);
  worker.addEventListener('message', () => URL.revokeObjectURL(url), { once: true });
  return worker;
}

const listen = (worker, type, fn) => (inNode ? worker.on(type, fn) : worker.addEventListener(type, fn));

// Resolves when the worker reports ready; rejects on its error or exit.
function ready(worker, thread) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker ${thread} did not start within ${READY_TIMEOUT_MS / 1000} s`)), READY_TIMEOUT_MS);
    const done = (fn, value) => { clearTimeout(timer); fn(value); };
    listen(worker, 'message', (event) => {
      const message = inNode ? event : event.data;
      if (message?.ready) done(resolve);
      else if (message?.error) done(reject, new Error(`worker ${thread}: ${message.error}`));
    });
    listen(worker, 'error', (err) => done(reject, new Error(`worker ${thread}: ${err?.message ?? err}`)));
    if (inNode) listen(worker, 'exit', (code) => done(reject, new Error(`worker ${thread} exited (code ${code})`)));
  });
}

/** The workers of a threaded engine (thread 0 is the caller's). */
export class Pool {
  constructor(abi, workers) {
    this.abi = abi;
    this.workers = workers;
    this.threads = workers.length + 1;
    this.stopping = false;
  }

  /** Starts threads - 1 workers over the engine's memory; the engine runs on `threads` threads once it resolves. */
  static async start(abi, module, threads) {
    const table = abi.poolStart(threads);
    if (!table) throw new RnnlabError('E_LOAD', `init: could not set up ${threads} threads (out of wasm memory)`);
    const workers = [];
    try {
      for (let t = 1; t < threads; t++) {
        const dead = abi.poolWord(0, t);
        workers.push(await spawn({ module, memory: abi.memory, thread: t, stackTop: table[2 * t], tls: table[2 * t + 1], dead }));
      }
      await Promise.all(workers.map((w, i) => ready(w, i + 1)));
    } catch (err) {
      abi.poolStop();
      for (const w of workers) w.terminate();
      throw new RnnlabError('E_LOAD', `init: could not start the engine's worker threads: ${err.message}`);
    }
    const pool = new Pool(abi, workers);
    workers.forEach((w, i) => pool._watch(w, i + 1));
    // after the listeners, which ref a Node worker's port again: the
    // workers must not keep a process alive
    if (inNode) for (const w of workers) w.unref();
    abi.poolUse(threads);
    return pool;
  }

  // A worker that ends while the pool runs: its dead word tells the engine
  // (which then finishes jobs alone), and the next call reports it.
  _watch(worker, thread) {
    const lost = (why) => {
      if (this.stopping) return;
      this.abi.markDead(thread, `worker thread ${thread} of ${this.threads} stopped (${why})`);
    };
    listen(worker, 'error', (err) => lost(err?.message ?? String(err)));
    if (inNode) listen(worker, 'exit', (code) => lost(`exit code ${code}`));
    listen(worker, 'message', (event) => {
      const message = inNode ? event : event.data;
      if (message?.error) lost(message.error);
    });
  }

  /** Stops the workers (the engine is not used afterwards). */
  async terminate() {
    this.stopping = true;
    this.abi.poolStop();
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
