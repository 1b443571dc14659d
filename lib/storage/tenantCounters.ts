import { randomUUID } from 'node:crypto';
import type { GuestpassError } from '../errors.js';
import type { Runtime } from '../runtime.js';
import { DAY_MS, dayStamp, dayTable, dayTableName } from './dayTables.js';
import { isStatus, tableOpener } from './tables.js';

/*
 * A tenant's counters of the UTC day that every instance shares: the mails it sent
 * (MAIL_DAILY_CAP_PER_TENANT) and, per hour, the codes asked for from addresses
 * unfamiliar to the address asked about (TENANT_UNFAMILIAR_SEND_CODES_PER_HOUR).
 * One row per app instance in a partition per tenant and day, each holding what that
 * instance counted (only its own instance writes a row, so writes never race on an
 * ETag). A counter's total is the sum over the rows, read at most every
 * TENANT_CACHE_SECONDS (as long as the instance trusts what it read of a tenant) per
 * tenant and instance, plus what this instance has counted since.
 * A burst on one instance shares its writes: an increment waits for the next write of
 * the row, which carries every increment made meanwhile, and one write carries every
 * counter a call took. So a cap is exact within one instance and late by at most
 * TENANT_CACHE_SECONDS of other instances' counts: it bounds cost, not an exact count.
 * The rows live in the limits table of their day, which the cleanup drops a day later.
 */

/** What one call takes of one counter: refused when the counter has reached `cap` (0: no cap), else counted when `counts`. */
export interface CounterTake {
  /** The row property it is kept in: letters and digits. */
  counter: string;
  cap: number;
  counts: boolean;
  refusal: () => GuestpassError;
}

interface DayCounts {
  /** The day table the rows live in: 'limits' for the caps, 'refusals' for the refusal counts. */
  kind: 'limits' | 'refusals';
  partitionKey: string;
  /** The start of its UTC day. */
  startMs: number;
  /** The other instances' totals when last read, and when. */
  others: Map<string, number>;
  readAt: number;
  reading?: Promise<void>;
  /** What this instance has counted today. */
  own: Map<string, number>;
  /** The write of this instance's row under way, and the one waiting for it. */
  current?: Promise<void>;
  queued?: Promise<void>;
}

interface InstanceCounts {
  instanceId: string;
  days: Map<string, DayCounts>;
}

/** Per set of tables (one per process; tests open several), so two runtimes in one process count as two instances. */
const instanceCounts = new WeakMap<Runtime['tables'], InstanceCounts>();

function countsOf(rt: Runtime): InstanceCounts {
  let counts = instanceCounts.get(rt.tables);
  if (!counts) instanceCounts.set(rt.tables, (counts = { instanceId: randomUUID(), days: new Map() }));
  return counts;
}

/**
 * Sums the other instances' rows. The query goes out at once, beside the creation of
 * the day's table (which this instance's own write needs): a table not there yet holds
 * no other instance's count.
 */
async function readOthers(rt: Runtime, instanceId: string, day: DayCounts): Promise<void> {
  const others = new Map<string, number>();
  const creating = dayTable(rt, day.kind, day.startMs);
  creating.catch(() => undefined);
  const table = tableOpener(rt.tables).open(dayTableName(tableOpener(rt.tables).prefix, day.kind, day.startMs));
  try {
    for await (const row of table.listEntities<Record<string, unknown>>({ queryOptions: { filter: `PartitionKey eq '${day.partitionKey}'` } })) {
      if (row.rowKey === instanceId) continue;
      for (const [name, value] of Object.entries(row)) {
        if (typeof value === 'number') others.set(name, (others.get(name) ?? 0) + value);
      }
    }
  } catch (error) {
    if (!isStatus(error, 404)) throw error;
  }
  await creating;
  day.others = others;
  day.readAt = rt.now();
}

/**
 * Writes this instance's row with its counts. A write not yet started carries every
 * increment made before it starts, so callers in a burst share it.
 */
function writeOwn(rt: Runtime, instanceId: string, day: DayCounts): Promise<void> {
  if (day.queued) return day.queued;
  const previous = day.current ?? Promise.resolve();
  const queued: Promise<void> = previous
    .catch(() => undefined)
    .then(async () => {
      day.queued = undefined;
      day.current = queued;
      const table = await dayTable(rt, day.kind, day.startMs);
      await table.upsertEntity({ partitionKey: day.partitionKey, rowKey: instanceId, ...Object.fromEntries(day.own) }, 'Replace');
    })
    .finally(() => {
      if (day.current === queued) day.current = undefined;
    });
  day.queued = queued;
  return queued;
}

