import { isIPv6 } from 'node:net';
import { randomUUID } from 'node:crypto';
import { GuestpassError } from '../errors.js';
import { dayTable, dayTablesCovering } from '../storage/dayTables.js';
import type { Runtime } from '../runtime.js';
import { isStatus, keyDigest, ONE_TRY_HEADER, parseJsonList } from '../storage/tables.js';

export const HOUR_MS = 3_600_000;

/**
 * Sliding-window counters kept as a JSON list of millisecond timestamps on a table
 * row, so every instance of the app shares them.
 */
export function parseTimes(json: string | undefined): number[] {
  return parseJsonList(json, (t): t is number => typeof t === 'number');
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
  const oneTry = { requestOptions: { customHeaders: { [ONE_TRY_HEADER]: '1' } } };
  await table.createEntity({ partitionKey: addressPartition(clientIp), rowKey, expiresAt: new Date(now + HOUR_MS) }, oneTry).catch((error: unknown) => {
    // The row's key is this call's own: a 409 means an earlier try of it (lost on the connection and tried again) had written it.
    if (!isStatus(error, 409)) throw error;
  });
  return rowKey;
}

/** One event of an address's hour, taken before the work it bounds; `release` gives it back (a verification that was right). */
export interface AddressSlot {
  release(): Promise<void>;
}

/** An address's event row on its way in, not yet counted: admitAddressEvent decides whether it stays. */
export interface PendingAddressEvent extends AddressSlot {
  event: AddressEvent;
  clientIp: string;
  /** The insert; it fails only when storage does. */
  inserted: Promise<string>;
}

/**
 * Starts inserting one event row for this address, so the insert can go out together
 * with the request's first read (the count, admitAddressEvent, is then the only round
 * trip the slot adds). Released, it is taken back once it is in.
 */
export function startAddressEvent(rt: Runtime, event: AddressEvent, clientIp: string): PendingAddressEvent {
  const inserted = recordAddressEvent(rt, event, clientIp);
  // Observed here too: a request refused before it awaits the insert must not leave a rejection unhandled.
  inserted.catch(() => undefined);
  return { event, clientIp, inserted, release: async () => deleteAddressEvent(rt, event, clientIp, await inserted.catch(() => undefined)) };
}

async function deleteAddressEvent(rt: Runtime, event: AddressEvent, clientIp: string, rowKey: string | undefined): Promise<void> {
  if (rowKey === undefined) return;
  const table = await dayTable(rt, 'limits', Number(rowKey.slice(event.length + 1, event.length + 16)));
  await table.deleteEntity(addressPartition(clientIp), rowKey).catch((error: unknown) => {
    if (!isStatus(error, 404)) throw error;
  });
}

/** How often a call that met a crowd (more calls in flight than room) takes its row back and tries again. */
const CROWD_ROUNDS = 6;

/**
 * Takes one of this address's `limit` events of the hour (SEND_CODE_PER_IP_PER_HOUR,
 * FAILED_VERIFICATIONS_PER_IP_PER_HOUR) before the work it bounds: the call inserts a
 * row of its own (inserts never conflict, so many guests behind one office NAT do not
 * race over a shared row), then counts the hour, and is admitted only when the count,
 * its own row included, is within the limit. Of the calls admitted, the last to count
 * saw every other's row, so no burst admits more than `limit`, however many calls are
 * in flight together. A call that counts more takes its row back (refused calls leave
 * no row and do not extend the wait); if the hour is full without it, it is refused
 * and this instance answers the address from memory until the hour has room, else it
 * met a crowd in flight and tries again after a random pause.
 */
export async function admitAddressEvent(rt: Runtime, started: PendingAddressEvent, limit: number): Promise<AddressSlot> {
  const { event, clientIp } = started;
  const partitionKey = addressPartition(clientIp);
  let pending = started;
  for (let round = 0; round < CROWD_ROUNDS; round += 1) {
    if (round > 0) pending = startAddressEvent(rt, event, clientIp);
    await pending.inserted;
    let counted: number;
    try {
      counted = (await eventsInWindow(rt, event, partitionKey, rt.now(), limit)).length;
    } catch (error) {
      // Storage failed between the insert and the count: the call is not admitted, so its row goes back if it can.
      await pending.release().catch(() => undefined);
      throw error;
    }
    if (counted <= limit) return { release: pending.release };
    await pending.release();
    const now = rt.now();
    const others = await eventsInWindow(rt, event, partitionKey, now, limit);
    if (others.length >= limit) {
      const retryAfterSeconds = secondsUntilRoom(others.map((e) => e.at), limit, now);
      rt.earlyRejection.block(`${event}:${partitionKey}`, now + retryAfterSeconds * 1000);
      throw refusalFor(event, retryAfterSeconds);
    }
    await new Promise((resolve) => setTimeout(resolve, (5 + Math.random() * 45) * (round + 1)));
  }
  throw refusalFor(event, 1);
}

/** startAddressEvent then admitAddressEvent, for a call that knows it must take a slot. */
export async function reserveAddressEvent(rt: Runtime, event: AddressEvent, clientIp: string, limit: number): Promise<AddressSlot> {
  refuseFromMemory(rt, event, clientIp);
  return admitAddressEvent(rt, startAddressEvent(rt, event, clientIp), limit);
}
