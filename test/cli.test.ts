import { execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'csv-parse/sync';
import { startLoopbackDns, type LoopbackDns } from './dnsServer.js';
import { freePort } from './ports.js';
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
    // A wrong base path: the host's empty 404, named with the URL and what to set.
    const wrongPath = await guestpass(['tenants', 'list'], { GUESTPASS_URL: `${host.baseUrl}/guestpass` });
    expect(wrongPath.code).toBe(1);
    expect(wrongPath.stderr).toBe(
      `error: No guestpass management API at ${host.baseUrl}/guestpass/api: GET ${host.baseUrl}/guestpass/api/manage/tenants answered 404. Check --url or GUESTPASS_URL: the function app's root, e.g. https://func-guestpass.azurewebsites.net (or http://localhost:7071).\n`,
    );
    // https:// to a plain HTTP host: one line naming the URL, none of OpenSSL's internals.
    const httpsUrl = host.baseUrl.replace('http://', 'https://');
    const tls = await guestpass(['tenants', 'list'], { GUESTPASS_URL: httpsUrl });
    expect(tls.code).toBe(1);
    expect(tls.stderr).toMatch(new RegExp(`^error: ${httpsUrl.replace(/[.:/]/g, '\\$&')}/api does not speak HTTPS \\(a TLS handshake failed: [A-Z_]+\\); a local host is usually http://\\. Check --url or GUESTPASS_URL\\.\n$`));
    const nobody = `http://127.0.0.1:${await freePort()}`;
    const closed = await guestpass(['tenants', 'list'], { GUESTPASS_URL: nobody });
    expect(closed.stderr).toBe(`error: Nothing answers at ${nobody}/api (connection refused). Is the function app running? Check --url or GUESTPASS_URL.\n`);
    const unknown = await guestpass(['tenants', 'show', '00000000-0000-4000-8000-000000000000']);
    expect(unknown.stderr).toMatch(/^error: tenant_not_found \(404\)/);
    expect(unknown.code).toBe(1);
  });

  it('tenants create|show|update|list and domains add|verify|list|remove', async () => {
    const domain = `${uniquePrefix()}.contoso.example`;
    // tenants create prints the TXT record each domain asks for.
    const printed = await ok(['tenants', 'create', '--name', 'Contoso TXT', '--redirect-uri', REDIRECT_URI, '--domain', `txt.${domain}`]);
    expect(printed).toMatch(new RegExp(`txt\\.${domain.replace(/\./g, '\\.')} is pending\\. Publish this DNS TXT record, then run: guestpass domains verify txt\\.${domain.replace(/\./g, '\\.')} --tenant [0-9a-f-]{36}\n  name: +\\S+\n  value: guestpass-verification=[0-9a-f]{32}`));
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

  it("invite --csv: the whole file checked first; bad rows, a repeated address and every server refusal reported with their rows; a re-run mails nobody again", async () => {
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
        'Ada@Fabrikam.example,https://app.contoso.test/welcome,true,The same guest again',
      ]),
    );
    const run = await guestpass(['invite', '--tenant', tenant.id, '--csv', file]);
    expect(run.code).toBe(1); // some rows failed
    expect(run.stdout).toMatch(/^Succeeded 2, failed 4, skipped 1, total 7 rows in [\d.]+ s\. Results: .*bad-rows\.results\.csv$/m);
    // Not a terminal: a line per row sent, then every failure with its row, the server's refusals included.
    expect(run.stderr).toContain('row 3 ada@fabrikam.example: Succeeded');
    const failures = run.stderr.split('\n').filter((line) => line.includes(': Failed ('));
    expect(failures.slice(-4).map((line) => line.split(':')[0])).toEqual(['row 4 not-an-address', 'row 5 bob@fabrikam.example', 'row 6 (no address)', 'row 7 carol@fabrikam.example']);
    expect(failures.at(-3)).toMatch(/^row 5 bob@fabrikam\.example: Failed \(invalid_redirect_uri: /);

    const results = parse(readFileSync(join(work, 'bad-rows.results.csv'), 'utf8'), { columns: true }) as Record<string, string>[];
    expect(results.map((r) => [r.row, r.email, r.status])).toEqual([
      ['3', 'ada@fabrikam.example', 'Succeeded'],
      ['4', 'not-an-address', 'Failed'],
      ['5', 'bob@fabrikam.example', 'Failed'],
      ['6', '', 'Failed'],
      ['7', 'carol@fabrikam.example', 'Failed'],
      ['8', 'dave@fabrikam.example', 'Succeeded'],
      ['9', 'Ada@Fabrikam.example', 'Skipped'],
    ]);
    expect(results[1]!.error).toBe('"not-an-address" is not an email address');
    expect(results[2]!.error).toMatch(/^invalid_redirect_uri: /);
    expect(results[3]!.error).toBe('Email address to invite is required');
    expect(results[4]!.error).toBe('Send invitation message must be true or false, not "maybe"');
    expect(results[6]!.error).toBe('same as row 3');
    expect(results[0]!.invitedUserId).toMatch(/^[0-9a-f-]{36}$/);
    expect((await outbox(host, 'ada@fabrikam.example')).map((m) => m.kind)).toEqual(['invitation']);
    expect(await outbox(host, 'dave@fabrikam.example')).toEqual([]);

    // The same file again: the guests it made are skipped as already invited, and nobody is mailed twice.
    const again = await guestpass(['invite', '--tenant', tenant.id, '--csv', file]);
    expect(again.stdout).toMatch(/^Succeeded 0, failed 4, skipped 3, total 7 rows/m);
    const rerun = parse(readFileSync(join(work, 'bad-rows.results.csv'), 'utf8'), { columns: true }) as Record<string, string>[];
    expect(rerun.filter((r) => r.status === 'Skipped').map((r) => [r.row, r.error])).toEqual([['3', 'already invited'], ['8', 'already invited'], ['9', 'same as row 3']]);
    const users = await json<{ email: string }[]>(['users', 'list', '--tenant', tenant.id]);
    expect(users.map((u) => u.email).sort()).toEqual(['ada@fabrikam.example', 'dave@fabrikam.example']);
    expect(await outbox(host, 'ada@fabrikam.example')).toHaveLength(1);

    // --resend asks for the mail again: Ada's row mails once more (Dave's row says sendEmail false).
    expect((await guestpass(['invite', '--tenant', tenant.id, '--csv', file, '--resend'])).stdout).toMatch(/^Succeeded 2, failed 4, skipped 1, total 7 rows/m);
    expect((await outbox(host, 'ada@fabrikam.example')).map((m) => m.kind)).toEqual(['invitation', 'invitation']);
  });

  it('invite --csv: one line for a missing file, a results file that cannot be written (before anything is sent), and a file in another encoding', async () => {
    const tenant = await newTenant();
    const missing = await guestpass(['invite', '--tenant', tenant.id, '--csv', join(work, 'no-such.csv')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`error: Cannot read ${join(work, 'no-such.csv')}: there is no such file.\n`);

    const file = join(work, 'unwritable-results.csv');
    writeFileSync(file, entraCsv(['erin@unwritable.example,https://app.contoso.test/welcome,true,']));
    const unwritable = await guestpass(['invite', '--tenant', tenant.id, '--csv', file, '--results', join(work, 'no-such-folder', 'results.csv')]);
    expect(unwritable.code).toBe(1);
    expect(unwritable.stderr).toBe(`error: Cannot write the results file ${join(work, 'no-such-folder', 'results.csv')}: its folder does not exist. Nothing was sent; choose another with --results.\n`);
    expect(await outbox(host, 'erin@unwritable.example')).toEqual([]);
    expect(await json<unknown[]>(['users', 'list', '--tenant', tenant.id])).toEqual([]);

    const latin1 = join(work, 'latin1.csv');
    writeFileSync(latin1, Buffer.from(entraCsv(['jörg@unwritable.example,https://app.contoso.test/welcome,true,Grüß Gott']), 'latin1'));
    const refused = await guestpass(['invite', '--tenant', tenant.id, '--csv', latin1]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe('error: The file is not UTF-8 or UTF-16 text. In Excel, save it with "Save as" > "CSV UTF-8 (Comma delimited) (*.csv)", or download the template again.\n');
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
    expect(run.stdout).toContain('Succeeded 20, failed 0, skipped 0, total 20 rows');
  });

  it('a 1,000-row import: every row invited once under a steady bar with at most --concurrency requests in flight; users list pages through all of them', async () => {
    const tenant = await newTenant();
    const file = join(work, 'thousand.csv');
    writeFileSync(file, entraCsv(Array.from({ length: 1000 }, (_, i) => `guest${String(i).padStart(4, '0')}@fabrikam.example,https://app.contoso.test/welcome,true,Welcome to Contoso`)));
    // Between the CLI and the host, a proxy that counts the requests in flight.
    const inFlight = { now: 0, most: 0, total: 0 };
    const proxy = createHttpServer((req, res) => {
      inFlight.now += 1;
      inFlight.total += 1;
      inFlight.most = Math.max(inFlight.most, inFlight.now);
      const upstream = httpRequest(`${host.baseUrl}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode!, answer.headers);
        answer.pipe(res).once('finish', () => (inFlight.now -= 1));
      });
      req.pipe(upstream);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    const started = performance.now();
    // On a pseudo-terminal (script(1)), so the CLI draws its bar.
    const command = [process.execPath, CLI, 'invite', '--tenant', tenant.id, '--csv', file, '--results', join(work, 'thousand-results.csv'), '--concurrency', '16'].map((arg) => `'${arg}'`).join(' ');
    const run = await new Promise<Run>((r) =>
      execFile('script', ['-qec', command, '/dev/null'], { cwd: work, maxBuffer: 64 * 1024 * 1024, env: { PATH: process.env.PATH ?? '', TERM: 'xterm', GUESTPASS_URL: proxyUrl, GUESTPASS_KEY: FUNCTION_KEY } }, (error, stdout, stderr) =>
        r({ code: error ? 1 : 0, stdout, stderr }),
      ),
    );
    proxy.close();
    const seconds = (performance.now() - started) / 1000;
    expect(run.code, run.stdout).toBe(0);
    expect(run.stdout).toContain('Succeeded 1000, failed 0, skipped 0, total 1000 rows');
    // The bar: its total is the file's 1,000 rows from the first frame to the last, and it only moves forward.
    const frames = [...run.stdout.matchAll(/Inviting \[[█░]+\] (\d+)\/(\d+) rows/g)].map((m) => [Number(m[1]), Number(m[2])] as const);
    expect(frames.length).toBeGreaterThan(2);
    expect(new Set(frames.map(([, total]) => total))).toEqual(new Set([1000]));
    for (let i = 1; i < frames.length; i += 1) expect(frames[i]![0]).toBeGreaterThanOrEqual(frames[i - 1]![0]);
    expect(frames.at(-1)![0]).toBe(1000);
    expect(inFlight.most).toBeLessThanOrEqual(16);
    expect(inFlight.total).toBeGreaterThanOrEqual(1000);
    const resultsText = readFileSync(join(work, 'thousand-results.csv'), 'utf8');
    // For the report: wall time and the results file's first lines (measured, never asserted).
    console.log(`1,000-row import: ${seconds.toFixed(1)} s wall time (CLI process, local host, Azurite), at most ${inFlight.most} requests in flight, ${frames.length} bar frames\n${resultsText.split('\n').slice(0, 4).join('\n')}`);
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
    // A display name shaped as a spreadsheet formula is written as text (OWASP CSV injection).
    await ok(['invite', 'eve@users.fabrikam.example', '--tenant', tenant.id, '--no-mail', '--name', '=HYPERLINK("https://evil.example","Open")']);
    const exported = parse(await ok(['users', 'list', '--tenant', tenant.id, '--csv', '-']), { columns: true }) as Record<string, string>[];
    expect(exported.find((row) => row.email === 'eve@users.fabrikam.example')!.displayName).toBe('\'=HYPERLINK("https://evil.example","Open")');
    for (const row of exported) for (const cell of Object.values(row)) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
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
    expect(audit.split('\n')[0]).toMatch(/^Time +Actor +Action +Target +Change$/);
    expect(audit).toMatch(/helpdesk \([0-9a-f]{8}\) +guest\.invite +guest \S+@\S+ +email: \S+@\S+; status: PendingAcceptance/);
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
    expect(logs.split('\n')[0]).toMatch(/^Time +Guest +Event +Outcome +Client IP +Mail$/);
    // The code mail's fate follows its send-code: sent by the send-mail trigger.
    expect(logs).toMatch(/fay@fabrikam\.example +send-code +code_sent +\S+ +sent/);
    expect(await ok(['sign-in-logs', '--tenant', tenant.id, '--csv', '-'])).toMatch(/^time,userPrincipalName,userId,event,outcome,clientIp,mail\n.*,fay@fabrikam\.example,[0-9a-f-]{36},send-code,code_sent,[^,]+,sent/);
    // --summary: the hours with activity, and the totals with refusals per reason.
    const summary = await ok(['sign-in-logs', '--tenant', tenant.id, '--summary', '--hours', '2']);
    expect(summary.split('\n')[0]).toMatch(/^Hour \(UTC\) +Codes sent +Sign-ins +Failures +Step-ups +Mails failed +Refused$/);
    expect(summary).toMatch(/^Last 2 hours: 1 code sent, 0 sign-ins, 0 failures, 0 step-ups, 0 mails failed; refused: domain_blocked 0, otp_disabled 0, guest_disabled 0$/m);
    // --outcome offers exactly the outcomes a log row can hold.
    const offered = await guestpass(['sign-in-logs', '--tenant', tenant.id, '--outcome', 'teleported']);
    expect(offered.code).toBe(1);
    expect(offered.stderr).toContain("error: option '--outcome <outcome>' argument 'teleported' is invalid. Allowed choices are code_sent, signed_in, invalid_code");

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
  it('roles assign|list|remove: an app role by its value, listed with that value, taken away again', async () => {
    const tenant = await newTenant();
    const created = await host.manage(`/tenants/${tenant.id}/applications`, {
      method: 'POST', body: JSON.stringify({ displayName: 'Reports', redirectUris: ['https://app.contoso.test/cb'], appRoles: [{ value: 'Reports.Read', displayName: 'Reader' }] }),
    });
    const app = (await created.json()) as { clientId: string };
    await ok(['invite', 'rhea@roles.example', '--tenant', tenant.id, '--no-mail']);
    expect(await ok(['roles', 'assign', 'rhea@roles.example', '--tenant', tenant.id, '--app', app.clientId, '--role', 'Reports.Read'])).toMatch(/^rhea@roles\.example holds Reports\.Read in Reports \(assignment [0-9a-f]{32}\)\.$/m);
    const listed = await json<{ id: string }[]>(['roles', 'list', 'rhea@roles.example', '--tenant', tenant.id]);
    expect(listed).toHaveLength(1);
    expect(await ok(['roles', 'list', 'rhea@roles.example', '--tenant', tenant.id])).toContain('Reports.Read');
    const unknown = await guestpass(['roles', 'assign', 'rhea@roles.example', '--tenant', tenant.id, '--app', app.clientId, '--role', 'Reports.Write']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('Reports has no app role Reports.Write; its roles: Reports.Read.');
    await ok(['roles', 'remove', 'rhea@roles.example', listed[0]!.id, '--tenant', tenant.id]);
    expect(await json<unknown[]>(['roles', 'list', 'rhea@roles.example', '--tenant', tenant.id])).toEqual([]);
  });
});
