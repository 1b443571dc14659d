import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stopAllHosts, type TestHost, type TestTenant } from './helpers.js';
import { authorizeWithoutBrowser, createApplication, createTenant, expectError, inviteGuest, pkcePair, startOidcHost, tokenRequest, type TestApplication } from './oidcHelpers.js';

/*
 * App roles as Entra has them for guests: an application defines appRoles (Microsoft
 * Graph's shape), operators assign them to guests (POST …/users/{id}/appRoleAssignments),
 * and the application's ID token, access token and userinfo carry the values in `roles`.
 */
let host: TestHost;
let tenant: TestTenant;
let portal: TestApplication & { appRoles: { id: string; value: string; displayName: string; description: string; allowedMemberTypes: string[]; isEnabled: boolean }[] };
let other: TestApplication;
const CALLBACK = 'http://127.0.0.1:5998/callback';
const READER = '8c1f5b6e-2f55-4a8e-9a43-1b7d6b1c0a01';

beforeAll(async () => {
  // Each test signs one guest in more than once.
  host = await startOidcHost({ RESEND_COOLDOWN_SECONDS: '0' });
  tenant = await createTenant(host);
  portal = (await createApplication(host, tenant.id, {
    displayName: 'Contoso Portal',
    redirectUris: [CALLBACK],
    appRoles: [
      { id: READER, value: 'Reports.Read', displayName: 'Report reader', description: 'Reads the reports' },
      { value: 'Reports.Approve', displayName: 'Report approver' },
    ],
  })) as typeof portal;
  other = await createApplication(host, tenant.id, { displayName: 'Other app', redirectUris: [CALLBACK], appRoles: [{ value: 'Other.Admin', displayName: 'Other admin' }] });
});
afterAll(() => stopAllHosts());

const assignments = (guestId: string) => `/tenants/${tenant.id}/users/${guestId}/appRoleAssignments`;
function assign(guestId: string, body: Record<string, unknown>): Promise<Response> {
  return host.manage(assignments(guestId), { method: 'POST', body: JSON.stringify(body) });
}
const roleId = (value: string) => portal.appRoles.find((role) => role.value === value)!.id;

