import { deletePolicy, getPolicy, updatePolicy } from '../lib/policies.js';
import { runtime } from '../lib/runtime.js';
import { policyParams, updatePolicyBody } from '../lib/schemas.js';
import { endpoint, json, registerHttp } from './http.js';
import { byMethod } from './methods.js';

export default registerHttp('managePolicy', {
  route: 'manage/tenants/{tenant}/policies/{id}',
  methods: ['GET', 'PATCH', 'DELETE'],
  authLevel: 'function',
  handler: byMethod({
    GET: endpoint({ params: policyParams }, async ({ params }) => json(200, await getPolicy(await runtime(), params.tenant, params.id))),
    PATCH: endpoint({ params: policyParams, body: updatePolicyBody }, async ({ params, body }) =>
      json(200, await updatePolicy(await runtime(), params.tenant, params.id, body)),
    ),
    DELETE: endpoint({ params: policyParams }, async ({ params }) => {
      await deletePolicy(await runtime(), params.tenant, params.id);
      return { status: 204 };
    }),
  }),
});
