import { createApplication, listApplications } from '../lib/oidc/applications.js';
import { createApplicationBody } from '../lib/oidc/schemas.js';
import { runtime } from '../lib/runtime.js';
import { tenantParams } from '../lib/schemas.js';
import { endpoint, json, registerHttp } from './http.js';
import { byMethod } from './methods.js';

export default registerHttp('manageApplications', {
  route: 'manage/tenants/{tenant}/applications',
  methods: ['GET', 'POST'],
  authLevel: 'anonymous',
  handler: byMethod({
    GET: endpoint({ access: 'tenant', params: tenantParams }, async ({ tenantId }) => json(200, await listApplications(await runtime(), tenantId))),
    POST: endpoint({ access: 'tenant', params: tenantParams, body: createApplicationBody }, async ({ tenantId, body }) =>
      json(201, await createApplication(await runtime(), tenantId, body)),
    ),
  }),
});
