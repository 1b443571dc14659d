import { isIPv6 } from 'node:net';
import { randomUUID } from 'node:crypto';
import { fail } from './errors.js';
import type { Runtime } from './runtime.js';
import { isStatus, keyDigest } from './storage.js';

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

const IP_ROW_PREFIX = 'send-code_';

/** `send-code_<ms, zero-padded>_<random>`: one row per call, sorting by time. */
function ipCallKey(atMs: number, suffix = ''): string {
  return `${IP_ROW_PREFIX}${String(Math.max(0, atMs)).padStart(15, '0')}${suffix}`;
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

/**
 * Counts one send-code call against the client IP (SEND_CODE_PER_IP_PER_HOUR),
 * failing with rate_limited when the hour is full.
 *
 * Each call inserts a row of its own and then counts the rows of the last hour (two
 * transactions). Inserts never conflict, so many guests behind one address (an
 * office NAT) asking at once do not race over a shared row — a read-modify-write
 * of one row under an ETag lost most of those races and answered 429. Admission is
 * strict: of the calls admitted together, the last to count saw every other, so the
 * limit is never exceeded (calls arriving together just as the hour fills may count
 * one another and all be refused). A call that finds the hour full takes its row
 * back, so refused calls do not extend the wait.
 */
export async function countSendCodeFromIp(rt: Runtime, clientIp: string): Promise<void> {
  const limit = rt.config.limits.sendCodePerIpPerHour;
  const partitionKey = `ip_${keyDigest(ipLimitKey(clientIp))}`;
  const now = rt.now();
  const rowKey = ipCallKey(now, `_${randomUUID()}`);
  await rt.tables.limits.createEntity({ partitionKey, rowKey, expiresAt: new Date(now + HOUR_MS) }).catch((error: unknown) => {
    // The row's key is this call's own: a 409 means a try the client timed out and retried had written it.
    if (!isStatus(error, 409)) throw error;
  });

  const others: number[] = [];
  let counted = 0;
  const pages = rt.tables.limits
    .listEntities({
      queryOptions: {
        filter: `PartitionKey eq '${partitionKey}' and RowKey gt '${ipCallKey(now - HOUR_MS)}' and RowKey lt '${IP_ROW_PREFIX}~'`,
        select: ['RowKey'],
      },
    })
    .byPage({ maxPageSize: Math.min(limit + 1, 1000) });
  for await (const page of pages) {
    for (const row of page) {
      counted += 1;
      if (row.rowKey !== rowKey) others.push(Number(row.rowKey!.slice(IP_ROW_PREFIX.length, IP_ROW_PREFIX.length + 15)));
    }
    if (counted > limit) break;
  }
  if (counted <= limit) return;

  await rt.tables.limits.deleteEntity(partitionKey, rowKey).catch((error: unknown) => {
    if (!isStatus(error, 404)) throw error;
  });
  fail('rate_limited', {
    message: 'Too many codes were asked for from this network. Try again later.',
    retryAfterSeconds: secondsUntilRoom(others, limit, now),
  });
}
