import { isIPv6 } from 'node:net';
import { randomUUID } from 'node:crypto';
import { GuestpassError } from '../errors.js';
import { dayTable, dayTablesCovering } from '../storage/dayTables.js';
import type { Runtime } from '../runtime.js';
import { isStatus, keyDigest } from '../storage/tables.js';

export const HOUR_MS = 3_600_000;

/**
 * Sliding-window counters kept as a JSON list of millisecond timestamps on a table
 * row, so every instance of the app shares them.
 */
export function parseTimes(json: string | undefined): number[] {
  if (!json) return [];
  try {
    const parsed = JSON.parse(json) as unknown;
    return Array.isArray(parsed) ? parsed.filter((t): t is number => typeof t === 'number') : [];
  } catch {
    return [];
  }
}

export function withinWindow(times: number[], now: number, windowMs = HOUR_MS): number[] {
  return times.filter((t) => t > now - windowMs && t <= now);
}

/** Seconds until the window holds fewer than `limit` entries again. */
export function secondsUntilRoom(times: number[], limit: number, now: number, windowMs = HOUR_MS): number {
  const sorted = [...times].sort((a, b) => a - b);
  const oldestThatMustLeave = sorted[sorted.length - limit];
  if (oldestThatMustLeave === undefined) return 0;
  return Math.max(1, Math.ceil((oldestThatMustLeave + windowMs - now) / 1000));
}

/**
 * The key the per-IP limit counts under. An IPv6 client usually holds a whole /64,
 * so IPv6 addresses count per /64 (otherwise one host could rotate through 2^64
 * addresses); IPv4-mapped IPv6 addresses count as the IPv4 address.
 */
