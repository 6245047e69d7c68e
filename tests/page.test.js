// The page in real Chromium: train the three cells on the adding problem, check
// that every plot and the table got data, that the page stayed responsive and
// the console clean, save and load a model, and keep a screenshot
// (tests/artifacts/page.png). Then the character model, which reads ids through
// an embedding, on a huge paste: it samples, its downloads keep the embedding,
// and a one-hot character model saved before the embedding still loads.
// Waits poll every 250 ms rather than every frame, so the test itself does
// not load the main thread it measures.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../web/server.js';
import { createModel, loadModel, weightsFromJSON, decodeSafetensors, Vocabulary } from '../web/rnnlab.js';
import { createTask } from '../web/demo/tasks.js';
import { prepareText } from '../web/demo/text.js';
import { launchBrowser, skipUnlessBrowser } from './helpers/browser.js';
import { watchConsole } from './helpers/launch.js';

const ARTIFACTS = join(dirname(fileURLToPath(import.meta.url)), 'artifacts');
const LONG_TASK_LIMIT_MS = 100;
const PLOTS = ['loss', 'flow', 'grad', 'spectral', 'gates', 'prediction'];
const PASTED_LINE = 'the quick otter counts three feathers by the water, and the herons listen.\n';

const skip = await skipUnlessBrowser();
let server;
let browser;
let page;
const consoleProblems = [];

before(async () => {
  if (skip) return;
  server = await startServer({ port: 0 });
  browser = await launchBrowser({ viewport: { width: 1440, height: 1400 } }); // tall enough for the whole settings column
  page = await browser.context.newPage();
  watchConsole(page, consoleProblems);
  // Long tasks on the main thread, recorded from the very start.
  await page.addInitScript(() => {
    window.__longTasks = [];
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        window.__longTasks.push({ start: Math.round(entry.startTime), duration: Math.round(entry.duration) });
      }
    }).observe({ type: 'longtask', buffered: true });
    // What slow frames were doing (scripts, style and layout), for failure messages.
    window.__slowFrames = [];
    if (PerformanceObserver.supportedEntryTypes.includes('long-animation-frame')) {
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) {
          if (e.duration <= 100) continue;
          window.__slowFrames.push({
            start: Math.round(e.startTime), duration: Math.round(e.duration),
            styleAndLayout: e.styleAndLayoutStart ? Math.round(e.startTime + e.duration - e.styleAndLayoutStart) : 0,
            scripts: e.scripts.map((x) => `${x.invoker} ${(x.sourceURL || '').split('/').pop()}:${x.sourceCharPosition} ${Math.round(x.duration)} ms`),
          });
        }
      }).observe({ type: 'long-animation-frame', buffered: true });
    }
  });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

const longTasksSince = (t0) => page.evaluate((since) => window.__longTasks.filter((t) => t.start >= since), t0);
const now = () => page.evaluate(() => performance.now());
const slowOnes = (tasks) => tasks.filter((t) => t.duration > LONG_TASK_LIMIT_MS);
// Long tasks are wall-clock time. On a shared machine running more than one
// busy thread per core, the browser can stall for reasons outside the page;
// then (and only then) a fresh measuring window is allowed.
const overloaded = () => loadavg()[0] > availableParallelism();
const machineLoad = () => `load average ${loadavg().map((v) => v.toFixed(1)).join(' ')} on ${availableParallelism()} cores`;

async function rows() {
  return page.$$eval('#comparison-rows tr', (trs) => trs.map((tr) => ({
    cell: tr.dataset.cell,
    label: tr.cells[0].textContent,
    steps: Number(tr.dataset.steps ?? 0),
    firstLoss: Number(tr.dataset.firstLoss),
    loss: Number(tr.dataset.loss),
    valLoss: Number(tr.dataset.valLoss),
    texts: [...tr.cells].map((td) => td.textContent.trim()),
  })));
}

