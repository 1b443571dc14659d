import { newMailId, recordMailFate } from '../lib/mail/delivery.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { summarizeSignInLogs, type SignInSummary } from '../lib/admin/signInSummary.js';
import { signInLogAction, type SignInLogEntry } from '../lib/guests/guests.js';
import { createTenant as createTenantRow } from '../lib/tenants/tenants.js';
import {
  createTenant, expectError, inviteGuest, latestCode, sendCode, startHost, testRuntime, verifyCode,
  type TestHost, type TestTenant,
} from './helpers.js';

const HOUR = 3_600_000;

const NO_REFUSALS = { domain_blocked: 0, otp_disabled: 0, guest_disabled: 0 };

describe('the sign-in log summary per hour (lib/admin/signInSummary.ts)', () => {
  it('counts sign-ins, failures and codes sent in their hours, every hour of the window present, nothing from outside it or from other tenants', async () => {
    const clock = { now: Date.parse('2026-11-30T10:30:00Z') };
    const rt = await testRuntime({}, { now: () => clock.now });
    const [tenant, other] = await Promise.all([
      createTenantRow(rt, { displayName: 'Summed', domains: [], allowedOrigins: [], redirectUris: [], googleFederation: false }),
      createTenantRow(rt, { displayName: 'Elsewhere', domains: [], allowedOrigins: [], redirectUris: [], googleFederation: false }),
    ]);
    const write = async (tenantId: string, at: number, event: SignInLogEntry['event'], outcome: string) => {
      clock.now = at;
      const [, row] = signInLogAction(rt, `${tenantId}_guest${outcome.length}`, { tenantId, event, outcome, guestId: 'g' });
      await rt.tables.guests.createEntity(row as never);
    };
    const now = Date.parse('2026-11-30T10:30:00Z');
    await write(tenant.id, now - 2 * HOUR, 'send-code', 'code_sent');
    await write(tenant.id, now - 2 * HOUR + 60_000, 'verify-code', 'invalid_code');
    await write(tenant.id, now - 2 * HOUR + 120_000, 'verify-code', 'signed_in');
    await write(tenant.id, now - 5 * 60_000, 'send-code', 'rate_limited');
    await write(tenant.id, now - 5 * 60_000, 'send-code', 'not_a_guest');
    await write(tenant.id, now - 167 * HOUR - 30 * 60_000, 'send-code', 'code_sent'); // 10:00 seven days ago: the first hour
    await write(tenant.id, now - 168 * HOUR - 31 * 60_000, 'verify-code', 'signed_in'); // before the window
    await write(other.id, now - 60_000, 'verify-code', 'invalid_code');
    // Mail fates: a refused and a sent mail of this tenant, a dropped one of the other.
    clock.now = now - 4 * 60_000;
    await recordMailFate(rt, { id: newMailId(clock.now), tenantId: tenant.id, kind: 'code' }, 'refused', { reason: '550 no such user' });
    await recordMailFate(rt, { id: newMailId(clock.now), tenantId: tenant.id, kind: 'code' }, 'sent');
    await recordMailFate(rt, { id: newMailId(clock.now), tenantId: other.id, kind: 'code' }, 'dropped', { reason: 'its code expired before it could be sent' });
    clock.now = now;

    const week = await summarizeSignInLogs(rt, tenant.id, { hours: 168 });
    expect(week.value).toHaveLength(168);
    expect(week.value[0]!.hour).toBe('2026-11-23T11:00:00Z');
    expect(week.value[167]!.hour).toBe('2026-11-30T10:00:00Z');
    const busy = (summary: SignInSummary) => summary.value.filter((h) => h.signIns + h.failures + h.codesSent > 0);
    expect(busy(week)).toEqual([
      { hour: '2026-11-23T11:00:00Z', signIns: 0, failures: 0, codesSent: 1, stepUps: 0, mailsFailed: 0, refusals: NO_REFUSALS },
      { hour: '2026-11-30T08:00:00Z', signIns: 1, failures: 1, codesSent: 1, stepUps: 0, mailsFailed: 0, refusals: NO_REFUSALS },
      { hour: '2026-11-30T10:00:00Z', signIns: 0, failures: 2, codesSent: 0, stepUps: 0, mailsFailed: 1, refusals: NO_REFUSALS },
    ]);
    expect(busy(await summarizeSignInLogs(rt, tenant.id, { hours: 1 }))).toEqual([{ hour: '2026-11-30T10:00:00Z', signIns: 0, failures: 2, codesSent: 0, stepUps: 0, mailsFailed: 1, refusals: NO_REFUSALS }]);
  });
});

describe('GET /api/manage/tenants/{tenant}/sign-in-logs/summary', () => {
  let host: TestHost;
  let tenant: TestTenant;
  beforeAll(async () => {
    host = await startHost();
    tenant = await createTenant(host);
  });
  afterAll(() => host.stop());

  it('answers every hour of the last week with a real sign-in and a wrong code in the current hour', async () => {
    const email = 'summed@example.com';
    await inviteGuest(host, tenant.id, email);
    expect((await sendCode(host, tenant.id, email)).status).toBe(202);
    const code = await latestCode(host, email);
    expect((await verifyCode(host, tenant.id, email, code === '00000000' ? '11111111' : '00000000')).status).toBe(401);
    expect((await verifyCode(host, tenant.id, email, code)).status).toBe(200);

    const response = await host.manage(`/tenants/${tenant.id}/sign-in-logs/summary?hours=168`);
    expect(response.status).toBe(200);
    const summary = (await response.json()) as SignInSummary;
    expect(summary.value).toHaveLength(168);
    const current = summary.value[167]!;
    expect(Date.now() - Date.parse(current.hour)).toBeLessThan(HOUR + 60_000);
    expect(current).toMatchObject({ signIns: 1, failures: 1, codesSent: 1 });
    expect(summary.value.slice(0, 167).every((h) => h.signIns + h.failures + h.codesSent === 0)).toBe(true);
  });

  it('refuses a window it does not offer, an unknown tenant, and a call without the key', async () => {
    await expectError(await host.manage(`/tenants/${tenant.id}/sign-in-logs/summary?hours=0`), 400, 'invalid_request');
    await expectError(await host.manage(`/tenants/${tenant.id}/sign-in-logs/summary?hours=745`), 400, 'invalid_request');
    await expectError(await host.manage(`/tenants/${tenant.id}/sign-in-logs/summary?hours=a`), 400, 'invalid_request');
    await expectError(await host.manage('/tenants/no-such-tenant.example/sign-in-logs/summary'), 404, 'tenant_not_found');
    expect((await host.api(`/manage/tenants/${tenant.id}/sign-in-logs/summary`)).status).toBe(401);
  });
});
