import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { QueueClient } from '@azure/storage-queue';
import { inject } from 'vitest';
import { loadConfig, type Config } from '../lib/config.js';
import type { StoredJwk } from '../lib/signin/keys.js';
import { createRuntime, type Runtime, type RuntimeOptions } from '../lib/runtime.js';
import { ensureTables } from '../lib/storage/tables.js';

export const FUNCTION_KEY = 'test-function-key-0123456789';
export const TEST_PEPPER = 'test-pepper-0123456789-0123456789-abcdef';
/** Signing keys shared by every host of a run, so two hosts accept each other's tokens. */
export const TEST_SIGNING_KEYS = inject('testSigningKeys');
/** TEST_SIGNING_KEY signs sessions (ES256); TEST_RSA_SIGNING_KEY signs ID tokens of applications with the default idTokenSignedResponseAlg (RS256). */
export const [TEST_SIGNING_KEY, TEST_RSA_SIGNING_KEY] = JSON.parse(TEST_SIGNING_KEYS) as [StoredJwk, StoredJwk];

const REPO = resolve(__dirname, '..');

export function uniquePrefix(): string {
  return `t${randomBytes(6).toString('hex')}`;
}

/** The settings a test host runs with; each call gets its own TABLE_PREFIX unless one is given. */
export function testSettings(overrides: Record<string, string> = {}): Record<string, string> {
  const prefix = uniquePrefix();
  return {
    AZURE_FUNCTIONS_ENVIRONMENT: 'Development',
    TABLES_CONNECTION_STRING: inject('azuriteConnectionString'),
    TABLE_PREFIX: prefix,
    // Each deployment (hosts sharing a TABLE_PREFIX) its own mail queue on the shared
    // Azurite, polled at the host's floor (100 ms) so a test's mail is out about as soon as it is queued.
    AzureWebJobsStorage: inject('azuriteConnectionString'),
    MAIL_QUEUE_NAME: `${(overrides.TABLE_PREFIX ?? prefix).toLowerCase()}-mail`,
    WEBHOOK_QUEUE_NAME: `${(overrides.TABLE_PREFIX ?? prefix).toLowerCase()}-webhooks`,
    ACS_EVENTS_QUEUE_NAME: `${(overrides.TABLE_PREFIX ?? prefix).toLowerCase()}-acs-events`,
    AzureFunctionsJobHost__extensions__queues__maxPollingInterval: '00:00:00.100',
    PORT: '0',
    LOCAL_FUNCTION_KEY: FUNCTION_KEY,
    CODE_PEPPER: TEST_PEPPER,
    SIGNING_KEYS: TEST_SIGNING_KEYS,
    EMAIL_TRANSPORT: 'outbox',
    PUBLIC_BASE_URL: 'http://localhost:7071',
    // Tenants created with domains route by them at once, as before domains were verified
    // by DNS; test/domains.test.ts turns this off to prove the DNS path.
    DEV_TRUST_DOMAINS: 'true',
    // Two files run at once against one Azurite, some with bursts of 1,000 calls: a wait of
    // seconds there is that load, not an outage (test/faults.test.ts sets its own timeouts).
    STORAGE_TIMEOUT_SECONDS: '15',
    ...overrides,
  };
}

export interface TestHost {
  baseUrl: string;
  settings: Record<string, string>;
  output: string[];
  process: ChildProcess;
  /** fetch against `${baseUrl}/api${path}`. */
  api(path: string, init?: RequestInit): Promise<Response>;
  /** A management call with the operator credential. */
  manage(path: string, init?: RequestInit): Promise<Response>;
  stop(): Promise<void>;
}

const running = new Set<TestHost>();

/**
 * Starts the built app under the local host in its own process (npm start's host,
 * with only the given settings: a temp cwd keeps a developer's local.settings.json out).
 */
