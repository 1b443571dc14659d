import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listSignInLogs } from '../lib/signin/signInLogs.js';
import { guestRows, requestFrom, sendCodeFrom } from './attackHelpers.js';
import {
  createTenant, expectError, inviteGuest, latestCode, sendCode, startHost, testRuntime, uniquePrefix, FUNCTION_KEY,
  type TestHost, type TestTenant,
  expectUnauthorized,
  answerToMailedCode,
} from './helpers.js';

interface LogRecord {
  id: string;
  createdDateTime: string;
  tenantId: string;
  userId: string | null;
  event: string;
  outcome: string;
  clientIp: string;
}

let host: TestHost;
let tenant: TestTenant;
const prefix = uniquePrefix();

beforeAll(async () => {
  host = await startHost({ TABLE_PREFIX: prefix, SEND_CODE_PER_IP_PER_HOUR: '40', CODE_MAX_ATTEMPTS: '2', FAILED_VERIFICATIONS_PER_GUEST_PER_HOUR: '3' });
  tenant = await createTenant(host, { googleFederation: true });
});
afterAll(() => host.stop());

async function logsOf(query: string): Promise<{ value: LogRecord[]; nextLink?: string }> {
  const response = await host.manage(`/tenants/${tenant.id}/sign-in-logs${query}`);
  expect(response.status).toBe(200);
  expect(response.headers.get('cache-control')).toBe('no-store');
  return (await response.json()) as never;
}

async function allLogs(top: number, userId?: string): Promise<LogRecord[]> {
  const records: LogRecord[] = [];
  let page = await logsOf(`?$top=${top}${userId ? `&userId=${userId}` : ''}`);
  records.push(...page.value);
  while (page.nextLink) {
    const next = new URL(page.nextLink);
    expect(page.value).toHaveLength(top);
    page = await logsOf(next.search);
    records.push(...page.value);
  }
  return records;
}

