// The guided experiments in Firefox (puppeteer-core over WebDriver BiDi): each
// runs to its end, prints the sentence built from its numbers, and those
// numbers are the library's in Node for the same settings; the equations are
// typeset and the console stays clean. Screenshots at 1400 px and 390 px:
// tests/artifacts/firefox-experiment-*.png.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../web/server.js';
import { EXPERIMENTS } from '../web/demo/experiments.js';
import { describeExperiment } from '../web/demo/experiment-text.js';
import { skipUnlessFirefox, launchFirefox } from './helpers/firefox.js';
import { watchConsole } from './helpers/launch.js';
import { comparable, inNode, rawTexOnPage, runInPage, waitForExperiments } from './helpers/experiment-page.js';

const ARTIFACTS = join(dirname(fileURLToPath(import.meta.url)), 'artifacts');
const skip = await skipUnlessFirefox();
let server;
let firefox;
let page;
const consoleProblems = [];

before(async () => {
  if (skip) return;
  mkdirSync(ARTIFACTS, { recursive: true });
  server = await startServer({ port: 0 });
  firefox = await launchFirefox();
  page = await firefox.browser.newPage();
  await page.setViewport({ width: 1400, height: 1000 });
  watchConsole(page, consoleProblems);
  await page.goto(server.url);
  await waitForExperiments(page);
});

after(async () => {
  await firefox?.close();
  await server?.close();
});

test('Firefox: the equations are typeset, no TeX left', { skip }, async () => {
  const typeset = await page.evaluate(() => [document.querySelectorAll('[data-tex]').length, document.querySelectorAll('[data-tex].typeset math').length]);
  assert.equal(typeset[1], typeset[0]);
  assert.deepEqual(await rawTexOnPage(page), []);
});

for (const experiment of EXPERIMENTS) {
  test(`Firefox: experiment ${experiment.id} runs to its end with the library's numbers`, { skip, timeout: 300_000 }, async () => {
    const { result, sentence } = await runInPage(page, experiment.id);
    assert.equal(sentence, describeExperiment(result));
    assert.deepEqual(comparable(result, 12), await inNode(result, 12));
    await new Promise((done) => setTimeout(done, 3200));
    await page.screenshot({ path: join(ARTIFACTS, `firefox-experiment-${experiment.id}-1400.png`) });
    await page.setViewport({ width: 390, height: 844 });
    await page.evaluate((key) => document.getElementById(`experiment-${key}`).scrollIntoView(), experiment.id);
    await new Promise((done) => setTimeout(done, 400));
    await page.screenshot({ path: join(ARTIFACTS, `firefox-experiment-${experiment.id}-390.png`) });
    await page.setViewport({ width: 1400, height: 1000 });
    assert.deepEqual(consoleProblems, []);
  });
}
