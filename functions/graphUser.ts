import { deleteGuestAudited, setAccountEnabledAudited } from '../lib/admin/manage.js';
import { getGraphUser, graphUserId } from '../lib/graph/users.js';
import { graphUserParams, graphUserPatchBody, graphUserQuery } from '../lib/graph/schemas.js';
import { runtime } from '../lib/runtime.js';
import { graphContext } from './graph.js';
import { endpoint, json, registerHttp } from './http.js';
import { byMethod } from './methods.js';

export default registerHttp('graphUser', {
  route: 'manage/tenants/{tenant}/graph/v1.0/users/{id}',
  methods: ['GET', 'PATCH', 'DELETE'],
  authLevel: 'anonymous',
  handler: byMethod({
    GET: endpoint({ access: 'tenant', graph: true, params: graphUserParams, query: graphUserQuery }, async ({ tenantId, params, query, request }) =>
      json(200, { '@odata.context': graphContext(request, 'users/$entity'), ...(await getGraphUser(await runtime(), tenantId, params.id, query.$select)) }),
    ),
    // Graph answers a PATCH of a user 204 No Content.
    PATCH: endpoint({ access: 'tenant', graph: true, params: graphUserParams, body: graphUserPatchBody }, async ({ tenantId, params, body, actor }) => {
      await setAccountEnabledAudited(await runtime(), actor, tenantId, graphUserId(params.id), body.accountEnabled);
      return { status: 204 };
    }),
    DELETE: endpoint({ access: 'tenant', graph: true, params: graphUserParams }, async ({ tenantId, params, actor }) => {
      await deleteGuestAudited(await runtime(), actor, tenantId, graphUserId(params.id));
      return { status: 204 };
    }),
  }),
});
