import { createTenantWithSettings } from '../lib/policies.js';
import { runtime } from '../lib/runtime.js';
import { createTenantBody } from '../lib/schemas.js';
import { endpoint, json, registerHttp } from './http.js';

export default registerHttp('manageTenants', {
  route: 'manage/tenants',
  methods: ['POST'],
  authLevel: 'function',
  handler: endpoint({ body: createTenantBody }, async ({ body }) => json(201, await createTenantWithSettings(await runtime(), body))),
});
