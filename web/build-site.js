// Builds the page as static files that any static host can serve:
//
//   npm run build:site          -> build/site/
//   node web/build-site.js DIR  -> DIR
//
// The folder holds index.html (the page), demo/ (its modules, the worker, the
// spec page), the library's modules, SPEC.md, dist/*.wasm and vendor/ (uPlot,
// marked, KaTeX from node_modules). Every path in it is relative, so it also
// works from a sub-folder. _headers carries the CSP and the cross-origin
// isolation headers (COOP, COEP) for hosts that read that file (Netlify,
// Cloudflare Pages): with them the engine trains on several threads; without
// them (any other host) the page works on one thread, with the same results.

import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONTENT_SECURITY_POLICY, vendorFiles } from './server.js';

const WEB = dirname(fileURLToPath(import.meta.url));
const ROOT = join(WEB, '..');
const WASM = ['rnnlab-simd.wasm', 'rnnlab.wasm', 'rnnlab-simd-threads.wasm'];
const NOT_SHIPPED = new Set(['server.js', 'build-site.js']); // the tools, not the page

/** Copies the page into `out` (emptied first). Returns the list of top-level entries. */
export function buildSite(out = join(ROOT, 'build', 'site')) {
  for (const file of WASM) {
    if (!existsSync(join(WEB, 'dist', file))) throw new Error(`web/dist/${file} is missing: run npm run build first`);
  }
  const vendor = vendorFiles();
  for (const url of ['/vendor/uPlot.esm.js', '/vendor/marked.esm.js', '/vendor/katex.mjs']) {
    if (!vendor.has(url)) throw new Error(`${url} has no source in node_modules: run npm install`);
  }
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  for (const entry of readdirSync(WEB, { withFileTypes: true })) {
    if (entry.isFile() && (entry.name.endsWith('.js') || entry.name === 'SPEC.md') && !NOT_SHIPPED.has(entry.name)) {
      cpSync(join(WEB, entry.name), join(out, entry.name));
    }
  }
  for (const dir of ['onnx', 'tfjs']) {
    if (existsSync(join(WEB, dir))) cpSync(join(WEB, dir), join(out, dir), { recursive: true });
  }
  mkdirSync(join(out, 'dist'));
  for (const file of WASM) cpSync(join(WEB, 'dist', file), join(out, 'dist', file));
  cpSync(join(WEB, 'demo'), join(out, 'demo'), { recursive: true, filter: (src) => src !== join(WEB, 'demo', 'index.html') });
  cpSync(join(WEB, 'demo', 'index.html'), join(out, 'index.html'));
  mkdirSync(join(out, 'vendor'));
  for (const [url, file] of vendor) cpSync(file, join(out, url.slice(1)));
  writeFileSync(join(out, '_headers'), `/*\n  Content-Security-Policy: ${CONTENT_SECURITY_POLICY}\n  X-Content-Type-Options: nosniff\n` +
    '  Cross-Origin-Opener-Policy: same-origin\n  Cross-Origin-Embedder-Policy: require-corp\n');
  return readdirSync(out).sort();
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = resolve(process.argv[2] ?? join(ROOT, 'build', 'site'));
  const entries = buildSite(out);
  console.log(`static site in ${out}: ${entries.join(', ')}`);
}