describe('the sign-in log records every send-code and verify-code outcome', () => {
  it('each outcome, with tenant, guest, client IP and time, and never the code', async () => {
    const guest = await inviteGuest(host, tenant.id, 'logged@example.com');
    const from = '127.0.0.5';
    const post = async (endpoint: string, body: Record<string, unknown>) =>
      requestFrom(host, from, `/${tenant.id}/${endpoint}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const email = 'logged@example.com';
    const sent = await post('send-code', { email });
    expect(sent.status).toBe(202); // code_sent
    const { attempt } = (await sent.json()) as { attempt: string };
    const codes = [await latestCode(host, email)];
    await expectError(await post('send-code', { email }), 429, 'rate_limited'); // refused: not logged
    const wrong = codes[0] === '00000000' ? '11111111' : '00000000';
    await expectError(await post('verify-code', { email, code: wrong, attempt }), 401, 'invalid_code'); // invalid_code
    expect((await post('verify-code', { email, code: codes[0], attempt })).status).toBe(200); // signed_in
    await expectError(await post('verify-code', { email, code: codes[0], attempt }), 401, 'invalid_code'); // a repeat: refused, not logged
    await expectError(await post('verify-code', { email, code: wrong, attempt }), 401, 'invalid_code'); // invalid_code

    const records = await allLogs(50, guest.invitedUser.id);
    const outcomes = records.map((r) => `${r.event}:${r.outcome}`);
    expect(outcomes).toEqual(['verify-code:invalid_code', 'verify-code:signed_in', 'verify-code:invalid_code', 'send-code:code_sent']);
    for (const record of records) {
      expect(record.tenantId).toBe(tenant.id);
      expect(record.userId).toBe(guest.invitedUser.id);
      expect(record.clientIp).toBe(from);
      expect(Date.now() - Date.parse(record.createdDateTime)).toBeLessThan(60_000);
    }
    // Newest first within a guest.
    const times = records.map((r) => Date.parse(r.createdDateTime));
    expect([...times].sort((a, b) => b - a)).toEqual(times);

    const rt = await testRuntime({ TABLE_PREFIX: prefix });
    const stored = JSON.stringify(await guestRows(rt, tenant.id, email));
    for (const code of codes) expect(stored).not.toContain(code);
    expect(JSON.stringify(records)).not.toContain(codes[0]!);
  });

  it("a guest's redirection to another method is logged; strangers and refused calls write no log row", async () => {
    await inviteGuest(host, tenant.id, 'federated@gmail.com');
    await expectError(await answerToMailedCode(host, tenant.id, 'federated@gmail.com'), 409, 'other_method_required');
    expect((await sendCode(host, tenant.id, 'nobody@example.com')).status).toBe(202);
    for (let i = 0; i < 40; i += 1) await sendCodeFrom(host, '127.0.0.6', tenant.id, `flood-${i}@example.com`);
    await expectError(await sendCodeFrom(host, '127.0.0.6', tenant.id, 'flood-last@example.com'), 429, 'rate_limited');

    const records = await allLogs(200);
    const outcomes = new Set(records.map((r) => `${r.event}:${r.outcome}`));
    // Told once the guest gave its mailed code (DESIGN §4): the redirection is verify-code's.
    expect(outcomes).toContain('verify-code:other_method_Google');
    expect(records.filter((r) => r.userId === null)).toEqual([]);
    expect([...outcomes].filter((o) => /rate_limited|not_a_guest/.test(o))).toEqual([]);
  });

  it('pages with nextLink cover the whole log once, in a stable order', async () => {
    const everything = (await logsOf('?$top=200')).value;
    expect(everything.length).toBeGreaterThanOrEqual(5);
    const paged = await allLogs(2);
    expect(paged.map((r) => r.id)).toEqual(everything.map((r) => r.id));
    expect(new Set(paged.map((r) => r.id)).size).toBe(paged.length);
  });

  it('refuses a forged or foreign skiptoken, an unknown guest, no key and an unknown tenant', async () => {
    const other = await createTenant(host);
    const foreignToken = Buffer.from(JSON.stringify({ t: other.id, c: { p: `${other.id}_x`, r: 'log_0' } })).toString('base64url');
    const foreignPosition = Buffer.from(JSON.stringify({ t: tenant.id, c: { p: `${other.id}_x`, r: 'log_0' } })).toString('base64url');
    for (const token of ['garbage', foreignToken, foreignPosition, Buffer.from('{"p":1}').toString('base64url')]) {
      await expectError(await host.manage(`/tenants/${tenant.id}/sign-in-logs?$skiptoken=${token}`), 400, 'invalid_request');
    }
    await expectError(await host.manage(`/tenants/${tenant.id}/sign-in-logs?userId=${crypto.randomUUID()}`), 404, 'guest_not_found');
    await expectError(await host.manage(`/tenants/${tenant.id}/sign-in-logs?$top=0`), 400, 'invalid_request');
    await expectUnauthorized(await host.api(`/manage/tenants/${tenant.id}/sign-in-logs`));
    await expectUnauthorized(await host.api(`/manage/tenants/${tenant.id}/sign-in-logs`, { headers: { 'x-functions-key': `${FUNCTION_KEY}x` } }));
    await expectError(await host.manage(`/tenants/${crypto.randomUUID()}/sign-in-logs`), 404, 'tenant_not_found');
    // Another tenant's log is its own.
    expect((await host.manage(`/tenants/${other.id}/sign-in-logs`).then((r) => r.json()) as { value: unknown[] }).value).toEqual([]);
  });

  it('rows carry expiresAt after SIGN_IN_LOG_RETENTION_DAYS (default 30) and are left out once past it', async () => {
    const rt = await testRuntime({ TABLE_PREFIX: prefix });
    const rows = (await guestRows(rt, tenant.id, 'logged@example.com')).filter((row) => row.rowKey!.startsWith('log_'));
    for (const row of rows) {
      const kept = (row.expiresAt as Date).getTime() - Date.parse(row.at as string);
      expect(kept).toBe(30 * 86_400_000);
    }
    const later = await testRuntime({ TABLE_PREFIX: prefix }, { now: () => Date.now() + 31 * 86_400_000 });
    expect((await listSignInLogs(later, tenant.id, { $top: 200 })).value).toEqual([]);
    const sooner = await testRuntime({ TABLE_PREFIX: prefix }, { now: () => Date.now() + 29 * 86_400_000 });
    expect((await listSignInLogs(sooner, tenant.id, { $top: 200 })).value.length).toBeGreaterThan(0);
  });
});
