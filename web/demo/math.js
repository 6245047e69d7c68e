// Typesets the page's equations: every element with a data-tex attribute gets
// its TeX rendered by KaTeX as MathML, which the browser lays out itself (no
// stylesheet, fonts or inline styles needed, so the strict CSP holds).

import katex from '../vendor/katex.mjs';

/** MathML for one TeX string, without the TeX annotation KaTeX keeps inside. */
export function mathml(tex, displayMode) {
  const html = katex.renderToString(tex, { output: 'mathml', displayMode, throwOnError: true, strict: 'ignore' });
  return html.replace(/<annotation encoding="application\/x-tex">[\s\S]*?<\/annotation>/g, '');
}

/** Renders every [data-tex] element under `root`. */
export function renderMath(root = document) {
  for (const el of root.querySelectorAll('[data-tex]')) {
    const display = el.tagName !== 'SPAN';
    try {
      el.innerHTML = mathml(el.dataset.tex, display);
      el.classList.add('typeset');
    } catch (error) {
      el.textContent = el.dataset.tex;
      console.warn(`could not typeset ${el.dataset.tex}: ${error.message}`);
    }
  }
}
