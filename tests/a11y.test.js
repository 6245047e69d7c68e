// Accessibility of the page (issue #15), in Chromium and Firefox:
// - axe-core (injected by the test, not served) finds no violations at rest,
//   while training, after training, at 390 px, in each task, and on the spec page;
// - 200% zoom (a 1400 px window at zoom 2 lays out like 700 px) and 390 px
//   lose nothing: no sideways scrolling; screenshots in tests/artifacts/;
// - every plot's text alternative carries the numbers the plot draws, checked
//   against the worker's own messages replayed through the plots' stores;
// - the whole path, from load to a downloaded and reloaded model, works with
//   the keyboard alone, with the focus always visible.
// tests/artifacts/axe-results.json lists axe's result per browser and state.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../web/server.js';
import { DecimatedSeries, formatValue } from '../web/demo/series.js';
import { launchBrowser, skipUnlessBrowser } from './helpers/browser.js';
import { launchFirefox, skipUnlessFirefox } from './helpers/firefox.js';
import { watchConsole } from './helpers/launch.js';
import { axeViolations, describeViolations, AXE_VERSION } from './helpers/axe.js';
import { recordWorker, readRecording, tabTo, focusIsVisible, waitForStatus } from './helpers/page-a11y.js';

const ARTIFACTS = join(dirname(fileURLToPath(import.meta.url)), 'artifacts');
const skip = await skipUnlessBrowser();
const skipFirefox = await skipUnlessFirefox();
const results = [];
let server;
let browser;
let page;
const consoleProblems = [];

before(async () => {
  if (skip && skipFirefox) return;
  server = await startServer({ port: 0 });
  mkdirSync(ARTIFACTS, { recursive: true });
  if (skip) return;
  browser = await launchBrowser({ viewport: { width: 1400, height: 1000 } });
  page = await browser.context.newPage();
  watchConsole(page, consoleProblems);
  await page.addInitScript(recordWorker);
});

after(async () => {
  await browser?.close();
  await server?.close();
  if (!results.length) return;
  writeFileSync(join(ARTIFACTS, 'axe-results.json'), `${JSON.stringify({ axe: AXE_VERSION, results }, null, 2)}\n`);
  console.log(`axe-core ${AXE_VERSION}:\n${results.map((r) => `  ${r.browser.padEnd(9)} ${r.state.padEnd(34)} ${r.violations} violations${r.rules.length ? ` (${r.rules.join(', ')})` : ''}`).join('\n')}`);
});

/** Runs axe on the page, records the result, and asserts there is no violation. */
async function checkAxe(target, browserName, state) {
  const violations = await axeViolations(target);
  results.push({ browser: browserName, state, violations: violations.length, rules: violations.map((v) => v.id) });
  assert.deepEqual(violations.map((v) => v.id), [], `${browserName}, ${state}:\n${describeViolations(violations)}`);
}

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const rowCount = (p) => p.evaluate(() => document.querySelectorAll('#comparison-rows tr').length);
const noSidewaysScroll = (p) => p.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1);

async function trainFor(p, ms) {
  await p.click('#train');
  await p.waitForSelector('body[data-state="training"]');
  await pause(ms);
  await p.click('#train');
  await p.waitForSelector('body[data-state="paused"]');
}

test('Chromium: axe finds nothing at rest, while training and after training (1400 px)', { skip, timeout: 120_000 }, async () => {
  await page.emulateMedia({ reducedMotion: 'reduce' });
  await page.goto(server.url);
  await page.waitForSelector('body[data-state="ready"]', { timeout: 30_000 });
  assert.equal(await rowCount(page), 3, 'the three cells by default');
  await checkAxe(page, 'Chromium', 'at rest (1400 px)');
  await page.click('#train');
  await page.waitForSelector('body[data-state="training"]');
  await pause(4000);
  await checkAxe(page, 'Chromium', 'while training (1400 px)');
  await page.click('#train');
  await page.waitForSelector('body[data-state="paused"]');
  await waitForStatus(page, /^Paused/);
  await checkAxe(page, 'Chromium', 'after training (1400 px)');
  // prefers-reduced-motion: nothing on the page transitions or animates.
  const moving = await page.evaluate(() => [...document.querySelectorAll('*')]
    .filter((el) => getComputedStyle(el).transitionDuration.split(',').some((d) => parseFloat(d) > 0)).length);
  assert.equal(moving, 0, 'no transitions under prefers-reduced-motion');
  await page.screenshot({ path: join(ARTIFACTS, 'a11y-1400.png'), fullPage: true });
});

