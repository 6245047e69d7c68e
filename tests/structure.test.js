// The repository holds together: the README's links resolve inside it, the
// specification the page cites (web/SPEC.md) is served and rendered with an
// id for every section the page links to, and no function in src/ or web/
// is longer than 60 lines.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Marked } from 'marked';
import { startServer } from '../web/server.js';
import { renderSpec } from '../web/demo/spec-render.js';
import { findFunctions, tokenize } from './helpers/functions.js';
import { launchBrowser, skipUnlessBrowser } from './helpers/browser.js';
import { watchConsole } from './helpers/launch.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const read = (path) => readFileSync(join(ROOT, path), 'utf8');
const SPEC = read('web/SPEC.md');
const MAX_FUNCTION_LINES = 60;

// ---- Markdown links ----------------------------------------------------------

/** Markdown without fenced code blocks and code spans (links there are not links). */
function withoutCode(markdown) {
  return markdown.replace(/^(\s*)(`{3,}|~{3,})[^\n]*\n[\s\S]*?^\1\2[^\n]*$/gm, '').replace(/`+[^`\n]*`+/g, '');
}

/** The link targets of a Markdown text: inline [..](target), reference definitions, <a href>. */
export function markdownLinks(markdown) {
  const text = withoutCode(markdown);
  const links = [];
  for (const m of text.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) links.push(m[1]);
  for (const m of text.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm)) links.push(m[1]);
  for (const m of text.matchAll(/<a\s[^>]*href="([^"]+)"/g)) links.push(m[1]);
  return links;
}

/** GitHub's anchors for the headings of a Markdown text. */
export function headingAnchors(markdown) {
  const seen = new Map();
  const anchors = new Set();
  for (const m of withoutCodeBlocks(markdown).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = m[1].replace(/`/g, '').toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n ? `${base}-${n}` : base);
  }
  return anchors;
}

function withoutCodeBlocks(markdown) {
  return markdown.replace(/^(\s*)(`{3,}|~{3,})[^\n]*\n[\s\S]*?^\1\2[^\n]*$/gm, '');
}

/** What is wrong with each relative link of a Markdown file in the repository. */
function brokenLinks(file) {
  const problems = [];
  for (const link of markdownLinks(read(file))) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // https:, mailto: …
    const [path, anchor] = link.split('#');
    const target = path ? join(dirname(join(ROOT, file)), decodeURIComponent(path)) : join(ROOT, file);
    const inside = relative(ROOT, target);
    if (inside.startsWith('..') || inside.split(/[\\/]/)[0] === 'node_modules') {
      problems.push(`${link}: outside the repository`);
    } else if (!existsSync(target)) {
      problems.push(`${link}: no such file`);
    } else if (anchor && statSync(target).isFile() && target.endsWith('.md') &&
        !headingAnchors(readFileSync(target, 'utf8')).has(anchor)) {
      problems.push(`${link}: no heading #${anchor} in ${inside}`);
    }
  }
  return problems;
}

test('markdownLinks and headingAnchors find what GitHub links', () => {
  const md = '# A `b` title\n\n[x](web/SPEC.md#s1) ![i](p.png "t") `[no](code)`\n\n```\n[no](block)\n```\n[ref]: ../out.md\n## A b title\n';
  assert.deepEqual(markdownLinks(md), ['web/SPEC.md#s1', 'p.png', '../out.md']);
  assert.deepEqual([...headingAnchors(md)], ['a-b-title', 'a-b-title-1']);
  assert.ok(headingAnchors(SPEC).has('4-backpropagation-through-time-and-its-diagnostics'));
});

test('every relative link in README.md resolves to a file (and heading) in the repository', () => {
  const links = markdownLinks(read('README.md'));
  assert.ok(links.some((l) => l.split('#')[0] === 'web/SPEC.md'), 'the README links the spec, web/SPEC.md');
  assert.deepEqual(brokenLinks('README.md'), []);
});

