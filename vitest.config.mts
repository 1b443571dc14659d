import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['test/globalSetup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default', './test/summaryReporter.ts'],
    projects: [
      { extends: true, test: { name: 'suite', include: ['test/**/*.test.ts'], exclude: ['test/noOracle.test.ts'] } },
      // Timing within 2 ms is measured alone, once every other file has finished: on a two-core machine the
      // other files' load is noise a median of 30 does not average out.
      { extends: true, test: { name: 'timing', include: ['test/noOracle.test.ts'], sequence: { groupOrder: 1 } } },
    ],
  },
});
