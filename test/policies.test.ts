import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTenant, expectError, FUNCTION_KEY, inviteGuest, latestCode, sendCode, sessionCheck, signIn, startHost, verifyCode,
  type TestHost,
  expectUnauthorized,
} from './helpers.js';

/**
 * DESIGN.md §3 and issue 3: the B2BManagementPolicy API in the shape of
 * Get/New/Set/Remove-AzureADPolicy, the emailOtp switch that reads and writes the same
 * policy, and what opting in and out does to guests.
 */
const OPT_IN = '{"B2BManagementPolicy":{"PreviewPolicy":{"Features":["OneTimePasscode"]}}}';
const OPTED_OUT = '{"B2BManagementPolicy":{"PreviewPolicy":{"Features":[]}}}';

interface Policy {
  id: string;
  type: string;
  displayName: string;
  isOrganizationDefault: boolean;
  definition: string[];
}

let host: TestHost;

beforeAll(async () => {
  host = await startHost({ RESEND_COOLDOWN_SECONDS: '0' });
});
afterAll(() => host.stop());

function policies(tenantId: string, init?: RequestInit) {
  return host.manage(`/tenants/${tenantId}/policies`, init);
}

function policy(tenantId: string, id: string, init?: RequestInit) {
  return host.manage(`/tenants/${tenantId}/policies/${id}`, init);
}

async function createPolicy(tenantId: string, body: Record<string, unknown>): Promise<Policy> {
  const response = await policies(tenantId, { method: 'POST', body: JSON.stringify(body) });
  expect(response.status).toBe(201);
  return (await response.json()) as Policy;
}

function orgDefault(definition: string, extra: Record<string, unknown> = {}) {
  return { type: 'B2BManagementPolicy', displayName: 'B2BManagementPolicy', isOrganizationDefault: true, definition: [definition], ...extra };
}

async function patchTenant(tenantId: string, body: Record<string, unknown>) {
  return host.manage(`/tenants/${tenantId}`, { method: 'PATCH', body: JSON.stringify(body) });
}

async function emailOtpOf(tenantId: string): Promise<string> {
  const response = await host.manage(`/tenants/${tenantId}`);
  return ((await response.json()) as { emailOtp: string }).emailOtp;
}

async function listed(tenantId: string): Promise<Policy[]> {
  return ((await (await policies(tenantId)).json()) as { value: Policy[] }).value;
}

