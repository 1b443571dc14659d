import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/*
 * What `npm run build` leaves in deploy/ for azd and `func azure functionapp publish` (globalSetup has
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
    AzureWebJobsStorage__accountName: 'stguestpass',
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
  queue: app.registrations.queue.map((q) => ({ name: q.name, queueName: q.options.queueName, connection: q.options.connection })),
}));`;

/** What the app registered itself: each function's name and the options the host needs. */
const DESCRIBE_REGISTRATIONS = `
const app = require('./' + require('./package.json').main);
console.log(JSON.stringify({
  http: app.registrations.http.map((r) => ({ name: r.name, route: r.options.route, methods: r.options.methods, authLevel: r.options.authLevel })),
  timer: app.registrations.timer.map((t) => ({ name: t.name, schedule: t.options.schedule })),
  queue: app.registrations.queue.map((q) => ({ name: q.name, queueName: q.options.queueName, connection: q.options.connection })),
}));`;

const STAND_IN = join(REPO, 'test', 'fixtures', 'functionsCoreStandIn.cjs');

const DEPLOY = join(REPO, 'deploy');

function filesIn(root: string, dir = root): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesIn(root, join(dir, entry.name)) : [relative(root, join(dir, entry.name)).split('\\').join('/')],
  );
}

/** Only what is published (deploy/ without local.settings.json), in a folder of its own: nothing to resolve from node_modules. */
function publishedFolder(): string {
  const published = mkdtempSync(join(tmpdir(), 'guestpass-publish-'));
  for (const file of filesIn(DEPLOY).filter((name) => name !== 'local.settings.json')) {
    mkdirSync(dirname(join(published, file)), { recursive: true });
    copyFileSync(join(DEPLOY, file), join(published, file));
  }
  return published;
}

