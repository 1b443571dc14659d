import { verifyDomainAudited } from '../lib/admin/manage.js';
import { domainParams } from '../lib/admin/schemas.js';
import { runtime } from '../lib/runtime.js';
import { endpoint, json, registerHttp } from './http.js';

export default registerHttp('manageDomainVerify', {
  route: 'manage/tenants/{tenant}/domains/{name}/verify',
  methods: ['POST'],
  authLevel: 'anonymous',
  handler: endpoint({ access: 'tenant', params: domainParams }, async ({ tenantId, params, actor }) =>
    json(200, await verifyDomainAudited(await runtime(), actor, tenantId, params.name)),
  ),
});
