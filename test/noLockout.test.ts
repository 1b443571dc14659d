import { afterAll, describe, expect, it } from 'vitest';
import { attackers, expectErrorOf, guestRows, mailedCodes, sendFrom, verifyFrom, wrong, type Answer } from './attackHelpers.js';
import { createTenant, inviteGuest, mailQueueDrained, startHost, stopAllHosts, testRuntime } from './helpers.js';
import { dayTableOf } from '../lib/storage/dayTables.js';

/*
 * DESIGN §4, no anonymous lockout, and budgets that hold under concurrency. Every
 * burst is 1,000 calls at once over real HTTP from many loopback addresses (the local
 * host takes the socket address as the client's, as Azure's front end does).
 */
afterAll(() => stopAllHosts());

/** Sends a code and answers with the code mailed for it: the one mail to the address that was not there before (the queue sends in batches, in any order). */
async function sendAndRead(host: Parameters<typeof sendFrom>[0], email: string, send: () => Promise<Answer>): Promise<{ sent: Answer; code: string }> {
  const before = new Set(await mailedCodes(host, email));
  const sent = await send();
  const code = (await mailedCodes(host, email)).find((c) => !before.has(c));
  if (!code) throw new Error(`no new code mailed to ${email}`);
  return { sent, code };
}

/** What a burst may be answered besides the budget's own answers: storage overwhelmed by the burst says so, and gives no verdict. */
const BUSY = '503 storage_unavailable';

