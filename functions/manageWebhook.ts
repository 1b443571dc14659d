import { deleteWebhookAudited, updateWebhookAudited } from '../lib/admin/manage.js';
import { updateWebhookBody, webhookParams } from '../lib/events/schemas.js';
import { getWebhook } from '../lib/events/webhooks.js';
import { runtime } from '../lib/runtime.js';
import { endpoint, json, registerHttp } from './http.js';
import { byMethod } from './methods.js';

export default registerHttp('manageWebhook', {
  route: 'manage/tenants/{tenant}/webhooks/{id}',
  methods: ['GET', 'PATCH', 'DELETE'],
  authLevel: 'anonymous',
  handler: byMethod({
    GET: endpoint({ access: 'tenant', params: webhookParams }, async ({ tenantId, params }) => json(200, await getWebhook(await runtime(), tenantId, params.id))),
    PATCH: endpoint({ access: 'tenant', params: webhookParams, body: updateWebhookBody }, async ({ tenantId, params, body, actor }) =>
      json(200, await updateWebhookAudited(await runtime(), actor, tenantId, params.id, body)),
    ),
    DELETE: endpoint({ access: 'tenant', params: webhookParams }, async ({ tenantId, params, actor }) => {
      await deleteWebhookAudited(await runtime(), actor, tenantId, params.id);
      return { status: 204 };
    }),
  }),
});
