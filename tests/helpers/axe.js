// axe-core in the page under test, in Chromium (playwright-core) or Firefox
// (puppeteer-core). The page's CSP forbids inline scripts, so axe's source is
// not added as a <script>: the test driver evaluates it (as it evaluates any
// function), which the page's policy does not govern.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
export const AXE_VERSION = require('axe-core/package.json').version;

// Every rule axe runs by default (WCAG 2.0–2.2 A and AA, and best practice).
const RUN_OPTIONS = { resultTypes: ['violations'] };

/** axe's violations on the page now, each as { id, impact, nodes: [selector …], summary }. */
export async function axeViolations(page) {
  const loaded = await page.evaluate(() => typeof window.axe === 'object');
  if (!loaded) await page.evaluate(`${AXE_SOURCE}\n;void 0`);
  const violations = await page.evaluate(async (options) => {
    const result = await window.axe.run(document, options);
    return result.violations.map((v) => ({
      id: v.id, impact: v.impact,
      nodes: v.nodes.map((n) => n.target.join(' ')),
      summary: v.nodes[0]?.failureSummary ?? '',
    }));
  }, RUN_OPTIONS);
  return violations;
}

/** A readable list of violations, for assertion messages. */
export function describeViolations(violations) {
  return violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 6).join(', ')}${v.nodes.length > 6 ? ` … ${v.nodes.length} in all` : ''}\n  ${v.summary.split('\n').slice(0, 3).join(' ')}`).join('\n');
}
