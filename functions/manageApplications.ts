import { createApplication, listApplications } from '../lib/oidc/applications.js';
import { createApplicationBody } from '../lib/oidc/schemas.js';
import { runtime } from '../lib/runtime.js';
import { tenantParams } from '../lib/schemas.js';
import { endpoint, json, registerHttp } from './http.js';
import { byMethod } from './methods.js';

export default registerHttp('manageApplications', {
  route: 'manage/tenants/{tenant}/applications',
  methods: ['GET', 'POST'],
  authLevel: 'function',
  handler: byMethod({
    GET: endpoint({ params: tenantParams }, async ({ params }) => json(200, await listApplications(await runtime(), params.tenant))),
    POST: endpoint({ params: tenantParams, body: createApplicationBody }, async ({ params, body }) =>
      json(201, await createApplication(await runtime(), params.tenant, body)),
    ),
  }),
});
