import type { Runtime } from '../runtime.js';
import type { WebhookMessage } from './delivery.js';

/** Queues webhook deliveries; wired to the webhook queue with the host's queue support. */
export async function queueWebhookDeliveries(_rt: Runtime, _messages: WebhookMessage[], _delaySeconds = 0): Promise<void> {
  throw new Error('the webhook queue is not wired yet');
}
