import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attackers, expectErrorOf, inPool, mailedCodes, sendFrom, solve, verifyFrom, wrong, type Answer } from './attackHelpers.js';
import { tableOpener } from '../lib/storage/tables.js';
import { dayTableOf } from '../lib/storage/dayTables.js';
import {
  createTenant, inviteGuest, startFakeSendGrid, startHost, stopAllHosts, testRuntime, uniquePrefix,
  type FakeSendGrid, type TestHost, type TestTenant,
} from './helpers.js';

afterAll(() => stopAllHosts());


describe('sign-in attempts: a code belongs to the attempt that asked for it', () => {
  let host: TestHost;
  let tenant: TestTenant;
  beforeAll(async () => {
    host = await startHost({ RESEND_COOLDOWN_SECONDS: '0' });
    tenant = await createTenant(host);
  });

  it('code A, resend, code B, then A entered signs in; B cannot be used after A; guesses counted once across them', async () => {
    const email = 'late-mail@example.com';
    await inviteGuest(host, tenant.id, email);
    const first = await sendFrom(host, '127.0.0.2', tenant.id, { email });
    expect(first.status).toBe(202);
    const attempt = first.body.attempt as string;
    expect(attempt).toMatch(/^[A-Za-z0-9_-]{16,64}$/);
    const [codeA] = await mailedCodes(host, email);
    const resend = await sendFrom(host, '127.0.0.2', tenant.id, { email, attempt });
    expect(resend.body.attempt).toBe(attempt);
    const [codeB] = await mailedCodes(host, email);
    // Two wrong guesses in the attempt: counted once across A and B.
    for (const guess of [wrong(codeA!), wrong(codeB!, 7)].filter((g) => g !== codeA && g !== codeB)) {
      expect((await verifyFrom(host, '127.0.0.2', tenant.id, { email, code: guess, attempt })).status).toBe(401);
    }
    expect((await verifyFrom(host, '127.0.0.2', tenant.id, { email, code: codeA!, attempt })).status).toBe(200);
    const afterA = await verifyFrom(host, '127.0.0.2', tenant.id, { email, code: codeB!, attempt });
    expect(afterA.status).toBe(401);
    expect(afterA.body.error).toBe('invalid_code');
  });

  it('a resend never resets the failed-attempt count', async () => {
    const email = 'no-reset@example.com';
    await inviteGuest(host, tenant.id, email);
    const { body } = await sendFrom(host, '127.0.0.3', tenant.id, { email });
    const attempt = body.attempt as string;
    const [code] = await mailedCodes(host, email);
    for (let i = 0; i < 5; i += 1) await expectErrorOf(verifyFrom(host, '127.0.0.3', tenant.id, { email, code: wrong(code!, i), attempt }), 401, 'invalid_code');
    expect((await sendFrom(host, '127.0.0.3', tenant.id, { email, attempt })).status).toBe(202);
    const [fresh] = await mailedCodes(host, email);
    await expectErrorOf(verifyFrom(host, '127.0.0.3', tenant.id, { email, code: fresh!, attempt }), 429, 'too_many_attempts');
  });

  it('wrong guesses in one attempt never burn another attempt\'s code', async () => {
    const email = 'own-attempt@example.com';
    await inviteGuest(host, tenant.id, email);
    const attacker = await sendFrom(host, '127.0.0.4', tenant.id, { email });
    const guest = await sendFrom(host, '127.0.0.5', tenant.id, { email });
    const [code] = await mailedCodes(host, email);
    for (let i = 0; i < 5; i += 1) {
      await expectErrorOf(verifyFrom(host, '127.0.0.4', tenant.id, { email, code: wrong(code!, i), attempt: attacker.body.attempt }), 401, 'invalid_code');
    }
    await expectErrorOf(verifyFrom(host, '127.0.0.4', tenant.id, { email, code: code!, attempt: attacker.body.attempt }), 429, 'too_many_attempts');
    expect((await verifyFrom(host, '127.0.0.5', tenant.id, { email, code: code!, attempt: guest.body.attempt })).status).toBe(200);
  });

  it('a client that ignores the handle signs in with the newest code it asked for from its address', async () => {
    const email = 'no-handle@example.com';
    await inviteGuest(host, tenant.id, email);
    expect((await sendFrom(host, '127.0.0.6', tenant.id, { email })).status).toBe(202);
    // Someone else asks too, from elsewhere: the newest attempt of the guest is theirs, not ours.
    expect((await sendFrom(host, '127.0.0.7', tenant.id, { email })).status).toBe(202);
    const [theirs, ours] = await mailedCodes(host, email);
    if (ours !== theirs) await expectErrorOf(verifyFrom(host, '127.0.0.6', tenant.id, { email, code: theirs! }), 401, 'invalid_code');
    expect((await verifyFrom(host, '127.0.0.6', tenant.id, { email, code: ours! })).status).toBe(200);
  });
});


