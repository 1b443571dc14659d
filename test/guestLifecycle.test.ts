import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTenant, expectError, inviteGuest, latestCode, outbox, sendCode, sessionCheck, signIn, startHost, verifyCode,
  type TestHost,
  expectUnauthorized,
  answerToMailedCode,
} from './helpers.js';
import { startFakeUserRealm, type FakeUserRealm } from './userRealmServer.js';

/**
 * Issue 3, guest lifecycle: list with filters and paging, read, delete, invite again,
 * and resetRedemption, over HTTP against Azurite.
 */
interface GuestRecord {
  id: string;
  email: string;
  displayName: string;
  source: string | null;
  state: string;
  invitedAt: string;
  redeemedAt: string | null;
  lastSignInAt: string | null;
}

interface GuestList {
  value: GuestRecord[];
  nextLink?: string;
}

let realm: FakeUserRealm;
let host: TestHost;

beforeAll(async () => {
  realm = await startFakeUserRealm();
  host = await startHost({ REALM_DISCOVERY_ENABLED: 'true', REALM_DISCOVERY_URL: realm.url, RESEND_COOLDOWN_SECONDS: '0' });
});
afterAll(async () => {
  await host.stop();
  await realm.close();
});

async function list(tenantId: string, query = ''): Promise<GuestList> {
  const response = await host.manage(`/tenants/${tenantId}/users${query}`);
  expect(response.status).toBe(200);
  return (await response.json()) as GuestList;
}

/** Follows a nextLink as a client would: its path and query against the host. */
async function follow(nextLink: string): Promise<GuestList> {
  const url = new URL(nextLink);
  const response = await fetch(`${host.baseUrl}${url.pathname}${url.search}`, { headers: { 'x-functions-key': host.settings.LOCAL_FUNCTION_KEY! } });
  expect(response.status).toBe(200);
  return (await response.json()) as GuestList;
}

function user(tenantId: string, id: string, init?: RequestInit) {
  return host.manage(`/tenants/${tenantId}/users/${id}`, init);
}

async function read(tenantId: string, id: string): Promise<GuestRecord> {
  const response = await user(tenantId, id);
  expect(response.status).toBe(200);
  return (await response.json()) as GuestRecord;
}

