import type { TableEntityResult, TransactionAction } from '@azure/data-tables';
import { GUEST_ROW, toGuest, type GuestEntity } from '../guests/guests.js';
import { commitInGroups, deleteGuest, readGuestRows, voidCode, withFreshRead } from '../guests/guestLifecycle.js';
import { allIndexedGuests, withIndexedChange } from '../guests/guestIndex.js';
import type { Runtime } from '../runtime.js';
import { isStatus } from '../storage/tables.js';
import { toTenant, type Tenant, type TenantEntity } from '../tenants/tenants.js';
import { LIFECYCLE_ACTOR, recordAudit } from './audit.js';
import type { Actor } from './credentials.js';

/*
 * Guest lifecycle, Entra's "lifecycle workflows" for guests, per tenant and off by default
 * (Tenant.lifecycle, all null): invitations still pending after pendingInvitationDays are
 * removed; guests with no sign-in for inactiveDisableDays are disabled (send-code and
 * session-check answer 403 guest_disabled; reinviting with resetRedemption gives them
 * back); disabled guests are deleted inactiveDeleteAfterDays later. The cleanup timer
 * runs it for every tenant; preview shows what the next run would do.
 */
export type LifecycleActionKind = 'delete_pending' | 'disable' | 'delete';

export interface LifecycleAction {
  guestId: string;
  email: string;
  action: LifecycleActionKind;
  reason: string;
}

const DAY_MS = 86_400_000;
const LISTED = ['guestId', 'email', 'state', 'invitedAt', 'redeemedAt', 'lastSignInAt', 'disabledAt'];

function olderThan(iso: string | undefined, days: number, now: number): boolean {
  return iso !== undefined && Date.parse(iso) <= now - days * DAY_MS;
}

/** What the lifecycle does to one guest now, if anything. */
function actionFor(tenant: Tenant, guest: GuestEntity, now: number): Omit<LifecycleAction, 'guestId' | 'email'> | undefined {
  const { pendingInvitationDays, inactiveDisableDays, inactiveDeleteAfterDays } = tenant.lifecycle;
  if (guest.state === 'PendingAcceptance' && pendingInvitationDays !== null && olderThan(guest.invitedAt, pendingInvitationDays, now)) {
    return { action: 'delete_pending', reason: `invitation pending since ${guest.invitedAt} (more than ${pendingInvitationDays} days)` };
  }
  if (guest.state === 'Accepted' && inactiveDisableDays !== null) {
    const lastActive = guest.lastSignInAt ?? guest.redeemedAt ?? guest.invitedAt;
    if (olderThan(lastActive, inactiveDisableDays, now)) {
      return { action: 'disable', reason: `no sign-in since ${lastActive} (more than ${inactiveDisableDays} days)` };
    }
  }
  if (guest.state === 'Disabled' && inactiveDeleteAfterDays !== null && olderThan(guest.disabledAt, inactiveDeleteAfterDays, now)) {
    return { action: 'delete', reason: `disabled since ${guest.disabledAt} (more than ${inactiveDeleteAfterDays} days)` };
  }
  return undefined;
}

function lifecycleOn(tenant: Tenant): boolean {
  return Object.values(tenant.lifecycle).some((value) => value !== null);
}

/** The tenant's guests the lifecycle would act on now, with their partitions. */
async function plan(rt: Runtime, tenant: Tenant): Promise<(LifecycleAction & { partitionKey: string })[]> {
  if (!lifecycleOn(tenant)) return [];
  const now = rt.now();
  const planned: (LifecycleAction & { partitionKey: string })[] = [];
  // Through the guest index's `all_` rows: the tenant's guests, not what strangers wrote beside them.
  for await (const row of allIndexedGuests(rt, tenant.id, LISTED)) {
    const action = actionFor(tenant, row, now);
    if (action) planned.push({ guestId: row.guestId, email: row.email, partitionKey: row.partitionKey, ...action });
  }
  return planned;
}

export async function previewLifecycle(rt: Runtime, tenant: Tenant): Promise<LifecycleAction[]> {
  return (await plan(rt, tenant)).map(({ partitionKey: _partition, ...action }) => action);
}

/**
 * Disables a guest that is still Accepted and still inactive: state Disabled, its code
 * voided and its sessions marked disabled, in one transaction under the guest row's ETag.
 * Returns false when the guest changed meanwhile (signed in, deleted) and was left alone.
 */
async function disableGuest(rt: Runtime, tenant: Tenant, partitionKey: string, guestId: string): Promise<boolean> {
  return withFreshRead(async () => {
    const { guest, otp, sessions } = await readGuestRows(rt, partitionKey);
    if (!guest || guest.guestId !== guestId || actionFor(tenant, guest, rt.now())?.action !== 'disable') return false;
    const actions: TransactionAction[] = [
      voidCode(rt, partitionKey, otp),
      ['update', { partitionKey, rowKey: GUEST_ROW, state: 'Disabled', disabledAt: new Date(rt.now()).toISOString() }, 'Merge', { etag: guest.etag }],
      ...sessions.map((session): TransactionAction => ['update', { partitionKey, rowKey: session.rowKey!, disabled: true }, 'Merge']),
    ];
    await withIndexedChange(rt, tenant.id, guest, { ...guest, state: 'Disabled' }, () => commitInGroups(rt, actions));
    return true;
  });
}

/** Applies the lifecycle to one tenant; every action is audited. Returns what was done. */
export async function runLifecycle(rt: Runtime, tenant: Tenant, actor: Actor | typeof LIFECYCLE_ACTOR = LIFECYCLE_ACTOR): Promise<LifecycleAction[]> {
  const done: LifecycleAction[] = [];
  for (const { partitionKey, ...action } of await plan(rt, tenant)) {
    let before: ReturnType<typeof toGuest> | undefined;
    try {
      const row: TableEntityResult<GuestEntity> = await rt.tables.guests.getEntity<GuestEntity>(partitionKey, GUEST_ROW);
      before = toGuest(row);
      if (action.action === 'disable') {
        if (!(await disableGuest(rt, tenant, partitionKey, action.guestId))) continue;
      } else {
        // Checked again just before: a guest who signed in or was reinvited meanwhile stays.
        if (actionFor(tenant, row, rt.now())?.action !== action.action) continue;
        await deleteGuest(rt, tenant.id, action.guestId);
      }
    } catch (error) {
      // Gone meanwhile (deleted by an admin or another run): nothing to do.
      if (isStatus(error, 404) || (error as { code?: string }).code === 'guest_not_found') continue;
      throw error;
    }
    await recordAudit(rt, tenant.id, actor, {
      action: `lifecycle.${action.action === 'delete_pending' ? 'deletePending' : action.action}`,
      target: { type: 'guest', id: action.guestId },
      before,
      after: { reason: action.reason },
    });
    done.push(action);
  }
  return done;
}

/** The cleanup timer's part: every tenant with a lifecycle setting. */
export async function runLifecycleForAllTenants(rt: Runtime): Promise<{ tenantId: string; actions: LifecycleAction[] }[]> {
  const results: { tenantId: string; actions: LifecycleAction[] }[] = [];
  const rows = rt.tables.tenants.listEntities<TenantEntity>({ queryOptions: { filter: `RowKey eq 'tenant' and lifecycle ne ''` } });
  for await (const row of rows) {
    const tenant = toTenant(row.partitionKey!, row);
    if (!lifecycleOn(tenant)) continue;
    const actions = await runLifecycle(rt, tenant);
    if (actions.length > 0) results.push({ tenantId: tenant.id, actions });
  }
  return results;
}
