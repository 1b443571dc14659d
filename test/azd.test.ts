import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import Ajv2019 from 'ajv/dist/2019.js';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../lib/config.js';
import { parseSigningKeys } from '../lib/signin/keys.js';

/*
 * What azd (>= 1.25) does with this project, encoded from its source
 * (Azure/azure-dev, cli/azd/pkg/project/): the Node framework service runs `npm run build`
 * and hands over the `dist` folder (framework_service_node.go, Package); the function
 * app target decides on a remote build (service_target_functionapp.go,
 * resolveFunctionAppRemoteBuild) and zips the folder (project_utils.go,
 * createDeployableZip). globalSetup has just run the build.
 */
const REPO = resolve(__dirname, '..');
const azureYaml = parseYaml(readFileSync(join(REPO, 'azure.yaml'), 'utf8')) as {
  services: Record<string, { project: string; dist?: string; language: string; host: string; remoteBuild?: boolean }>;
  hooks: Record<string, { run: string; shell: string; windows?: { run: string; shell: string } }>;
};
const [serviceName, service] = Object.entries(azureYaml.services)[0]!;

/** gitignore matching as go-gitignore does it for these plain patterns (git's own matcher). */
function ignored(ignoreFile: string, paths: string[]): Set<string> {
  const probe = mkdtempSync(join(tmpdir(), 'guestpass-ignore-'));
  execFileSync('git', ['init', '-q'], { cwd: probe });
  copyFileSync(ignoreFile, join(probe, '.git', 'info', 'exclude'));
  const result = spawnSync('git', ['check-ignore', '--no-index', '--stdin'], { cwd: probe, input: paths.join('\n') });
  return new Set(result.stdout.toString().trim().split('\n').filter(Boolean));
}

/** resolveFunctionAppRemoteBuild for language js/ts: the project's .funcignore against remoteBuild. */
function resolveFunctionAppRemoteBuild(projectDir: string, remoteBuild: boolean | undefined): boolean | Error {
  const ignoreFile = join(projectDir, '.funcignore');
  if (!existsSync(ignoreFile)) return remoteBuild ?? true;
  const nodeModulesExcluded = ignored(ignoreFile, ['node_modules/']).size > 0;
  if (remoteBuild === undefined) return nodeModulesExcluded;
  if (remoteBuild && !nodeModulesExcluded) return new Error("'remoteBuild: true' requires '.funcignore' to exclude node_modules");
  if (!remoteBuild && nodeModulesExcluded) return new Error("'remoteBuild: false' cannot be used when '.funcignore' excludes node_modules");
  return remoteBuild;
}

function filesUnder(root: string, dir = root): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(root, path) : [relative(root, path).split('\\').join('/')];
  });
}

/** createDeployableZip's choice of files for a function app: what azd uploads. */
function deployableZipFiles(root: string, remoteBuild: boolean): string[] {
  const ignoreFile = join(root, '.funcignore');
  const all = filesUnder(root).filter((file) => !file.split('/').includes('.azure') && file !== '.funcignore' && file.split('/').pop() !== 'local.settings.json');
  if (existsSync(ignoreFile)) {
    const out = ignored(ignoreFile, all);
    return all.filter((file) => !out.has(file)).sort();
  }
  // Without an ignore file, JavaScript leaves node_modules out unless remoteBuild is false.
  return all.filter((file) => remoteBuild || !file.split('/').includes('node_modules')).sort();
}

