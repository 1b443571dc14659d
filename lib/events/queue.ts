import type { Runtime } from '../runtime.js';
import { enqueue } from '../storage/queues.js';
import { telemetry } from '../telemetry/telemetry.js';
import { deliverWebhook, webhookMessageSchema, type DeliveryOutcome, type WebhookMessage } from './delivery.js';
import { eventGridMessageSchema, isEventGridMessage, type EventGridMessage } from './eventGrid.js';

/** Webhook messages outlive no retry: the longest wait of the schedule, with room. */
const MESSAGE_TTL_SECONDS = 2 * 86_400;

/** What the webhook queue holds: a delivery to one endpoint, or a publish to the Event Grid topic. */
export type QueuedEventMessage = WebhookMessage | EventGridMessage;

/**
 * Queues deliveries on the webhook queue (WEBHOOK_QUEUE_NAME), invisible for
 * `delaySeconds` (a retry's wait; the queue holds it, no timer runs). Each carries the
 * trace it was made in, so the delivery joins it.
 */
export async function queueWebhookDeliveries(rt: Runtime, messages: QueuedEventMessage[], delaySeconds = 0): Promise<void> {
  const queue = await rt.queues.webhooks();
  const traceparent = telemetry.traceparent();
  for (const message of messages) {
    await enqueue(queue, { ...message, ...(traceparent && !message.traceparent ? { traceparent } : {}) }, {
      visibilityTimeoutSeconds: delaySeconds > 0 ? delaySeconds : undefined,
      timeToLiveSeconds: MESSAGE_TTL_SECONDS,
    });
  }
}

/** A message the trigger cannot read: thrown, so the host retries it and then moves it to the poison queue. */
export class UnreadableWebhookMessage extends Error {
  constructor(problem: string) {
    super(`unreadable webhook message: ${problem}`);
    this.name = 'UnreadableWebhookMessage';
  }
}

/**
 * An Event Grid publish that failed after the SDK's own retries: thrown, so the host
 * retries the message by its queue rules and then moves it to the poison queue.
 */
export class EventGridPublishFailed extends Error {
  constructor(cause: unknown) {
    super(`the Event Grid topic did not take the event: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'EventGridPublishFailed';
  }
}

/**
 * One queued message, as the deliver-webhook trigger hands it over. A webhook delivery:
 * one attempt, and the next one queued with the schedule's wait when it failed (a
 * receiver that hangs costs this message WEBHOOK_TIMEOUT_SECONDS and nothing else). An
 * Event Grid publish: published, or thrown for the host to retry.
 */
export async function processWebhookMessage(rt: Runtime, payload: unknown): Promise<DeliveryOutcome> {
  if (isEventGridMessage(payload)) return publishToEventGrid(rt, payload);
  const parsed = webhookMessageSchema.safeParse(payload);
  if (!parsed.success) throw new UnreadableWebhookMessage(parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; '));
  const message = parsed.data;
  return telemetry.request(`deliver webhook ${message.event.type}`, { 'tenant.id': message.tenantId, 'webhook.endpoint_id': message.endpointId, 'webhook.attempt': message.attempt }, async () => {
    const outcome = await deliverWebhook(rt, message);
    if (outcome.outcome === 'failed' && outcome.retry) await queueWebhookDeliveries(rt, [outcome.retry.message], outcome.retry.delaySeconds);
    return outcome;
  }, message.traceparent);
}

async function publishToEventGrid(rt: Runtime, payload: unknown): Promise<DeliveryOutcome> {
  const parsed = eventGridMessageSchema.safeParse(payload);
  if (!parsed.success) throw new UnreadableWebhookMessage(parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; '));
  const message = parsed.data;
  // Queued while a topic was configured, read after it was removed: nothing to publish to.
  if (!rt.eventGrid) return { outcome: 'skipped', reason: 'no Event Grid topic is configured (EVENT_GRID_TOPIC_ENDPOINT)' };
  const eventGrid = rt.eventGrid;
  return telemetry.request(`publish event ${message.event.type}`, { 'tenant.id': message.tenantId }, async () => {
    try {
      await eventGrid.publish(message);
    } catch (error) {
      throw new EventGridPublishFailed(error);
    }
    return { outcome: 'published' as const };
  }, message.traceparent);
}
