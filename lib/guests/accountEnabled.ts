import type { TransactionAction } from '@azure/data-tables';
import { fail } from '../errors.js';
import { GUEST_ROW, toGuest, type Guest, type GuestEntity } from './guests.js';
import { commitInGroups, guestPartitionOf, readGuestRows, voidCode, withFreshRead } from './guestLifecycle.js';
import type { Runtime } from '../runtime.js';
import { resolveTenant } from '../tenants/tenants.js';

/*
 * Block sign-in, Microsoft Graph's `accountEnabled` on a user: a blocked guest keeps its
 * id, state and history, but sign-in treats its address as a stranger's (lib/admin/guestAccess.ts,
 * signInView): send-code answers the same 202 and mails nothing, verify-code refuses
 * every code as wrong. Blocking ends its sessions at once (their rows go, so
 * session-check answers session_revoked) in the same entity-group transaction that
 * changes the guest row under the ETag read: a sign-in committing in between changes
 * that ETag, so the block reads again and ends that session too.
 */

/** Whether a guest row may sign in: absent means enabled (rows written before blocking existed). */
export function isAccountEnabled(guest: Pick<GuestEntity, 'accountEnabled'>): boolean {
  return guest.accountEnabled !== false;
}

export interface AccountEnabledChange {
  before: Guest;
  after: Guest;
}

export async function setAccountEnabled(rt: Runtime, tenantRef: string, guestId: string, accountEnabled: boolean): Promise<AccountEnabledChange> {
  const { tenant } = await resolveTenant(rt, tenantRef);
  const partitionKey = await guestPartitionOf(rt, tenant.id, guestId);
  return withFreshRead(async () => {
    const { guest, otp, sessions } = await readGuestRows(rt, partitionKey);
    if (!guest || guest.guestId !== guestId || (guest as { deletedAt?: number }).deletedAt) fail('guest_not_found');
    const before = toGuest(guest);
    if (isAccountEnabled(guest) === accountEnabled) return { before, after: before };
    const changed: GuestEntity = { ...guest, accountEnabled };
    // Blocking: no code sent before it (codesValidFrom, which verify-code compares each
    // code's send time with), and no session issued before it, is usable afterwards; the
    // addresses and devices the guest signed in from, and its invitation link, are forgotten.
    const forget = { codesValidFrom: rt.now(), knownAddresses: '[]', knownDevices: '[]' };
    const actions: TransactionAction[] = [
      ['update', { partitionKey, rowKey: GUEST_ROW, accountEnabled, ...(accountEnabled ? {} : forget) }, 'Merge', { etag: guest.etag }],
    ];
    if (!accountEnabled) {
      actions.push(voidCode(rt, partitionKey, otp));
      actions.push(...sessions.map((session): TransactionAction => ['delete', { partitionKey, rowKey: session.rowKey! }]));
    }
    await commitInGroups(rt, actions);
    return { before, after: toGuest(changed) };
  });
}