describe('listing guests', () => {
  it('pages through all guests in address order with an opaque nextLink, at most $top a page', async () => {
    const tenant = await createTenant(host);
    const invited = [];
    for (const i of [3, 0, 4, 1, 2]) invited.push((await inviteGuest(host, tenant.id, `page${i}@example.test`)).invitedUser.id);

    const first = await list(tenant.id, '?$top=2');
    expect(first.value).toHaveLength(2);
    expect(first.nextLink).toBeDefined();
    const link = new URL(first.nextLink!);
    expect(link.searchParams.get('$top')).toBe('2');
    const token = link.searchParams.get('$skiptoken')!;
    expect(token).not.toContain(tenant.id);
    expect(token).not.toContain('page');

    const second = await follow(first.nextLink!);
    expect(second.value).toHaveLength(2);
    const third = await follow(second.nextLink!);
    expect(third.value).toHaveLength(1);
    expect(third.nextLink).toBeUndefined();

    const ids = [...first.value, ...second.value, ...third.value].map((g) => g.id);
    expect(new Set(ids)).toEqual(new Set(invited));
    // In address order, across pages.
    expect([...first.value, ...second.value, ...third.value].map((g) => g.email)).toEqual([0, 1, 2, 3, 4].map((i) => `page${i}@example.test`));
  });

  it("a nextLink carries only the listing's own parameters and $skiptoken, never a function key passed as ?code=", async () => {
    const tenant = await createTenant(host);
    for (let i = 0; i < 3; i += 1) await inviteGuest(host, tenant.id, `code${i}@example.test`);
    const key = host.settings.LOCAL_FUNCTION_KEY!;
    const first = await list(tenant.id, `?code=${encodeURIComponent(key)}&state=PendingAcceptance&$top=2&utm_source=mail`);
    const link = new URL(first.nextLink!);
    expect([...link.searchParams.keys()].sort()).toEqual(['$skiptoken', '$top', 'state']);
    expect(link.searchParams.get('state')).toBe('PendingAcceptance');
    expect(first.nextLink).not.toContain(key);
    const second = await follow(first.nextLink!);
    expect(second.value).toHaveLength(1);
    expect(second.nextLink).toBeUndefined();
  });

  it('a page holds at most 100 guests; without $top all fit in one page here', async () => {
    const tenant = await createTenant(host);
    await inviteGuest(host, tenant.id, 'one@example.test');
    await inviteGuest(host, tenant.id, 'two@example.test');
    const page = await list(tenant.id);
    expect(page.value.map((g) => g.email).sort()).toEqual(['one@example.test', 'two@example.test']);
    expect(page.nextLink).toBeUndefined();
    await expectError(await host.manage(`/tenants/${tenant.id}/users?$top=101`), 400, 'invalid_request');
    await expectError(await host.manage(`/tenants/${tenant.id}/users?$top=0`), 400, 'invalid_request');
  });

  it('filters by source and by state', async () => {
    const tenant = await createTenant(host, { googleFederation: true });
    const google = await inviteGuest(host, tenant.id, 'filter.google@gmail.com');
    await answerToMailedCode(host, tenant.id, 'filter.google@gmail.com');
    const otp = await inviteGuest(host, tenant.id, 'filter.otp@example.test');
    await signIn(host, tenant.id, 'filter.otp@example.test');
    const pending = await inviteGuest(host, tenant.id, 'filter.pending@example.test');

    const ids = async (query: string) => (await list(tenant.id, query)).value.map((g) => g.id).sort();
    expect(await ids('?source=OTP')).toEqual([otp.invitedUser.id]);
    expect(await ids('?source=Google')).toEqual([google.invitedUser.id]);
    expect(await ids('?source=MSA')).toEqual([]);
    expect(await ids('?state=Accepted')).toEqual([otp.invitedUser.id]);
    expect(await ids('?state=PendingAcceptance')).toEqual([google.invitedUser.id, pending.invitedUser.id].sort());
    expect(await ids('?source=OTP&state=PendingAcceptance')).toEqual([]);

    const [accepted] = (await list(tenant.id, '?source=OTP')).value;
    expect(accepted).toMatchObject({ email: 'filter.otp@example.test', source: 'OTP', state: 'Accepted' });
    expect(Date.parse(accepted!.redeemedAt!)).not.toBeNaN();
    expect(Date.parse(accepted!.lastSignInAt!)).not.toBeNaN();

    await expectError(await host.manage(`/tenants/${tenant.id}/users?source=Facebook`), 400, 'invalid_request');
    await expectError(await host.manage(`/tenants/${tenant.id}/users?state=Deleted`), 400, 'invalid_request');
  });

  it('paging holds with filters: every page is full until the last', async () => {
    const tenant = await createTenant(host);
    for (let i = 0; i < 4; i += 1) {
      await inviteGuest(host, tenant.id, `mixed.signed${i}@example.test`);
      await signIn(host, tenant.id, `mixed.signed${i}@example.test`);
      await inviteGuest(host, tenant.id, `mixed.pending${i}@example.test`);
    }
    const first = await list(tenant.id, '?state=Accepted&$top=3');
    expect(first.value).toHaveLength(3);
    const rest = await follow(first.nextLink!);
    expect(rest.value).toHaveLength(1);
    expect([...first.value, ...rest.value].every((g) => g.state === 'Accepted')).toBe(true);
    expect(new URL(first.nextLink!).searchParams.get('state')).toBe('Accepted');
  });

  it("a tenant lists only its own guests and cannot read another tenant's", async () => {
    const owner = await createTenant(host);
    const other = await createTenant(host);
    const invitation = await inviteGuest(host, owner.id, 'private@example.test');
    await inviteGuest(host, other.id, 'theirs@example.test');
    expect((await list(other.id)).value.map((g) => g.email)).toEqual(['theirs@example.test']);
    await expectError(await user(other.id, invitation.invitedUser.id), 404, 'guest_not_found');
    await expectError(await user(other.id, invitation.invitedUser.id, { method: 'DELETE' }), 404, 'guest_not_found');
    expect((await read(owner.id, invitation.invitedUser.id)).email).toBe('private@example.test');
  });

  it("a $skiptoken that was made up or belongs to another tenant's listing is refused", async () => {
    const owner = await createTenant(host);
    const other = await createTenant(host);
    for (const email of ['a@skip.test', 'b@skip.test']) await inviteGuest(host, owner.id, email);
    const token = new URL((await list(owner.id, '?$top=1')).nextLink!).searchParams.get('$skiptoken')!;
    await expectError(await host.manage(`/tenants/${other.id}/users?$skiptoken=${encodeURIComponent(token)}`), 400, 'invalid_request');
    await expectError(await host.manage(`/tenants/${owner.id}/users?$skiptoken=not-a-token`), 400, 'invalid_request');
    const forged = Buffer.from(JSON.stringify({ t: owner.id, c: '%%%' })).toString('base64url');
    await expectError(await host.manage(`/tenants/${owner.id}/users?$skiptoken=${forged}`), 400, 'invalid_request');
  });

  it('the user routes need the operator credential, a known tenant and a GUID id', async () => {
    const tenant = await createTenant(host);
    await expectUnauthorized(await host.api(`/manage/tenants/${tenant.id}/users`));
    await expectUnauthorized(await host.api(`/manage/tenants/${tenant.id}/users/00000000-0000-4000-8000-000000000000`, { method: 'DELETE' }));
    await expectError(await host.manage('/tenants/unknown.example.test/users'), 404, 'tenant_not_found');
    await expectError(await user(tenant.id, 'not-a-guid'), 400, 'invalid_request');
    await expectError(await user(tenant.id, '00000000-0000-4000-8000-000000000000'), 404, 'guest_not_found');
  });
});

