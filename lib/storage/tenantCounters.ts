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
 * tenant and instance, plus what this instance has counted since: what the sign-in
 * summary shows, and a refusal from memory once a cap is known full.
 * A burst on one instance shares its writes: an increment waits for the next write of
 * the row, which carries every increment made meanwhile, and one write carries every
 * counter a call took.
 * A cap holds exactly across instances through leases: the partition's `leases` row
 * keeps, per capped counter, how much of the cap the instances have taken, written
 * only conditionally on its ETag; an instance takes a block of it at a time (a
 * twentieth of the cap, at most LEASE_BLOCK_MAX) and admits a call that counts only
 * while its own count is within what it took. The sum of every instance's blocks never
 * passes the cap, so neither does the sum of their counts; an instance's unused block
 * makes the cap a little lower, never higher.
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
  /** The leases row as last read or written: how much of each capped counter the instances took. */
  leases: { taken: Map<string, number>; etag?: string };
  /** How much of each capped counter this instance took. */
  granted: Map<string, number>;
  /** The lease write under way (one at a time per instance and day), the capped counters it is for, and how many calls wait on each. */
  leasing?: Promise<void>;
  wanted: Map<string, number>;
  waiting: Map<string, number>;
}

/** The row of a tenant's day that records how much of each capped counter the instances took. */
const LEASES_ROW = 'leases';
/** The most an instance takes of a cap at a time. */
const LEASE_BLOCK_MAX = 50;
/** How often a lease write that lost its race to another instance's reads the row again. */
const LEASE_TRIES = 10;

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
      if (row.rowKey === LEASES_ROW) {
        day.leases = leasesOf(row);
        continue;
      }
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
    days.set(partitionKey, (day = { kind, partitionKey, startMs: Math.floor(now / DAY_MS) * DAY_MS, others: new Map(), readAt: -Infinity, own: new Map(), leases: { taken: new Map() }, granted: new Map(), wanted: new Map(), waiting: new Map() }));
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
  return takes.some((take) => capFull(day, take));
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
function refreshTenantCounters(rt: Runtime, tenantId: string): Promise<void> | undefined {
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
  const full = takes.find((take) => capFull(day, take));
  if (full) throw full.refusal();
  // A capped take is admitted only within what this instance took of the cap: room for
  // one more, whether or not it counts (a stranger's mail slot leases as a guest's does,
  // so when a lease is written does not tell them apart).
  const leased = takes.filter((take) => take.cap > 0);
  for (let tries = 0; ; tries += 1) {
    const short = leased.find((take) => (day.own.get(take.counter) ?? 0) + 1 > (day.granted.get(take.counter) ?? 0));
    if (!short) break;
    if (tries >= LEASE_TRIES || !(await takeLease(rt, day, short))) throw short.refusal();
  }
  // Counted before the call goes on (nothing awaited since the check), so a burst cannot pass a cap while its writes are under way.
  for (const take of takes) if (take.counts) day.own.set(take.counter, (day.own.get(take.counter) ?? 0) + 1);
  await writeOwn(rt, instanceId, day);
}

function leasesOf(row: Record<string, unknown> & { etag?: string }): DayCounts['leases'] {
  const taken = new Map<string, number>();
  for (const [name, value] of Object.entries(row)) if (typeof value === 'number') taken.set(name, value);
  return { taken, etag: row.etag };
}

/**
 * Takes another block of `take`'s cap for this instance: a write of the leases row
 * conditional on its ETag (or its creation), read again after another instance wrote
 * first. False once the instances have taken the whole cap. One lease write at a time
 * per instance: callers that need one meanwhile share it and check again.
 */
