import { revokeKeyAudited } from '../lib/admin/manage.js';
import { keyParams } from '../lib/admin/schemas.js';
import { runtime } from '../lib/runtime.js';
import { endpoint, registerHttp } from './http.js';

export default registerHttp('manageKey', {
  route: 'manage/tenants/{tenant}/keys/{id}',
  methods: ['DELETE'],
  authLevel: 'anonymous',
  handler: endpoint({ access: 'tenant', params: keyParams }, async ({ tenantId, params, actor }) => {
    await revokeKeyAudited(await runtime(), actor, tenantId, params.id);
    return { status: 204 };
  }),
});
