import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTenant, inviteGuest, mailQueueDrained, sendCode, startFakeSendGrid, startHost, verifyCode,
  type FakeSendGrid, type TestHost, type TestTenant,
} from './helpers.js';
import { startFakeAcs, startFakeSmtp, type FakeAcs, type FakeSmtp } from './mailServers.js';

/**
 * Issue 15, item 1: each provider sends the code mail and the invitation mail through
 * its real client library (@sendgrid/mail, @azure/communication-email, nodemailer) to a
 * local server speaking its protocol, and the message that arrives is checked:
 * recipient, sender, the code in the subject, both parts, every branding value escaped.
 */
const SENDER = { EMAIL_FROM: 'signin@contoso.test', EMAIL_FROM_NAME: 'Contoso sign-in' };
const BRANDING = {
  displayName: 'Contoso <Partners> & "Friends"',
  logoUrl: 'https://cdn.contoso.test/logo.png?size=2&theme="dark"',
  accentColor: '#C50F1F',
  supportContact: 'help@contoso.test',
};
const ESCAPED_NAME = 'Contoso &lt;Partners&gt; &amp; &quot;Friends&quot;';

/** What each provider's server received, in one shape. */
interface Received {
  to: string[];
  from: { address: string; name?: string };
  subject: string;
  text: string;
  html: string;
}

function brandedTenant(host: TestHost): Promise<TestTenant> {
  return createTenant(host, { displayName: 'Contoso', mail: { branding: BRANDING } });
}

function codeIn(text: string): string {
  return /\b(\d{8})\b/.exec(text)![1]!;
}

/** The code mail as it must arrive from every provider; returns the code in it. */
function expectCodeMail(mail: Received, to: string): string {
  expect(mail.to).toEqual([to]);
  expect(mail.from).toEqual({ address: SENDER.EMAIL_FROM, name: SENDER.EMAIL_FROM_NAME });
  const code = codeIn(mail.text);
  expect(mail.subject).toBe(`${code} is your ${BRANDING.displayName} verification code`);
  expect(mail.text).toContain(`Your verification code for ${BRANDING.displayName} is:\n\n${code}\n`);
  expect(mail.text).toContain('Need help? Contact help@contoso.test.');
  expect(mail.html).toContain(`>${code}</p>`);
  expectBrandingEscaped(mail.html);
  return code;
}

function expectBrandingEscaped(html: string): void {
  expect(html).toContain(`<strong>${ESCAPED_NAME}</strong>`);
  expect(html).toContain('src="https://cdn.contoso.test/logo.png?size=2&amp;theme=&quot;dark&quot;"');
  expect(html).toContain(`alt="${ESCAPED_NAME}"`);
  expect(html).toContain('border-top:4px solid #c50f1f');
  expect(html).toContain('<a href="mailto:help@contoso.test" style="color:inherit">help@contoso.test</a>');
  expect(html).not.toContain('<Partners>');
  expect(html).not.toContain('"Friends"');
}

function expectInvitationMail(mail: Received, to: string, inviteRedeemUrl: string): void {
  expect(mail.to).toEqual([to]);
  expect(mail.from).toEqual({ address: SENDER.EMAIL_FROM, name: SENDER.EMAIL_FROM_NAME });
  expect(mail.subject).toBe(`You're invited to ${BRANDING.displayName}`);
  expect(mail.text).toContain('Hello Alex <Admin>,');
  expect(mail.text).toContain(`Accept the invitation: ${inviteRedeemUrl}`);
  expect(mail.text).toContain('Bring <your> badge');
  expect(mail.html).toContain('Hello Alex &lt;Admin&gt;,');
  expect(mail.html).toContain(`href="${inviteRedeemUrl.replace(/&/g, '&amp;')}"`);
  expect(mail.html).toContain('Bring &lt;your&gt; badge');
  expectBrandingEscaped(mail.html);
}

const INVITATION = { sendInvitationMessage: true, invitedUserDisplayName: 'Alex <Admin>', invitedUserMessageInfo: { customizedMessageBody: 'Bring <your> badge' } };

interface LogEntry {
  event: string;
  outcome: string;
  delivery?: { status: string; reason?: string; provider: string; updatedAt: string };
}

/** The guest's sign-in log, newest first. */
async function signInLog(host: TestHost, tenantId: string, guestId: string): Promise<LogEntry[]> {
  const response = await host.manage(`/tenants/${tenantId}/sign-in-logs?userId=${guestId}`);
  expect(response.status).toBe(200);
  return ((await response.json()) as { value: LogEntry[] }).value;
}

