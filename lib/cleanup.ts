import { odata, type TableClient, type TransactionAction } from '@azure/data-tables';
import { LOG_PREFIX, SESSION_PREFIX } from './guests.js';
import type { Runtime } from './runtime.js';
import { isStatus, type TableName } from './storage.js';

/*
 * Table Storage has no TTL: every expiring row carries `expiresAt` (Edm.DateTime) and
 * the cleanup timer deletes the rows whose time has passed. The tenants table holds
 * nothing that expires.
 */
export const CLEANED_TABLES = ['guests', 'limits', 'outbox', 'mail'] as const satisfies readonly TableName[];
export type CleanedTable = (typeof CLEANED_TABLES)[number];

/** The most operations one entity-group transaction may hold. */
export const MAX_BATCH = 100;

/**
 * Rows written once and never changed stay expired once expired, so a batch may delete
 * them (a delete inside an entity-group transaction cannot carry an ETag). Every other
 * expiring row — a guest's code row, a rate-limit window — is rewritten while it is in
 * use, so it is deleted alone and only if it still has the ETag it had when found expired.
 */
const WRITE_ONCE: Record<CleanedTable, (rowKey: string) => boolean> = {
  guests: (rowKey) => rowKey.startsWith(SESSION_PREFIX) || rowKey.startsWith(LOG_PREFIX),
  outbox: () => true,
  limits: () => false,
  // A mail's row is rewritten by its delivery reports.
  mail: () => false,
};

/** An expired row as read: its keys and its ETag at that moment. */
export interface ExpiredRow {
  partitionKey: string;
  rowKey: string;
  etag: string;
}

export interface CleanupOptions {
  /** Rows per query page; the Table service returns at most 1000. */
  pageSize?: number;
  /** Deletes (transactions) in flight at once. */
  concurrency?: number;
  /** No new page is started after this long; the next run carries on where this one stopped. */
  maxDurationMs?: number;
}

export interface DeleteOutcome {
  deleted: number;
  /** Rows that changed or vanished between the read and the delete, and were left alone. */
  skipped: number;
}

export interface CleanupReport extends DeleteOutcome {
  deletedByTable: Record<CleanedTable, number>;
  /** False when the time budget ran out before every table was read to its end. */
  complete: boolean;
}

/**
 * Deletes every row whose `expiresAt` lies before the runtime's clock, table by table
 * and page by page, never holding more than a page in memory.
 */
export async function cleanupExpired(rt: Runtime, options: CleanupOptions = {}): Promise<CleanupReport> {
  const pageSize = options.pageSize ?? 1000;
  const concurrency = options.concurrency ?? 8;
  const maxDurationMs = options.maxDurationMs ?? 10 * 60_000;
  const started = performance.now();
  const cutoff = new Date(rt.now());
  const filter = odata`expiresAt lt ${cutoff}`;
  const report: CleanupReport = { deleted: 0, skipped: 0, deletedByTable: { guests: 0, limits: 0, outbox: 0, mail: 0 }, complete: true };

  for (const name of CLEANED_TABLES) {
    const pages = rt.tables[name]
      .listEntities<{ expiresAt?: Date }>({ queryOptions: { filter, select: ['PartitionKey', 'RowKey', 'expiresAt'] } })
      .byPage({ maxPageSize: pageSize });
    for await (const page of pages) {
      // The filter already chose these; the check again is cheap insurance that a live row is never touched.
      const expired = page
        .filter((row) => row.expiresAt instanceof Date && row.expiresAt.getTime() < cutoff.getTime())
        .map((row) => ({ partitionKey: row.partitionKey!, rowKey: row.rowKey!, etag: row.etag }));
      const outcome = await deleteExpiredRows(rt.tables[name], expired, WRITE_ONCE[name], concurrency);
      report.deleted += outcome.deleted;
      report.skipped += outcome.skipped;
      report.deletedByTable[name] += outcome.deleted;
      if (performance.now() - started > maxDurationMs) {
        report.complete = false;
        return report;
      }
    }
  }
  return report;
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
