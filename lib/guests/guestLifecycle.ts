import type { TableEntityResult, TransactionAction } from '@azure/data-tables';
import { fail } from '../errors.js';
import { GUEST_ROW, OTP_ROW, SESSION_PREFIX, toGuest, type Guest, type GuestEntity, type OtpEntity, type SessionEntity } from './guests.js';
import { ensureGuestIndex, indexAfterChange, indexBeforeChange, isIndexPosition, readIndexedGuests, withIndexedChange, type GuestIndexFilter } from './guestIndex.js';
import type { Runtime } from '../runtime.js';
import type { ListGuestsQuery } from '../schemas.js';
import { HOUR_MS } from '../signin/limits.js';
import { escapeOData, isStatus } from '../storage/tables.js';
import { openSkipToken, sealSkipToken } from '../storage/skipToken.js';
import { resolveTenant } from '../tenants/tenants.js';

/*
 * The admin side of a guest: list, read, delete, reset redemption.
 *
 * Reading one guest goes through the index row `guest_<id>` in the tenant's partition
 * of the tenants table, which names the guest's partition (two point reads).
 *
 * Listing goes through the tenant's guest index (lib/guests/guestIndex.ts): one
 * key-range query reads the matching index rows, in address order, and a point read
 * per listed guest reads its current row. A scan of the tenant's guest partitions
 * would also read every row strangers' send-code calls wrote there.
 */
const INDEX_PREFIX = 'guest_';
const MAX_ACTIONS_PER_TRANSACTION = 100;

export interface GuestPage {
  value: Guest[];
  /** Opaque; present when there is more. */
  skipToken?: string;
}

interface GuestRows {
  guest?: TableEntityResult<GuestEntity>;
  otp?: TableEntityResult<OtpEntity>;
  sessions: TableEntityResult<SessionEntity>[];
}

/** The rows that make up a guest: the guest row, its code row and its sessions (the sign-in log stays until it expires). */
export async function readGuestRows(rt: Runtime, partitionKey: string): Promise<GuestRows> {
  const rows = rt.tables.guests.listEntities<GuestEntity & OtpEntity & SessionEntity>({
    queryOptions: {
      filter:
        `PartitionKey eq '${escapeOData(partitionKey)}' and (RowKey eq '${GUEST_ROW}' or RowKey eq '${OTP_ROW}'` +
        ` or (RowKey ge '${SESSION_PREFIX}' and RowKey lt 'session\`'))`,
    },
  });
  const result: GuestRows = { sessions: [] };
  for await (const row of rows) {
    if (row.rowKey === GUEST_ROW) result.guest = row as TableEntityResult<GuestEntity>;
    else if (row.rowKey === OTP_ROW) result.otp = row as TableEntityResult<OtpEntity>;
    else result.sessions.push(row as TableEntityResult<SessionEntity>);
  }
  return result;
}

/** Commits actions on one partition, at most 100 to an entity-group transaction, the first ones first. */
export async function commitInGroups(rt: Runtime, actions: TransactionAction[]): Promise<void> {
  for (let start = 0; start < actions.length; start += MAX_ACTIONS_PER_TRANSACTION) {
    await rt.tables.guests.submitTransaction(actions.slice(start, start + MAX_ACTIONS_PER_TRANSACTION));
  }
}

/**
 * Retries a read-then-conditional-write when another request changed the partition
 * in between (a sign-in, a sign-out): each attempt reads again.
 */
export async function withFreshRead<T>(attempt: () => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries += 1) {
    try {
      return await attempt();
    } catch (error) {
      if (tries >= 4 || !isStatus(error, 404, 409, 412)) throw error;
    }
  }
}

function sessionDeletes(partitionKey: string, sessions: TableEntityResult<SessionEntity>[]): TransactionAction[] {
  return sessions.map((session) => ['delete', { partitionKey, rowKey: session.rowKey! }]);
}

/**
 * Voids the code in the same transaction as the rest, conditional on the code row's
 * ETag (or on its absence). Deletes inside a transaction cannot carry an ETag, so this
 * is what makes a delete or reset safe against a sign-in in flight: verify-code
 * consumes the code with an ETag-conditional write, so either the sign-in commits
 * first (the ETag changes, this transaction fails and is retried after a fresh read
 * that sees the new session) or this commits first (and the sign-in finds no code).
 */
export function voidCode(rt: Runtime, partitionKey: string, otp: TableEntityResult<OtpEntity> | undefined): TransactionAction {
  if (otp) return ['update', { partitionKey, rowKey: OTP_ROW, codeHash: '', codeExpiresAt: 0 }, 'Merge', { etag: otp.etag }];
  const now = rt.now();
  const voided: OtpEntity = { codeHash: '', codeExpiresAt: 0, codeAttempts: 0, sendTimes: '[]', failTimes: '[]', expiresAt: new Date(now + HOUR_MS) };
  return ['create', { partitionKey, rowKey: OTP_ROW, ...voided }];
}

export async function guestPartitionOf(rt: Runtime, tenantId: string, guestId: string): Promise<string> {
  try {
    const index = await rt.tables.tenants.getEntity<{ guestPartition: string }>(tenantId, INDEX_PREFIX + guestId);
    return index.guestPartition;
  } catch (error) {
    if (isStatus(error, 404)) fail('guest_not_found');
    throw error;
  }
}

async function deleteIndex(rt: Runtime, tenantId: string, guestId: string): Promise<void> {
  await rt.tables.tenants.deleteEntity(tenantId, INDEX_PREFIX + guestId).catch((error) => {
    if (!isStatus(error, 404)) throw error;
  });
}

