import { listOutbox } from '../lib/mail/outbox.js';
import { runtime } from '../lib/runtime.js';
import { outboxQuery } from '../lib/schemas.js';
import { endpoint, json, registerHttp } from './http.js';
import { getConfig } from '../lib/config.js';

// Exists only with EMAIL_TRANSPORT=outbox (development): the mail a real transport would have sent.
export default getConfig().email.transport === 'outbox'
  ? registerHttp('devOutbox', {
      route: 'dev/outbox',
      methods: ['GET'],
      authLevel: 'anonymous',
      handler: endpoint({ query: outboxQuery }, async ({ query }) =>
        json(200, { value: await listOutbox((await runtime()).tables, query) }),
      ),
    })
  : undefined;
