import { generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { EventWebhook } from '@sendgrid/eventwebhook';
import { QueueClient } from '@azure/storage-queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTenant, expectError, inviteGuest, mailQueueDrained, sendCode, startFakeSendGrid, startHost,
  type FakeSendGrid, type TestHost, type TestTenant,
} from './helpers.js';
import { startFakeAcs, type FakeAcs } from './mailServers.js';

/**
 * Issue 15, item 4: delivery reports. SendGrid's signed Event Webhook and ACS's Event
 * Grid delivery reports move a code mail's status on from what the provider answered
 * (sent) to delivered, bounced or blocked, as the guest's sign-in log shows; calls
 * that are not signed (or signed with another key, or carry a wrong secret) are refused.
 */

interface LogEntry {
  outcome: string;
  delivery?: { status: string; reason?: string; provider: string };
}

async function codeSentEntry(host: TestHost, tenantId: string, guestId: string): Promise<LogEntry> {
  const response = await host.manage(`/tenants/${tenantId}/sign-in-logs?userId=${guestId}`);
  const entries = ((await response.json()) as { value: LogEntry[] }).value;
  return entries.find((entry) => entry.outcome === 'code_sent')!;
}

/** A SendGrid-style signing key pair: EC P-256, the public half as the base64 DER SendGrid shows. */
function signingKeys(): { privateKey: KeyObject; publicKeyBase64: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, publicKeyBase64: publicKey.export({ type: 'spki', format: 'der' }).toString('base64') };
}

/** Signs as SendGrid does: ECDSA SHA-256 over timestamp + raw body, DER, base64. */
function signed(privateKey: KeyObject, body: string, timestamp = String(Math.floor(Date.now() / 1000))) {
  return { timestamp, signature: sign('sha256', Buffer.from(timestamp + body), privateKey).toString('base64') };
}

