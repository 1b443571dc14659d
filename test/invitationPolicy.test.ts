import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTenant, expectError, inviteGuest, outbox, postJson, REDIRECT_URI, sendCode, sessionCheck, signIn, startHost, stopAllHosts, type TestHost,
  answerToMailedCode,
} from './helpers.js';

let host: TestHost;
beforeAll(async () => {
  host = await startHost({ RESEND_COOLDOWN_SECONDS: '0', INVITATION_RESENDS_PER_GUEST_PER_DAY: '3' });
});
afterAll(() => stopAllHosts());

function definition(management: Record<string, unknown>): string[] {
  return [JSON.stringify({ B2BManagementPolicy: management })];
}

async function orgDefault(tenantId: string, management: Record<string, unknown>): Promise<{ id: string }> {
  const response = await host.manage(`/tenants/${tenantId}/policies`, postJson({
    type: 'B2BManagementPolicy', displayName: 'B2BManagementPolicy', isOrganizationDefault: true, definition: definition(management),
  }));
  if (response.status !== 201) throw new Error(`policy: ${response.status} ${await response.text()}`);
  return (await response.json()) as { id: string };
}

const invite = (tenantId: string, email: string, extra: Record<string, unknown> = {}) =>
  host.manage(`/tenants/${tenantId}/invitations`, postJson({ invitedUserEmailAddress: email, inviteRedirectUrl: REDIRECT_URI, ...extra }));

describe("invitation domain allow/deny lists (Entra's InvitationsAllowedAndBlockedDomainsPolicy)", () => {
  it('BlockedDomains refuses invitations to those domains (and *. subdomains) with 400 invitation_domain_blocked', async () => {
    const tenant = await createTenant(host);
    await orgDefault(tenant.id, {
      InvitationsAllowedAndBlockedDomainsPolicy: { BlockedDomains: ['fabrikam.example', '*.tailspin.example'] },
      PreviewPolicy: { Features: ['OneTimePasscode'] },
    });
    const blocked = await expectError(await invite(tenant.id, 'ada@fabrikam.example'), 400, 'invitation_domain_blocked');
    expect(blocked.message).toContain('fabrikam.example');
    await expectError(await invite(tenant.id, 'bob@eu.tailspin.example'), 400, 'invitation_domain_blocked');
    expect((await invite(tenant.id, 'carol@tailspin.example')).status).toBe(201);
    expect((await invite(tenant.id, 'dave@contoso.example')).status).toBe(201);
  });

  it('AllowedDomains admits only those domains', async () => {
    const tenant = await createTenant(host);
    await orgDefault(tenant.id, { InvitationsAllowedAndBlockedDomainsPolicy: { AllowedDomains: ['partner.example'] } });
    expect((await invite(tenant.id, 'ada@partner.example')).status).toBe(201);
    await expectError(await invite(tenant.id, 'bob@elsewhere.example'), 400, 'invitation_domain_blocked');
  });

  it('a policy with both lists, or a list that is not of domains, is refused as Entra refuses it', async () => {
    const tenant = await createTenant(host);
    const both = await host.manage(`/tenants/${tenant.id}/policies`, postJson({
      type: 'B2BManagementPolicy', displayName: 'x', isOrganizationDefault: true,
      definition: definition({ InvitationsAllowedAndBlockedDomainsPolicy: { AllowedDomains: ['a.example'], BlockedDomains: ['b.example'] } }),
    }));
    await expectError(both, 400, 'invalid_policy');
    const junk = await host.manage(`/tenants/${tenant.id}/policies`, postJson({
      type: 'B2BManagementPolicy', displayName: 'x', isOrganizationDefault: true,
      definition: definition({ InvitationsAllowedAndBlockedDomainsPolicy: { BlockedDomains: ['not a domain'] } }),
    }));
    await expectError(junk, 400, 'invalid_policy');
  });

  it('a newly blocked domain stops a pending guest at first redemption, never a guest who already redeemed', async () => {
    const tenant = await createTenant(host);
    const policy = await orgDefault(tenant.id, { PreviewPolicy: { Features: ['OneTimePasscode'] } });
    await inviteGuest(host, tenant.id, 'redeemed@fabrikam.example');
    await inviteGuest(host, tenant.id, 'pending@fabrikam.example');
    const session = await signIn(host, tenant.id, 'redeemed@fabrikam.example');

    const changed = await host.manage(`/tenants/${tenant.id}/policies/${policy.id}`, {
      method: 'PATCH',
      body: JSON.stringify({ definition: definition({ PreviewPolicy: { Features: ['OneTimePasscode'] }, InvitationsAllowedAndBlockedDomainsPolicy: { BlockedDomains: ['fabrikam.example'] } }) }),
    });
    expect(changed.status).toBe(200);

    await expectError(await answerToMailedCode(host, tenant.id, 'pending@fabrikam.example'), 403, 'domain_blocked');
    // Its code went to its mailbox alone: only the guest learns the domain is refused, and it cannot sign in.
    expect((await outbox(host, 'pending@fabrikam.example')).map((mail) => mail.kind)).toEqual(['code']);
    expect((await sessionCheck(host, tenant.id, session.token)).status).toBe(200);
    expect((await sendCode(host, tenant.id, 'redeemed@fabrikam.example')).status).toBe(202);
    // The guest's refusal is in its sign-in log once (issue 23: at most once per reason per hour, lib/signin/refusals.ts).
    const log = (await (await host.manage(`/tenants/${tenant.id}/sign-in-logs?outcome=domain_blocked`)).json()) as { value: { userPrincipalName: string }[] };
    expect(log.value.map((entry) => entry.userPrincipalName)).toEqual(['pending@fabrikam.example']);
  });

  it('switching OTP off and on (emailOtp) keeps the allow/deny list intact', async () => {
    const tenant = await createTenant(host);
    await orgDefault(tenant.id, { InvitationsAllowedAndBlockedDomainsPolicy: { BlockedDomains: ['fabrikam.example'] }, PreviewPolicy: { Features: ['OneTimePasscode'] } });
    for (const emailOtp of ['disabled', 'enabled']) {
      const switched = await host.manage(`/tenants/${tenant.id}`, { method: 'PATCH', body: JSON.stringify({ emailOtp }) });
      expect(((await switched.json()) as { emailOtp: string }).emailOtp).toBe(emailOtp);
      const [policy] = ((await (await host.manage(`/tenants/${tenant.id}/policies`)).json()) as { value: { definition: string[] }[] }).value;
      expect(JSON.parse(policy!.definition[0]!).B2BManagementPolicy.InvitationsAllowedAndBlockedDomainsPolicy).toEqual({ BlockedDomains: ['fabrikam.example'] });
      await expectError(await invite(tenant.id, 'ada@fabrikam.example'), 400, 'invitation_domain_blocked');
    }
  });
});

