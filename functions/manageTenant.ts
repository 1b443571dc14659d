import { updateTenantAudited } from '../lib/admin/manage.js';
import { readTenantSettings } from '../lib/tenants/policies.js';
import { runtime } from '../lib/runtime.js';
import { tenantParams, tenantSettingsBody } from '../lib/schemas.js';
import { endpoint, json, registerHttp } from './http.js';
import { byMethod } from './methods.js';

export default registerHttp('manageTenant', {
  route: 'manage/tenants/{tenant}',
  methods: ['GET', 'PATCH'],
  authLevel: 'anonymous',
  handler: byMethod({
    GET: endpoint({ access: 'tenant', params: tenantParams }, async ({ tenantId }) => json(200, await readTenantSettings(await runtime(), tenantId))),
    PATCH: endpoint({ access: 'tenant', params: tenantParams, body: tenantSettingsBody }, async ({ tenantId, body, actor }) =>
      json(200, await updateTenantAudited(await runtime(), actor, tenantId, body)),
    ),
  }),
});
