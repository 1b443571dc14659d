import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTenant, expectError, inviteGuest, latestCode, outbox, sendCode, signIn, startHost, testRuntime, verifyCode, type TestHost, type TestTenant,
} from './helpers.js';
import { discoverMicrosoftAccount } from '../lib/signin/realmDiscovery.js';
import { sendCode as sendCodeAt } from '../lib/signin/sendCode.js';
import { cleanupExpired } from '../lib/storage/cleanup.js';
import { guestPartition } from '../lib/storage/tables.js';
import { OTP_ROW } from '../lib/guests/guests.js';
import { freePort } from './ports.js';
import { startFakeUserRealm, type FakeUserRealm } from './userRealmServer.js';

/**
 * DESIGN.md §3, method resolution: Google federation for Gmail, then Microsoft realm
 * discovery (AzureAD or MSA), then OTP if the policy allows it, decided at first
 * redemption and stored as the guest's source.
 */
let realm: FakeUserRealm;
let host: TestHost;
let tenant: TestTenant;
let googleTenant: TestTenant;

beforeAll(async () => {
  realm = await startFakeUserRealm();
  host = await startHost({
    REALM_DISCOVERY_ENABLED: 'true',
    REALM_DISCOVERY_URL: realm.url,
    REALM_DISCOVERY_TIMEOUT_SECONDS: '1',
    RESEND_COOLDOWN_SECONDS: '0',
  });
  tenant = await createTenant(host, { displayName: 'Fabrikam' });
  googleTenant = await createTenant(host, { displayName: 'Woodgrove', googleFederation: true });
});
afterAll(async () => {
  await host.stop();
  await realm.close();
});

async function guestRecord(tenantId: string, guestId: string): Promise<Record<string, unknown>> {
  const response = await host.manage(`/tenants/${tenantId}/users/${guestId}`);
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}

function realmRequestsFor(address: string) {
  return realm.requests.filter((request) => request.address === address);
}

/**
 * The guest is told its method only once it gives the code mailed to it (DESIGN §4, no
 * oracle): send-code answers 202 as for any address, verify-code with that code 409
 * with the method, and no session. With OTP off for the tenant, send-code answers 409 itself.
 */
async function expectOtherMethod(tenantId: string, email: string, method: string): Promise<void> {
  const sent = await sendCode(host, tenantId, email);
  if (sent.status === 409) {
    expect((await expectError(sent, 409, 'other_method_required')).method).toBe(method);
    return;
  }
  expect(sent.status).toBe(202);
  const body = await expectError(await verifyCode(host, tenantId, email, await latestCode(host, email)), 409, 'other_method_required');
  expect(body.method).toBe(method);
}

