// `npm start` serves the page: start it as a user would, fetch the page, a
// .wasm and uPlot, check the headers, stop it with SIGTERM. Then the server's
// own behaviour: a taken port, paths outside web/, methods.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../web/server.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const START_TIMEOUT_MS = 240_000; // npm start builds the .wasm first when it is missing

// Starts `npm start` (or the server itself when package.json has no start
// script) in its own process group, on a free port.
function startNpm() {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  const [command, args] = pkg.scripts?.start
    ? [process.platform === 'win32' ? 'npm.cmd' : 'npm', ['start', '--silent']]
    : [process.execPath, ['web/server.js']];
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { ...process.env, PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  const url = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL printed within ${START_TIMEOUT_MS} ms:\n${output}`)), START_TIMEOUT_MS);
    const read = (chunk) => {
      output += chunk;
      const match = output.match(/https?:\/\/[^\s]+\//);
      if (match) { clearTimeout(timer); resolve(match[0]); }
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`npm start exited with ${code} before serving:\n${output}`)); });
  });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, url, exited, output: () => output };
}

// A raw GET, so paths like /%2e%2e/ reach the server unnormalised.
function rawGet(url, path, method = 'GET') {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, url), { method }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    req.path = path;
    req.end();
  });
}

test('npm start serves the page, the wasm and uPlot, and stops on SIGTERM', { timeout: START_TIMEOUT_MS + 30_000 }, async () => {
  const server = startNpm();
  try {
    const url = await server.url;

    const page = await fetch(url);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type'), /^text\/html/);
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self' 'wasm-unsafe-eval'/);
    assert.doesNotMatch(csp, /'unsafe-eval'|'unsafe-inline'/);
    const html = await page.text();
    assert.match(html, /<title>rnnlab/);
    assert.match(html, /demo\/app\.js/);

    const wasm = await fetch(new URL('dist/rnnlab-simd.wasm', url));
    assert.equal(wasm.status, 200, 'the SIMD build is served (is it built? bash build.sh)');
    assert.equal(wasm.headers.get('content-type'), 'application/wasm');
    const bytes = new Uint8Array(await wasm.arrayBuffer());
    assert.deepEqual([...bytes.subarray(0, 4)], [0x00, 0x61, 0x73, 0x6d], 'a WebAssembly binary');
    const plain = await fetch(new URL('dist/rnnlab.wasm', url), { method: 'HEAD' });
    assert.equal(plain.status, 200, 'the fallback build is served too');

    for (const [path, type] of [['rnnlab.js', /^text\/javascript/], ['demo/worker.js', /^text\/javascript/],
      ['vendor/uPlot.esm.js', /^text\/javascript/], ['vendor/uPlot.min.css', /^text\/css/], ['demo/style.css', /^text\/css/]]) {
      const response = await fetch(new URL(path, url));
      assert.equal(response.status, 200, path);
      assert.match(response.headers.get('content-type'), type, path);
      await response.arrayBuffer();
    }
  } finally {
    if (server.child.exitCode === null) process.kill(-server.child.pid, 'SIGTERM');
  }
  const { code, signal } = await server.exited;
  assert.ok(code === 0 || signal === 'SIGTERM' || code === 143, `stopped cleanly (code ${code}, signal ${signal}):\n${server.output()}`);
});

test('the server falls back to a free port when its port is taken', async () => {
  const blocker = createServer();
  await new Promise((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const taken = blocker.address().port;
  const server = await startServer({ port: taken });
  try {
    assert.notEqual(server.port, taken);
    assert.equal((await fetch(server.url)).status, 200);
  } finally {
    await server.close();
    await new Promise((resolve) => blocker.close(resolve));
  }
});

test('the server serves only files under web/, read-only', async () => {
  const server = await startServer({ port: 0 });
  try {
    assert.equal(await rawGet(server.url, '/%2e%2e/package.json'), 404);
    assert.equal(await rawGet(server.url, '/..%2fpackage.json'), 404);
    assert.equal(await rawGet(server.url, '/demo/../../package.json'), 404);
    assert.equal(await rawGet(server.url, '/.git/config'), 404);
    assert.equal(await rawGet(server.url, '/no-such-file.js'), 404);
    assert.equal(await rawGet(server.url, '/%E0%A4%A'), 400);
    assert.equal(await rawGet(server.url, '/', 'POST'), 405);
    assert.equal(await rawGet(server.url, '/demo/'), 302);
    const missing = await fetch(new URL('nope', server.url));
    assert.ok(missing.headers.get('content-security-policy'), 'errors carry the CSP too');
  } finally {
    await server.close();
  }
});