describe('the B2BManagementPolicy API', () => {
  it('a tenant starts without policies, and OTP_DEFAULT_ENABLED (true) decides', async () => {
    const tenant = await createTenant(host);
    expect(await listed(tenant.id)).toEqual([]);
    expect(await emailOtpOf(tenant.id)).toBe('default');
    await inviteGuest(host, tenant.id, 'default.on@example.test');
    expect((await signIn(host, tenant.id, 'default.on@example.test')).user.source).toBe('OTP');
  });

  it('with no policy and OTP_DEFAULT_ENABLED=false, a new guest has no way to sign in', async () => {
    const off = await startHost({ OTP_DEFAULT_ENABLED: 'false' });
    try {
      const tenant = await createTenant(off);
      await inviteGuest(off, tenant.id, 'default.off@example.test');
      await expectError(await sendCode(off, tenant.id, 'default.off@example.test'), 403, 'no_sign_in_method');
      await off.manage(`/tenants/${tenant.id}/policies`, { method: 'POST', body: JSON.stringify(orgDefault(OPT_IN)) });
      expect((await sendCode(off, tenant.id, 'default.off@example.test')).status).toBe(202);
    } finally {
      await off.stop();
    }
  });

  it('opting in: check whether a policy exists, and create one with OneTimePasscode', async () => {
    const tenant = await createTenant(host);
    expect((await listed(tenant.id)).find((p) => p.type === 'B2BManagementPolicy' && p.isOrganizationDefault)).toBeUndefined();
    const created = await createPolicy(tenant.id, orgDefault(OPT_IN));
    expect(created).toMatchObject({ type: 'B2BManagementPolicy', displayName: 'B2BManagementPolicy', isOrganizationDefault: true, definition: [OPT_IN] });
    expect(created.id).toMatch(/^[0-9a-f-]{36}$/);
    const read = await policy(tenant.id, created.id);
    expect(read.status).toBe(200);
    expect(await read.json()).toEqual(created);
    expect(await listed(tenant.id)).toEqual([created]);
    expect(await emailOtpOf(tenant.id)).toBe('enabled');
  });

  it('opting in: an existing policy without OneTimePasscode is updated to list it, and new guests get codes', async () => {
    const tenant = await createTenant(host);
    const existing = await createPolicy(tenant.id, orgDefault(OPTED_OUT));
    await inviteGuest(host, tenant.id, 'opt.in@example.test');
    await expectError(await sendCode(host, tenant.id, 'opt.in@example.test'), 403, 'no_sign_in_method');

    const updated = await policy(tenant.id, existing.id, { method: 'PATCH', body: JSON.stringify({ definition: [OPT_IN] }) });
    expect(updated.status).toBe(200);
    expect(((await updated.json()) as Policy).definition).toEqual([OPT_IN]);
    expect((await signIn(host, tenant.id, 'opt.in@example.test')).user.source).toBe('OTP');
  });

  it('a policy can be renamed or stop being the organisation default, and deleted', async () => {
    const tenant = await createTenant(host);
    const created = await createPolicy(tenant.id, orgDefault(OPTED_OUT));
    const renamed = await policy(tenant.id, created.id, { method: 'PATCH', body: JSON.stringify({ displayName: 'Guests', isOrganizationDefault: false }) });
    expect(await renamed.json()).toMatchObject({ id: created.id, displayName: 'Guests', isOrganizationDefault: false, definition: [OPTED_OUT] });
    expect(await emailOtpOf(tenant.id)).toBe('default');
    // With the flag off, another policy may become the organisation default.
    await createPolicy(tenant.id, orgDefault(OPT_IN));

    expect((await policy(tenant.id, created.id, { method: 'DELETE' })).status).toBe(204);
    await expectError(await policy(tenant.id, created.id), 404, 'policy_not_found');
    await expectError(await policy(tenant.id, created.id, { method: 'DELETE' }), 404, 'policy_not_found');
    expect(await listed(tenant.id)).toHaveLength(1);
  });

  it('deleting the organisation default hands the decision back to OTP_DEFAULT_ENABLED', async () => {
    const tenant = await createTenant(host);
    const created = await createPolicy(tenant.id, orgDefault(OPTED_OUT));
    expect(await emailOtpOf(tenant.id)).toBe('disabled');
    expect((await policy(tenant.id, created.id, { method: 'DELETE' })).status).toBe(204);
    expect(await emailOtpOf(tenant.id)).toBe('default');
    // The org-default slot is free again.
    await createPolicy(tenant.id, orgDefault(OPT_IN));
  });

  it('a second organisation default of the same type is refused with 409 policy_conflict', async () => {
    const tenant = await createTenant(host);
    await createPolicy(tenant.id, orgDefault(OPT_IN));
    await expectError(await policies(tenant.id, { method: 'POST', body: JSON.stringify(orgDefault(OPTED_OUT)) }), 409, 'policy_conflict');
    const other = await createPolicy(tenant.id, orgDefault(OPTED_OUT, { isOrganizationDefault: false }));
    await expectError(await policy(tenant.id, other.id, { method: 'PATCH', body: JSON.stringify({ isOrganizationDefault: true }) }), 409, 'policy_conflict');
    expect((await listed(tenant.id)).filter((p) => p.isOrganizationDefault)).toHaveLength(1);
    expect(await emailOtpOf(tenant.id)).toBe('enabled');
  });

  it('concurrent creations of an organisation default yield exactly one', async () => {
    const tenant = await createTenant(host);
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => policies(tenant.id, { method: 'POST', body: JSON.stringify(orgDefault(OPT_IN)) })),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([201, 409, 409, 409, 409, 409, 409, 409]);
    expect(await listed(tenant.id)).toHaveLength(1);
  });

  it.each([
    ['a definition that is not JSON', ['{"B2BManagementPolicy":'], 'body.definition.0'],
    ['a definition of two strings', [OPT_IN, OPT_IN], 'body.definition'],
    ['an empty definition', [], 'body.definition'],
    ['a definition without B2BManagementPolicy', ['{"PreviewPolicy":{"Features":["OneTimePasscode"]}}'], 'body.definition.0.B2BManagementPolicy'],
    ['Features that is not a list', ['{"B2BManagementPolicy":{"PreviewPolicy":{"Features":"OneTimePasscode"}}}'], 'body.definition.0.B2BManagementPolicy.PreviewPolicy.Features'],
    ['a definition that is JSON but not an object', ['["OneTimePasscode"]'], 'body.definition.0'],
  ])('%s is refused with 400 invalid_policy', async (_name, definition, field) => {
    const tenant = await createTenant(host);
    const body = await expectError(await policies(tenant.id, { method: 'POST', body: JSON.stringify({ ...orgDefault(OPT_IN), definition }) }), 400, 'invalid_policy');
    expect((body.details as { field: string }[]).map((d) => d.field)).toContain(field);
    const created = await createPolicy(tenant.id, orgDefault(OPT_IN));
    await expectError(await policy(tenant.id, created.id, { method: 'PATCH', body: JSON.stringify({ definition }) }), 400, 'invalid_policy');
    expect((await (await policy(tenant.id, created.id)).json()) as Policy).toMatchObject({ definition: [OPT_IN] });
  });

  it('an unknown policy type is refused with 400 unsupported_policy_type', async () => {
    const tenant = await createTenant(host);
    await expectError(
      await policies(tenant.id, { method: 'POST', body: JSON.stringify(orgDefault(OPT_IN, { type: 'TokenLifetimePolicy' })) }),
      400,
      'unsupported_policy_type',
    );
    expect(await listed(tenant.id)).toEqual([]);
  });

  it('requests that do not fit the policy shape are refused with 400 invalid_request', async () => {
    const tenant = await createTenant(host);
    const created = await createPolicy(tenant.id, orgDefault(OPT_IN));
    await expectError(await policies(tenant.id, { method: 'POST', body: JSON.stringify({ ...orgDefault(OPT_IN), definition: OPT_IN }) }), 400, 'invalid_request');
    await expectError(await policies(tenant.id, { method: 'POST', body: JSON.stringify({ ...orgDefault(OPT_IN), displayName: '' }) }), 400, 'invalid_request');
    await expectError(await policies(tenant.id, { method: 'POST', body: JSON.stringify({ ...orgDefault(OPT_IN), extra: 1 }) }), 400, 'invalid_request');
    await expectError(await policy(tenant.id, created.id, { method: 'PATCH', body: '{}' }), 400, 'invalid_request');
    await expectError(await policy(tenant.id, created.id, { method: 'PATCH', body: JSON.stringify({ type: 'Other' }) }), 400, 'invalid_request');
    await expectError(await policy(tenant.id, 'not-a-guid'), 400, 'invalid_request');
    await expectError(await policy(tenant.id, '00000000-0000-4000-8000-000000000000'), 404, 'policy_not_found');
    await expectError(
      await policy(tenant.id, '00000000-0000-4000-8000-000000000000', { method: 'PATCH', body: JSON.stringify({ definition: [OPT_IN] }) }),
      404,
      'policy_not_found',
    );
  });

  it("a tenant's policies are invisible to every other tenant", async () => {
    const owner = await createTenant(host);
    const other = await createTenant(host);
    const created = await createPolicy(owner.id, orgDefault(OPTED_OUT));
    expect(await listed(other.id)).toEqual([]);
    await expectError(await policy(other.id, created.id), 404, 'policy_not_found');
    await expectError(await policy(other.id, created.id, { method: 'PATCH', body: JSON.stringify({ definition: [OPT_IN] }) }), 404, 'policy_not_found');
    await expectError(await policy(other.id, created.id, { method: 'DELETE' }), 404, 'policy_not_found');
    expect(await emailOtpOf(owner.id)).toBe('disabled');
  });

  it('the policy routes need the operator credential and an existing tenant', async () => {
    const tenant = await createTenant(host);
    await expectUnauthorized(await host.api(`/manage/tenants/${tenant.id}/policies`));
    await expectUnauthorized(await host.api(`/manage/tenants/${tenant.id}/policies`, { headers: { 'x-functions-key': `${FUNCTION_KEY}x` } }));
    await expectError(await policies('unknown.example.test'), 404, 'tenant_not_found');
    await expectError(await policies('unknown.example.test', { method: 'POST', body: JSON.stringify(orgDefault(OPT_IN)) }), 404, 'tenant_not_found');
  });
});

