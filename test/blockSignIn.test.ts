import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTenant, expectError, inviteGuest, latestCode, outbox, sendCode, sessionCheck, signIn, startHost, verifyCode,
  type TestHost, type TestTenant,
} from './helpers.js';

/**
 * Issue 23, block sign-in: PATCH users/{id} {accountEnabled} as Microsoft Graph has it,
 * over HTTP against Azurite. A blocked guest is answered exactly as a stranger.
 */
let host: TestHost;
let tenant: TestTenant;

beforeAll(async () => {
  host = await startHost({ RESEND_COOLDOWN_SECONDS: '0' });
  tenant = await createTenant(host);
});
afterAll(async () => {
  await host.stop();
});

function patchUser(id: string, body: unknown, tenantId = tenant.id) {
  return host.manage(`/tenants/${tenantId}/users/${id}`, { method: 'PATCH', body: JSON.stringify(body) });
}

async function block(id: string, accountEnabled: boolean): Promise<Record<string, unknown>> {
  const response = await patchUser(id, { accountEnabled });
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}

describe('blocking a guest', () => {
  it('ends its sessions at once, shows in the guest and the listing, and is audited with before and after', async () => {
    const email = 'blocked-sessions@example.test';
    const invited = await inviteGuest(host, tenant.id, email);
    const { token } = await signIn(host, tenant.id, email);
    expect((await sessionCheck(host, tenant.id, token)).status).toBe(200);

    const blocked = await block(invited.invitedUser.id, false);
    expect(blocked).toMatchObject({ id: invited.invitedUser.id, email, accountEnabled: false, state: 'Accepted' });
    await expectError(await sessionCheck(host, tenant.id, token), 401, 'session_revoked');

    const listed = (await (await host.manage(`/tenants/${tenant.id}/users?search=${encodeURIComponent(email)}`)).json()) as { value: { accountEnabled: boolean }[] };
    expect(listed.value).toEqual([expect.objectContaining({ email, accountEnabled: false })]);

    const audit = (await (await host.manage(`/tenants/${tenant.id}/audit`)).json()) as { value: { action: string; target: { id: string }; before: unknown; after: unknown }[] };
    expect(audit.value.find((entry) => entry.action === 'guest.block')).toMatchObject({
      target: { id: invited.invitedUser.id },
      before: { email, accountEnabled: true },
      after: { email, accountEnabled: false },
    });
    // Blocking again changes nothing and writes no second entry.
    await block(invited.invitedUser.id, false);
    const again = (await (await host.manage(`/tenants/${tenant.id}/audit`)).json()) as { value: { action: string; target: { id: string } }[] };
    expect(again.value.filter((entry) => entry.action === 'guest.block' && entry.target.id === invited.invitedUser.id)).toHaveLength(1);
  });

  it("answers a blocked guest's send-code as a stranger's (the same 202, no mail) and refuses its codes as wrong", async () => {
    const email = 'blocked-codes@example.test';
    const stranger = 'never-invited@example.test';
    const invited = await inviteGuest(host, tenant.id, email, { sendInvitationMessage: false });
    // A code mailed before the block.
    expect((await sendCode(host, tenant.id, email)).status).toBe(202);
    const codeBeforeBlock = await latestCode(host, email);
    await block(invited.invitedUser.id, false);
    const mailsBefore = (await outbox(host, email)).length;

    const guestAnswer = await sendCode(host, tenant.id, email);
    const strangerAnswer = await sendCode(host, tenant.id, stranger);
    expect(guestAnswer.status).toBe(202);
    expect(strangerAnswer.status).toBe(202);
    const guestBody = (await guestAnswer.json()) as Record<string, unknown>;
    const strangerBody = (await strangerAnswer.json()) as Record<string, unknown>;
    expect(Object.keys(guestBody).sort()).toEqual(Object.keys(strangerBody).sort());
    expect({ ...guestBody, attempt: '' }).toEqual({ ...strangerBody, attempt: '' });
    expect(headerNames(guestAnswer)).toEqual(headerNames(strangerAnswer));
    expect((await outbox(host, email)).length).toBe(mailsBefore);

    await expectError(await verifyCode(host, tenant.id, email, codeBeforeBlock), 401, 'invalid_code');
    await expectError(await verifyCode(host, tenant.id, stranger, codeBeforeBlock), 401, 'invalid_code');
  });

  it('lets an unblocked guest sign in again, but not with a code mailed before the block', async () => {
    const email = 'unblocked@example.test';
    const invited = await inviteGuest(host, tenant.id, email, { sendInvitationMessage: false });
    expect((await sendCode(host, tenant.id, email)).status).toBe(202);
    const oldCode = await latestCode(host, email);
    await block(invited.invitedUser.id, false);
    const unblocked = await block(invited.invitedUser.id, true);
    expect(unblocked.accountEnabled).toBe(true);

    await expectError(await verifyCode(host, tenant.id, email, oldCode), 401, 'invalid_code');
    const { token } = await signIn(host, tenant.id, email);
    expect((await sessionCheck(host, tenant.id, token)).status).toBe(200);
    const audit = (await (await host.manage(`/tenants/${tenant.id}/audit`)).json()) as { value: { action: string; target: { id: string } }[] };
    expect(audit.value.some((entry) => entry.action === 'guest.unblock' && entry.target.id === invited.invitedUser.id)).toBe(true);
  });

  it('keeps a guest blocked through a reinvitation that resets its redemption', async () => {
    const email = 'blocked-reset@example.test';
    const invited = await inviteGuest(host, tenant.id, email, { sendInvitationMessage: false });
    await block(invited.invitedUser.id, false);
    await inviteGuest(host, tenant.id, email, { sendInvitationMessage: false, resetRedemption: true });
    const read = (await (await host.manage(`/tenants/${tenant.id}/users/${invited.invitedUser.id}`)).json()) as { accountEnabled: boolean };
    expect(read.accountEnabled).toBe(false);
  });
});

describe('bad PATCH input', () => {
  it('answers 400 invalid_request for a body that is not {accountEnabled: boolean}', async () => {
    const invited = await inviteGuest(host, tenant.id, 'bad-patch@example.test', { sendInvitationMessage: false });
    for (const body of [{}, { accountEnabled: 'false' }, { accountEnabled: false, displayName: 'x' }, null]) {
      await expectError(await patchUser(invited.invitedUser.id, body), 400, 'invalid_request');
    }
    const read = (await (await host.manage(`/tenants/${tenant.id}/users/${invited.invitedUser.id}`)).json()) as { accountEnabled: boolean };
    expect(read.accountEnabled).toBe(true);
  });

  it('answers 404 guest_not_found for an unknown guest and 404 tenant_not_found for an unknown tenant', async () => {
    await expectError(await patchUser('00000000-0000-4000-8000-000000000000', { accountEnabled: false }), 404, 'guest_not_found');
    await expectError(await patchUser('00000000-0000-4000-8000-000000000000', { accountEnabled: false }, '00000000-0000-4000-8000-000000000001'), 404, 'tenant_not_found');
  });
});

function headerNames(response: Response): string[] {
  const names: string[] = [];
  response.headers.forEach((_value, name) => names.push(name));
  return names.sort();
}
