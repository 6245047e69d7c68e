// The package through bundlers: tests/fixtures/bundle-app (imports 'rnnlab',
// trains a few steps, reports the loss) is bundled the way a developer would,
// with rnnlab installed into the app's node_modules, and the bundle is run
// where it was built for: Vite for the browser (run in Chromium), esbuild for
// Node and for the browser. The loader finds its .wasm through
// `new URL('./dist/rnnlab-simd.wasm', import.meta.url)`.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

import { launchBrowser, skipUnlessBrowser } from './helpers/browser.js';
import { installPackage } from './helpers/install.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const fixture = join(root, 'tests', 'fixtures', 'bundle-app');
const noBrowser = await skipUnlessBrowser();

/** A bundler from node_modules; a clear failure when it is not installed. */
async function bundler(name) {
  try {
    return await import(name);
  } catch {
    assert.fail(`${name} is not installed: it is a devDependency of the bundler test (npm install)`);
  }
}

/** A copy of the fixture app with rnnlab installed as npm would: the package's "files". */
function makeApp(work, name) {
  const app = join(work, name);
  cpSync(fixture, app, { recursive: true });
  installPackage(app);
  return app;
}

const MIME = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };

/** Serves `dir` on 127.0.0.1; resolves to { url, close() }. */
function serve(dir) {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const file = resolve(dir, '.' + (path.endsWith('/') ? path + 'index.html' : path));
    if (!file.startsWith(dir + sep) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': MIME[extname(file)] ?? 'application/octet-stream' });
    res.end(readFileSync(file));
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok({
    url: `http://127.0.0.1:${server.address().port}/`,
    // close() waits for every open connection, and Chromium may hold one it
    // opened ahead of a request that never came (seen after the favicon 404):
    // end them all, or the test waits for the server's request timeout
    close: () => new Promise((done) => { server.close(done); server.closeAllConnections(); }),
  })));
}

/** Opens the app's page in Chromium and returns the JSON it reports. */
async function runInBrowser(dir, page = 'index.html') {
  const server = await serve(dir);
  const tab = await browser.context.newPage();
  const errors = [];
  tab.on('pageerror', (e) => errors.push(e.message));
  try {
    await tab.goto(server.url + page);
    await tab.waitForFunction(() => document.getElementById('result')?.textContent !== 'running', null, { timeout: 30_000 });
    const result = JSON.parse(await tab.textContent('#result'));
    assert.deepEqual(errors, [], 'uncaught errors on the page');
    return result;
  } finally {
    await tab.close();
    await server.close();
  }
}

/** Runs a Node bundle; returns the JSON it prints. */
function runInNode(file) {
  const run = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout.trim().split('\n').pop());
}

function assertTrained(result, where) {
  assert.equal(result.ok, true, `${where}: ${result.code}: ${result.message}`);
  assert.ok(result.last < result.first / 2, `${where}: the loss went from ${result.first} to ${result.last}`);
}

let work;
let browser = null;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'rnnlab-bundle-'));
  if (!noBrowser) browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

test('Vite: a production build emits both .wasm files, and the app trains in Chromium', { skip: noBrowser }, async () => {
  const vite = await bundler('vite');
  const app = makeApp(work, 'vite-app');
  await vite.build({ root: app, configFile: false, logLevel: 'silent', base: './', build: { outDir: 'dist', emptyOutDir: true } });
  const assets = readdirSync(join(app, 'dist', 'assets'));
  for (const name of ['rnnlab-simd.wasm', 'rnnlab.wasm']) {
    const emitted = assets.find((f) => f.endsWith('.wasm') && f.replace(/-[\w-]{8}\.wasm$/, '.wasm') === name);
    assert.ok(emitted, `${name} was not emitted (assets: ${assets.join(', ')})`);
    assert.deepEqual(readFileSync(join(app, 'dist', 'assets', emitted)), readFileSync(join(root, 'web', 'dist', name)), `${name} bytes`);
  }
  assertTrained(await runInBrowser(join(app, 'dist')), 'vite build in Chromium');
});

test('esbuild, platform node: the bundle runs in Node and finds its .wasm', async () => {
  const esbuild = await bundler('esbuild');
  const app = makeApp(work, 'esbuild-node');
  const outfile = join(app, 'out', 'app.mjs');
  await esbuild.build({ entryPoints: [join(app, 'main.js')], bundle: true, platform: 'node', format: 'esm', outfile, logLevel: 'silent' });
  // esbuild leaves new URL('./dist/rnnlab-simd.wasm', import.meta.url) as it is, so the
  // bundle looks for out/dist/rnnlab-simd.wasm, next to itself, where nothing put it
  assertTrained(runInNode(outfile), 'esbuild node bundle');
});

test('esbuild, platform node: with the .wasm files copied to <outdir>/dist/ the bundle trains', async () => {
  // What the loader needs from an esbuild user today: the files where the URL points.
  const esbuild = await bundler('esbuild');
  const app = makeApp(work, 'esbuild-node-copied');
  const outfile = join(app, 'out', 'app.mjs');
  await esbuild.build({ entryPoints: [join(app, 'main.js')], bundle: true, platform: 'node', format: 'esm', outfile, logLevel: 'silent' });
  cpSync(join(app, 'node_modules', 'rnnlab', 'web', 'dist'), join(app, 'out', 'dist'), { recursive: true });
  assertTrained(runInNode(outfile), 'esbuild node bundle with the .wasm copied');
});

test('esbuild, platform browser: the app bundles, and trains in Chromium with the .wasm next to it', async (t) => {
  const esbuild = await bundler('esbuild');
  const app = makeApp(work, 'esbuild-browser');
  const out = join(app, 'out');
  let failure = null;
  try {
    await esbuild.build({ entryPoints: [join(app, 'main.js')], bundle: true, platform: 'browser', format: 'esm', outfile: join(out, 'main.js'), logLevel: 'silent' });
  } catch (e) {
    failure = e.errors?.map((m) => `${m.location?.file}:${m.location?.line}: ${m.text}`).join('\n') ?? String(e);
  }
  // web/engine.js imports 'node:fs/promises' by a literal specifier (for file: URLs in
  // Node); browser bundlers without Node built-ins (esbuild, webpack 5) cannot resolve it
  assert.equal(failure, null, `esbuild could not bundle the app for the browser:\n${failure}`);
  if (noBrowser) return t.skip(noBrowser);
  cpSync(join(app, 'index.html'), join(out, 'index.html'));
  cpSync(join(app, 'node_modules', 'rnnlab', 'web', 'dist'), join(out, 'dist'), { recursive: true });
  assertTrained(await runInBrowser(out), 'esbuild browser bundle in Chromium');
});
