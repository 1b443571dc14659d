import type { Runtime } from '../runtime.js';
import { dayTable } from './dayTables.js';

/*
 * Rows that expire inside a guest partition (attempts, per-address rows, sessions,
 * sign-in log rows) stay there, so verify-code commits in one entity-group
 * transaction. Cleanup finds them without a scan through this index: a row per
 * (hour of expiry, guest partition) in the expiry table of that day, written when a
 * request writes rows that expire. Cleanup reads the hours that have passed, cleans
 * each partition named there, notes it again for the earliest row it still holds, and
 * drops the day's table once its hours are done.
 */
export const HOUR_BUCKET_MS = 3_600_000;

export function hourBucket(atMs: number): string {
  return String(new Date(atMs).getUTCHours()).padStart(2, '0');
}

/**
 * Notes that `partitionKey` holds a row expiring at `expiresAtMs`: one upsert, every
 * time. Remembering what was noted would save it for a busy guest, but would make a
 * recently active guest's request one transaction (and one round trip) cheaper than a
 * stranger's, which tells them apart.
 */
export async function noteExpiry(rt: Runtime, partitionKey: string, expiresAtMs: number): Promise<void> {
  const table = await dayTable(rt, 'expiry', expiresAtMs);
  await table.upsertEntity({ partitionKey: hourBucket(expiresAtMs), rowKey: partitionKey }, 'Replace');
}