describe('resending an invitation (Entra reinvite)', () => {
  it('inviting a pending guest again mails the invitation again without a second guest, up to the per-guest limit', async () => {
    const tenant = await createTenant(host);
    const first = await inviteGuest(host, tenant.id, 'again@fabrikam.example', { sendInvitationMessage: true });
    for (let i = 0; i < 2; i += 1) {
      const again = await inviteGuest(host, tenant.id, 'again@fabrikam.example', { sendInvitationMessage: true });
      expect(again.invitedUser.id).toBe(first.invitedUser.id);
    }
    expect((await outbox(host, 'again@fabrikam.example')).filter((mail) => mail.kind === 'invitation')).toHaveLength(3);
    const limited = await invite(tenant.id, 'again@fabrikam.example', { sendInvitationMessage: true });
    await expectError(limited.clone(), 429, 'rate_limited');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(80_000);
    // Without a mail the invitation still answers with the same guest.
    expect((await inviteGuest(host, tenant.id, 'again@fabrikam.example')).invitedUser.id).toBe(first.invitedUser.id);
    const users = (await (await host.manage(`/tenants/${tenant.id}/users?search=again@`)).json()) as { value: { id: string }[] };
    expect(users.value.map((u) => u.id)).toEqual([first.invitedUser.id]);
    const audit = (await (await host.manage(`/tenants/${tenant.id}/audit`)).json()) as { value: { action: string }[] };
    expect(audit.value.filter((e) => e.action.startsWith('guest.')).map((e) => e.action)).toEqual(['guest.reinvite', 'guest.reinvite', 'guest.reinvite', 'guest.invite']);
  });
});

describe('audit log', () => {
  it('records each management change with the credential name, before/after for settings and policies, newest first, paged and from a time', async () => {
    const tenant = await createTenant(host);
    const startedAt = new Date().toISOString();
    await host.manage(`/tenants/${tenant.id}`, { method: 'PATCH', body: JSON.stringify({ displayName: 'Contoso Ltd' }) });
    const policy = await orgDefault(tenant.id, { PreviewPolicy: { Features: [] } });
    await host.manage(`/tenants/${tenant.id}/policies/${policy.id}`, { method: 'DELETE' });

    const all = (await (await host.manage(`/tenants/${tenant.id}/audit`)).json()) as { value: { action: string; actor: unknown; before?: any; after?: any }[] };
    expect(all.value.map((e) => e.action)).toEqual(['policy.delete', 'policy.create', 'tenant.update', 'tenant.create']);
    expect(all.value.every((e) => JSON.stringify(e.actor) === JSON.stringify({ kind: 'operator', name: 'operator' }))).toBe(true);
    const update = all.value[2]!;
    expect([update.before.displayName, update.after.displayName]).toEqual(['Contoso', 'Contoso Ltd']);
    expect(all.value[0]!.before.id).toBe(policy.id);

    const first = (await (await host.manage(`/tenants/${tenant.id}/audit?$top=3`)).json()) as { value: { action: string }[]; nextLink: string };
    expect(first.value).toHaveLength(3);
    const rest = (await (await fetch(first.nextLink, { headers: { 'x-functions-key': host.settings.LOCAL_FUNCTION_KEY! } })).json()) as { value: { action: string }[]; nextLink?: string };
    expect(rest.value.map((e) => e.action)).toEqual(['tenant.create']);
    expect(rest.nextLink).toBeUndefined();

    const since = (await (await host.manage(`/tenants/${tenant.id}/audit?since=${encodeURIComponent(startedAt)}`)).json()) as { value: { action: string }[] };
    expect(since.value.map((e) => e.action)).toEqual(['policy.delete', 'policy.create', 'tenant.update']);
    // Another tenant's token does not open this log.
    const other = await createTenant(host);
    const stolen = new URL(first.nextLink);
    await expectError(await host.manage(`/tenants/${other.id}/audit?${stolen.searchParams.toString()}`), 400, 'invalid_request');
  });
});
