import { fail } from '../errors.js';
import { GUEST_ROW, LOG_PREFIX, type GuestEntity, type SignInEvent } from '../guests/guests.js';
import type { TableClient } from '@azure/data-tables';
import { MAIL_ROW, mailTableOf, toDelivery, type Delivery, type MailRecord } from '../mail/delivery.js';
import type { Runtime } from '../runtime.js';
import type { SignInLogsQuery } from '../schemas.js';
import { openSkipToken, sealSkipToken } from '../storage/skipToken.js';
import { escapeOData, isStatus } from '../storage/tables.js';
import { resolveTenant } from '../tenants/tenants.js';

/** One sign-in attempt as the management API shows it; the code is never recorded. */
export interface SignInLogRecord {
  id: string;
  createdDateTime: string;
  tenantId: string;
  userId: string | null;
  /** The guest's address (Graph's signIn names it so), while the guest exists; null for a deleted guest. */
  userPrincipalName: string | null;
  event: SignInEvent;
  outcome: string;
  clientIp: string;
  /** For an attempt that mailed a code: what the provider and its delivery reports said of that mail. */
  delivery?: Delivery;
}

interface SignInLogRow {
  partitionKey: string;
  rowKey: string;
  tenantId: string;
  guestId: string;
  event: SignInEvent;
  outcome: string;
  clientIp: string;
  mailId?: string;
  at: string;
}

export interface SignInLogPage {
  value: SignInLogRecord[];
  /** Opaque; present when there is more. */
  skipToken?: string;
}

/** Where the next page starts: the keys of the last row handed out. */
interface Position {
  p: string;
  r: string;
}

function isPositionIn(tenantId: string) {
  return (value: unknown): value is Position => {
    const { p, r } = (value ?? {}) as Partial<Position>;
    return typeof p === 'string' && typeof r === 'string' && p.startsWith(`${tenantId}_`) && r.startsWith(LOG_PREFIX);
  };
}

/**
 * The tenant's sign-in log: the `log_` rows of every guest partition of the tenant
 * (`<tenantId>_<digest>`, so one PartitionKey range), or of one guest's partition
 * with `userId`. Table Storage returns rows in key order, so the order is: grouped
 * by guest (in the order of the email digests, which is arbitrary but stable), and
 * newest first within each guest; with `userId` that is simply newest first. Rows
 * past their expiresAt (SIGN_IN_LOG_RETENTION_DAYS) are left out even before the
 * cleanup timer deletes them.
 */
export async function listSignInLogs(rt: Runtime, tenantRef: string, query: SignInLogsQuery): Promise<SignInLogPage> {
  const { tenant } = await resolveTenant(rt, tenantRef, { fresh: true });
  const tenantId = escapeOData(tenant.id);
  const partitions = query.userId
    ? `PartitionKey eq '${escapeOData(await guestPartitionOf(rt, tenant.id, query.userId))}'`
    : `PartitionKey ge '${tenantId}_' and PartitionKey lt '${tenantId}\`'`;
  const rows = `RowKey ge '${LOG_PREFIX}' and RowKey lt 'log\`' and expiresAt gt datetime'${new Date(rt.now()).toISOString()}'`;
  let filter = `${partitions} and ${rows}`;
  if (query.outcome) filter += ` and outcome eq '${escapeOData(query.outcome)}'`;
  if (query.since) filter += ` and at ge '${new Date(query.since).toISOString()}'`;
  if (query.until) filter += ` and at le '${new Date(query.until).toISOString()}'`;
  if (query.$skiptoken) {
    const after = openSkipToken(query.$skiptoken, tenant.id, isPositionIn(tenant.id));
    filter += ` and ((PartitionKey eq '${escapeOData(after.p)}' and RowKey gt '${escapeOData(after.r)}') or PartitionKey gt '${escapeOData(after.p)}')`;
  }

  // One row more than asked for tells whether there is a next page.
  const found: SignInLogRow[] = [];
  const pages = rt.tables.guests.listEntities<SignInLogRow>({ queryOptions: { filter } }).byPage({ maxPageSize: query.$top + 1 });
  for await (const page of pages) {
    found.push(...page);
    if (found.length > query.$top) break;
  }
  const value = found.slice(0, query.$top);
  const deliveries = await deliveriesOf(rt, value.map((row) => row.mailId).filter((id): id is string => Boolean(id)));
  const addresses = await addressesOf(rt, value);
  const page: SignInLogPage = { value: value.map((row) => toRecord(row, addresses.get(row.partitionKey), row.mailId ? (deliveries.get(row.mailId) ?? queued(rt, row)) : undefined)) };
  if (found.length > query.$top) {
    const last = value[value.length - 1]!;
    page.skipToken = sealSkipToken<Position>(tenant.id, { p: last.partitionKey, r: last.rowKey });
  }
  return page;
}