describe('the emailOtp switch on the tenant', () => {
  it('disabled, enabled and default write the organisation-default policy, and GET shows it', async () => {
    const tenant = await createTenant(host);
    const disabled = await patchTenant(tenant.id, { emailOtp: 'disabled' });
    expect(disabled.status).toBe(200);
    expect(await disabled.json()).toMatchObject({ id: tenant.id, emailOtp: 'disabled' });
    const [written] = await listed(tenant.id);
    expect(written).toMatchObject({ type: 'B2BManagementPolicy', isOrganizationDefault: true, definition: [OPTED_OUT] });

    expect(await (await patchTenant(tenant.id, { emailOtp: 'enabled' })).json()).toMatchObject({ emailOtp: 'enabled' });
    const enabled = await listed(tenant.id);
    expect(enabled).toHaveLength(1);
    expect(enabled[0]).toMatchObject({ id: written!.id, definition: [OPT_IN] });
    expect(await emailOtpOf(tenant.id)).toBe('enabled');

    expect(await (await patchTenant(tenant.id, { emailOtp: 'default' })).json()).toMatchObject({ emailOtp: 'default' });
    expect(await listed(tenant.id)).toEqual([]);
  });

  it('the switch and the policy API are one source of truth', async () => {
    const tenant = await createTenant(host);
    const created = await createPolicy(tenant.id, orgDefault(OPT_IN));
    expect(await emailOtpOf(tenant.id)).toBe('enabled');
    await patchTenant(tenant.id, { emailOtp: 'disabled' });
    expect(await (await policy(tenant.id, created.id)).json()).toMatchObject({ id: created.id, definition: [OPTED_OUT] });
    await policy(tenant.id, created.id, { method: 'PATCH', body: JSON.stringify({ definition: [OPT_IN] }) });
    expect(await emailOtpOf(tenant.id)).toBe('enabled');
  });

  it('the switch keeps the other settings of the policy, and will not drop them for "default"', async () => {
    const tenant = await createTenant(host);
    const rich = JSON.stringify({
      B2BManagementPolicy: {
        InvitationsAllowedAndBlockedDomainsPolicy: { BlockedDomains: ['blocked.test'] },
        PreviewPolicy: { Features: ['OneTimePasscode', 'SomethingElse'] },
      },
    });
    const created = await createPolicy(tenant.id, orgDefault(rich));
    await patchTenant(tenant.id, { emailOtp: 'disabled' });
    const after = JSON.parse(((await (await policy(tenant.id, created.id)).json()) as Policy).definition[0]!);
    expect(after).toEqual({
      B2BManagementPolicy: {
        InvitationsAllowedAndBlockedDomainsPolicy: { BlockedDomains: ['blocked.test'] },
        PreviewPolicy: { Features: ['SomethingElse'] },
      },
    });

    const refused = await patchTenant(tenant.id, { emailOtp: 'default', displayName: 'Renamed' });
    await expectError(refused, 409, 'policy_conflict');
    const unchanged = (await (await host.manage(`/tenants/${tenant.id}`)).json()) as { displayName: string; emailOtp: string };
    expect(unchanged).toMatchObject({ displayName: 'Contoso', emailOtp: 'disabled' });
  });

  it('a PATCH changes only the settings it names', async () => {
    const tenant = await createTenant(host, { googleFederation: true });
    const patched = await patchTenant(tenant.id, { emailOtp: 'enabled' });
    expect(await patched.json()).toMatchObject({
      displayName: 'Contoso', domains: tenant.domains, allowedOrigins: tenant.allowedOrigins, redirectUris: tenant.redirectUris, googleFederation: true,
    });
    const renamed = await patchTenant(tenant.id, { displayName: 'Contoso Ltd' });
    expect(await renamed.json()).toMatchObject({ displayName: 'Contoso Ltd', domains: tenant.domains, googleFederation: true, emailOtp: 'enabled' });
  });

  it('an unknown emailOtp value or an empty PATCH is refused with 400 invalid_request', async () => {
    const tenant = await createTenant(host);
    await expectError(await patchTenant(tenant.id, { emailOtp: 'on' }), 400, 'invalid_request');
    await expectError(await patchTenant(tenant.id, {}), 400, 'invalid_request');
    expect(await listed(tenant.id)).toEqual([]);
  });
});