describe('sign-in method resolution at first redemption', () => {
  it('a Gmail guest of a tenant with Google federation is sent to Google once it gives the mailed code', async () => {
    const invitation = await inviteGuest(host, googleTenant.id, 'alex.doe@gmail.com');
    await expectOtherMethod(googleTenant.id, 'alex.doe@gmail.com', 'Google');
    expect((await guestRecord(googleTenant.id, invitation.invitedUser.id)).source).toBe('Google');
    expect(realmRequestsFor('alex.doe@gmail.com')).toEqual([]);
  });

  it('a googlemail.com address counts as Gmail for Google federation', async () => {
    await inviteGuest(host, googleTenant.id, 'sam@googlemail.com');
    await expectOtherMethod(googleTenant.id, 'sam@googlemail.com', 'Google');
  });

  it('a Gmail guest of a tenant without Google federation and without a Microsoft account gets a one-time passcode', async () => {
    await inviteGuest(host, tenant.id, 'alexdoe@gmail.com');
    const session = await signIn(host, tenant.id, 'alexdoe@gmail.com');
    expect(session.user.source).toBe('OTP');
  });

  it('an address in a managed Microsoft Entra tenant is sent to AzureAD', async () => {
    realm.answer('megan@fabrikam-managed.test', 'Managed');
    const invitation = await inviteGuest(host, tenant.id, 'megan@fabrikam-managed.test');
    await expectOtherMethod(tenant.id, 'megan@fabrikam-managed.test', 'AzureAD');
    expect((await guestRecord(tenant.id, invitation.invitedUser.id)).source).toBe('AzureAD');
    const [asked] = realmRequestsFor('megan@fabrikam-managed.test');
    expect(asked?.query).toEqual({ 'api-version': '2.1', checkForMicrosoftAccount: 'true' });
  });

  it('an address in a federated Microsoft Entra tenant is sent to AzureAD', async () => {
    realm.answer('lee@fabrikam-federated.test', 'Federated');
    await inviteGuest(host, tenant.id, 'lee@fabrikam-federated.test');
    await expectOtherMethod(tenant.id, 'lee@fabrikam-federated.test', 'AzureAD');
  });

  it('an address with a personal Microsoft account is sent to MSA', async () => {
    realm.answer('kim@outlook.test', 'MicrosoftAccount');
    await inviteGuest(host, tenant.id, 'kim@outlook.test');
    await expectOtherMethod(tenant.id, 'kim@outlook.test', 'MSA');
  });

  it('the method is resolved at first redemption, not at invitation', async () => {
    realm.answer('later@resolve.test', 'MicrosoftAccount');
    const invitation = await inviteGuest(host, tenant.id, 'later@resolve.test');
    expect(realmRequestsFor('later@resolve.test')).toEqual([]);
    const record = await guestRecord(tenant.id, invitation.invitedUser.id);
    expect(record).toMatchObject({ source: null, state: 'PendingAcceptance', redeemedAt: null });
    await expectOtherMethod(tenant.id, 'later@resolve.test', 'MSA');
    expect(realmRequestsFor('later@resolve.test')).toHaveLength(1);
  });

  it('a resolved method is stored and never changes by itself', async () => {
    realm.answer('sticky@msa.test', 'MicrosoftAccount');
    await inviteGuest(host, tenant.id, 'sticky@msa.test');
    await expectOtherMethod(tenant.id, 'sticky@msa.test', 'MSA');
    realm.answer('sticky@msa.test', 'Unknown');
    await expectOtherMethod(tenant.id, 'sticky@msa.test', 'MSA');
    expect(realmRequestsFor('sticky@msa.test')).toHaveLength(1);
  });

  it('a guest who redeemed with OTP stays OTP after realm discovery later finds a Microsoft account', async () => {
    await inviteGuest(host, tenant.id, 'otp.first@contoso-partner.test');
    const first = await signIn(host, tenant.id, 'otp.first@contoso-partner.test');
    expect(first.user.source).toBe('OTP');
    const asked = realmRequestsFor('otp.first@contoso-partner.test').length;

    realm.answer('otp.first@contoso-partner.test', 'MicrosoftAccount');
    const again = await signIn(host, tenant.id, 'otp.first@contoso-partner.test');
    expect(again.user).toEqual(first.user);
    expect(realmRequestsFor('otp.first@contoso-partner.test')).toHaveLength(asked);
  });

  it('verify-code refuses a guest whose source is not OTP, answering as it answers a stranger', async () => {
    realm.answer('no.codes@entra.test', 'Managed');
    await inviteGuest(host, tenant.id, 'no.codes@entra.test');
    await expectOtherMethod(tenant.id, 'no.codes@entra.test', 'AzureAD');
    // No code of it can match, and the answer does not tell it from an address that is not a guest.
    await expectError(await verifyCode(host, tenant.id, 'no.codes@entra.test', '12345678'), 401, 'invalid_code');
  });

  it("with codes off, a stranger's resolved method lives as long as a guest's: an hour and a cleanup later it is still the stored answer", async () => {
    const closed = await createTenant(host, { displayName: 'Closed to codes', googleFederation: true });
    expect((await host.manage(`/tenants/${closed.id}`, { method: 'PATCH', body: JSON.stringify({ emailOtp: 'disabled' }) })).status).toBe(200);
    const started = Date.now();
    let now = started;
    const rt = await testRuntime({ TABLE_PREFIX: host.settings.TABLE_PREFIX! }, { now: () => now });
    const ask = () => sendCodeAt(rt, { tenant: closed.id, email: 'someone.new@gmail.com', clientIp: '127.0.0.61' });
    await expect(ask()).rejects.toMatchObject({ code: 'other_method_required' });
    const stored = () => rt.tables.guests.getEntity<Record<string, unknown>>(guestPartition(closed.id, 'someone.new@gmail.com'), OTP_ROW);
    const first = await stored();
    expect(first).toMatchObject({ method: 'Google' });
    expect(first.expiresAt).toBeUndefined();
    now = started + 2 * 3_600_000;
    await cleanupExpired(rt);
    await expect(ask()).rejects.toMatchObject({ code: 'other_method_required' });
    // Not resolved and written again: the row is the one the first answer wrote.
    expect((await stored()).etag).toBe(first.etag);
  });

  it('a guest with no way to sign in (OTP off, no Microsoft account) gets 403 no_sign_in_method and stays unresolved', async () => {
    const closed = await createTenant(host, { displayName: 'Closed' });
    const patched = await host.manage(`/tenants/${closed.id}`, { method: 'PATCH', body: JSON.stringify({ emailOtp: 'disabled' }) });
    expect(patched.status).toBe(200);
    const invitation = await inviteGuest(host, closed.id, 'nobody@example.test');
    await expectError(await sendCode(host, closed.id, 'nobody@example.test'), 403, 'no_sign_in_method');
    expect((await outbox(host, 'nobody@example.test')).filter((mail) => mail.kind === 'code')).toEqual([]);
    expect((await guestRecord(closed.id, invitation.invitedUser.id)).source).toBeNull();
  });
});

