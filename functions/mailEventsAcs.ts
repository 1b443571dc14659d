import { acsEvents, applyDeliveryEvents } from '../lib/mail/events.js';
import { runtime } from '../lib/runtime.js';
import { endpoint, json, readJsonText, registerHttp } from './http.js';

/** Event Grid delivers batches of at most 1 MB. */
const MAX_EVENTS_BYTES = 1024 * 1024;

// ACS delivery reports through an Event Grid webhook subscription, authenticated by ACS_EVENTS_SECRET in `?secret=`.
export default registerHttp('mailEventsAcs', {
  route: 'mail-events/acs',
  methods: ['POST'],
  authLevel: 'anonymous',
  handler: endpoint({}, async ({ request }) => {
    const rt = await runtime();
    const outcome = acsEvents(rt, { body: await readJsonText(request, MAX_EVENTS_BYTES), secret: request.query.get('secret') ?? undefined });
    if ('validationResponse' in outcome) return json(200, outcome);
    return json(200, await applyDeliveryEvents(rt, outcome.events));
  }),
});
