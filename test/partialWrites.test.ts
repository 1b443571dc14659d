import { RestError } from '@azure/data-tables';
import { describe, expect, it } from 'vitest';
import { getGuest, listGuests } from '../lib/guests/guestLifecycle.js';
import { inviteGuest } from '../lib/guests/invitations.js';
import { createTenant, getTenant } from '../lib/tenants/tenants.js';
import { REDIRECT_URI, testRuntime, uniquePrefix } from './helpers.js';

/** Makes the next matching call of a real table client fail the way an outage does, once. */
function failOnce<T extends object>(client: T, method: keyof T, when: (entity: { rowKey?: string }) => boolean = () => true): void {
  const original = (client[method] as (...args: unknown[]) => Promise<unknown>).bind(client);
  let failed = false;
  (client as Record<keyof T, unknown>)[method] = async (...args: unknown[]) => {
    if (!failed && when(args[0] as { rowKey?: string })) {
      failed = true;
      throw new RestError('simulated outage', { statusCode: 503 });
    }
    return original(...args);
  };
}

describe('a write cut short leaves nothing half-written', () => {
  it('a tenant whose row could not be written gives its domains back, so the retry can claim them', async () => {
    const rt = await testRuntime();
    const domain = `${uniquePrefix()}.retry.example`;
    failOnce(rt.tables.tenants, 'createEntity', (entity) => entity.rowKey === 'tenant');
    await expect(createTenant(rt, { displayName: 'Retry', domains: [domain], allowedOrigins: [], redirectUris: [], googleFederation: false })).rejects.toThrow('simulated outage');
    const tenant = await createTenant(rt, { displayName: 'Retry', domains: [domain], allowedOrigins: [], redirectUris: [], googleFederation: false });
    expect((await getTenant(rt, domain)).id).toBe(tenant.id);
  });

  it('an invitation whose guest row could not be written leaves no index row, and the retry gives one reachable guest', async () => {
    const rt = await testRuntime();
    const tenant = await createTenant(rt, { displayName: 'Retry', domains: [], allowedOrigins: [], redirectUris: [REDIRECT_URI], googleFederation: false });
    const invitation = { invitedUserEmailAddress: 'cut.short@example.com', inviteRedirectUrl: REDIRECT_URI, sendInvitationMessage: false, resetRedemption: false };
    failOnce(rt.tables.guests, 'createEntity');
    await expect(inviteGuest(rt, tenant.id, invitation)).rejects.toThrow('simulated outage');
    const indexRows = [];
    for await (const row of rt.tables.tenants.listEntities({ queryOptions: { filter: `PartitionKey eq '${tenant.id}' and RowKey ge 'guest_' and RowKey lt 'guest\`'` } })) indexRows.push(row);
    expect(indexRows).toEqual([]);

    const invited = await inviteGuest(rt, tenant.id, invitation);
    expect((await getGuest(rt, tenant.id, invited.invitedUser.id)).email).toBe('cut.short@example.com');
    expect((await listGuests(rt, tenant.id, { $top: 100 })).value.map((g) => g.id)).toEqual([invited.invitedUser.id]);
  });

  it('an invitation whose index row could not be written leaves no guest that cannot be reached by id', async () => {
    const rt = await testRuntime();
    const tenant = await createTenant(rt, { displayName: 'Retry', domains: [], allowedOrigins: [], redirectUris: [REDIRECT_URI], googleFederation: false });
    const invitation = { invitedUserEmailAddress: 'no.index@example.com', inviteRedirectUrl: REDIRECT_URI, sendInvitationMessage: false, resetRedemption: false };
    const isIndex = (entity: { rowKey?: string }) => entity.rowKey?.startsWith('guest_') ?? false;
    failOnce(rt.tables.tenants, 'createEntity', isIndex);
    failOnce(rt.tables.tenants, 'upsertEntity', isIndex);
    await expect(inviteGuest(rt, tenant.id, invitation)).rejects.toThrow('simulated outage');
    expect((await listGuests(rt, tenant.id, { $top: 100 })).value).toEqual([]);

    const invited = await inviteGuest(rt, tenant.id, invitation);
    expect((await getGuest(rt, tenant.id, invited.invitedUser.id)).email).toBe('no.index@example.com');
  });
});
