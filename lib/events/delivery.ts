import { createHmac, randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import * as z from 'zod';
import { recordAudit, WEBHOOK_DELIVERY_ACTOR } from '../admin/audit.js';
import { GuestpassError } from '../errors.js';
import { lazySchema } from '../lazySchema.js';
import type { Runtime } from '../runtime.js';
import { DAY_MS, dayTable } from '../storage/dayTables.js';
import { newestFirstKey } from '../storage/tables.js';
import { telemetry } from '../telemetry/telemetry.js';
import { EVENT_TYPES, type EventType } from './eventTypes.js';
import { WEBHOOK_ROW_PREFIX } from './subscriptions.js';
import { AddressNotAllowed, isPublicAddress, webhookLookup } from './webhookUrl.js';
import { readWebhookRow, signingSecrets, type DeliveryRow } from './webhooks.js';

/*
 * One webhook delivery attempt, in the Standard Webhooks format
 * (https://www.standardwebhooks.com): the body is `{type, timestamp, data}`, the
 * headers `webhook-id` (the event's id, the same on every attempt, so a receiver
 * can drop a repeat), `webhook-timestamp` (seconds) and `webhook-signature`
 * (`v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`, one per secret in force,
 * space-separated). Attempts run from the webhook queue (functions/deliverWebhook.ts),
 * never inside a request: a receiver that hangs costs the queue message its
 * WEBHOOK_TIMEOUT_SECONDS, never a caller's time.
 *
 * Any 2xx is delivered. Anything else — another status, a redirect (never followed),
 * a timeout, a refused address, a connection error — is a failure, retried on the
 * schedule Standard Webhooks recommends (its authors' service, Svix, uses it): 5 s,
 * 5 min, 30 min, 2 h, 5 h, 10 h and 10 h after the failures before, eight attempts in
 * all over about 27.6 hours. An endpoint still failing WEBHOOK_DISABLE_AFTER_DAYS
 * after its first failure in a row is disabled, and the tenant's audit log says so.
 */
export const RETRY_DELAYS_SECONDS = [5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600] as const;
export const MAX_ATTEMPTS = RETRY_DELAYS_SECONDS.length + 1;
/** The receiver's answer kept with the attempt, and read at most. */
const RESPONSE_KEPT = 1024;
const RESPONSE_READ = 64 * 1024;

export const WEBHOOK_MESSAGE_VERSION = 1;

/** A queued delivery: one event for one endpoint, and which attempt this is. */
export const webhookMessageSchema = lazySchema(() =>
  z.object({
    v: z.literal(WEBHOOK_MESSAGE_VERSION),
    tenantId: z.string().min(1).max(100),
    endpointId: z.string().regex(/^ep_[0-9a-f]{32}$/),
    attempt: z.number().int().min(1).max(MAX_ATTEMPTS),
    event: z.object({
      id: z.string().min(1).max(100),
      type: z.enum(EVENT_TYPES),
      timestamp: z.string(),
      data: z.record(z.string(), z.unknown()),
    }),
    /** W3C trace context of the work that emitted the event, so the delivery joins its trace. */
    traceparent: z.string().max(64).optional(),
  }),
);
export type WebhookMessage = z.infer<typeof webhookMessageSchema>;

export type DeliveryOutcome =
  | { outcome: 'delivered'; status: number }
  | { outcome: 'failed'; error: string; status?: number; retry?: { message: WebhookMessage; delaySeconds: number }; disabled?: boolean }
  /** The endpoint is gone or disabled: nothing was sent. */
  | { outcome: 'skipped'; reason: string }
  /** An Event Grid message (lib/events/eventGrid.ts): the topic took it. */
  | { outcome: 'published' };

/** An event's id, its `webhook-id` on every attempt. */
export function newEventId(): string {
  return `msg_${randomUUID().replace(/-/g, '')}`;
}

/** The Standard Webhooks signature of one message under one `whsec_` secret. */
export function signWebhook(secret: string, id: string, timestampSeconds: number, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`).digest('base64')}`;
}

interface Answer {
  status: number;
  body: string;
}

/** One POST, no redirect followed, bounded in time and in what is read of the answer. */
function post(rt: Runtime, url: URL, headers: Record<string, string>, body: string): Promise<Answer> {
  const timeoutMs = rt.config.webhooks.timeoutSeconds * 1000;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  // An address in the URL itself is never looked up: it is checked here.
  if (isIP(host) && !rt.config.webhooks.allowPrivateAddresses && !isPublicAddress(host)) return Promise.reject(new AddressNotAllowed(host, host));
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const request = send(url, {
      method: 'POST',
      headers: { ...headers, 'content-length': Buffer.byteLength(body) },
      lookup: webhookLookup(rt.config),
      signal: AbortSignal.timeout(timeoutMs),
    });
    request.on('error', (error) => reject(error.name === 'AbortError' || error.name === 'TimeoutError' ? new Error(`no answer within ${rt.config.webhooks.timeoutSeconds} s`) : error));
    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      let read = 0;
      response.on('data', (chunk: Buffer) => {
        if (read < RESPONSE_READ) chunks.push(chunk);
        read += chunk.length;
        if (read >= RESPONSE_READ) response.destroy();
      });
      const done = () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8').slice(0, RESPONSE_KEPT) });
      response.on('end', done);
      response.on('close', done);
      response.on('error', done);
    });
    request.end(body);
  });
}

