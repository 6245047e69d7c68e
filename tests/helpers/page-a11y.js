// What the accessibility tests share: recording what the page's worker sends
// (to check the page's words against), the keyboard walk, and waits.

/** An init script: every 'progress' and 'diag' message of the page's worker, kept in window.__rx. */
export function recordWorker() {
  const fresh = () => ({ progress: [], diags: [] });
  window.__rx = fresh();
  const Native = window.Worker;
  window.Worker = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', ({ data }) => {
        if (data.type === 'built') window.__rx = fresh();
        else if (data.type === 'progress') window.__rx.progress.push(data);
        else if (data.type === 'diag') window.__rx.diags.push(data);
      });
    }
  };
}

/** The recorded messages, with typed arrays as plain ones so they leave the page intact. */
export function readRecording(page) {
  return page.evaluate(() => {
    const plain = (value) => {
      if (ArrayBuffer.isView(value)) return Array.from(value, (v) => (Number.isFinite(v) ? v : null));
      if (Array.isArray(value)) return value.map(plain);
      if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
      return value;
    };
    const { progress, diags } = window.__rx;
    return { progress: plain(progress), diags: plain(diags.slice(0, -1).map((d) => ({ step: d.step, cells: d.cells.map((c) => ({ id: c.id, val: c.val })) }))).concat(plain(diags.slice(-1))) };
  });
}

/**
 * Presses Tab (Shift+Tab when `back`) until the focused element matches
 * `selector`; throws after `limit` presses. Resolves to the number of presses.
 */
export async function tabTo(page, selector, { back = false, limit = 200 } = {}) {
  for (let n = 1; n <= limit; n++) {
    await page.keyboard.press(back ? 'Shift+Tab' : 'Tab');
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return n;
  }
  throw new Error(`${selector} was not reached with ${limit} presses of ${back ? 'Shift+Tab' : 'Tab'}`);
}

/**
 * Whether the focused element shows a focus indicator: an outline on itself,
 * or (a visually hidden radio or file input) on the element that stands for it.
 */
export function focusIsVisible(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    const drawn = (node) => node && getComputedStyle(node).outlineStyle !== 'none' && parseFloat(getComputedStyle(node).outlineWidth) >= 2;
    return drawn(el) || drawn(el.nextElementSibling) || drawn(el.closest('label'));
  });
}

export const statusText = (page) => page.textContent('#status');

/** Waits for the status line to match `pattern`; a timeout names the line it had. */
export async function waitForStatus(page, pattern, timeout = 30_000) {
  try {
    await page.waitForFunction((source) => new RegExp(source).test(document.querySelector('#status').textContent),
      pattern.source, { timeout, polling: 250 });
  } catch (error) {
    const status = await page.evaluate(() => document.querySelector('#status').textContent).catch(() => '?');
    throw new Error(`the status never matched ${pattern}; it reads "${status}" (${error.message.split('\n')[0]})`);
  }
}