test('the page trains RNN, LSTM and GRU on the adding problem, live and responsive', { skip, timeout: 90_000 }, async () => {
  const response = await page.goto(server.url);
  const csp = response.headers()['content-security-policy'] ?? '';
  assert.match(csp, /'wasm-unsafe-eval'/, 'the page is served with a CSP that allows WebAssembly');
  assert.doesNotMatch(csp, /'unsafe-eval'/, 'the CSP does not allow JavaScript eval');

  await page.waitForSelector('body[data-state="ready"]', { timeout: 30_000, polling: 250 });
  assert.equal(await page.$eval('#task', (el) => el.value), 'adding');
  await page.check('input[name="cell"][value="all"]');
  await page.waitForFunction(() => document.querySelectorAll('#comparison-rows tr').length === 3, null, { polling: 250 });

  const t0 = await now();
  await page.click('#train');
  await page.waitForSelector('body[data-state="training"]');
  // Train for at least 6 s, and until every cell has taken 150 steps.
  await page.waitForTimeout(6000);
  await page.waitForFunction(
    () => [...document.querySelectorAll('#comparison-rows tr')].every((tr) => Number(tr.dataset.steps) >= 150),
    null, { timeout: 30_000, polling: 250 },
  );
  // The page stays responsive while it trains; re-measured in a new window
  // (training on) only when the machine itself is overloaded.
  let longTasks = await longTasksSince(t0);
  const windows = [longTasks];
  for (let retry = 0; retry < 2 && slowOnes(longTasks).length && overloaded(); retry++) {
    const t1 = await now();
    await page.waitForTimeout(5000);
    longTasks = await longTasksSince(t1);
    windows.push(longTasks);
  }
  await page.click('#train');
  await page.waitForSelector('body[data-state="paused"]');
  await page.waitForTimeout(700); // the last progress and evaluation arrive, and are drawn
  const table = await rows();
  assert.deepEqual(table.map((r) => r.cell).sort(), ['gru', 'lstm', 'rnn']);
  for (const row of table) {
    assert.ok(row.steps >= 150, `${row.cell}: ${row.steps} steps`);
    assert.ok(Number.isFinite(row.firstLoss) && Number.isFinite(row.loss), `${row.cell}: losses in the table`);
    assert.ok(row.loss < 0.8 * row.firstLoss, `${row.cell}: loss fell from ${row.firstLoss} to ${row.loss}`);
    assert.ok(Number.isFinite(row.valLoss), `${row.cell}: a validation loss`);
    // name, parameters, ms/step, steps, loss, val, steps to target: all filled
    for (const text of row.texts.slice(0, 7)) assert.notEqual(text, '—', `${row.cell}: a filled row, got ${row.texts.join(' | ')}`);
  }

  const points = await page.$$eval('[data-plot]', (cards) => Object.fromEntries(cards.map((c) => [c.dataset.plot, Number(c.dataset.points ?? 0)])));
  for (const plot of PLOTS) assert.ok(points[plot] > 0, `the ${plot} plot got data (${points[plot]} points)`);
  // every cell's series in the loss and flow plots has data, not just one of them
  const seriesFilled = await page.$$eval('#card-loss .u-legend .u-series, #card-flow .u-legend .u-series', (els) => els.length);
  assert.ok(seriesFilled >= 7, 'the loss and flow legends list every cell');

  const steps = Number((await page.textContent('#step-count')).replace(/,/g, ''));
  assert.ok(steps >= 150, `step counter shows ${steps}`);
  assert.match(await page.textContent('#ms-per-step'), /^\d+\.\d+$/);

  assert.deepEqual(slowOnes(longTasks), [],
    `no main-thread task over ${LONG_TASK_LIMIT_MS} ms while training; long tasks per window: ${JSON.stringify(windows)}; `
    + `slow frames: ${JSON.stringify(await page.evaluate(() => window.__slowFrames))}; ${machineLoad()}`);

  // 'Check gradients' reports each model's worst relative error and the tolerance
  // (whether trained page models pass at 1e-2 is still open: see the notes)
  await page.click('#gradcheck');
  await page.waitForFunction(() => /RNN.*LSTM.*GRU/.test(document.querySelector('#gradcheck-result').textContent), null, { polling: 250, timeout: 30_000 });
  const checked = await page.textContent('#gradcheck-result');
  assert.equal((checked.match(/worst relative error \d\.\de-\d+ \(\w+; tolerance 0\.01 for float32\)/g) ?? []).length, 3, checked);

  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, 'page.png'), fullPage: true });
  assert.deepEqual(consoleProblems, [], 'console stays clean');
});

