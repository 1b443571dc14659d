import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectError, hostWithTenant, inviteGuest, latestCode, outbox, postJson, sendCode, sessionCheck, signIn, verifyCode,
  type TestHost, type TestTenant,
} from './helpers.js';

let host: TestHost;
let tenant: TestTenant;

beforeAll(async () => {
  ({ host, tenant } = await hostWithTenant());
});
afterAll(() => host.stop());

describe('the email-code sign-in loop over HTTP', () => {
  it('an invited guest signs in with the mailed code and holds a 24-hour session', async () => {
    const invitation = await inviteGuest(host, tenant.id, 'Ann.Guest@Example.COM', { invitedUserDisplayName: 'Ann Guest' });
    expect(invitation.status).toBe('PendingAcceptance');

    const sent = await sendCode(host, tenant.domains[0]!, 'ann.guest@example.com');
    expect(sent.status).toBe(202);
    const body = (await sent.json()) as { attempt: string };
    expect(body).toEqual({ status: 'code_sent', expiresInSeconds: 1800, resendAfterSeconds: 60, attempt: expect.stringMatching(/^[A-Za-z0-9_-]{16,64}$/) });

    const code = await latestCode(host, 'ann.guest@example.com');
    expect(code).toMatch(/^\d{8}$/);
    const verified = await host.api(`/${tenant.id}/verify-code`, postJson({ email: 'ann.guest@example.com', code, attempt: body.attempt }));
    expect(verified.status).toBe(200);
    expect(verified.headers.get('cache-control')).toBe('no-store');
    const session = (await verified.json()) as { token: string; tokenType: string; expiresAt: string; user: Record<string, string> };
    expect(session.tokenType).toBe('Bearer');
    expect(session.user).toEqual({ id: invitation.invitedUser.id, email: 'ann.guest@example.com', displayName: 'Ann Guest', source: 'OTP' });
    const lifetime = Date.parse(session.expiresAt) - Date.now();
    expect(lifetime).toBeGreaterThan(86_400_000 - 60_000);
    expect(lifetime).toBeLessThanOrEqual(86_400_000);

    const checked = await sessionCheck(host, tenant.domains[0]!, session.token);
    expect(checked.status).toBe(200);
    expect(await checked.json()).toEqual({ active: true, expiresAt: session.expiresAt, user: session.user });

    const signedOut = await host.api(`/${tenant.id}/sign-out`, { method: 'POST', headers: { authorization: `Bearer ${session.token}` } });
    expect(signedOut.status).toBe(204);
    await expectError(await sessionCheck(host, tenant.id, session.token), 401, 'session_revoked');
  });

  it('a code cannot be used twice', async () => {
    await inviteGuest(host, tenant.id, 'twice@example.com');
    await sendCode(host, tenant.id, 'twice@example.com');
    const code = await latestCode(host, 'twice@example.com');
    expect((await verifyCode(host, tenant.id, 'twice@example.com', code)).status).toBe(200);
    await expectError(await verifyCode(host, tenant.id, 'twice@example.com', code), 401, 'invalid_code');
  });

  it('send-code answers the same 202 for an address that is not a guest, and mails nothing', async () => {
    await inviteGuest(host, tenant.id, 'invited@example.com');
    const invited = await sendCode(host, tenant.id, 'invited@example.com');
    const stranger = await sendCode(host, tenant.id, 'stranger@example.com');
    expect(stranger.status).toBe(invited.status);
    // The same answer but for the attempt handle, which is new and random each time.
    const withoutHandle = async (response: Response) => ({ ...((await response.json()) as object), attempt: '<handle>' });
    expect(await withoutHandle(stranger)).toEqual(await withoutHandle(invited));
    expect(await outbox(host, 'stranger@example.com')).toEqual([]);
  });

  it('a signed-in guest is marked redeemed with source OTP', async () => {
    const invitation = await inviteGuest(host, tenant.id, 'redeem@example.com');
    await signIn(host, tenant.id, 'redeem@example.com');
    const again = await inviteGuest(host, tenant.id, 'redeem@example.com');
    expect(again.status).toBe('Completed');
    expect(again.invitedUser.id).toBe(invitation.invitedUser.id);
  });

  it('a wrong code is refused', async () => {
    await inviteGuest(host, tenant.id, 'wrong@example.com');
    await sendCode(host, tenant.id, 'wrong@example.com');
    const code = await latestCode(host, 'wrong@example.com');
    const wrong = code === '00000000' ? '11111111' : '00000000';
    await expectError(await verifyCode(host, tenant.id, 'wrong@example.com', wrong), 401, 'invalid_code');
    expect((await verifyCode(host, tenant.id, 'wrong@example.com', code)).status).toBe(200);
  });

  it('bad JSON is a 400 invalid_request, not a 500', async () => {
    const response = await host.api(`/${tenant.id}/send-code`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"email":' });
    await expectError(response, 400, 'invalid_request');
    const missing = await host.api(`/${tenant.id}/send-code`, postJson({}));
    const body = await expectError(missing, 400, 'invalid_request');
    expect(body.details).toBeInstanceOf(Array);
  });
});
