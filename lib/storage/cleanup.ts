import { type TableClient, type TransactionAction } from '@azure/data-tables';
import { deleteExpiredAudit } from '../admin/audit.js';
import { LOG_PREFIX, SESSION_PREFIX } from '../guests/guests.js';
import type { Runtime } from '../runtime.js';
import { isStatus, tableOpener } from './tables.js';
import { DAY_MS, dayTableName, dropDayTables } from './dayTables.js';
import { HOUR_BUCKET_MS, hourBucket, noteExpiry } from './expiryIndex.js';

/*
 * Table Storage has no TTL: every expiring row carries `expiresAt` (Edm.DateTime), is
 * checked on every read, and is deleted here. The cost of a run is proportional to
 * what expired, never to what is stored (DESIGN §5):
 *
 * - rate-limit windows, used step-up challenges, the daily mail cap's counts, mail
 *   delivery records (lib/mail/delivery.ts) and the development outbox live in
 *   tables of a day (lib/storage/dayTables.ts), dropped whole once the day is past
 *   their lifetime: one transaction per table;
 * - rows that expire in guest partitions are found through the expiry index
 *   (lib/storage/expiryIndex.ts): each hour of expiry that has passed names the
 *   partitions to clean, and the run resumes from a cursor row where the last one
 *   stopped.
 */

/** The most operations one entity-group transaction may hold. */
export const MAX_BATCH = 100;

/**
 * Rows written once and never changed stay expired once expired, so a batch may delete
 * them (a delete inside an entity-group transaction cannot carry an ETag). Every other
 * expiring row — an attempt, a per-address row — is rewritten while it is in use, so
 * it is deleted alone and only if it still has the ETag it had when found expired.
 */
export const isWriteOnce = (rowKey: string) => rowKey.startsWith(SESSION_PREFIX) || rowKey.startsWith(LOG_PREFIX);

/** An expired row as read: its keys and its ETag at that moment. */
export interface ExpiredRow {
  partitionKey: string;
  rowKey: string;
  etag: string;
}

export interface CleanupOptions {
  /** Deletes (transactions) in flight at once. */
  concurrency?: number;
  /** No new hour is started after this long; the next run carries on from the cursor. */
  maxDurationMs?: number;
}

export interface DeleteOutcome {
  deleted: number;
  /** Rows that changed or vanished between the read and the delete, and were left alone. */
  skipped: number;
}

export interface CleanupReport extends DeleteOutcome {
  /** Guest partitions cleaned, hours of the expiry index done, whole day tables dropped. */
  partitions: number;
  hours: number;
  droppedTables: string[];
  /** Audit rows past AUDIT_LOG_RETENTION_DAYS (also counted in `deleted`). */
  auditDeleted: number;
  /** False when the time budget ran out before every passed hour was done. */
  complete: boolean;
}

/** Where the expiry index was read up to: the start (ms) of the next hour to clean. */
const CURSOR = { partitionKey: 'cleanup', rowKey: 'cursor' };

async function readCursor(rt: Runtime): Promise<number | undefined> {
  try {
    return (await rt.tables.limits.getEntity<{ next: number }>(CURSOR.partitionKey, CURSOR.rowKey)).next;
  } catch (error) {
    if (isStatus(error, 404)) return undefined;
    throw error;
  }
}

/** The first hour of the oldest expiry table, for a first run. */
async function oldestIndexedHour(rt: Runtime): Promise<number | undefined> {
  const opener = tableOpener(rt.tables);
  const prefix = `${opener.prefix}expiry`;
  for await (const table of opener.service().listTables({ queryOptions: { filter: `TableName ge '${prefix}0' and TableName le '${prefix}9'` } })) {
    const stamp = (table.name ?? '').slice(prefix.length);
    if (/^\d{8}$/.test(stamp)) return Date.UTC(Number(stamp.slice(0, 4)), Number(stamp.slice(4, 6)) - 1, Number(stamp.slice(6, 8)));
  }
  return undefined;
}

/**
 * One run: every hour of the expiry index that has fully passed, from the cursor on,
 * then the day tables that are past their lifetime.
 */
