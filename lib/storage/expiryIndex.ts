import type { Runtime } from '../runtime.js';
import { dayStamp, dayTable } from './dayTables.js';

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

/** Pairs already noted by this instance, so a busy guest costs one index write per hour, not one per request. */
const noted = new WeakMap<Runtime, Set<string>>();
const NOTED_KEPT = 20_000;

/** Notes that `partitionKey` holds a row expiring at `expiresAtMs` (at most one write per partition and hour). */
export async function noteExpiry(rt: Runtime, partitionKey: string, expiresAtMs: number): Promise<void> {
  const key = `${dayStamp(expiresAtMs)}|${hourBucket(expiresAtMs)}|${partitionKey}`;
  let seen = noted.get(rt);
  if (!seen) noted.set(rt, (seen = new Set()));
  if (seen.has(key)) return;
  const table = await dayTable(rt, 'expiry', expiresAtMs);
  await table.upsertEntity({ partitionKey: hourBucket(expiresAtMs), rowKey: partitionKey }, 'Replace');
  if (seen.size >= NOTED_KEPT) seen.clear();
  seen.add(key);
}
