import { inviteAudited } from '../lib/admin/manage.js';
import { runtime } from '../lib/runtime.js';
import { invitationBody, tenantParams } from '../lib/schemas.js';
import { endpoint, json, registerHttp } from './http.js';

export default registerHttp('manageInvitations', {
  route: 'manage/tenants/{tenant}/invitations',
  methods: ['POST'],
  authLevel: 'anonymous',
  handler: endpoint({ access: 'tenant', params: tenantParams, body: invitationBody }, async ({ tenantId, body, actor }) =>
    json(201, await inviteAudited(await runtime(), actor, tenantId, body)),
  ),
});
