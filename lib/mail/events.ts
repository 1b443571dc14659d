import { createHash, timingSafeEqual, verify, type KeyObject } from 'node:crypto';
import * as z from 'zod';
import { lazySchema } from '../lazySchema.js';
import { fail } from '../errors.js';
import type { Runtime } from '../runtime.js';
import { isStatus } from '../storage/tables.js';
import { MAIL_ROW, mailTableOf, type DeliveryStatus, type MailRecord } from './delivery.js';
import { SENDGRID_MAIL_ID_ARG } from './sendgrid.js';
import { sendGridWebhookKey } from './webhookKey.js';
import { emitEvent } from '../events/emit.js';
import { telemetry } from '../telemetry/telemetry.js';

/** A delivery report, from either provider, about one of guestpass's mails. */
export interface DeliveryEvent {
  mailId: string;
  status: Extract<DeliveryStatus, 'delivered' | 'bounced' | 'blocked'>;
  reason?: string;
  at: Date;
}

export interface EventsApplied {
  /** Reports that changed a mail's status. */
  applied: number;
  /** Reports about mails guestpass does not know (or no longer keeps), or older than what it has. */
  ignored: number;
}

const REASON_MAX = 500;

/** How old a signed delivery-report post may be: older ones are refused as replays. */
export const SIGNED_POST_MAX_AGE_MS = 5 * 60_000;

/** Applies each report to its mail row, unless the row already holds a newer one. */
export async function applyDeliveryEvents(rt: Runtime, events: DeliveryEvent[]): Promise<EventsApplied> {
  const result: EventsApplied = { applied: 0, ignored: 0 };
  for (const event of events) {
    const table = await mailTableOf(rt, event.mailId);
    if (!table) {
      result.ignored += 1;
      continue;
    }
    let row;
    try {
      row = await table.getEntity<MailRecord>(event.mailId, MAIL_ROW);
    } catch (error) {
      if (!isStatus(error, 404)) throw error;
      result.ignored += 1;
      continue;
    }
    if (new Date(row.statusAt).getTime() > event.at.getTime() && row.status !== 'sent') {
      result.ignored += 1;
      continue;
    }
    try {
      await table.updateEntity(
        { partitionKey: event.mailId, rowKey: MAIL_ROW, status: event.status, reason: (event.reason ?? '').slice(0, REASON_MAX), statusAt: event.at.toISOString() },
        'Merge',
        { etag: row.etag },
      );
      result.applied += 1;
      const fate = event.status === 'delivered' ? 'delivered' : 'bounced';
      telemetry.count('mails', { 'mail.kind': row.kind, fate });
      // Without the provider's reason, which may quote the address.
      await emitEvent(rt, row.tenantId, fate === 'delivered' ? 'mail.delivered' : 'mail.bounced', { mailId: event.mailId, kind: row.kind, status: event.status });
    } catch (error) {
      // Another report for the same mail landed first; the provider retries what we do not acknowledge.
      if (!isStatus(error, 404, 412)) throw error;
      result.ignored += 1;
    }
  }
  return result;
}

const uuid = lazySchema(() => z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i));

/* ---- SendGrid's signed Event Webhook ---- */

const sendGridEvent = lazySchema(() => z.looseObject({
  event: z.string(),
  timestamp: z.number(),
  type: z.string().optional(),
  reason: z.string().optional(),
  response: z.string().optional(),
  [SENDGRID_MAIL_ID_ARG]: z.string().optional(),
}));

const keys = new Map<string, KeyObject>();

export interface SignedRequest {
  body: string;
  signature?: string;
  timestamp?: string;
}

/**
 * Verifies a SendGrid Event Webhook POST (X-Twilio-Email-Event-Webhook-Signature over
 * X-Twilio-Email-Event-Webhook-Timestamp followed by the raw body) with the public key
 * of SENDGRID_WEBHOOK_PUBLIC_KEY, then maps its events. Unsigned, mis-signed, or with
 * no key configured: 401 invalid_signature.
 */
export function sendGridEvents(rt: Runtime, request: SignedRequest): DeliveryEvent[] {
  const publicKey = rt.config.mailEvents.sendGridPublicKey;
  if (!publicKey || !request.signature || !request.timestamp) fail('invalid_signature');
  let key = keys.get(publicKey);
  if (!key) keys.set(publicKey, (key = sendGridWebhookKey(publicKey)));
  // What @sendgrid/eventwebhook's verifySignature checks (ECDSA, SHA-256, DER signature over
  // timestamp + payload), with node's crypto: some 0.1 ms a call against its pure-JS 35 ms.
  // test/mailEvents.test.ts holds the two to the same answers.
  let valid: boolean;
  try {
    valid = verify('sha256', Buffer.from(request.timestamp + request.body, 'utf8'), key, Buffer.from(request.signature, 'base64'));
  } catch {
    valid = false; // not a DER signature at all
  }
  if (!valid) fail('invalid_signature');
  // A correctly signed post from more than five minutes ago (either way) is a replay, refused alike.
  const signedAt = Number(request.timestamp) * 1000;
  if (!Number.isFinite(signedAt) || Math.abs(rt.now() - signedAt) > SIGNED_POST_MAX_AGE_MS) fail('invalid_signature');
  const parsed = z.array(z.unknown()).safeParse(parseJson(request.body));
  if (!parsed.success) fail('invalid_request', { message: 'The body must be a JSON array of SendGrid events.' });
  const events: DeliveryEvent[] = [];
  for (const item of parsed.data) {
    const event = sendGridEvent.safeParse(item);
    if (!event.success) continue;
    const mailId = event.data[SENDGRID_MAIL_ID_ARG];
    const status = sendGridStatus(event.data.event, event.data.type);
    if (!status || !mailId || !uuid.safeParse(mailId).success) continue;
    events.push({ mailId: mailId.toLowerCase(), status, reason: event.data.reason ?? event.data.response, at: new Date(event.data.timestamp * 1000) });
  }
  return events;
}