describe('Microsoft realm discovery', () => {
  it('a userrealm endpoint that does not answer in time counts as no Microsoft account, and is logged', async () => {
    realm.answer('slow@hanging-realm.test', 'hang');
    await inviteGuest(host, tenant.id, 'slow@hanging-realm.test');
    const session = await signIn(host, tenant.id, 'slow@hanging-realm.test');
    expect(session.user.source).toBe('OTP');
    await expect.poll(() => host.output.join('\n')).toContain('realm discovery for an address at hanging-realm.test: no answer within 1 s');
    expect(host.output.join('\n')).not.toContain('slow@hanging-realm.test');
  });

  it.each([
    ['an error status', 500, 'answered 500'],
    ['a throttled Microsoft account check', 'Throttled', 'throttled'],
    ['a body that is not JSON', 'notJson', 'not JSON'],
    ['NameSpaceType Unknown', 'Unknown', 'NameSpaceType Unknown'],
  ] as const)('%s counts as no Microsoft account, and is logged', async (_name, behaviour, logged) => {
    const address = `guest@${String(behaviour).toLowerCase()}-realm.test`;
    realm.answer(address, behaviour);
    await inviteGuest(host, tenant.id, address);
    // The method is resolved when the guest gives its first code, which then signs it in with OTP.
    expect((await signIn(host, tenant.id, address)).user.source).toBe('OTP');
    await expect.poll(() => host.output.find((line) => line.includes(`${String(behaviour).toLowerCase()}-realm.test`)) ?? '').toContain(logged);
  });

  it('an endpoint that cannot be reached counts as no Microsoft account, and is logged', async () => {
    const closed = `http://127.0.0.1:${await freePort()}/common/userrealm/`;
    const lines: string[] = [];
    const found = await discoverMicrosoftAccount({ enabled: true, url: closed, timeoutSeconds: 1 }, 'far@unreachable.test', (line) => lines.push(line));
    expect(found).toBeUndefined();
    expect(lines).toEqual([expect.stringMatching(/an address at unreachable\.test: the request failed .*treated as no Microsoft account/)]);
  });

  it('with realm discovery off (the default) no userrealm request is made', async () => {
    const quiet = await startHost({ REALM_DISCOVERY_URL: realm.url });
    try {
      const quietTenant = await createTenant(quiet);
      realm.answer('off@realm-off.test', 'MicrosoftAccount');
      await inviteGuest(quiet, quietTenant.id, 'off@realm-off.test');
      expect((await sendCode(quiet, quietTenant.id, 'off@realm-off.test')).status).toBe(202);
      expect(realmRequestsFor('off@realm-off.test')).toEqual([]);
    } finally {
      await quiet.stop();
    }
  });
});

describe('opting in affects only guests who redeem afterwards', () => {
  it('a guest who redeemed with another method keeps it when OTP is turned on', async () => {
    const optIn = await createTenant(host, { displayName: 'Opt-in later' });
    await host.manage(`/tenants/${optIn.id}`, { method: 'PATCH', body: JSON.stringify({ emailOtp: 'disabled' }) });
    realm.answer('keeps.msa@optin.test', 'MicrosoftAccount');
    await inviteGuest(host, optIn.id, 'keeps.msa@optin.test');
    await inviteGuest(host, optIn.id, 'waits@optin.test');
    await expectOtherMethod(optIn.id, 'keeps.msa@optin.test', 'MSA');
    await expectError(await sendCode(host, optIn.id, 'waits@optin.test'), 403, 'no_sign_in_method');

    const enabled = await host.manage(`/tenants/${optIn.id}`, { method: 'PATCH', body: JSON.stringify({ emailOtp: 'enabled' }) });
    expect(((await enabled.json()) as { emailOtp: string }).emailOtp).toBe('enabled');
    realm.answer('keeps.msa@optin.test', 'Unknown');

    await expectOtherMethod(optIn.id, 'keeps.msa@optin.test', 'MSA');
    const session = await signIn(host, optIn.id, 'waits@optin.test');
    expect(session.user.source).toBe('OTP');
  });
});