function dayCountsOf(rt: Runtime, kind: DayCounts['kind'], tenantId: string, now: number): DayCounts {
  const { days } = countsOf(rt);
  const stamp = dayStamp(now);
  const partitionKey = `${kind === 'limits' ? 'counts' : 'refusals'}_${tenantId}_${stamp}`;
  let day = days.get(partitionKey);
  if (!day) {
    // A new day: yesterday's counts are of no more use.
    for (const [key, old] of days) if (!key.endsWith(stamp) && !old.current) days.delete(key);
    days.set(partitionKey, (day = { kind, partitionKey, startMs: Math.floor(now / DAY_MS) * DAY_MS, others: new Map(), readAt: -Infinity, own: new Map() }));
  }
  return day;
}

/**
 * Counts events that nothing caps (the tenant's refusals per reason per hour, which
 * the sign-in summary reads): one write of this instance's row in the day's `refusals`
 * table, shared by a burst like the capped counters' writes, and never a read.
 */
export async function countTenantEvents(rt: Runtime, tenantId: string, counters: string[]): Promise<void> {
  const day = dayCountsOf(rt, 'refusals', tenantId, rt.now());
  for (const counter of counters) day.own.set(counter, (day.own.get(counter) ?? 0) + 1);
  await writeOwn(rt, countsOf(rt).instanceId, day);
}

/** The partition of a tenant's refusal counts of the UTC day holding `atMs`, in that day's `refusals` table. */
export function refusalPartition(tenantId: string, atMs: number): string {
  return `refusals_${tenantId}_${dayStamp(atMs)}`;
}

/**
 * A counter of the tenant's day as this instance knows it: the other instances' rows
 * (read at most every TENANT_CACHE_SECONDS) plus its own count.
 */
export async function tenantCounterTotal(rt: Runtime, tenantId: string, counter: string): Promise<number> {
  const day = dayCountsOf(rt, 'limits', tenantId, rt.now());
  await refreshTenantCounters(rt, tenantId);
  return totalOf(day, counter);
}

/** A counter's total as this instance knows it: the others' rows as last read, and its own count. */
function totalOf(day: DayCounts, counter: string): number {
  return (day.others.get(counter) ?? 0) + (day.own.get(counter) ?? 0);
}

/**
 * Whether this instance already knows that one of `takes` would be refused, from what
 * it holds (no read): a request then sends nothing ahead of its own first read.
 */
export function knownFull(rt: Runtime, tenantId: string, takes: CounterTake[]): boolean {
  const day = dayCountsOf(rt, 'limits', tenantId, rt.now());
  return takes.some((take) => take.cap > 0 && totalOf(day, take.counter) >= take.cap);
}

/** Adds one to a counter that nothing refuses by itself (a signal another call reads with tenantCounterTotal). */
export async function countTenantCounter(rt: Runtime, tenantId: string, counter: string): Promise<void> {
  const day = dayCountsOf(rt, 'limits', tenantId, rt.now());
  day.own.set(counter, (day.own.get(counter) ?? 0) + 1);
  await writeOwn(rt, countsOf(rt).instanceId, day);
}

/**
 * Reads the other instances' counts of the tenant's day when what this instance read
 * is older than TENANT_CACHE_SECONDS (one read shared by every call meanwhile). A
 * request starts it together with its own first read, so it never adds a round trip.
 */
export function refreshTenantCounters(rt: Runtime, tenantId: string): Promise<void> | undefined {
  const now = rt.now();
  const day = dayCountsOf(rt, 'limits', tenantId, now);
  if (now - day.readAt < rt.config.tenantCacheSeconds * 1000) return day.reading;
  day.reading ??= readOthers(rt, countsOf(rt).instanceId, day).finally(() => {
    day.reading = undefined;
  });
  return day.reading;
}

/**
 * Fails with the refusal of the first counter that has reached its cap; else counts
 * the takes that count, all in one write of this instance's row. The row is written
 * whether or not anything was counted, so a call that counts nothing costs what one
 * that counts does (send-code answers strangers and guests alike).
 */
export async function takeTenantCounters(rt: Runtime, tenantId: string, takes: CounterTake[]): Promise<void> {
  if (takes.every((take) => take.cap === 0 && !take.counts)) return;
  const now = rt.now();
  const { instanceId } = countsOf(rt);
  const day = dayCountsOf(rt, 'limits', tenantId, now);
  await refreshTenantCounters(rt, tenantId);
  const full = takes.find((take) => take.cap > 0 && totalOf(day, take.counter) >= take.cap);
  if (full) throw full.refusal();
  // Counted before the call goes on, so a burst cannot pass a cap while its writes are under way.
  for (const take of takes) if (take.counts) day.own.set(take.counter, (day.own.get(take.counter) ?? 0) + 1);
  await writeOwn(rt, instanceId, day);
}