describe('azure.yaml, as azd reads it', () => {
  const schemaText = readFileSync(join(REPO, 'test', 'fixtures', 'azure.yaml.schema.json'), 'utf8');
  const ajv = new Ajv2019({ strict: false, allErrors: true });
  // The schema points at azd extensions' own schemas for their service hosts
  // (azure.ai.*), which guestpass does not use: those are taken as accepting anything.
  for (const [, id] of schemaText.matchAll(/"\$ref": "(https:[^"#]+)"/g)) if (!ajv.getSchema(id!)) ajv.addSchema({}, id!);
  const validate = ajv.compile(JSON.parse(schemaText));

  it("is valid against azd's published schema (schemas/v1.0/azure.yaml.json)", () => {
    expect(validate(azureYaml), JSON.stringify(validate.errors)).toBe(true);
  });

  it('the schema check catches a wrong azure.yaml (it is not vacuous)', () => {
    expect(validate({ ...azureYaml, services: { api: { ...service, remoteBuild: 'no' } } })).toBe(false);
    expect(validate({ ...azureYaml, hooks: { preprovision: { shell: 'bash', run: 'x' } } })).toBe(false);
  });

  it('deploys a Node function app from the deploy folder the build writes, without a remote build', () => {
    expect(service).toMatchObject({ project: '.', dist: 'deploy', language: 'js', host: 'function', remoteBuild: false });
    expect(serviceName).toBe('api');
  });

  it("passes azd's remote-build rule for Node function apps, which the old .funcignore broke", () => {
    expect(resolveFunctionAppRemoteBuild(join(REPO, service.project), service.remoteBuild)).toBe(false);
    const before = mkdtempSync(join(tmpdir(), 'guestpass-old-'));
    writeFileSync(join(before, '.funcignore'), 'functions\nnode_modules\nlib\n');
    expect(resolveFunctionAppRemoteBuild(before, false)).toEqual(new Error("'remoteBuild: false' cannot be used when '.funcignore' excludes node_modules"));
  });

  it('zips host.json, package.json and the bundled dist/*.js, and the package needs no node_modules', () => {
    const root = join(REPO, service.project, service.dist!);
    const files = deployableZipFiles(root, service.remoteBuild!);
    expect(files).toEqual(expect.arrayContaining(['dist/index.js', 'dist/app.js', 'host.json', 'package.json']));
    // dist/app.v8-<version>.cache: the bundle's V8 code cache (scripts/appEntry.cjs).
    expect(files.filter((file) => !/^(host\.json|package\.json|dist\/(lazy\/)?[\w.-]+\.js|dist\/app\.v8-[\d.]+\.cache)$/.test(file))).toEqual([]);
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(pkg.main).toBe('dist/index.js');
    expect(pkg).not.toHaveProperty('dependencies');
    expect(pkg).not.toHaveProperty('scripts');
    // Core Tools finds the worker runtime in local.settings.json; neither tool ships that file.
    expect(JSON.parse(readFileSync(join(root, 'local.settings.json'), 'utf8')).Values.FUNCTIONS_WORKER_RUNTIME).toBe('node');
  });
});

/**
 * A stand-in for the azd CLI on PATH that reads `azd env set` as azd does: cobra/pflag take
 * every argument that starts with `-` as a flag (`-e`/`--environment` with its value, `--`
 * ends the flags; any other is "unknown shorthand flag"), then envSetAction.Run takes either
 * `NAME VALUE` or `NAME=VALUE ...`, split at the first `=` (Azure/azure-dev cli/azd/cmd/env.go).
 */
function azdOnPath(): { dir: string; values: () => Record<string, string> } {
  const dir = mkdtempSync(join(tmpdir(), 'guestpass-azd-'));
  const store = join(dir, 'env.json');
  writeFileSync(store, '{}');
  const bin = join(dir, 'azd');
  writeFileSync(
    bin,
    `#!${process.execPath}
const fs = require('fs');
const [cmd, sub, ...rest] = process.argv.slice(2);
if (cmd !== 'env' || sub !== 'set') process.exit(3);
const args = [];
for (let i = 0; i < rest.length; i++) {
  const arg = rest[i];
  if (arg === '--') { args.push(...rest.slice(i + 1)); break; }
  if (arg === '-e' || arg === '--environment') { i++; continue; }
  if (arg.startsWith('--environment=')) continue;
  if (arg.startsWith('-') && arg !== '-') { process.stderr.write('ERROR: unknown shorthand flag: ' + JSON.stringify(arg[1]) + ' in ' + arg + '\\n'); process.exit(1); }
  args.push(arg);
}
const values = {};
if (args.length === 2 && !args[0].includes('=')) values[args[0]] = args[1];
else for (const arg of args) {
  const at = arg.indexOf('=');
  if (at < 0) { process.stderr.write('invalid key=value format: ' + arg + '\\n'); process.exit(1); }
  values[arg.slice(0, at)] = arg.slice(at + 1);
}
const env = JSON.parse(fs.readFileSync(${JSON.stringify(store)}, 'utf8'));
fs.writeFileSync(${JSON.stringify(store)}, JSON.stringify({ ...env, ...values }));
`,
  );
  chmodSync(bin, 0o755);
  return { dir, values: () => JSON.parse(readFileSync(store, 'utf8')) as Record<string, string> };
}

const HOOKS = join(REPO, 'scripts', 'azdHooks.mjs');

/** The hook as azure.yaml runs it (`node scripts/azdHooks.mjs <hook>`), with no terminal to ask on. */
function runHook(hook: string, env: Record<string, string>, azdDir: string, cwd = REPO) {
  return spawnSync(process.execPath, [join(cwd, 'scripts', 'azdHooks.mjs'), hook], {
    cwd,
    env: { PATH: `${azdDir}${delimiter}${process.env.PATH ?? ''}`, AZURE_ENV_NAME: 'dev', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** What azd makes of a parameter: `${NAME}` replaced inside the parameter's JSON text, then parsed (bicep_provider.go, loadParameters, path B). */
function azdParameterValue(name: string, env: Record<string, string>): unknown {
  const parameters = JSON.parse(readFileSync(join(REPO, 'infra', 'main.parameters.json'), 'utf8')) as { parameters: Record<string, unknown> };
  const text = JSON.stringify(parameters.parameters[name]).replace(/\$\{([A-Z0-9_]+)(?:=([^}]*))?\}/g, (_, variable: string, fallback?: string) => env[variable] || (fallback ?? ''));
  return (JSON.parse(text) as { value: unknown }).value;
}

const GENERATED = ['GUESTPASS_ACS_EVENTS_SECRET', 'GUESTPASS_CODE_PEPPER', 'GUESTPASS_KEY_VAULT_SUFFIX', 'GUESTPASS_OPERATOR_KEY', 'GUESTPASS_SIGNING_KEYS'];

function oneLine(result: ReturnType<typeof runHook>): string {
  expect(result.status, result.stderr.toString()).toBe(1);
  const lines = result.stderr.toString().trim().split('\n');
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

describe('the preprovision hook', () => {
  it('gives a new azd environment (ACS, the default) its secrets and a Key Vault suffix, asking for nothing, and they reach main.bicep as the app needs them', () => {
    const azd = azdOnPath();
    const result = runHook('preprovision', {}, azd.dir);
    expect(result.status, result.stderr.toString()).toBe(0);
    expect(result.stderr.toString()).toBe('');
    const stored = azd.values();
    expect(Object.keys(stored).sort()).toEqual(GENERATED);
    expect(stored.GUESTPASS_KEY_VAULT_SUFFIX).toMatch(/^[0-9a-f]{4}$/);
    const codePepper = azdParameterValue('codePepper', stored) as string;
    const signingKeys = azdParameterValue('signingKeys', stored) as string;
    expect(parseSigningKeys(signingKeys).map((key) => key.alg)).toEqual(['ES256', 'RS256']);
    expect(azdParameterValue('emailTransport', stored)).toBe('acs');
    // The values the Key Vault references hand the app: it starts in Production on them, with ACS.
    const config = loadConfig(
      {
        AZURE_FUNCTIONS_ENVIRONMENT: 'Production',
        TABLES_ENDPOINT: 'https://st.table.core.windows.net/',
        AzureWebJobsStorage__accountName: 'stsample',
        EMAIL_TRANSPORT: azdParameterValue('emailTransport', stored) as string,
        ACS_ENDPOINT: 'https://acs-guestpass.europe.communication.azure.com',
        CODE_PEPPER: codePepper,
        SIGNING_KEYS: signingKeys,
        OPERATOR_KEY: azdParameterValue('operatorKey', stored) as string,
        ACS_EVENTS_SECRET: azdParameterValue('acsEventsSecret', stored) as string,
      },
      () => undefined,
    );
    expect(config.code.pepper).toBe(codePepper);
    expect(config.mailEvents.acsSecret).toBe(stored.GUESTPASS_ACS_EVENTS_SECRET);
    expect(azdParameterValue('keyVaultSuffix', stored)).toBe(stored.GUESTPASS_KEY_VAULT_SUFFIX);
  });

  it('keeps what an environment already has: provisioning again signs no one out', () => {
    const azd = azdOnPath();
    const kept = Object.fromEntries(GENERATED.map((name) => [name, 'kept']));
    const result = runHook('preprovision', { ...kept, GUESTPASS_KEY_VAULT_SUFFIX: 'ab12' }, azd.dir);
    expect(result.status, result.stderr.toString()).toBe(0);
    expect(azd.values()).toEqual({});
  });

  it('with SendGrid, and no key and nobody to ask, stops with one line saying how to give it', () => {
    const azd = azdOnPath();
    const line = oneLine(runHook('preprovision', { GUESTPASS_EMAIL_TRANSPORT: 'sendgrid' }, azd.dir));
    expect(line).toMatch(/^GUESTPASS_SENDGRID_API_KEY is not set: .*Run: azd env set GUESTPASS_SENDGRID_API_KEY=<value>, then azd up again\.$/);
    expect(azd.values()).toEqual({});
  });

  it('with SendGrid and its key, still needs the sender SendGrid has verified', () => {
    const azd = azdOnPath();
    const line = oneLine(runHook('preprovision', { GUESTPASS_EMAIL_TRANSPORT: 'sendgrid', GUESTPASS_SENDGRID_API_KEY: 'SG.given' }, azd.dir));
    expect(line).toMatch(/^GUESTPASS_EMAIL_FROM is not set: SendGrid sends only from a sender it has verified\. Run: azd env set GUESTPASS_EMAIL_FROM=<value>/);
    const azd2 = azdOnPath();
    const result = runHook('preprovision', { GUESTPASS_EMAIL_TRANSPORT: 'sendgrid', GUESTPASS_SENDGRID_API_KEY: 'SG.given', GUESTPASS_EMAIL_FROM: 'no-reply@contoso.com' }, azd2.dir);
    expect(result.status, result.stderr.toString()).toBe(0);
    expect(Object.keys(azd2.values()).sort()).toEqual(GENERATED);
    expect(azdParameterValue('sendGridApiKey', { GUESTPASS_SENDGRID_API_KEY: 'SG.given' })).toBe('SG.given');
  });

  it('a transport it does not know is one line naming the value to set', () => {
    const line = oneLine(runHook('preprovision', { GUESTPASS_EMAIL_TRANSPORT: 'smtp' }, azdOnPath().dir));
    expect(line).toMatch(/^GUESTPASS_EMAIL_TRANSPORT is smtp: it must be acs \(the default\) or sendgrid\./);
  });

  it('with ACS, says once that GUESTPASS_EMAIL_FROM is not used: ACS sends only from the linked domain', () => {
    const azd = azdOnPath();
    const result = runHook('preprovision', { GUESTPASS_EMAIL_FROM: 'no-reply@contoso.com' }, azd.dir);
    expect(result.status).toBe(0);
    expect(result.stderr.toString().trim().split('\n')).toEqual([expect.stringMatching(/^GUESTPASS_EMAIL_FROM is not used with ACS: mail goes from DoNotReply@ the linked sender domain/)]);
  });

  it('passes azd env set NAME=VALUE, so values that start with "-" are values, not flags', () => {
    const azd = azdOnPath();
    const values = { GUESTPASS_A: '-abc', GUESTPASS_B: '--environment=prod', GUESTPASS_C: '-e', GUESTPASS_D: 'x=y', GUESTPASS_E: '' };
    for (const [name, value] of Object.entries(values)) {
      const set = spawnSync(process.execPath, ['--input-type=module', '-e', `import { azdEnvSet } from ${JSON.stringify(pathToFileURL(HOOKS).href)}; azdEnvSet(process.argv[1], process.argv[2]);`, name, value], {
        env: { PATH: `${azd.dir}${delimiter}${process.env.PATH ?? ''}`, AZURE_ENV_NAME: 'dev' },
      });
      expect(set.status, set.stderr.toString()).toBe(0);
    }
    expect(azd.values()).toEqual(values);
    // The stand-in is as strict as azd: the old `azd env set NAME VALUE` loses such a value.
    const old = spawnSync(join(azd.dir, 'azd'), ['env', 'set', 'GUESTPASS_A', '-abc', '-e', 'dev']);
    expect(old.status).toBe(1);
    expect(old.stderr.toString()).toMatch(/unknown shorthand flag/);
  });

  it('postdown clears the Key Vault suffix, so the next azd up makes a vault the deleted one does not hold', () => {
    const azd = azdOnPath();
    expect(runHook('postdown', { GUESTPASS_KEY_VAULT_SUFFIX: 'ab12' }, azd.dir).status).toBe(0);
    expect(azd.values()).toEqual({ GUESTPASS_KEY_VAULT_SUFFIX: '' });
  });

  it('azure.yaml runs the hooks with node as they are, on POSIX and Windows alike; they load nothing but Node built-ins', () => {
    for (const name of ['preprovision', 'postdown']) {
      const hook = azureYaml.hooks[name]!;
      expect(hook.run).toBe(`node scripts/azdHooks.mjs ${name}`);
      expect(hook.windows).toMatchObject({ shell: 'pwsh', run: hook.run });
    }
    const imports = (file: string) => [...readFileSync(file, 'utf8').matchAll(/^import .* from '([^']+)';$/gm)].map((match) => match[1]!);
    expect(imports(HOOKS).filter((source) => !source.startsWith('node:'))).toEqual(['../lib/signin/secretGeneration.mjs']);
    expect(imports(join(REPO, 'lib', 'signin', 'secretGeneration.mjs')).filter((source) => !source.startsWith('node:'))).toEqual([]);
  });
});

/**
 * azd >= 1.25 runs `azd up` as one graph in which "Package steps overlap with provision
 * intentionally" (Azure/azure-dev cli/azd/internal/cmd/up_graph.go, UpGraphAction.Run):
 * cmdhook-preprovision waits only for cmdhook-prepackage, package-<svc> (npm install, then
 * `npm run build`, which deletes and rewrites dist/ and deploy/) only for event-prepackage,
 * so the hook and the build run at once. Here they do, 20 times, in copies of the project
 * (the suites' hosts load this checkout's dist/), the hook started at a random moment of the build.
 */
describe('the preprovision hook beside the package build, as azd up runs them', () => {
  function projectCopy(): string {
    const copy = mkdtempSync(join(tmpdir(), 'guestpass-azdup-'));
    for (const entry of ['functions', 'lib', 'scripts', 'cli', 'web', 'host.json', 'package.json', 'tsconfig.json']) {
      cpSync(join(REPO, entry), join(copy, entry), { recursive: true, filter: (source) => !/[\\/](dist|out)$/.test(source) });
    }
    symlinkSync(join(REPO, 'node_modules'), join(copy, 'node_modules'), 'junction');
    return copy;
  }

  function exited(child: ChildProcess): Promise<{ code: number | null; stderr: string }> {
    let stderr = '';
    child.stderr?.on('data', (chunk) => (stderr += chunk));
    child.stdout?.resume();
    return new Promise((done) => child.once('exit', (code) => done({ code, stderr })));
  }

  it('runs 20 times with zero failures: the hook stores its values and the build writes the package', async () => {
    const lanes = 4;
    const trials = 20;
    const failures: string[] = [];
    await Promise.all(
      Array.from({ length: lanes }, async (_, lane) => {
        const copy = projectCopy();
        for (let trial = lane; trial < trials; trial += lanes) {
          const azd = azdOnPath();
          const build = exited(spawn(process.execPath, ['scripts/build.mjs'], { cwd: copy, stdio: ['ignore', 'pipe', 'pipe'] }));
          await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 2500)));
          const hook = exited(
            spawn(process.execPath, ['scripts/azdHooks.mjs', 'preprovision'], {
              cwd: copy,
              env: { PATH: `${azd.dir}${delimiter}${process.env.PATH ?? ''}`, AZURE_ENV_NAME: 'dev' },
              stdio: ['ignore', 'pipe', 'pipe'],
            }),
          );
          const [built, hooked] = await Promise.all([build, hook]);
          if (built.code !== 0) failures.push(`trial ${trial}: build exited ${built.code}: ${built.stderr}`);
          if (hooked.code !== 0) failures.push(`trial ${trial}: hook exited ${hooked.code}: ${hooked.stderr}`);
          else if (Object.keys(azd.values()).sort().join() !== GENERATED.join()) failures.push(`trial ${trial}: hook stored ${Object.keys(azd.values())}`);
          if (!existsSync(join(copy, 'deploy', 'dist', 'index.js'))) failures.push(`trial ${trial}: no deploy/dist/index.js`);
        }
      }),
    );
    expect(failures).toEqual([]);
  }, 240_000);
});

describe('main.parameters.json', () => {
  it('takes the own ACS domain and whether it is verified from the environment; azd turns the "true"/"false" text into the bool parameter', () => {
    // armParameterFileValue (cli/azd/pkg/infra/provisioning/bicep/bicep_provider.go): a string
    // that strconv.ParseBool reads is passed to a bool parameter as that bool.
    const parseBool = (text: unknown) => (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(String(text)) ? true : ['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(String(text)) ? false : undefined);
    expect(parseBool(azdParameterValue('emailCustomDomainVerified', {}))).toBe(false);
    expect(parseBool(azdParameterValue('emailCustomDomainVerified', { GUESTPASS_EMAIL_CUSTOM_DOMAIN_VERIFIED: 'true' }))).toBe(true);
    expect(azdParameterValue('emailCustomDomain', {})).toBe('');
    expect(azdParameterValue('emailCustomDomain', { GUESTPASS_EMAIL_CUSTOM_DOMAIN: 'contoso.com' })).toBe('contoso.com');
  });

  it("takes principalType from azd's AZURE_PRINCIPAL_TYPE, so a pipeline's service principal gets the right role assignment", () => {
    expect(azdParameterValue('principalType', { AZURE_PRINCIPAL_TYPE: 'ServicePrincipal' })).toBe('ServicePrincipal');
  });
});
