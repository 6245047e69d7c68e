// The read-outs in Chromium: pointing at a heatmap cell (or moving to it with
// the arrow keys) shows the gates and states of that step and unit, and
// pointing at the gradient-flow plot shows each line's value at that lag;
// both are the numbers the worker sent (its messages are recorded as they
// arrive). Screenshot: tests/artifacts/readout.png.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../web/server.js';
import { launchBrowser, skipUnlessBrowser } from './helpers/browser.js';
import { watchConsole } from './helpers/launch.js';
import { formatValue } from '../web/demo/series.js';

const ARTIFACTS = join(dirname(fileURLToPath(import.meta.url)), 'artifacts');
const skip = await skipUnlessBrowser();
let server;
let browser;
let page;
const consoleProblems = [];

before(async () => {
  if (skip) return;
  server = await startServer({ port: 0 });
  browser = await launchBrowser({ viewport: { width: 1440, height: 1400 } });
  page = await browser.context.newPage();
  watchConsole(page, consoleProblems);
  // The worker's last diagnostics and last flow, per cell, as the page got them.
  await page.addInitScript(() => {
    window.__diag = {};
    window.__flow = {};
    const Base = window.Worker;
    window.Worker = class extends Base {
      constructor(...args) {
        super(...args);
        this.addEventListener('message', ({ data }) => {
          if (data?.type === 'diag') for (const c of data.cells) window.__diag[c.id] = c.trace;
          for (const c of data?.cells ?? []) if (c.flow) window.__flow[c.id] = { h: c.flow, c: c.flowC ?? null };
        });
      }
    };
  });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/** The read-out's numbers, by name: "i = 0.5, f = 0.9" → { i: '0.5', f: '0.9' }. */
function readNumbers(text) {
  return Object.fromEntries([...text.matchAll(/(\w) = ([^,·]+)/g)].map((m) => [m[1], m[2].trim()]));
}

async function trainAWhile() {
  await page.goto(server.url);
  await page.waitForSelector('body[data-state="ready"]', { timeout: 30_000, polling: 250 });
  await page.check('input[name="cell"][value="all"]');
  await page.waitForFunction(() => document.querySelectorAll('#comparison-rows tr').length === 3, null, { polling: 250 });
  await page.click('#train');
  await page.waitForSelector('body[data-state="training"]');
  await page.waitForFunction(
    () => [...document.querySelectorAll('#comparison-rows tr')].every((tr) => Number(tr.dataset.steps) >= 40),
    null, { timeout: 30_000, polling: 250 },
  );
  await page.click('#train');
  await page.waitForSelector('body[data-state="paused"]');
  await page.waitForTimeout(1000); // the last evaluation arrives and is drawn
}

test('hovering a heatmap cell and the flow plot reads out the worker\'s numbers', { skip, timeout: 90_000 }, async () => {
  await trainAWhile();
  // The LSTM's gates are shown first. Point at step 30, unit 5 of the forget gate's map.
  const canvas = page.locator('#heatmaps canvas').nth(1);
  await canvas.scrollIntoViewIfNeeded();
  const box = await canvas.boundingBox();
  const { T, H } = await page.evaluate(() => {
    const id = Object.keys(window.__diag).find((k) => window.__diag[k].layers[0].f && window.__diag[k].layers[0].c);
    return { T: window.__diag[id].T, H: window.__diag[id].H };
  });
  const markerTop = 6;
  const point = (t, unit) => ({ x: box.x + ((t + 0.5) / T) * box.width, y: box.y + markerTop + ((unit + 0.5) / H) * (box.height - markerTop) });
  const at = point(30, 5);
  await page.mouse.move(at.x, at.y);
  await page.waitForFunction(() => document.getElementById('gate-readout').dataset.t === '30', null, { polling: 100, timeout: 5000 });
  const expected = (t, unit) => page.evaluate(([t, unit]) => {
    const id = Object.keys(window.__diag).find((k) => window.__diag[k].layers[0].c);
    const layer = window.__diag[id].layers[0];
    const H = window.__diag[id].H;
    return Object.fromEntries(['i', 'f', 'g', 'o', 'c', 'h'].map((n) => [n, layer[n][t * H + unit]]));
  }, [t, unit]);
  const check = async (t, unit) => {
    const text = await page.$eval('#gate-readout', (el) => el.textContent);
    assert.match(text, new RegExp(`LSTM.*step t = ${t}, unit ${unit}:`), text);
    const shown = readNumbers(text.split(':').slice(1).join(':'));
    const want = await expected(t, unit);
    for (const name of ['i', 'f', 'g', 'o', 'c', 'h']) assert.equal(shown[name], formatValue(want[name]), `${name} at t = ${t}, unit ${unit}: ${text}`);
  };
  await check(30, 5);
  // Keyboard: focus the map, two steps right and one unit down.
  await canvas.focus();
  for (const key of ['ArrowRight', 'ArrowRight', 'ArrowDown']) await page.keyboard.press(key);
  await check(32, 6);

  // The flow plot: the pointer at a lag shows every line's g_t / g_T there.
  const over = page.locator('#plot-flow .u-over');
  await over.scrollIntoViewIfNeeded();
  const flowBox = await over.boundingBox();
  await page.mouse.move(flowBox.x + flowBox.width * 0.4, flowBox.y + flowBox.height / 2);
  await page.waitForFunction(() => document.getElementById('flow-readout').dataset.lag, null, { polling: 100, timeout: 5000 });
  const lag = Number(await page.$eval('#flow-readout', (el) => el.dataset.lag));
  const text = await page.$eval('#flow-readout', (el) => el.textContent);
  const flows = await page.evaluate(() => window.__flow);
  const ids = Object.keys(flows);
  assert.equal(ids.length, 3);
  for (const id of ids) {
    const kinds = flows[id].c ? ['h', 'c'] : ['h'];
    for (const kind of kinds) assert.ok(text.includes(formatValue(flows[id][kind][0][lag])), `${id} ${kind} at lag ${lag}: ${text}`);
  }
  assert.match(text, /LSTM ‖∂L\/∂cₜ‖/);
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.locator('#card-flow').screenshot({ path: join(ARTIFACTS, 'readout-flow.png') });
  await canvas.hover({ position: { x: ((30 + 0.5) / T) * box.width, y: markerTop + ((5 + 0.5) / H) * (box.height - markerTop) } });
  await page.locator('#card-gates').screenshot({ path: join(ARTIFACTS, 'readout-gates.png') });
  assert.deepEqual(consoleProblems, []);
});
