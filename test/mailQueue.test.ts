import { cpus } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../lib/config.js';
import { queueInvitationMail } from '../lib/mail/queue.js';
import { newMailId } from '../lib/mail/delivery.js';
import { backoffStrategy, hostJsonOverrides, parseTimeSpan, queuesOptions, resolveBindingExpression } from '../scripts/queueTriggers.js';
import {
  createTenant, inviteGuest, mailQueueDrained, mailQueueOf, postJson, sendCode, startFakeSendGrid, startHost, stopAllHosts, testRuntime, verifyCode,
  type FakeSendGrid, type TestHost,
} from './helpers.js';
import { startFakeSmtp } from './mailServers.js';

afterAll(() => stopAllHosts());

const codeIn = (text: string) => /\b(\d{8})\b/.exec(text)![1]!;
const textOf = (request: FakeSendGrid['requests'][number]) => request.body.content.find((c) => c.type === 'text/plain')!.value;
const recipientOf = (request: FakeSendGrid['requests'][number]) => request.body.personalizations[0]!.to[0]!.email;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ready: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ready())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(50);
  }
}

function sendGridHost(sendgrid: FakeSendGrid, settings: Record<string, string> = {}): Promise<TestHost> {
  return startHost({ EMAIL_TRANSPORT: 'sendgrid', SENDGRID_API_KEY: 'SG.test-key', SENDGRID_BASE_URL: sendgrid.baseUrl, RESEND_COOLDOWN_SECONDS: '0', ...settings });
}

describe("the local host's queue trigger follows the WebJobs queue rules", () => {
  it('reads host.json extensions.queues with the defaults of QueuesOptions.cs', () => {
    expect(queuesOptions({})).toEqual({
      batchSize: 16,
      newBatchThreshold: 8 * cpus().length,
      maxPollingIntervalMs: 60_000,
      visibilityTimeoutMs: 0,
      maxDequeueCount: 5,
      messageEncoding: 'base64',
    });
  });

  it("reads the repository's own host.json: polled every 2 s at most, retried after 30 s, poisoned after 10 tries", async () => {
    const hostJson = JSON.parse(await import('node:fs').then((fs) => fs.readFileSync('host.json', 'utf8'))) as Record<string, unknown>;
    expect(queuesOptions(hostJson)).toMatchObject({ maxPollingIntervalMs: 2000, visibilityTimeoutMs: 30_000, maxDequeueCount: 10, batchSize: 16 });
  });

  it('takes app settings named AzureFunctionsJobHost__… over host.json, as the host does', () => {
    const merged = hostJsonOverrides(
      { version: '2.0', extensions: { queues: { maxPollingInterval: '00:00:02', batchSize: 16 } } },
      { AzureFunctionsJobHost__extensions__queues__maxPollingInterval: '00:00:00.100', AzureFunctionsJobHost__Extensions__Queues__MaxDequeueCount: '3', OTHER: 'x' },
    );
    expect(queuesOptions(merged)).toMatchObject({ maxPollingIntervalMs: 100, maxDequeueCount: 3, batchSize: 16 });
  });

  it('parses TimeSpans as host.json writes them', () => {
    expect(parseTimeSpan('00:00:30', 's')).toBe(30_000);
    expect(parseTimeSpan('00:00:00.100', 's')).toBe(100);
    expect(parseTimeSpan('1.02:03:04.5', 's')).toBe(((26 * 60 + 3) * 60 + 4) * 1000 + 500);
    expect(() => parseTimeSpan('30s', 'host.json extensions.queues.visibilityTimeout')).toThrow(/^Setting host.json extensions.queues.visibilityTimeout is invalid/);
  });

  it('refuses what QueuesOptions refuses, naming the setting: more than 32 a batch, polling under 100 ms, no tries', () => {
    const queues = (values: Record<string, unknown>) => () => queuesOptions({ extensions: { queues: values } });
    expect(queues({ batchSize: 33 })).toThrow(ConfigError);
    expect(queues({ batchSize: 33 })).toThrow(/extensions\.queues\.batchSize/);
    expect(queues({ maxPollingInterval: '00:00:00.050' })).toThrow(/must not be less than 100 ms/);
    expect(queues({ maxDequeueCount: 0 })).toThrow(/maxDequeueCount/);
  });

  it('backs off as RandomizedExponentialBackoffStrategy does: min + 2^(n-1) x min x [0.8, 1.2), up to the maximum, and starts over after a find', () => {
    const next = backoffStrategy(100, 1000, () => 0.5);
    expect([next(false), next(false), next(false), next(false), next(false)]).toEqual([200, 300, 500, 900, 1000]);
    expect(next(true)).toBe(100);
    expect(next(false)).toBe(200);
  });

  it('resolves %NAME% from the app settings, and names a setting that is missing', () => {
    expect(resolveBindingExpression('%MAIL_QUEUE_NAME%', { MAIL_QUEUE_NAME: 'send-mail' }, 'sendMail')).toBe('send-mail');
    expect(() => resolveBindingExpression('%MAIL_QUEUE_NAME%', {}, 'sendMail')).toThrow(/^Setting MAIL_QUEUE_NAME is not set: function sendMail names its queue/);
  });

  it('a host whose queue setting is missing stops at start with one line naming it', async () => {
    await expect(startHost({ MAIL_QUEUE_NAME: '' })).rejects.toThrow(/Setting MAIL_QUEUE_NAME is not set/);
  });
});