describe("SendGrid's signed Event Webhook", () => {
  const keys = signingKeys();
  const stranger = signingKeys();
  let sendgrid: FakeSendGrid;
  let host: TestHost;
  let tenant: TestTenant;

  beforeAll(async () => {
    sendgrid = await startFakeSendGrid();
    host = await startHost({
      EMAIL_TRANSPORT: 'sendgrid', SENDGRID_API_KEY: 'SG.test-key', SENDGRID_BASE_URL: sendgrid.baseUrl,
      SENDGRID_WEBHOOK_PUBLIC_KEY: keys.publicKeyBase64,
    });
    tenant = await createTenant(host);
  });
  afterAll(async () => {
    await host?.stop();
    await sendgrid?.close();
  });

  /** Mails a code to a new guest; returns the guest and the mail id SendGrid will echo in its events. */
  async function mailedGuest(email: string): Promise<{ guestId: string; mailId: string }> {
    const guest = await inviteGuest(host, tenant.id, email);
    expect((await sendCode(host, tenant.id, email)).status).toBe(202);
    await mailQueueDrained(host);
    const body = sendgrid.requests.at(-1)!.body as unknown as { custom_args: Record<string, string> };
    return { guestId: guest.invitedUser.id, mailId: body.custom_args.guestpass_mail_id! };
  }

  /** Events as SendGrid posts them: a JSON array, the custom args as top-level fields. */
  function eventsBody(mailId: string, email: string, events: Record<string, unknown>[]): string {
    return JSON.stringify(events.map((event) => ({
      email,
      timestamp: Math.floor(Date.now() / 1000),
      'smtp-id': `<${randomUUID()}@ismtpd0001p1lon1.sendgrid.net>`,
      sg_event_id: randomUUID(),
      sg_message_id: `${randomUUID()}.filter0001p1las1-1234-5F6A7B8C-1.0`,
      category: ['guestpass', 'code'],
      guestpass_mail_id: mailId,
      ...event,
    })));
  }

  function post(body: string, headers: Record<string, string>) {
    return host.api('/mail-events/sendgrid', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  }

  function signedHeaders(body: string, privateKey = keys.privateKey) {
    const { timestamp, signature } = signed(privateKey, body);
    return { 'x-twilio-email-event-webhook-signature': signature, 'x-twilio-email-event-webhook-timestamp': timestamp };
  }

  it('the sign-in log shows the code mail sent, then delivered after a signed "delivered" event', async () => {
    const { guestId, mailId } = await mailedGuest('sg.delivered@example.com');
    expect((await codeSentEntry(host, tenant.id, guestId)).delivery).toMatchObject({ status: 'sent', provider: 'sendgrid' });
    const body = eventsBody(mailId, 'sg.delivered@example.com', [{ event: 'processed' }, { event: 'delivered', response: '250 2.0.0 OK' }]);
    const response = await post(body, signedHeaders(body));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ applied: 1, ignored: 0 });
    expect((await codeSentEntry(host, tenant.id, guestId)).delivery).toMatchObject({ status: 'delivered', provider: 'sendgrid' });
  });

  it('a bounce makes it bounced, a bounce of type blocked and a drop make it blocked, each with its reason', async () => {
    const cases = [
      [{ event: 'bounce', type: 'bounce', reason: '550 5.1.1 The email account does not exist', status: '5.1.1' }, 'bounced', '550 5.1.1'],
      [{ event: 'bounce', type: 'blocked', reason: '554 5.7.1 Service unavailable; client host blocked', status: '5.7.1' }, 'blocked', '554 5.7.1'],
      [{ event: 'dropped', reason: 'Bounced Address' }, 'blocked', 'Bounced Address'],
    ] as const;
    for (const [index, [event, status, reason]] of cases.entries()) {
      const email = `sg.fate${index}@example.com`;
      const { guestId, mailId } = await mailedGuest(email);
      const body = eventsBody(mailId, email, [event]);
      expect((await post(body, signedHeaders(body))).status).toBe(200);
      const { delivery } = await codeSentEntry(host, tenant.id, guestId);
      expect(delivery?.status).toBe(status);
      expect(delivery?.reason).toContain(reason);
    }
  });

  it('unsigned, mis-signed and tampered posts are refused with 401 and change nothing', async () => {
    const { guestId, mailId } = await mailedGuest('sg.forged@example.com');
    const body = eventsBody(mailId, 'sg.forged@example.com', [{ event: 'bounce', type: 'bounce', reason: 'forged' }]);
    await expectError(await post(body, {}), 401, 'invalid_signature');
    await expectError(await post(body, signedHeaders(body, stranger.privateKey)), 401, 'invalid_signature');
    const genuine = signedHeaders(body);
    await expectError(await post(body.replace('forged', 'forget'), genuine), 401, 'invalid_signature');
    await expectError(await post(body, { ...genuine, 'x-twilio-email-event-webhook-timestamp': String(Number(genuine['x-twilio-email-event-webhook-timestamp']) + 1) }), 401, 'invalid_signature');
    await expectError(await post(body, { ...genuine, 'x-twilio-email-event-webhook-signature': 'bm90IGEgc2lnbmF0dXJl' }), 401, 'invalid_signature');
    expect((await codeSentEntry(host, tenant.id, guestId)).delivery?.status).toBe('sent');
  });

  it('a correctly signed post older than five minutes (a replay) is refused with 401 and changes nothing', async () => {
    const { guestId, mailId } = await mailedGuest('sg.replayed@example.com');
    const body = eventsBody(mailId, 'sg.replayed@example.com', [{ event: 'bounce', type: 'bounce', reason: 'replayed' }]);
    const threeYearsAgo = String(Math.floor(Date.now() / 1000) - 3 * 365 * 86_400);
    const sixMinutesAgo = String(Math.floor(Date.now() / 1000) - 6 * 60);
    for (const timestamp of [threeYearsAgo, sixMinutesAgo]) {
      const { signature } = signed(keys.privateKey, body, timestamp);
      // SendGrid's own verifier accepts the signature: only its age refuses it.
      expect(new EventWebhook().verifySignature(new EventWebhook().convertPublicKeyToECDSA(keys.publicKeyBase64), body, signature, timestamp)).toBe(true);
      await expectError(await post(body, { 'x-twilio-email-event-webhook-signature': signature, 'x-twilio-email-event-webhook-timestamp': timestamp }), 401, 'invalid_signature');
    }
    expect((await codeSentEntry(host, tenant.id, guestId)).delivery?.status).toBe('sent');
  });

  it("verifies exactly as SendGrid's own verifier (@sendgrid/eventwebhook) does", async () => {
    const verifier = new EventWebhook();
    const publicKey = verifier.convertPublicKeyToECDSA(keys.publicKeyBase64);
    const { mailId } = await mailedGuest('sg.same@example.com');
    const body = eventsBody(mailId, 'sg.same@example.com', [{ event: 'deferred', response: '451 try later' }]);
    const good = signed(keys.privateKey, body);
    const cases = [
      { body, ...good },
      { body, ...signed(stranger.privateKey, body) },
      { body: `${body} `, ...good },
      { body, timestamp: `${good.timestamp}0`, signature: good.signature },
    ];
    for (const c of cases) {
      const sendGridSays = verifier.verifySignature(publicKey, c.body, c.signature, c.timestamp);
      const response = await post(c.body, { 'x-twilio-email-event-webhook-signature': c.signature, 'x-twilio-email-event-webhook-timestamp': c.timestamp });
      expect(response.status, JSON.stringify(c).slice(0, 80)).toBe(sendGridSays ? 200 : 401);
    }
  });

  it('without SENDGRID_WEBHOOK_PUBLIC_KEY every post is refused', async () => {
    const bare = await startHost({ EMAIL_TRANSPORT: 'sendgrid', SENDGRID_API_KEY: 'SG.test-key', SENDGRID_BASE_URL: sendgrid.baseUrl });
    try {
      const body = eventsBody(randomUUID(), 'x@example.com', [{ event: 'delivered' }]);
      const headers = signedHeaders(body);
      await expectError(await bare.api('/mail-events/sendgrid', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body }), 401, 'invalid_signature');
    } finally {
      await bare.stop();
    }
  });
});

