import { inviteGuest } from '../lib/invitations.js';
import { runtime } from '../lib/runtime.js';
import { invitationBody, tenantParams } from '../lib/schemas.js';
import { endpoint, json, registerHttp } from './http.js';

export default registerHttp('manageInvitations', {
  route: 'manage/tenants/{tenant}/invitations',
  methods: ['POST'],
  authLevel: 'function',
  handler: endpoint({ params: tenantParams, body: invitationBody }, async ({ params, body }) =>
    json(201, await inviteGuest(await runtime(), params.tenant, body)),
  ),
});
