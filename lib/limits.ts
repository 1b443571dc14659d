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
  times: string;
  expiresAt: Date;
}

/**
 * Counts one send-code call against the client IP (SEND_CODE_PER_IP_PER_HOUR),
 * failing with rate_limited when the hour is full. Two transactions: a read and an
 * ETag-conditional write; a lost race is retried.
 */
export async function countSendCodeFromIp(rt: Runtime, clientIp: string): Promise<void> {
  const limit = rt.config.limits.sendCodePerIpPerHour;
  const partitionKey = `ip_${keyDigest(clientIp)}`;
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const now = rt.now();
    let etag: string | undefined;
    let times: number[] = [];
    try {
      const row = await rt.tables.limits.getEntity<IpLimitEntity>(partitionKey, 'send-code');
      etag = row.etag;
      times = withinWindow(parseTimes(row.times), now);
    } catch (error) {
      if (!isStatus(error, 404)) throw error;
    }
    if (times.length >= limit) {
      fail('rate_limited', {
        message: 'Too many codes were asked for from this network. Try again later.',
        retryAfterSeconds: secondsUntilRoom(times, limit, now),
      });
    }
    const entity = {
      partitionKey,
      rowKey: 'send-code',
      times: JSON.stringify([...times, now]),
      expiresAt: new Date(now + HOUR_MS),
    };
    try {
      if (etag) await rt.tables.limits.updateEntity(entity, 'Replace', { etag });
      else await rt.tables.limits.createEntity(entity);
      return;
    } catch (error) {
      if (!isStatus(error, 409, 412)) throw error;
    }
  }
  fail('rate_limited', { retryAfterSeconds: 1 });
}
