import { runtime } from '../lib/runtime.js';
import { tenantParams, updateTenantBody } from '../lib/schemas.js';
import { getTenant, updateTenant } from '../lib/tenants.js';
import { endpoint, json, registerHttp } from './http.js';

const read = endpoint({ params: tenantParams }, async ({ params }) => json(200, await getTenant(await runtime(), params.tenant)));
const change = endpoint({ params: tenantParams, body: updateTenantBody }, async ({ params, body }) =>
  json(200, await updateTenant(await runtime(), params.tenant, body)),
);

export default registerHttp('manageTenant', {
  route: 'manage/tenants/{tenant}',
  methods: ['GET', 'PATCH'],
  authLevel: 'function',
  handler: (request, context) => (request.method === 'PATCH' ? change : read)(request, context),
});
