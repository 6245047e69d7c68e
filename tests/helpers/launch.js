// What the Chromium and Firefox helpers share: finding an installed browser,
// the skip-or-fail rule, a fresh profile per launch, and console watching.

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** $VARIABLE when it names an existing file, else the first candidate that exists, else null. */
export function findExecutable(variable, candidates) {
  if (process.env[variable]) return existsSync(process.env[variable]) ? process.env[variable] : null;
  return candidates.find((path) => existsSync(path)) ?? null;
}

/**
 * Skip reason for node:test ("skipped: …"), or false when `reason` is null.
 * Under CI a missing browser is a failure, not a skip: this throws instead.
 */
export function skipOrFail(reason, what) {
  if (reason && process.env.CI) throw new Error(`${what} cannot run under CI: ${reason}`);
  return reason ? `skipped: ${reason}` : false;
}

/**
 * Runs `open(profileDir)` with a fresh temporary profile and resolves to
 * { handle, close() }: close() closes the handle and deletes the profile,
 * which is also deleted when opening fails.
 */
export async function withFreshProfile(prefix, open) {
  const profile = mkdtempSync(join(tmpdir(), prefix));
  let handle;
  try {
    handle = await open(profile);
  } catch (error) {
    rmSync(profile, { recursive: true, force: true });
    throw error;
  }
  return {
    handle,
    profile,
    async close() {
      await handle.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Collects the page's console errors and warnings and its uncaught errors
 * into `problems` (the same calls in playwright-core and puppeteer-core).
 */
export function watchConsole(page, problems) {
  page.on('console', (message) => {
    if (['error', 'warn', 'warning'].includes(message.type())) problems.push(`${message.type()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`uncaught: ${error.stack ?? error.message}`));
  return problems;
}
