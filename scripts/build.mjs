// Bundles the function app (dist/index.js, what `func azure functionapp publish`
// uploads) and the local scripts with esbuild, so a cold start loads few files.
import { build } from 'esbuild';
import { copyFileSync, rmSync } from 'node:fs';

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: 'linked',
  logLevel: 'warning',
  // Provided by the Functions worker at run time.
  external: ['@azure/functions-core'],
};

rmSync('dist', { recursive: true, force: true });
await build({ ...common, entryPoints: { index: 'functions/index.ts' }, outdir: 'dist' });
await build({
  ...common,
  entryPoints: { 'scripts/start': 'scripts/start.ts', 'scripts/host': 'scripts/host.ts', 'scripts/keys': 'scripts/keys.ts' },
  outdir: 'dist',
  // The scripts load the built app itself (dist/index.js), never a second copy of it.
  external: [...common.external, '../index.js'],
});

// The SPA side (web/dist, served by the local host next to web/index.html): the client
// and sign-in element as one browser ES module with no runtime dependency, the client
// alone, and the demo page's script.
rmSync('web/dist', { recursive: true, force: true });
await build({
  entryPoints: { guestpass: 'web/src/index.ts', client: 'web/src/client.ts', demo: 'web/src/demo.ts', hostedSignIn: 'web/src/hostedSignIn.ts' },
  outdir: 'web/dist',
  bundle: true,
  platform: 'browser',
  format: 'esm',
  target: ['es2022'],
  sourcemap: 'linked',
  logLevel: 'warning',
});

// The hosted sign-in page's script ships with the function app (functions/oidcSignInScript.ts serves it).
copyFileSync('web/dist/hostedSignIn.js', 'dist/hostedSignIn.js');

// The benchmark and its baseline server; autocannon stays a dev dependency loaded from node_modules.
await build({
  ...common,
  entryPoints: { 'scripts/bench': 'scripts/bench.ts', 'scripts/benchBaseline': 'scripts/benchBaseline.ts' },
  outdir: 'dist',
  external: [...common.external, 'autocannon'],
});
