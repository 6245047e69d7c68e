// The README's examples work as written: every ```js block of README.md runs
// as an ES module in a fresh folder where 'rnnlab' is installed the way npm
// installs it (the package's "files"). A block marked ```js no-run is skipped.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installPackage } from './helpers/install.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const TIMEOUT_MS = 60_000;

/** The ```js blocks of a Markdown text: { line, info, code }. */
export function jsBlocks(markdown) {
  const blocks = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = lines[i].match(/^(\s*)(`{3,}|~{3,})\s*(js|javascript|mjs)\b(.*)$/);
    if (!open) continue;
    const [, indent, fence, , rest] = open;
    const body = [];
    let j = i + 1;
    while (j < lines.length && !lines[j].trimStart().startsWith(fence)) body.push(lines[j++].slice(indent.length));
    blocks.push({ line: i + 1, info: rest.trim(), code: body.join('\n') });
    i = j;
  }
  return blocks;
}

/** A folder with package.json and node_modules/rnnlab as `npm install rnnlab` leaves it. */
function makeApp() {
  const app = mkdtempSync(join(tmpdir(), 'rnnlab-readme-'));
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'readme-examples', private: true, type: 'module' }));
  installPackage(app);
  return app;
}

/** Runs a module file; resolves to { status, signal, stdout, stderr, timedOut }. */
function runModule(file, cwd) {
  return new Promise((done) => {
    const child = spawn(process.execPath, [file], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, TIMEOUT_MS);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      done({ status, signal, stdout, stderr, timedOut });
    });
  });
}

let readme = null;
try {
  readme = readFileSync(join(root, 'README.md'), 'utf8');
} catch {
  // reported by the test below
}
const blocks = readme === null ? [] : jsBlocks(readme);

test('README.md has ```js examples', () => {
  assert.notEqual(readme, null, 'README.md is missing');
  assert.ok(blocks.length > 0, 'README.md has no ```js code blocks');
  assert.ok(blocks.some((b) => !/\bno-run\b/.test(b.info)), 'every ```js block is marked no-run');
  assert.ok(blocks.some((b) => /from ['"]rnnlab['"]/.test(b.code)), "no example imports 'rnnlab'");
});

if (blocks.length > 0) {
  const app = makeApp();
  test.after(() => rmSync(app, { recursive: true, force: true }));
  blocks.forEach((block, k) => {
    const title = `README.md line ${block.line}: example ${k + 1} runs`;
    if (/\bno-run\b/.test(block.info)) {
      test(title, { skip: 'marked no-run' }, () => {});
      return;
    }
    test(title, async () => {
      const file = join(app, `example-${k + 1}.mjs`);
      writeFileSync(file, block.code + '\n');
      const r = await runModule(file, app);
      const output = `\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
      assert.equal(r.timedOut, false, `still running after ${TIMEOUT_MS / 1000} s${output}`);
      assert.equal(r.status, 0, `exit status ${r.status}${output}`);
      assert.doesNotMatch(r.stdout + r.stderr, /\bNaN\b|undefined/, `suspicious output${output}`);
    });
  });
}
