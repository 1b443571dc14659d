import { afterAll, describe, expect, it } from 'vitest';
import { ipLimitKey } from '../lib/signin/limits.js';
import { requestFrom, retryAfterSeconds, sendCodeFrom } from './attackHelpers.js';
import {
  createTenant, expectError, inviteGuest, latestCode, postJson, sendCode, startHost, stopAllHosts, uniquePrefix, verifyCode, type TestHost,
} from './helpers.js';

afterAll(() => stopAllHosts());

/** Two instances of the app: two local hosts on one Azurite sharing a TABLE_PREFIX. */
async function twoInstances(settings: Record<string, string> = {}): Promise<[TestHost, TestHost]> {
  const shared = { TABLE_PREFIX: uniquePrefix(), ...settings };
  return Promise.all([startHost(shared), startHost(shared)]);
}

function wrongCode(code: string): string {
  return code === '00000000' ? '11111111' : '00000000';
}

describe('limits hold across instances (Table Storage, not memory)', () => {
  it('a second code within 60 s is refused with 429 and Retry-After, even from the other instance', async () => {
    const [a, b] = await twoInstances();
    const tenant = await createTenant(a);
    await inviteGuest(a, tenant.id, 'cooldown@example.com');
    expect((await sendCode(a, tenant.id, 'cooldown@example.com')).status).toBe(202);
    const again = await sendCode(b, tenant.id, 'cooldown@example.com');
    await expectError(again.clone(), 429, 'rate_limited');
    const wait = retryAfterSeconds(again);
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(60);
  });

  it('at most 5 codes per guest and client address per hour, counted across both instances', async () => {
    const [a, b] = await twoInstances({ RESEND_COOLDOWN_SECONDS: '0' });
    const tenant = await createTenant(a);
    await inviteGuest(a, tenant.id, 'five@example.com');
    for (let i = 0; i < 5; i += 1) {
      expect((await sendCode(i % 2 ? b : a, tenant.id, 'five@example.com')).status).toBe(202);
    }
    const sixth = await sendCode(b, tenant.id, 'five@example.com');
    await expectError(sixth.clone(), 429, 'rate_limited');
    expect(retryAfterSeconds(sixth)).toBeGreaterThan(3500);
  });

  it('the same limits apply to an address that is not a guest, so they do not reveal who is invited', async () => {
    const [a, b] = await twoInstances();
    const tenant = await createTenant(a);
    expect((await sendCode(a, tenant.id, 'nobody@example.com')).status).toBe(202);
    await expectError(await sendCode(b, tenant.id, 'nobody@example.com'), 429, 'rate_limited');
  });

  it('at most 5 wrong tries per code: the right code is refused after them', async () => {
    const [a, b] = await twoInstances();
    const tenant = await createTenant(a);
    await inviteGuest(a, tenant.id, 'tries@example.com');
    await sendCode(a, tenant.id, 'tries@example.com');
    const code = await latestCode(a, 'tries@example.com');
    for (let i = 0; i < 5; i += 1) {
      await expectError(await verifyCode(i % 2 ? b : a, tenant.id, 'tries@example.com', wrongCode(code)), 401, 'invalid_code');
    }
    await expectError(await verifyCode(a, tenant.id, 'tries@example.com', code), 429, 'too_many_attempts');
  });

  it('at most 10 failed verifications per guest and client address per hour across codes; a resend does not reset the count', async () => {
    // The guest-wide step-up ceiling is set out of the way: this pins the per-(guest, address) budget.
    const [a, b] = await twoInstances({ RESEND_COOLDOWN_SECONDS: '0', GUEST_STEP_UP_AFTER_PER_HOUR: '100' });
    const tenant = await createTenant(a);
    const email = 'tenfails@example.com';
    await inviteGuest(a, tenant.id, email);
    let failures = 0;
    for (const wrongTries of [4, 4, 2]) {
      expect((await sendCode(failures % 2 ? b : a, tenant.id, email)).status).toBe(202);
      const code = await latestCode(a, email);
      for (let i = 0; i < wrongTries; i += 1) {
        await expectError(await verifyCode(failures % 2 ? b : a, tenant.id, email, wrongCode(code)), 401, 'invalid_code');
        failures += 1;
      }
    }
    expect(failures).toBe(10);
    // A fresh code, never tried, is refused from this address: the hour's failures belong to (guest, address), not the code.
    expect((await sendCode(a, tenant.id, email)).status).toBe(202);
    const refused = await verifyCode(b, tenant.id, email, await latestCode(a, email));
    await expectError(refused.clone(), 429, 'too_many_attempts');
    expect(retryAfterSeconds(refused)).toBeGreaterThan(3500);
  });

  it('wrong codes sent in parallel are all counted: no batch of guesses slips past the limit', async () => {
    const [a, b] = await twoInstances();
    const tenant = await createTenant(a);
    const email = 'parallel@example.com';
    await inviteGuest(a, tenant.id, email);
    await sendCode(a, tenant.id, email);
    const code = await latestCode(a, email);
    const guesses = Array.from({ length: 24 }, (_, i) => String(10_000_000 + i * 7919).padStart(8, '0')).filter((g) => g !== code);
    const answers = await Promise.all(guesses.map((guess, i) => verifyCode(i % 2 ? b : a, tenant.id, email, guess)));
    const statuses = answers.map((r) => r.status);
    expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
    // Only CODE_MAX_ATTEMPTS guesses were judged; every other one was refused unjudged.
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(5);
    await expectError(await verifyCode(a, tenant.id, email, code), 429, 'too_many_attempts');
  });

  it('20 parallel verifications of one correct code give exactly one session', async () => {
    const [a, b] = await twoInstances({ RESEND_COOLDOWN_SECONDS: '0' });
    const tenant = await createTenant(a);
    await inviteGuest(a, tenant.id, 'race@example.com');
    await sendCode(a, tenant.id, 'race@example.com');
    const code = await latestCode(a, 'race@example.com');
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => verifyCode(i % 2 ? b : a, tenant.id, 'race@example.com', code)));
    expect(answers.filter((r) => r.status === 200)).toHaveLength(1);
    expect(answers.every((r) => r.status === 200 || r.status === 401)).toBe(true);
    // The 19 repeats of the right code were not counted as wrong guesses (10 would lock the guest out).
    await sendCode(b, tenant.id, 'race@example.com');
    expect((await verifyCode(a, tenant.id, 'race@example.com', await latestCode(a, 'race@example.com'))).status).toBe(200);
  });

  it('at most 100 send-code calls per client IP per hour, across both instances, keyed by the right-most X-Forwarded-For entry', async () => {
    const [a, b] = await twoInstances();
    const tenant = await createTenant(a);
    const statuses: number[] = [];
    for (let i = 0; i < 100; i += 1) {
      // Different addresses, so only the per-IP limit can stop them.
      statuses.push((await sendCodeFrom(i % 2 ? b : a, '127.0.0.2', tenant.id, `ip-${i}@example.com`)).status);
    }
    expect(statuses.every((s) => s === 202)).toBe(true);
    const over = await sendCodeFrom(b, '127.0.0.2', tenant.id, 'ip-over@example.com');
    await expectError(over.clone(), 429, 'rate_limited');
    expect(retryAfterSeconds(over)).toBeGreaterThan(3000);
    // A client cannot escape by claiming another address: only the entry the front end appends counts.
    const spoofed = await sendCodeFrom(a, '127.0.0.2', tenant.id, 'ip-spoof@example.com', { 'x-forwarded-for': '203.0.113.9' });
    await expectError(spoofed, 429, 'rate_limited');
    // Another client is not affected.
    expect((await sendCodeFrom(a, '127.0.0.3', tenant.id, 'ip-other@example.com')).status).toBe(202);
    // 100 sequential send-codes, each with its mail's cap count and delivery row: a minute on a busy 2-core machine.
  }, 180_000);

  it('the per-IP limit is a setting (SEND_CODE_PER_IP_PER_HOUR) and is not consumed by requests refused before it', async () => {
    const [a] = await twoInstances({ SEND_CODE_PER_IP_PER_HOUR: '3' });
    const tenant = await createTenant(a);
    // Invalid bodies and unknown tenants do not count.
    await expectError(await requestFrom(a, '127.0.0.4', `/${tenant.id}/send-code`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }), 400, 'invalid_request');
    await expectError(await sendCodeFrom(a, '127.0.0.4', 'unknown.example', 'x@example.com'), 404, 'tenant_not_found');
    for (let i = 0; i < 3; i += 1) expect((await sendCodeFrom(a, '127.0.0.4', tenant.id, `s-${i}@example.com`)).status).toBe(202);
    await expectError(await sendCodeFrom(a, '127.0.0.4', tenant.id, 's-3@example.com'), 429, 'rate_limited');
    expect((await a.api(`/${tenant.id}/send-code`, postJson({ email: 'local@example.com' }))).status).toBe(202);
  });
});

describe('what the per-IP limit counts under', () => {
  it('an IPv6 client counts per /64, an IPv4-mapped address as its IPv4 address', () => {
    expect(ipLimitKey('2001:db8:1:2::1')).toBe(ipLimitKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff'));
    expect(ipLimitKey('2001:db8:1:2::1')).toBe('2001:db8:1:2::/64');
    expect(ipLimitKey('2001:db8:1:3::1')).not.toBe(ipLimitKey('2001:db8:1:2::1'));
    expect(ipLimitKey('::1')).toBe('0:0:0:0::/64');
    expect(ipLimitKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(ipLimitKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(ipLimitKey('192.0.2.7')).toBe('192.0.2.7');
  });
});
