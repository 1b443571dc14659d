import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTenant, inviteGuest, mailQueueDrained, postJson, sendCode, startFakeSendGrid, startHost, verifyCode,
  type FakeSendGrid, type TestHost, type TestTenant,
} from './helpers.js';

const API_KEY = 'SG.test-key.0123456789';
let sendgrid: FakeSendGrid;
let host: TestHost;
let tenant: TestTenant;

beforeAll(async () => {
  sendgrid = await startFakeSendGrid();
  host = await startHost({
    EMAIL_TRANSPORT: 'sendgrid',
    SENDGRID_API_KEY: API_KEY,
    SENDGRID_BASE_URL: sendgrid.baseUrl,
    EMAIL_FROM: 'signin@contoso.test',
    EMAIL_FROM_NAME: 'Contoso sign-in',
    EMAIL_TIMEOUT_SECONDS: '2',
    // A failed mail is tried again a second later, up to 20 times (host.json's rules, overridden as app settings).
    AzureFunctionsJobHost__extensions__queues__visibilityTimeout: '00:00:01',
    AzureFunctionsJobHost__extensions__queues__maxDequeueCount: '20',
    RESEND_COOLDOWN_SECONDS: '0',
    // Tenant state (and its day's mail count) read once a minute, so two requests compared below pay the same reads.
    TENANT_CACHE_SECONDS: '60',
  });
  tenant = await createTenant(host, { displayName: 'Contoso <Partners> & "Friends"' });
});
afterAll(async () => {
  await host.stop();
  await sendgrid.close();
});

function codeIn(text: string): string {
  return /\b(\d{8})\b/.exec(text)![1]!;
}

