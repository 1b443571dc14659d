import { execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'csv-parse/sync';
import { startLoopbackDns, type LoopbackDns } from './dnsServer.js';
import { FUNCTION_KEY, latestCode, mailQueueDrained, outbox, postJson, REDIRECT_URI, startHost, stopAllHosts, uniquePrefix, type TestHost } from './helpers.js';

const REPO = resolve(__dirname, '..');
const CLI = join(REPO, 'bin', 'guestpass.js');
const TEMPLATE = readFileSync(join(REPO, 'test/fixtures/entra-bulk-invite-template.csv'), 'utf8');

let host: TestHost;
let dns: LoopbackDns;
const work = mkdtempSync(join(tmpdir(), 'guestpass-cli-'));

beforeAll(async () => {
  dns = await startLoopbackDns();
  host = await startHost({ DEV_TRUST_DOMAINS: 'false', DNS_SERVERS: dns.server, RESEND_COOLDOWN_SECONDS: '0' });
});
afterAll(async () => {
  await stopAllHosts();
  await dns.close();
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `guestpass ...` as a process, as a user would, with GUESTPASS_URL/GUESTPASS_KEY in its environment. */
function guestpass(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolveRun) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { cwd: work, env: { PATH: process.env.PATH ?? '', GUESTPASS_URL: host.baseUrl, GUESTPASS_KEY: FUNCTION_KEY, ...env }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => resolveRun({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function ok(args: string[], env?: Record<string, string>): Promise<string> {
  const run = await guestpass(args, env);
  if (run.code !== 0) throw new Error(`guestpass ${args.join(' ')} exited ${run.code}: ${run.stderr}`);
  return run.stdout;
}

async function json<T>(args: string[], env?: Record<string, string>): Promise<T> {
  return JSON.parse(await ok([...args, '--json'], env)) as T;
}

async function newTenant(domains: string[] = []): Promise<{ id: string }> {
  return json<{ id: string }>(['tenants', 'create', '--name', 'Contoso', '--redirect-uri', REDIRECT_URI, '--origin', 'https://app.contoso.test', ...domains.flatMap((d) => ['--domain', d])]);
}

function entraCsv(rows: string[]): string {
  return TEMPLATE + rows.map((row) => `${row}\r\n`).join('');
}

// Each step starts a CLI process, as a user would; on a busy machine a test takes minutes.
describe('guestpass CLI against the local host', { timeout: 300_000 }, () => {
  it('prints help after npm install, and from a fresh clone builds itself on first use', async () => {
    const help = await guestpass(['--help']);
    expect(help.code).toBe(0);
    for (const command of ['tenants', 'domains', 'invite', 'users', 'otp', 'policies', 'sign-in-logs', 'audit', 'keys', 'webhooks', 'lifecycle']) expect(help.stdout).toContain(command);

    // A clone has no dist/: the launcher bundles the CLI with esbuild, then runs it.
    const clone = mkdtempSync(join(tmpdir(), 'guestpass-clone-'));
    for (const dir of ['bin', 'cli', 'lib']) cpSync(join(REPO, dir), join(clone, dir), { recursive: true });
    cpSync(join(REPO, 'package.json'), join(clone, 'package.json'));
    symlinkSync(join(REPO, 'node_modules'), join(clone, 'node_modules'), 'dir');
    const fresh = await new Promise<Run>((r) =>
      execFile(process.execPath, [join(clone, 'bin', 'guestpass.js'), 'invite', '--help'], (error, stdout, stderr) => r({ code: error ? 1 : 0, stdout, stderr })),
    );
    expect(fresh.stdout).toContain('--csv <file>');
    expect(existsSync(join(clone, 'dist', 'cli', 'guestpass.js'))).toBe(true);
  });

  it('fails with one line and status 1 without a URL, with a wrong key, or for an unknown tenant; never echoes the key', async () => {
    const noUrl = await guestpass(['tenants', 'list'], { GUESTPASS_URL: '' });
    expect([noUrl.code, noUrl.stderr.trim()]).toEqual([1, expect.stringMatching(/^error: No base URL: pass --url or set GUESTPASS_URL/)]);
    const wrong = await guestpass(['tenants', 'list'], { GUESTPASS_KEY: 'a-wrong-key-0123456789' });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^error: unauthorized \(401\)/);
    expect(wrong.stderr + wrong.stdout).not.toContain('a-wrong-key-0123456789');
    const unknown = await guestpass(['tenants', 'show', '00000000-0000-4000-8000-000000000000']);
    expect(unknown.stderr).toMatch(/^error: tenant_not_found \(404\)/);
    expect(unknown.code).toBe(1);
  });

  it('tenants create|show|update|list and domains add|verify|list|remove', async () => {
    const domain = `${uniquePrefix()}.contoso.example`;
    const tenant = await newTenant([domain]);
    expect(await ok(['tenants', 'show', tenant.id])).toMatch(/Display name: +Contoso/);
    const updated = await json<{ displayName: string; lifecycle: Record<string, unknown> }>(['tenants', 'update', tenant.id, '--name', 'Contoso Ltd', '--pending-invitation-days', '30']);
    expect(updated.displayName).toBe('Contoso Ltd');
    expect(updated.lifecycle).toEqual({ pendingInvitationDays: 30, inactiveDisableDays: null, inactiveDeleteAfterDays: null });
    const listed = await ok(['tenants', 'list']);
    expect(listed.split('\n')[0]).toMatch(/^Id +Display name +Domains +Email OTP +Created$/);
    expect(listed).toContain(tenant.id);

    const domains = await json<{ name: string; state: string; txtRecord: { value: string } }[]>(['domains', 'list', '--tenant', tenant.id]);
    expect(domains.map((d) => [d.name, d.state])).toEqual([[domain, 'Pending']]);
    const failed = await guestpass(['domains', 'verify', domain, '--tenant', tenant.id]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(domains[0]!.txtRecord.value);
    dns.setTxt(domain, [domains[0]!.txtRecord.value]);
    expect(await ok(['domains', 'verify', domain, '--tenant', tenant.id])).toContain(`${domain} is verified`);
    // Now the domain names the tenant.
    expect((await json<{ id: string }>(['tenants', 'show', domain])).id).toBe(tenant.id);

    const second = `${uniquePrefix()}.contoso.example`;
    const added = await ok(['domains', 'add', second, '--tenant', domain]);
    expect(added).toContain('is pending. Publish this DNS TXT record');
    expect(added).toMatch(/value: guestpass-verification=[0-9a-f]{32}/);
    expect(await ok(['domains', 'remove', second, '--tenant', tenant.id])).toContain(`Removed ${second}`);
    expect(await ok(['domains', 'list', '--tenant', tenant.id])).toMatch(new RegExp(`${domain.replace(/\./g, '\\.')} +Verified`));
  });

  it("invite --csv: Entra's template with bad rows reports each with its reason, invites the good ones, writes the results file, and a re-run adds nobody", async () => {
    const tenant = await newTenant();
    const file = join(work, 'bad-rows.csv');
    writeFileSync(
      file,
      entraCsv([
        'ada@fabrikam.example,https://app.contoso.test/welcome,true,Welcome Ada',
        'not-an-address,https://app.contoso.test/welcome,true,',
        'bob@fabrikam.example,https://evil.example/,true,',
        ',https://app.contoso.test/welcome,true,',
        'carol@fabrikam.example,https://app.contoso.test/welcome,maybe,',
        'dave@fabrikam.example,https://app.contoso.test/welcome,false,',
      ]),
    );
    const run = await guestpass(['invite', '--tenant', tenant.id, '--csv', file]);
    expect(run.code).toBe(1); // some rows failed
    expect(run.stdout).toMatch(/^Invited 2, failed 4, skipped 0 \(already invited\) in [\d.]+ s\. Results: .*bad-rows\.results\.csv$/m);
    // Not a terminal: plain lines, one per row.
    expect(run.stderr).toContain('row 3 ada@fabrikam.example: Succeeded');
    expect(run.stderr).toContain('row 5 bob@fabrikam.example: Failed (invalid_redirect_uri');

    const results = parse(readFileSync(join(work, 'bad-rows.results.csv'), 'utf8'), { columns: true }) as Record<string, string>[];
    expect(results.map((r) => [r.row, r.email, r.status])).toEqual([
      ['3', 'ada@fabrikam.example', 'Succeeded'],
      ['4', 'not-an-address', 'Failed'],
      ['5', 'bob@fabrikam.example', 'Failed'],
      ['6', '', 'Failed'],
      ['7', 'carol@fabrikam.example', 'Failed'],
      ['8', 'dave@fabrikam.example', 'Succeeded'],
    ]);
    expect(results[1]!.error).toBe('"not-an-address" is not an email address');
    expect(results[2]!.error).toMatch(/^invalid_redirect_uri: /);
    expect(results[3]!.error).toBe('Email address to invite is required');
    expect(results[4]!.error).toBe('Send invitation message must be true or false, not "maybe"');
    expect(results[0]!.invitedUserId).toMatch(/^[0-9a-f-]{36}$/);
    expect((await outbox(host, 'ada@fabrikam.example')).map((m) => m.kind)).toEqual(['invitation']);
    expect(await outbox(host, 'dave@fabrikam.example')).toEqual([]);

    const again = await guestpass(['invite', '--tenant', tenant.id, '--csv', file]);
    expect(again.stdout).toMatch(/^Invited 0, failed 4, skipped 2/m);
    const users = await json<{ email: string }[]>(['users', 'list', '--tenant', tenant.id]);
    expect(users.map((u) => u.email).sort()).toEqual(['ada@fabrikam.example', 'dave@fabrikam.example']);
    expect(await outbox(host, 'ada@fabrikam.example')).toHaveLength(1);
  });

  it('shows a progress bar on a terminal (run under script(1), which gives it a pseudo-terminal)', async () => {
    const tenant = await newTenant();
    const file = join(work, 'tty.csv');
    writeFileSync(file, entraCsv(Array.from({ length: 20 }, (_, i) => `tty${i}@fabrikam.example,https://app.contoso.test/welcome,false,`)));
    const command = [process.execPath, CLI, 'invite', '--tenant', tenant.id, '--csv', file].map((arg) => `'${arg}'`).join(' ');
    const run = await new Promise<Run>((r) =>
      execFile('script', ['-qec', command, '/dev/null'], { cwd: work, env: { PATH: process.env.PATH ?? '', TERM: 'xterm', GUESTPASS_URL: host.baseUrl, GUESTPASS_KEY: FUNCTION_KEY } }, (error, stdout, stderr) =>
        r({ code: error ? 1 : 0, stdout, stderr }),
      ),
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/Inviting \[[█░]+\] 20\/20 rows \| 0 failed/);
    expect(run.stdout).not.toContain('row 3 tty0@fabrikam.example: Succeeded');
    expect(run.stdout).toContain('Invited 20, failed 0');
  });

  it('a 1,000-row import: every row invited once, users list pages through all of them with Source and State', async () => {
    const tenant = await newTenant();
    const file = join(work, 'thousand.csv');
    writeFileSync(file, entraCsv(Array.from({ length: 1000 }, (_, i) => `guest${String(i).padStart(4, '0')}@fabrikam.example,https://app.contoso.test/welcome,true,Welcome to Contoso`)));
    const started = performance.now();
    const run = await guestpass(['invite', '--tenant', tenant.id, '--csv', file, '--results', join(work, 'thousand-results.csv'), '--concurrency', '16']);
    const seconds = (performance.now() - started) / 1000;
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Invited 1000, failed 0, skipped 0/m);
    const resultsText = readFileSync(join(work, 'thousand-results.csv'), 'utf8');
    // For the report: wall time and the results file's first lines (measured, never asserted).
    console.log(`1,000-row import: ${seconds.toFixed(1)} s wall time (CLI process, local host, Azurite)\n${resultsText.split('\n').slice(0, 4).join('\n')}`);
    expect(resultsText.split('\n').filter(Boolean)).toHaveLength(1001);

    const table = await ok(['users', 'list', '--tenant', tenant.id]);
    const lines = table.trim().split('\n');
    expect(lines[0]).toMatch(/^Email +Display name +Source +State +Sign-in +Invited +Last sign-in +Id$/);
    expect(lines.at(-1)).toBe('1000 guests');
    expect(lines[2]).toMatch(/Invited user +PendingAcceptance/);
    const exported = join(work, 'users.csv');
    await ok(['users', 'list', '--tenant', tenant.id, '--csv', exported]);
    const rows = parse(readFileSync(exported, 'utf8'), { columns: true }) as { email: string; state: string }[];
    expect(new Set(rows.map((r) => r.email)).size).toBe(1000);
  }, 600_000);

  it('users list|show|delete|reset-redemption with Source/State and filters; otp status|enable|disable keep the allow/deny list', async () => {
    const tenant = await newTenant();
    await ok(['invite', 'ada@users.fabrikam.example', '--tenant', tenant.id, '--name', 'Ada']);
    const invited = await json<{ invitedUser: { id: string } }>(['invite', 'bob@users.fabrikam.example', '--tenant', tenant.id, '--no-mail']);
    expect(await outbox(host, 'bob@users.fabrikam.example')).toEqual([]);
    expect((await outbox(host, 'ada@users.fabrikam.example')).map((m) => m.kind)).toEqual(['invitation']);

    // Ada signs in: Source OTP, State Accepted.
    await host.api(`/${tenant.id}/send-code`, postJson({ email: 'ada@users.fabrikam.example' }));
    await host.api(`/${tenant.id}/verify-code`, postJson({ email: 'ada@users.fabrikam.example', code: await latestCode(host, 'ada@users.fabrikam.example') }));
    const list = await ok(['users', 'list', '--tenant', tenant.id, '--source', 'OTP']);
    expect(list).toMatch(/ada@users\.fabrikam\.example +Ada +OTP +Accepted/);
    expect(list).not.toContain('bob@users');
    expect(await ok(['users', 'list', '--tenant', tenant.id, '--state', 'PendingAcceptance'])).toMatch(/bob@users\.fabrikam\.example .*Invited user +PendingAcceptance/);
    expect(await ok(['users', 'list', '--tenant', tenant.id, '--search', 'bob@users.fabrikam.example', '--csv', '-'])).toMatch(/^id,email,displayName,source,state/);
    const ada = (await json<{ id: string }[]>(['users', 'list', '--tenant', tenant.id, '--search', 'ada']))[0]!;
    expect(await ok(['users', 'show', ada.id, '--tenant', tenant.id])).toMatch(/Source: +OTP/);
    // Block sign-in by address (Entra's Block sign-in), shown in the list, then unblock.
    expect(await ok(['users', 'block', 'Ada@users.fabrikam.example', '--tenant', tenant.id])).toBe('ada@users.fabrikam.example: sign-in blocked; its sessions ended.\n');
    expect(await ok(['users', 'list', '--tenant', tenant.id, '--search', 'ada'])).toMatch(/ada@users\.fabrikam\.example +Ada +OTP +Accepted +Blocked/);
    expect(await ok(['users', 'block', ada.id, '--tenant', tenant.id])).toBe('ada@users.fabrikam.example was already blocked.\n');
    expect(await ok(['users', 'unblock', 'ada@users.fabrikam.example', '--tenant', tenant.id])).toBe('ada@users.fabrikam.example: sign-in allowed again.\n');
    expect((await guestpass(['users', 'block', 'nobody@users.fabrikam.example', '--tenant', tenant.id])).stderr).toBe('error: No guest of this tenant has the address nobody@users.fabrikam.example.\n');
    expect(await ok(['users', 'reset-redemption', ada.id, '--tenant', tenant.id])).toContain('must redeem again: PendingAcceptance');
    expect(await ok(['users', 'delete', invited.invitedUser.id, '--tenant', tenant.id])).toContain('Deleted guest');
    expect((await guestpass(['users', 'show', invited.invitedUser.id, '--tenant', tenant.id])).stderr).toMatch(/^error: guest_not_found/);

    // OTP: no policy yet; disable creates it, enable adds OneTimePasscode back; an allow/deny list set in between survives.
    expect(await ok(['otp', 'status', '--tenant', tenant.id])).toMatch(/Email OTP: +default/);
    expect(await ok(['otp', 'disable', '--tenant', tenant.id])).toMatch(/disabled \(policy [0-9a-f-]+ created\)/);
    const [policy] = await json<{ id: string; definition: string[] }[]>(['policies', 'list', '--tenant', tenant.id]);
    const withList = JSON.stringify({ B2BManagementPolicy: { InvitationsAllowedAndBlockedDomainsPolicy: { BlockedDomains: ['tailspin.example'] }, PreviewPolicy: { Features: [] } } });
    await ok(['policies', 'update', policy!.id, '--tenant', tenant.id, '--definition', withList]);
    const blocked = await guestpass(['invite', 'x@tailspin.example', '--tenant', tenant.id]);
    expect(blocked.stderr).toMatch(/^error: invitation_domain_blocked \(400\)/);
    expect(await ok(['otp', 'enable', '--tenant', tenant.id])).toMatch(/enabled \(policy .* updated\)/);
    const shown = await json<{ definition: string[] }>(['policies', 'show', policy!.id, '--tenant', tenant.id]);
    expect(JSON.parse(shown.definition[0]!)).toEqual({
      B2BManagementPolicy: { InvitationsAllowedAndBlockedDomainsPolicy: { BlockedDomains: ['tailspin.example'] }, PreviewPolicy: { Features: ['OneTimePasscode'] } },
    });
    expect(await json<{ emailOtp: string }>(['otp', 'status', '--tenant', tenant.id])).toMatchObject({ emailOtp: 'enabled' });
    expect(await ok(['policies', 'delete', policy!.id, '--tenant', tenant.id])).toContain('Deleted policy');
    const definitionFile = join(work, 'policy.json');
    writeFileSync(definitionFile, JSON.stringify({ B2BManagementPolicy: { PreviewPolicy: { Features: ['OneTimePasscode'] } } }));
    const created = await json<{ isOrganizationDefault: boolean }>(['policies', 'create', '--tenant', tenant.id, '--definition', `@${definitionFile}`, '--org-default']);
    expect(created.isOrganizationDefault).toBe(true);
    expect((await guestpass(['policies', 'create', '--tenant', tenant.id, '--definition', 'not json'])).stderr).toMatch(/--definition must be JSON/);
  });

  it('keys create|list|revoke: a tenant admin key manages its own tenant from the CLI and nothing else; audit shows who did what', async () => {
    const tenant = await newTenant();
    const other = await newTenant();
    const created = await json<{ id: string; key: string }>(['keys', 'create', '--tenant', tenant.id, '--name', 'helpdesk']);
    const asAdmin = { GUESTPASS_KEY: created.key };
    // The tenant comes from the key itself.
    await ok(['invite', 'erin@fabrikam.example', '--no-mail'], asAdmin);
    expect(await ok(['users', 'list'], asAdmin)).toContain('erin@fabrikam.example');
    const forbidden = await guestpass(['tenants', 'list'], asAdmin);
    expect(forbidden.stderr).toMatch(/^error: forbidden \(403\)/);
    expect((await guestpass(['users', 'list', '--tenant', other.id], asAdmin)).stderr).toMatch(/^error: tenant_not_found \(404\)/);
    expect(await ok(['keys', 'list', '--tenant', tenant.id])).toMatch(/helpdesk +\S+ +operator +\S+/);

    const audit = await ok(['audit', '--tenant', tenant.id, '--since', '1h']);
    expect(audit).toMatch(/helpdesk \([0-9a-f]{8}\) +guest\.invite +guest /);
    expect(audit).toMatch(/operator +key\.create +key /);
    expect(audit).not.toContain(created.key);

    expect(await ok(['keys', 'revoke', created.id, '--tenant', tenant.id])).toContain('Revoked key');
    expect((await guestpass(['users', 'list'], asAdmin)).stderr).toMatch(/^error: unauthorized \(401\)/);
    expect((await json<{ action: string }[]>(['audit', '--tenant', tenant.id]))[0]!.action).toBe('key.revoke');
  });

  it('webhooks create|list|deliveries|rotate-secret|enable|delete: the secret is printed once; unknown event types and inner addresses are refused', async () => {
    const tenant = await newTenant();
    const created = await json<{ id: string; secret: string; events: string[] }>(['webhooks', 'create', '--tenant', tenant.id, 'https://93.184.215.14/hooks', '--events', 'guest.invited,signin.refused']);
    expect(created.secret).toMatch(/^whsec_/);
    expect(created.events).toEqual(['guest.invited', 'signin.refused']);
    const listed = await ok(['webhooks', 'list', '--tenant', tenant.id]);
    expect(listed.split('\n')[0]).toMatch(/^Id +URL +Events +State +Last delivery$/);
    expect(listed).toMatch(new RegExp(`${created.id} +https://93\\.184\\.215\\.14/hooks +guest\\.invited,signin\\.refused +enabled`));
    expect(listed).not.toContain(created.secret);
    expect(await ok(['webhooks', 'deliveries', created.id, '--tenant', tenant.id])).toMatch(/^Time +Event +Type +Attempt +Outcome/);
    const rotated = await ok(['webhooks', 'rotate-secret', created.id, '--tenant', tenant.id]);
    expect(rotated).toMatch(/Secret: +whsec_/);
    expect(await ok(['webhooks', 'enable', created.id, '--tenant', tenant.id])).toContain(`Enabled webhook ${created.id}`);
    expect((await guestpass(['webhooks', 'create', '--tenant', tenant.id, 'https://93.184.215.14/', '--events', 'guest.teleported'])).stderr).toMatch(/Unknown event type guest\.teleported/);
    expect((await guestpass(['webhooks', 'create', '--tenant', tenant.id, 'https://10.0.0.5/'])).stderr).toMatch(/^error: invalid_webhook_url \(400\)/);
    expect(await ok(['webhooks', 'delete', created.id, '--tenant', tenant.id])).toContain(`Deleted webhook ${created.id}`);
    expect(await ok(['webhooks', 'list', '--tenant', tenant.id, '--json'])).toBe('[]\n');
  });

  it('sign-in-logs with --user, --since, --csv and --follow; lifecycle preview|run', async () => {
    const tenant = await newTenant();
    const guest = await json<{ invitedUser: { id: string } }>(['invite', 'fay@fabrikam.example', '--tenant', tenant.id, '--no-mail']);
    await host.api(`/${tenant.id}/send-code`, postJson({ email: 'fay@fabrikam.example' }));
    await mailQueueDrained(host);
    const logs = await ok(['sign-in-logs', '--tenant', tenant.id, '--user', guest.invitedUser.id, '--since', '10m']);
    expect(logs.split('\n')[0]).toMatch(/^Time +User id +Event +Outcome +Client IP +Mail$/);
    // The code mail's fate follows its send-code: sent by the send-mail trigger.
    expect(logs).toMatch(/send-code +code_sent +\S+ +sent/);
    expect(await ok(['sign-in-logs', '--tenant', tenant.id, '--csv', '-'])).toMatch(/^time,userId,event,outcome,clientIp,mail\n.*,send-code,code_sent,[^,]+,sent/);

    // --follow prints the entries of sign-ins that happen while it runs.
    const follow = spawn(process.execPath, [CLI, 'sign-in-logs', '--tenant', tenant.id, '--follow', '--interval', '1', '--json'], {
      env: { PATH: process.env.PATH ?? '', GUESTPASS_URL: host.baseUrl, GUESTPASS_KEY: FUNCTION_KEY },
    });
    const lines: string[] = [];
    const seen = new Promise<void>((resolveSeen) => {
      createInterface({ input: follow.stdout! }).on('line', (line) => {
        lines.push(line);
        if (line.includes('invalid_code')) resolveSeen();
      });
    });
    await new Promise((r) => setTimeout(r, 1500));
    await host.api(`/${tenant.id}/verify-code`, postJson({ email: 'fay@fabrikam.example', code: '00000000' }));
    await seen;
    follow.kill('SIGTERM');
    expect(lines.map((line) => (JSON.parse(line) as { outcome: string }).outcome)).toEqual(['code_sent', 'invalid_code']);

    expect(await ok(['lifecycle', 'preview', '--tenant', tenant.id])).toContain('The lifecycle would do nothing');
    await ok(['tenants', 'update', tenant.id, '--pending-invitation-days', '1']);
    expect(await json<unknown[]>(['lifecycle', 'preview', '--tenant', tenant.id])).toEqual([]);
    expect(await json<unknown[]>(['lifecycle', 'run', '--tenant', tenant.id])).toEqual([]);
    expect((await guestpass(['tenants', 'update', tenant.id, '--inactive-disable-days', 'soon'])).stderr).toMatch(/"soon" is not a number of days/);
  });
});
