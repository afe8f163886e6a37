import { type Browser, chromium } from 'playwright-core';

/** Debian's chromium (scripts/install-chromium.sh installs it), or CHROMIUM_PATH. Never a downloaded browser. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Flags for a quiet headless Chromium in a container: no sandbox (root), no GPU, and none of the background
 * requests a fresh profile makes (component updates, sync, QUIC probes). Playwright adds --headless and a fresh
 * temporary --user-data-dir of its own.
 */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/** Launches headless Chromium through playwright-core with `executablePath` (no browser download). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
}