describe('opting out and back in', () => {
  it('disabling OTP stops OTP guests at once: send-code, verify-code and existing sessions answer 403 otp_disabled', async () => {
    const tenant = await createTenant(host);
    await inviteGuest(host, tenant.id, 'opt.out@example.test');
    const session = await signIn(host, tenant.id, 'opt.out@example.test');
    expect((await sendCode(host, tenant.id, 'opt.out@example.test')).status).toBe(202);
    const pending = await latestCode(host, 'opt.out@example.test');

    const created = await createPolicy(tenant.id, orgDefault(OPT_IN));
    await policy(tenant.id, created.id, { method: 'PATCH', body: JSON.stringify({ definition: [OPTED_OUT] }) });

    await expectError(await sessionCheck(host, tenant.id, session.token), 403, 'otp_disabled');
    await expectError(await sendCode(host, tenant.id, 'opt.out@example.test'), 403, 'otp_disabled');
    await expectError(await verifyCode(host, tenant.id, 'opt.out@example.test', pending), 403, 'otp_disabled');
  });

  it('re-enabling OTP restores OTP guests, existing sessions included', async () => {
    const tenant = await createTenant(host);
    await inviteGuest(host, tenant.id, 'back.in@example.test');
    const session = await signIn(host, tenant.id, 'back.in@example.test');
    await patchTenant(tenant.id, { emailOtp: 'disabled' });
    await expectError(await sessionCheck(host, tenant.id, session.token), 403, 'otp_disabled');

    await patchTenant(tenant.id, { emailOtp: 'enabled' });
    const checked = await sessionCheck(host, tenant.id, session.token);
    expect(checked.status).toBe(200);
    expect(await checked.json()).toMatchObject({ active: true, user: session.user });
    expect((await signIn(host, tenant.id, 'back.in@example.test')).user.id).toBe(session.user.id);
  });

  it('opting out leaves guests who have not redeemed yet without a way to sign in, until OTP is back', async () => {
    const tenant = await createTenant(host);
    await inviteGuest(host, tenant.id, 'not.yet@example.test');
    await patchTenant(tenant.id, { emailOtp: 'disabled' });
    await expectError(await sendCode(host, tenant.id, 'not.yet@example.test'), 403, 'no_sign_in_method');
    await patchTenant(tenant.id, { emailOtp: 'default' });
    expect((await sendCode(host, tenant.id, 'not.yet@example.test')).status).toBe(202);
  });
});
