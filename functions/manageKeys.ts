import { listAdminKeys } from '../lib/admin/credentials.js';
import { createKeyAudited } from '../lib/admin/manage.js';
import { createKeyBody } from '../lib/admin/schemas.js';
import { runtime } from '../lib/runtime.js';
import { tenantParams } from '../lib/schemas.js';
import { endpoint, json, registerHttp } from './http.js';
import { byMethod } from './methods.js';

export default registerHttp('manageKeys', {
  route: 'manage/tenants/{tenant}/keys',
  methods: ['GET', 'POST'],
  authLevel: 'anonymous',
  handler: byMethod({
    GET: endpoint({ access: 'tenant', params: tenantParams }, async ({ tenantId }) => json(200, { value: await listAdminKeys(await runtime(), tenantId) })),
    POST: endpoint({ access: 'tenant', params: tenantParams, body: createKeyBody }, async ({ tenantId, body, actor }) =>
      json(201, await createKeyAudited(await runtime(), actor, tenantId, body.name)),
    ),
  }),
});