describe('reading and deleting a guest', () => {
  it('reads one guest by id', async () => {
    const tenant = await createTenant(host);
    const invitation = await inviteGuest(host, tenant.id, 'Read.Me@Example.test', { invitedUserDisplayName: 'Read Me' });
    const guest = await read(tenant.id, invitation.invitedUser.id);
    expect(guest).toEqual({
      id: invitation.invitedUser.id,
      email: 'read.me@example.test',
      displayName: 'Read Me',
      source: null,
      state: 'PendingAcceptance',
      invitedAt: expect.any(String),
      redeemedAt: null,
      lastSignInAt: null,
      accountEnabled: true,
    });
  });

  it('deleting a guest revokes its sessions and codes at once', async () => {
    const tenant = await createTenant(host);
    const invitation = await inviteGuest(host, tenant.id, 'leaving@example.test');
    const session = await signIn(host, tenant.id, 'leaving@example.test');
    const other = await signIn(host, tenant.id, 'leaving@example.test');
    expect((await sendCode(host, tenant.id, 'leaving@example.test')).status).toBe(202);
    const pending = await latestCode(host, 'leaving@example.test');

    expect((await user(tenant.id, invitation.invitedUser.id, { method: 'DELETE' })).status).toBe(204);

    await expectError(await sessionCheck(host, tenant.id, session.token), 401, 'session_revoked');
    await expectError(await sessionCheck(host, tenant.id, other.token), 401, 'session_revoked');
    await expectError(await verifyCode(host, tenant.id, 'leaving@example.test', pending), 401, 'invalid_code');
    await expectError(await user(tenant.id, invitation.invitedUser.id), 404, 'guest_not_found');
    await expectError(await user(tenant.id, invitation.invitedUser.id, { method: 'DELETE' }), 404, 'guest_not_found');
    expect((await list(tenant.id)).value).toEqual([]);

    // No longer a guest: send-code gives the same 202 and mails nothing.
    const mailsBefore = (await outbox(host, 'leaving@example.test')).length;
    expect((await sendCode(host, tenant.id, 'leaving@example.test')).status).toBe(202);
    expect(await outbox(host, 'leaving@example.test')).toHaveLength(mailsBefore);
  });

  it('a guest invited again after deletion gets a new id, PendingAcceptance, and its method resolved anew', async () => {
    const tenant = await createTenant(host);
    const first = await inviteGuest(host, tenant.id, 'returning@partner.test');
    const session = await signIn(host, tenant.id, 'returning@partner.test');
    expect(session.user.source).toBe('OTP');
    // Later the address gets a Microsoft account; as OTP guest it keeps OTP ...
    realm.answer('returning@partner.test', 'MicrosoftAccount');
    expect((await sendCode(host, tenant.id, 'returning@partner.test')).status).toBe(202);

    // ... until an admin deletes and reinvites it.
    expect((await user(tenant.id, first.invitedUser.id, { method: 'DELETE' })).status).toBe(204);
    const again = await inviteGuest(host, tenant.id, 'returning@partner.test');
    expect(again.invitedUser.id).not.toBe(first.invitedUser.id);
    expect(again.status).toBe('PendingAcceptance');
    expect(await read(tenant.id, again.invitedUser.id)).toMatchObject({ source: null, state: 'PendingAcceptance', redeemedAt: null });
    await expectError(await sessionCheck(host, tenant.id, session.token), 401, 'session_revoked');

    const body = await expectError(await answerToMailedCode(host, tenant.id, 'returning@partner.test'), 409, 'other_method_required');
    expect(body.method).toBe('MSA');
  });
});