// ---- the text alternatives against the worker's data -----------------------------------

// The loss and gradient stores as the board fills them, from the worker's progress messages.
function replayStores(progress, ids) {
  const loss = new DecimatedSeries(ids);
  const grad = new DecimatedSeries(ids.flatMap((id) => [`${id}:before`, `${id}:after`]));
  for (const message of progress) {
    const byId = new Map(message.cells.map((c) => [c.id, c.record]));
    message.steps.forEach((step, i) => {
      loss.push(step, ids.map((id) => byId.get(id)?.loss[i] ?? null));
      grad.push(step, ids.flatMap((id) => [byId.get(id)?.gradNorm[i] ?? null, byId.get(id)?.gradNormAfter[i] ?? null]));
    });
  }
  return { loss: loss.data(), grad: grad.data() };
}

const lastOf = (column) => column.findLast((v) => v != null);
const mean = (values) => values.reduce((s, v) => s + v, 0) / values.length;

function expectIn(text, fragment, what) {
  assert.ok(text.includes(fragment), `${what}: "${fragment}" in "${text}"`);
}

test('Chromium: each plot\'s text alternative carries the numbers it draws, as the worker sent them', { skip, timeout: 60_000 }, async () => {
  const steps = Number((await page.textContent('#step-count')).replace(/,/g, ''));
  await page.waitForFunction((n) => document.getElementById('loss-summary').textContent.includes(`after ${n.toLocaleString('en-US')} steps`),
    steps, { timeout: 10_000, polling: 250 });
  await pause(3500); // every summary follows its last drawing within 3 s
  const rx = await readRecording(page);
  const text = await page.evaluate(() => Object.fromEntries([...document.querySelectorAll('.plot-summary')].map((p) => [p.id, p.textContent])));
  const last = rx.progress.at(-1);
  const diag = rx.diags.at(-1);
  assert.equal(last.totalSteps, steps);
  assert.ok(rx.diags.length < 300, 'the validation and spectral stores have not merged points yet');
  const rows = await page.$$eval('#comparison-rows tr', (trs) => trs.map((tr) => [tr.dataset.id, tr.cells[0].textContent, tr.dataset.cell]));
  const labels = Object.fromEntries(rows.map(([id, label]) => [id, label]));
  const kinds = Object.fromEntries(rows.map(([id, , kind]) => [id, kind]));
  const ids = last.cells.map((c) => c.id);
  const stores = replayStores(rx.progress, ids);
  ids.forEach((id, k) => {
    const label = labels[id];
    const cell = last.cells[k];
    const d = diag.cells.find((c) => c.id === id);
    expectIn(text['loss-summary'], `${label} train ${formatValue(lastOf(stores.loss[k + 1]))}`, 'last training loss');
    expectIn(text['loss-summary'], `${label} val ${formatValue(d.val.loss)}`, 'last validation loss');
    expectIn(text['grad-summary'], `${label} before ${formatValue(lastOf(stores.grad[2 * k + 1]))}`, 'gradient norm before clipping');
    expectIn(text['grad-summary'], `${label} after ${formatValue(lastOf(stores.grad[2 * k + 2]))}`, 'gradient norm after clipping');
    expectIn(text['grad-summary'], `${label} ${Math.round((100 * cell.clippedCount) / steps)}% (${cell.clippedCount.toLocaleString('en-US')} of ${steps.toLocaleString('en-US')})`, 'share of clipped steps');
    expectIn(text['flow-summary'], `${label} h ${formatValue(cell.flow[0].at(-1))}`, 'gradient ratio at the farthest lag');
    if (cell.flowC) expectIn(text['flow-summary'], `${label} c ${formatValue(cell.flowC[0].at(-1))}`, 'cell-state gradient ratio');
    const gates = { rnn: ['h'], lstm: ['i', 'f', 'g', 'o'], gru: ['r', 'z', 'n'] }[kinds[id]];
    for (const gate of gates) expectIn(text['spectral-summary'], `${label} ${gate} ${formatValue(d.spectral[0][gate])}`, 'spectral norm');
    const p = d.prediction;
    const mae = mean(p.output.map((v, i) => Math.abs(v - p.target[i])));
    expectIn(text['prediction-summary'], `${label} ${formatValue(mae)}`, 'mean absolute error of the predicted sum');
  });
  expectIn(text['flow-summary'], `${(last.cells[0].flow[0].length - 1)} steps back`, 'the farthest lag');
  // The gates card shows the LSTM: its input gate's mean and saturation, as traced.
  const lstm = diag.cells.find((c) => labels[c.id] === 'LSTM');
  const trace = lstm.trace;
  expectIn(text['gates-summary'], `input gate i mean ${formatValue(mean(trace.layers[0].i))}, ${Math.round(100 * trace.saturation[0].i)}% saturated`, 'input gate');
  expectIn(text['gates-summary'], `forget gate f mean ${formatValue(mean(trace.layers[0].f))}`, 'forget gate');
  expectIn(text['gates-summary'], `${trace.H} units over ${trace.T} steps`, 'the trace\'s shape');

  // The loss plot's data as a table: its last row is the last plotted point.
  await page.click('#card-loss .plot-data > summary');
  await page.waitForSelector('#card-loss table.data tbody tr');
  const lastRow = await page.$$eval('#card-loss table.data tbody tr', (trs) => [...trs.at(-1).cells].map((c) => c.textContent));
  const x = stores.loss[0];
  assert.equal(lastRow[0], String(x.at(-1)), 'the last row is the last plotted step');
  ids.forEach((id, k) => assert.equal(lastRow[k + 1], stores.loss[k + 1].at(-1) == null ? '—' : formatValue(stores.loss[k + 1].at(-1)), `${labels[id]} train in the table`));
  await checkAxe(page, 'Chromium', 'after training, data tables open');
  assert.deepEqual(consoleProblems, [], 'console stays clean');
});