describe('npm run build, for azd and func azure functionapp publish (deploy/)', () => {
  it('leaves the package alone in a folder loading every function with no node_modules at all', () => {
    expect(pkg.main).toBe('dist/index.js');
    const host = JSON.parse(readFileSync(join(REPO, 'host.json'), 'utf8'));
    expect(host.version).toBe('2.0');
    expect(host.extensionBundle.id).toBe('Microsoft.Azure.Functions.ExtensionBundle');

    const published = publishedFolder();
    writeFileSync(join(published, 'describe.js'), DESCRIBE_APP);
    const loaded = JSON.parse(
      execFileSync(process.execPath, ['describe.js'], { cwd: published, env: productionSettings(), stdio: ['ignore', 'pipe', 'pipe'] }).toString(),
    ) as { http: string[]; timer: { name: string; schedule: string }[] };

    expect(loaded.http.length).toBeGreaterThanOrEqual(8);
    expect(loaded.http).toEqual(expect.arrayContaining(['sendCode', 'verifyCode', 'sessionCheck']));
    expect(loaded.timer).toEqual([{ name: 'cleanup', schedule: '0 */15 * * * *' }]);
  });

  it('carries the operator console in its lazy bundle: the published package alone serves its page and every file the page loads', () => {
    const published = publishedFolder();
    // The console's registration answers as the Functions host would call it: route parameter `asset`.
    writeFileSync(join(published, 'console.js'), `
const app = require('./' + require('./package.json').main);
const { handler } = app.registrations.http.find((r) => r.name === 'console').options;
const get = (asset) => handler({ params: { asset }, url: 'https://app.example/api/manage/console/' + asset, headers: new Headers() }, {});
(async () => {
  const page = await get('');
  const files = [...page.body.matchAll(/(?:src|href)="([^":]+)"/g)].map((m) => m[1]);
  const answers = await Promise.all(files.map(async (file) => { const r = await get(file); return { file, status: r.status, type: r.headers['Content-Type'], bytes: r.body.length }; }));
  console.log(JSON.stringify({ status: page.status, csp: page.headers['Content-Security-Policy'], answers }));
})();`);
    const served = JSON.parse(
      execFileSync(process.execPath, ['console.js'], { cwd: published, env: productionSettings(), stdio: ['ignore', 'pipe', 'pipe'] }).toString(),
    ) as { status: number; csp: string; answers: { file: string; status: number; type: string; bytes: number }[] };
    expect(served.status).toBe(200);
    expect(served.csp).toContain("default-src 'self'");
    expect(served.answers.map((a) => a.file)).toEqual(expect.arrayContaining([expect.stringMatching(/^console-[A-Z0-9]+\.js$/), expect.stringMatching(/^console-style-[A-Z0-9]+\.css$/)]));
    for (const answer of served.answers) {
      expect(answer.status, answer.file).toBe(200);
      expect(answer.type).toMatch(/^text\/(javascript|css); charset=utf-8$/);
      expect(answer.bytes).toBeGreaterThan(1000);
    }
  });

  it("registers every function with the worker when the worker's @azure/functions-core is there, FUNCTIONS_WORKER_RUNTIME unset", () => {
    const published = publishedFolder();
    const env = productionSettings();
    expect(env).not.toHaveProperty('FUNCTIONS_WORKER_RUNTIME');
    const lines = execFileSync(process.execPath, ['--require', STAND_IN, '-e', `${DESCRIBE_REGISTRATIONS}`], { cwd: published, env, stdio: ['ignore', 'pipe', 'pipe'] })
      .toString()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const own = lines.find((line) => 'http' in line) as {
      http: { name: string; route: string; methods: string[]; authLevel: string }[];
      timer: { name: string; schedule: string }[];
      queue: { name: string; queueName: string; connection: string }[];
    };
    const { workerReceived } = lines.find((line) => 'workerReceived' in line) as {
      workerReceived: { programmingModel: string; functions: { name: string; handler: string; bindings: { type: string; direction: string; route?: string; methods?: string[]; authLevel?: string; schedule?: string; queueName?: string; connection?: string }[] }[] };
    };
    expect(workerReceived.programmingModel).toBe('@azure/functions');
    expect(own.http.length).toBeGreaterThanOrEqual(8);
    const triggers = Object.fromEntries(workerReceived.functions.map((f) => [f.name, { handler: f.handler, trigger: f.bindings.find((b) => b.direction === 'in')! }]));
    expect(Object.keys(triggers).sort()).toEqual([...own.http, ...own.timer, ...own.queue].map((f) => f.name).sort());
    // The send-mail and deliver-webhook triggers read the queues the app settings name, on the host's own storage.
    expect(own.queue).toEqual([
      { name: 'sendMail', queueName: '%MAIL_QUEUE_NAME%', connection: 'AzureWebJobsStorage' },
      { name: 'mailEventsAcsQueue', queueName: '%ACS_EVENTS_QUEUE_NAME%', connection: 'AzureWebJobsStorage' },
      { name: 'deliverWebhook', queueName: '%WEBHOOK_QUEUE_NAME%', connection: 'AzureWebJobsStorage' },
    ]);
    for (const fn of own.queue) {
      expect(triggers[fn.name], fn.name).toEqual({ handler: 'function', trigger: expect.objectContaining({ type: 'queueTrigger', queueName: fn.queueName, connection: fn.connection }) });
    }
    for (const fn of own.http) {
      expect(triggers[fn.name], fn.name).toEqual({
        handler: 'function',
        trigger: expect.objectContaining({ type: 'httpTrigger', route: fn.route, methods: fn.methods, authLevel: fn.authLevel }),
      });
    }
    for (const fn of own.timer) {
      expect(triggers[fn.name], fn.name).toEqual({ handler: 'function', trigger: expect.objectContaining({ type: 'timerTrigger', schedule: fn.schedule }) });
    }
  });

  it('bundles every dependency: the app entry requires only Node built-ins, the worker-provided @azure/functions-core and its own lazy bundles', () => {
    const bundle = ['index.js', 'app.js'].map((file) => readFileSync(join(DEPLOY, 'dist', file), 'utf8')).join('\n');
    // import() stays out of the bundle: the entry compiles it with vm.Script, where Node.js 20 runs import() only behind a flag.
    expect(bundle.match(/\bimport\(/g) ?? []).toEqual([]);
    const required = new Set([...bundle.matchAll(/\brequire\((?:"|')([^"']+)(?:"|')\)/g)].map((match) => match[1]!));
    const builtins = new Set(require('node:module').builtinModules as string[]);
    const lazy = [...required].filter((name) => name.startsWith('./lazy/'));
    const outside = [...required].filter((name) => name !== '@azure/functions-core' && !name.startsWith('node:') && !builtins.has(name) && !lazy.includes(name));
    expect(outside).toEqual([]);
    expect(lazy.sort()).toEqual(['./lazy/acs.js', './lazy/azureMonitor.js', './lazy/consoleAssets.js', './lazy/eventGrid.js', './lazy/identity.js', './lazy/jsonwebtoken.js', './lazy/openapi.js', './lazy/otlp.js', './lazy/proxyAgents.js', './lazy/queue.js', './lazy/sendgrid.js', './lazy/smtp.js', './lazy/xml.js']);
    for (const name of lazy) expect(existsSync(join(DEPLOY, 'dist', name)), name).toBe(true);
  });

  it('ships the app bundle as plain ASCII: one other byte and V8 would read and parse it as a two-byte string', () => {
    const bundle = readFileSync(join(DEPLOY, 'dist', 'app.js'));
    expect(bundle.findIndex((byte) => byte > 0x7f)).toBe(-1);
  });

  it("runs the bundle with the build's V8 code cache, and compiles it from source whenever the cache is not this bundle's or this V8's", () => {
    const caches = readdirSync(join(DEPLOY, 'dist')).filter((file) => file.endsWith('.cache'));
    // Named by the V8 that made it (this one, which ran the build), without Node.js's own suffix.
    expect(caches).toEqual([`app.v8-${process.versions.v8.replace(/-.*/, '')}.cache`]);
    const load = (folder: string) =>
      JSON.parse(execFileSync(process.execPath, ['-e', `${DESCRIBE_APP.replace('console.log(JSON.stringify({', 'console.log(JSON.stringify({ codeCache: app.codeCache,')}`], { cwd: folder, env: productionSettings(), stdio: ['ignore', 'pipe', 'pipe'] }).toString()) as { codeCache: string; http: string[] };
    const published = publishedFolder();
    const cached = load(published);
    expect(cached.codeCache).toBe('accepted');
    const cache = join(published, 'dist', caches[0]!);
    const original = readFileSync(cache);

    // A cache made for another bundle: its checksum is not this app.js's.
    const otherBundle = Buffer.from(original);
    otherBundle.writeUInt32BE((otherBundle.readUInt32BE(0) + 1) >>> 0, 0);
    writeFileSync(cache, otherBundle);
    expect(load(published)).toEqual({ ...cached, codeCache: 'none' });

    // V8's own data damaged (as a cache made by another V8 or with other flags): V8 refuses it.
    const damaged = Buffer.from(original);
    damaged.fill(0xff, 8, 24);
    writeFileSync(cache, damaged);
    expect(load(published)).toEqual({ ...cached, codeCache: 'none' });

    // Another V8's file name, or none at all.
    renameSync(cache, join(published, 'dist', 'app.v8-1.2.3.4.cache'));
    expect(load(published)).toEqual({ ...cached, codeCache: 'none' });
  });

  it('loads no lazy bundle at start, and each one loads on its own from the published folder when asked for', () => {
    const published = publishedFolder();
    const script = `
      require('./dist/index.js');
      const atStart = Object.keys(require.cache).map((file) => require('path').relative(process.cwd(), file));
      const { DefaultAzureCredential } = require('./dist/lazy/identity.js');
      const { createSendGridService } = require('./dist/lazy/sendgrid.js');
      const service = createSendGridService({ transport: 'sendgrid', apiKey: 'SG.x', from: 'a@contoso.com', fromName: 'a', timeoutSeconds: 1 });
      const { EmailClient } = require('./dist/lazy/acs.js');
      const { createTransport } = require('./dist/lazy/smtp.js');
      const smtp = createTransport({ host: '127.0.0.1', port: 2525 });
      const { stringifyXML } = require('./dist/lazy/xml.js');
      const xml = stringifyXML({ Enabled: true }, { rootName: 'Logging' });
      const { sign, verify } = require('./dist/lazy/jsonwebtoken.js');
      const jwt = verify(sign({ a: 1 }, 'secret'), 'secret').a;
      const { HttpsProxyAgent, HttpProxyAgent } = require('./dist/lazy/proxyAgents.js');
      const proxies = [new HttpsProxyAgent('http://127.0.0.1:3128'), new HttpProxyAgent('http://127.0.0.1:3128')].map((agent) => agent.proxy.host);
      const { openApiDocument } = require('./dist/lazy/openapi.js');
      const openapi = openApiDocument([]).openapi;
      const { QueueClient } = require('./dist/lazy/queue.js');
      const { EventGridPublisherClient, AzureKeyCredential } = require('./dist/lazy/eventGrid.js');
      const eventGrid = new EventGridPublisherClient('https://egt.westeurope-1.eventgrid.azure.net/api/events', 'CloudEvent', new AzureKeyCredential('k'));
      console.log(JSON.stringify({ atStart, identity: typeof DefaultAzureCredential, sendgrid: typeof service.send, acs: typeof EmailClient.prototype.beginSend, smtp: typeof smtp.sendMail, xml, jwt, proxies, openapi, queue: typeof QueueClient.prototype.sendMessage, eventGrid: typeof eventGrid.send }));`;
    const loaded = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: published, env: productionSettings(), stdio: ['ignore', 'pipe', 'pipe'] }).toString()) as {
      atStart: string[];
      identity: string;
      sendgrid: string;
      acs: string;
      smtp: string;
      xml: string;
      jwt: number;
      proxies: string[];
      openapi: string;
      queue: string;
      eventGrid: string;
    };
    expect(loaded.atStart).toEqual(['dist/index.js']);
    expect(loaded).toMatchObject({ identity: 'function', sendgrid: 'function', acs: 'function', smtp: 'function', jwt: 1, proxies: ['127.0.0.1:3128', '127.0.0.1:3128'], openapi: '3.1.0', queue: 'function', eventGrid: 'function' });
    expect(loaded.xml).toContain('<Logging><Enabled>true</Enabled></Logging>');
  });

  it('carries no test code: the bundle is built from functions/ and lib/ and their dependencies only', () => {
    const map = JSON.parse(readFileSync(join(REPO, 'dist', 'app.js.map'), 'utf8')) as { sources: string[] };
    const sources = map.sources.map((source) => source.replace(/^(\.\.\/)+/, ''));
    expect(sources).toEqual(expect.arrayContaining(['functions/index.ts', 'functions/cleanup.ts', 'lib/storage/cleanup.ts']));
    // Dependencies may chain their own maps (webpack://...), and the build's stand-in for
    // @azure/core-xml is a module of a plugin (xml-on-first-use:...); the repository's files are plain relative paths.
    const ownSources = sources.filter((source) => !source.startsWith('node_modules/') && !/^[a-z-]+:/.test(source));
    // package.json is read for the version the OpenAPI document states; the sign-in element's
    // style sheet for the hash the hosted sign-in page's CSP names.
    expect(ownSources.filter((source) => !/^(functions|lib)\//.test(source) && source !== 'package.json' && source !== 'web/src/signInStyle.ts')).toEqual([]);
    const testTools = ['vitest', 'azurite', 'tree-sitter', 'tree-sitter-bicep', 'esbuild', 'typescript', 'playwright-core'];
    expect(sources.filter((source) => testTools.some((name) => source.startsWith(`node_modules/${name}/`)))).toEqual([]);
  });

  it('func azure functionapp publish, run in deploy/, ships host.json, package.json and dist/*.js, and nothing else', () => {
    // Core Tools zips the folder it runs in, leaving out .git, .vscode, .funcignore, .gitignore,
    // local.settings.json and project.lock.json (Azure/azure-functions-core-tools
    // src/Cli/func/Common/FileSystemHelpers.cs, GetLocalFiles); there is no .funcignore in deploy/.
    const shipped = filesIn(DEPLOY).filter((file) => !['.funcignore', '.gitignore', 'local.settings.json', 'project.lock.json'].includes(file.split('/').pop()!));
    expect(existsSync(join(DEPLOY, '.funcignore'))).toBe(false);
    // dist/hostedSignIn.js: the hosted sign-in page's script, which functions/oidcSignInScript.ts serves.
    expect(shipped).toEqual(expect.arrayContaining(['dist/index.js', 'dist/app.js', 'dist/hostedSignIn.js', 'host.json', 'package.json']));
    // dist/app.v8-<version>.cache: the bundle's V8 code cache, which dist/index.js reads.
    expect(shipped.filter((file) => !/^(host\.json|package\.json|dist\/(lazy\/)?[\w.-]+\.js|dist\/app\.v8-[\d.]+\.cache)$/.test(file))).toEqual([]);
  });
});

