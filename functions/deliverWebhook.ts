import { EventGridPublishFailed, processWebhookMessage, UnreadableWebhookMessage } from '../lib/events/queue.js';
import { runtime } from '../lib/runtime.js';
import { registerQueue } from './http.js';

/**
 * deliver-webhook: one queued event for one endpoint per invocation (lib/events/). A
 * failed attempt queues the next one itself, on the Standard Webhooks schedule, and
 * completes; only an outage of guestpass's own storage or of the Event Grid topic is
 * thrown, for the host to retry by its queue rules, and a message that cannot be read,
 * which ends in the poison queue.
 */
export default registerQueue('deliverWebhook', {
  queueName: '%WEBHOOK_QUEUE_NAME%',
  connection: 'AzureWebJobsStorage',
  handler: async (payload, context) => {
    const messageId = String(context.triggerMetadata?.id ?? 'unknown');
    try {
      const outcome = await processWebhookMessage(await runtime(), payload);
      if (outcome.outcome === 'failed') context.warn(`deliver-webhook: attempt failed (${outcome.error})${outcome.disabled ? '; the endpoint is now disabled' : ''}`);
    } catch (error) {
      if (error instanceof UnreadableWebhookMessage) context.error(`deliver-webhook: queue message ${messageId} is not a webhook delivery: ${error.message}`);
      if (error instanceof EventGridPublishFailed) context.warn(`deliver-webhook: queue message ${messageId}: ${error.message}; the host retries it`);
      throw error;
    }
  },
});