// ---- the tasks, the narrow screen, zoom and the spec page --------------------------------

test('Chromium: axe finds nothing in each task (adding, copy, sines, chars) once trained', { skip, timeout: 180_000 }, async () => {
  for (const [task, name] of [['copy', 'copy task'], ['sines', 'sine forecast'], ['chars', 'character model'], ['adding', 'adding problem']]) {
    await page.selectOption('#task', task);
    await waitForStatus(page, new RegExp(`^Ready: .* on the ${name}`));
    await checkAxe(page, 'Chromium', `${task}: at rest`);
    await trainFor(page, 2500);
    await waitForStatus(page, /^Paused/);
    await pause(3200); // the summaries catch up
    await checkAxe(page, 'Chromium', `${task}: after training`);
    await page.screenshot({ path: join(ARTIFACTS, `a11y-${task}.png`), fullPage: true });
  }
  assert.deepEqual(consoleProblems, [], 'console stays clean');
});

test('Chromium: at 390 px and at 200% zoom nothing scrolls sideways, and axe finds nothing at 390 px', { skip, timeout: 90_000 }, async () => {
  const narrow = await browser.context.newPage();
  try {
    await narrow.setViewportSize({ width: 390, height: 844 });
    await narrow.goto(server.url);
    await narrow.waitForSelector('body[data-state="ready"]', { timeout: 30_000 });
    await checkAxe(narrow, 'Chromium', 'at rest (390 px)');
    assert.ok(await noSidewaysScroll(narrow), 'no sideways scrolling at 390 px');
    await trainFor(narrow, 3000);
    await pause(3200);
    await narrow.click('#settings-panel > summary');
    await checkAxe(narrow, 'Chromium', 'after training (390 px, settings open)');
    assert.ok(await noSidewaysScroll(narrow), 'no sideways scrolling at 390 px after training');
    await narrow.screenshot({ path: join(ARTIFACTS, 'a11y-390.png'), fullPage: true });
    await narrow.evaluate(() => document.getElementById('card-loss').scrollIntoView());
    await narrow.screenshot({ path: join(ARTIFACTS, 'a11y-390-loss.png') });
  } finally {
    await narrow.close();
  }
  // 200% zoom of a 1400 × 1000 window lays the page out in a CSS viewport of 700 × 500.
  const zoomed = await browser.context.newPage();
  try {
    await zoomed.setViewportSize({ width: 700, height: 500 });
    await zoomed.goto(server.url);
    await zoomed.waitForSelector('body[data-state="ready"]', { timeout: 30_000 });
    await trainFor(zoomed, 2000);
    assert.ok(await noSidewaysScroll(zoomed), 'no sideways scrolling at 200% zoom');
    await checkAxe(zoomed, 'Chromium', 'after training (200% zoom)');
    await zoomed.screenshot({ path: join(ARTIFACTS, 'a11y-zoom200.png') });
    await zoomed.evaluate(() => document.getElementById('card-flow').scrollIntoView());
    await zoomed.screenshot({ path: join(ARTIFACTS, 'a11y-zoom200-flow.png') });
  } finally {
    await zoomed.close();
  }
});