export async function startHost(overrides: Record<string, string> = {}): Promise<TestHost> {
  const settings = testSettings(overrides);
  const child = spawn(process.execPath, [join(REPO, 'dist', 'scripts', 'host.js')], {
    cwd: mkdtempSync(join(tmpdir(), 'guestpass-host-')),
    env: { PATH: process.env.PATH ?? '', ...settings },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => output.push(line));
  const port = await new Promise<number>((resolvePort, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      output.push(line);
      try {
        const parsed = JSON.parse(line) as { listening?: number };
        if (parsed.listening) resolvePort(parsed.listening);
      } catch {
        // an ordinary log line
      }
    });
    child.once('exit', (code) => reject(new Error(`host exited with ${code}: ${output.join('\n')}`)));
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const host: TestHost = {
    baseUrl,
    settings,
    output,
    process: child,
    api: (path, init) => fetch(`${baseUrl}/api${path}`, init),
    manage: (path, init = {}) =>
      fetch(`${baseUrl}/api/manage${path}`, {
        ...init,
        headers: { 'x-functions-key': FUNCTION_KEY, 'content-type': 'application/json', ...(init.headers as Record<string, string>) },
      }),
    async stop() {
      running.delete(host);
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
  running.add(host);
  return host;
}

export async function stopAllHosts(): Promise<void> {
  await Promise.all([...running].map((host) => host.stop()));
}

export function postJson(body: unknown, headers: Record<string, string> = {}): RequestInit {
  return { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}

export interface TestTenant {
  id: string;
  displayName: string;
  domains: string[];
  allowedOrigins: string[];
  redirectUris: string[];
}

export const REDIRECT_URI = 'https://app.contoso.test/welcome';
export const APP_ORIGIN = 'https://app.contoso.test';

export async function createTenant(host: TestHost, overrides: Record<string, unknown> = {}): Promise<TestTenant> {
  const response = await host.manage('/tenants', {
    method: 'POST',
    body: JSON.stringify({
      displayName: 'Contoso',
      domains: [`${uniquePrefix()}.contoso.test`],
      allowedOrigins: [APP_ORIGIN],
      redirectUris: [REDIRECT_URI],
      ...overrides,
    }),
  });
  if (response.status !== 201) throw new Error(`create tenant: ${response.status} ${await response.text()}`);
  return (await response.json()) as TestTenant;
}

/** A host and a tenant on it: what most suites start with. */
export async function hostWithTenant(settings: Record<string, string> = {}, tenant: Record<string, unknown> = {}): Promise<{ host: TestHost; tenant: TestTenant }> {
  const host = await startHost(settings);
  return { host, tenant: await createTenant(host, tenant) };
}

export async function inviteGuest(host: TestHost, tenantId: string, email: string, extra: Record<string, unknown> = {}) {
  const response = await host.manage(`/tenants/${tenantId}/invitations`, {
    method: 'POST',
    body: JSON.stringify({ invitedUserEmailAddress: email, inviteRedirectUrl: REDIRECT_URI, ...extra }),
  });
  if (response.status !== 201) throw new Error(`invite: ${response.status} ${await response.text()}`);
  return (await response.json()) as { id: string; inviteRedeemUrl: string; status: string; invitedUser: { id: string } };
}

export interface OutboxMail {
  to: string;
  kind: string;
  subject: string;
  text: string;
  html: string;
  tenantId: string;
}

/** The host's mail queue (MAIL_QUEUE_NAME on its AzureWebJobsStorage), as the send-mail trigger reads it. */
export function mailQueueOf(host: { settings: Record<string, string> }, suffix = ''): QueueClient {
  return new QueueClient(host.settings.AzureWebJobsStorage!, `${host.settings.MAIL_QUEUE_NAME!}${suffix}`);
}

/**
 * Waits until the host's send-mail trigger has handled every queued mail: the queue is
 * empty (Azure counts invisible messages, the ones in hand or waiting for a retry, too).
 */
export async function mailQueueDrained(host: { settings: Record<string, string> }, timeoutMs = 20_000): Promise<void> {
  const queue = mailQueueOf(host);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const count = await queue.getProperties().then((p) => p.approximateMessagesCount ?? 0, () => 0);
    if (count === 0) return;
    if (Date.now() > deadline) throw new Error(`the mail queue still holds ${count} messages after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The outbox's mails to an address, once every queued mail has been handled. */
export async function outbox(host: TestHost, to: string): Promise<OutboxMail[]> {
  await mailQueueDrained(host);
  const response = await host.api(`/dev/outbox?to=${encodeURIComponent(to)}`);
  return ((await response.json()) as { value: OutboxMail[] }).value;
}

/** The code in the newest code mail to an address. */
export async function latestCode(host: TestHost, to: string): Promise<string> {
  const mail = (await outbox(host, to)).find((m) => m.kind === 'code');
  const code = mail && /\b(\d{6,12})\b/.exec(mail.text)?.[1];
  if (!code) throw new Error(`no code mail for ${to}`);
  return code;
}

export async function sendCode(host: TestHost, tenant: string, email: string, headers: Record<string, string> = {}) {
  return host.api(`/${tenant}/send-code`, postJson({ email }, headers));
}

export async function verifyCode(host: TestHost, tenant: string, email: string, code: string) {
  return host.api(`/${tenant}/verify-code`, postJson({ email, code }));
}

export function sessionCheck(host: TestHost, tenant: string, token: string) {
  return host.api(`/${tenant}/session-check`, { headers: { authorization: `Bearer ${token}` } });
}

/**
 * What a guest is told when it asks for a code and gives the one mailed to it: send-code
 * answers every address alike (DESIGN §4), so what stands in the way of a guest
 * (domain_blocked, guest_disabled, other_method_required) is verify-code's answer to
 * the correct code; send-code's own answer when it refuses.
 */
export async function answerToMailedCode(host: TestHost, tenant: string, email: string): Promise<Response> {
  const sent = await sendCode(host, tenant, email);
  if (sent.status !== 202) return sent;
  return verifyCode(host, tenant, email, await latestCode(host, email));
}

/** Invites (if asked), sends a code, reads it from the outbox and verifies it. */
export async function signIn(host: TestHost, tenantId: string, email: string): Promise<{ token: string; expiresAt: string; user: { id: string; email: string; source: string } }> {
  const sent = await sendCode(host, tenantId, email);
  if (sent.status !== 202) throw new Error(`send-code: ${sent.status} ${await sent.text()}`);
  const verified = await verifyCode(host, tenantId, email, await latestCode(host, email));
  if (verified.status !== 200) throw new Error(`verify-code: ${verified.status} ${await verified.text()}`);
  return (await verified.json()) as never;
}

/** Asserts the contract's error body and returns it. */
export async function expectError(response: Response, status: number, error: string): Promise<Record<string, unknown>> {
  const text = await response.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new Error(`expected ${status} ${error}, got ${response.status} with a non-JSON body: ${text}`);
  }
  if (response.status !== status || body.error !== error || typeof body.message !== 'string' || body.message.length === 0) {
    throw new Error(`expected ${status} ${error}, got ${response.status} ${text}`);
  }
  return body;
}

/**
 * Asserts an answer the Functions host gives itself, before or instead of the app: a
 * status with an empty body (a wrong key 401, an unmatched route or method 404, a
 * handler that threw 500).
 */
export async function expectHostAnswer(response: Response, status: number): Promise<void> {
  const text = await response.text();
  if (response.status !== status || text !== '') throw new Error(`expected the host's bare ${status}, got ${response.status} ${text}`);
}

/** The send-mail trigger's work, run in this process for an in-process runtime (no host polls its queue). */
export { sendQueuedMailsNow as sendQueuedMails } from '../lib/mail/queue.js';

/** An in-process runtime on the shared Azurite, for tests of lib operations (an injected clock, for one). */
export async function testRuntime(overrides: Record<string, string> = {}, options: RuntimeOptions = {}): Promise<Runtime & { config: Config }> {
  const config = loadConfig(testSettings(overrides), () => undefined);
  const rt = createRuntime(config, options);
  await ensureTables(rt.tables);
  return rt;
}

export interface RecordedSendGridRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: {
    personalizations: { to: { email: string }[] }[];
    from: { email: string; name?: string };
    subject: string;
    content: { type: string; value: string }[];
    categories?: string[];
  };
}

/**
 * What the fake answers: a status (202 accepts, with an X-Message-Id; any other with
 * SendGrid's `errors[]`), `hang` (never answers), `unparseable` (a 400 whose body is a
 * proxy's HTML page, not SendGrid's JSON), or a function choosing one per request.
 */
export type FakeSendGridMode = number | 'hang' | 'unparseable';

export interface FakeSendGrid {
  baseUrl: string;
  /** Every request, with what it was answered. */
  requests: (RecordedSendGridRequest & { answered: FakeSendGridMode })[];
  /** What the next requests get. */
  respondWith(mode: FakeSendGridMode | ((request: RecordedSendGridRequest) => FakeSendGridMode)): void;
  /** How long each answer waits (a slow provider). */
  answerAfter(ms: number): void;
  close(): Promise<void>;
}

/** A local HTTP server that speaks SendGrid's POST /v3/mail/send, recording what @sendgrid/mail sends. */
export async function startFakeSendGrid(): Promise<FakeSendGrid> {
  let choose: (request: RecordedSendGridRequest) => FakeSendGridMode = () => 202;
  let delayMs = 0;
  const requests: FakeSendGrid['requests'] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (req.method !== 'POST' || req.url !== '/v3/mail/send') {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ message: 'not found' }] }));
        return;
      }
      const request: RecordedSendGridRequest = { method: req.method, url: req.url, headers: req.headers, body: JSON.parse(text) };
      const mode = choose(request);
      // Recorded as it arrives: a mail the sender gave up waiting for was still taken.
      requests.push({ ...request, answered: mode });
      if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      if (mode === 'hang') return;
      if (mode === 'unparseable') {
        res.writeHead(400, { 'content-type': 'text/html' });
        res.end('<html><body><h1>400 Bad Request</h1>nginx</body></html>');
        return;
      }
      if (mode === 202) {
        res.writeHead(202, { 'x-message-id': randomBytes(8).toString('hex') });
        res.end();
        return;
      }
      res.writeHead(mode, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ message: 'simulated failure', field: null, help: null }] }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as { port: number };
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    respondWith(next) {
      choose = typeof next === 'function' ? next : () => next;
    },
    answerAfter(ms) {
      delayMs = ms;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/**
 * Asserts the app's own refusal of a management call without a valid credential:
 * management routes are anonymous at the host and the app answers 401 `unauthorized`
 * in the contract's error body (lib/admin/credentials.ts).
 */
export async function expectUnauthorized(response: Response): Promise<void> {
  const body = (await response.json().catch(() => undefined)) as { error?: string } | undefined;
  if (response.status !== 401 || body?.error !== 'unauthorized') throw new Error(`expected 401 unauthorized, got ${response.status} ${JSON.stringify(body)}`);
}

/** Polls `probe` every `intervalMs` until it finds something, failing after `timeoutMs` with what was awaited. */
export async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 30_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
