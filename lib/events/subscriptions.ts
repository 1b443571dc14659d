import { EVENT_TYPES, type EventType } from './eventTypes.js';

/*
 * A tenant's webhook endpoints are rows of its own partition in the tenants table
 * (RowKey `webhook_<id>`), so the one query that loads a tenant with its policies
 * (lib/tenants/tenants.ts) brings what an event needs to know too: whether any
 * endpoint wants it. Emitting an event for a tenant without webhooks costs nothing.
 */
export const WEBHOOK_ROW_PREFIX = 'webhook_';

export interface WebhookEntity {
  url: string;
  /** JSON EventType[]; `[]` is every event type. */
  events: string;
  description?: string;
  /** AES-256-GCM sealed `whsec_…` secret (lib/events/webhooks.ts). */
  sealedSecret: string;
  previousSealedSecret?: string;
  previousSecretUntil?: string;
  enabled: boolean;
  disabledReason?: string;
  failingSince?: string;
  createdAt: string;
  updatedAt: string;
}

/** What emitting an event needs of an endpoint. */
export interface WebhookSubscription {
  id: string;
  /** Every event type when empty. */
  events: EventType[];
  enabled: boolean;
}

export function eventsOf(row: Pick<WebhookEntity, 'events'>): EventType[] {
  const parsed = JSON.parse(row.events || '[]') as string[];
  return parsed.filter((type): type is EventType => (EVENT_TYPES as readonly string[]).includes(type));
}

export function toSubscription(rowKey: string, row: WebhookEntity): WebhookSubscription {
  return { id: rowKey.slice(WEBHOOK_ROW_PREFIX.length), events: eventsOf(row), enabled: row.enabled };
}

export function wants(subscription: WebhookSubscription, type: EventType): boolean {
  return subscription.enabled && (subscription.events.length === 0 || subscription.events.includes(type));
}