test('Chromium: axe finds nothing on the spec page', { skip, timeout: 60_000 }, async () => {
  const spec = await browser.context.newPage();
  try {
    await spec.goto(new URL('demo/spec.html#s4', server.url).href);
    await spec.waitForSelector('html[data-rendered]', { timeout: 30_000 });
    await checkAxe(spec, 'Chromium', 'spec page (1400 px)');
    await spec.setViewportSize({ width: 390, height: 844 });
    await checkAxe(spec, 'Chromium', 'spec page (390 px)');
  } finally {
    await spec.close();
  }
});

// ---- the keyboard alone ------------------------------------------------------------------

// Tab (or Shift+Tab) to `selector`, and check the focus can be seen there.
async function focusOn(p, selector, options) {
  await tabTo(p, selector, options);
  assert.ok(await focusIsVisible(p), `the focus on ${selector} is visible`);
}

test('Chromium: from load to a downloaded and reloaded model with the keyboard alone', { skip, timeout: 180_000 }, async () => {
  const kb = await browser.context.newPage();
  const problems = watchConsole(kb, []);
  const key = (k) => kb.keyboard.press(k);
  try {
    await kb.goto(server.url);
    await kb.waitForSelector('body[data-state="ready"]', { timeout: 30_000 });
    // 1. The first Tab reaches the skip link; Enter moves the focus to the plots.
    await key('Tab');
    assert.equal(await kb.evaluate(() => document.activeElement.className), 'skip-link');
    assert.ok(await focusIsVisible(kb), 'the skip link shows its focus');
    // 2. A task: Tab to the task list, ArrowDown chooses the copy task.
    await focusOn(kb, '#task');
    await key('ArrowDown');
    await waitForStatus(kb, /^Ready: .* on the copy task/);
    // 3. A cell: Tab to the cell radios (All three), ArrowLeft twice: GRU, then LSTM.
    await focusOn(kb, 'input[name="cell"]:checked');
    await key('ArrowLeft');
    await key('ArrowLeft');
    await kb.waitForFunction(() => document.querySelectorAll('#comparison-rows tr').length === 1
      && document.querySelector('#comparison-rows tr').dataset.cell === 'lstm', null, { timeout: 20_000, polling: 250 });
    await waitForStatus(kb, /^Ready: LSTM on the copy task/);
    // 4. Train: back with Shift+Tab to the Train button, Enter.
    await focusOn(kb, '#train', { back: true });
    await key('Enter');
    await kb.waitForSelector('body[data-state="training"]');
    await waitForStatus(kb, /^Training LSTM/);
    await pause(2500);
    // 5. Pause: Enter again on the same button (it now reads Pause, aria-pressed true).
    assert.equal(await kb.getAttribute('#train', 'aria-pressed'), 'true');
    await key('Enter');
    await kb.waitForSelector('body[data-state="paused"]');
    await waitForStatus(kb, /^Paused/);
    // 6. Step: Tab to Step, Space; the status says the step was taken.
    const before = Number((await kb.textContent('#step-count')).replace(/,/g, ''));
    await focusOn(kb, '#step');
    await key('Space');
    await waitForStatus(kb, /^One step taken: now at step [\d,]+\.$/);
    const after = Number((await kb.textContent('#status')).match(/step ([\d,]+)/)[1].replace(/,/g, ''));
    assert.ok(after > before, `the step count went from ${before} to ${after}`);
    await kb.waitForFunction((n) => document.getElementById('step-count').textContent === n, after.toLocaleString('en-US'), { timeout: 5000, polling: 250 });
    // 7. The loss plot's data: Tab to its disclosure, Enter opens the table.
    await focusOn(kb, '#card-loss .plot-data > summary');
    await key('Enter');
    await kb.waitForSelector('#card-loss table.data tbody tr');
    // 8. "Open an experiment": none exist yet, so the spec page, by its § link in the loss card.
    await focusOn(kb, '#card-flow a.spec-ref');
    const [spec] = await Promise.all([kb.context().waitForEvent('page'), key('Enter')]);
    await spec.waitForSelector('html[data-rendered]', { timeout: 30_000 });
    assert.equal(new URL(spec.url()).hash, '#s4');
    await spec.close();
    // 9. Download a model: Tab to the LSTM row's Save button, Enter.
    await focusOn(kb, 'button[data-action="save"]');
    assert.equal(await kb.evaluate(() => document.activeElement.getAttribute('aria-label')), 'Save: LSTM');
    const [download] = await Promise.all([kb.waitForEvent('download'), key('Enter')]);
    assert.match(download.suggestedFilename(), /^rnnlab-lstm-copy-step\d+\.rnnlab$/);
    await waitForStatus(kb, /^Saved rnnlab-lstm-copy/);
    // 10. Load it back: Shift+Tab up to the file button, Space opens the file chooser.
    await focusOn(kb, '#model-file', { back: true });
    const [chooser] = await Promise.all([kb.waitForEvent('filechooser'), key('Space')]);
    await chooser.setFiles(await download.path());
    await waitForStatus(kb, /^Loaded .*: LSTM \(loaded\)/);
    // 11. All three cells again, trained a moment, and the gate heatmaps' cell tabs.
    await focusOn(kb, 'input[name="cell"]:checked', { back: true });
    await key('ArrowRight');
    await key('ArrowRight');
    await waitForStatus(kb, /^Ready: RNN, LSTM, GRU/);
    await focusOn(kb, '#train', { back: true });
    await key('Enter');
    await pause(2000);
    await key('Enter');
    await kb.waitForSelector('body[data-state="paused"]');
    await focusOn(kb, 'input[name="gate-cell"]:checked');
    // the summary follows the first evaluation after the pause (summaries are rewritten at a calm rate)
    await kb.waitForFunction(() => /^LSTM/.test(document.getElementById('gates-summary').textContent), null, { timeout: 10_000, polling: 250 });
    await key('ArrowRight');
    await kb.waitForFunction(() => /^GRU/.test(document.getElementById('gates-summary').textContent), null, { timeout: 10_000, polling: 250 });
    assert.equal(await kb.evaluate(() => document.activeElement.value), await kb.$eval('#comparison-rows tr[data-cell="gru"]', (tr) => tr.dataset.id));
    // 12. A legend entry hides and shows its line from the keyboard.
    await focusOn(kb, '#card-loss .legend-toggle');
    await key('Enter');
    assert.equal(await kb.evaluate(() => document.activeElement.getAttribute('aria-pressed')), 'false');
    await key('Enter');
    assert.equal(await kb.evaluate(() => document.activeElement.getAttribute('aria-pressed')), 'true');
    assert.deepEqual(problems, [], 'console stays clean');
  } finally {
    await kb.close();
  }
});

