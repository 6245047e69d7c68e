// A small static server for the rnnlab page: the page at /, the library files
// under web/ at their own paths (SPEC.md too, which /demo/spec.html renders),
// and uPlot, marked and KaTeX from node_modules under /vendor/.
//
//   node web/server.js            PORT (default 8080; a free port if taken), HOST (default 127.0.0.1)

import { createServer } from 'node:http';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const WEB_ROOT = dirname(fileURLToPath(import.meta.url));
const PAGE = join(WEB_ROOT, 'demo', 'index.html');

const MIME_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

// WebAssembly may be compiled ('wasm-unsafe-eval'); JavaScript eval may not.
// Everything else comes from this origin; the page downloads files via blob: URLs,
// and the engine starts its worker threads from one (web/threads.js).
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self' blob:",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const HEADERS = {
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  // Cross-origin isolation: the page may share memory with workers, so the
  // engine trains on several threads (web/threads.js).
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cache-Control': 'no-cache',
};

// The only files served from node_modules: uPlot's module build and stylesheet,
// marked's module build (Markdown to HTML for the spec page), KaTeX's module
// build (the page's equations, typeset as MathML: no fonts or CSS), and
// protobufjs's minimal browser build (Reader and Writer, no generated code, so
// the CSP needs no 'unsafe-eval'), which the worker hands to rnnlab/onnx's
// useProtobuf for the ONNX download: a worker has no import maps for the bare
// 'protobufjs'.
export const VENDOR = {
  uplot: { '/vendor/uPlot.esm.js': 'dist/uPlot.esm.js', '/vendor/uPlot.min.css': 'dist/uPlot.min.css' },
  marked: { '/vendor/marked.esm.js': 'lib/marked.esm.js' },
  katex: { '/vendor/katex.mjs': 'dist/katex.mjs' },
  protobufjs: { '/vendor/protobuf.minimal.js': 'dist/minimal/protobuf.min.js' },
};

export function vendorFiles() {
  const files = new Map();
  const require = createRequire(pathToFileURL(join(WEB_ROOT, '..', 'package.json')));
  for (const [name, paths] of Object.entries(VENDOR)) {
    let dir;
    try {
      dir = dirname(require.resolve(`${name}/package.json`));
    } catch {
      continue; // not installed: its /vendor/ paths answer 404 and the page says what is missing
    }
    for (const [url, file] of Object.entries(paths)) files.set(url, join(dir, file));
  }
  return files;
}

// Maps a URL path to a file inside WEB_ROOT, or null for anything outside it
// or hidden (dot files, node_modules).
function fileFor(pathname, vendor) {
  if (pathname === '/' || pathname === '/index.html') return PAGE;
  if (vendor.has(pathname)) return vendor.get(pathname);
  if (pathname.includes('\0')) return null;
  const parts = pathname.split('/').filter(Boolean);
  if (parts.some((part) => part.startsWith('.') || part === 'node_modules')) return null;
  const file = resolve(WEB_ROOT, ...parts);
  return file.startsWith(WEB_ROOT + sep) ? file : null;
}

function send(res, status, text, extra = {}) {
  res.writeHead(status, { ...HEADERS, 'Content-Type': 'text/plain; charset=utf-8', ...extra });
  res.end(text);
}

async function handle(req, res, vendor) {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    send(res, 405, 'method not allowed\n', { Allow: 'GET, HEAD' });
    return;
  }
  let pathname;
  try {
    pathname = decodeURIComponent(new URL(req.url, 'http://localhost').pathname);
  } catch {
    send(res, 400, 'bad request\n');
    return;
  }
  if (pathname === '/demo' || pathname === '/demo/' || pathname === '/demo/index.html') {
    send(res, 302, 'the page is at /\n', { Location: '/' });
    return;
  }
  const file = fileFor(pathname, vendor);
  const info = file ? await stat(file).catch(() => null) : null;
  if (!info || !info.isFile()) {
    send(res, 404, `not found: ${pathname}\n`);
    return;
  }
  res.writeHead(200, {
    ...HEADERS,
    'Content-Type': MIME_TYPES[extname(file)] ?? 'application/octet-stream',
    'Content-Length': info.size,
  });
  if (req.method === 'HEAD') { res.end(); return; }
  const stream = createReadStream(file);
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

function listen(server, port, host) {
  return new Promise((resolvePort, reject) => {
    const onError = (error) => { server.off('listening', onListening); reject(error); };
    const onListening = () => { server.off('error', onError); resolvePort(server.address().port); };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/**
 * Starts the server. Tries `port`, and a free port if that one is taken.
 * Resolves to { url, port, server, close() }.
 */
export async function startServer({ port = 8080, host = '127.0.0.1' } = {}) {
  const vendor = vendorFiles();
  const server = createServer((req, res) => {
    handle(req, res, vendor).catch(() => { if (!res.headersSent) send(res, 500, 'internal error\n'); else res.destroy(); });
  });
  let actual;
  try {
    actual = await listen(server, port, host);
  } catch (error) {
    if (error.code !== 'EADDRINUSE' && error.code !== 'EACCES') throw error;
    actual = await listen(server, 0, host);
  }
  const shown = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  const close = () => new Promise((done) => {
    server.close(() => done());
    server.closeAllConnections();
  });
  return { url: `http://${shown}:${actual}/`, port: actual, server, close, uplot: vendor.has('/vendor/uPlot.esm.js'), marked: vendor.has('/vendor/marked.esm.js') };
}

async function main() {
  const requested = process.env.PORT === undefined || process.env.PORT === '' ? 8080 : Number(process.env.PORT);
  if (!Number.isInteger(requested) || requested < 0 || requested > 65535) {
    console.error(`PORT must be a port number (0-65535), got ${JSON.stringify(process.env.PORT)}`);
    process.exit(2);
  }
  const { url, port, close, uplot, marked } = await startServer({ port: requested, host: process.env.HOST || '127.0.0.1' });
  if (requested !== 0 && port !== requested) console.log(`port ${requested} is taken; using ${port}`);
  if (!uplot) console.warn('uPlot is not installed (npm install): the page cannot draw its plots');
  if (!marked) console.warn('marked is not installed (npm install): the spec page shows SPEC.md as plain text');
  console.log(`rnnlab page: ${url}`);
  let closing = false;
  const shutdown = (signal) => {
    if (closing) return;
    closing = true;
    console.log(`${signal}: shutting down`);
    close().then(() => process.exit(0));
    setTimeout(() => process.exit(0), 3000).unref();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error) => {
    console.error(`rnnlab server: ${error.message}`);
    process.exit(1);
  });
}