// The ONNX and TF.js downloads of the LSTM row run in onnxruntime-node and
// TensorFlow.js and give the saved model's predictions (float32 both sides,
// atol 2e-5 + rtol 1e-4 as in tests/onnx-runtime.test.js and tfjs.test.js).
async function checkRuntimeDownloads(saved) {
  const { readFile } = await import('node:fs/promises');
  const ort = await import('onnxruntime-node');
  const tf = await import('@tensorflow/tfjs');
  await tf.setBackend('cpu');
  const [N, T, X] = [3, 50, saved.config.inputSize];
  const x = Float32Array.from({ length: N * T * X }, (_, i) => Math.sin(i * 0.37) * 0.9);
  const want = saved.predict(x, { shape: [N, T, X] }).output;
  const largest = {};
  const close = (got, what) => {
    assert.equal(got.length, want.length, what);
    largest[what] = Math.max(...Array.from(got, (v, i) => Math.abs(v - want[i])));
    const worst = Math.max(...Array.from(got, (v, i) => Math.abs(v - want[i]) - 1e-4 * Math.abs(want[i])));
    assert.ok(worst <= 2e-5, `${what}: differs from the saved model's predict by ${worst} beyond 1e-4·|value|`);
  };

  const [onnxFile] = await Promise.all([
    page.waitForEvent('download'),
    page.click('#comparison-rows tr[data-cell="lstm"] button[data-action="onnx"]'),
  ]);
  assert.match(onnxFile.suggestedFilename(), /^rnnlab-lstm-adding\.onnx$/);
  const session = await ort.InferenceSession.create(await readFile(await onnxFile.path()));
  const out = await session.run({ input: new ort.Tensor('float32', x, [N, T, X]) });
  close(out.output.data, 'the .onnx download in onnxruntime-node');
  await session.release();

  const downloads = [];
  const collect = (d) => downloads.push(d);
  page.on('download', collect);
  await page.click('#comparison-rows tr[data-cell="lstm"] button[data-action="tfjs"]');
  for (let k = 0; k < 80 && downloads.length < 2; k++) await new Promise((r) => setTimeout(r, 250));
  page.off('download', collect);
  assert.deepEqual(downloads.map((d) => d.suggestedFilename()), ['rnnlab-lstm-adding.model.json', 'rnnlab-lstm-adding.weights.bin']);
  const modelJSON = JSON.parse(await readFile(await downloads[0].path(), 'utf8'));
  assert.deepEqual(modelJSON.weightsManifest[0].paths, ['rnnlab-lstm-adding.weights.bin'], 'model.json names the weights download');
  const weights = await readFile(await downloads[1].path());
  const tfModel = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: modelJSON.modelTopology,
    weightSpecs: modelJSON.weightsManifest[0].weights, weightData: new Uint8Array(weights).buffer }));
  const y = tfModel.predict(tf.tensor3d(x, [N, T, X]));
  close(await y.data(), 'the TF.js download in TensorFlow.js');
  y.dispose();
  tfModel.dispose();
  return Object.entries(largest).map(([k, v]) => `${k}: max |difference| ${v.toExponential(2)}`).join('\n');
}