// ---- Firefox --------------------------------------------------------------------------

test('Firefox: axe finds nothing at rest, while training, after training, at 390 px, and on the spec page', { skip: skipFirefox, timeout: 180_000 }, async () => {
  const firefox = await launchFirefox();
  try {
    const ff = await firefox.browser.newPage();
    const problems = watchConsole(ff, []);
    await ff.setViewport({ width: 1400, height: 1000 });
    await ff.goto(server.url);
    await ff.waitForSelector('body[data-state="ready"]', { timeout: 30_000 });
    await checkAxe(ff, 'Firefox', 'at rest (1400 px)');
    await ff.click('#train');
    await ff.waitForSelector('body[data-state="training"]');
    await pause(4000);
    await checkAxe(ff, 'Firefox', 'while training (1400 px)');
    await ff.click('#train');
    await ff.waitForSelector('body[data-state="paused"]');
    await pause(3200);
    await ff.click('#card-loss .plot-data > summary');
    await ff.waitForSelector('#card-loss table.data tbody tr');
    await checkAxe(ff, 'Firefox', 'after training, a data table open');
    for (const task of ['copy', 'sines', 'chars']) {
      await ff.select('#task', task);
      await ff.waitForFunction(() => /^Ready/.test(document.querySelector('#status').textContent), { polling: 250, timeout: 30_000 });
      await ff.click('#step');
      await ff.waitForFunction(() => /^One step taken/.test(document.querySelector('#status').textContent), { polling: 250, timeout: 30_000 });
      await pause(3200);
      await checkAxe(ff, 'Firefox', `${task}: after one step`);
    }
    await ff.setViewport({ width: 390, height: 844 });
    await pause(500);
    await checkAxe(ff, 'Firefox', 'chars, 390 px');
    assert.ok(await noSidewaysScroll(ff), 'no sideways scrolling at 390 px');
    await ff.goto(new URL('demo/spec.html#s4', server.url).href);
    await ff.waitForSelector('html[data-rendered]', { timeout: 30_000 });
    await checkAxe(ff, 'Firefox', 'spec page (390 px)');
    await ff.setViewport({ width: 1400, height: 1000 });
    await checkAxe(ff, 'Firefox', 'spec page (1400 px)');
    assert.deepEqual(problems, [], 'console stays clean');
  } finally {
    await firefox.close();
  }
});

