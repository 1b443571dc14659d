import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, expectError, inviteGuest, outbox, REDIRECT_URI, sendCode, startHost, type TestHost } from './helpers.js';

/**
 * Issue 15, item 5: a tenant's daily mail cap, so one tenant's flood cannot use up a
 * shared sender's quota. Past it, send-code answers 429 mail_cap_reached (to guests and
 * strangers alike), with Retry-After until the next UTC day, decided before anything is
 * written (issue 11: refused requests leave no sign-in log row, so a guest's refusal
 * costs what a stranger's does); other tenants mail on.
 */
let host: TestHost;

beforeAll(async () => {
  host = await startHost({ MAIL_DAILY_CAP_PER_TENANT: '3' });
});
afterAll(() => host.stop());

async function logOutcomes(tenantId: string, guestId: string): Promise<string[]> {
  const response = await host.manage(`/tenants/${tenantId}/sign-in-logs?userId=${guestId}`);
  return ((await response.json()) as { value: { outcome: string }[] }).value.map((entry) => entry.outcome);
}

describe('the daily mail cap per tenant', () => {
  it('holds at MAIL_DAILY_CAP_PER_TENANT: the next send-code answers 429 with Retry-After, and sends and writes nothing', async () => {
    const tenant = await createTenant(host);
    const guests = [];
    for (let i = 0; i < 4; i += 1) guests.push(await inviteGuest(host, tenant.id, `capped${i}@example.com`));
    for (let i = 0; i < 3; i += 1) expect((await sendCode(host, tenant.id, `capped${i}@example.com`)).status).toBe(202);

    const refused = await sendCode(host, tenant.id, 'capped3@example.com');
    const retryAfter = Number(refused.headers.get('retry-after'));
    const body = await expectError(refused, 429, 'mail_cap_reached');
    expect(body.message).toMatch(/as many emails today/);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(86_400);
    expect(await outbox(host, 'capped3@example.com')).toEqual([]);
    // Refused before any write: no attempt, no log row (as for every refused send-code).
    expect(await logOutcomes(tenant.id, guests[3]!.invitedUser.id)).toEqual([]);
    expect(await logOutcomes(tenant.id, guests[0]!.invitedUser.id)).toEqual(['code_sent']);

    // A stranger's address gets the same answer: the cap does not tell who is invited.
    await expectError(await sendCode(host, tenant.id, 'not-invited@example.com'), 429, 'mail_cap_reached');
    // Invitation mails count against the same cap.
    const invitation = await host.manage(`/tenants/${tenant.id}/invitations`, {
      method: 'POST',
      body: JSON.stringify({ invitedUserEmailAddress: 'capped-invitee@example.com', inviteRedirectUrl: REDIRECT_URI, sendInvitationMessage: true }),
    });
    await expectError(invitation, 429, 'mail_cap_reached');
  });

  it('is per tenant: another tenant still mails', async () => {
    const flooded = await createTenant(host);
    const quiet = await createTenant(host);
    for (let i = 0; i < 3; i += 1) {
      await inviteGuest(host, flooded.id, `flood${i}@example.com`);
      expect((await sendCode(host, flooded.id, `flood${i}@example.com`)).status).toBe(202);
    }
    await inviteGuest(host, flooded.id, 'flood3@example.com');
    await expectError(await sendCode(host, flooded.id, 'flood3@example.com'), 429, 'mail_cap_reached');
    await inviteGuest(host, quiet.id, 'quiet@example.com');
    expect((await sendCode(host, quiet.id, 'quiet@example.com')).status).toBe(202);
  });

  it("takes a tenant's own dailyCap over the setting", async () => {
    const tenant = await createTenant(host, { mail: { dailyCap: 5 } });
    for (let i = 0; i < 5; i += 1) {
      await inviteGuest(host, tenant.id, `own${i}@example.com`);
      expect((await sendCode(host, tenant.id, `own${i}@example.com`)).status).toBe(202);
    }
    await inviteGuest(host, tenant.id, 'own5@example.com');
    await expectError(await sendCode(host, tenant.id, 'own5@example.com'), 429, 'mail_cap_reached');
  });

  it('counts only mails: send-code for strangers does not use up the cap', async () => {
    const tenant = await createTenant(host);
    for (let i = 0; i < 5; i += 1) expect((await sendCode(host, tenant.id, `stranger${i}@example.com`)).status).toBe(202);
    await inviteGuest(host, tenant.id, 'real@example.com');
    expect((await sendCode(host, tenant.id, 'real@example.com')).status).toBe(202);
  });
});
