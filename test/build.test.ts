import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/*
 * What `npm run build` leaves for `func azure functionapp publish` (globalSetup has
 * just built it): the package the Functions host loads, and nothing else.
 */
const REPO = resolve(__dirname, '..');
const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { main: string };

/** Settings shaped like the deployment's (secrets from the keys script); nothing connects at load. */
function productionSettings(): Record<string, string> {
  const printed = execFileSync(process.execPath, [join(REPO, 'dist', 'scripts', 'keys.js')], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  const secrets = Object.fromEntries(printed.trim().split('\n').map((line) => /^([A-Z_]+)='(.*)'$/.exec(line)!.slice(1)));
  return {
    PATH: process.env.PATH ?? '',
    AZURE_FUNCTIONS_ENVIRONMENT: 'Production',
    TABLES_ENDPOINT: 'https://stguestpass.table.core.windows.net/',
    AZURE_CLIENT_ID: '00000000-0000-0000-0000-000000000001',
    SENDGRID_API_KEY: 'SG.sample',
    EMAIL_FROM: 'guestpass@contoso.com',
    ...secrets,
  };
}

const DESCRIBE_APP = `
const app = require('./' + require('./package.json').main);
console.log(JSON.stringify({
  http: app.registrations.http.map((r) => r.name),
  timer: app.registrations.timer.map((t) => ({ name: t.name, schedule: t.options.schedule })),
}));`;

describe('npm run build, for func azure functionapp publish', () => {
  it('leaves the package alone in a folder loading every function with no node_modules at all', () => {
    expect(pkg.main).toBe('dist/index.js');
    const host = JSON.parse(readFileSync(join(REPO, 'host.json'), 'utf8'));
    expect(host.version).toBe('2.0');
    expect(host.extensionBundle.id).toBe('Microsoft.Azure.Functions.ExtensionBundle');

    // Only what is published, in a folder of its own: nothing to resolve from node_modules.
    const published = mkdtempSync(join(tmpdir(), 'guestpass-publish-'));
    mkdirSync(join(published, 'dist'));
    for (const file of ['host.json', 'package.json', 'dist/index.js']) copyFileSync(join(REPO, file), join(published, file));
    writeFileSync(join(published, 'describe.js'), DESCRIBE_APP);
    const loaded = JSON.parse(
      execFileSync(process.execPath, ['describe.js'], { cwd: published, env: productionSettings(), stdio: ['ignore', 'pipe', 'pipe'] }).toString(),
    ) as { http: string[]; timer: { name: string; schedule: string }[] };

    expect(loaded.http.length).toBeGreaterThanOrEqual(8);
    expect(loaded.http).toEqual(expect.arrayContaining(['sendCode', 'verifyCode', 'sessionCheck']));
    expect(loaded.timer).toEqual([{ name: 'cleanup', schedule: '0 */15 * * * *' }]);
  });

  it('bundles every dependency: the app entry requires only Node built-ins and the worker-provided @azure/functions-core', () => {
    const bundle = readFileSync(join(REPO, 'dist', 'index.js'), 'utf8');
    const required = new Set([...bundle.matchAll(/\brequire\("([^"]+)"\)/g)].map((match) => match[1]!));
    const builtins = new Set(require('node:module').builtinModules as string[]);
    const outside = [...required].filter((name) => name !== '@azure/functions-core' && !name.startsWith('node:') && !builtins.has(name));
    expect(outside).toEqual([]);
  });

  it('carries no test code: the bundle is built from functions/ and lib/ and their dependencies only', () => {
    const map = JSON.parse(readFileSync(join(REPO, 'dist', 'index.js.map'), 'utf8')) as { sources: string[] };
    const sources = map.sources.map((source) => source.replace(/^(\.\.\/)+/, ''));
    expect(sources).toEqual(expect.arrayContaining(['functions/index.ts', 'functions/cleanup.ts', 'lib/cleanup.ts']));
    // Dependencies may chain their own maps (webpack://...); the repository's files are plain relative paths.
    const ownSources = sources.filter((source) => !source.startsWith('node_modules/') && !/^[a-z-]+:\/\//.test(source));
    // package.json is read for the version the OpenAPI document states.
    expect(ownSources.filter((source) => !/^(functions|lib)\//.test(source) && source !== 'package.json')).toEqual([]);
    const testTools = ['vitest', 'azurite', 'tree-sitter', 'tree-sitter-bicep', 'esbuild', 'typescript', 'playwright-core'];
    expect(sources.filter((source) => testTools.some((name) => source.startsWith(`node_modules/${name}/`)))).toEqual([]);
  });

  it('.funcignore publishes host.json, package.json and dist/index.js, and nothing else', () => {
    const candidates = [
      ...execFileSync('git', ['ls-files'], { cwd: REPO }).toString().trim().split('\n'),
      ...['dist/index.js', 'dist/index.js.map', 'dist/scripts/start.js', 'dist/scripts/host.js', 'dist/scripts/keys.js'],
      ...['node_modules/zod/package.json', 'local.settings.json', '.azure/dev/.env', '.azurite/__azurite_db_table__.json'],
    ];
    // git reads .funcignore the way Core Tools and azd do for these plain names.
    const probe = mkdtempSync(join(tmpdir(), 'guestpass-funcignore-'));
    execFileSync('git', ['init', '-q'], { cwd: probe });
    copyFileSync(join(REPO, '.funcignore'), join(probe, '.git', 'info', 'exclude'));
    let ignored: string[] = [];
    try {
      ignored = execFileSync('git', ['check-ignore', '--no-index', '--stdin'], { cwd: probe, input: candidates.join('\n') })
        .toString()
        .trim()
        .split('\n');
    } catch (error) {
      throw new Error(`git check-ignore: ${String(error)}`);
    }
    const published = candidates.filter((path) => !ignored.includes(path)).sort();
    expect(published).toEqual(['dist/index.js', 'host.json', 'package.json']);
  });
});

describe('mail provider libraries, for a short cold start', () => {
  /*
   * Each provider's library is imported behind its loader (lib/mail/*.ts, loadOnFirstUse).
   * esbuild keeps such an import() in the one bundle as a lazy module wrapper: the
   * library's code runs when the loader first calls its initialiser, never at app load.
   * So each initialiser the loaders call must be called nowhere else in the bundle.
   */
  it('are initialised only by their loaders, on the first mail', () => {
    const bundle = readFileSync(join(REPO, 'dist', 'index.js'), 'utf8');
    const loaders = {
      '@azure/communication-email': /\{ EmailClient(?:: \w+)? \} = await Promise\.resolve\(\)\.then\(\(\) => \((init_\w+)\(\), \w+\)\)/,
      nodemailer: /nodemailer\w* = await Promise\.resolve\(\)\.then\(\(\) => __toESM\((require_nodemailer\w*)\(\)\)\)/,
      '@sendgrid/mail': /\{ MailService \}\] = await Promise\.all\(\[Promise\.resolve\(\)\.then\(\(\) => __toESM\(require_\w+\(\)\)\), Promise\.resolve\(\)\.then\(\(\) => __toESM\((require_\w+)\(\)\)\)\]\)/,
    };
    for (const [library, loader] of Object.entries(loaders)) {
      const initialiser = loader.exec(bundle)?.[1];
      expect(initialiser, `the loader of ${library} in dist/index.js`).toBeDefined();
      const calls = bundle.split(`${initialiser}()`).length - 1;
      expect(calls, `${initialiser}() (${library}) is called only by its loader`).toBe(1);
    }
  });
});
