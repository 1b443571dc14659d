import { readQueuedMail, sendQueuedMail, UnreadableMailMessage } from '../lib/mail/queue.js';
import { runtime } from '../lib/runtime.js';
import { registerQueue } from './http.js';

/**
 * send-mail: one queued mail per invocation, handed to the provider. An outage is
 * thrown, so the host retries it by its queue rules (host.json `extensions.queues`)
 * and moves it to `<queue>-poison` after maxDequeueCount tries; so is a message that
 * cannot be read, with a line naming it.
 */
export default registerQueue('sendMail', {
  // An app setting, resolved by the host (a binding expression): Bicep and local.settings.json set it.
  queueName: '%MAIL_QUEUE_NAME%',
  connection: 'AzureWebJobsStorage',
  handler: async (payload, context) => {
    const dequeueCount = Number(context.triggerMetadata?.dequeueCount ?? 1);
    const messageId = String(context.triggerMetadata?.id ?? 'unknown');
    try {
      const outcome = await sendQueuedMail(await runtime(), readQueuedMail(payload), dequeueCount);
      if (outcome.fate !== 'none') context.log(`send-mail: ${outcome.kind} mail ${outcome.id} ${outcome.fate}${'reason' in outcome ? ` (${outcome.reason})` : ''}`);
    } catch (error) {
      if (error instanceof UnreadableMailMessage) context.error(`send-mail: queue message ${messageId} (try ${dequeueCount}) is not a mail guestpass can send: ${error.message}`);
      throw error;
    }
  },
});