test('a saved model loads back with the same validation loss', { skip, timeout: 60_000 }, async (t) => {
  const lstm = (await rows()).find((r) => r.cell === 'lstm');
  assert.ok(lstm, 'an LSTM row to save');
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.click('#comparison-rows tr[data-cell="lstm"] button[data-action="save"]'),
  ]);
  assert.match(download.suggestedFilename(), /^rnnlab-lstm-adding-step\d+\.rnnlab$/);
  const file = await download.path();

  const [exported] = await Promise.all([
    page.waitForEvent('download'),
    page.click('#comparison-rows tr[data-cell="lstm"] button[data-action="export"]'),
  ]);
  assert.match(exported.suggestedFilename(), /weights\.json$/);
  const [tensors] = await Promise.all([
    page.waitForEvent('download'),
    page.click('#comparison-rows tr[data-cell="lstm"] button[data-action="safetensors"]'),
  ]);
  assert.match(tensors.suggestedFilename(), /weights\.safetensors$/);
  // The downloads are the library's formats: each loads into a model of the
  // same config and gives the saved model's parameters exactly.
  const { readFile } = await import('node:fs/promises');
  const saved = await loadModel(await readFile(file));
  const json = weightsFromJSON(await readFile(await exported.path(), 'utf8'));
  assert.deepEqual(json['rnn.weight_hh_l0'].shape, [4 * 32, 32], 'PyTorch layout: weight_hh_l0 is (4H, H)');
  for (const dict of [json, decodeSafetensors(await readFile(await tensors.path()))]) {
    const fresh = await createModel(saved.config);
    fresh.importWeights(dict);
    assert.deepEqual(fresh.getParameters(), saved.getParameters(), 'the downloaded weights are the saved model\'s');
    fresh.dispose();
  }
  t.diagnostic(await checkRuntimeDownloads(saved));
  saved.dispose();

  // The file carries its task settings: with another sequence length in the
  // form, loading it brings back T = 50 and the same validation data.
  await page.fill('#seqLength', '30');
  await page.dispatchEvent('#seqLength', 'change');
  await page.waitForFunction(() => /^Ready/.test(document.querySelector('#status').textContent), null, { timeout: 20_000, polling: 250 });
  await page.setInputFiles('#model-file', file);
  await page.waitForFunction(() => {
    const trs = document.querySelectorAll('#comparison-rows tr');
    return trs.length === 1 && trs[0].dataset.valLoss !== undefined;
  }, null, { timeout: 20_000, polling: 250 });
  const [loaded] = await rows();
  assert.equal(loaded.cell, 'lstm');
  assert.match(loaded.label, /loaded/);
  assert.ok(Math.abs(loaded.valLoss - lstm.valLoss) <= 1e-6 * Math.max(1, lstm.valLoss),
    `validation loss after loading ${loaded.valLoss}, before saving ${lstm.valLoss}`);
  assert.match(await page.textContent('#status'), /Loaded/);
  assert.equal(await page.inputValue('#seqLength'), '50', 'the sequence length saved with the model');

  // A corrupt file is refused with a message, and the loaded model stays.
  await page.setInputFiles('#model-file', { name: 'broken.rnnlab', mimeType: 'application/octet-stream', buffer: Buffer.from('not a model at all') });
  await page.waitForSelector('#status.error', { timeout: 10_000 });
  assert.match(await page.textContent('#status'), /Could not load the model/);
  assert.equal((await rows()).length, 1);
});

