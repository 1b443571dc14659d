import type { CloudEvent, EventGridPublisherClient } from '@azure/eventgrid';
import * as z from 'zod';
import type { EventGridConfig } from '../config.js';
import { lazySchema } from '../lazySchema.js';
import type { CredentialFactory } from '../storage/tables.js';
import { telemetry } from '../telemetry/telemetry.js';
import { EVENT_TYPES, type EventType } from './eventTypes.js';

/*
 * Event Grid for Azure consumers (DESIGN §10): with EVENT_GRID_TOPIC_ENDPOINT set, every
 * event guestpass emits for webhooks is also published to that custom topic as a
 * CloudEvents 1.0 event, one per event whatever the tenant's webhooks are:
 *
 *   id       the event's id (`msg_…`), the same as its webhooks' `webhook-id` and on
 *            every retry, so a subscriber can drop a repeat
 *   source   `/tenants/<tenantId>`: a subscription takes one tenant's events with an
 *            advanced filter on `source`
 *   type     `guestpass.<event type>`, e.g. `guestpass.signin.succeeded`
 *   subject  what the event is about, by id only: `guests/<guestId>`, `mails/<mailId>`,
 *            `keys/<keyId>` or `policies/<policyId>`; absent for `signin.refused`,
 *            which names no guest
 *   time     when it happened; data: the webhook payload's `data` (ids and small enums,
 *            never an address, a code, a token or a key)
 *
 * Publishing happens off the request path: emitEvent queues one message for Event Grid
 * on the webhook queue beside the webhooks' (lib/events/queue.ts), and the deliver-webhook
 * trigger publishes it. A publish that fails after the SDK's own retries is thrown, so
 * the host retries the message by its queue rules (host.json: visibilityTimeout,
 * maxDequeueCount) and then moves it to the poison queue, which the poison-queue alert
 * watches. The SDK is a lazy bundle (lib/lazy/eventGrid.ts), loaded by the first publish.
 */
export const EVENT_GRID_MESSAGE_VERSION = 1;
/** The prefix of every CloudEvent `type` guestpass publishes. */
export const CLOUD_EVENT_TYPE_PREFIX = 'guestpass.';

/** A queued publish: one event of one tenant, for the topic. */
export const eventGridMessageSchema = lazySchema(() =>
  z.object({
    v: z.literal(EVENT_GRID_MESSAGE_VERSION),
    target: z.literal('eventGrid'),
    tenantId: z.string().min(1).max(100),
    event: z.object({
      id: z.string().min(1).max(100),
      type: z.enum(EVENT_TYPES),
      timestamp: z.string(),
      data: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
    }),
    traceparent: z.string().max(64).optional(),
  }),
);
export type EventGridMessage = z.infer<typeof eventGridMessageSchema>;

/** Whether a queue message is meant for Event Grid rather than a webhook endpoint. */
export function isEventGridMessage(payload: unknown): boolean {
  return typeof payload === 'object' && payload !== null && (payload as { target?: unknown }).target === 'eventGrid';
}

/** The ids an event's data may name, and the subject each makes, in order of preference. */
const SUBJECTS: [field: string, collection: string][] = [
  ['guestId', 'guests'],
  ['mailId', 'mails'],
  ['keyId', 'keys'],
  ['policyId', 'policies'],
];

export function cloudEventOf(message: EventGridMessage): CloudEvent<Record<string, string | number | boolean | null>> {
  const { event } = message;
  const subject = SUBJECTS.map(([field, collection]) => (typeof event.data[field] === 'string' ? `${collection}/${event.data[field]}` : undefined)).find(Boolean);
  return {
    id: event.id,
    source: `/tenants/${message.tenantId}`,
    type: cloudEventType(event.type),
    time: new Date(event.timestamp),
    ...(subject ? { subject } : {}),
    data: event.data,
    // W3C trace context (the CloudEvents distributed-tracing extension): a subscriber's work joins the trace that emitted the event.
    ...(message.traceparent ? { extensionAttributes: { traceparent: message.traceparent } } : {}),
  };
}

export function cloudEventType(type: EventType): string {
  return `${CLOUD_EVENT_TYPE_PREFIX}${type}`;
}

export interface EventGridPublisher {
  /** Publishes one queued event; throws when the topic did not take it (after the SDK's retries). */
  publish(message: EventGridMessage): Promise<void>;
}

/**
 * The topic's publisher, made on the first publish: `EventGridPublisherClient` with the
 * CloudEvent input schema and the SDK's default settings, signed in as the app's managed
 * identity (the runtime's credential factory: DefaultAzureCredential with AZURE_CLIENT_ID)
 * or, when EVENT_GRID_TOPIC_KEY is set, with that key.
 */
export function openEventGrid(config: EventGridConfig, credentialFactory: CredentialFactory): EventGridPublisher {
  let client: Promise<EventGridPublisherClient<'CloudEvent'>> | undefined;
  const open = async (): Promise<EventGridPublisherClient<'CloudEvent'>> => {
    const { AzureKeyCredential, EventGridPublisherClient } = await import('../lazy/eventGrid.js');
    const credential = config.key ? new AzureKeyCredential(config.key) : credentialFactory(config.managedIdentityClientId);
    return new EventGridPublisherClient(config.endpoint, 'CloudEvent', credential);
  };
  const host = new URL(config.endpoint).hostname;
  return {
    async publish(message) {
      if (!client) {
        client = open();
        // A failed load is tried again by the next message.
        client.catch(() => (client = undefined));
      }
      const publisher = await client;
      await telemetry.dependency('eventgrid', 'POST', { 'tenant.id': message.tenantId, 'server.address': host, 'cloudevents.event_type': cloudEventType(message.event.type) }, () =>
        publisher.send([cloudEventOf(message)]),
      );
    },
  };
}