describe('mail through SendGrid', () => {
  it('send-code makes exactly the SendGrid request a real account expects', async () => {
    sendgrid.respondWith(202);
    await inviteGuest(host, tenant.id, 'Mail.Guest@Example.com');
    const before = sendgrid.requests.length;
    expect((await sendCode(host, tenant.id, 'mail.guest@example.com')).status).toBe(202);
    await mailQueueDrained(host);
    expect(sendgrid.requests).toHaveLength(before + 1);
    const request = sendgrid.requests.at(-1)!;
    expect(request.method).toBe('POST');
    expect(request.url).toBe('/v3/mail/send');
    expect(request.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(request.headers['content-type']).toContain('application/json');
    expect(request.body.personalizations[0]!.to).toEqual([{ email: 'mail.guest@example.com' }]);
    expect(request.body.from).toEqual({ email: 'signin@contoso.test', name: 'Contoso sign-in' });
    const text = request.body.content.find((c) => c.type === 'text/plain')!.value;
    const html = request.body.content.find((c) => c.type === 'text/html')!.value;
    const code = codeIn(text);
    expect(request.body.subject).toContain(code);
    expect(html).toContain(code);
    expect(html).toContain('Contoso &lt;Partners&gt; &amp; &quot;Friends&quot;');
    expect(html).not.toContain('<Partners>');
    expect(request.body.categories).toEqual(['guestpass', 'code']);
    expect((await verifyCode(host, tenant.id, 'mail.guest@example.com', code)).status).toBe(200);
  });

  it('an invitation with sendInvitationMessage mails the redeem URL, escaped in HTML', async () => {
    sendgrid.respondWith(202);
    const before = sendgrid.requests.length;
    const invitation = await inviteGuest(host, tenant.id, 'invitee@example.com', {
      sendInvitationMessage: true,
      invitedUserMessageInfo: { customizedMessageBody: 'Welcome <b>aboard</b>' },
    });
    await mailQueueDrained(host);
    const request = sendgrid.requests[before]!;
    expect(request.body.personalizations[0]!.to).toEqual([{ email: 'invitee@example.com' }]);
    const text = request.body.content.find((c) => c.type === 'text/plain')!.value;
    const html = request.body.content.find((c) => c.type === 'text/html')!.value;
    expect(text).toContain(invitation.inviteRedeemUrl);
    expect(html).toContain(invitation.inviteRedeemUrl.replace(/&/g, '&amp;'));
    expect(html).toContain('Welcome &lt;b&gt;aboard&lt;/b&gt;');
  });

  it('a SendGrid 500 is an outage: the guest still gets 202, the mail is retried and arrives once SendGrid is back, and its code signs in', async () => {
    await inviteGuest(host, tenant.id, 'sg-down@example.com');
    sendgrid.respondWith(500);
    const before = sendgrid.requests.length;
    expect((await sendCode(host, tenant.id, 'sg-down@example.com')).status).toBe(202);
    // Tried, refused with a 500, and tried again by the queue's own rules.
    while (sendgrid.requests.length < before + 2) await new Promise((r) => setTimeout(r, 50));
    sendgrid.respondWith(202);
    const failedTries = sendgrid.requests.length - before;
    await mailQueueDrained(host);
    // Every try carried the same mail; after SendGrid came back, exactly one more.
    expect(sendgrid.requests.length - before).toBe(failedTries + 1);
    const codes = new Set(sendgrid.requests.slice(before).map((r) => codeIn(r.body.content.find((c) => c.type === 'text/plain')!.value)));
    expect(codes.size).toBe(1);
    expect((await verifyCode(host, tenant.id, 'sg-down@example.com', [...codes][0]!)).status).toBe(200);
  });

  it('no mail is sent for an address that is not a guest', async () => {
    sendgrid.respondWith(202);
    const before = sendgrid.requests.length;
    expect((await sendCode(host, tenant.id, 'uninvited@example.com')).status).toBe(202);
    await mailQueueDrained(host);
    expect(sendgrid.requests).toHaveLength(before);
  });
});

describe('storage cost per request', () => {
  const transactions = (response: Response) => Number(response.headers.get('x-guestpass-storage-transactions'));
  /** How many storage calls lay one after another (development header): calls made together count once. */
  const roundTrips = (response: Response) => Number(response.headers.get('x-guestpass-storage-round-trips'));

  // send-code: the guest partition (a query and one entity-group transaction, the expiry index beside it),
  // the day's mail cap (this instance's count; the day's total read at most once a minute), then the
  // queued mail (one Queue Storage call); a caller that is not the guest's own also takes a slot of its
  // address's hour (an insert and a count).
  it('send-code makes at most 8 transactions, verify-code at most 7 at first redemption and 5 after, and session-check exactly 1; none waits on more than 4 round trips', async () => {
    sendgrid.respondWith(202);
    // The guest follows its invitation link, whose `invitation` value the sign-in element sends until the first sign-in.
    const invitation = new URL((await inviteGuest(host, tenant.id, 'cost@example.com')).inviteRedeemUrl).searchParams.get('invitation')!;
    await host.api(`/${tenant.id}/discovery/keys`); // warms the tenant cache, as steady state has it
    const sent = await host.api(`/${tenant.id}/send-code`, postJson({ email: 'cost@example.com', invitation }));
    expect(sent.status).toBe(202);
    expect(transactions(sent)).toBeLessThanOrEqual(8);
    expect(roundTrips(sent)).toBeLessThanOrEqual(4);
    const { attempt } = (await sent.clone().json()) as { attempt: string };
    await mailQueueDrained(host);
    const code = codeIn(sendgrid.requests.at(-1)!.body.content.find((c) => c.type === 'text/plain')!.value);
    const verified = await host.api(`/${tenant.id}/verify-code`, postJson({ email: 'cost@example.com', code, attempt, invitation }));
    expect(verified.status).toBe(200);
    // The partition query, the transaction and the expiry index; at first redemption also the guest index's
    // rows for the new state before the transaction and the old state's out after it (lib/guests/guestIndex.ts).
    // A caller that is not the guest's own would also read the tenant's guess counters and take (and give back)
    // a slot of its address's hour.
    expect(transactions(verified)).toBeLessThanOrEqual(7);
    expect(roundTrips(verified)).toBeLessThanOrEqual(4);
    const { token, device } = (await verified.json()) as { token: string; device: string };
    const checked = await host.api(`/${tenant.id}/session-check`, { headers: { authorization: `Bearer ${token}` } });
    expect(checked.status).toBe(200);
    expect(transactions(checked)).toBe(1);
    // A guest who already redeemed, with the device its client keeps: state and source stay, so the index is not written.
    const again = await host.api(`/${tenant.id}/send-code`, postJson({ email: 'cost@example.com', device }));
    expect(roundTrips(again)).toBeLessThanOrEqual(4);
    await mailQueueDrained(host);
    const second = codeIn(sendgrid.requests.at(-1)!.body.content.find((c) => c.type === 'text/plain')!.value);
    const reverified = await host.api(`/${tenant.id}/verify-code`, postJson({ email: 'cost@example.com', code: second, attempt: ((await again.json()) as { attempt: string }).attempt, device }));
    expect(reverified.status).toBe(200);
    expect(transactions(reverified)).toBeLessThanOrEqual(5);
    expect(roundTrips(reverified)).toBeLessThanOrEqual(3);
  });

  it("a caller with nothing of its own waits on at most 4 round trips too: its address's slot goes out with the partition's read", async () => {
    await inviteGuest(host, tenant.id, 'new-network@example.com', { sendInvitationMessage: false });
    for (const email of ['new-network@example.com', 'nobody-here@example.com']) {
      const sent = await sendCode(host, tenant.id, email);
      expect(sent.status).toBe(202);
      expect(roundTrips(sent)).toBeLessThanOrEqual(4);
      const wrong = await verifyCode(host, tenant.id, email, '00000000');
      expect(wrong.status).toBe(401);
      expect(roundTrips(wrong)).toBeLessThanOrEqual(4);
    }
  });

  it('send-code costs the same for an invited and an uninvited address', async () => {
    await inviteGuest(host, tenant.id, 'same-cost@example.com');
    const invited = await sendCode(host, tenant.id, 'same-cost@example.com');
    const uninvited = await sendCode(host, tenant.id, 'not-invited-cost@example.com');
    expect(transactions(uninvited)).toBe(transactions(invited));
  });
});
