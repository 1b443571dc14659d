// `npm run screenshots`: the suites that take the docs' pictures, told to write them into
// docs/ (test/screenshots.ts); `npm test` writes them under test-artifacts/ only.
import { spawnSync } from 'node:child_process';

const suites = ['test/console.test.ts', 'test/mailScreenshot.test.ts'];
const run = spawnSync(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', ...suites], {
  stdio: 'inherit',
  env: { ...process.env, GUESTPASS_UPDATE_SCREENSHOTS: '1' },
});
process.exitCode = run.status ?? 1;