/** A guest signed in to an application through the code flow: its tokens and userinfo. */
async function tokensFor(app: TestApplication, email: string): Promise<{ idToken: Record<string, unknown>; accessToken: string; access: Record<string, unknown>; userinfo: () => Promise<Record<string, unknown>> }> {
  const pkce = pkcePair();
  const callback = await authorizeWithoutBrowser(host, tenant, email, { clientId: app.clientId, redirectUri: CALLBACK, challenge: pkce.challenge });
  const response = await tokenRequest(host, tenant.id, { grant_type: 'authorization_code', code: callback.searchParams.get('code')!, redirect_uri: CALLBACK, code_verifier: pkce.verifier, client_id: app.clientId });
  const tokens = (await response.json()) as { id_token: string; access_token: string };
  return {
    idToken: decodeJwt(tokens.id_token),
    accessToken: tokens.access_token,
    access: decodeJwt(tokens.access_token),
    userinfo: async () => (await (await host.api(`/${tenant.id}/oauth2/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } })).json()) as Record<string, unknown>,
  };
}

describe('app roles: defined on the application in Microsoft Graph\'s shape', () => {
  it('keeps the id given, generates one left out, and fills description, allowedMemberTypes and isEnabled', () => {
    expect(portal.appRoles).toEqual([
      { id: READER, value: 'Reports.Read', displayName: 'Report reader', description: 'Reads the reports', allowedMemberTypes: ['User'], isEnabled: true },
      { id: expect.stringMatching(/^[0-9a-f-]{36}$/), value: 'Reports.Approve', displayName: 'Report approver', description: '', allowedMemberTypes: ['User'], isEnabled: true },
    ]);
  });

  it('refuses roles two of which share a value, a value with a space, and members other than users', async () => {
    const post = (appRoles: unknown[]) => host.manage(`/tenants/${tenant.id}/applications`, { method: 'POST', body: JSON.stringify({ displayName: 'x', redirectUris: [CALLBACK], appRoles }) });
    await expectError(await post([{ value: 'A', displayName: 'a' }, { value: 'A', displayName: 'b' }]), 400, 'invalid_request');
    await expectError(await post([{ value: 'Has space', displayName: 'a' }]), 400, 'invalid_request');
    await expectError(await post([{ value: 'A', displayName: 'a', allowedMemberTypes: ['Application'] }]), 400, 'invalid_request');
  });
});

describe('app role assignments: POST, GET, DELETE …/users/{id}/appRoleAssignments, audited', () => {
  it('assigns a role in Graph\'s shape, lists it, refuses a second of the same and bad references, and audits both changes', async () => {
    const guest = await inviteGuest(host, tenant.id, 'assigned@example.com', { invitedUserDisplayName: 'Ann Assigned' });
    const created = await assign(guest.invitedUser.id, { appRoleId: READER, resourceId: portal.clientId, principalId: guest.invitedUser.id });
    expect(created.status).toBe(201);
    const assignment = (await created.json()) as Record<string, string>;
    expect(assignment).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{32}$/), appRoleId: READER, principalId: guest.invitedUser.id, principalType: 'User', principalDisplayName: 'Ann Assigned',
      resourceId: portal.clientId, resourceDisplayName: 'Contoso Portal', createdDateTime: expect.any(String),
    });
    const listed = (await (await host.manage(assignments(guest.invitedUser.id))).json()) as { value: unknown[] };
    expect(listed.value).toEqual([assignment]);

    await expectError(await assign(guest.invitedUser.id, { appRoleId: READER, resourceId: portal.clientId }), 409, 'app_role_assignment_exists');
    await expectError(await assign(guest.invitedUser.id, { appRoleId: roleId('Reports.Approve'), resourceId: other.clientId }), 404, 'app_role_not_found');
    await expectError(await assign(guest.invitedUser.id, { appRoleId: READER, resourceId: '00000000-0000-4000-8000-000000000000' }), 404, 'application_not_found');
    await expectError(await assign('00000000-0000-4000-8000-000000000000', { appRoleId: READER, resourceId: portal.clientId }), 404, 'guest_not_found');
    await expectError(await assign(guest.invitedUser.id, { appRoleId: READER, resourceId: portal.clientId, principalId: '00000000-0000-4000-8000-000000000000' }), 400, 'invalid_request');
    await expectError(await assign(guest.invitedUser.id, { appRoleId: 'not-a-guid', resourceId: portal.clientId }), 400, 'invalid_request');

    expect((await host.manage(`${assignments(guest.invitedUser.id)}/${assignment.id}`, { method: 'DELETE' })).status).toBe(204);
    await expectError(await host.manage(`${assignments(guest.invitedUser.id)}/${assignment.id}`, { method: 'DELETE' }), 404, 'app_role_assignment_not_found');
    expect(((await (await host.manage(assignments(guest.invitedUser.id))).json()) as { value: unknown[] }).value).toEqual([]);

    const audit = (await (await host.manage(`/tenants/${tenant.id}/audit`)).json()) as { value: { action: string; target: { id: string }; after?: unknown; before?: unknown }[] };
    const entries = audit.value.filter((entry) => entry.action.startsWith('guest.appRoleAssignment.'));
    expect(entries.map((entry) => [entry.action, entry.target.id])).toEqual([
      ['guest.appRoleAssignment.delete', guest.invitedUser.id],
      ['guest.appRoleAssignment.create', guest.invitedUser.id],
    ]);
    expect(entries[0]!.before).toEqual(assignment);
  });
});

describe('roles in tokens: the ID token, the access token and userinfo of that application only', () => {
  it('carries the assigned roles\' values for the application, and none of another application\'s', async () => {
    const guest = await inviteGuest(host, tenant.id, 'roles@example.com');
    for (const value of ['Reports.Read', 'Reports.Approve']) expect((await assign(guest.invitedUser.id, { appRoleId: roleId(value), resourceId: portal.clientId })).status).toBe(201);
    const tokens = await tokensFor(portal, 'roles@example.com');
    expect(tokens.idToken.roles).toEqual(['Reports.Read', 'Reports.Approve']);
    expect(tokens.access.roles).toEqual(['Reports.Read', 'Reports.Approve']);
    expect((await tokens.userinfo()).roles).toEqual(['Reports.Read', 'Reports.Approve']);

    const elsewhere = await tokensFor(other, 'roles@example.com');
    expect(elsewhere.idToken).not.toHaveProperty('roles');
    expect(elsewhere.access).not.toHaveProperty('roles');
    expect(await elsewhere.userinfo()).not.toHaveProperty('roles');
  });

  it('a guest without assignments has no roles claim', async () => {
    await inviteGuest(host, tenant.id, 'none@example.com');
    const tokens = await tokensFor(portal, 'none@example.com');
    expect(tokens.idToken).not.toHaveProperty('roles');
    expect(await tokens.userinfo()).not.toHaveProperty('roles');
  });

  it('a role deleted from the application (or disabled) leaves no stale claim: not in new tokens, not in userinfo for old ones', async () => {
    const app = (await createApplication(host, tenant.id, {
      displayName: 'Short-lived roles', redirectUris: [CALLBACK], appRoles: [{ value: 'Keep', displayName: 'Keep' }, { value: 'Drop', displayName: 'Drop' }, { value: 'Pause', displayName: 'Pause' }],
    })) as typeof portal;
    const guest = await inviteGuest(host, tenant.id, 'stale@example.com');
    for (const role of app.appRoles) expect((await assign(guest.invitedUser.id, { appRoleId: role.id, resourceId: app.clientId })).status).toBe(201);
    const before = await tokensFor(app, 'stale@example.com');
    expect(before.idToken.roles).toEqual(['Keep', 'Drop', 'Pause']);

    const [keep, , pause] = app.appRoles;
    const changed = await host.manage(`/tenants/${tenant.id}/applications/${app.clientId}`, { method: 'PATCH', body: JSON.stringify({ appRoles: [keep, { ...pause, isEnabled: false }] }) });
    expect(changed.status).toBe(200);
    expect((await before.userinfo()).roles).toEqual(['Keep']);
    const after = await tokensFor(app, 'stale@example.com');
    expect(after.idToken.roles).toEqual(['Keep']);
    expect(after.access.roles).toEqual(['Keep']);
    // A disabled role cannot be assigned anew either.
    await expectError(await assign(guest.invitedUser.id, { appRoleId: pause!.id, resourceId: app.clientId }), 404, 'app_role_not_found');
  });
});
