// The spec page: fetches SPEC.md (served beside the library, and shipped in
// the npm package), renders it with marked (served under /vendor/) and jumps
// to the section in the address (#s1 … #s13). Without marked it shows the
// Markdown as plain text.

import { renderSpec } from './spec-render.js';

const article = document.getElementById('spec');
const toc = document.getElementById('spec-toc');

function showContents() {
  for (const heading of article.querySelectorAll('h2[id]')) {
    const item = document.createElement('li');
    const link = document.createElement('a');
    link.href = `#${heading.id}`;
    link.textContent = heading.textContent;
    item.append(link);
    toc.append(item);
  }
}

function jumpToHash() {
  const target = location.hash && document.getElementById(decodeURIComponent(location.hash.slice(1)));
  if (!target) return;
  target.scrollIntoView();
  target.classList.add('target');
}

async function main() {
  const response = await fetch('../SPEC.md');
  if (!response.ok) throw new Error(`SPEC.md: HTTP ${response.status}`);
  const markdown = await response.text();
  const marked = await import('../vendor/marked.esm.js').catch(() => null);
  if (!marked) {
    const pre = document.createElement('pre');
    pre.className = 'spec-plain';
    pre.textContent = markdown;
    article.replaceChildren(pre);
    return;
  }
  article.innerHTML = renderSpec(marked.Marked, markdown).html; // our own SPEC.md, from this origin
  // Code and tables that scroll sideways must be reachable from the keyboard.
  for (const wide of article.querySelectorAll('pre, table')) wide.tabIndex = 0;
  article.removeAttribute('aria-busy');
  showContents();
  jumpToHash();
  window.addEventListener('hashchange', () => {
    for (const old of article.querySelectorAll('.target')) old.classList.remove('target');
    jumpToHash();
  });
  document.documentElement.dataset.rendered = 'true';
}

main().catch((error) => {
  article.textContent = `The specification could not be loaded: ${error.message}`;
  article.classList.add('error');
});