describe('invitations of an existing guest', () => {
  it('without resetRedemption, the existing guest comes back (Completed when redeemed) and keeps its sessions', async () => {
    const tenant = await createTenant(host);
    const first = await inviteGuest(host, tenant.id, 'again@example.test');
    const pendingAgain = await inviteGuest(host, tenant.id, 'again@example.test');
    expect(pendingAgain).toMatchObject({ status: 'PendingAcceptance', invitedUser: { id: first.invitedUser.id } });
    const session = await signIn(host, tenant.id, 'again@example.test');
    const completed = await inviteGuest(host, tenant.id, 'again@example.test');
    expect(completed).toMatchObject({ status: 'Completed', invitedUser: { id: first.invitedUser.id } });
    expect((await sessionCheck(host, tenant.id, session.token)).status).toBe(200);
    expect((await list(tenant.id)).value).toHaveLength(1);
  });

  it('resetRedemption keeps the id, clears source and redeemedAt, revokes sessions, and the next sign-in resolves the method anew', async () => {
    const tenant = await createTenant(host);
    const first = await inviteGuest(host, tenant.id, 'reset@partner.test');
    const session = await signIn(host, tenant.id, 'reset@partner.test');
    expect((await sendCode(host, tenant.id, 'reset@partner.test')).status).toBe(202);
    const pending = await latestCode(host, 'reset@partner.test');
    realm.answer('reset@partner.test', 'Managed');

    const reset = await inviteGuest(host, tenant.id, 'reset@partner.test', { resetRedemption: true });
    expect(reset).toMatchObject({ status: 'PendingAcceptance', invitedUser: { id: first.invitedUser.id } });
    const guest = await read(tenant.id, first.invitedUser.id);
    expect(guest).toMatchObject({ id: first.invitedUser.id, source: null, redeemedAt: null, state: 'PendingAcceptance' });
    expect(guest.lastSignInAt).not.toBeNull();

    await expectError(await sessionCheck(host, tenant.id, session.token), 401, 'session_revoked');
    await expectError(await verifyCode(host, tenant.id, 'reset@partner.test', pending), 401, 'invalid_code');
    const body = await expectError(await answerToMailedCode(host, tenant.id, 'reset@partner.test'), 409, 'other_method_required');
    expect(body.method).toBe('AzureAD');
    expect(await read(tenant.id, first.invitedUser.id)).toMatchObject({ source: 'AzureAD' });
  });

  it('resetRedemption lets a guest with no Microsoft account redeem with OTP again', async () => {
    const tenant = await createTenant(host);
    const first = await inviteGuest(host, tenant.id, 'reset.otp@example.test');
    await signIn(host, tenant.id, 'reset.otp@example.test');
    await inviteGuest(host, tenant.id, 'reset.otp@example.test', { resetRedemption: true });
    const session = await signIn(host, tenant.id, 'reset.otp@example.test');
    expect(session.user).toMatchObject({ id: first.invitedUser.id, source: 'OTP' });
    expect(await read(tenant.id, first.invitedUser.id)).toMatchObject({ state: 'Accepted', source: 'OTP' });
  });

  it('resetRedemption on a new address just invites it', async () => {
    const tenant = await createTenant(host);
    const invitation = await inviteGuest(host, tenant.id, 'fresh.reset@example.test', { resetRedemption: true });
    expect(invitation.status).toBe('PendingAcceptance');
    expect(await read(tenant.id, invitation.invitedUser.id)).toMatchObject({ email: 'fresh.reset@example.test', source: null });
  });
});
