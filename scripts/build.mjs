// Bundles the function app (dist/app.js, run by the entry dist/index.js with a V8 code
// cache: what `func azure functionapp publish` uploads) and the local scripts with esbuild,
// so a cold start loads few files.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: 'linked',
  logLevel: 'warning',
  // Provided by the Functions worker at run time.
  external: ['@azure/functions-core'],
  // @azure/storage-common's ES module build (which an import of @azure/storage-queue
  // resolves to) calls createRequire(import.meta.url): in a CommonJS bundle that is this file's URL.
  define: { 'import.meta.url': '__guestpassImportMetaUrl' },
  banner: { js: 'var __guestpassImportMetaUrl = require("node:url").pathToFileURL(__filename).href;' },
};

/**
 * The operator console (web/console): one browser bundle and one style sheet with content
 * hashes in their names, and the page that loads them. They are embedded into the lazy
 * bundle dist/lazy/consoleAssets.js (lib/lazy/consoleAssets.ts is replaced by their
 * contents), which the console's first request loads, so the package needs no static files.
 */
async function buildConsoleAssets() {
  const result = await build({
    entryPoints: { console: 'web/console/src/main.ts', 'console-style': 'web/console/console.css' },
    outdir: 'web/console/out',
    entryNames: '[name]-[hash]',
    chunkNames: '[name]-[hash]',
    // Pages that need a large library (the bulk invite page's CSV parser) load it when opened.
    splitting: true,
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: ['es2022'],
    minify: true,
    legalComments: 'none',
    write: false,
    metafile: true,
    logLevel: 'warning',
  });
  const files = result.outputFiles.map((file) => ({ name: basename(file.path), text: file.text }));
  const script = files.find((file) => file.name.startsWith('console-') && file.name.endsWith('.js'));
  const style = files.find((file) => file.name.endsWith('.css'));
  // The chunks the entry imports statically are fetched alongside it, not after it has been parsed.
  const entryOutput = Object.entries(result.metafile.outputs).find(([path]) => basename(path) === script.name)[1];
  const preloads = entryOutput.imports.filter((imported) => imported.kind === 'import-statement').map((imported) => `<link rel="modulepreload" href="${basename(imported.path)}">`);
  const page = readFileSync('web/console/index.html', 'utf8')
    .replace('{{script}}', script.name)
    .replace('{{style}}', style.name)
    .replace('{{preloads}}', preloads.join('\n  '));
  const asset = (text, contentType, immutable) => ({ contentType, immutable, text, gzip: gzipSync(text, { level: 9 }).toString('base64') });
  const types = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };
  return Object.fromEntries([
    ['index.html', asset(page, 'text/html; charset=utf-8', false)],
    ...files.map((file) => [file.name, asset(file.text, types[file.name.slice(file.name.lastIndexOf('.'))], true)]),
  ]);
}

const consoleAssets = await buildConsoleAssets();
const embedConsoleAssets = {
  name: 'embed-console-assets',
  setup(bundler) {
    bundler.onLoad({ filter: /[\\/]lib[\\/]lazy[\\/]consoleAssets\.ts$/ }, () => ({
      contents: `export const consoleAssets = ${JSON.stringify(consoleAssets)};`,
      loader: 'ts',
    }));
  },
};

rmSync('dist', { recursive: true, force: true });
/**
 * lib/lazy/*.ts (lib/lazy/README.md): each is a bundle of its own, dist/lazy/<name>.js,
 * and the app's `await import('./lazy/<name>.js')` stays a require of that file, run
 * when the import runs, so a cold start does not parse what no request needs at load.
 */
const LAZY_DIR = resolve('lib/lazy');
const lazyEntries = Object.fromEntries(
  readdirSync(LAZY_DIR).filter((file) => file.endsWith('.ts')).map((file) => [`lazy/${file.slice(0, -'.ts'.length)}`, `lib/lazy/${file}`]),
);
/**
 * Each such import() becomes a require() run when the import runs (a module of its own, in
 * the bundle, whose body is the require), as does import() of a Node.js built-in: the app
 * entry compiles the bundle with vm.Script for its code cache (scripts/appEntry.cjs), and
 * a script compiled so can run import() only with Node.js 20's --experimental-vm-modules.
 */