// The character model reads ids through an embedding (16 numbers for each of
// the pasted text's 23 characters): the saved file, the weights downloads and
// the ONNX download keep it, and loading the file back on the page, over the
// same text, gives the same validation loss. Returns the saved file's path.
async function checkCharDownloads() {
  const { readFile } = await import('node:fs/promises');
  // The figures of the pause arrive with its last diagnosis and are drawn on
  // a later animation frame: read the table once it has settled.
  let before = null;
  for (let i = 0; i < 20; i++) {
    const [row] = await rows();
    if (before && row.valLoss === before.valLoss && row.steps === before.steps) break;
    before = row;
    await page.waitForTimeout(400);
  }
  const V = 23;
  assert.match(await page.textContent('#task-hint'), new RegExp(`embedding.*Now: an alphabet of ${V}, so the table is ${V} × 16\\.`));
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#comparison-rows tr button[data-action="save"]')]);
  const file = await download.path();
  const saved = await loadModel(await readFile(file));
  assert.deepEqual(saved.config.embedding, { vocabSize: V, size: 16 });
  assert.equal(Array.from(saved.metadata.alphabet).length, V);
  const [exported] = await Promise.all([page.waitForEvent('download'), page.click('#comparison-rows tr button[data-action="export"]')]);
  const [tensors] = await Promise.all([page.waitForEvent('download'), page.click('#comparison-rows tr button[data-action="safetensors"]')]);
  for (const dict of [weightsFromJSON(await readFile(await exported.path(), 'utf8')), decodeSafetensors(await readFile(await tensors.path()))]) {
    assert.deepEqual(dict['embedding.weight'].shape, [V, 16], 'the table is PyTorch\'s embedding.weight');
    const fresh = await createModel(saved.config);
    fresh.importWeights(dict);
    assert.deepEqual(fresh.getParameters(), saved.getParameters(), 'the downloaded weights are the saved model\'s');
    fresh.dispose();
  }
  // the ONNX download reads int64 ids and gives the saved model's outputs
  const ort = await import('onnxruntime-node');
  const [onnxFile] = await Promise.all([page.waitForEvent('download'), page.click('#comparison-rows tr button[data-action="onnx"]')]);
  const [N, T] = [2, 12];
  const ids = Int32Array.from({ length: N * T }, (_, i) => (i * 7) % V);
  const want = saved.predict(ids, { shape: [N, T] }).output;
  const session = await ort.InferenceSession.create(await readFile(await onnxFile.path()));
  const got = (await session.run({ input: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [N, T]) })).output.data;
  await session.release();
  const worst = Math.max(...Array.from(got, (v, i) => Math.abs(v - want[i]) - 1e-4 * Math.abs(want[i])));
  assert.ok(worst <= 2e-5, `the character model's .onnx differs from the saved model's predict by ${worst} beyond 1e-4·|value|`);
  saved.dispose();

  await page.setInputFiles('#model-file', file);
  await page.waitForFunction(() => {
    const trs = document.querySelectorAll('#comparison-rows tr');
    return trs.length === 1 && /loaded/.test(trs[0].cells[0].textContent) && trs[0].dataset.valLoss !== undefined;
  }, null, { timeout: 20_000, polling: 250 });
  const [loaded] = await rows();
  assert.ok(Math.abs(loaded.valLoss - before.valLoss) <= 1e-6 * Math.max(1, before.valLoss),
    `validation loss after loading ${loaded.valLoss}, before saving ${before.valLoss}`);
  return file;
}

// A character model that reads one-hot vectors (as the page saved them
// before it used an embedding) still loads over the same text: the page then
// feeds it one-hot vectors, its validation loss is the one Node computes on
// the same held-out text, and it samples.
async function checkOneHotLoad() {
  const prepared = prepareText(PASTED_LINE.repeat(Math.ceil(3_000_000 / PASTED_LINE.length)));
  const vocab = Vocabulary.fromText(prepared.text);
  const V = vocab.size;
  const task = createTask({ task: 'chars', seqLength: 50, seed: 1, ids: vocab.encode(prepared.text), vocabSize: V, embeddingSize: 0 });
  assert.deepEqual(task.validation.shape.slice(1), [50, V], 'one-hot vectors');
  const m = await createModel({ cell: 'gru', inputSize: V, hiddenSize: 8, outputSize: V, loss: 'cross-entropy', seed: 4 });
  for (let i = 0; i < 20; i++) m.trainStep(task.batch(16), { optimizer: { type: 'adam', lr: 0.03 } });
  const want = m.evaluate(task.validation, { batchSize: 128 }).loss;
  const metadata = { savedBy: 'rnnlab page', task: { name: 'chars', seqLength: 50, textSource: 'user' }, alphabet: vocab.chars.join('') };
  const buffer = Buffer.from(m.save({ metadata }));
  m.dispose();
  await page.setInputFiles('#model-file', { name: 'one-hot.rnnlab', mimeType: 'application/octet-stream', buffer });
  await page.waitForFunction(() => {
    const trs = document.querySelectorAll('#comparison-rows tr');
    return /Loaded one-hot/.test(document.querySelector('#status').textContent) && trs.length === 1 && trs[0].dataset.valLoss !== undefined;
  }, null, { timeout: 20_000, polling: 250 });
  const [loaded] = await rows();
  assert.equal(loaded.cell, 'gru');
  assert.ok(Math.abs(loaded.valLoss - want) <= 1e-6 * Math.max(1, want), `validation loss on the page ${loaded.valLoss}, in Node ${want}`);
  assert.match(await page.textContent('#task-hint'), new RegExp(`Now: one-hot vectors of ${V} \\(a model saved before the page used an embedding\\)\\.`));
  await page.click('#sample');
  await page.waitForFunction(() => document.getElementById('sample-text').textContent.length > 100, null, { timeout: 10_000, polling: 250 });
  assert.match(await page.textContent('#sample-text'), /^[a-z ,.\n]+$/, 'the one-hot model samples in the text\'s alphabet');
}

