import { deletePolicyAudited, updatePolicyAudited } from '../lib/admin/manage.js';
import { getPolicy } from '../lib/tenants/policies.js';
import { runtime } from '../lib/runtime.js';
import { policyParams, updatePolicyBody } from '../lib/schemas.js';
import { endpoint, json, registerHttp } from './http.js';
import { byMethod } from './methods.js';

export default registerHttp('managePolicy', {
  route: 'manage/tenants/{tenant}/policies/{id}',
  methods: ['GET', 'PATCH', 'DELETE'],
  authLevel: 'anonymous',
  handler: byMethod({
    GET: endpoint({ access: 'tenant', params: policyParams }, async ({ tenantId, params }) => json(200, await getPolicy(await runtime(), tenantId, params.id))),
    PATCH: endpoint({ access: 'tenant', params: policyParams, body: updatePolicyBody }, async ({ tenantId, params, body, actor }) =>
      json(200, await updatePolicyAudited(await runtime(), actor, tenantId, params.id, body)),
    ),
    DELETE: endpoint({ access: 'tenant', params: policyParams }, async ({ tenantId, params, actor }) => {
      await deletePolicyAudited(await runtime(), actor, tenantId, params.id);
      return { status: 204 };
    }),
  }),
});
