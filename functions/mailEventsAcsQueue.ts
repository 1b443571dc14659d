import { acsQueuedEvent, applyDeliveryEvents } from '../lib/mail/events.js';
import { runtime } from '../lib/runtime.js';
import { registerQueue } from './http.js';

/**
 * ACS delivery reports through the Event Grid subscription that Bicep makes
 * (infra/modules/acsEvents.bicep): Event Grid writes each event to this queue, so no
 * webhook has to answer its validation handshake before the app is deployed.
 */
export default registerQueue('mailEventsAcsQueue', {
  queueName: '%ACS_EVENTS_QUEUE_NAME%',
  connection: 'AzureWebJobsStorage',
  handler: async (payload, context) => {
    const rt = await runtime();
    const applied = await applyDeliveryEvents(rt, acsQueuedEvent(rt, payload));
    if (applied.applied + applied.ignored === 0) context.log(`mail-events: queue message ${String(context.triggerMetadata?.id ?? '')} is not an ACS delivery report; skipped`);
  },
});
