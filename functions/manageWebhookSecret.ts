import { rotateWebhookSecretAudited } from '../lib/admin/manage.js';
import { webhookParams } from '../lib/events/schemas.js';
import { runtime } from '../lib/runtime.js';
import { endpoint, json, registerHttp } from './http.js';

export default registerHttp('manageWebhookSecret', {
  route: 'manage/tenants/{tenant}/webhooks/{id}/rotate-secret',
  methods: ['POST'],
  authLevel: 'anonymous',
  handler: endpoint({ access: 'tenant', params: webhookParams }, async ({ tenantId, params, actor }) =>
    json(200, await rotateWebhookSecretAudited(await runtime(), actor, tenantId, params.id)),
  ),
});
