/** Debian's Chromium driven by playwright-core (never a downloaded browser). */

import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from 'playwright-core';

/** Where the tests and the benchmark write screenshots (`.tmp/screenshots/` at the repository root). */
export const SCREENSHOTS = fileURLToPath(new URL('../../../.tmp/screenshots/', import.meta.url));

/** Launches /usr/bin/chromium headless, with no network of its own beyond the page's. */
export async function launchChromium(): Promise<Browser> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
