import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startAzurite, tableConnectionString, type RunningAzurite } from '../scripts/azurite.js';
import { contractErrorProblem, guestRows, retryAfterSeconds } from './attackHelpers.js';
import {
  createTenant, expectError, inviteGuest, mailQueueDrained, mailQueueOf, postJson, sendCode, signIn, startFakeSendGrid, startHost, stopAllHosts, testRuntime, verifyCode,
  type TestHost,
} from './helpers.js';
import { freePort } from './ports.js';

afterAll(() => stopAllHosts());

/** The code in the newest code mail to an address, or undefined when the outbox cannot be read. */
async function mailedCode(host: TestHost, to: string): Promise<string | undefined> {
  const response = await host.api(`/dev/outbox?to=${encodeURIComponent(to)}`);
  if (response.status !== 200) return undefined;
  const mails = ((await response.json()) as { value: { kind: string; text: string }[] }).value;
  const mail = mails.find((m) => m.kind === 'code');
  return mail ? /\b(\d{8})\b/.exec(mail.text)?.[1] : undefined;
}

interface Attempt {
  email: string;
  statuses: number[];
  code?: string;
  verifyStatus?: number;
}

/** Calls until the answer is not 503, like a client that honours Retry-After (shortened for the test). */
async function untilAvailable(call: () => Promise<Response>, seen: (response: Response) => Promise<void>): Promise<Response> {
  for (let i = 0; ; i += 1) {
    const response = await call();
    await seen(response);
    if (response.status !== 503 || i > 60) return response;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe('Table Storage outage', () => {
  it('answers 503 storage_unavailable with Retry-After while storage is down, and leaves no half-written sign-in', async () => {
    const location = mkdtempSync(join(tmpdir(), 'guestpass-azurite-'));
    const port = await freePort();
    let azurite: RunningAzurite = await startAzurite({ port, location });
    try {
      const host = await startHost({
        TABLES_CONNECTION_STRING: azurite.connectionString,
        RESEND_COOLDOWN_SECONDS: '0',
        CODES_PER_GUEST_PER_HOUR: '1000',
        FAILED_VERIFICATIONS_PER_GUEST_PER_HOUR: '1000',
        SEND_CODE_PER_IP_PER_HOUR: '100000',
        STORAGE_TIMEOUT_SECONDS: '2',
        TENANT_CACHE_SECONDS: '0',
        // A mail the send-mail trigger could not handle while storage was down is tried again a second later.
        AzureFunctionsJobHost__extensions__queues__visibilityTimeout: '00:00:01',
      });
      const tenant = await createTenant(host);
      const attempts: Attempt[] = Array.from({ length: 24 }, (_, i) => ({ email: `outage-${i}@example.com`, statuses: [] }));
      for (const attempt of attempts) await inviteGuest(host, tenant.id, attempt.email);

      const problems: string[] = [];
      const unavailable: Response[] = [];
      const record = (attempt: Attempt) => async (response: Response): Promise<void> => {
        attempt.statuses.push(response.status);
        if (response.status < 400) return;
        const problem = await contractErrorProblem(response.clone());
        if (problem) problems.push(problem);
        if (response.status >= 500 && response.status !== 503) problems.push(`unexpected ${response.status}`);
        if (response.status === 503) unavailable.push(response);
      };

      let done = 0;
      let next = 0;
      async function worker(): Promise<void> {
        while (next < attempts.length) {
          const attempt = attempts[next++]!;
          const seen = record(attempt);
          const sent = await untilAvailable(() => sendCode(host, tenant.id, attempt.email), seen);
          expect(sent.status).toBe(202);
          for (let i = 0; !attempt.code && i < 60; i += 1) {
            attempt.code = await mailedCode(host, attempt.email);
            if (!attempt.code) await new Promise((resolve) => setTimeout(resolve, 250));
          }
          const verified = await untilAvailable(() => verifyCode(host, tenant.id, attempt.email, attempt.code!), seen);
          attempt.verifyStatus = verified.status;
          done += 1;
        }
      }
      const outage = (async () => {
        while (done < 6) await new Promise((resolve) => setTimeout(resolve, 10));
        await azurite.stop();
        await new Promise((resolve) => setTimeout(resolve, 1500));
        azurite = await startAzurite({ port, location });
      })();
      await Promise.all([worker(), worker(), worker(), worker(), outage]);

      expect(problems).toEqual([]);
      expect(unavailable.length).toBeGreaterThan(0);
      for (const response of unavailable) {
        await expectError(response.clone(), 503, 'storage_unavailable');
        expect(retryAfterSeconds(response)).toBeGreaterThan(0);
      }
      // A verification answered 503 may still have committed: then the retry finds the code used (401).
      for (const attempt of attempts) expect([200, 401], attempt.email).toContain(attempt.verifyStatus);

      // Afterwards: a session for every consumed code, and every guest can sign in.
      const rt = await testRuntime({ TABLES_CONNECTION_STRING: azurite.connectionString, TABLE_PREFIX: host.settings.TABLE_PREFIX! });
      for (const attempt of attempts) {
        const rows = await guestRows(rt, tenant.id, attempt.email);
        const sessions = rows.filter((row) => row.rowKey!.startsWith('session_'));
        const signedIn = rows.filter((row) => row.rowKey!.startsWith('log_') && row.outcome === 'signed_in');
        expect(sessions.length, attempt.email).toBe(signedIn.length);
        // No code consumed without a session: whichever attempt consumed the code created exactly one.
        expect(sessions.length, attempt.email).toBe(1);
        const again = await signIn(host, tenant.id, attempt.email);
        expect(again.user.email).toBe(attempt.email);
      }
    } finally {
      await azurite.stop();
      rmSync(location, { recursive: true, force: true });
    }
  }, 120_000);

  it('a Table Storage that accepts connections but never answers gives 503 within a bounded time', async () => {
    const sockets = new Set<Socket>();
    const silent: Server = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
    const { port } = silent.address() as { port: number };
    try {
      const host = await startHost({ TABLES_CONNECTION_STRING: tableConnectionString(port), STORAGE_TIMEOUT_SECONDS: '1' });
      const started = performance.now();
      const response = await host.api('/unknown.example/send-code', postJson({ email: 'a@example.com' }));
      const elapsed = performance.now() - started;
      await expectError(response.clone(), 503, 'storage_unavailable');
      expect(retryAfterSeconds(response)).toBeGreaterThan(0);
      // Three tries of 1 s each plus the retry delays, not the Functions timeout.
      expect(elapsed).toBeLessThan(8000);
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });
});

describe('SendGrid failures never reach the guest: the mail waits in its queue', () => {
  it('a SendGrid that hangs: send-code answers 202 without waiting, the mail is tried again after each timeout and arrives once SendGrid answers', async () => {
    const sendgrid = await startFakeSendGrid();
    try {
      const host = await startHost({
        EMAIL_TRANSPORT: 'sendgrid', SENDGRID_API_KEY: 'SG.test-key', SENDGRID_BASE_URL: sendgrid.baseUrl, EMAIL_TIMEOUT_SECONDS: '3',
        AzureFunctionsJobHost__extensions__queues__visibilityTimeout: '00:00:01',
        AzureFunctionsJobHost__extensions__queues__maxDequeueCount: '20',
      });
      const tenant = await createTenant(host);
      const guest = await inviteGuest(host, tenant.id, 'hang@example.com');
      // The instance's first send-code opens its queue and day tables; what follows is the steady state.
      await sendCode(host, tenant.id, 'warm-up@example.com');
      sendgrid.respondWith('hang');
      const started = performance.now();
      const sent = await sendCode(host, tenant.id, 'hang@example.com');
      const elapsed = performance.now() - started;
      expect(sent.status).toBe(202);
      // No provider call inside the request: it does not wait EMAIL_TIMEOUT_SECONDS.
      expect(elapsed).toBeLessThan(3000);

      while (sendgrid.requests.length < 2) await new Promise((r) => setTimeout(r, 50));
      sendgrid.respondWith(202);
      await mailQueueDrained(host);
      // Every try carried the same code, and it signs in.
      const codes = new Set(sendgrid.requests.map((r) => /\b(\d{8})\b/.exec(r.body.content[0]!.value)![1]!));
      expect(codes.size).toBe(1);
      expect((await verifyCode(host, tenant.id, 'hang@example.com', [...codes][0]!)).status).toBe(200);

      // One entry per send-code, whose mail fate follows it.
      const log = (await (await host.manage(`/tenants/${tenant.id}/sign-in-logs?userId=${guest.invitedUser.id}`)).json()) as { value: { outcome: string; delivery?: { status: string } }[] };
      expect(log.value.map((r) => r.outcome)).toEqual(['signed_in', 'code_sent']);
      expect(log.value[1]!.delivery?.status).toBe('sent');
    } finally {
      await sendgrid.close();
    }
  });

  it('a SendGrid that answers 500 to every try: after maxDequeueCount tries the mail is in the poison queue and the log says why', async () => {
    const sendgrid = await startFakeSendGrid();
    try {
      const host = await startHost({
        EMAIL_TRANSPORT: 'sendgrid', SENDGRID_API_KEY: 'SG.test-key', SENDGRID_BASE_URL: sendgrid.baseUrl,
        AzureFunctionsJobHost__extensions__queues__maxDequeueCount: '3',
        AzureFunctionsJobHost__extensions__queues__visibilityTimeout: '00:00:01',
      });
      const tenant = await createTenant(host);
      const guest = await inviteGuest(host, tenant.id, 'fail@example.com');
      sendgrid.respondWith(500);
      expect((await sendCode(host, tenant.id, 'fail@example.com')).status).toBe(202);
      await mailQueueDrained(host);
      expect(sendgrid.requests).toHaveLength(3);
      const poison = await mailQueueOf(host, '-poison').peekMessages({ numberOfMessages: 32 });
      expect(poison.peekedMessageItems).toHaveLength(1);
      expect(host.output.join('\n')).toContain(`Message has reached MaxDequeueCount of 3. Moving message to queue '${host.settings.MAIL_QUEUE_NAME}-poison'.`);
      const log = (await (await host.manage(`/tenants/${tenant.id}/sign-in-logs?userId=${guest.invitedUser.id}`)).json()) as { value: { outcome: string; delivery?: { status: string; reason?: string } }[] };
      expect(log.value.map((r) => r.outcome)).toEqual(['code_sent']);
      expect(log.value[0]!.delivery).toMatchObject({ status: 'retrying' });
      expect(log.value[0]!.delivery!.reason).toMatch(/provider not reached/);
    } finally {
      await sendgrid.close();
    }
  });
});
