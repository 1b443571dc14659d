import { removeDomainAudited } from '../lib/admin/manage.js';
import { domainParams } from '../lib/admin/schemas.js';
import { runtime } from '../lib/runtime.js';
import { endpoint, registerHttp } from './http.js';

export default registerHttp('manageDomain', {
  route: 'manage/tenants/{tenant}/domains/{name}',
  methods: ['DELETE'],
  authLevel: 'anonymous',
  handler: endpoint({ access: 'tenant', params: domainParams }, async ({ tenantId, params, actor }) => {
    await removeDomainAudited(await runtime(), actor, tenantId, params.name);
    return { status: 204 };
  }),
});
