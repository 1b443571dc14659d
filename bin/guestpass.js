#!/usr/bin/env node
// The `guestpass` command (package.json "bin"). It runs the CLI bundle that `npm run build`
// makes (dist/cli/guestpass.js); in a fresh clone, where nothing is built yet, it builds
// that one bundle first with esbuild (a dependency of the project), so `npm install` then
// `npx guestpass --help` works without another step.
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const bundle = join(root, 'dist', 'cli', 'guestpass.js');
if (!existsSync(bundle)) {
  require('esbuild').buildSync({
    entryPoints: [join(root, 'cli', 'index.ts')],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    logLevel: 'warning',
  });
}
require(bundle);
