import { createPolicyAudited } from '../lib/admin/manage.js';
import { listPolicies } from '../lib/tenants/policies.js';
import { runtime } from '../lib/runtime.js';
import { createPolicyBody, tenantParams } from '../lib/schemas.js';
import { endpoint, json, registerHttp } from './http.js';
import { byMethod } from './methods.js';

export default registerHttp('managePolicies', {
  route: 'manage/tenants/{tenant}/policies',
  methods: ['GET', 'POST'],
  authLevel: 'anonymous',
  handler: byMethod({
    GET: endpoint({ access: 'tenant', params: tenantParams }, async ({ tenantId }) => json(200, await listPolicies(await runtime(), tenantId))),
    POST: endpoint({ access: 'tenant', params: tenantParams, body: createPolicyBody }, async ({ tenantId, body, actor }) =>
      json(201, await createPolicyAudited(await runtime(), actor, tenantId, body)),
    ),
  }),
});
