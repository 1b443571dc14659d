import { changeTenantSettings, readTenantSettings } from '../lib/policies.js';
import { runtime } from '../lib/runtime.js';
import { tenantParams, tenantSettingsBody } from '../lib/schemas.js';
import { endpoint, json, registerHttp } from './http.js';
import { byMethod } from './methods.js';

export default registerHttp('manageTenant', {
  route: 'manage/tenants/{tenant}',
  methods: ['GET', 'PATCH'],
  authLevel: 'function',
  handler: byMethod({
    GET: endpoint({ params: tenantParams }, async ({ params }) => json(200, await readTenantSettings(await runtime(), params.tenant))),
    PATCH: endpoint({ params: tenantParams, body: tenantSettingsBody }, async ({ params, body }) =>
      json(200, await changeTenantSettings(await runtime(), params.tenant, body)),
    ),
  }),
});
