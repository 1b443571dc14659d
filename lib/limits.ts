import { isIPv6 } from 'node:net';
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

interface IpLimitEntity {
  /** JSON list of [minute since the epoch, count] pairs: bounded at 60 entries whatever the limit. */
  minutes: string;
  expiresAt: Date;
}

const MINUTE_MS = 60_000;
const WINDOW_MINUTES = HOUR_MS / MINUTE_MS;

function parseMinuteCounts(json: string | undefined, nowMinute: number): [number, number][] {
  if (!json) return [];
  try {
    const parsed = JSON.parse(json) as unknown;
    if (!Array.isArray(parsed)) return [];
    return parsed.filter(
      (entry): entry is [number, number] =>
        Array.isArray(entry) && typeof entry[0] === 'number' && typeof entry[1] === 'number' &&
        entry[0] > nowMinute - WINDOW_MINUTES && entry[0] <= nowMinute,
    );
  } catch {
    return [];
  }
}

/** Seconds until enough of the oldest minutes have left the window to bring the count under `limit`. */
function secondsUntilMinutesFree(counts: [number, number][], limit: number, now: number): number {
  let total = counts.reduce((sum, [, n]) => sum + n, 0);
  for (const [minute, n] of [...counts].sort((a, b) => a[0] - b[0])) {
    total -= n;
    if (total < limit) return Math.max(1, Math.ceil(((minute + WINDOW_MINUTES) * MINUTE_MS - now) / 1000));
  }
  return 1;
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
 * failing with rate_limited when the last hour is full. The counter is one row of
 * per-minute counts in the limits table, shared by every instance: a read and an
 * ETag-conditional write (two transactions); a lost race is retried.
 */
export async function countSendCodeFromIp(rt: Runtime, clientIp: string): Promise<void> {
  const limit = rt.config.limits.sendCodePerIpPerHour;
  const partitionKey = `ip_${keyDigest(ipLimitKey(clientIp))}`;
  for (let attempt = 0; attempt < 6; attempt += 1) {
    const now = rt.now();
    const nowMinute = Math.floor(now / MINUTE_MS);
    let etag: string | undefined;
    let counts: [number, number][] = [];
    try {
      const row = await rt.tables.limits.getEntity<IpLimitEntity>(partitionKey, 'send-code');
      etag = row.etag;
      counts = parseMinuteCounts(row.minutes, nowMinute);
    } catch (error) {
      if (!isStatus(error, 404)) throw error;
    }
    if (counts.reduce((sum, [, n]) => sum + n, 0) >= limit) {
      fail('rate_limited', {
        message: 'Too many codes were asked for from this network. Try again later.',
        retryAfterSeconds: secondsUntilMinutesFree(counts, limit, now),
      });
    }
    const current = counts.find(([minute]) => minute === nowMinute);
    if (current) current[1] += 1;
    else counts.push([nowMinute, 1]);
    const entity = { partitionKey, rowKey: 'send-code', minutes: JSON.stringify(counts), expiresAt: new Date(now + HOUR_MS) };
    try {
      if (etag) await rt.tables.limits.updateEntity(entity, 'Replace', { etag });
      else await rt.tables.limits.createEntity(entity);
      return;
    } catch (error) {
      if (!isStatus(error, 409, 412)) throw error;
    }
    // Another instance counted a call from this address at the same moment: read again.
    await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20 * (attempt + 1)));
  }
  fail('rate_limited', { retryAfterSeconds: 1 });
}