/** Why an attempt failed, in one line for the delivery record. */
function describeFailure(error: unknown): string {
  if (error instanceof AddressNotAllowed) return `address not allowed: ${error.message}`;
  const cause = (error as { cause?: unknown })?.cause;
  if (cause instanceof AddressNotAllowed) return `address not allowed: ${cause.message}`;
  const code = (error as NodeJS.ErrnoException)?.code;
  return code ? `${code}: ${(error as Error).message}` : (error as Error)?.message ?? String(error);
}

/**
 * Makes one attempt of a queued delivery and records it. A failure short of the last
 * attempt comes back with the message to queue next and its delay; the caller queues it.
 */
export async function deliverWebhook(rt: Runtime, message: WebhookMessage): Promise<DeliveryOutcome> {
  let row;
  try {
    row = await readWebhookRow(rt, message.tenantId, message.endpointId);
  } catch (error) {
    if (error instanceof GuestpassError && error.code === 'webhook_not_found') return { outcome: 'skipped', reason: 'the endpoint was deleted' };
    throw error;
  }
  if (!row.enabled) return { outcome: 'skipped', reason: 'the endpoint is disabled' };

  const body = JSON.stringify({ type: message.event.type, timestamp: message.event.timestamp, data: message.event.data });
  const timestamp = Math.floor(rt.now() / 1000);
  const signatures = signingSecrets(rt, message.endpointId, row).map((secret) => signWebhook(secret, message.event.id, timestamp, body));
  const headers = {
    'content-type': 'application/json',
    'user-agent': 'guestpass-webhooks/1',
    'webhook-id': message.event.id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signatures.join(' '),
  };
  const started = performance.now();
  let answer: Answer | undefined;
  let error: string | undefined;
  try {
    const url = new URL(row.url);
    answer = await telemetry.dependency('webhook', 'POST', { 'tenant.id': message.tenantId, 'webhook.endpoint_id': message.endpointId, 'server.address': url.hostname, 'webhook.attempt': message.attempt }, () =>
      post(rt, url, headers, body),
    );
    if (answer.status >= 300 && answer.status < 400) error = `redirect refused: the receiver answered ${answer.status}; webhooks never follow redirects`;
    else if (answer.status < 200 || answer.status >= 300) error = `the receiver answered ${answer.status}`;
  } catch (caught) {
    error = describeFailure(caught);
  }
  const durationMs = Math.round(performance.now() - started);
  telemetry.count('webhookDeliveries', { 'tenant.id': message.tenantId, 'webhook.endpoint_id': message.endpointId, outcome: error ? 'failed' : 'delivered' });
  const now = rt.now();
  const retry = error && message.attempt < MAX_ATTEMPTS ? { message: { ...message, attempt: message.attempt + 1 }, delaySeconds: RETRY_DELAYS_SECONDS[message.attempt - 1]! } : undefined;
  const record: DeliveryRow = {
    eventId: message.event.id,
    eventType: message.event.type,
    attempt: message.attempt,
    at: new Date(now).toISOString(),
    outcome: error ? 'failed' : 'delivered',
    ...(answer ? { status: answer.status } : {}),
    ...(error ? { error: error.slice(0, 500) } : {}),
    ...(answer?.body ? { response: answer.body } : {}),
    durationMs,
    ...(retry ? { nextAttemptAt: new Date(now + retry.delaySeconds * 1000).toISOString() } : {}),
    expiresAt: new Date(now + rt.config.signInLogRetentionDays * DAY_MS),
  };
  const table = await dayTable(rt, 'webhooks', now);
  await table.createEntity({ partitionKey: message.endpointId, rowKey: newestFirstKey(now, `${message.event.id}_${message.attempt}`), ...record }).catch(() => undefined);

  if (!error) {
    if (row.failingSince) await markEndpoint(rt, message, { failingSince: '' }).catch(() => undefined);
    return { outcome: 'delivered', status: answer!.status };
  }
  const failingSince = row.failingSince ? Date.parse(row.failingSince) : now;
  const disable = now - failingSince >= rt.config.webhooks.disableAfterDays * DAY_MS;
  if (disable) {
    const reason = `disabled after failing for ${rt.config.webhooks.disableAfterDays} days; last error: ${error}`.slice(0, 500);
    await markEndpoint(rt, message, { enabled: false, disabledReason: reason });
    await recordAudit(rt, message.tenantId, WEBHOOK_DELIVERY_ACTOR, {
      action: 'webhook.disable',
      target: { type: 'webhook', id: message.endpointId },
      after: { enabled: false, disabledReason: reason, failingSince: new Date(failingSince).toISOString() },
    });
    return { outcome: 'failed', error, ...(answer ? { status: answer.status } : {}), disabled: true };
  }
  if (!row.failingSince) await markEndpoint(rt, message, { failingSince: new Date(now).toISOString() }).catch(() => undefined);
  return { outcome: 'failed', error, ...(answer ? { status: answer.status } : {}), ...(retry ? { retry } : {}) };
}

/** A Merge update of the endpoint row; `failingSince: ''` says it is not failing (a Merge cannot remove a property). */
async function markEndpoint(rt: Runtime, message: WebhookMessage, change: { failingSince?: string; enabled?: boolean; disabledReason?: string }): Promise<void> {
  await rt.tables.tenants.updateEntity(
    { partitionKey: message.tenantId, rowKey: `${WEBHOOK_ROW_PREFIX}${message.endpointId}`, ...change },
    'Merge',
  );
  if (change.enabled === false) rt.tenantCache.invalidate(message.tenantId);
}

export type { EventType };
