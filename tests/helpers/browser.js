// Launches the system's Chromium through playwright-core for the page tests.
// Nothing is downloaded: the browser must be installed (Debian: `chromium`).

import { readdirSync, readFileSync } from 'node:fs';
import { findExecutable, skipOrFail, withFreshProfile } from './launch.js';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

// Headless Chromium still builds its browser UI, and a second or two after
// start-up it sometimes loads the omnibox popup (a WebUI page, about 0.5–1 s
// of CPU in its own renderer). On a two-core machine that lands in the page
// test's measuring window about half the time; these two features turn it off.
const QUIET_FEATURES = ['WebUIOmniboxPopup', 'WebUIOmniboxAimPopup'];
// Chromium keeps only the last --disable-features switch, and playwright-core
// passes its own list first, so ours must repeat it: this is playwright-core
// 1.65's list (see chromiumSwitches in its coreBundle.js). launchBrowser
// checks, on Linux, that the running browser got no feature we dropped.
const PLAYWRIGHT_DISABLED_FEATURES = [
  'AvoidUnnecessaryBeforeUnloadCheckSync', 'DestroyProfileOnBrowserClose', 'HttpsUpgrades',
  'HttpsFirstBalancedModeAutoEnable', 'LensOverlay', 'MediaRouter', 'PaintHolding',
  'ThirdPartyStoragePartitioning', 'AvoidCorsURLLoaderRestartOnRedirect', 'TcpPortRandomizationWin',
  'OptimizationHints', 'NetworkTimeServiceQuerying', 'AimEnabled', 'PreconnectToSearch',
  'msForceBrowserSignIn', 'msEdgeUpdateLaunchServicesPreferredVersion',
];

const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  `--disable-features=${[...PLAYWRIGHT_DISABLED_FEATURES, ...QUIET_FEATURES].join(',')}`,
];

/** The browser to use: $CHROMIUM, else the first system Chromium found, else null. */
export function findChromium() {
  return findExecutable('CHROMIUM', CANDIDATES);
}

/** Why the browser tests cannot run here, or null when they can. */
export async function browserUnavailable() {
  if (!findChromium()) return `no Chromium found (looked for $CHROMIUM and ${CANDIDATES.join(', ')})`;
  try {
    await import('playwright-core');
  } catch {
    return 'playwright-core is not installed (npm install)';
  }
  return null;
}

/** Skip reason for node:test, or throws when CI is set and the browser is missing. */
export async function skipUnlessBrowser() {
  return skipOrFail(await browserUnavailable(), 'browser tests');
}

// The --disable-features lists a running browser was given (Linux: from /proc),
// found by its profile directory; null where that cannot be read.
function disabledFeatureSwitches(profile) {
  let pids;
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return null;
  }
  for (const pid of pids) {
    let args;
    try {
      args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (!args.includes(`--user-data-dir=${profile}`) || args.some((a) => a.startsWith('--type='))) continue;
    return args.filter((a) => a.startsWith('--disable-features=')).map((a) => a.slice('--disable-features='.length).split(','));
  }
  return null;
}

/**
 * A fresh browser context with its own temporary profile.
 * Resolves to { context, close() }; close() also deletes the profile.
 */
export async function launchBrowser({ viewport = { width: 1400, height: 1000 } } = {}) {
  const { chromium } = await import('playwright-core');
  const launched = await withFreshProfile('rnnlab-chromium-', (profile) => chromium.launchPersistentContext(profile, {
    executablePath: findChromium(),
    headless: true,
    args: ARGS,
    viewport,
    acceptDownloads: true,
    timeout: 60_000,
  }));
  // Ours is the last --disable-features switch, the one Chromium keeps: it
  // must still hold every feature playwright-core turns off.
  const lists = disabledFeatureSwitches(launched.profile);
  const ours = lists?.at(-1) ?? [];
  const dropped = (lists ?? []).slice(0, -1).flat().filter((f) => f && !ours.includes(f));
  if (dropped.length) {
    await launched.close();
    throw new Error(`playwright-core now disables features that tests/helpers/browser.js does not repeat: ${dropped.join(', ')}; add them to PLAYWRIGHT_DISABLED_FEATURES`);
  }
  return { context: launched.handle, close: launched.close };
}
