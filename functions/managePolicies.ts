import { createPolicy, listPolicies } from '../lib/policies.js';
import { runtime } from '../lib/runtime.js';
import { createPolicyBody, tenantParams } from '../lib/schemas.js';
import { endpoint, json, registerHttp } from './http.js';
import { byMethod } from './methods.js';

export default registerHttp('managePolicies', {
  route: 'manage/tenants/{tenant}/policies',
  methods: ['GET', 'POST'],
  authLevel: 'function',
  handler: byMethod({
    GET: endpoint({ params: tenantParams }, async ({ params }) => json(200, await listPolicies(await runtime(), params.tenant))),
    POST: endpoint({ params: tenantParams, body: createPolicyBody }, async ({ params, body }) =>
      json(201, await createPolicy(await runtime(), params.tenant, body)),
    ),
  }),
});
