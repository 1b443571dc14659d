import { describe, expect, it } from 'vitest';
import { GuestpassError } from '../lib/errors.js';
import { reserveAddressEvent } from '../lib/signin/limits.js';
import type { Runtime } from '../lib/runtime.js';
import { testRuntime, uniquePrefix } from './helpers.js';

// ensureTables creates the tables once per process, so every runtime here shares one
// prefix; each test counts calls from its own addresses.
const TABLE_PREFIX = uniquePrefix();
const runtimeWithLimit = (limit: number, now?: () => number) =>
  testRuntime({ TABLE_PREFIX, SEND_CODE_PER_IP_PER_HOUR: String(limit) }, now ? { now } : {});

/** One send-code call counted against the client address, as send-code takes it. */
const countSendCodeFromIp = (rt: Runtime, clientIp: string): Promise<void> =>
  reserveAddressEvent(rt, 'send-code', clientIp, rt.config.limits.sendCodePerIpPerHour).then(() => undefined);

async function refusal(call: Promise<void>): Promise<GuestpassError> {
  const error = await call.then(() => undefined, (caught: unknown) => caught);
  if (!(error instanceof GuestpassError)) throw new Error(`expected a refusal, got ${String(error)}`);
  return error;
}

describe('the per-IP send-code limit', () => {
  it('sixty guests behind one address asking at once are all let through', async () => {
    const rt = await runtimeWithLimit(100);
    const results = await Promise.allSettled(Array.from({ length: 60 }, () => countSendCodeFromIp(rt, '198.51.100.7')));
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
  });

  it('one address never gets more calls than the limit in an hour, even asking all at once', async () => {
    const rt = await runtimeWithLimit(10);
    const office = '198.51.100.8';
    const burst = await Promise.allSettled(Array.from({ length: 25 }, () => countSendCodeFromIp(rt, office)));
    let admitted = burst.filter((r) => r.status === 'fulfilled').length;
    expect(admitted).toBeLessThanOrEqual(10);
    for (const r of burst) if (r.status === 'rejected') expect((r.reason as GuestpassError).code).toBe('rate_limited');

    // One at a time, the hour fills up to exactly the limit and no further.
    for (let i = 0; i < 12; i += 1) {
      admitted += await countSendCodeFromIp(rt, office).then(() => 1, () => 0);
    }
    expect(admitted).toBe(10);
    const refused = await refusal(countSendCodeFromIp(rt, office));
    expect(refused.code).toBe('rate_limited');
    expect(refused.retryAfterSeconds).toBeGreaterThan(0);
    expect(refused.retryAfterSeconds).toBeLessThanOrEqual(3600);
  });

  it('a refused call does not extend the wait: the address may ask again once the oldest call is an hour old', async () => {
    const start = Date.UTC(2030, 0, 1, 9);
    let now = start;
    const rt = await runtimeWithLimit(3, () => now);
    const office = '198.51.100.9';
    for (const offset of [0, 1_000, 2_000]) {
      now = start + offset;
      await countSendCodeFromIp(rt, office);
    }
    now = start + 10_000;
    expect((await refusal(countSendCodeFromIp(rt, office))).retryAfterSeconds).toBe(3590);
    now = start + 20 * 60_000;
    expect((await refusal(countSendCodeFromIp(rt, office))).retryAfterSeconds).toBe(2400);

    now = start + 3_600_001;
    await expect(countSendCodeFromIp(rt, office)).resolves.toBeUndefined();
  });

  it('each address has its own hour', async () => {
    const rt = await runtimeWithLimit(1);
    await countSendCodeFromIp(rt, '203.0.113.1');
    await expect(countSendCodeFromIp(rt, '203.0.113.2')).resolves.toBeUndefined();
    expect((await refusal(countSendCodeFromIp(rt, '203.0.113.1'))).code).toBe('rate_limited');
  });
});
