import { assignAppRoleAudited } from '../lib/admin/manage.js';
import { listAppRoleAssignments } from '../lib/oidc/appRoles.js';
import { appRoleAssignmentParams, createAppRoleAssignmentBody } from '../lib/oidc/schemas.js';
import { runtime } from '../lib/runtime.js';
import { endpoint, json, registerHttp } from './http.js';
import { byMethod } from './methods.js';

/** Microsoft Graph's /users/{id}/appRoleAssignments: a guest's roles in the tenant's applications. */
export default registerHttp('manageAppRoleAssignments', {
  route: 'manage/tenants/{tenant}/users/{id}/appRoleAssignments',
  methods: ['GET', 'POST'],
  authLevel: 'anonymous',
  handler: byMethod({
    GET: endpoint({ access: 'tenant', params: appRoleAssignmentParams }, async ({ tenantId, params }) => json(200, await listAppRoleAssignments(await runtime(), tenantId, params.id))),
    POST: endpoint({ access: 'tenant', params: appRoleAssignmentParams, body: createAppRoleAssignmentBody }, async ({ tenantId, params, body, actor }) =>
      json(201, await assignAppRoleAudited(await runtime(), actor, tenantId, params.id, body)),
    ),
  }),
});