/** The newest code mail's fate in the guest's sign-in log, once the send-mail trigger has recorded `status`. */
async function codeMailFate(host: TestHost, tenantId: string, guestId: string, status: string): Promise<NonNullable<LogEntry['delivery']>> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const delivery = (await signInLog(host, tenantId, guestId)).find((entry) => entry.outcome === 'code_sent')?.delivery;
    if (delivery?.status === status) return delivery;
    if (Date.now() > deadline) throw new Error(`the code mail is ${delivery?.status} (${delivery?.reason}), not ${status}: ${host.output.slice(-8).join(' / ')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('Azure Communication Services, through @azure/communication-email', () => {
  let acs: FakeAcs;
  let host: TestHost;
  let tenant: TestTenant;

  beforeAll(async () => {
    acs = await startFakeAcs();
    host = await startHost({ EMAIL_TRANSPORT: 'acs', ACS_CONNECTION_STRING: acs.connectionString, NODE_EXTRA_CA_CERTS: acs.caFile, ...SENDER });
    tenant = await brandedTenant(host);
  });
  afterAll(async () => {
    await host?.stop();
    await acs?.close();
  });

  const received = (index: number): Received => {
    const { body } = acs.sends[index]!;
    return {
      to: body.recipients.to.map((r) => r.address),
      // ACS takes the sender's display name from the domain's sender username, not from the request.
      from: { address: body.senderAddress, name: SENDER.EMAIL_FROM_NAME },
      subject: body.content.subject,
      text: body.content.plainText ?? '',
      html: body.content.html ?? '',
    };
  };

  it('sends the code mail signed with the access key, polls its status, and the code signs in', async () => {
    const guest = await inviteGuest(host, tenant.id, 'acs.guest@example.com');
    const before = acs.sends.length;
    expect((await sendCode(host, tenant.id, 'acs.guest@example.com')).status).toBe(202);
    await mailQueueDrained(host);
    expect(acs.rejected).toEqual([]);
    expect(acs.sends).toHaveLength(before + 1);
    const send = acs.sends[before]!;
    expect(send.apiVersion).toMatch(/^\d{4}-\d{2}-\d{2}/);
    expect(send.operationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(send.body.headers).toEqual({ 'Auto-Submitted': 'auto-generated', 'X-Auto-Response-Suppress': 'All' });
    expect(send.body.userEngagementTrackingDisabled).toBe(true);
    expect(acs.statusPolls).toContain(send.operationId);
    const code = expectCodeMail(received(before), 'acs.guest@example.com');
    expect((await verifyCode(host, tenant.id, 'acs.guest@example.com', code)).status).toBe(200);

    const sent = (await signInLog(host, tenant.id, guest.invitedUser.id)).find((entry) => entry.outcome === 'code_sent')!;
    expect(sent.delivery).toMatchObject({ status: 'sent', provider: 'acs' });
  });

  it('sends the invitation mail', async () => {
    const before = acs.sends.length;
    const invitation = await inviteGuest(host, tenant.id, 'acs.invitee@example.com', INVITATION);
    await mailQueueDrained(host);
    expectInvitationMail(received(before), 'acs.invitee@example.com', invitation.inviteRedeemUrl);
  });

  it('an operation ACS fails is still a 202 for the guest; the code mail is refused, with its reason, in one log entry', async () => {
    const guest = await inviteGuest(host, tenant.id, 'acs.suppressed@example.com');
    acs.finishWith({ failed: 'All recipients are on the suppression list.' });
    try {
      expect((await sendCode(host, tenant.id, 'acs.suppressed@example.com')).status).toBe(202);
      await mailQueueDrained(host);
    } finally {
      acs.finishWith('Succeeded');
    }
    const log = await signInLog(host, tenant.id, guest.invitedUser.id);
    expect(log.map((entry) => entry.outcome)).toEqual(['code_sent']);
    const refused = log[0]!.delivery!;
    expect(refused, host.output.slice(-6).join('\n')).toMatchObject({ status: 'refused' });
    expect(refused.reason).toContain('All recipients are on the suppression list.');
  });

  it('a wrong access key is refused by the server (401): the guest still gets 202, the mail is refused', async () => {
    const wrongKey = `endpoint=${acs.endpoint}/;accesskey=${Buffer.from('not the key of this resource').toString('base64')}`;
    const other = await startHost({ EMAIL_TRANSPORT: 'acs', ACS_CONNECTION_STRING: wrongKey, NODE_EXTRA_CA_CERTS: acs.caFile, ...SENDER });
    try {
      const otherTenant = await createTenant(other);
      const guest = await inviteGuest(other, otherTenant.id, 'acs.wrongkey@example.com');
      const rejectedBefore = acs.rejected.length;
      expect((await sendCode(other, otherTenant.id, 'acs.wrongkey@example.com')).status).toBe(202);
      expect((await codeMailFate(other, otherTenant.id, guest.invitedUser.id, 'refused')).reason).toMatch(/ACS answered 401/);
      expect(acs.rejected.length).toBeGreaterThan(rejectedBefore);
      expect(acs.rejected.at(-1)!.reason).toBe('signature does not verify');
    } finally {
      await other.stop();
    }
  });
});

describe('SMTP, through nodemailer', () => {
  const USER = 'guestpass';
  const PASSWORD = 'p@ss:word/with#specials';
  let smtp: FakeSmtp;
  let host: TestHost;
  let tenant: TestTenant;
  const smtpUrl = (port: number, password = PASSWORD) => `smtp://${USER}:${encodeURIComponent(password)}@localhost:${port}`;

  beforeAll(async () => {
    smtp = await startFakeSmtp({ user: USER, password: PASSWORD });
    // The server's certificate is trusted the way a deployment would trust a private CA.
    host = await startHost({ EMAIL_TRANSPORT: 'smtp', SMTP_URL: smtpUrl(smtp.port), NODE_EXTRA_CA_CERTS: smtp.caFile, ...SENDER });
    tenant = await brandedTenant(host);
  });
  afterAll(async () => {
    await host?.stop();
    await smtp?.close();
  });

  const received = (index: number): Received => {
    const { parsed } = smtp.received[index]!;
    const from = parsed.from!.value[0]!;
    return {
      to: (Array.isArray(parsed.to) ? parsed.to : [parsed.to!]).flatMap((to) => to.value.map((v) => v.address!)),
      from: { address: from.address!, name: from.name },
      subject: parsed.subject ?? '',
      text: parsed.text ?? '',
      html: typeof parsed.html === 'string' ? parsed.html : '',
    };
  };

  it('sends the code mail over STARTTLS with AUTH, with Date, Message-ID and Auto-Submitted, and the code signs in', async () => {
    await inviteGuest(host, tenant.id, 'smtp.guest@example.com');
    const before = smtp.received.length;
    const asked = Date.now();
    expect((await sendCode(host, tenant.id, 'smtp.guest@example.com')).status).toBe(202);
    await mailQueueDrained(host);
    expect(smtp.received).toHaveLength(before + 1);
    const arrived = smtp.received[before]!;
    expect(arrived.secure).toBe(true);
    expect(arrived.user).toBe(USER);
    expect(arrived.envelope).toEqual({ from: SENDER.EMAIL_FROM, to: ['smtp.guest@example.com'] });
    const { parsed } = arrived;
    expect(Math.abs(parsed.date!.getTime() - asked)).toBeLessThan(60_000);
    expect(parsed.messageId).toMatch(/^<[0-9a-f-]{36}@contoso\.test>$/);
    expect(parsed.headers.get('auto-submitted')).toBe('auto-generated');
    expect(parsed.headers.has('list-unsubscribe')).toBe(false);
    const code = expectCodeMail(received(before), 'smtp.guest@example.com');
    expect((await verifyCode(host, tenant.id, 'smtp.guest@example.com', code)).status).toBe(200);
  });

  it('sends the invitation mail', async () => {
    const before = smtp.received.length;
    const invitation = await inviteGuest(host, tenant.id, 'smtp.invitee@example.com', INVITATION);
    await mailQueueDrained(host);
    expectInvitationMail(received(before), 'smtp.invitee@example.com', invitation.inviteRedeemUrl);
  });

  it('a recipient the server refuses (550) is refused once, not retried, with the answer in the log; the guest got 202', async () => {
    const guest = await inviteGuest(host, tenant.id, 'smtp.unknown@example.com');
    smtp.refuse.add('smtp.unknown@example.com');
    expect((await sendCode(host, tenant.id, 'smtp.unknown@example.com')).status).toBe(202);
    await mailQueueDrained(host);
    const refused = await codeMailFate(host, tenant.id, guest.invitedUser.id, 'refused');
    expect(refused).toMatchObject({ status: 'refused', provider: 'smtp' });
    expect(refused.reason).toMatch(/550/);
  });

  it('never sends a code in the clear: a server without STARTTLS gets nothing, the mail is refused, the guest got 202', async () => {
    const plain = await startFakeSmtp({ user: USER, password: PASSWORD, startTls: false });
    const other = await startHost({ EMAIL_TRANSPORT: 'smtp', SMTP_URL: smtpUrl(plain.port), ...SENDER });
    try {
      const otherTenant = await createTenant(other);
      const guest = await inviteGuest(other, otherTenant.id, 'smtp.plain@example.com');
      expect((await sendCode(other, otherTenant.id, 'smtp.plain@example.com')).status).toBe(202);
      // nodemailer's STARTTLS command meets the server's permanent 500: refused, and never sent without TLS.
      expect((await codeMailFate(other, otherTenant.id, guest.invitedUser.id, 'refused')).reason).toMatch(/SMTP server answered 500/);
      expect(plain.received).toEqual([]);
    } finally {
      await other.stop();
      await plain.close();
    }
  });

  it('a wrong password (535) refuses the mail, and the guest still got 202', async () => {
    const other = await startHost({ EMAIL_TRANSPORT: 'smtp', SMTP_URL: smtpUrl(smtp.port, 'wrong'), NODE_EXTRA_CA_CERTS: smtp.caFile, ...SENDER });
    try {
      const otherTenant = await createTenant(other);
      const guest = await inviteGuest(other, otherTenant.id, 'smtp.wrongpass@example.com');
      const before = smtp.received.length;
      expect((await sendCode(other, otherTenant.id, 'smtp.wrongpass@example.com')).status).toBe(202);
      expect((await codeMailFate(other, otherTenant.id, guest.invitedUser.id, 'refused')).reason).toMatch(/535/);
      expect(smtp.received).toHaveLength(before);
    } finally {
      await other.stop();
    }
  });
});

