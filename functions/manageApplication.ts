import { deleteApplication, getApplication, updateApplication } from '../lib/oidc/applications.js';
import { applicationParams, updateApplicationBody } from '../lib/oidc/schemas.js';
import { runtime } from '../lib/runtime.js';
import { endpoint, json, registerHttp } from './http.js';
import { byMethod } from './methods.js';

export default registerHttp('manageApplication', {
  route: 'manage/tenants/{tenant}/applications/{clientId}',
  methods: ['GET', 'PATCH', 'DELETE'],
  authLevel: 'function',
  handler: byMethod({
    GET: endpoint({ params: applicationParams }, async ({ params }) => json(200, await getApplication(await runtime(), params.tenant, params.clientId))),
    PATCH: endpoint({ params: applicationParams, body: updateApplicationBody }, async ({ params, body }) =>
      json(200, await updateApplication(await runtime(), params.tenant, params.clientId, body)),
    ),
    DELETE: endpoint({ params: applicationParams }, async ({ params }) => {
      await deleteApplication(await runtime(), params.tenant, params.clientId);
      return { status: 204 };
    }),
  }),
});
