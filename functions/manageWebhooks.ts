import { createWebhookAudited } from '../lib/admin/manage.js';
import { createWebhookBody } from '../lib/events/schemas.js';
import { listWebhooks } from '../lib/events/webhooks.js';
import { runtime } from '../lib/runtime.js';
import { tenantParams } from '../lib/schemas.js';
import { endpoint, json, registerHttp } from './http.js';
import { byMethod } from './methods.js';

export default registerHttp('manageWebhooks', {
  route: 'manage/tenants/{tenant}/webhooks',
  methods: ['GET', 'POST'],
  authLevel: 'anonymous',
  handler: byMethod({
    GET: endpoint({ access: 'tenant', params: tenantParams }, async ({ tenantId }) => json(200, { value: await listWebhooks(await runtime(), tenantId) })),
    POST: endpoint({ access: 'tenant', params: tenantParams, body: createWebhookBody }, async ({ tenantId, body, actor }) =>
      json(201, await createWebhookAudited(await runtime(), actor, tenantId, body)),
    ),
  }),
});
