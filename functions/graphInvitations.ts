import { inviteAsGraph } from '../lib/graph/invitations.js';
import { graphInvitationBody } from '../lib/graph/schemas.js';
import { runtime } from '../lib/runtime.js';
import { tenantParams } from '../lib/schemas.js';
import { graphContext } from './graph.js';
import { endpoint, json, registerHttp } from './http.js';

export default registerHttp('graphInvitations', {
  route: 'manage/tenants/{tenant}/graph/v1.0/invitations',
  methods: ['POST'],
  authLevel: 'anonymous',
  handler: endpoint({ access: 'tenant', graph: true, params: tenantParams, body: graphInvitationBody }, async ({ tenantId, body, actor, request }) =>
    json(201, { '@odata.context': graphContext(request, 'invitations/$entity'), ...(await inviteAsGraph(await runtime(), actor, tenantId, body)) }),
  ),
});