async function takeLease(rt: Runtime, day: DayCounts, take: CounterTake): Promise<boolean> {
  const { counter, cap } = take;
  day.wanted.set(counter, cap);
  day.waiting.set(counter, (day.waiting.get(counter) ?? 0) + 1);
  try {
    // A write under way may not be for this counter: the next one is.
    if (day.leasing) await day.leasing.catch(() => undefined);
    day.leasing ??= writeLeases(rt, day).finally(() => {
      day.leasing = undefined;
    });
    await day.leasing;
  } finally {
    day.waiting.set(counter, (day.waiting.get(counter) ?? 1) - 1);
  }
  return (day.leases.taken.get(counter) ?? 0) < cap || (day.own.get(counter) ?? 0) + 1 <= (day.granted.get(counter) ?? 0);
}

/**
 * One write of the leases row for every capped counter a call of this instance found
 * no room in: for each, a block of what is left of its cap (enough for every call
 * waiting), conditional on the row's ETag (or its creation); read again after another
 * instance wrote first.
 */
async function writeLeases(rt: Runtime, day: DayCounts): Promise<void> {
  const table = await dayTable(rt, day.kind, day.startMs);
  // Taken once the table is open: every counter the same request asked for meanwhile goes in this write.
  const wanted = new Map(day.wanted);
  day.wanted.clear();
  for (let tries = 0; tries < LEASE_TRIES; tries += 1) {
    const blocks = new Map<string, number>();
    for (const [counter, cap] of wanted) {
      const short = (day.own.get(counter) ?? 0) + (day.waiting.get(counter) ?? 1) - (day.granted.get(counter) ?? 0);
      const block = Math.min(cap - (day.leases.taken.get(counter) ?? 0), Math.max(short, Math.min(LEASE_BLOCK_MAX, Math.ceil(cap / 20))));
      if (block > 0) blocks.set(counter, block);
    }
    if (blocks.size === 0) return;
    const row = { partitionKey: day.partitionKey, rowKey: LEASES_ROW, ...Object.fromEntries([...blocks].map(([counter, block]) => [counter, (day.leases.taken.get(counter) ?? 0) + block])) };
    try {
      const written = day.leases.etag ? await table.updateEntity(row, 'Merge', { etag: day.leases.etag }) : await table.createEntity(row);
      for (const [counter, block] of blocks) {
        day.leases.taken.set(counter, (day.leases.taken.get(counter) ?? 0) + block);
        day.granted.set(counter, (day.granted.get(counter) ?? 0) + block);
      }
      day.leases.etag = written.etag;
      return;
    } catch (error) {
      if (!isStatus(error, 404, 409, 412)) throw error;
      // Another instance took a lease first (or the row is not there yet): read it again.
      day.leases = await table.getEntity<Record<string, unknown>>(day.partitionKey, LEASES_ROW).then(leasesOf, (caught: unknown) => {
        if (isStatus(caught, 404)) return { taken: new Map<string, number>() };
        throw caught;
      });
    }
  }
}

/** Whether `take` would be refused by its cap from what this instance knows: the instances' counts, or every lease taken and its own used up. */
function capFull(day: DayCounts, take: CounterTake): boolean {
  if (take.cap <= 0) return false;
  if (totalOf(day, take.counter) >= take.cap) return true;
  return (day.leases.taken.get(take.counter) ?? 0) >= take.cap && (day.own.get(take.counter) ?? 0) >= (day.granted.get(take.counter) ?? 0);
}

/**
 * What a request starts with its first read when it will likely take `takes`: the
 * other instances' counts when stale, and a lease of any capped counter this instance
 * has no room left in, so the call's own take finds room and adds no round trip.
 */
export function prepareTenantCounters(rt: Runtime, tenantId: string, takes: CounterTake[]): Promise<unknown> {
  const day = dayCountsOf(rt, 'limits', tenantId, rt.now());
  const leases = takes
    .filter((take) => take.cap > 0 && !capFull(day, take) && (day.own.get(take.counter) ?? 0) + 1 > (day.granted.get(take.counter) ?? 0))
    .map((take) => takeLease(rt, day, take));
  return Promise.all([refreshTenantCounters(rt, tenantId), ...leases]);
}
