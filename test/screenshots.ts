import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

const REPO = resolve(__dirname, '..');

/**
 * Where a test writes a picture that the docs show: test-artifacts/<suite>/ (git-ignored) on
 * every run, and docs/ only under `npm run screenshots` (GUESTPASS_UPDATE_SCREENSHOTS=1), so
 * `npm test` leaves the checkout as it found it (each run's codes, ids and times differ, so a
 * picture taken on every run would change every time).
 */
export function docsPicture(suite: string, file: string): string {
  if (process.env.GUESTPASS_UPDATE_SCREENSHOTS === '1') return join(REPO, 'docs', file);
  const dir = join(REPO, 'test-artifacts', suite);
  mkdirSync(dir, { recursive: true });
  return join(dir, file);
}
