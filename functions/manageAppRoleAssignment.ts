import { removeAppRoleAssignmentAudited } from '../lib/admin/manage.js';
import { appRoleAssignmentItemParams } from '../lib/oidc/schemas.js';
import { runtime } from '../lib/runtime.js';
import { endpoint, registerHttp } from './http.js';

export default registerHttp('manageAppRoleAssignment', {
  route: 'manage/tenants/{tenant}/users/{id}/appRoleAssignments/{assignmentId}',
  methods: ['DELETE'],
  authLevel: 'anonymous',
  handler: endpoint({ access: 'tenant', params: appRoleAssignmentItemParams }, async ({ tenantId, params, actor }) => {
    await removeAppRoleAssignmentAudited(await runtime(), actor, tenantId, params.id, params.assignmentId);
    return { status: 204 };
  }),
});