test('a huge pasted text trains a character model without freezing the page', { skip, timeout: 90_000 }, async () => {
  await page.selectOption('#task', 'chars');
  await page.waitForFunction(() => /^Ready: .* character model/.test(document.querySelector('#status').textContent), null, { timeout: 30_000, polling: 250 });
  // About 3 million characters arrive through a real paste event; the page's
  // handler must return at once and leave the work to the worker.
  const handlerMs = await page.evaluate((line) => {
    const text = line.repeat(Math.ceil(3_000_000 / line.length));
    const data = new DataTransfer();
    data.setData('text/plain', text);
    const started = performance.now();
    document.getElementById('user-text').dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
    return performance.now() - started;
  }, PASTED_LINE);
  const t0 = await now();
  assert.ok(handlerMs < LONG_TASK_LIMIT_MS, `the paste handler took ${handlerMs} ms`);
  await page.waitForFunction(() => /cut from/.test(document.getElementById('text-info').textContent), null, { timeout: 30_000, polling: 250 });
  const whilePreparing = await longTasksSince(t0);
  const info = await page.textContent('#text-info');
  assert.match(info, /cut from 3,0\d\d,\d\d\d/, `the text is cut to the limit: ${info}`);
  assert.ok((await page.inputValue('#user-text')).length <= 4000, 'the text box holds a preview only');
  assert.deepEqual(slowOnes(whilePreparing), [],
    `no main-thread task over ${LONG_TASK_LIMIT_MS} ms while the worker prepares the text; ${machineLoad()}`);
  await page.waitForFunction(() => document.querySelector('#status').textContent.startsWith('Ready'), null, { timeout: 30_000, polling: 250 });

  await page.click('#train');
  await page.waitForTimeout(3000);
  await page.click('#train');
  await page.waitForSelector('body[data-state="paused"]');
  await page.click('#sample');
  await page.waitForFunction(() => document.getElementById('sample-text').textContent.length > 100, null, { timeout: 10_000, polling: 250 });
  const samples = await page.textContent('#sample-text');
  assert.match(samples, /^[a-z ,.\n]+$/, `the sample is written in the pasted text's alphabet: ${JSON.stringify(samples.slice(0, 80))}`);

  const file = await checkCharDownloads();
  await checkOneHotLoad();

  // The model file carries its alphabet: over the built-in text, whose
  // alphabet differs, it is refused rather than read with the wrong encoding.
  await page.check('input[name="textSource"][value="builtin"]');
  await page.waitForFunction(() => /^Ready: .* character model/.test(document.querySelector('#status').textContent), null, { timeout: 30_000, polling: 250 });
  await page.setInputFiles('#model-file', file);
  await page.waitForSelector('#status.error', { timeout: 10_000 });
  assert.match(await page.textContent('#status'), /trained on another alphabet \(\d+ characters: .*\) than the current text's/);
  assert.deepEqual(consoleProblems, [], 'console stays clean');
});
