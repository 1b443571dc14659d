// npm run measure:import — what loading the built app entry costs a cold start.
// Alternates `node -e 0` with `node -e "require('./dist/index.js')"` in one run (so both
// see the same machine load) and prints each median and their ratio. The app runs with
// production-shaped settings (fresh secrets from dist/scripts/keys.js, an identity
// endpoint), as in Azure; nothing connects at import.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const runs = Number(process.argv[2] ?? 25);
if (!existsSync('dist/index.js')) execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });

const secrets = Object.fromEntries(
  execFileSync(process.execPath, ['dist/scripts/keys.js'], { stdio: ['ignore', 'pipe', 'ignore'] })
    .toString()
    .trim()
    .split('\n')
    .map((line) => /^([A-Z_]+)='(.*)'$/.exec(line).slice(1)),
);
const env = {
  PATH: process.env.PATH,
  AZURE_FUNCTIONS_ENVIRONMENT: 'Production',
  TABLES_ENDPOINT: 'https://stguestpass.table.core.windows.net/',
  AZURE_CLIENT_ID: '00000000-0000-0000-0000-000000000001',
  SENDGRID_API_KEY: 'SG.measure',
  EMAIL_FROM: 'guestpass@contoso.com',
  ...secrets,
};

const commands = {
  'node -e 0': ['-e', '0'],
  'import dist/index.js': ['-e', "require('./dist/index.js')"],
};

function timeOnce(args) {
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) throw new Error(`node ${args.join(' ')} failed: ${result.stderr}`);
  return ms;
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

const samples = Object.fromEntries(Object.keys(commands).map((name) => [name, []]));
for (const args of Object.values(commands)) timeOnce(args); // warm the file cache
for (let i = 0; i < runs; i += 1) {
  // Alternate which goes first, so neither always follows the other.
  const order = i % 2 ? Object.keys(commands).reverse() : Object.keys(commands);
  for (const name of order) samples[name].push(timeOnce(commands[name]));
}

const baseline = median(samples['node -e 0']);
const app = median(samples['import dist/index.js']);
console.log(`runs: ${runs} each, alternating`);
for (const [name, values] of Object.entries(samples)) {
  console.log(`${name.padEnd(22)} median ${median(values).toFixed(1)} ms  (min ${Math.min(...values).toFixed(1)}, max ${Math.max(...values).toFixed(1)})`);
}
console.log(`ratio (import / node -e 0): ${(app / baseline).toFixed(2)}  — the app's own load: ${(app - baseline).toFixed(1)} ms`);
