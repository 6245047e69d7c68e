// Launches the system's Firefox through puppeteer-core, which speaks WebDriver
// BiDi to a stock Firefox (playwright-core needs its own patched build, which
// cannot be downloaded here). Nothing is downloaded: Debian's `firefox-esr`.

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CANDIDATES = ['/usr/bin/firefox-esr', '/usr/bin/firefox'];

/** The browser to use: $FIREFOX, else the first system Firefox found, else null. */
export function findFirefox() {
  if (process.env.FIREFOX) return existsSync(process.env.FIREFOX) ? process.env.FIREFOX : null;
  return CANDIDATES.find((path) => existsSync(path)) ?? null;
}

/** Skip reason for node:test, or throws when CI is set and Firefox or puppeteer-core is missing. */
export async function skipUnlessFirefox() {
  let reason = null;
  if (!findFirefox()) reason = `no Firefox found (looked for $FIREFOX and ${CANDIDATES.join(', ')})`;
  else {
    try {
      await import('puppeteer-core');
    } catch {
      reason = 'puppeteer-core is not installed (npm install)';
    }
  }
  if (reason && process.env.CI) throw new Error(`Firefox tests cannot run under CI: ${reason}`);
  return reason ? `skipped: ${reason}` : false;
}

/** A headless Firefox with a fresh profile; close() also deletes the profile. */
export async function launchFirefox() {
  const { default: puppeteer } = await import('puppeteer-core');
  const profile = mkdtempSync(join(tmpdir(), 'rnnlab-firefox-'));
  let browser;
  try {
    browser = await puppeteer.launch({
      browser: 'firefox', executablePath: findFirefox(), headless: true, userDataDir: profile,
      protocolTimeout: 60_000, timeout: 60_000,
    });
  } catch (error) {
    rmSync(profile, { recursive: true, force: true });
    throw error;
  }
  return {
    browser,
    async close() {
      await browser.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
