import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  answerToMailedCode, createTenant, expectError, inviteGuest, postJson, sendCode, signIn, startHost, verifyCode, type TestHost,
} from './helpers.js';

/**
 * Issue 23: refusals the operator needs to see. The tenant counts them per reason per
 * hour (the sign-in summary's `refusals`); a guest's own sign-in log holds each reason
 * at most once an hour; an address that is no guest writes no log row.
 */
let host: TestHost;
beforeAll(async () => {
  host = await startHost({ RESEND_COOLDOWN_SECONDS: '0' });
});
afterAll(() => host.stop());

interface LogEntry {
  userId: string | null;
  userPrincipalName: string | null;
  outcome: string;
}

async function logOf(tenantId: string, guestId?: string): Promise<LogEntry[]> {
  const response = await host.manage(`/tenants/${tenantId}/sign-in-logs?$top=200${guestId ? `&userId=${guestId}` : ''}`);
  expect(response.status).toBe(200);
  return ((await response.json()) as { value: LogEntry[] }).value;
}

async function thisHour(tenantId: string): Promise<{ failures: number; refusals: Record<string, number> }> {
  const response = await host.manage(`/tenants/${tenantId}/sign-in-logs/summary?hours=1`);
  expect(response.status).toBe(200);
  return ((await response.json()) as { value: { failures: number; refusals: Record<string, number> }[] }).value[0]!;
}

async function denyList(tenantId: string, blocked: string[]): Promise<void> {
  const response = await host.manage(`/tenants/${tenantId}/policies`, postJson({
    type: 'B2BManagementPolicy', displayName: 'B2BManagementPolicy', isOrganizationDefault: true,
    definition: [JSON.stringify({ B2BManagementPolicy: { InvitationsAllowedAndBlockedDomainsPolicy: { BlockedDomains: blocked }, PreviewPolicy: { Features: ['OneTimePasscode'] } } })],
  }));
  expect(response.status).toBe(201);
}

describe('refusals in the sign-in log and the summary', () => {
  it("a pending guest of a refused domain is told with its correct code: every refusal counted for the tenant, its log holding domain_blocked once an hour; a stranger's calls are answered as any address and never logged", async () => {
    const tenant = await createTenant(host);
    const guest = await inviteGuest(host, tenant.id, 'pia@refused.example', { sendInvitationMessage: false });
    await denyList(tenant.id, ['refused.example']);

    // send-code answers both as any address (DESIGN §4); only the guest's correct code is told domain_blocked.
    for (let i = 0; i < 3; i += 1) await expectError(await answerToMailedCode(host, tenant.id, 'pia@refused.example'), 403, 'domain_blocked');
    for (let i = 0; i < 2; i += 1) expect((await sendCode(host, tenant.id, 'stranger@refused.example')).status).toBe(202);

    const logged = await logOf(tenant.id, guest.invitedUser.id);
    expect(logged.filter((entry) => entry.outcome === 'domain_blocked')).toEqual([expect.objectContaining({ outcome: 'domain_blocked', userPrincipalName: 'pia@refused.example' })]);
    // Nothing anywhere else in the tenant's log: the stranger wrote no row.
    expect((await logOf(tenant.id)).filter((entry) => entry.userPrincipalName !== 'pia@refused.example')).toEqual([]);
    const hour = await thisHour(tenant.id);
    expect(hour.refusals).toEqual({ domain_blocked: 3, otp_disabled: 0, guest_disabled: 0 });
    // The logged refusal is counted once, in refusals, not again as a failure.
    expect(hour.failures).toBe(0);
  });

  it('email codes turned off: a signed-in guest is logged otp_disabled once an hour; a stranger’s verify-code is counted', async () => {
    const tenant = await createTenant(host);
    const guest = await inviteGuest(host, tenant.id, 'otto@codes.example', { sendInvitationMessage: false });
    await signIn(host, tenant.id, 'otto@codes.example');
    const off = await host.manage(`/tenants/${tenant.id}`, { method: 'PATCH', body: JSON.stringify({ emailOtp: 'disabled' }) });
    expect(off.status).toBe(200);

    await expectError(await sendCode(host, tenant.id, 'otto@codes.example'), 403, 'otp_disabled');
    await expectError(await sendCode(host, tenant.id, 'otto@codes.example'), 403, 'otp_disabled');
    await expectError(await verifyCode(host, tenant.id, 'nobody@codes.example', '123456'), 403, 'otp_disabled');

    expect((await logOf(tenant.id, guest.invitedUser.id)).map((entry) => entry.outcome)).toEqual(['otp_disabled', 'signed_in', 'code_sent']);
    expect((await thisHour(tenant.id)).refusals).toEqual({ domain_blocked: 0, otp_disabled: 3, guest_disabled: 0 });
  });
});
