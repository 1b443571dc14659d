import { deleteApplication, getApplication, updateApplication } from '../lib/oidc/applications.js';
import { applicationParams, updateApplicationBody } from '../lib/oidc/schemas.js';
import { runtime } from '../lib/runtime.js';
import { endpoint, json, registerHttp } from './http.js';
import { byMethod } from './methods.js';

export default registerHttp('manageApplication', {
  route: 'manage/tenants/{tenant}/applications/{clientId}',
  methods: ['GET', 'PATCH', 'DELETE'],
  authLevel: 'anonymous',
  handler: byMethod({
    GET: endpoint({ access: 'tenant', params: applicationParams }, async ({ params, tenantId }) => json(200, await getApplication(await runtime(), tenantId, params.clientId))),
    PATCH: endpoint({ access: 'tenant', params: applicationParams, body: updateApplicationBody }, async ({ params, tenantId, body }) =>
      json(200, await updateApplication(await runtime(), tenantId, params.clientId, body)),
    ),
    DELETE: endpoint({ access: 'tenant', params: applicationParams }, async ({ params, tenantId }) => {
      await deleteApplication(await runtime(), tenantId, params.clientId);
      return { status: 204 };
    }),
  }),
});
