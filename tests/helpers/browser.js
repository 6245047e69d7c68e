// Launches the system's Chromium through playwright-core for the page tests.
// Nothing is downloaded: the browser must be installed (Debian: `chromium`).

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

// Headless Chromium still builds its browser UI, and a second or two after
// start-up it sometimes loads the omnibox popup (a WebUI page, about 0.5–1 s
// of CPU in its own renderer). On a two-core machine that lands in the page
// test's measuring window about half the time; these two features turn it off.
const QUIET_FEATURES = ['WebUIOmniboxPopup', 'WebUIOmniboxAimPopup'];
// Chromium keeps only the last --disable-features switch, and playwright-core
// passes its own list first, so ours must repeat it: this is playwright-core
// 1.65's list (see chromiumSwitches in its coreBundle.js).
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
  if (process.env.CHROMIUM) return existsSync(process.env.CHROMIUM) ? process.env.CHROMIUM : null;
  return CANDIDATES.find((path) => existsSync(path)) ?? null;
}

/**
 * Why the browser tests cannot run here, or null when they can. Under CI a
 * missing browser is a failure, not a skip: the caller throws instead.
 */
export async function browserUnavailable() {
  const executable = findChromium();
  if (!executable) return `no Chromium found (looked for $CHROMIUM and ${CANDIDATES.join(', ')})`;
  try {
    await import('playwright-core');
  } catch {
    return 'playwright-core is not installed (npm install)';
  }
  return null;
}

/** Skip reason for node:test, or throws when CI is set and the browser is missing. */
export async function skipUnlessBrowser() {
  const reason = await browserUnavailable();
  if (reason && process.env.CI) throw new Error(`browser tests cannot run under CI: ${reason}`);
  return reason ? `skipped: ${reason}` : false;
}

/**
 * A fresh browser context with its own temporary profile.
 * Resolves to { context, close() }; close() also deletes the profile.
 */
export async function launchBrowser({ viewport = { width: 1400, height: 1000 } } = {}) {
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'rnnlab-chromium-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: findChromium(),
      headless: true,
      args: ARGS,
      viewport,
      acceptDownloads: true,
      timeout: 60_000,
    });
  } catch (error) {
    rmSync(profile, { recursive: true, force: true });
    throw error;
  }
  return {
    context,
    async close() {
      await context.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