/** SendGrid's delivery events: a `bounce` of type `blocked` and a `dropped` are refusals by policy, not by the mailbox. */
function sendGridStatus(event: string, type: string | undefined): DeliveryEvent['status'] | undefined {
  if (event === 'delivered') return 'delivered';
  if (event === 'bounce') return type === 'blocked' ? 'blocked' : 'bounced';
  if (event === 'dropped') return 'blocked';
  return undefined;
}

/* ---- ACS delivery reports through Event Grid ---- */

const eventGridEvent = lazySchema(() => z.looseObject({
  eventType: z.string(),
  eventTime: z.string().optional(),
  data: z.looseObject({}).optional(),
}));

const acsDeliveryReport = lazySchema(() => z.looseObject({
  messageId: z.string(),
  status: z.string(),
  deliveryStatusDetails: z.looseObject({ statusMessage: z.string().optional() }).optional(),
  deliveryAttemptTimeStamp: z.string().optional(),
}));

export const EVENT_GRID_VALIDATION = 'Microsoft.EventGrid.SubscriptionValidationEvent';
export const ACS_DELIVERY_REPORT = 'Microsoft.Communication.EmailDeliveryReportReceived';

export type EventGridOutcome = { validationResponse: string } | { events: DeliveryEvent[] };

/**
 * An Event Grid delivery (Event Grid schema: a JSON array of events) to the ACS
 * endpoint. Event Grid authenticates to a webhook with a secret in the endpoint URL
 * (or an Entra token, which needs an app registration): guestpass takes the secret,
 * ACS_EVENTS_SECRET, in the `secret` query parameter. The subscription validation
 * handshake is answered with its validationCode, and only with the secret too.
 */
export function acsEvents(rt: Runtime, request: { body: string; secret?: string }): EventGridOutcome {
  const expected = rt.config.mailEvents.acsSecret;
  if (!expected || !request.secret || !sameSecret(expected, request.secret)) fail('invalid_signature');
  const parsed = z.array(eventGridEvent).min(1).safeParse(parseJson(request.body));
  if (!parsed.success) fail('invalid_request', { message: 'The body must be a JSON array of Event Grid events.' });
  const validation = parsed.data.find((event) => event.eventType === EVENT_GRID_VALIDATION);
  if (validation) {
    const code = z.object({ validationCode: z.string().min(1).max(200) }).safeParse(validation.data);
    if (!code.success) fail('invalid_request', { message: 'The validation event has no validationCode.' });
    return { validationResponse: code.data.validationCode };
  }
  // The secret in the URL signs no body: a delivery older than SIGNED_POST_MAX_AGE_MS (by its
  // eventTime) is refused as a replay, as SendGrid's signed posts are. Event Grid does not retry a
  // 401, so a delivery that waited longer is lost to this webhook: the Storage Queue destination
  // Bicep makes (infra/modules/acsEvents.bicep) keeps every report, however late.
  const now = rt.now();
  if (parsed.data.some((event) => !(Math.abs(now - Date.parse(event.eventTime ?? '')) <= SIGNED_POST_MAX_AGE_MS))) fail('invalid_signature');
  return { events: acsDeliveryEvents(rt, parsed.data) };
}

/**
 * One Event Grid event (Event Grid schema) as the subscription's Storage Queue
 * destination writes it, one event a message, base64-encoded (infra/modules/acsEvents.bicep):
 * only identities with a role on the storage account can write there, so it carries no secret.
 */
export function acsQueuedEvent(rt: Runtime, payload: unknown): DeliveryEvent[] {
  const parsed = eventGridEvent.safeParse(typeof payload === 'string' ? parseQueuedJson(payload) : payload);
  return parsed.success ? acsDeliveryEvents(rt, [parsed.data]) : [];
}

function parseQueuedJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** The ACS delivery reports among Event Grid events, as delivery events; anything else is skipped. */
function acsDeliveryEvents(rt: Runtime, eventGridEvents: z.infer<typeof eventGridEvent>[]): DeliveryEvent[] {
  const events: DeliveryEvent[] = [];
  for (const event of eventGridEvents) {
    if (event.eventType !== ACS_DELIVERY_REPORT) continue;
    const report = acsDeliveryReport.safeParse(event.data);
    if (!report.success || !uuid.safeParse(report.data.messageId).success) continue;
    const status = acsStatus(report.data.status);
    if (!status) continue;
    const at = new Date(report.data.deliveryAttemptTimeStamp ?? event.eventTime ?? rt.now());
    events.push({
      mailId: report.data.messageId.toLowerCase(),
      status,
      reason: report.data.deliveryStatusDetails?.statusMessage ?? (status === 'delivered' ? undefined : report.data.status),
      at: Number.isNaN(at.getTime()) ? new Date(rt.now()) : at,
    });
  }
  return events;
}

/**
 * ACS's delivery statuses: Bounced and Failed are the receiving side's refusal;
 * Suppressed (on the suppression list), FilteredSpam and Quarantined are blocks.
 * Expanded (a distribution list opened up) says nothing of this mail's end.
 */
function acsStatus(status: string): DeliveryEvent['status'] | undefined {
  switch (status) {
    case 'Delivered':
      return 'delivered';
    case 'Bounced':
    case 'Failed':
      return 'bounced';
    case 'Suppressed':
    case 'FilteredSpam':
    case 'Quarantined':
      return 'blocked';
    default:
      return undefined;
  }
}

function sameSecret(expected: string, given: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(expected), digest(given));
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    fail('invalid_request', { message: 'The request body is not valid JSON.' });
  }
}