describe('no anonymous lockout', () => {
  it('a guest locked by strangers still signs in from its own address: 200 attacking addresses, first try, no extra step', async () => {
    // No resend cooldown, so the guest may ask again right after its first sign-in.
    const host = await startHost({ RESEND_COOLDOWN_SECONDS: '0' });
    const tenant = await createTenant(host);
    const email = 'victim@example.com';
    const home = '127.0.0.9';
    await inviteGuest(host, tenant.id, email);
    // The guest signed in from home before (its address is one it is known by).
    const before = await sendFrom(host, home, tenant.id, { email });
    expect((await verifyFrom(host, home, tenant.id, { email, code: (await mailedCodes(host, email))[0]!, attempt: before.body.attempt })).status).toBe(200);

    const statuses: Record<string, number> = {};
    const count = (label: string, status: number) => void (statuses[`${label} ${status}`] = (statuses[`${label} ${status}`] ?? 0) + 1);
    const attack = async (address: string) => {
      const sent = await sendFrom(host, address, tenant.id, { email });
      count('send-code', sent.status);
      for (let i = 0; i < 3; i += 1) {
        const guess = String(12_345_670 + i).padStart(8, '0');
        const answer = await verifyFrom(host, address, tenant.id, { email, code: guess, ...(sent.body.attempt ? { attempt: sent.body.attempt } : {}) });
        count('verify-code', answer.status);
      }
      const again = await sendFrom(host, address, tenant.id, { email });
      count('send-code', again.status);
    };
    const addresses = attackers(200);
    const half = addresses.length / 2;
    await inPool(addresses.slice(0, half).map((a) => () => attack(a)), 16);
    // While the second half attacks, the guest asks for a code at home and signs in at the first try.
    const flood = inPool(addresses.slice(half).map((a) => () => attack(a)), 16);
    const sent = await sendFrom(host, home, tenant.id, { email });
    expect(sent.status).toBe(202);
    const [code] = await mailedCodes(host, email);
    const signedIn = await verifyFrom(host, home, tenant.id, { email, code: code!, attempt: sent.body.attempt });
    await flood;
    expect(signedIn.status).toBe(200);
    expect((signedIn.body.user as { email: string }).email).toBe(email);
    // The strangers met the step-up and the limits, never a lockout of the guest.
    expect(statuses['send-code 428'] ?? 0).toBeGreaterThan(0);
    expect(statuses['verify-code 200'] ?? 0).toBe(0);
    // And the mailbox got about the guest-wide ceiling of the strangers' codes (and the guest's two): the
    // ceiling is soft, so calls in flight together (16 here) may each pass it once.
    expect((await mailedCodes(host, email)).length).toBeLessThanOrEqual(10 + 16 + 2);
  }, 180_000);

  it('a guest that never signed in meets the step-up past the ceiling, solves it without a user step, and signs in', async () => {
    const host = await startHost({ GUEST_STEP_UP_AFTER_PER_HOUR: '3', STEP_UP_POW_MAX_NUMBER: '5000' });
    const tenant = await createTenant(host);
    const email = 'newcomer@example.com';
    await inviteGuest(host, tenant.id, email);
    for (const address of attackers(4)) await sendFrom(host, address, tenant.id, { email });
    const asked = await expectErrorOf(sendFrom(host, '127.0.0.9', tenant.id, { email }), 428, 'challenge_required');
    expect(asked.body.challenge).toMatchObject({ provider: 'altcha', algorithm: 'SHA-256' });
    const stepUp = await solve(asked.body);
    const sent = await sendFrom(host, '127.0.0.9', tenant.id, { email, stepUp });
    expect(sent.status).toBe(202);
    // The solution is good once only.
    await expectErrorOf(sendFrom(host, '127.0.0.10', tenant.id, { email, stepUp }), 428, 'challenge_required');
    const [code] = await mailedCodes(host, email);
    // The attempt was stepped up: its code is checked without asking again.
    expect((await verifyFrom(host, '127.0.0.9', tenant.id, { email, code: code!, attempt: sent.body.attempt })).status).toBe(200);
    // The tenant's summary counts the step-up solved and used.
    const summary = (await (await host.manage(`/tenants/${tenant.id}/sign-in-logs/summary?hours=1`)).json()) as { value: { stepUps: number }[] };
    expect(summary.value[0]!.stepUps).toBe(1);
  });

  it('a solved step-up carried by a call that is then refused is not used up and writes no row (a step-up is redeemed last)', async () => {
    const prefix = uniquePrefix();
    // The tenant's hour of codes for unfamiliar addresses is full after the three strangers the guest's ceiling admits.
    const host = await startHost({ TABLE_PREFIX: prefix, GUEST_STEP_UP_AFTER_PER_HOUR: '3', STEP_UP_POW_MAX_NUMBER: '5000', TENANT_UNFAMILIAR_SEND_CODES_PER_HOUR: '3' });
    const tenant = await createTenant(host);
    const email = 'refused.stepup@example.com';
    await inviteGuest(host, tenant.id, email);
    for (const address of attackers(4)) await sendFrom(host, address, tenant.id, { email });
    // Another instance of the deployment whose tenant hour has room asks for the step-up (past the tenant's
    // hour, this one refuses a caller that is not the guest's own before it would ask for one).
    const roomier = await startHost({ TABLE_PREFIX: prefix, GUEST_STEP_UP_AFTER_PER_HOUR: '3', STEP_UP_POW_MAX_NUMBER: '5000' });
    const stepUp = await solve((await expectErrorOf(sendFrom(roomier, '127.0.0.11', tenant.id, { email }), 428, 'challenge_required')).body);
    const rt = await testRuntime({ TABLE_PREFIX: prefix });
    const stepUpRows = async () => {
      const limits = await dayTableOf(rt.tables, 'limits', Date.now());
      let rows = 0;
      for await (const _row of limits.listEntities({ queryOptions: { filter: "PartitionKey eq 'step-up'" } })) rows += 1;
      return rows;
    };
    for (let i = 0; i < 3; i += 1) await expectErrorOf(sendFrom(host, '127.0.0.11', tenant.id, { email, stepUp }), 429, 'rate_limited');
    expect(await stepUpRows()).toBe(0);
    // Not used up: once the tenant admits the call, the same solution passes, once.
    expect((await sendFrom(roomier, '127.0.0.11', tenant.id, { email, stepUp })).status).toBe(202);
    expect(await stepUpRows()).toBe(1);
    await expectErrorOf(sendFrom(roomier, '127.0.0.12', tenant.id, { email, stepUp }), 428, 'challenge_required');
  });

  it('a forged or altered proof of work is refused with a new challenge', async () => {
    const host = await startHost({ GUEST_STEP_UP_AFTER_PER_HOUR: '1', STEP_UP_POW_MAX_NUMBER: '5000' });
    const tenant = await createTenant(host);
    const email = 'forged@example.com';
    await sendFrom(host, '127.0.0.11', tenant.id, { email });
    const asked = await expectErrorOf(sendFrom(host, '127.0.0.12', tenant.id, { email }), 428, 'challenge_required');
    const stepUp = JSON.parse(Buffer.from(await solve(asked.body), 'base64').toString()) as Record<string, unknown>;
    const altered = Buffer.from(JSON.stringify({ ...stepUp, number: Number(stepUp.number) + 1 })).toString('base64');
    await expectErrorOf(sendFrom(host, '127.0.0.12', tenant.id, { email, stepUp: altered }), 428, 'challenge_required');
    await expectErrorOf(sendFrom(host, '127.0.0.12', tenant.id, { email, stepUp: 'not base64 json' }), 428, 'challenge_required');
  });
});