describe('mail leaves through the queue', () => {
  it('send-code answers in the same time and storage cost whether or not the provider is up; no provider call is on the request path', async () => {
    const sendgrid = await startFakeSendGrid();
    try {
      const host = await sendGridHost(sendgrid, { EMAIL_TIMEOUT_SECONDS: '5' });
      const tenant = await createTenant(host);
      await inviteGuest(host, tenant.id, 'up@example.com');
      await inviteGuest(host, tenant.id, 'down@example.com');
      // The instance's first send-code opens its queue and the day's tables; what follows is the steady state.
      await sendCode(host, tenant.id, 'warm-up@example.com');
      const up = await sendCode(host, tenant.id, 'up@example.com');
      sendgrid.respondWith('hang');
      const started = performance.now();
      const down = await sendCode(host, tenant.id, 'down@example.com');
      expect(performance.now() - started).toBeLessThan(2000);
      expect(down.status).toBe(202);
      expect(down.headers.get('x-guestpass-storage-transactions')).toBe(up.headers.get('x-guestpass-storage-transactions'));
    } finally {
      await sendgrid.close();
    }
  });

  it('a provider down for 30 s and then back: every mail arrives exactly once, and every code signs in', { timeout: 120_000 }, async () => {
    const sendgrid = await startFakeSendGrid();
    try {
      const host = await sendGridHost(sendgrid, {
        AzureFunctionsJobHost__extensions__queues__visibilityTimeout: '00:00:05',
        AzureFunctionsJobHost__extensions__queues__maxDequeueCount: '20',
      });
      const tenant = await createTenant(host);
      const guests = Array.from({ length: 20 }, (_, i) => `outage${i}@example.com`);
      for (const email of guests) await inviteGuest(host, tenant.id, email);
      sendgrid.respondWith(503);
      const downAt = Date.now();
      const answers = await Promise.all(guests.map((email) => sendCode(host, tenant.id, email)));
      expect(answers.map((a) => a.status)).toEqual(guests.map(() => 202));
      await sleep(30_000 - (Date.now() - downAt));
      sendgrid.respondWith(202);
      await mailQueueDrained(host, 60_000);
      const accepted = sendgrid.requests.filter((r) => r.answered === 202);
      expect(accepted.map(recipientOf).sort()).toEqual([...guests].sort());
      // Tried again while it was down, by the queue's rules.
      expect(sendgrid.requests.filter((r) => r.answered === 503).length).toBeGreaterThanOrEqual(guests.length * 2);
      for (const request of accepted) expect((await verifyCode(host, tenant.id, recipientOf(request), codeIn(textOf(request)))).status).toBe(200);
    } finally {
      await sendgrid.close();
    }
  });

  it('one recipient refused: every other guest’s mail arrives at once, the refused one is tried once and recorded with the reason', async () => {
    const smtp = await startFakeSmtp({ user: 'u', password: 'p' });
    try {
      const host = await startHost({ EMAIL_TRANSPORT: 'smtp', SMTP_URL: `smtp://u:p@localhost:${smtp.port}`, NODE_EXTRA_CA_CERTS: smtp.caFile });
      const tenant = await createTenant(host);
      const guests = Array.from({ length: 10 }, (_, i) => `fine${i}@example.com`);
      const refused = await inviteGuest(host, tenant.id, 'bounces@example.com');
      for (const email of guests) await inviteGuest(host, tenant.id, email);
      smtp.refuse.add('bounces@example.com');
      const answers = await Promise.all(['bounces@example.com', ...guests].map((email) => sendCode(host, tenant.id, email)));
      expect(answers.map((a) => a.status)).toEqual(answers.map(() => 202));
      await mailQueueDrained(host);
      expect(smtp.received.map((mail) => mail.envelope.to[0]).sort()).toEqual([...guests].sort());
      expect(host.output.filter((line) => line.includes('refused')).length).toBe(1);
      const log = (await (await host.manage(`/tenants/${tenant.id}/sign-in-logs?userId=${refused.invitedUser.id}`)).json()) as { value: { outcome: string; delivery?: { status: string; reason?: string } }[] };
      expect(log.value).toHaveLength(1);
      expect(log.value[0]!.delivery).toMatchObject({ status: 'refused' });
      expect(log.value[0]!.delivery!.reason).toMatch(/550/);
    } finally {
      await smtp.close();
    }
  });

  it("a provider's answer that is not its own (a proxy's HTML page) is an outage, retried, not a refusal", async () => {
    const sendgrid = await startFakeSendGrid();
    try {
      const host = await sendGridHost(sendgrid, { AzureFunctionsJobHost__extensions__queues__visibilityTimeout: '00:00:01' });
      const tenant = await createTenant(host);
      await inviteGuest(host, tenant.id, 'proxied@example.com');
      sendgrid.respondWith('unparseable');
      expect((await sendCode(host, tenant.id, 'proxied@example.com')).status).toBe(202);
      await until('the mail was tried twice', () => sendgrid.requests.length >= 2);
      sendgrid.respondWith(202);
      await mailQueueDrained(host);
      expect(sendgrid.requests.map((r) => r.answered)).toEqual([...sendgrid.requests.slice(0, -1).map(() => 'unparseable'), 202]);
    } finally {
      await sendgrid.close();
    }
  });

  it('a code mail still queued when its code expires is dropped, not sent, and the log says so', async () => {
    const sendgrid = await startFakeSendGrid();
    try {
      const host = await sendGridHost(sendgrid, { CODE_TTL_SECONDS: '2', AzureFunctionsJobHost__extensions__queues__visibilityTimeout: '00:00:01' });
      const tenant = await createTenant(host);
      const guest = await inviteGuest(host, tenant.id, 'late@example.com');
      sendgrid.respondWith(503);
      expect((await sendCode(host, tenant.id, 'late@example.com')).status).toBe(202);
      await sleep(2500);
      sendgrid.respondWith(202);
      await mailQueueDrained(host);
      expect(sendgrid.requests.filter((r) => r.answered === 202)).toEqual([]);
      const log = (await (await host.manage(`/tenants/${tenant.id}/sign-in-logs?userId=${guest.invitedUser.id}`)).json()) as { value: { delivery?: { status: string; reason?: string } }[] };
      expect(log.value[0]!.delivery).toMatchObject({ status: 'dropped', reason: 'its code expired before it could be sent' });
    } finally {
      await sendgrid.close();
    }
  });

  it('a malformed queue message goes to the poison queue with a line naming it, and the worker goes on sending', async () => {
    const sendgrid = await startFakeSendGrid();
    try {
      const host = await sendGridHost(sendgrid, { AzureFunctionsJobHost__extensions__queues__maxDequeueCount: '2', AzureFunctionsJobHost__extensions__queues__visibilityTimeout: '00:00:00' });
      const tenant = await createTenant(host);
      await inviteGuest(host, tenant.id, 'after@example.com');
      const queue = mailQueueOf(host);
      await queue.createIfNotExists();
      const { messageId } = await queue.sendMessage(Buffer.from('{"v":1,"id":"not a mail"}').toString('base64'));
      await queue.sendMessage(Buffer.from('not even json').toString('base64'));
      expect((await sendCode(host, tenant.id, 'after@example.com')).status).toBe(202);
      await mailQueueDrained(host);
      expect(sendgrid.requests.map(recipientOf)).toEqual(['after@example.com']);
      const poisoned = await mailQueueOf(host, '-poison').peekMessages({ numberOfMessages: 32 });
      expect(poisoned.peekedMessageItems).toHaveLength(2);
      expect(host.output.some((line) => line.includes(`queue message ${messageId}`) && line.includes('is not a mail guestpass can send'))).toBe(true);
    } finally {
      await sendgrid.close();
    }
  });

  it('the host killed mid-batch and started again: nothing is lost; a mail sent just before the kill may go twice, and only such a one', { timeout: 120_000 }, async () => {
    const sendgrid = await startFakeSendGrid();
    try {
      const settings = { LOCAL_HOST_QUEUE_LEASE_SECONDS: '3', AzureFunctionsJobHost__extensions__queues__batchSize: '4' };
      const first = await sendGridHost(sendgrid, settings);
      const tenant = await createTenant(first);
      const guests = Array.from({ length: 24 }, (_, i) => `kill${i}@example.com`);
      for (const email of guests) await inviteGuest(first, tenant.id, email);
      // Slow answers, so the kill lands while mails are in hand.
      sendgrid.answerAfter(300);
      for (const email of guests) expect((await sendCode(first, tenant.id, email)).status).toBe(202);
      await until('some mails went out', () => sendgrid.requests.length >= 4);
      first.process.kill('SIGKILL');
      await new Promise((r) => first.process.once('exit', r));
      const sentBeforeKill = new Set(sendgrid.requests.map(recipientOf));
      expect(sentBeforeKill.size).toBeLessThan(guests.length);

      const second = await sendGridHost(sendgrid, { ...settings, TABLE_PREFIX: first.settings.TABLE_PREFIX!, MAIL_QUEUE_NAME: first.settings.MAIL_QUEUE_NAME! });
      await mailQueueDrained(second, 60_000);
      const perRecipient = new Map<string, number>();
      for (const request of sendgrid.requests) perRecipient.set(recipientOf(request), (perRecipient.get(recipientOf(request)) ?? 0) + 1);
      expect([...perRecipient.keys()].sort()).toEqual([...guests].sort());
      const twice = [...perRecipient].filter(([, count]) => count > 1).map(([recipient]) => recipient);
      // A duplicate is a mail SendGrid took before the kill but whose record the dead host never wrote.
      for (const recipient of twice) expect(sentBeforeKill.has(recipient)).toBe(true);
      expect(Math.max(...perRecipient.values())).toBeLessThanOrEqual(2);
    } finally {
      await sendgrid.close();
    }
  });

  it('1,000 queued mails with 10 % of tries failing: none lost, none sent twice, every failure retried', { timeout: 300_000 }, async () => {
    const sendgrid = await startFakeSendGrid();
    try {
      const host = await sendGridHost(sendgrid, {
        AzureFunctionsJobHost__extensions__queues__visibilityTimeout: '00:00:01',
        AzureFunctionsJobHost__extensions__queues__maxDequeueCount: '20',
        AzureFunctionsJobHost__extensions__queues__batchSize: '32',
      });
      const tenant = await createTenant(host);
      let tries = 0;
      // Every tenth try fails, whichever mail it is.
      sendgrid.respondWith(() => ((tries += 1) % 10 === 0 ? 500 : 202));
      const rt = await testRuntime({ TABLE_PREFIX: host.settings.TABLE_PREFIX!, MAIL_QUEUE_NAME: host.settings.MAIL_QUEUE_NAME! });
      const recipients = Array.from({ length: 1000 }, (_, i) => `bulk${i}@example.com`);
      for (let i = 0; i < recipients.length; i += 50) {
        await Promise.all(recipients.slice(i, i + 50).map((to) =>
          queueInvitationMail(rt, { id: newMailId(Date.now()), tenantId: tenant.id, content: { to, inviteRedeemUrl: 'https://app.contoso.test/welcome?tenant=x' } })));
      }
      await mailQueueDrained(host, 240_000);
      const accepted = sendgrid.requests.filter((r) => r.answered === 202).map(recipientOf);
      const failed = sendgrid.requests.filter((r) => r.answered === 500).length;
      expect(new Set(accepted).size).toBe(1000);
      expect(accepted.length - 1000).toBe(0);
      expect(failed).toBeGreaterThanOrEqual(100);
      expect(sendgrid.requests.length).toBe(1000 + failed);
      console.log(`1,000 mails: ${failed} failed tries, all retried; ${accepted.length - 1000} duplicates`);
    } finally {
      await sendgrid.close();
    }
  });
});

describe('strangers and guests alike', () => {
  it('a stranger’s send-code queues a message like a guest’s, which the trigger drops unsent', async () => {
    const sendgrid = await startFakeSendGrid();
    try {
      const host = await sendGridHost(sendgrid);
      const tenant = await createTenant(host);
      await inviteGuest(host, tenant.id, 'guest@example.com');
      const queue = mailQueueOf(host);
      const guest = await host.api(`/${tenant.id}/send-code`, postJson({ email: 'guest@example.com' }));
      const stranger = await host.api(`/${tenant.id}/send-code`, postJson({ email: 'stranger@example.com' }));
      expect([guest.status, stranger.status]).toEqual([202, 202]);
      await mailQueueDrained(host);
      expect(sendgrid.requests.map(recipientOf)).toEqual(['guest@example.com']);
      expect((await queue.getProperties()).approximateMessagesCount).toBe(0);
    } finally {
      await sendgrid.close();
    }
  });
});