describe('SendGrid, through @sendgrid/mail', () => {
  let sendgrid: FakeSendGrid;
  let host: TestHost;
  let tenant: TestTenant;

  beforeAll(async () => {
    sendgrid = await startFakeSendGrid();
    host = await startHost({ EMAIL_TRANSPORT: 'sendgrid', SENDGRID_API_KEY: 'SG.test-key', SENDGRID_BASE_URL: sendgrid.baseUrl, ...SENDER });
    tenant = await brandedTenant(host);
  });
  afterAll(async () => {
    await host?.stop();
    await sendgrid?.close();
  });

  const received = (index: number): Received => {
    const { body } = sendgrid.requests[index]!;
    return {
      to: body.personalizations[0]!.to.map((to) => to.email),
      from: { address: body.from.email, name: body.from.name },
      subject: body.subject,
      text: body.content.find((c) => c.type === 'text/plain')!.value,
      html: body.content.find((c) => c.type === 'text/html')!.value,
    };
  };

  it('sends the code mail, transactional (no tracking, no unsubscribe), tagged with the mail id, and the code signs in', async () => {
    await inviteGuest(host, tenant.id, 'sg.guest@example.com');
    const before = sendgrid.requests.length;
    expect((await sendCode(host, tenant.id, 'sg.guest@example.com')).status).toBe(202);
    await mailQueueDrained(host);
    const body = sendgrid.requests[before]!.body as unknown as Record<string, any>;
    expect(body.headers).toMatchObject({ 'Auto-Submitted': 'auto-generated', 'X-Auto-Response-Suppress': 'All' });
    expect(body.headers['Message-ID']).toMatch(/^<[0-9a-f-]{36}@contoso\.test>$/);
    expect(body.custom_args.guestpass_mail_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(body.tracking_settings).toEqual({
      click_tracking: { enable: false, enable_text: false },
      open_tracking: { enable: false },
      subscription_tracking: { enable: false },
    });
    const code = expectCodeMail(received(before), 'sg.guest@example.com');
    expect((await verifyCode(host, tenant.id, 'sg.guest@example.com', code)).status).toBe(200);
  });

  it('sends the invitation mail', async () => {
    const before = sendgrid.requests.length;
    const invitation = await inviteGuest(host, tenant.id, 'sg.invitee@example.com', INVITATION);
    await mailQueueDrained(host);
    expectInvitationMail(received(before), 'sg.invitee@example.com', invitation.inviteRedeemUrl);
  });
});

describe('a misconfigured provider stops the app at start with one line naming the setting', () => {
  it.each([
    [{ EMAIL_TRANSPORT: 'acs' }, /^Setting ACS_ENDPOINT is required when EMAIL_TRANSPORT is acs/],
    [{ EMAIL_TRANSPORT: 'acs', ACS_CONNECTION_STRING: 'endpoint=https://x.communication.azure.com/' }, /^Setting ACS_CONNECTION_STRING is invalid/],
    [{ EMAIL_TRANSPORT: 'smtp' }, /^Setting SMTP_URL is required when EMAIL_TRANSPORT is smtp/],
    [{ EMAIL_TRANSPORT: 'smtp', SMTP_URL: 'http://mail.contoso.test' }, /^Setting SMTP_URL is invalid: must start with smtp:\/\//],
    [{ EMAIL_TRANSPORT: 'sendgrid' }, /^Setting SENDGRID_API_KEY is required/],
  ])('%j', async (settings, message) => {
    const failure = await startHost(settings).then(
      async (host) => {
        await host.stop();
        return '';
      },
      (error: Error) => error.message,
    );
    const output = failure.replace(/^host exited with 1: /, '');
    expect(output).toMatch(message);
    expect(output.split('\n').filter(Boolean)).toHaveLength(1);
    expect(output).not.toMatch(/^\s+at /m);
  });
});

