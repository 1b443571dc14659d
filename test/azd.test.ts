import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import Ajv2019 from 'ajv/dist/2019.js';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../lib/config.js';
import { parseSigningKeys } from '../lib/signin/keys.js';

/*
 * What azd (>= 1.23.12) does with this project, encoded from its source
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
    expect(files).toEqual(expect.arrayContaining(['dist/index.js', 'host.json', 'package.json']));
    expect(files.filter((file) => !/^(host\.json|package\.json|dist\/(lazy\/)?[\w.-]+\.js)$/.test(file))).toEqual([]);
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(pkg.main).toBe('dist/index.js');
    expect(pkg).not.toHaveProperty('dependencies');
    expect(pkg).not.toHaveProperty('scripts');
    // Core Tools finds the worker runtime in local.settings.json; neither tool ships that file.
    expect(JSON.parse(readFileSync(join(root, 'local.settings.json'), 'utf8')).Values.FUNCTIONS_WORKER_RUNTIME).toBe('node');
  });
});

/** A stand-in for the azd CLI on PATH: records `azd env set NAME VALUE` as azd would store it. */
function azdOnPath(): { dir: string; values: () => Record<string, string> } {
  const dir = mkdtempSync(join(tmpdir(), 'guestpass-azd-'));
  const store = join(dir, 'env.json');
  writeFileSync(store, '{}');
  const bin = join(dir, 'azd');
  writeFileSync(
    bin,
    `#!${process.execPath}\nconst fs = require('fs');\nconst [cmd, sub, name, value] = process.argv.slice(2);\nif (cmd !== 'env' || sub !== 'set') process.exit(3);\nconst env = JSON.parse(fs.readFileSync(${JSON.stringify(store)}, 'utf8'));\nenv[name] = value;\nfs.writeFileSync(${JSON.stringify(store)}, JSON.stringify(env));\n`,
  );
  chmodSync(bin, 0o755);
  return { dir, values: () => JSON.parse(readFileSync(store, 'utf8')) as Record<string, string> };
}

function runHook(hook: string, env: Record<string, string>, azdDir: string) {
  return spawnSync(process.execPath, [join(REPO, 'dist', 'scripts', 'azdHooks.js'), hook], {
    env: { PATH: `${azdDir}:${process.env.PATH ?? ''}`, AZURE_ENV_NAME: 'dev', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** What azd makes of a parameter: `${NAME}` replaced inside the parameter's JSON text, then parsed (bicep_provider.go, loadParameters, path B). */
function azdParameterValue(name: string, env: Record<string, string>): unknown {
  const parameters = JSON.parse(readFileSync(join(REPO, 'infra', 'main.parameters.json'), 'utf8')) as { parameters: Record<string, unknown> };
  const text = JSON.stringify(parameters.parameters[name]).replace(/\$\{([A-Z0-9_]+)\}/g, (_, variable: string) => env[variable] ?? '');
  return (JSON.parse(text) as { value: unknown }).value;
}

describe('the preprovision hook', () => {
  it('gives a new azd environment CODE_PEPPER, SIGNING_KEYS and a Key Vault suffix that reach main.bicep as the app needs them', () => {
    const azd = azdOnPath();
    const result = runHook('preprovision', { GUESTPASS_SENDGRID_API_KEY: 'SG.given' }, azd.dir);
    expect(result.status, result.stderr.toString()).toBe(0);
    const stored = azd.values();
    expect(Object.keys(stored).sort()).toEqual(['GUESTPASS_CODE_PEPPER', 'GUESTPASS_KEY_VAULT_SUFFIX', 'GUESTPASS_OPERATOR_KEY', 'GUESTPASS_SIGNING_KEYS']);
    expect(stored.GUESTPASS_KEY_VAULT_SUFFIX).toMatch(/^[0-9a-f]{4}$/);
    const env = { ...stored, GUESTPASS_SENDGRID_API_KEY: 'SG.given' };
    const codePepper = azdParameterValue('codePepper', env) as string;
    const signingKeys = azdParameterValue('signingKeys', env) as string;
    expect(parseSigningKeys(signingKeys)).toHaveLength(1);
    // The values the Key Vault references hand the app: it starts in Production on them.
    const config = loadConfig(
      { AZURE_FUNCTIONS_ENVIRONMENT: 'Production', TABLES_ENDPOINT: 'https://st.table.core.windows.net/', AzureWebJobsStorage__accountName: 'stsample', CODE_PEPPER: codePepper, SIGNING_KEYS: signingKeys, SENDGRID_API_KEY: azdParameterValue('sendGridApiKey', env) as string, OPERATOR_KEY: azdParameterValue('operatorKey', env) as string },
      () => undefined,
    );
    expect(config.code.pepper).toBe(codePepper);
    expect(azdParameterValue('keyVaultSuffix', env)).toBe(stored.GUESTPASS_KEY_VAULT_SUFFIX);
  });

  it('keeps what an environment already has: provisioning again signs no one out', () => {
    const azd = azdOnPath();
    const result = runHook('preprovision', { GUESTPASS_CODE_PEPPER: 'kept', GUESTPASS_SIGNING_KEYS: 'kept', GUESTPASS_KEY_VAULT_SUFFIX: 'ab12', GUESTPASS_SENDGRID_API_KEY: 'SG.kept', GUESTPASS_OPERATOR_KEY: 'kept' }, azd.dir);
    expect(result.status, result.stderr.toString()).toBe(0);
    expect(azd.values()).toEqual({});
  });

  it('without a SendGrid key and nobody to ask, stops with one line saying how to give it', () => {
    const azd = azdOnPath();
    const result = runHook('preprovision', {}, azd.dir);
    expect(result.status).toBe(1);
    const lines = result.stderr.toString().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^GUESTPASS_SENDGRID_API_KEY is not set: .*azd env set GUESTPASS_SENDGRID_API_KEY /);
  });

  it('postdown clears the Key Vault suffix, so the next azd up makes a vault the deleted one does not hold', () => {
    const azd = azdOnPath();
    expect(runHook('postdown', { GUESTPASS_KEY_VAULT_SUFFIX: 'ab12' }, azd.dir).status).toBe(0);
    expect(azd.values()).toEqual({ GUESTPASS_KEY_VAULT_SUFFIX: '' });
  });

  it('azure.yaml runs the hooks on POSIX and Windows alike, through npm and node', () => {
    for (const name of ['preprovision', 'postdown']) {
      const hook = azureYaml.hooks[name]!;
      expect(hook.run).toBe(`npm run --silent azd-hook -- ${name}`);
      expect(hook.windows).toMatchObject({ shell: 'pwsh', run: hook.run });
    }
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts['azd-hook']).toBe('node scripts/build.mjs && node dist/scripts/azdHooks.js');
  });
});

describe('main.parameters.json', () => {
  it("takes principalType from azd's AZURE_PRINCIPAL_TYPE, so a pipeline's service principal gets the right role assignment", () => {
    expect(azdParameterValue('principalType', { AZURE_PRINCIPAL_TYPE: 'ServicePrincipal' })).toBe('ServicePrincipal');
  });
});