describe('ACS delivery reports through Event Grid', () => {
  const SECRET = 'acs-events-secret-0123456789-abcdefghij';
  let acs: FakeAcs;
  let host: TestHost;
  let tenant: TestTenant;

  beforeAll(async () => {
    acs = await startFakeAcs();
    host = await startHost({ EMAIL_TRANSPORT: 'acs', ACS_CONNECTION_STRING: acs.connectionString, NODE_EXTRA_CA_CERTS: acs.caFile, ACS_EVENTS_SECRET: SECRET });
    tenant = await createTenant(host);
  });
  afterAll(async () => {
    await host?.stop();
    await acs?.close();
  });

  const TOPIC = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-guestpass/providers/microsoft.communication/communicationservices/acs-guestpass';

  /** An EmailDeliveryReportReceived event in the Event Grid schema, as Event Grid posts it (an array). */
  function deliveryReport(messageId: string, recipient: string, status: string, statusMessage?: string) {
    return {
      id: randomUUID(),
      topic: TOPIC,
      subject: `sender/DoNotReply@contoso.azurecomm.net/message/${messageId}`,
      data: {
        sender: 'DoNotReply@contoso.azurecomm.net',
        recipient,
        messageId,
        status,
        deliveryStatusDetails: { statusMessage: statusMessage ?? 'No error.' },
        deliveryAttemptTimeStamp: new Date().toISOString(),
      },
      eventType: 'Microsoft.Communication.EmailDeliveryReportReceived',
      dataVersion: '1.0',
      metadataVersion: '1',
      eventTime: new Date().toISOString(),
    };
  }

  /** `null`: no secret in the URL at all. */
  function post(events: unknown[], secret: string | null = SECRET) {
    const query = secret === null ? '' : `?secret=${encodeURIComponent(secret)}`;
    return host.api(`/mail-events/acs${query}`, { method: 'POST', headers: { 'content-type': 'application/json', 'aeg-event-type': 'Notification' }, body: JSON.stringify(events) });
  }

  async function mailedGuest(email: string): Promise<{ guestId: string; messageId: string }> {
    const guest = await inviteGuest(host, tenant.id, email);
    expect((await sendCode(host, tenant.id, email)).status).toBe(202);
    await mailQueueDrained(host);
    return { guestId: guest.invitedUser.id, messageId: acs.sends.at(-1)!.operationId };
  }

  it("answers Event Grid's subscription validation handshake, only with the secret", async () => {
    const validation = {
      id: randomUUID(),
      topic: TOPIC,
      subject: '',
      data: { validationCode: '512d38b6-c7b8-40c8-89fe-f46f9e9622b6', validationUrl: 'https://rp-eastus2.eventgrid.azure.net:553/eventsubscriptions/guestpass/validate?id=512d38b6' },
      eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent',
      eventTime: new Date().toISOString(),
      metadataVersion: '1',
      dataVersion: '2',
    };
    const response = await post([validation]);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ validationResponse: '512d38b6-c7b8-40c8-89fe-f46f9e9622b6' });
    await expectError(await post([validation], null), 401, 'invalid_signature');
    await expectError(await post([validation], 'wrong-secret'), 401, 'invalid_signature');
  });

  it('Delivered, Bounced and Suppressed reports make the code mail delivered, bounced and blocked', async () => {
    for (const [status, expected] of [['Delivered', 'delivered'], ['Bounced', 'bounced'], ['Suppressed', 'blocked']] as const) {
      const email = `acs.${status.toLowerCase()}@example.com`;
      const { guestId, messageId } = await mailedGuest(email);
      expect((await codeSentEntry(host, tenant.id, guestId)).delivery).toMatchObject({ status: 'sent', provider: 'acs' });
      const response = await post([deliveryReport(messageId, email, status, status === 'Delivered' ? undefined : `${status} by the recipient's server`)]);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ applied: 1, ignored: 0 });
      const { delivery } = await codeSentEntry(host, tenant.id, guestId);
      expect(delivery?.status).toBe(expected);
      if (expected !== 'delivered') expect(delivery?.reason).toBe(`${status} by the recipient's server`);
    }
  });

  it('a report whose eventTime is more than five minutes old (a replay), or that has none, is refused with 401 and changes nothing', async () => {
    const email = 'acs.replayed@example.com';
    const { guestId, messageId } = await mailedGuest(email);
    const old = { ...deliveryReport(messageId, email, 'Bounced'), eventTime: new Date(Date.now() - 6 * 60_000).toISOString() };
    await expectError(await post([old]), 401, 'invalid_signature');
    const { eventTime: _, ...timeless } = deliveryReport(messageId, email, 'Bounced');
    await expectError(await post([timeless]), 401, 'invalid_signature');
    // One old event spoils the delivery it is in: nothing of it is applied.
    await expectError(await post([deliveryReport(messageId, email, 'Bounced'), old]), 401, 'invalid_signature');
    expect((await codeSentEntry(host, tenant.id, guestId)).delivery?.status).toBe('sent');
    // A fresh one is applied.
    expect((await post([deliveryReport(messageId, email, 'Delivered')])).status).toBe(200);
    expect((await codeSentEntry(host, tenant.id, guestId)).delivery?.status).toBe('delivered');
  });

  it('a report without the secret, or with a wrong one, is refused with 401 and changes nothing', async () => {
    const { guestId, messageId } = await mailedGuest('acs.forged@example.com');
    const report = deliveryReport(messageId, 'acs.forged@example.com', 'Bounced', 'forged');
    await expectError(await post([report], null), 401, 'invalid_signature');
    await expectError(await post([report], `${SECRET}x`), 401, 'invalid_signature');
    expect((await codeSentEntry(host, tenant.id, guestId)).delivery?.status).toBe('sent');
  });

  it('reports that Event Grid writes to the ACS events queue (as the Bicep subscription has it) are applied by the queue trigger', async () => {
    const { guestId, messageId } = await mailedGuest('acs.queued@example.com');
    const queue = new QueueClient(host.settings.AzureWebJobsStorage!, host.settings.ACS_EVENTS_QUEUE_NAME!);
    await queue.createIfNotExists();
    // Event Grid's Storage Queue destination: one event a message, in Event Grid schema, base64-encoded.
    const report = deliveryReport(messageId, 'acs.queued@example.com', 'Bounced', 'Mailbox full');
    await queue.sendMessage(Buffer.from(JSON.stringify(report)).toString('base64'));
    const deadline = Date.now() + 20_000;
    while ((await codeSentEntry(host, tenant.id, guestId)).delivery?.status !== 'bounced') {
      if (Date.now() > deadline) throw new Error('the queued report was not applied');
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await codeSentEntry(host, tenant.id, guestId)).delivery).toMatchObject({ status: 'bounced', reason: 'Mailbox full' });
  });

  it('reports about mails guestpass does not know are acknowledged and ignored', async () => {
    const response = await post([deliveryReport(randomUUID(), 'someone@example.com', 'Delivered')]);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ applied: 0, ignored: 1 });
  });
});