export function ipLimitKey(clientIp: string): string {
  const address = clientIp.trim().toLowerCase().replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (mapped) return mapped[1]!;
  if (!isIPv6(address)) return address;
  const [head = '', tail] = address.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const groups = tail === undefined ? headGroups : [...headGroups, ...Array(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/** What a per-address window counts. */
export type AddressEvent = 'send-code' | 'verify-fail';

/** `<event>_<ms, zero-padded>_<random>`: one row per event, sorting by time. */
function eventKey(event: AddressEvent, atMs: number, suffix = ''): string {
  return `${event}_${String(Math.max(0, atMs)).padStart(15, '0')}${suffix}`;
}

function addressPartition(clientIp: string): string {
  return `ip_${keyDigest(ipLimitKey(clientIp))}`;
}

/** How close to the limit a window must be before an admitted event counts again after writing (see below). */
const RECOUNT_MARGIN = 16;

/**
 * The times of `event` from this address in the last hour: one query per day table
 * the hour touches (one, except in the first hour of a UTC day), stopping early once
 * more than `limit` are found.
 */
async function eventsInWindow(rt: Runtime, event: AddressEvent, partitionKey: string, now: number, limit: number): Promise<{ rowKey: string; at: number }[]> {
  const found: { rowKey: string; at: number }[] = [];
  for (const pending of dayTablesCovering(rt, 'limits', now - HOUR_MS, now).reverse()) {
    const table = await pending;
    const pages = table
      .listEntities({
        queryOptions: {
          filter: `PartitionKey eq '${partitionKey}' and RowKey gt '${eventKey(event, now - HOUR_MS)}' and RowKey lt '${event}_~'`,
          select: ['RowKey'],
        },
      })
      .byPage({ maxPageSize: Math.min(limit + 1, 1000) });
    for await (const page of pages) {
      for (const row of page) found.push({ rowKey: row.rowKey!, at: Number(row.rowKey!.slice(event.length + 1, event.length + 16)) });
      if (found.length > limit) return found;
    }
  }
  return found;
}

function refusalFor(event: AddressEvent, retryAfterSeconds: number): GuestpassError {
  return event === 'send-code'
    ? new GuestpassError('rate_limited', { message: 'Too many codes were asked for from this network. Try again later.', retryAfterSeconds })
    : new GuestpassError('too_many_attempts', { message: 'Too many wrong codes from this network. Try again later.', retryAfterSeconds });
}

/**
 * Fails when this address has used up its hour for `event` (rate_limited for
 * send-code, too_many_attempts for wrong codes). A refusal costs one query and writes
 * nothing; the early-rejection cache then answers this address's next calls without
 * storage until the window has room again (storage stays authoritative: another
 * instance, or this one after the time, counts again).
 */
export async function checkAddressWindow(rt: Runtime, event: AddressEvent, clientIp: string, limit: number): Promise<number> {
  refuseFromMemory(rt, event, clientIp);
  const partitionKey = addressPartition(clientIp);
  const cacheKey = `${event}:${partitionKey}`;
  const now = rt.now();
  const events = await eventsInWindow(rt, event, partitionKey, now, limit);
  if (events.length < limit) return events.length;
  const retryAfterSeconds = secondsUntilRoom(events.map((e) => e.at), limit, now);
  rt.earlyRejection.block(cacheKey, now + retryAfterSeconds * 1000);
  throw refusalFor(event, retryAfterSeconds);
}

/**
 * The cheapest refusal: an address this instance already found over its limit is
 * answered from memory, before the tenant is even looked up (no storage transaction).
 */
export function refuseFromMemory(rt: Runtime, event: AddressEvent, clientIp: string): void {
  const blocked = rt.earlyRejection.until(`${event}:${addressPartition(clientIp)}`, rt.now());
  if (blocked) throw refusalFor(event, blocked);
}

/** Records one event of this address: a row of its own in the day's limits table (inserts never conflict). */
async function recordAddressEvent(rt: Runtime, event: AddressEvent, clientIp: string): Promise<string> {
  const now = rt.now();
  const rowKey = eventKey(event, now, `_${randomUUID()}`);
  const table = await dayTable(rt, 'limits', now);
  await table.createEntity({ partitionKey: addressPartition(clientIp), rowKey, expiresAt: new Date(now + HOUR_MS) }).catch((error: unknown) => {
    // The row's key is this call's own: a 409 means a try the client timed out and retried had written it.
    if (!isStatus(error, 409)) throw error;
  });
  return rowKey;
}

/**
 * Counts one send-code call against the client IP (SEND_CODE_PER_IP_PER_HOUR),
 * failing with rate_limited when the hour is full.
 *
 * The hour is counted first: a full hour refuses with that one query and no write.
 * Otherwise the call inserts a row of its own. Inserts never conflict, so many
 * guests behind one address (an office NAT) asking at once do not race over a
 * shared row. Near the limit (within RECOUNT_MARGIN) the call counts again after
 * writing and, of the calls admitted together, the last to count saw every other,
 * so the limit is never exceeded; a call that then finds the hour full takes its row
 * back, so refused calls do not extend the wait.
 */
export async function countSendCodeFromIp(rt: Runtime, clientIp: string): Promise<void> {
  const before = await checkAddressWindow(rt, 'send-code', clientIp, rt.config.limits.sendCodePerIpPerHour);
  await admitSendCodeFromIp(rt, clientIp, before);
}

/** The second half of countSendCodeFromIp, once the call is admitted: `before` is what checkAddressWindow counted. */
export async function admitSendCodeFromIp(rt: Runtime, clientIp: string, before: number): Promise<void> {
  const limit = rt.config.limits.sendCodePerIpPerHour;
  const rowKey = await recordAddressEvent(rt, 'send-code', clientIp);
  if (before + 1 < limit - RECOUNT_MARGIN) return;

  const now = rt.now();
  const partitionKey = addressPartition(clientIp);
  const events = await eventsInWindow(rt, 'send-code', partitionKey, now, limit);
  if (events.length <= limit) return;
  const table = await dayTable(rt, 'limits', Number(rowKey.slice('send-code_'.length, 'send-code_'.length + 15)));
  await table.deleteEntity(partitionKey, rowKey).catch((error: unknown) => {
    if (!isStatus(error, 404)) throw error;
  });
  const others = events.filter((e) => e.rowKey !== rowKey).map((e) => e.at);
  throw refusalFor('send-code', secondsUntilRoom(others, limit, now));
}

/** FAILED_VERIFICATIONS_PER_IP_PER_HOUR: checked before a code is compared, recorded after a wrong one. */
export function checkFailedVerificationsFromIp(rt: Runtime, clientIp: string): Promise<number> {
  return checkAddressWindow(rt, 'verify-fail', clientIp, rt.config.limits.failedVerificationsPerIpPerHour);
}

export async function recordFailedVerificationFromIp(rt: Runtime, clientIp: string): Promise<void> {
  await recordAddressEvent(rt, 'verify-fail', clientIp);
}

/**
 * Per-instance memory of "this key is refused until T", in front of the storage
 * checks, so a caller over its limit costs no transaction at all. Memory is not
 * shared between instances, which is fine for early rejection: storage stays
 * authoritative, and every instance learns the refusal from storage once.
 */
export interface EarlyRejection {
  /** Seconds left while `key` is refused, else 0. */
  until(key: string, now: number): number;
  block(key: string, untilMs: number): void;
}

export function createEarlyRejection(maxKeys = 50_000): EarlyRejection {
  const blocked = new Map<string, number>();
  return {
    until(key, now) {
      const until = blocked.get(key);
      if (until === undefined) return 0;
      if (until <= now) {
        blocked.delete(key);
        return 0;
      }
      return Math.max(1, Math.ceil((until - now) / 1000));
    },
    block(key, untilMs) {
      // Bounded: the oldest entries go first (a Map iterates in insertion order).
      if (blocked.size >= maxKeys) blocked.delete(blocked.keys().next().value!);
      blocked.delete(key);
      blocked.set(key, untilMs);
    },
  };
}
