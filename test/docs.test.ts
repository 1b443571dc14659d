import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { settingsSchema } from '../lib/config.js';
import { readBicep } from './bicep.js';
import { freePort } from './ports.js';

/*
 * Every shell block of the README and of docs/ that a reader would run, run here in bash
 * against a local host: `npm start`'s own script (dist/scripts/start.js, on the build
 * globalSetup made) in a folder of its own, as a fresh clone has it (the sample settings
 * and nothing else; npx finds the guestpass command in node_modules/.bin, as in a
 * checkout). A block that cannot run here (it needs Azure, or is the test command itself)
 * carries a marker naming why, `<!-- not run by test/docs.test.ts: ... -->`, on the line
 * before it; the Azure ones are held against the deployment's own files instead.
 *
 * Blocks run page by page in one shell each, so a block uses what the blocks before it
 * set, as a reader's terminal would. The only changes to their text: the port the host
 * got for 7071, and the placeholders a reader fills in from what an earlier command
 * printed (each replaced by a command that reads the same thing).
 */
const REPO = resolve(__dirname, '..');
const NOT_RUN = /^<!-- not run by test\/docs\.test\.ts: (.+) -->$/;
const PAGES = ['README.md', ...readdirSync(join(REPO, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];

interface ShellBlock {
  page: string;
  line: number;
  text: string;
  notRun?: string;
}

function shellBlocks(page: string): ShellBlock[] {
  const lines = readFileSync(join(REPO, page), 'utf8').split('\n');
  const blocks: ShellBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(\w*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const [, indent, lang] = open;
    let end = i + 1;
    while (end < lines.length && lines[end]!.trim() !== '```') end++;
    if (['bash', 'sh', 'shell'].includes(lang!)) {
      const text = lines.slice(i + 1, end).map((line) => (line.startsWith(indent!) ? line.slice(indent!.length) : line)).join('\n');
      blocks.push({ page, line: i + 1, text, notRun: NOT_RUN.exec(lines[i - 1]?.trim() ?? '')?.[1] });
    }
    i = end;
  }
  return blocks;
}

const ALL = PAGES.flatMap(shellBlocks);
const notRun = ALL.filter((block) => block.notRun);
const run = (page: string) => ALL.filter((block) => block.page === page && !block.notRun);
/** The pages the tests below run, one test each. */
const RUN_PAGES = ['README.md', 'docs/operating.md', 'docs/openid-connect.md', 'docs/deploying.md'];
/** Commands that reach Azure or are the test run itself: a block with one cannot run here. */
const CANNOT_RUN_HERE = /(^|[\s;&|(])(az|azd|func|npm (start|test|run bench))\b/m;
/** The commands of a block without its comments (a `#` outside quotes to the line's end). */
const commands = (text: string) => text.split('\n').map((line) => line.replace(/(^|\s)#(?![^'"]*['"]).*$/, '')).join('\n');

describe('the shell blocks of the README and docs/', () => {
  it('are each run below, or marked with why not', () => {
    expect(ALL.length).toBeGreaterThan(25);
    for (const block of ALL) {
      const where = `${block.page}:${block.line}`;
      if (block.notRun) expect(block.notRun.length, where).toBeGreaterThan(20);
      else expect(commands(block.text), `${where} calls something that cannot run here: mark it`).not.toMatch(CANNOT_RUN_HERE);
    }
  });

  it('that are not marked are on a page the tests below run', () => {
    expect([...new Set(ALL.filter((block) => !block.notRun).map((block) => block.page))].sort()).toEqual([...RUN_PAGES].sort());
  });

  it('mark only what cannot run here', () => {
    for (const block of notRun) expect(commands(block.text), `${block.page}:${block.line} is marked but runs nothing that needs Azure`).toMatch(CANNOT_RUN_HERE);
  });
});

/**
 * The Azure blocks, against the rules of the tools they call and the files those read:
 * azd's `env set` takes NAME=VALUE (cli/azd/cmd/env.go: `NAME VALUE` reads a value that
 * starts with `-` as a flag) and main.parameters.json or the hook reads the name; `az
 * deployment group create` names only main.bicep's parameters; Key Vault secrets and
 * deployment outputs are the ones main.bicep declares; Core Tools publishes deploy/.
 */
describe('the blocks that need Azure, against main.bicep, main.parameters.json and the azd hooks', () => {
  const main = readBicep(join(REPO, 'infra', 'main.bicep'), join(REPO, 'infra'));
  const parametersText = readFileSync(join(REPO, 'infra', 'main.parameters.json'), 'utf8');
  const hooksText = readFileSync(join(REPO, 'scripts', 'azdHooks.mjs'), 'utf8');
  const azdValues = new Set([...`${parametersText}\n${hooksText}`.matchAll(/\b(GUESTPASS_[A-Z0-9_]+|AZURE_[A-Z0-9_]+)\b/g)].map((match) => match[1]!));
  const azureText = commands(notRun.map((block) => block.text).join('\n')).replace(/\\\n\s*/g, ' ');
  const secretNames = Object.values(main.vars.get('secretNames') as Record<string, string>);

  it('set azd values as NAME=VALUE, each one that main.parameters.json or the hook reads', () => {
    const sets = [...azureText.matchAll(/azd env set ([^&;\n]+)/g)].map((match) => match[1]!.trim());
    expect(sets.length).toBeGreaterThan(3);
    for (const args of sets) {
      for (const arg of args.split(/\s+/)) {
        expect(arg, `azd env set ${args}`).toMatch(/^[A-Z][A-Z0-9_]*=\S*$/);
        expect(azdValues.has(arg.split('=')[0]!), `${arg.split('=')[0]} is read by main.parameters.json or scripts/azdHooks.mjs`).toBe(true);
      }
    }
    for (const [, name] of azureText.matchAll(/azd env get-value ([A-Z0-9_]+)/g)) expect(azdValues.has(name!), name).toBe(true);
  });

  it("pass az deployment group create only main.bicep's parameters, and read only its outputs", () => {
    const creates = [...azureText.matchAll(/az deployment group create (.+)/g)].map((match) => match[1]!);
    expect(creates.length).toBeGreaterThan(0);
    for (const args of creates) {
      const parameters = / (?:--parameters|-p) (.+?)(?= --|$)/.exec(args)?.[1] ?? '';
      for (const [, name] of parameters.matchAll(/(?:^|\s)(\w+)=/g)) expect(main.params.has(name!), `parameter ${name}`).toBe(true);
      if (args.includes('--template-file')) expect(args).toContain('--template-file infra/main.bicep');
    }
    for (const [, name] of azureText.matchAll(/\boutput ([A-Z][A-Z0-9_]+)\)/g)) expect(main.outputs.has(name!), `output ${name}`).toBe(true);
    for (const [, name] of azureText.matchAll(/properties\.parameters\.(\w+)\.value/g)) expect(main.params.has(name!), `parameter ${name}`).toBe(true);
  });

  it('name only the Key Vault secrets main.bicep references', () => {
    const names = [...azureText.matchAll(/az keyvault secret (?:set|show) [^\n]*--name ([\w-]+)/g)].map((match) => match[1]!);
    expect(names.length).toBeGreaterThan(4);
    for (const name of names) expect(secretNames.map((secret) => secret.replace(/'/g, '')), name).toContain(name);
  });

  it("publish with Core Tools from deploy/, the package the build writes, and nothing is built in Azure", () => {
    expect(azureText).toMatch(/\(cd deploy && func azure functionapp publish "\$AZURE_FUNCTION_APP_NAME" --no-build\)/);
  });

  it('give the manual path a Key Vault suffix of its resource group, as azd gives each environment', () => {
    expect(azureText).toContain('keyVaultSuffix="$KEY_VAULT_SUFFIX"');
    expect(main.params.get('keyVaultSuffix')!.decorators.join(' ')).toContain('@maxLength(4)');
  });
});

describe('run against a local host', () => {
  let host: ChildProcess;
  let banner = '';
  let port: number;
  let work: string;
  let receiver: Server;
  let receiverPort: number;
  const received: string[] = [];

  beforeAll(async () => {
    port = await freePort();
    work = mkdtempSync(join(tmpdir(), 'guestpass-docs-'));
    copyFileSync(join(REPO, 'local.settings.sample.json'), join(work, 'local.settings.sample.json'));
    mkdirSync(join(work, 'node_modules', '.bin'), { recursive: true });
    symlinkSync(join(REPO, 'bin', 'guestpass.js'), join(work, 'node_modules', '.bin', 'guestpass'));
    receiver = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        received.push(`${req.method} ${req.url}`);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((listening) => receiver.listen(0, '127.0.0.1', () => listening()));
    receiverPort = (receiver.address() as AddressInfo).port;
    host = spawn(process.execPath, [join(REPO, 'dist', 'scripts', 'start.js')], {
      cwd: work,
      env: {
        PATH: process.env.PATH ?? '',
        PORT: String(port),
        TABLES_CONNECTION_STRING: inject('azuriteConnectionString'),
        TABLE_PREFIX: 'docs',
        // The webhook block's endpoint is a local receiver (development only).
        WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    await new Promise<void>((ready, failed) => {
      host.stdout!.on('data', (chunk) => {
        out += chunk;
        if (out.includes('Press Ctrl-C to stop.')) ready();
      });
      host.stderr!.on('data', (chunk) => (out += chunk));
      host.once('exit', (code) => failed(new Error(`npm start exited ${code}: ${out}`)));
    });
    banner = out;
  }, 60_000);

  afterAll(async () => {
    receiver?.close();
    if (host && host.exitCode === null) {
      host.kill('SIGINT');
      await new Promise((stopped) => host.once('exit', stopped));
    }
  });

  /** Helpers the placeholders become: each reads what the reader would copy from an earlier answer. */
  const HELPERS = `
set -eo pipefail
first() { node -p "const v = JSON.parse(require('fs').readFileSync(0)); (Array.isArray(v) ? v : v.value)[0].id"; }
guest_id() { npx guestpass users list --json | first; }
key_id() { npx guestpass keys list --json | node -p "JSON.parse(require('fs').readFileSync(0)).filter((k) => !k.revokedAt).at(-1).id"; }
webhook_id() { npx guestpass webhooks list --json | first; }
org_default_policy_id() { curl -s "$BASE/manage/tenants/$TENANT/policies" -H "x-functions-key: $KEY" | node -p "JSON.parse(require('fs').readFileSync(0)).value.find((p) => p.type === 'B2BManagementPolicy' && p.isOrganizationDefault).id"; }
cli_policy_id() { npx guestpass policies list --json | first; }
tenant_id_of() { npx guestpass tenants show "$1" --json | node -p "JSON.parse(require('fs').readFileSync(0)).id"; }
demo_guest_id() { curl -s "$BASE/manage/tenants/$TENANT/users" -H "x-functions-key: $KEY" | first; }
client_id() { curl -s "$BASE/manage/tenants/$TENANT/applications" -H "x-functions-key: $KEY" | node -p "JSON.parse(require('fs').readFileSync(0)).value[0].clientId"; }
role_id() { curl -s "$BASE/manage/tenants/$TENANT/applications/$CLIENT_ID" -H "x-functions-key: $KEY" | node -p "JSON.parse(require('fs').readFileSync(0)).appRoles[0].id"; }
`;
  /** For pages whose every call should succeed: an HTTP error stops the page, as set -e does for the CLI. */
  const FAIL_ON_HTTP_ERRORS = 'curl() { command curl --fail-with-body "$@"; }';

  /** Runs a page's blocks in one bash, the placeholders filled in; stdout and the exit code. */
  async function runPage(page: string, fill: (block: ShellBlock) => string, options: { preamble?: string; stdin?: string } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const blocks = run(page);
    expect(blocks.length, page).toBeGreaterThan(0);
    const script = [
      HELPERS,
      options.preamble ?? '',
      ...blocks.map((block) => `echo "### ${block.page}:${block.line}" >&2\n${fill(block).replaceAll('localhost:7071', `localhost:${port}`)}`),
    ].join('\n');
    const child = spawn('bash', ['-c', script], { cwd: work, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? work }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.stdin.end(options.stdin ?? '');
    const code = await new Promise<number | null>((done) => child.once('exit', done));
    return { code, stdout, stderr };
  }

  const errorCodes = (text: string) => [...text.matchAll(/"error":"(\w+)"/g)].map((match) => match[1]!);

  it("README: the one-minute tour signs a guest in and out with curl", async () => {
    const result = await runPage('README.md', (block) => block.text);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('"active":true');
    expect(errorCodes(result.stdout)).toEqual(['session_revoked']);
  }, 60_000);

  it('docs/operating.md: every CLI and curl step, from a new tenant to the email one-time passcode switch', async () => {
    const credentials = `export BASE=http://localhost:${port}/api KEY=$(node -p "require('./local.settings.json').Values.LOCAL_FUNCTION_KEY") TENANT=demo.guestpass.test`;
    const result = await runPage(
      'docs/operating.md',
      (block) => {
        if (block.text.includes('webhooks create')) {
          return block.text.replace('https://crm.example.com/hooks/guestpass', `http://127.0.0.1:${receiverPort}/hooks/guestpass`).replaceAll('<id>', '"$(webhook_id)"');
        }
        return block.text
          .replace(/npx guestpass sign-in-logs --user <id> --follow/, 'timeout 3 npx guestpass sign-in-logs --user "$(guest_id)" --follow || [ $? = 124 ]')
          .replaceAll('<id>', '"$(guest_id)"')
          .replaceAll('<policy id>', '"$(cli_policy_id)"')
          .replaceAll('<key id>', '"$(key_id)"')
          .replace("'<id of the organisation-default policy from the check above>'", '"$(org_default_policy_id)"')
          .replace("'<a guest id from that list>'", '"$(demo_guest_id)"');
      },
      { preamble: `${credentials}\n${FAIL_ON_HTTP_ERRORS}` },
    );
    expect(result.code, result.stderr.slice(-3000)).toBe(0);
    expect(result.stdout).toMatch(/"type":"B2BManagementPolicy"/);
    expect(errorCodes(result.stdout)).toEqual([]);
  }, 180_000);

  it('docs/openid-connect.md: registers an application, gives it an app role and assigns the role to a guest, with curl', async () => {
    const credentials = `export BASE=http://localhost:${port}/api KEY=$(node -p "require('./local.settings.json').Values.LOCAL_FUNCTION_KEY") TENANT=demo.guestpass.test`;
    const result = await runPage(
      'docs/openid-connect.md',
      // The application and the guest the reader has in hand: the one registered above, the demo guest.
      (block) => (block.text.includes('appRoles') ? `CLIENT_ID=$(client_id) GUEST_ID=$(demo_guest_id)\n${block.text.replace('<role id>', `'"$(role_id)"'`)}` : block.text),
      { preamble: `${credentials}\n${FAIL_ON_HTTP_ERRORS}` },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/"displayName":"Contoso Portal","clientType":"public"/);
    expect(result.stdout).toMatch(/"value":"Reports.Read"/);
    expect(result.stdout).toMatch(/"principalType":"User"/);
    expect(errorCodes(result.stdout)).toEqual([]);
  }, 60_000);

  it("docs/deploying.md: the smoke test answers with the contract's errors, and the first tenant is made with the CLI", async () => {
    const key = JSON.parse(readFileSync(join(work, 'local.settings.json'), 'utf8')).Values.LOCAL_FUNCTION_KEY as string;
    const result = await runPage('docs/deploying.md', (block) => block.text.replaceAll('<tenant id>', '"$(tenant_id_of contoso.com)"'), {
      // The function app's URL is the local host's; the operator credential is typed at the prompt.
      preamble: `export AZURE_FUNCTION_APP_URL=http://localhost:${port}`,
      stdin: `${key}\n`,
    });
    expect(result.code, result.stderr.slice(-3000)).toBe(0);
    expect(errorCodes(result.stdout)).toEqual(['tenant_context_required', 'tenant_not_found', 'unauthorized']);
    expect(result.stdout).toMatch(/contoso\.com is verified/);
  }, 120_000);

  it("README: the banner it shows is npm start's, line by line (values aside)", () => {
    const labels = (text: string) => [...text.matchAll(/^ {2}([A-Z][\w ()]+):\s{2,}/gm)].map((match) => match[1]);
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
    const shown = /```\nguestpass is running\.\n([\s\S]*?)```/.exec(readme)![1]!;
    expect(labels(shown)).toEqual(labels(banner));
    expect(shown).toContain(/Timers:\s+(.*)/.exec(banner)![1]);
  });

  it('names only settings the app knows in the blocks it runs', () => {
    const text = ALL.filter((block) => !block.notRun).map((block) => block.text).join('\n');
    for (const [, name] of text.matchAll(/\b([A-Z][A-Z0-9]*_[A-Z0-9_]+)=/g)) {
      if (/^(GUESTPASS_|AZURE_|KEY_VAULT_SUFFIX|ACS_ID)/.test(name!)) continue;
      expect(name! in settingsSchema.shape, name).toBe(true);
    }
  });
});
