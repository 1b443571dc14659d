import { chromium, type Browser } from 'playwright-core';

/**
 * The Chromium the browser tests and `npm run bench:console` drive through playwright-core.
 * By default the headless-shell build that the npm package @sparticuz/chromium carries inside
 * it (unpacked into the temporary directory on first use), so `npm install && npm test` needs
 * nothing but Node.js: no apt, no browser download. CHROMIUM_PATH names another Chromium
 * (Debian's /usr/bin/chromium, say).
 *
 * The package's own `args` are not passed: they are tuned for AWS Lambda and include
 * --disable-web-security and --single-process, which would switch off the CORS and
 * Content-Security-Policy checks the tests rely on. These are the flags a headless run in a
 * container needs (no sandbox as root, no GPU) and no more.
 */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The executable: CHROMIUM_PATH, else @sparticuz/chromium's, unpacked on first call. */
export async function chromiumExecutable(): Promise<string> {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  const { default: packaged } = await import('@sparticuz/chromium');
  return packaged.executablePath();
}

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: await chromiumExecutable(), headless: true, args: CHROMIUM_ARGS });
}