test('Chromium: status changes are announced: training, paused, steps skipped as not finite, a model given up', { skip, timeout: 90_000 }, async () => {
  const p = await browser.context.newPage();
  try {
    await p.goto(server.url);
    await p.waitForSelector('body[data-state="ready"]', { timeout: 30_000 });
    assert.equal(await p.getAttribute('#status', 'role'), 'status', 'the status line is a polite live region');
    await p.evaluate(() => {
      window.__statuses = [];
      const status = document.getElementById('status');
      new MutationObserver(() => window.__statuses.push(status.textContent)).observe(status, { childList: true, characterData: true, subtree: true });
    });
    // A ReLU RNN with spectral radius 2, η = 1 and no clipping over 200 steps blows up at once.
    await p.check('input[name="cell"][value="rnn"]');
    await waitForStatus(p, /^Ready: RNN on/);
    await p.selectOption('#activation', 'relu');
    for (const [id, value] of [['#recurrentScale', '2'], ['#lrLog', '0'], ['#seqLength', '200']]) {
      await p.fill(id, value);
      await p.dispatchEvent(id, 'change');
    }
    await p.uncheck('#clip');
    await waitForStatus(p, /^Ready: RNN on/);
    await p.click('#train');
    await waitForStatus(p, /^every model diverged/);
    const statuses = await p.evaluate(() => window.__statuses);
    assert.ok(statuses.some((s) => /^Training RNN/.test(s)), `training started: ${statuses.join(' | ')}`);
    assert.ok(statuses.some((s) => /^RNN diverged at step \d+: its loss or gradients are no longer finite/.test(s)), `the model given up: ${statuses.join(' | ')}`);
    // Skips before the worker gives up (10 in a row) are announced when they arrive
    // in an earlier progress message than the giving up; either way with a count.
    for (const s of statuses.filter((line) => /^Steps skipped/.test(line))) {
      assert.match(s, /^Steps skipped because their loss or gradient was not finite: RNN [1-9]\. Training goes on\.$/);
    }
    await p.waitForFunction(() => /not finite|no finite value/.test(document.getElementById('grad-summary').textContent), null, { timeout: 10_000, polling: 250 });
  } finally {
    await p.close();
  }
});