const lazyBundles = {
  name: 'lazy-bundles',
  setup(build) {
    build.onResolve({ filter: /.*/, namespace: 'required-on-import' }, (args) => ({ path: args.path, external: true }));
    build.onLoad({ filter: /.*/, namespace: 'required-on-import' }, (args) => ({ contents: `module.exports = require(${JSON.stringify(args.path)});`, loader: 'js' }));
    build.onResolve({ filter: /\/lazy\/[\w-]+\.js$/ }, (args) => {
      const target = resolve(args.resolveDir, args.path);
      if (dirname(target) !== LAZY_DIR) return undefined;
      if (args.kind !== 'dynamic-import') throw new Error(`${args.importer}: import ${args.path} with await import(), never statically (lib/lazy/README.md)`);
      return { path: `./lazy/${basename(target)}`, namespace: 'required-on-import' };
    });
    build.onResolve({ filter: /^node:/ }, (args) => (args.kind === 'dynamic-import' ? { path: args.path, namespace: 'required-on-import' } : undefined));
  },
};
/**
 * What a cold start reads and compiles: whitespace and comments go (names stay, for stack
 * traces), and with them every non-ASCII character, which esbuild already escapes in
 * strings (charset 'ascii'). A file with one non-ASCII byte is decoded into a two-byte
 * string, which doubles the read and the memory V8 parses from.
 */
const appBundle = { ...common, minifyWhitespace: true, charset: 'ascii' };
/**
 * Stand-ins, in the app bundle, for dependencies that load at start but that no request
 * needs then (lib/lazy/xml.ts, jsonwebtoken.ts and proxyAgents.ts say why, each): each
 * stand-in exports what the app and its libraries use, and loads the real one from its
 * lazy bundle the first time it is called. The callers are synchronous (stringifyXML,
 * jwt.sign and jwt.verify, `new HttpsProxyAgent`), so the stand-ins require the bundle
 * rather than import it.
 */
const STAND_INS = {
  '@azure/core-xml': `
    const xml = () => require('./lazy/xml.js');
    export const XML_ATTRKEY = '$';
    export const XML_CHARKEY = '_';
    export function stringifyXML(content, options) { return xml().stringifyXML(content, options); }
    export function parseXML(text, options) { return xml().parseXML(text, options); }`,
  jsonwebtoken: `
    const jwt = () => require('./lazy/jsonwebtoken.js');
    export default {
      sign: (...args) => jwt().sign(...args),
      verify: (...args) => jwt().verify(...args),
      decode: (...args) => jwt().decode(...args),
      get TokenExpiredError() { return jwt().TokenExpiredError; },
      get JsonWebTokenError() { return jwt().JsonWebTokenError; },
      get NotBeforeError() { return jwt().NotBeforeError; },
    };`,
  'https-proxy-agent': `
    export class HttpsProxyAgent {
      constructor(...args) { return new (require('./lazy/proxyAgents.js').HttpsProxyAgent)(...args); }
    }`,
  'http-proxy-agent': `
    export class HttpProxyAgent {
      constructor(...args) { return new (require('./lazy/proxyAgents.js').HttpProxyAgent)(...args); }
    }`,
};
const loadedOnFirstUse = {
  name: 'loaded-on-first-use',
  setup(bundler) {
    const names = Object.keys(STAND_INS).map((name) => name.replace(/[/.-]/g, '\\$&')).join('|');
    bundler.onResolve({ filter: new RegExp(`^(${names})$`) }, (args) => ({ path: args.path, namespace: 'loaded-on-first-use' }));
    bundler.onResolve({ filter: /^\.\/lazy\/[\w-]+\.js$/, namespace: 'loaded-on-first-use' }, (args) => ({ path: args.path, external: true }));
    bundler.onLoad({ filter: /.*/, namespace: 'loaded-on-first-use' }, (args) => ({ contents: STAND_INS[args.path], loader: 'js' }));
  },
};
await build({ ...appBundle, entryPoints: { app: 'functions/index.ts' }, outdir: 'dist', plugins: [lazyBundles, loadedOnFirstUse] });
copyFileSync('scripts/appEntry.cjs', 'dist/index.js');
writeCodeCache();
// A dependency bundled from its ES module build may read import.meta.url (the Azure Monitor
// distro finds its JSON config beside itself): in a CommonJS bundle that is the bundle's own file URL.
const importMetaUrl = {
  define: { 'import.meta.url': '__bundleFileUrl' },
  banner: { js: 'const __bundleFileUrl = require("node:url").pathToFileURL(__filename).href;' },
};
await build({ ...appBundle, ...importMetaUrl, entryPoints: lazyEntries, outdir: 'dist', plugins: [embedConsoleAssets] });
await build({
  ...common,
  entryPoints: { 'scripts/start': 'scripts/start.ts', 'scripts/host': 'scripts/host.ts', 'scripts/keys': 'scripts/keys.ts' },
  outdir: 'dist',
  // The scripts load the built app itself (dist/index.js), never a second copy of it.
  external: [...common.external, '../index.js'],
});

