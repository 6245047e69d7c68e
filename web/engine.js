// engine.js — loads the rnnlab WebAssembly engine, once, and hands the
// library its ABI (abi.js). Picks the SIMD build when the runtime validates
// a tiny SIMD probe module, the fallback build otherwise. Works in Node 20,
// browsers, Web Workers and bundlers (the .wasm URLs use the
// `new URL(..., import.meta.url)` form that bundlers understand).

import { RnnlabError, describe } from './errors.js';
import { checkObject, checkKeys, checkBoolean, checkInt } from './options.js';
import { Abi } from './abi.js';
import { Pool, threadSupport, sharedMemory, isThreadedModule, threadedImports } from './threads.js';

// (module (func (result v128) (v128.const i32x4 0 0 0 0)))
const SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b,
  0x03, 0x02, 0x01, 0x00,
  0x0a, 0x16, 0x01, 0x14, 0x00, 0xfd, 0x0c,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0x0b,
]);

export function simdSupported() {
  try {
    return WebAssembly.validate(SIMD_PROBE);
  } catch {
    return false;
  }
}

const SIMD_URL = new URL('./dist/rnnlab-simd.wasm', import.meta.url);
const PLAIN_URL = new URL('./dist/rnnlab.wasm', import.meta.url);
const THREADS_URL = new URL('./dist/rnnlab-simd-threads.wasm', import.meta.url);
const MAX_THREADS = 16; // src/pool.h POOL_MAX_THREADS

async function readUrl(url) {
  if (url.protocol === 'file:') {
    // Only Node reads file: URLs. The specifier is a variable and marked so
    // that bundlers building for the browser leave this import alone.
    const fsModule = 'node:fs/promises';
    const { readFile } = await import(/* webpackIgnore: true */ /* @vite-ignore */ fsModule);
    return readFile(url);
  }
  const response = await fetch(url);
  if (!response.ok) throw new Error(`HTTP ${response.status} for ${url}`);
  return new Uint8Array(await response.arrayBuffer());
}

// The default .wasm next to this file; when a bundler moved this file away
// from it (an esbuild bundle for Node), Node's resolver finds the package's copy.
async function readDefault(url, name) {
  try {
    return await readUrl(url);
  } catch (err) {
    if (url.protocol === 'file:' && typeof import.meta.resolve === 'function') {
      let resolved = null;
      try {
        resolved = new URL(import.meta.resolve(`rnnlab/dist/${name}`));
      } catch {
        // no installed package to fall back to
      }
      if (resolved && resolved.href !== url.href) return readUrl(resolved);
    }
    throw err;
  }
}

async function compile(source) {
  if (source instanceof WebAssembly.Module) return source;
  if (source instanceof URL || typeof source === 'string') {
    source = await readUrl(source instanceof URL ? source : new URL(source, import.meta.url));
  }
  return WebAssembly.compile(source);
}

let enginePromise = null;

const isWasmSource = (v) => v instanceof WebAssembly.Module || v instanceof ArrayBuffer || ArrayBuffer.isView(v) ||
  v instanceof URL || typeof v === 'string';

function checkInitOptions(options) {
  if (options === null || typeof options !== 'object') {
    // the type and the value: "got number 7", "got string \"simd\""
    const given = options === null || typeof options === 'function' ? describe(options) : `${typeof options} ${describe(options)}`;
    throw new RnnlabError('E_TYPE', `init options: expected an object, got ${given}`);
  }
  checkObject(options, 'init options');
  checkKeys(options, ['wasm', 'simd', 'threads'], 'init options');
  if (options.simd !== undefined) checkBoolean(options.simd, 'init options.simd');
  if (options.threads !== undefined) checkInt(options.threads, 'init options.threads', 1, MAX_THREADS);
  if (options.wasm !== undefined && !isWasmSource(options.wasm)) {
    throw new RnnlabError('E_TYPE', 'init options.wasm: expected a WebAssembly.Module, the bytes of a .wasm file ' +
      `(an ArrayBuffer or typed array), a URL or a string, got ${describe(options.wasm)}`);
  }
}