export async function getGuest(rt: Runtime, tenantRef: string, guestId: string): Promise<Guest> {
  const { tenant } = await resolveTenant(rt, tenantRef);
  const partitionKey = await guestPartitionOf(rt, tenant.id, guestId);
  let guest: GuestEntity;
  try {
    guest = await rt.tables.guests.getEntity<GuestEntity>(partitionKey, GUEST_ROW);
  } catch (error) {
    if (isStatus(error, 404)) fail('guest_not_found');
    throw error;
  }
  if (guest.guestId !== guestId || (guest as { deletedAt?: number }).deletedAt) fail('guest_not_found');
  return toGuest(guest);
}

/**
 * Deletes a guest: the guest row and its sessions go in one entity-group transaction
 * that voids the code (see voidCode), then the code row and the index row. Old tokens then
 * fail session-check with session_revoked. A delete that was cut short finishes when
 * repeated.
 */
export async function deleteGuest(rt: Runtime, tenantRef: string, guestId: string): Promise<void> {
  const { tenant } = await resolveTenant(rt, tenantRef);
  const partitionKey = await guestPartitionOf(rt, tenant.id, guestId);
  const indexChange = await withFreshRead(async () => {
    const { guest, otp, sessions } = await readGuestRows(rt, partitionKey);
    if (guest && guest.guestId !== guestId) {
      // The address was deleted and invited again under a new id; this index row is left over.
      await deleteIndex(rt, tenant.id, guestId);
      fail('guest_not_found');
    }
    const actions: TransactionAction[] = [voidCode(rt, partitionKey, otp)];
    // The guest row is marked deleted under its ETag (a delete in a transaction cannot
    // carry one): a sign-in that commits between this read and this write changes that
    // ETag, so this fails and reads again, seeing the new session; a sign-in after it
    // finds no guest (readGuestPartition skips a marked row).
    if (guest) actions.push(['update', { partitionKey, rowKey: GUEST_ROW, deletedAt: rt.now() }, 'Merge', { etag: guest.etag }]);
    const change = await indexBeforeChange(rt, tenant.id, guest, undefined);
    await commitInGroups(rt, [...actions, ...sessionDeletes(partitionKey, sessions)]);
    return change;
  });
  // The marked guest row and the voided code row go last; nothing can sign in with them any more.
  for (const rowKey of [GUEST_ROW, OTP_ROW]) {
    await rt.tables.guests.deleteEntity(partitionKey, rowKey).catch((error) => {
      if (!isStatus(error, 404)) throw error;
    });
  }
  await deleteIndex(rt, tenant.id, guestId);
  // Its listing rows last: until then a listing reads them and skips the guest row marked deleted.
  await indexAfterChange(rt, indexChange);
}

/**
 * resetRedemption: the guest keeps its id but is PendingAcceptance again, without a
 * source or redeemedAt, so its next sign-in resolves the method anew; its code is
 * voided (the send and failure history stays, so rate limits still hold) and its
 * sessions are revoked, in one transaction that voids the code (see voidCode).
 */
export async function resetRedemption(rt: Runtime, partitionKey: string): Promise<GuestEntity> {
  return withFreshRead(async () => {
    const { guest, otp, sessions } = await readGuestRows(rt, partitionKey);
    if (!guest) fail('guest_not_found');
    const reset: GuestEntity = {
      guestId: guest.guestId,
      tenantId: guest.tenantId,
      email: guest.email,
      displayName: guest.displayName,
      state: 'PendingAcceptance',
      invitedAt: guest.invitedAt,
      inviteRedirectUrl: guest.inviteRedirectUrl,
      ...(guest.lastSignInAt ? { lastSignInAt: guest.lastSignInAt } : {}),
      // A reset is no unblock: only PATCH accountEnabled true lets a blocked guest sign in again.
      ...(guest.accountEnabled === false ? { accountEnabled: false } : {}),
      // Codes of attempts started before the reset are void (verify-code compares their send time).
      codesValidFrom: rt.now(),
    };
    const actions: TransactionAction[] = [
      voidCode(rt, partitionKey, otp),
      ['update', { partitionKey, rowKey: GUEST_ROW, ...reset }, 'Replace', { etag: guest.etag }],
    ];
    await withIndexedChange(rt, guest.tenantId, guest, reset, () => commitInGroups(rt, [...actions, ...sessionDeletes(partitionKey, sessions)]));
    return reset;
  });
}


const LISTED_FIELDS = ['guestId', 'email', 'displayName', 'source', 'state', 'invitedAt', 'redeemedAt', 'lastSignInAt', 'accountEnabled'];

/**
 * Lists a tenant's guests, filtered by source, state and address prefix, in address
 * order, at most $top (≤ 100) a page, through the guest index (lib/guests/guestIndex.ts):
 * what a page reads is its index rows and its guests' rows, however many rows strangers
 * wrote into the tenant's guest partitions. The $skiptoken seals the last index key read.
 */
export async function listGuests(rt: Runtime, tenantRef: string, query: ListGuestsQuery): Promise<GuestPage> {
  const { tenant } = await resolveTenant(rt, tenantRef);
  const filter: GuestIndexFilter = { state: query.state, source: query.source, search: query.search };
  const after = query.$skiptoken ? openSkipToken(query.$skiptoken, tenant.id, isIndexPosition(filter)) : undefined;
  await ensureGuestIndex(rt, tenant.id);
  const page = await readIndexedGuests(rt, tenant.id, filter, query.$top, after, LISTED_FIELDS);
  return { value: page.guests.map(toGuest), ...(page.after ? { skipToken: sealSkipToken(tenant.id, page.after) } : {}) };
}
