// Driving the page's guided experiments from a test, in playwright-core
// (Chromium) or puppeteer-core (Firefox): only goto, click, evaluate and
// screenshot, which both have with the same meaning.

import { runExperiment } from './experiments.js';

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

/** Polls `fn(arg)` in the page every 250 ms until it is truthy. */
export async function waitInPage(page, fn, arg, timeout, what) {
  const until = Date.now() + timeout;
  for (;;) {
    const value = await page.evaluate(fn, arg);
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await sleep(250);
  }
}

/** Waits for the engine and the experiment buttons. */
export function waitForExperiments(page, timeout = 90_000) {
  return waitInPage(page, () => !!document.querySelector('button[data-experiment]:not([disabled])'), null, timeout, 'the experiment buttons');
}

/** Waits for the experiment `id` to end; resolves to { result, sentence }. */
export async function experimentOutcome(page, id, timeout = 180_000) {
  const found = await waitInPage(page, (key) => {
    const state = document.body.dataset.experiment;
    if (state === 'failed') return { failed: document.getElementById('experiment-status').textContent };
    const outcome = document.querySelector(`#experiment-${key} .outcome`);
    if (state !== 'done' || !outcome?.dataset.result) return null;
    return { result: outcome.dataset.result, sentence: outcome.textContent };
  }, id, timeout, `experiment ${id}`);
  if (found.failed) throw new Error(`experiment ${id} failed: ${found.failed}`);
  return { result: JSON.parse(found.result), sentence: found.sentence };
}

/** Clicks an experiment's Run button and waits for its outcome. */
export async function runInPage(page, id, timeout) {
  await page.click(`button[data-experiment="${id}"]`);
  return experimentOutcome(page, id, timeout);
}

/**
 * A result without its timings (wall-clock, not reproducible), as JSON would
 * carry it. With `digits`, numbers computed from the engine's output by
 * Math.exp/log (whose last bit may differ between JavaScript engines) are
 * rounded to that many significant digits; the losses stay exact.
 */
export function comparable(result, digits = 0) {
  const { timing, main, ...rest } = result;
  const round = (key, value) => (digits && typeof value === 'number' ? Number(value.toPrecision(digits)) : value);
  return { main: JSON.parse(JSON.stringify(main)), ...JSON.parse(JSON.stringify(rest), round) };
}

/** The same experiment, same settings, measured by the library in Node. */
export async function inNode(result, digits = 12) {
  return comparable(await runExperiment(result.id, { settings: result.settings, hyper: result.hyper }), digits);
}

/** Text left on the page that looks like TeX (a backslash command or a ^{ / _{ group). */
export function rawTexOnPage(page) {
  return page.evaluate(() => {
    const text = document.body.innerText;
    return text.match(/\\[a-zA-Z]+|[_^]\{/g) ?? [];
  });
}