// What init() resolves to.
const facts = (abi) => ({ simd: abi.simd, threads: abi.threads, threadsUnavailable: abi.threadsWhy });

// The threads to run: the option, or what the runtime allows (its core
// count); 1 where workers cannot share memory or without SIMD (there is no
// threaded fallback build).
async function planThreads(options, simd) {
  const support = await threadSupport();
  const wanted = options.threads ?? support.max;
  if (wanted === 1) return { threads: 1, why: options.threads === 1 ? null : support.reason };
  if (!simd) return { threads: 1, why: 'the threaded build needs WebAssembly SIMD' };
  if (support.max === 1 && support.reason) return { threads: 1, why: support.reason };
  return { threads: wanted, why: null };
}

async function instantiate(module, threaded) {
  if (!threaded) {
    const instance = await WebAssembly.instantiate(module, { env: { emscripten_notify_memory_growth() {} } });
    return { instance, memory: instance.exports.memory };
  }
  const memory = sharedMemory();
  return { instance: await WebAssembly.instantiate(module, threadedImports(memory)), memory };
}

async function load(options) {
  const simd = options.simd ?? simdSupported();
  if (simd && !simdSupported()) {
    throw new RnnlabError('E_LOAD', 'init: the SIMD build was requested but this runtime does not support WebAssembly SIMD');
  }
  const plan = await planThreads(options, simd);
  let module, instance, memory, threaded;
  try {
    const source = options.wasm ?? (plan.threads > 1 ? await readDefault(THREADS_URL, 'rnnlab-simd-threads.wasm')
      : simd ? await readDefault(SIMD_URL, 'rnnlab-simd.wasm') : await readDefault(PLAIN_URL, 'rnnlab.wasm'));
    module = await compile(source);
    threaded = isThreadedModule(module);
    ({ instance, memory } = await instantiate(module, threaded));
  } catch (err) {
    throw new RnnlabError('E_LOAD', `could not load the rnnlab WebAssembly module (${simd ? 'SIMD' : 'fallback'} build): ${err.message}`);
  }
  if (instance.exports._initialize) instance.exports._initialize();
  const abi = new Abi(instance, simd, memory);
  abi.threadsWhy = plan.why;
  if (threaded) {
    // the owning thread's TLS is set up by rnnlab_pool_start, even for 1 thread
    if (plan.threads > 1) abi.pool = await Pool.start(abi, module, plan.threads);
    else if (!abi.poolStart(1)) throw new RnnlabError('E_LOAD', 'init: out of wasm memory setting up the engine');
  }
  return abi;
}

// Loads the engine once; later calls return the same promise. The options
// are checked on every call, also once the engine is loaded; asking for
// another thread count then is E_STATE (terminate() first).
export function init(options = {}) {
  try {
    checkInitOptions(options);
  } catch (err) {
    return Promise.reject(err);
  }
  if (enginePromise) {
    return enginePromise.then((abi) => {
      if (options.threads !== undefined && options.threads !== abi.threads) {
        throw new RnnlabError('E_STATE', `init: the engine is already running on ${abi.threads} thread${abi.threads === 1 ? '' : 's'}; ` +
          `call terminate() first to start it again with ${options.threads}`);
      }
      return facts(abi);
    });
  }
  enginePromise = load(options);
  enginePromise.catch(() => { enginePromise = null; });
  return enginePromise.then(facts);
}

/**
 * Stops the engine's worker threads and unloads it: models made before can
 * no longer be used (E_DISPOSED). The next init() or createModel() loads a
 * new engine. Resolves when the workers have stopped.
 */
export async function terminate() {
  const loading = enginePromise;
  enginePromise = null;
  if (!loading) return;
  let abi;
  try {
    abi = await loading;
  } catch {
    return; // it never loaded
  }
  const stopping = abi.pool?.terminate();
  abi.stop(new RnnlabError('E_DISPOSED', 'the engine was stopped with terminate(): this model is gone; create or load a new one'));
  await stopping;
}

export async function getEngine() {
  if (!enginePromise) await init();
  return enginePromise;
}