// The operator CLI (package.json "bin" runs it through bin/guestpass.js).
await build({ ...common, entryPoints: { 'cli/guestpass': 'cli/index.ts' }, outdir: 'dist' });

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

// The hosted sign-in page's script ships with the function app (functions/oidcSignInScript.ts
// serves it): beside dist/index.js, so the deploy folder below takes it along.
copyFileSync('web/dist/hostedSignIn.js', 'dist/hostedSignIn.js');
writeDeployFolder();

// The benchmark and its baseline server; autocannon stays a dev dependency loaded from node_modules.
await build({
  ...common,
  entryPoints: { 'scripts/bench': 'scripts/bench.ts', 'scripts/benchBaseline': 'scripts/benchBaseline.ts', 'scripts/benchConsole': 'scripts/benchConsole.ts' },
  outdir: 'dist',
  external: [...common.external, 'autocannon', 'playwright-core', '@sparticuz/chromium'],
});

/**
 * dist/app.v8-<version>.cache, the V8 code cache dist/index.js (scripts/appEntry.cjs) compiles the bundle
 * with: made by this Node.js after running the bundle's load as the entry runs it, so it
 * holds every function the load compiles, not only the top level. The load runs in
 * development mode in an empty folder (no settings needed, nothing read from this
 * checkout's local.settings.json); nothing at load reaches a network. A Node.js without
 * zlib.crc32 (before 20.15) cannot check a cache against its bundle, so it makes none.
 */
function writeCodeCache() {
  const make = `
    const { readFileSync, writeFileSync } = require('node:fs');
    const { createRequire, wrap } = require('node:module');
    const { dirname, join } = require('node:path');
    const { Script } = require('node:vm');
    const { crc32 } = require('node:zlib');
    const file = process.argv[1];
    if (typeof crc32 !== 'function') process.exit(0);
    const source = readFileSync(file);
    const script = new Script(wrap(source.toString('utf8')), { filename: file });
    const app = { exports: {} };
    script.runInThisContext().call(app.exports, app.exports, createRequire(file), app, file, dirname(file));
    const out = join(dirname(file), 'app.v8-' + process.versions.v8.replace(/-.*/, '') + '.cache');
    const checksum = Buffer.alloc(4);
    checksum.writeUInt32BE(crc32(source));
    writeFileSync(out, Buffer.concat([checksum, script.createCachedData()]));`;
  const empty = mkdtempSync(join(tmpdir(), 'guestpass-code-cache-'));
  try {
    execFileSync(process.execPath, ['-e', make, resolve('dist/app.js')], {
      cwd: empty,
      env: { PATH: process.env.PATH, AZURE_FUNCTIONS_ENVIRONMENT: 'Development' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
}

/**
 * deploy/: the function app package, self-contained, for both deployment tools. azd
 * (azure.yaml `dist: deploy`) runs `npm run build` and zips this folder as it is
 * (Azure/azure-dev cli/azd/pkg/project/framework_service_node.go Package, then
 * project_utils.go createDeployableZip); `func azure functionapp publish` run in it zips
 * it too (Core Tools builds nothing for Node). Every dependency is bundled into the
 * JavaScript files, so there is no node_modules to install and no remote build.
 * local.settings.json only tells Core Tools the worker runtime (it reads
 * FUNCTIONS_WORKER_RUNTIME from there, WorkerRuntimeLanguageHelper.cs); both tools
 * leave that file out of the zip.
 */
function writeDeployFolder() {
  rmSync('deploy', { recursive: true, force: true });
  mkdirSync('deploy/dist', { recursive: true });
  copyFileSync('host.json', 'deploy/host.json');
  const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
  const deployed = { name: pkg.name, version: pkg.version, private: true, description: pkg.description, main: pkg.main, engines: pkg.engines };
  writeFileSync('deploy/package.json', `${JSON.stringify(deployed, null, 2)}\n`);
  writeFileSync('deploy/local.settings.json', `${JSON.stringify({ IsEncrypted: false, Values: { FUNCTIONS_WORKER_RUNTIME: 'node' } }, null, 2)}\n`);
  // The app entry and the bundles it loads at run time (dist/*.js, dist/lazy/*.js); the scripts and source maps stay home.
  mkdirSync('deploy/dist/lazy');
  for (const dir of ['dist', 'dist/lazy']) {
    for (const file of readdirSync(dir)) if (file.endsWith('.js')) copyFileSync(`${dir}/${file}`, `deploy/${dir}/${file}`);
  }
  for (const file of readdirSync('dist')) if (/^app\.v8-.*\.cache$/.test(file)) copyFileSync(`dist/${file}`, `deploy/dist/${file}`);
}
