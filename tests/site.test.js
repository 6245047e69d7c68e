// The static build: web/build-site.js writes a folder that a plain static
// server (no CSP, no isolation headers, only content types) serves as the
// whole page. In Chromium: an experiment runs, the equations are typeset, the
// spec page renders, the console stays clean.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { buildSite } from '../web/build-site.js';
import { launchBrowser, skipUnlessBrowser } from './helpers/browser.js';
import { watchConsole } from './helpers/launch.js';
import { rawTexOnPage, runInPage, waitForExperiments, waitInPage } from './helpers/experiment-page.js';

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm', '.md': 'text/markdown', '.svg': 'image/svg+xml' };
const skip = await skipUnlessBrowser();
let dir;
let server;
let url;
let browser;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rnnlab-site-'));
  buildSite(dir);
  server = createServer((req, res) => {
    let path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
    if (path.endsWith('/')) path += 'index.html';
    const file = join(dir, path);
    try {
      if (!file.startsWith(dir) || !statSync(file).isFile()) throw new Error('no');
      res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' });
      res.end(readFileSync(file));
    } catch {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise((done) => server.listen(0, '127.0.0.1', done));
  url = `http://127.0.0.1:${server.address().port}/`;
  if (!skip) browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the folder holds the page, the library, the wasm, the vendored files and the spec', () => {
  for (const path of ['index.html', 'demo/app.js', 'demo/worker.js', 'demo/spec.html', 'rnnlab.js', 'SPEC.md',
    'dist/rnnlab-simd.wasm', 'dist/rnnlab.wasm', 'dist/rnnlab-simd-threads.wasm', 'vendor/uPlot.esm.js', 'vendor/katex.mjs', 'vendor/marked.esm.js']) {
    assert.ok(statSync(join(dir, path)).isFile(), path);
  }
  const headers = readFileSync(join(dir, '_headers'), 'utf8');
  for (const line of ['Cross-Origin-Opener-Policy: same-origin', 'Cross-Origin-Embedder-Policy: require-corp', "worker-src 'self' blob:"]) {
    assert.ok(headers.includes(line), `_headers: ${line}`);
  }
  assert.throws(() => statSync(join(dir, 'server.js')));
});

test('served by a plain static server, the page runs an experiment from a link', { skip, timeout: 180_000 }, async () => {
  const page = await browser.context.newPage();
  const problems = watchConsole(page, []);
  await page.goto(`${url}?exp=depth`);
  const { result, sentence } = await (async () => {
    await waitInPage(page, () => document.body.dataset.experiment === 'done', null, 120_000, 'the experiment');
    return { result: JSON.parse(await page.getAttribute('#experiment-depth .outcome', 'data-result')), sentence: await page.textContent('#experiment-depth .outcome') };
  })();
  assert.equal(result.id, 'depth');
  assert.match(sentence, /T = 200/);
  assert.equal(await page.evaluate(() => crossOriginIsolated), false, 'no isolation headers, and it still works');
  assert.match(await page.textContent('#engine-kind'), /training on 1 thread: the page is not cross-origin isolated/, 'on one thread, and it says why');
  assert.deepEqual(await rawTexOnPage(page), []);
  await runInPage(page, 'direction');
  await page.goto(`${url}demo/spec.html`);
  await waitInPage(page, () => document.querySelectorAll('h2[id^="s"]').length >= 5, null, 30_000, 'the spec');
  assert.deepEqual(problems, []);
  await page.close();
});