/** The mail rows of a page's entries: per day table, twenty to a query. */
async function deliveriesOf(rt: Runtime, mailIds: string[]): Promise<Map<string, Delivery>> {
  const found = new Map<string, Delivery>();
  const byTable = new Map<TableClient, string[]>();
  for (const id of mailIds) {
    const table = await mailTableOf(rt, id);
    if (table) byTable.set(table, [...(byTable.get(table) ?? []), id]);
  }
  for (const [table, ids] of byTable) {
    for (let start = 0; start < ids.length; start += 20) {
      const filter = ids.slice(start, start + 20).map((id) => `PartitionKey eq '${escapeOData(id)}'`).join(' or ');
      for await (const row of table.listEntities<MailRecord>({ queryOptions: { filter: `(${filter}) and RowKey eq '${MAIL_ROW}'` } })) {
        found.set(row.partitionKey!, toDelivery(row));
      }
    }
  }
  return found;
}

/** A mail the send-mail trigger has not handled yet: it waits in the queue. */
function queued(rt: Runtime, row: SignInLogRow): Delivery {
  return { status: 'queued', provider: rt.mailer.provider, updatedAt: row.at };
}

/**
 * The addresses of a page's guests, so tables show who, not an id: one point read of the
 * guest row per guest partition on the page (a page is grouped by guest, so few).
 */
async function addressesOf(rt: Runtime, rows: SignInLogRow[]): Promise<Map<string, { guestId: string; email: string }>> {
  const found = new Map<string, { guestId: string; email: string }>();
  const partitions = [...new Set(rows.filter((row) => row.guestId).map((row) => row.partitionKey))];
  await Promise.all(
    partitions.map(async (partitionKey) => {
      try {
        const guest = await rt.tables.guests.getEntity<GuestEntity>(partitionKey, GUEST_ROW, { queryOptions: { select: ['guestId', 'email'] } });
        found.set(partitionKey, { guestId: guest.guestId, email: guest.email });
      } catch (error) {
        if (!isStatus(error, 404)) throw error;
      }
    }),
  );
  return found;
}

function toRecord(row: SignInLogRow, guest: { guestId: string; email: string } | undefined, delivery: Delivery | undefined): SignInLogRecord {
  return {
    id: row.rowKey.slice(LOG_PREFIX.length),
    createdDateTime: row.at,
    tenantId: row.tenantId,
    userId: row.guestId || null,
    // The address of the guest the row was written for: a guest deleted and invited again has a new id.
    userPrincipalName: guest && row.guestId && guest.guestId === row.guestId ? guest.email : null,
    event: row.event,
    outcome: row.outcome,
    clientIp: row.clientIp,
    ...(delivery ? { delivery } : {}),
  };
}

/** The guest partition behind a guest id, from the tenant's guest index. */
async function guestPartitionOf(rt: Runtime, tenantId: string, guestId: string): Promise<string> {
  try {
    const index = await rt.tables.tenants.getEntity<{ guestPartition: string }>(tenantId, `guest_${guestId}`);
    return index.guestPartition;
  } catch (error) {
    if (isStatus(error, 404)) fail('guest_not_found');
    throw error;
  }
}
