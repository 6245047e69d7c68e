// Launches the system's Firefox through puppeteer-core, which speaks WebDriver
// BiDi to a stock Firefox (playwright-core needs its own patched build, which
// cannot be downloaded here). Nothing is downloaded: Debian's `firefox-esr`.

import { findExecutable, skipOrFail, withFreshProfile } from './launch.js';

const CANDIDATES = ['/usr/bin/firefox-esr', '/usr/bin/firefox'];

/** The browser to use: $FIREFOX, else the first system Firefox found, else null. */
export function findFirefox() {
  return findExecutable('FIREFOX', CANDIDATES);
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
  return skipOrFail(reason, 'Firefox tests');
}

/** A headless Firefox with a fresh profile; close() also deletes the profile. */
export async function launchFirefox() {
  const { default: puppeteer } = await import('puppeteer-core');
  const launched = await withFreshProfile('rnnlab-firefox-', (profile) => puppeteer.launch({
    browser: 'firefox', executablePath: findFirefox(), headless: true, userDataDir: profile,
    protocolTimeout: 60_000, timeout: 60_000,
  }));
  return { browser: launched.handle, close: launched.close };
}