test('a link out of the repository, to a missing file or to a missing heading is caught', () => {
  const md = '[a](../shared/SPEC.md) [b](web/NOPE.md) [c](web/SPEC.md#nope) [d](#nope) [e](web/SPEC.md) [f](https://x.org/)';
  const problems = [];
  for (const link of markdownLinks(md)) {
    const [path, anchor] = link.split('#');
    if (/^https?:/.test(link)) continue;
    const target = join(ROOT, path || 'README.md');
    if (relative(ROOT, target).startsWith('..')) problems.push('outside');
    else if (!existsSync(target)) problems.push('missing');
    else if (anchor && !headingAnchors(readFileSync(target, 'utf8')).has(anchor)) problems.push('anchor');
  }
  assert.deepEqual(problems, ['outside', 'missing', 'anchor', 'anchor']);
});

// ---- the spec and the page's § citations ---------------------------------------

/** The numbered sections of web/SPEC.md ("## 4. …" is 4). */
const SPEC_SECTIONS = new Set([...SPEC.matchAll(/^## (\d+)\.\s/gm)].map((m) => Number(m[1])));
const DEMO = join(ROOT, 'web', 'demo');
const demoFiles = (ext) => readdirSync(DEMO).filter((f) => f.endsWith(ext)).map((f) => `web/demo/${f}`);

/** Every "§n" in an HTML file: { n, line, href } with href the enclosing <a>'s href or null. */
function htmlCitations(file) {
  const html = read(file);
  const found = [];
  for (const m of html.matchAll(/§\s?(\d+)/g)) {
    const before = html.slice(0, m.index);
    const open = before.lastIndexOf('<a ');
    const inLink = open >= 0 && before.indexOf('</a>', open) < 0;
    const href = inLink ? /href="([^"]*)"/.exec(before.slice(open))?.[1] ?? null : null;
    found.push({ n: Number(m[1]), line: before.split('\n').length, href });
  }
  return found;
}

// Where a link in a page file points, as a path under web/ and an anchor.
// index.html is served at /, the other pages at /demo/.
function servedTarget(file, href) {
  const base = file === 'web/demo/index.html' ? 'http://x/' : `http://x/${file.slice('web/'.length)}`;
  const url = new URL(href, base);
  return { path: `web${url.pathname}`, anchor: url.hash.slice(1) };
}

test('web/SPEC.md has sections 1 to 13; 11 (bidirectional), 12 (dropout) and 13 (the embedding) say they are implemented', () => {
  assert.deepEqual([...SPEC_SECTIONS], Array.from({ length: 13 }, (_, i) => i + 1));
  assert.doesNotMatch(SPEC, /not implemented yet/);
  for (const n of [11, 12]) {
    const body = SPEC.split(new RegExp(`^## ${n}\\.`, 'm'))[1].split(/^## /m)[0];
    assert.match(body.split('\n').slice(1, 4).join(' '), /\*Implemented: config `/, `§${n}`);
  }
});

test('the rendered spec has the id s<n> for every section, and its own § references resolve', () => {
  const { html, headings } = renderSpec(Marked, SPEC);
  const ids = new Set(headings.map((h) => h.id));
  for (const n of SPEC_SECTIONS) assert.ok(ids.has(`s${n}`), `#s${n}`);
  assert.equal(ids.size, headings.length, 'heading ids are unique');
  const refs = [...html.matchAll(/href="#([^"]+)"/g)].map((m) => m[1]);
  assert.ok(refs.includes('s1'), 'the spec\'s own "§1" is a link');
  for (const id of refs) assert.ok(ids.has(id), `#${id}`);
});

test('every §n the page cites is a section of web/SPEC.md and a link to it on the spec page', () => {
  const citations = demoFiles('.html').flatMap((file) => htmlCitations(file).map((c) => ({ file, ...c })));
  assert.ok(citations.length >= 5, 'the page cites the spec');
  const spec = renderSpec(Marked, SPEC);
  const ids = new Set(spec.headings.map((h) => h.id));
  for (const { file, n, line, href } of citations) {
    const where = `${file}:${line} §${n}`;
    assert.ok(SPEC_SECTIONS.has(n), `${where}: web/SPEC.md has no section ${n}`);
    assert.ok(href, `${where} is not a link`);
    const { path, anchor } = servedTarget(file, href);
    assert.equal(path, 'web/demo/spec.html', `${where} links ${href}, not the spec page`);
    assert.equal(anchor, `s${n}`, `${where} links ${href}`);
    assert.ok(ids.has(anchor), `${where}: the rendered spec has no #${anchor}`);
  }
});

test('§n in the page scripts: shown text links to the spec page, comments name existing sections', () => {
  for (const file of demoFiles('.js')) {
    const src = read(file);
    for (const m of src.matchAll(/§\s?(\d+)/g)) {
      const line = src.slice(0, m.index).split('\n').length;
      assert.ok(SPEC_SECTIONS.has(Number(m[1])), `${file}:${line}: web/SPEC.md has no section ${m[1]}`);
    }
    for (const token of tokenize(src, 'js')) {
      if (token.type !== 'str') continue;
      for (const m of token.text.matchAll(/§\s?(\d+)/g)) {
        assert.ok(token.text.includes(`spec.html#s${m[1]}`), `${file}:${token.line}: the text "§${m[1]}" is not a link to spec.html#s${m[1]}`);
      }
    }
  }
});

test('the footer\'s "§ … SPEC.md" links to the spec page', () => {
  const html = read('web/demo/index.html');
  const footer = html.slice(html.indexOf('<footer'), html.indexOf('</footer>'));
  assert.match(footer, /referred to as §/);
  const href = /<a [^>]*href="([^"]+)"[^>]*>SPEC\.md<\/a>/.exec(footer)?.[1];
  assert.ok(href, 'the footer names SPEC.md as a link');
  assert.equal(servedTarget('web/demo/index.html', href).path, 'web/demo/spec.html');
});

test('the server serves SPEC.md, the spec page, marked and protobufjs\'s minimal build, under the page\'s CSP', async () => {
  const server = await startServer({ port: 0 });
  try {
    for (const [path, type, body] of [['SPEC.md', /^text\/markdown/, /^## 4\. /m], ['demo/spec.html', /^text\/html/, /spec\.js/],
      ['demo/spec.js', /^text\/javascript/, /vendor\/marked\.esm\.js/], ['demo/spec-render.js', /^text\/javascript/, /renderSpec/],
      ['vendor/marked.esm.js', /^text\/javascript/, /export/],
      // no generated code (Function, eval) in it: the CSP has no 'unsafe-eval'
      ['vendor/protobuf.minimal.js', /^text\/javascript/, /^(?![\s\S]*(\bFunction\(|\beval\())[\s\S]*util\.global\.protobuf/]]) {
      const response = await fetch(new URL(path, server.url));
      assert.equal(response.status, 200, path);
      assert.match(response.headers.get('content-type'), type, path);
      assert.match(response.headers.get('content-security-policy'), /script-src 'self' 'wasm-unsafe-eval'/, path);
      assert.doesNotMatch(response.headers.get('content-security-policy'), /'unsafe-inline'|'unsafe-eval'/, path);
      assert.match(await response.text(), body, path);
    }
    assert.equal((await fetch(new URL('vendor/marked.umd.js', server.url))).status, 404, 'only the files named are served from node_modules');
  } finally {
    await server.close();
  }
});

const browserSkip = await skipUnlessBrowser();

test('in Chromium: the spec page renders every section the page links to, with a clean console', { skip: browserSkip || false, timeout: 120_000 }, async () => {
  const server = await startServer({ port: 0 });
  const browser = await launchBrowser({ viewport: { width: 1200, height: 900 } });
  const problems = [];
  try {
    const page = await browser.context.newPage();
    watchConsole(page, problems);
    const hrefs = [...read('web/demo/index.html').matchAll(/class="spec-ref" href="([^"]+)"/g)].map((m) => m[1]);
    assert.ok(hrefs.length >= 5);
    await page.goto(new URL(hrefs[1], server.url).href);
    await page.waitForSelector('html[data-rendered]', { timeout: 30_000 });
    const shown = await page.evaluate(() => ({
      ids: [...document.querySelectorAll('#spec h2[id]')].map((h) => h.id),
      toc: document.querySelectorAll('#spec-toc a').length,
      top: document.getElementById(location.hash.slice(1))?.getBoundingClientRect().top,
      code: document.querySelectorAll('#spec pre code').length,
    }));
    assert.deepEqual(shown.ids, [...SPEC_SECTIONS].map((n) => `s${n}`));
    assert.equal(shown.toc, SPEC_SECTIONS.size, 'a contents entry per section');
    assert.ok(shown.top >= 0 && shown.top < 200, `the linked section is scrolled into view (top ${shown.top})`);
    assert.ok(shown.code >= 3, 'the formulas are code blocks');
    for (const href of hrefs) {
      const id = new URL(href, server.url).hash.slice(1);
      assert.ok(shown.ids.includes(id), `${href}: no #${id} on the spec page`);
    }
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
    await server.close();
  }
});

// ---- function length ----------------------------------------------------------

/** The C and JavaScript sources the rule covers: src/ and web/ (not web/dist/). */
function sourceFiles(dir = '', out = []) {
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const path = dir ? `${dir}/${entry.name}` : entry.name;
    if (entry.isDirectory()) {
      if (path === 'src' || path === 'web' || (dir && path !== 'web/dist')) sourceFiles(path, out);
    } else if (dir && /\.(c|h|js)$/.test(entry.name) && (!path.startsWith('src/') || /\.[ch]$/.test(path))) {
      out.push(path);
    }
  }
  return out;
}

/** "file:line name (N lines)" for every function longer than the limit. */
export function longFunctions(files = sourceFiles()) {
  return files.flatMap((file) => findFunctions(read(file), file.endsWith('.js') ? 'js' : 'c')
    .filter((f) => f.lines > MAX_FUNCTION_LINES)
    .map((f) => `${file}:${f.line} ${f.name} (${f.lines} lines)`));
}

test('the function scanner skips strings, templates, regexes, comments and preprocessor lines', () => {
  const js = [
    'function a() {', '  const s = "}" + \'{\' + `${ {x: 1}.x } }` + /[}{]\\}/.source; // }', '  /* { */', '}',
    'class K {', '  get v() { return 1; }', '  static async *gen(x) {', '    yield x / 2 / 1;', '  }', '}',
    'const f = async (p) => {', '  if (p) { return { q: () => 1 }; }', '  for (;;) { break; }', '};',
    'arr.forEach((x) => {', '  function () {};', '});', 'const o = { m(a) {', '  return a;', '}, [k]() {} };',
  ].join('\n');
  assert.deepEqual(findFunctions(js, 'js').map((f) => `${f.line} ${f.name} ${f.lines}`), [
    '1 a 4', '6 v 1', '7 gen 3', '11 f 4', '15 (arrow in forEach(…)) 3', '16 (anonymous function) 1', '18 m 3', '20 [computed] 1',
  ]);
  const c = [
    '#define OPEN {', '#define LONG(x) \\', '  { x }', 'static const char *s = "{";', 'typedef struct { int a; } T;',
    'static int f(int a, char c) {', '  if (c == \'{\') { return a; }', '  /* } */', '  return 0;', '}',
    'int g(void) { return (int){ 0 }; }', 'T table[] = { { 1 } };',
  ].join('\n');
  assert.deepEqual(findFunctions(c, 'c').map((f) => `${f.line} ${f.name} ${f.lines}`), ['6 f 5', '11 g 1']);
  assert.throws(() => findFunctions('function x() {', 'js'), /never closed/);
});

test('the rule catches a long function', () => {
  const long = `function long() {\n${'  step();\n'.repeat(MAX_FUNCTION_LINES - 1)}}\n`;
  assert.deepEqual(findFunctions(long, 'js').map((f) => f.lines), [MAX_FUNCTION_LINES + 1]);
});

test(`no function in src/ or web/ is longer than ${MAX_FUNCTION_LINES} lines`, () => {
  const files = sourceFiles();
  assert.ok(files.includes('src/model.c') && files.includes('web/demo/app.js') && files.includes('web/server.js'));
  assert.ok(!files.some((f) => f.startsWith('web/dist/') || f.startsWith('node_modules')));
  const long = longFunctions(files);
  assert.deepEqual(long, [], `split these into functions of one idea each:\n${long.join('\n')}`);
});