const tally = (answers: Answer[]) => {
  const counts: Record<string, number> = {};
  for (const answer of answers) {
    const key = `${answer.status}${answer.body.error ? ` ${String(answer.body.error)}` : ''}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
};

/** The guest-wide row as stored: the day's compared codes and the hour's events from callers that are not the guest's own. */
async function guestWideRow(settings: Record<string, string>, tenantId: string, email: string): Promise<Record<string, unknown> | undefined> {
  const rt = await testRuntime({ TABLE_PREFIX: settings.TABLE_PREFIX! });
  return (await guestRows(rt, tenantId, email)).find((row) => row.rowKey === 'otp');
}

describe("the guest's own callers: device and invitation", () => {
  it('verify-code answers a device; with it the guest signs in from a new network past the step-up ceiling and a full mail cap', async () => {
    // Settings: RESEND_COOLDOWN_SECONDS 0, GUEST_STEP_UP_AFTER_PER_HOUR 2, MAIL_DAILY_CAP_PER_TENANT 6.
    const host = await startHost({ RESEND_COOLDOWN_SECONDS: '0', GUEST_STEP_UP_AFTER_PER_HOUR: '2', MAIL_DAILY_CAP_PER_TENANT: '6' });
    const tenant = await createTenant(host);
    const email = 'traveller@example.com';
    await inviteGuest(host, tenant.id, email, { sendInvitationMessage: false });
    const first = await sendFrom(host, '127.0.0.2', tenant.id, { email });
    const signedIn = await verifyFrom(host, '127.0.0.2', tenant.id, { email, code: (await mailedCodes(host, email))[0]!, attempt: first.body.attempt });
    expect(signedIn.status).toBe(200);
    const device = signedIn.body.device as string;
    expect(device).toMatch(/^[A-Za-z0-9_-]{32}$/);

    // Strangers from many networks ask for the guest's codes until the ceiling asks them for a
    // step-up, and fill the tenant's mail cap with other addresses' codes.
    for (const address of attackers(3)) await sendFrom(host, address, tenant.id, { email });
    await expectErrorOf(sendFrom(host, '127.0.9.9', tenant.id, { email }), 428, 'challenge_required');
    let full: Answer | undefined;
    for (const [i, address] of attackers(8).entries()) {
      await inviteGuest(host, tenant.id, `filler-${i}@example.com`, { sendInvitationMessage: false });
      const answer = await sendFrom(host, address, tenant.id, { email: `filler-${i}@example.com` });
      if (answer.status === 429) full = answer;
    }
    expect(full?.body.error).toBe('mail_cap_reached');

    // The guest, on a new network, shows its device: no step-up, no cap, its code arrives and signs it in.
    const { sent: away, code: awayCode } = await sendAndRead(host, email, () => sendFrom(host, '127.0.5.5', tenant.id, { email, device }));
    expect(away.status).toBe(202);
    const again = await verifyFrom(host, '127.0.5.5', tenant.id, { email, code: awayCode, attempt: away.body.attempt, device });
    expect(again.status).toBe(200);
    // The same device value comes back: the browser keeps one per tenant and address.
    expect(again.body.device).toBe(device);
    // A made-up device is no one's: the stranger's answers stay.
    await expectErrorOf(sendFrom(host, '127.0.5.6', tenant.id, { email, device: 'x'.repeat(32) }), 428, 'challenge_required');
  });

  it("the invitation link's value marks a pending guest's calls as its own until the first sign-in", async () => {
    const host = await startHost({ RESEND_COOLDOWN_SECONDS: '0', GUEST_STEP_UP_AFTER_PER_HOUR: '2' });
    const tenant = await createTenant(host);
    const email = 'newcomer@example.com';
    const invitation = await inviteGuest(host, tenant.id, email, { sendInvitationMessage: false });
    const link = new URL(invitation.inviteRedeemUrl);
    expect(link.searchParams.get('tenant')).toBe(tenant.id);
    expect(link.searchParams.get('login_hint')).toBe(email);
    const value = link.searchParams.get('invitation')!;
    expect(value).toMatch(/^[A-Za-z0-9_-]{32}$/);
    // Inviting again (a resend) gives the same link.
    expect(new URL((await inviteGuest(host, tenant.id, email, { sendInvitationMessage: false })).inviteRedeemUrl).searchParams.get('invitation')).toBe(value);

    for (const address of attackers(3)) await sendFrom(host, address, tenant.id, { email });
    await expectErrorOf(sendFrom(host, '127.0.7.7', tenant.id, { email }), 428, 'challenge_required');
    const { sent, code } = await sendAndRead(host, email, () => sendFrom(host, '127.0.7.7', tenant.id, { email, invitation: value }));
    expect(sent.status).toBe(202);
    const signedIn = await verifyFrom(host, '127.0.7.7', tenant.id, { email, code, attempt: sent.body.attempt, invitation: value });
    expect(signedIn.status).toBe(200);
    // Signed in: the invitation has done its work and marks no one any more.
    await expectErrorOf(sendFrom(host, '127.0.7.8', tenant.id, { email, invitation: value }), 428, 'challenge_required');
  });

  it('blocking a guest forgets its devices and addresses; resetting its redemption voids its invitation link', async () => {
    const host = await startHost({ RESEND_COOLDOWN_SECONDS: '0', GUEST_STEP_UP_AFTER_PER_HOUR: '2' });
    const tenant = await createTenant(host);
    const email = 'forgotten@example.com';
    const invitation = await inviteGuest(host, tenant.id, email, { sendInvitationMessage: false });
    const value = new URL(invitation.inviteRedeemUrl).searchParams.get('invitation')!;
    const sent = await sendFrom(host, '127.0.0.2', tenant.id, { email });
    const signedIn = await verifyFrom(host, '127.0.0.2', tenant.id, { email, code: (await mailedCodes(host, email))[0]!, attempt: sent.body.attempt });
    expect(signedIn.status).toBe(200);
    const { device } = signedIn.body;
    await sendFrom(host, '127.0.8.1', tenant.id, { email });
    // Past the ceiling, the device is the guest's own...
    expect((await sendFrom(host, '127.0.8.2', tenant.id, { email, device })).status).toBe(202);
    // ...until an admin blocks the guest; unblocked, its earlier devices and addresses are strangers again.
    const user = (accountEnabled: boolean) => host.manage(`/tenants/${tenant.id}/users/${invitation.invitedUser.id}`, { method: 'PATCH', body: JSON.stringify({ accountEnabled }) });
    expect((await user(false)).status).toBe(200);
    expect((await user(true)).status).toBe(200);
    await expectErrorOf(sendFrom(host, '127.0.8.3', tenant.id, { email, device }), 428, 'challenge_required');
    await expectErrorOf(sendFrom(host, '127.0.0.2', tenant.id, { email }), 428, 'challenge_required');
    const row = (await guestRows(await testRuntime({ TABLE_PREFIX: host.settings.TABLE_PREFIX! }), tenant.id, email)).find((r) => r.rowKey === 'guest')!;
    expect([row.knownAddresses, row.knownDevices]).toEqual(['[]', '[]']);

    // A reset makes the guest pending again with a new link; the old one marks no one.
    const reset = await inviteGuest(host, tenant.id, email, { sendInvitationMessage: false, resetRedemption: true });
    const renewed = new URL(reset.inviteRedeemUrl).searchParams.get('invitation')!;
    expect(renewed).not.toBe(value);
    await expectErrorOf(sendFrom(host, '127.0.8.4', tenant.id, { email, invitation: value }), 428, 'challenge_required');
    expect((await sendFrom(host, '127.0.8.4', tenant.id, { email, invitation: renewed })).status).toBe(202);
  });

  it('a malformed, unknown or revoked device or invitation is simply not the guest\'s own: answered as a call without one, never a 400', async () => {
    const host = await startHost({ RESEND_COOLDOWN_SECONDS: '0', GUEST_STEP_UP_AFTER_PER_HOUR: '2' });
    const tenant = await createTenant(host);
    const email = 'guarded@example.com';
    const invited = await inviteGuest(host, tenant.id, email, { sendInvitationMessage: false });
    const sent = await sendFrom(host, '127.0.0.2', tenant.id, { email });
    const { device } = (await verifyFrom(host, '127.0.0.2', tenant.id, { email, code: (await mailedCodes(host, email))[0]!, attempt: sent.body.attempt })).body;
    const revoked = new URL(invited.inviteRedeemUrl).searchParams.get('invitation')!; // spent by the first sign-in
    await sendFrom(host, '127.0.6.1', tenant.id, { email });
    const bad: Record<string, unknown>[] = [
      { device: 12345 }, { device: 'x'.repeat(5000) }, { device: '!!' }, { device: '' }, { device: null },
      { device: `${device as string}x` }, { invitation: revoked }, { invitation: ['a'] }, { invitation: 'y'.repeat(300) },
    ];
    const without = await sendFrom(host, '127.0.6.2', tenant.id, { email });
    expect(without.status).toBe(428);
    for (const [i, extra] of bad.entries()) {
      const from = `127.0.6.${10 + i}`;
      // For the guest (past its step-up ceiling) and for an address that is not a guest, the answer a call without it gets.
      expect({ extra, status: (await sendFrom(host, from, tenant.id, { email, ...extra })).status }).toEqual({ extra, status: 428 });
      const plain = await sendFrom(host, from, tenant.id, { email: `nobody-${i}@example.com` });
      const carrying = await sendFrom(host, from, tenant.id, { email: `nobody-else-${i}@example.com`, ...extra });
      expect({ extra, status: carrying.status, keys: Object.keys(carrying.body) }).toEqual({ extra, status: plain.status, keys: Object.keys(plain.body) });
      await expectErrorOf(verifyFrom(host, from, tenant.id, { email: `nobody-else-${i}@example.com`, code: '12345678', attempt: carrying.body.attempt, ...extra }), 401, 'invalid_code');
    }
  });

  it('a guest keeps at most 10 devices: an eleventh sign-in forgets the oldest', async () => {
    const host = await startHost({ RESEND_COOLDOWN_SECONDS: '0', GUEST_STEP_UP_AFTER_PER_HOUR: '1000', CODES_PER_GUEST_PER_HOUR: '100' });
    const tenant = await createTenant(host);
    const email = 'many.browsers@example.com';
    await inviteGuest(host, tenant.id, email, { sendInvitationMessage: false });
    for (let i = 0; i < 11; i += 1) {
      const sent = await sendFrom(host, '127.0.0.2', tenant.id, { email });
      expect((await verifyFrom(host, '127.0.0.2', tenant.id, { email, code: (await mailedCodes(host, email))[0]!, attempt: sent.body.attempt })).status).toBe(200);
    }
    const row = (await guestRows(await testRuntime({ TABLE_PREFIX: host.settings.TABLE_PREFIX! }), tenant.id, email)).find((r) => r.rowKey === 'guest')!;
    const kept = JSON.parse(row.knownDevices as string) as string[];
    expect(kept).toHaveLength(10);
    // Only digests are kept, never a device value.
    for (const tag of kept) expect(tag).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });
});

describe('budgets hold under a burst of 1,000 concurrent calls', () => {
  it('1,000 send-codes for one guest from 1,000 addresses: at most the step-up ceiling of codes are mailed, the rest asked for a step-up', async () => {
    // Settings: GUEST_STEP_UP_AFTER_PER_HOUR 10 (the default, named), STEP_UP_POW_MAX_NUMBER 5000.
    const host = await startHost({ GUEST_STEP_UP_AFTER_PER_HOUR: '10', STEP_UP_POW_MAX_NUMBER: '5000' });
    const tenant = await createTenant(host);
    const email = 'popular@example.com';
    await inviteGuest(host, tenant.id, email, { sendInvitationMessage: false });
    const answers = await Promise.all(attackers(1000).map((address) => sendFrom(host, address, tenant.id, { email })));
    const counts = tally(answers);
    expect(counts['202'] ?? 0).toBeLessThanOrEqual(10);
    // Every other call was asked for a step-up, or told to try again in a moment: nothing else.
    expect(Object.keys(counts).filter((key) => !['202', '428 challenge_required', '429 rate_limited', BUSY].includes(key))).toEqual([]);
    await mailQueueDrained(host);
    expect((await mailedCodes(host, email)).length).toBe(counts['202'] ?? 0);
    const row = await guestWideRow(host.settings, tenant.id, email);
    expect(JSON.parse(row!.strangerTimes as string)).toHaveLength(counts['202'] ?? 0);
  }, 300_000);

  it('1,000 wrong codes for one guest from 1,000 addresses: at most the day\'s budget of codes is compared', async () => {
    // Settings: GUEST_UNFAMILIAR_GUESSES_PER_DAY 40, CODE_MAX_ATTEMPTS 1000 and GUEST_STEP_UP_AFTER_PER_HOUR /
    // TENANT_FAILED_VERIFICATIONS_PER_DAY raised, so the per-guest budget alone holds the burst.
    const host = await startHost({ GUEST_UNFAMILIAR_GUESSES_PER_DAY: '40', CODE_MAX_ATTEMPTS: '1000', GUEST_STEP_UP_AFTER_PER_HOUR: '100000', TENANT_FAILED_VERIFICATIONS_PER_DAY: '100000', DEPLOYMENT_FAILED_VERIFICATIONS_PER_DAY: '100000' });
    const tenant = await createTenant(host);
    const email = 'target@example.com';
    await inviteGuest(host, tenant.id, email, { sendInvitationMessage: false });
    // The attacker starts an attempt (the guest is mailed its code) and guesses against it from every address.
    const started = await sendFrom(host, '127.0.0.2', tenant.id, { email });
    const code = (await mailedCodes(host, email))[0]!;
    const answers = await Promise.all(attackers(1000).map((address, i) => verifyFrom(host, address, tenant.id, { email, code: wrong(code, i), attempt: started.body.attempt })));
    const counts = tally(answers);
    // A verdict is given only for a code counted first: at most 40 were compared and answered.
    expect(counts['401 invalid_code'] ?? 0).toBeLessThanOrEqual(40);
    expect(counts['401 invalid_code'] ?? 0).toBeGreaterThan(0);
    expect(Object.keys(counts).filter((key) => !['401 invalid_code', '429 too_many_attempts', BUSY].includes(key))).toEqual([]);
    // Every verdict was counted first (a call storage failed after counting was counted and got no verdict).
    expect((await guestWideRow(host.settings, tenant.id, email))!.guesses).toBeGreaterThanOrEqual(counts['401 invalid_code']!);
    // Calls that lost every race got no verdict: the rest of the day's budget, one at a time, then no more.
    let verdicts = counts['401 invalid_code']!;
    for (let i = 0; i < 80; i += 1) {
      const answer = await verifyFrom(host, `127.0.8.${i + 1}`, tenant.id, { email, code: wrong(code, 5000 + i), attempt: started.body.attempt });
      if (answer.status !== 401) break;
      verdicts += 1;
    }
    expect(verdicts).toBeLessThanOrEqual(40);
    expect((await guestWideRow(host.settings, tenant.id, email))!.guesses).toBe(40);
    // The budget is spent for strangers: the correct code from a new address is refused...
    await expectErrorOf(verifyFrom(host, '127.0.9.1', tenant.id, { email, code, attempt: started.body.attempt }), 429, 'too_many_attempts');
    // ...and the attempt is still there for the guest's own: its invitation link signs it in.
    const link = (await inviteGuest(host, tenant.id, email, { sendInvitationMessage: false })).inviteRedeemUrl;
    const invitation = new URL(link).searchParams.get('invitation')!;
    expect((await verifyFrom(host, '127.0.9.1', tenant.id, { email, code, attempt: started.body.attempt, invitation })).status).toBe(200);
  }, 300_000);

  it('1,000 send-codes from one address: at most SEND_CODE_PER_IP_PER_HOUR are admitted', async () => {
    // Settings: SEND_CODE_PER_IP_PER_HOUR 50.
    const host = await startHost({ SEND_CODE_PER_IP_PER_HOUR: '50' });
    const tenant = await createTenant(host);
    const answers = await Promise.all(Array.from({ length: 1000 }, (_, i) => sendFrom(host, '127.0.0.77', tenant.id, { email: `someone-${i}@example.com` })));
    const counts = tally(answers);
    expect(counts['202'] ?? 0).toBeLessThanOrEqual(50);
    expect(counts['202'] ?? 0).toBeGreaterThan(0);
    expect(Object.keys(counts).filter((key) => !['202', '429 rate_limited', BUSY].includes(key))).toEqual([]);
    // Refused calls took their rows back: the address's hour holds one row per admitted call (and at most one
    // per call storage failed under the burst, whose insert may have landed after the call gave up).
    const rt = await testRuntime({ TABLE_PREFIX: host.settings.TABLE_PREFIX! });
    let rows = 0;
    for await (const row of (await dayTableOf(rt.tables, 'limits', Date.now())).listEntities()) if (String(row.rowKey).startsWith('send-code_')) rows += 1;
    expect(rows).toBeGreaterThanOrEqual(counts['202']!);
    expect(rows).toBeLessThanOrEqual(counts['202']! + (counts[BUSY] ?? 0));
  }, 300_000);

  it('1,000 wrong codes from one address: at most FAILED_VERIFICATIONS_PER_IP_PER_HOUR are compared', async () => {
    // Settings: FAILED_VERIFICATIONS_PER_IP_PER_HOUR 30 (the default, named).
    const host = await startHost({ FAILED_VERIFICATIONS_PER_IP_PER_HOUR: '30' });
    const tenant = await createTenant(host);
    const answers = await Promise.all(Array.from({ length: 1000 }, (_, i) => verifyFrom(host, '127.0.0.78', tenant.id, { email: `guess-${i}@example.com`, code: '12345678' })));
    const counts = tally(answers);
    expect(counts['401 invalid_code'] ?? 0).toBeLessThanOrEqual(30);
    expect(counts['401 invalid_code'] ?? 0).toBeGreaterThan(0);
    expect(Object.keys(counts).filter((key) => !['401 invalid_code', '429 too_many_attempts', BUSY].includes(key))).toEqual([]);
  }, 300_000);
});

describe("a tenant's caps hold across instances", () => {
  it("1,000 send-codes at one tenant from 1,000 addresses over two instances: at most TENANT_UNFAMILIAR_SEND_CODES_PER_HOUR are admitted, and the guest's own still gets its code", async () => {
    // Settings: TENANT_UNFAMILIAR_SEND_CODES_PER_HOUR 40, TENANT_CACHE_SECONDS 600 (each instance reads the other's counts once), RESEND_COOLDOWN_SECONDS 0.
    const settings = { TENANT_UNFAMILIAR_SEND_CODES_PER_HOUR: '40', TENANT_CACHE_SECONDS: '600', RESEND_COOLDOWN_SECONDS: '0' };
    const one = await startHost(settings);
    const two = await startHost({ ...settings, TABLE_PREFIX: one.settings.TABLE_PREFIX! });
    const tenant = await createTenant(one);
    const pending = await inviteGuest(one, tenant.id, 'own@example.com', { sendInvitationMessage: false });
    // Both instances have read the tenant's (empty) counts of the day before the burst.
    for (const host of [one, two]) expect((await sendFrom(host, '127.0.2.1', tenant.id, { email: 'warm@example.com' })).status).toBe(202);
    const answers = await Promise.all(attackers(1000).map((address, i) => sendFrom(i % 2 ? two : one, address, tenant.id, { email: `stranger-${i}@example.com` })));
    const counts = tally(answers);
    expect((counts['202'] ?? 0) + 2).toBeLessThanOrEqual(40);
    expect(counts['202'] ?? 0).toBeGreaterThan(0);
    expect(Object.keys(counts).filter((key) => !['202', '429 rate_limited', BUSY].includes(key))).toEqual([]);
    // The cap is spent for callers that are not a guest's own, on both instances; the pending guest's invitation link is its own.
    const invitation = new URL(pending.inviteRedeemUrl).searchParams.get('invitation')!;
    for (const host of [one, two]) {
      await expectErrorOf(sendFrom(host, '127.0.2.2', tenant.id, { email: 'late@example.com' }), 429, 'rate_limited');
      expect((await sendFrom(host, '127.0.2.3', tenant.id, { email: 'own@example.com', invitation })).status).toBe(202);
    }
  }, 300_000);
});

describe('no anonymous lockout at any scope', () => {
  it("strangers' wrong codes at many tenants past the deployment's ceiling slow strangers only: every tenant's guests still sign in", async () => {
    // Settings: TENANT_FAILED_VERIFICATIONS_PER_DAY 20, DEPLOYMENT_FAILED_VERIFICATIONS_PER_DAY 40.
    const host = await startHost({ TENANT_FAILED_VERIFICATIONS_PER_DAY: '20', DEPLOYMENT_FAILED_VERIFICATIONS_PER_DAY: '40', STEP_UP_POW_MAX_NUMBER: '5000' });
    const attacked = await Promise.all([createTenant(host), createTenant(host), createTenant(host)]);
    const quiet = await createTenant(host);
    const pending = await inviteGuest(host, quiet.id, 'pending@example.com', { sendInvitationMessage: false });
    for (const [t, tenant] of attacked.entries()) {
      await Promise.all(attackers(20).map((address, i) => verifyFrom(host, address, tenant.id, { email: `nobody-${t}-${i}@nobody.example`, code: '00000000' })));
    }
    // The quiet tenant's pending guest, through its invitation link, from a network it never used: no step-up, no refusal.
    const invitation = new URL(pending.inviteRedeemUrl).searchParams.get('invitation')!;
    const sent = await sendFrom(host, '127.0.3.3', quiet.id, { email: 'pending@example.com', invitation });
    expect(sent.status).toBe(202);
    const signedIn = await verifyFrom(host, '127.0.3.3', quiet.id, { email: 'pending@example.com', code: (await mailedCodes(host, 'pending@example.com'))[0]!, attempt: sent.body.attempt, invitation });
    expect(signedIn.status).toBe(200);
    // A stranger there is slowed by a step-up, never refused.
    await expectErrorOf(verifyFrom(host, '127.0.3.4', quiet.id, { email: 'other@example.com', code: '00000000' }), 428, 'challenge_required');
  }, 300_000);
});
