import { describe, expect, it } from 'vitest';
import { listAudit, recordAudit } from '../lib/admin/audit.js';
import { OPERATOR } from '../lib/admin/credentials.js';
import { cleanupExpired } from '../lib/storage/cleanup.js';
import { previewLifecycle, runLifecycle, runLifecycleForAllTenants } from '../lib/admin/lifecycle.js';
import { sendCode } from '../lib/signin/sendCode.js';
import { verifyCode } from '../lib/signin/verifyCode.js';
import { GuestpassError } from '../lib/errors.js';
import { getGuest } from '../lib/guests/guestLifecycle.js';
import { inviteGuest, inviteGuestWithOutcome } from '../lib/guests/invitations.js';
import { listOutbox } from '../lib/mail/outbox.js';
import { createTenantBody, invitationBody } from '../lib/schemas.js';
import { checkSession } from '../lib/signin/sessions.js';
import { createTenant, getTenant, updateTenant } from '../lib/tenants/tenants.js';
import { REDIRECT_URI, sendQueuedMails, testRuntime } from './helpers.js';

const T0 = Date.parse('2026-03-01T12:00:00Z');
const DAY = 86_400_000;
const IP = '203.0.113.9';

async function clocked() {
  const clock = { now: T0 };
  const rt = await testRuntime({ RESEND_COOLDOWN_SECONDS: '0' }, { now: () => clock.now });
  return { rt, clock };
}

async function errorCode(work: Promise<unknown>): Promise<string> {
  try {
    await work;
  } catch (error) {
    if (error instanceof GuestpassError) return error.code;
    throw error;
  }
  return 'no error';
}