export async function cleanupExpired(rt: Runtime, options: CleanupOptions = {}): Promise<CleanupReport> {
  const concurrency = options.concurrency ?? 8;
  const maxDurationMs = options.maxDurationMs ?? 10 * 60_000;
  const started = performance.now();
  const now = rt.now();
  const report: CleanupReport = { deleted: 0, skipped: 0, partitions: 0, hours: 0, droppedTables: [], auditDeleted: 0, complete: true };

  const currentHour = Math.floor(now / HOUR_BUCKET_MS) * HOUR_BUCKET_MS;
  let next = (await readCursor(rt)) ?? (await oldestIndexedHour(rt)) ?? currentHour;
  const opener = tableOpener(rt.tables);
  while (next < currentHour) {
    if (performance.now() - started > maxDurationMs) {
      report.complete = false;
      break;
    }
    const index = opener.open(dayTableName(opener.prefix, 'expiry', next));
    const bucket = hourBucket(next);
    try {
      for await (const page of index.listEntities({ queryOptions: { filter: `PartitionKey eq '${bucket}'`, select: ['RowKey'] } }).byPage({ maxPageSize: 1000 })) {
        const partitions = page.map((row) => row.rowKey!);
        const outcomes = await inPool(partitions.map((partitionKey) => () => cleanPartition(rt, partitionKey, now, concurrency)), concurrency);
        const outcome = sumOutcomes(outcomes);
        report.deleted += outcome.deleted;
        report.skipped += outcome.skipped;
        report.partitions += partitions.length;
      }
    } catch (error) {
      if (!isStatus(error, 404)) throw error; // no table for that day: nothing expired then
    }
    next += HOUR_BUCKET_MS;
    report.hours += 1;
    await rt.tables.limits.upsertEntity({ ...CURSOR, next }, 'Replace');
  }

  // Index tables of days wholly behind the cursor; limits a day after their last hour-long
  // window; the outbox after its day of retention; mail records with the sign-in log
  // entries that name them, and webhook delivery records, after SIGN_IN_LOG_RETENTION_DAYS.
  report.droppedTables.push(...(await dropDayTables(rt, 'expiry', Math.floor(next / DAY_MS) * DAY_MS)));
  report.droppedTables.push(...(await dropDayTables(rt, 'limits', now - DAY_MS)));
  report.droppedTables.push(...(await dropDayTables(rt, 'outbox', now - DAY_MS)));
  report.droppedTables.push(...(await dropDayTables(rt, 'mail', now - rt.config.signInLogRetentionDays * DAY_MS)));
  report.droppedTables.push(...(await dropDayTables(rt, 'webhooks', now - rt.config.signInLogRetentionDays * DAY_MS)));
  // The tenants' refusal counts per hour, kept as long as the sign-in log they stand beside.
  report.droppedTables.push(...(await dropDayTables(rt, 'refusals', now - rt.config.signInLogRetentionDays * DAY_MS)));
  report.auditDeleted = await deleteExpiredAudit(rt);
  report.deleted += report.auditDeleted;
  return report;
}

/**
 * Deletes the expired rows of one guest partition (one query reads the partition's
 * keys and expiries) and notes the partition again for its next expiring row.
 */
async function cleanPartition(rt: Runtime, partitionKey: string, now: number, concurrency: number): Promise<DeleteOutcome> {
  const expired: ExpiredRow[] = [];
  let nextExpiry = Infinity;
  const filter = `PartitionKey eq '${partitionKey.replace(/'/g, "''")}'`;
  for await (const row of rt.tables.guests.listEntities<{ expiresAt?: Date }>({ queryOptions: { filter, select: ['PartitionKey', 'RowKey', 'expiresAt'] } })) {
    if (!(row.expiresAt instanceof Date)) continue;
    const at = row.expiresAt.getTime();
    if (at < now) expired.push({ partitionKey, rowKey: row.rowKey!, etag: row.etag });
    else nextExpiry = Math.min(nextExpiry, at);
  }
  const outcome = await deleteExpiredRows(rt.tables.guests, expired, isWriteOnce, concurrency);
  if (nextExpiry !== Infinity) await noteExpiry(rt, partitionKey, nextExpiry);
  return outcome;
}

/**
 * Deletes rows found expired: write-once rows in entity-group transactions of up to
 * MAX_BATCH per partition, every other row alone and conditional on its ETag.
 */
export async function deleteExpiredRows(
  table: TableClient,
  rows: ExpiredRow[],
  writeOnce: (rowKey: string) => boolean = () => false,
  concurrency = 8,
): Promise<DeleteOutcome> {
  const work: (() => Promise<DeleteOutcome>)[] = [];
  const batchable = new Map<string, ExpiredRow[]>();
  for (const row of rows) {
    if (!writeOnce(row.rowKey)) {
      work.push(() => deleteOne(table, row));
      continue;
    }
    const group = batchable.get(row.partitionKey) ?? [];
    group.push(row);
    batchable.set(row.partitionKey, group);
  }
  for (const group of batchable.values()) {
    for (let start = 0; start < group.length; start += MAX_BATCH) {
      const chunk = group.slice(start, start + MAX_BATCH);
      work.push(() => (chunk.length === 1 ? deleteOne(table, chunk[0]!) : deleteBatch(table, chunk)));
    }
  }
  return sumOutcomes(await inPool(work, concurrency));
}

async function deleteOne(table: TableClient, row: ExpiredRow): Promise<DeleteOutcome> {
  try {
    await table.deleteEntity(row.partitionKey, row.rowKey, { etag: row.etag });
    return { deleted: 1, skipped: 0 };
  } catch (error) {
    // 412: rewritten since it was read, so it may be live again; 404: already gone.
    if (isStatus(error, 404, 412)) return { deleted: 0, skipped: 1 };
    throw error;
  }
}

async function deleteBatch(table: TableClient, rows: ExpiredRow[]): Promise<DeleteOutcome> {
  const actions: TransactionAction[] = rows.map((row) => ['delete', { partitionKey: row.partitionKey, rowKey: row.rowKey }]);
  try {
    await table.submitTransaction(actions);
    return { deleted: rows.length, skipped: 0 };
  } catch (error) {
    // One row deleted meanwhile (a sign-out, another run) fails the whole transaction: go one by one.
    if (!isStatus(error, 404)) throw error;
    return sumOutcomes(await inPool(rows.map((row) => () => deleteOne(table, row)), 4));
  }
}

function sumOutcomes(outcomes: DeleteOutcome[]): DeleteOutcome {
  return outcomes.reduce((sum, o) => ({ deleted: sum.deleted + o.deleted, skipped: sum.skipped + o.skipped }), { deleted: 0, skipped: 0 });
}

/** Runs tasks with at most `size` of them in flight. */
async function inPool<T>(tasks: (() => Promise<T>)[], size: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const index = next++;
      results[index] = await tasks[index]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(size, tasks.length) }, worker));
  return results;
}