/** A local server speaking the siteverify protocol Turnstile and hCaptcha share: form POST of secret, response, remoteip. */
async function startSiteverify(secret: string, goodToken: string): Promise<{ url: string; seen: URLSearchParams[]; close: () => Promise<void> }> {
  const seen: URLSearchParams[] = [];
  const used = new Set<string>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString());
      seen.push(form);
      const token = form.get('response') ?? '';
      const success = req.method === 'POST' && form.get('secret') === secret && token === goodToken && !used.has(token);
      if (success) used.add(token);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(success ? { success: true, hostname: 'app.contoso.test' } : { success: false, 'error-codes': ['invalid-input-response'] }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/siteverify`, seen, close: () => new Promise((r) => server.close(() => r())) };
}

describe('a CAPTCHA provider behind the same step-up', () => {
  for (const provider of ['turnstile', 'hcaptcha'] as const) {
    it(`${provider}: the challenge names the site key; a token the siteverify endpoint accepts passes once`, async () => {
      const siteverify = await startSiteverify('captcha-secret', 'good-token');
      try {
        const host = await startHost({
          GUEST_STEP_UP_AFTER_PER_HOUR: '1', STEP_UP_PROVIDER: provider, CAPTCHA_SITE_KEY: 'site-key-1', CAPTCHA_SECRET: 'captcha-secret', CAPTCHA_VERIFY_URL: siteverify.url,
        });
        const tenant = await createTenant(host);
        const email = `${provider}@example.com`;
        await sendFrom(host, '127.0.0.13', tenant.id, { email });
        const asked = await expectErrorOf(sendFrom(host, '127.0.0.14', tenant.id, { email }), 428, 'challenge_required');
        expect(asked.body.challenge).toEqual({ provider, siteKey: 'site-key-1' });
        await expectErrorOf(sendFrom(host, '127.0.0.14', tenant.id, { email, stepUp: 'bad-token' }), 428, 'challenge_required');
        expect((await sendFrom(host, '127.0.0.14', tenant.id, { email, stepUp: 'good-token' })).status).toBe(202);
        expect(siteverify.seen.at(-1)?.get('remoteip')).toBe('127.0.0.14');
        await expectErrorOf(sendFrom(host, '127.0.0.15', tenant.id, { email, stepUp: 'good-token' }), 428, 'challenge_required');
      } finally {
        await siteverify.close();
      }
    });
  }
});

describe('no enumeration left', () => {
  let sendgrid: FakeSendGrid;
  beforeAll(async () => {
    sendgrid = await startFakeSendGrid();
  });
  afterAll(() => sendgrid.close());

  async function observe(answer: Promise<Answer>) {
    const { status, body, headers } = await answer;
    const names: string[] = [];
    headers.forEach((_, name) => void (name !== 'date' && names.push(name)));
    return { status, body, names: names.sort(), transactions: headers.get('x-guestpass-storage-transactions'), retryAfter: headers.get('retry-after') };
  }

  it('verify-code answers a Google guest exactly as a stranger: status, body, headers, storage transactions', async () => {
    const host = await startHost({ EMAIL_TRANSPORT: 'sendgrid', SENDGRID_API_KEY: 'SG.test', SENDGRID_BASE_URL: sendgrid.baseUrl });
    const tenant = await createTenant(host, { googleFederation: true });
    await inviteGuest(host, tenant.id, 'guest@gmail.com');
    // Both resolved (the guest's source is stored as Google), and the caches warm.
    for (const email of ['guest@gmail.com', 'stranger@gmail.com', 'warm@gmail.com']) await sendFrom(host, '127.0.0.20', tenant.id, { email });
    await verifyFrom(host, '127.0.0.21', tenant.id, { email: 'warm@gmail.com', code: '12345678' });
    for (let round = 0; round < 3; round += 1) {
      const guest = await observe(verifyFrom(host, '127.0.0.21', tenant.id, { email: 'guest@gmail.com', code: '12345678' }));
      const stranger = await observe(verifyFrom(host, '127.0.0.21', tenant.id, { email: 'stranger@gmail.com', code: '12345678' }));
      expect(guest.status).toBe(401);
      expect(JSON.stringify(stranger)).toBe(JSON.stringify(guest));
    }
  });

  it('a mail outage is no oracle: guests and strangers get the same 202 before, during and after it, and a guest\'s unsent code still counts on its history', async () => {
    const host = await startHost({ EMAIL_TRANSPORT: 'sendgrid', SENDGRID_API_KEY: 'SG.test', SENDGRID_BASE_URL: sendgrid.baseUrl, TENANT_CACHE_SECONDS: '60' });
    const tenant = await createTenant(host);
    await inviteGuest(host, tenant.id, 'guest@example.com');
    await inviteGuest(host, tenant.id, 'first@example.com');
    await sendFrom(host, '127.0.0.22', tenant.id, { email: 'warm-up@example.com' });
    sendgrid.respondWith(500);
    try {
      // A canary before the target, as the old outage window allowed: nothing tells them apart.
      expect((await sendFrom(host, '127.0.0.22', tenant.id, { email: 'first@example.com' })).status).toBe(202);
      for (let round = 0; round < 3; round += 1) {
        const guest = await observe(sendFrom(host, `127.0.0.${30 + round}`, tenant.id, { email: 'guest@example.com' }));
        const stranger = await observe(sendFrom(host, `127.0.0.${30 + round}`, tenant.id, { email: `stranger${round}@example.com` }));
        expect(guest.status).toBe(202);
        // Each attempt handle is new and random; that it is there is what counts.
        const withoutHandle = (answer: typeof guest) => ({ ...answer, body: { ...(answer.body as Record<string, unknown>), attempt: typeof (answer.body as Record<string, unknown>).attempt } });
        expect(withoutHandle(stranger)).toEqual(withoutHandle(guest));
      }
    } finally {
      sendgrid.respondWith(202);
    }
    // The send still counts, whatever became of its mail: the cooldown applies to it.
    await expectErrorOf(sendFrom(host, '127.0.0.22', tenant.id, { email: 'first@example.com' }), 429, 'rate_limited');
  });
});

describe('a surge of wrong codes at a tenant slows strangers and locks no one out', () => {
  it("past the tenant's daily ceiling, unfamiliar callers must solve a step-up (never a refusal) and a guest's own address signs in without one", async () => {
    const host = await startHost({ TENANT_FAILED_VERIFICATIONS_PER_DAY: '3', RESEND_COOLDOWN_SECONDS: '0' });
    const tenant = await createTenant(host);
    const email = 'bounded@example.com';
    await inviteGuest(host, tenant.id, email);
    const home = '127.0.0.30';
    const first = await sendFrom(host, home, tenant.id, { email });
    expect((await verifyFrom(host, home, tenant.id, { email, code: (await mailedCodes(host, email))[0]!, attempt: first.body.attempt })).status).toBe(200);

    for (const address of ['127.0.0.31', '127.0.0.32', '127.0.0.33']) {
      const sent = await sendFrom(host, address, tenant.id, { email: `other-${address}@example.com` });
      await expectErrorOf(verifyFrom(host, address, tenant.id, { email: `other-${address}@example.com`, code: '12345678', attempt: sent.body.attempt }), 401, 'invalid_code');
    }
    // The tenant's three unfamiliar wrong codes of the day are spent: a caller that is not the guest's own is slowed by a step-up, not refused.
    const asked = await expectErrorOf(verifyFrom(host, '127.0.0.34', tenant.id, { email, code: '12345678' }), 428, 'challenge_required');
    await expectErrorOf(verifyFrom(host, '127.0.0.34', tenant.id, { email, code: '12345678', stepUp: await solve(asked.body) }), 401, 'invalid_code');
    // The guest, from the address it signed in from before, is not held by the ceiling.
    const again = await sendFrom(host, home, tenant.id, { email });
    expect((await verifyFrom(host, home, tenant.id, { email, code: (await mailedCodes(host, email))[0]!, attempt: again.body.attempt })).status).toBe(200);
  });
});

describe('bounded writes', () => {
  /** Every row this host's storage holds: the guests table and the day tables of limits. */
  async function storedRows(prefix: string): Promise<number> {
    const rt = await testRuntime({ TABLE_PREFIX: prefix });
    let rows = 0;
    for await (const _ of rt.tables.guests.listEntities()) rows += 1;
    const { service, open } = tableOpener(rt.tables);
    for await (const table of service().listTables()) {
      if (!table.name?.startsWith(`${prefix}limits`)) continue;
      for await (const _ of open(table.name).listEntities()) rows += 1;
    }
    return rows;
  }

  it('1,000 refused calls write no row; once an instance has refused an address, its calls cost no storage transaction', async () => {
    const host = await startHost({ SEND_CODE_PER_IP_PER_HOUR: '2', FAILED_VERIFICATIONS_PER_IP_PER_HOUR: '2' });
    const tenant = await createTenant(host);
    const from = '127.0.0.40';
    for (let i = 0; i < 2; i += 1) expect((await sendFrom(host, from, tenant.id, { email: `warm-${i}@example.com` })).status).toBe(202);
    for (let i = 0; i < 2; i += 1) expect((await verifyFrom(host, from, tenant.id, { email: `warm-${i}@example.com`, code: '12345678' })).status).toBe(401);
    const refuse = async (i: number) => {
      const answer = i % 2
        ? await sendFrom(host, from, tenant.id, { email: `flood-${i}@example.com` })
        : await verifyFrom(host, from, tenant.id, { email: `flood-${i}@example.com`, code: '12345678' });
      expect(answer.status).toBe(429);
      return Number(answer.headers.get('x-guestpass-storage-transactions'));
    };
    const firstTen = await inPool(Array.from({ length: 10 }, (_, i) => () => refuse(i)), 4);
    const before = await storedRows(host.settings.TABLE_PREFIX!);
    const rest = await inPool(Array.from({ length: 990 }, (_, i) => () => refuse(10 + i)), 8);
    expect(await storedRows(host.settings.TABLE_PREFIX!)).toBe(before);
    // The first refusals read the guest's rows and take back the slot they reserved (insert, count, delete, count),
    // some also the tenant's counters (their read every TENANT_CACHE_SECONDS, a lease of the tenant's hour);
    // every later one is answered from the instance's memory.
    expect(Math.max(...firstTen)).toBeLessThanOrEqual(9);
    expect(Math.max(...rest)).toBeLessThanOrEqual(1);
  }, 120_000);

  it("past the tenant's hour of codes for unfamiliar addresses, 300 more strangers write no row, and a guest's own address still gets its code", async () => {
    const host = await startHost({ TENANT_UNFAMILIAR_SEND_CODES_PER_HOUR: '4', RESEND_COOLDOWN_SECONDS: '0' });
    const tenant = await createTenant(host, { googleFederation: true });
    const email = 'regular@example.com';
    await inviteGuest(host, tenant.id, email);
    const home = '127.0.0.60';
    // The guest's first code is asked for from an address it never signed in from: it counts (1 of 4).
    const first = await sendFrom(host, home, tenant.id, { email });
    expect((await verifyFrom(host, home, tenant.id, { email, code: (await mailedCodes(host, email))[0]!, attempt: first.body.attempt })).status).toBe(200);
    // Three strangers (2, 3 and 4 of 4), one a Gmail address the tenant federates: answered 202 as any address is.
    for (const address of ['127.0.0.61', '127.0.0.62']) expect((await sendFrom(host, address, tenant.id, { email: `new-${address}@example.com` })).status).toBe(202);
    expect((await sendFrom(host, '127.0.0.63', tenant.id, { email: 'someone@gmail.com' })).status).toBe(202);

    const before = await storedRows(host.settings.TABLE_PREFIX!);
    const refusals = await inPool(attackers(300).map((address, i) => () =>
      expectErrorOf(sendFrom(host, address, tenant.id, { email: i % 3 ? `flood-${i}@example.com` : i % 2 ? `flood-${i}@gmail.com` : email }), 429, 'rate_limited'),
    ), 8);
    expect(await storedRows(host.settings.TABLE_PREFIX!)).toBe(before);
    // The guest from a new network and a stranger are answered alike, with the rest of the hour to wait.
    const [guestAway, stranger] = [refusals[0]!, refusals[1]!];
    expect(guestAway.body).toEqual(stranger.body);
    expect(Number(stranger.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(stranger.headers.get('retry-after'))).toBeLessThanOrEqual(3600);

    const again = await sendFrom(host, home, tenant.id, { email });
    expect(again.status).toBe(202);
    expect((await verifyFrom(host, home, tenant.id, { email, code: (await mailedCodes(host, email))[0]!, attempt: again.body.attempt })).status).toBe(200);
  }, 120_000);

  it("strangers never push a guest's events out of the sign-in log nor bury them", async () => {
    const host = await startHost({});
    const tenant = await createTenant(host);
    const guest = await inviteGuest(host, tenant.id, 'logged@example.com');
    const sent = await sendFrom(host, '127.0.0.50', tenant.id, { email: 'logged@example.com' });
    await verifyFrom(host, '127.0.0.50', tenant.id, { email: 'logged@example.com', code: (await mailedCodes(host, 'logged@example.com'))[0]!, attempt: sent.body.attempt });
    await inPool(attackers(60).map((address, i) => async () => {
      const stranger = await sendFrom(host, address, tenant.id, { email: `stranger-${i}@example.com` });
      await verifyFrom(host, address, tenant.id, { email: `stranger-${i}@example.com`, code: '12345678', attempt: stranger.body.attempt });
    }), 8);
    const log = (await (await host.manage(`/tenants/${tenant.id}/sign-in-logs?$top=10`)).json()) as { value: { userId: string | null; outcome: string }[] };
    expect(log.value.map((entry) => [entry.userId, entry.outcome])).toEqual([
      [guest.invitedUser.id, 'signed_in'],
      [guest.invitedUser.id, 'code_sent'],
    ]);
  });
});