describe('mail provider libraries, for a short cold start', () => {
  /*
   * Each provider's library is a lazy bundle of its own (lib/lazy/acs.ts, smtp.ts,
   * sendgrid.ts), imported by its mailer on the first mail (lib/mail/*.ts): none of
   * their code is in dist/app.js, and each lazy bundle carries its library.
   */
  const sourcesOf = (file: string) =>
    (JSON.parse(readFileSync(join(REPO, 'dist', `${file}.map`), 'utf8')) as { sources: string[] }).sources.map((source) => source.replace(/^(\.\.\/)+/, ''));
  const libraries = { acs: 'node_modules/@azure/communication-email/', smtp: 'node_modules/nodemailer/', sendgrid: 'node_modules/@sendgrid/mail/' };

  it('are not in the app bundle, each is in its own lazy bundle', () => {
    const app = sourcesOf('app.js');
    for (const [bundle, library] of Object.entries(libraries)) {
      expect(app.filter((source) => source.startsWith(library)), `${library} in dist/app.js`).toEqual([]);
      expect(sourcesOf(`lazy/${bundle}.js`).some((source) => source.startsWith(library)), `${library} in dist/lazy/${bundle}.js`).toBe(true);
    }
  });

  it("carry no zod locale but English: `import * as z from 'zod'` lets the bundler drop the rest, `import { z }` keeps them all", () => {
    const locales = sourcesOf('app.js').filter((source) => source.startsWith('node_modules/zod/v4/locales/') && !source.endsWith('/index.js'));
    expect(locales).toEqual(['node_modules/zod/v4/locales/en.js']);
  });

  it('are imported only through lib/lazy, never straight from lib/mail', () => {
    for (const file of readdirSync(join(REPO, 'lib', 'mail')).filter((name) => name.endsWith('.ts'))) {
      const text = readFileSync(join(REPO, 'lib', 'mail', file), 'utf8');
      // `import type` is free; a value import or import() of a provider library would load it with the app.
      const loads = [...text.matchAll(/(?:^import (?!type )[^;]*from|import\()\s*'(@azure\/communication-email|nodemailer|@sendgrid\/[\w-]+)/gm)].map((m) => m[1]);
      expect(loads, `lib/mail/${file}`).toEqual([]);
    }
  });
});

describe('the Event Grid client, for a short cold start', () => {
  const sourcesOf = (file: string) =>
    (JSON.parse(readFileSync(join(REPO, 'dist', `${file}.map`), 'utf8')) as { sources: string[] }).sources.map((source) => source.replace(/^(\.\.\/)+/, ''));

  it('is not in the app bundle: @azure/eventgrid is the eventGrid lazy bundle, loaded by the first publish', () => {
    expect(sourcesOf('app.js').filter((source) => source.startsWith('node_modules/@azure/eventgrid/'))).toEqual([]);
    expect(sourcesOf('lazy/eventGrid.js').some((source) => source.startsWith('node_modules/@azure/eventgrid/'))).toBe(true);
  });
});
