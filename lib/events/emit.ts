import type { Runtime } from '../runtime.js';
import { dayTable } from '../storage/dayTables.js';
import { isStatus, keyDigest } from '../storage/tables.js';
import { resolveTenant } from '../tenants/tenants.js';
import { newEventId, WEBHOOK_MESSAGE_VERSION } from './delivery.js';
import { EVENT_GRID_MESSAGE_VERSION } from './eventGrid.js';
import { queueWebhookDeliveries, type QueuedEventMessage } from './queue.js';
import type { EventType } from './eventTypes.js';
import { wants } from './subscriptions.js';

/*
 * Every sign-in, refusal, mail fate and management change is an event (DESIGN §10).
 * emitEvent hands one to each of the tenant's webhook endpoints that wants it, as a
 * message on the webhook queue (lib/events/queue.ts); the queue's trigger makes the
 * attempts. What an event carries is ids, never an address, a code, a token or a key.
 *
 * Emitting never fails the operation that emits: the change has happened, and a
 * queue that does not answer is logged and the event lost, as a log line would be.
 * The endpoints come with the tenant (its cached context, TENANT_CACHE_SECONDS), so a
 * tenant without webhooks pays nothing for its events. With an Event Grid topic
 * (EVENT_GRID_TOPIC_ENDPOINT) every event also gets one message for the topic on the
 * same queue (lib/events/eventGrid.ts), whatever the tenant's webhooks.
 */
export interface EventData {
  [field: string]: string | number | boolean | null | undefined;
}

export interface GuestpassEvent {
  id: string;
  type: EventType;
  timestamp: string;
  data: Record<string, string | number | boolean | null>;
}


function cleaned(data: EventData): Record<string, string | number | boolean | null> {
  return Object.fromEntries(Object.entries(data).filter(([, value]) => value !== undefined)) as Record<string, string | number | boolean | null>;
}

export function emitEvent(rt: Runtime, tenantId: string, type: EventType, data: EventData): Promise<void> {
  return emit(rt, tenantId, type, data);
}

/** An hour of the clock (UTC), in milliseconds. */
const HOUR_MS = 3_600_000;

/**
 * emitEvent for an event told at most once per `onceKey` and UTC hour, across every
 * instance: the first to insert a row keyed by the tenant, the type, `onceKey` and the
 * hour into that day's limits table tells it; an insert that finds the row (409) does
 * not. Only when someone listens (a webhook that wants it, or Event Grid), so an event
 * nobody hears costs no write. The row goes with its day table (lib/storage/cleanup.ts).
 */
export async function emitEventOncePerHour(rt: Runtime, tenantId: string, type: EventType, data: EventData, onceKey: string): Promise<void> {
  await emit(rt, tenantId, type, data, async (tenant) => {
    const hourStart = Math.floor(rt.now() / HOUR_MS) * HOUR_MS;
    const table = await dayTable(rt, 'limits', hourStart);
    try {
      await table.createEntity({ partitionKey: `once_${keyDigest(`${tenant}|${type}|${onceKey}`)}`, rowKey: String(hourStart), expiresAt: new Date(hourStart + HOUR_MS) });
      return true;
    } catch (error) {
      // Told already this hour, by this instance or another (or by this insert's own first try, which timed out: told then).
      if (isStatus(error, 409)) return false;
      throw error;
    }
  });
}

async function emit(rt: Runtime, tenantId: string, type: EventType, data: EventData, firstToTell?: (tenantId: string) => Promise<boolean>): Promise<void> {
  try {
    const { tenant, webhooks } = await resolveTenant(rt, tenantId);
    const endpoints = webhooks.filter((endpoint) => wants(endpoint, type));
    if (endpoints.length === 0 && !rt.eventGrid) return;
    if (firstToTell && !(await firstToTell(tenant.id))) return;
    const event: GuestpassEvent = { id: newEventId(), type, timestamp: new Date(rt.now()).toISOString(), data: { tenantId: tenant.id, ...cleaned(data) } };
    const messages: QueuedEventMessage[] = endpoints.map((endpoint) => ({ v: WEBHOOK_MESSAGE_VERSION, tenantId: tenant.id, endpointId: endpoint.id, attempt: 1, event }));
    if (rt.eventGrid) messages.push({ v: EVENT_GRID_MESSAGE_VERSION, target: 'eventGrid', tenantId: tenant.id, event });
    await queueWebhookDeliveries(rt, messages);
  } catch (error) {
    console.warn(`guestpass: the ${type} event of tenant ${tenantId} was not queued: ${(error as Error).message}`);
  }
}
