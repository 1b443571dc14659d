import { applyDeliveryEvents, sendGridEvents } from '../lib/mail/events.js';
import { runtime } from '../lib/runtime.js';
import { endpoint, json, readJsonText, registerHttp } from './http.js';

/** SendGrid batches events: up to a megabyte per POST. */
const MAX_EVENTS_BYTES = 1024 * 1024;

// SendGrid's signed Event Webhook: anonymous to the host, verified by signature (lib/mail/events.ts).
export default registerHttp('mailEventsSendGrid', {
  route: 'mail-events/sendgrid',
  methods: ['POST'],
  authLevel: 'anonymous',
  handler: endpoint({}, async ({ request }) => {
    const rt = await runtime();
    const events = sendGridEvents(rt, {
      body: await readJsonText(request, MAX_EVENTS_BYTES),
      signature: request.headers.get('x-twilio-email-event-webhook-signature') ?? undefined,
      timestamp: request.headers.get('x-twilio-email-event-webhook-timestamp') ?? undefined,
    });
    return json(200, await applyDeliveryEvents(rt, events));
  }),
});