describe('guest lifecycle (cleanup timer, injected clock)', () => {
  it('is off by default: nothing is planned however old the guests', async () => {
    const { rt, clock } = await clocked();
    const tenant = await createTenant(rt, createTenantBody.parse({ displayName: 'Contoso', redirectUris: [REDIRECT_URI] }));
    await inviteGuest(rt, tenant.id, invitationBody.parse({ invitedUserEmailAddress: 'old@fabrikam.example', inviteRedirectUrl: REDIRECT_URI }));
    clock.now = T0 + 3650 * DAY;
    expect(tenant.lifecycle).toEqual({ pendingInvitationDays: null, inactiveDisableDays: null, inactiveDeleteAfterDays: null });
    expect(await previewLifecycle(rt, tenant)).toEqual([]);
  });

  it('removes pending invitations after N days, disables inactive guests (send-code and session-check refuse them), then deletes them after the grace period; every step audited', async () => {
    const { rt, clock } = await clocked();
    const tenant = await createTenant(
      rt,
      createTenantBody.parse({
        displayName: 'Contoso',
        redirectUris: [REDIRECT_URI],
        lifecycle: { pendingInvitationDays: 30, inactiveDisableDays: 90, inactiveDeleteAfterDays: 14 },
      }),
    );
    const invite = (email: string) => inviteGuest(rt, tenant.id, invitationBody.parse({ invitedUserEmailAddress: email, inviteRedirectUrl: REDIRECT_URI }));
    const signIn = async (email: string) => {
      await sendCode(rt, { tenant: tenant.id, email, clientIp: IP });
      await sendQueuedMails(rt);
      const [mail] = await listOutbox(rt.tables, { to: email, limit: 1 }, clock.now);
      return verifyCode(rt, { tenant: tenant.id, email, code: /\b(\d{8})\b/.exec(mail!.text)![1]!, clientIp: IP });
    };

    const pending = await invite('pending@fabrikam.example');
    const idle = await invite('idle@fabrikam.example');
    const active = await invite('active@fabrikam.example');
    const idleSession = await signIn('idle@fabrikam.example');
    await signIn('active@fabrikam.example');

    clock.now = T0 + 29 * DAY;
    expect(await previewLifecycle(rt, tenant)).toEqual([]);

    clock.now = T0 + 31 * DAY;
    expect((await previewLifecycle(rt, tenant)).map((a) => [a.email, a.action])).toEqual([['pending@fabrikam.example', 'delete_pending']]);
    // The timer's part does it for every tenant with a lifecycle.
    const swept = await runLifecycleForAllTenants(rt);
    expect(swept.find((s) => s.tenantId === tenant.id)!.actions.map((a) => a.guestId)).toEqual([pending.invitedUser.id]);
    expect(await errorCode(getGuest(rt, tenant.id, pending.invitedUser.id))).toBe('guest_not_found');

    // Day 89: the active guest signs in again; day 91 the idle one has had 91 days without a sign-in.
    clock.now = T0 + 89 * DAY;
    await signIn('active@fabrikam.example');
    clock.now = T0 + 91 * DAY;
    const planned = await previewLifecycle(rt, tenant);
    expect(planned).toEqual([{ guestId: idle.invitedUser.id, email: 'idle@fabrikam.example', action: 'disable', reason: expect.stringMatching(/no sign-in since .* \(more than 90 days\)/) }]);
    expect(await runLifecycle(rt, tenant)).toEqual(planned);
    expect((await getGuest(rt, tenant.id, idle.invitedUser.id)).state).toBe('Disabled');
    // send-code answers the disabled guest as any address; the code mailed to it tells it (DESIGN §4, no oracle).
    expect(await errorCode(signIn('idle@fabrikam.example'))).toBe('guest_disabled');
    expect((await getGuest(rt, tenant.id, active.invitedUser.id)).state).toBe('Accepted');
    // A session that outlived its expiry check is refused as disabled even before (sessions last 24 h, so move the clock back to pin the marker).
    clock.now = T0 + 1;
    expect(await errorCode(checkSession(rt, tenant.id, idleSession.token))).toBe('guest_disabled');

    clock.now = T0 + (91 + 13) * DAY;
    expect(await previewLifecycle(rt, tenant)).toEqual([]);
    clock.now = T0 + (91 + 15) * DAY;
    const deleted = await runLifecycle(rt, tenant);
    expect(deleted.map((a) => [a.email, a.action])).toEqual([['idle@fabrikam.example', 'delete']]);
    expect(await errorCode(getGuest(rt, tenant.id, idle.invitedUser.id))).toBe('guest_not_found');

    const audit = await listAudit(rt, tenant.id, { $top: 50 });
    expect(audit.value.map((e) => [e.action, e.target.id, e.actor.name])).toEqual([
      ['lifecycle.delete', idle.invitedUser.id, 'lifecycle timer'],
      ['lifecycle.disable', idle.invitedUser.id, 'lifecycle timer'],
      ['lifecycle.deletePending', pending.invitedUser.id, 'lifecycle timer'],
    ]);
  });

  it('a disabled guest comes back when reinvited with resetRedemption; turning the settings off stops the lifecycle', async () => {
    const { rt, clock } = await clocked();
    const tenant = await createTenant(rt, createTenantBody.parse({ displayName: 'Contoso', redirectUris: [REDIRECT_URI], lifecycle: { inactiveDisableDays: 10 } }));
    const body = invitationBody.parse({ invitedUserEmailAddress: 'back@fabrikam.example', inviteRedirectUrl: REDIRECT_URI });
    const guest = await inviteGuest(rt, tenant.id, body);
    await sendCode(rt, { tenant: tenant.id, email: 'back@fabrikam.example', clientIp: IP });
    await sendQueuedMails(rt);
    const [mail] = await listOutbox(rt.tables, { to: 'back@fabrikam.example', limit: 1 }, clock.now);
    await verifyCode(rt, { tenant: tenant.id, email: 'back@fabrikam.example', code: /\b(\d{8})\b/.exec(mail!.text)![1]!, clientIp: IP });
    clock.now = T0 + 11 * DAY;
    await runLifecycle(rt, await getTenant(rt, tenant.id));
    expect((await getGuest(rt, tenant.id, guest.invitedUser.id)).state).toBe('Disabled');

    const { outcome } = await inviteGuestWithOutcome(rt, tenant.id, { ...body, resetRedemption: true });
    expect(outcome).toBe('reset');
    expect((await getGuest(rt, tenant.id, guest.invitedUser.id)).state).toBe('PendingAcceptance');
    expect(await errorCode(sendCode(rt, { tenant: tenant.id, email: 'back@fabrikam.example', clientIp: IP }))).toBe('no error');

    await updateTenant(rt, tenant.id, { lifecycle: { inactiveDisableDays: null } });
    clock.now = T0 + 400 * DAY;
    expect(await previewLifecycle(rt, await getTenant(rt, tenant.id))).toEqual([]);
  });

  it('audit rows are kept AUDIT_LOG_RETENTION_DAYS, hidden after it, and the cleanup timer deletes them', async () => {
    const clock = { now: T0 };
    const rt = await testRuntime({ AUDIT_LOG_RETENTION_DAYS: '7' }, { now: () => clock.now });
    const tenantId = '6f1c0c4e-1111-4222-8333-944455556666';
    // Retention walks the tenants the tenants table knows.
    await rt.tables.tenants.createEntity({ partitionKey: tenantId, rowKey: 'tenant', displayName: 'Audited' });
    await recordAudit(rt, tenantId, OPERATOR, { action: 'tenant.update', target: { type: 'tenant', id: tenantId }, before: { a: 1 }, after: { a: 2 } });
    clock.now = T0 + 6 * DAY;
    await recordAudit(rt, tenantId, OPERATOR, { action: 'policy.create', target: { type: 'policy', id: 'p' } });
    expect((await listAudit(rt, tenantId, { $top: 10 })).value.map((e) => e.action)).toEqual(['policy.create', 'tenant.update']);

    clock.now = T0 + 7 * DAY + 1;
    expect((await listAudit(rt, tenantId, { $top: 10 })).value.map((e) => e.action)).toEqual(['policy.create']);
    const report = await cleanupExpired(rt);
    expect(report.auditDeleted).toBe(1);
    const left: string[] = [];
    for await (const row of rt.tables.audit.listEntities<{ action: string }>()) left.push(row.action);
    expect(left).toEqual(['policy.create']);
  });
});
