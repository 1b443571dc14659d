import { listDomains } from '../lib/admin/domains.js';
import { addDomainAudited } from '../lib/admin/manage.js';
import { addDomainBody } from '../lib/admin/schemas.js';
import { runtime } from '../lib/runtime.js';
import { tenantParams } from '../lib/schemas.js';
import { endpoint, json, registerHttp } from './http.js';
import { byMethod } from './methods.js';

export default registerHttp('manageDomains', {
  route: 'manage/tenants/{tenant}/domains',
  methods: ['GET', 'POST'],
  authLevel: 'anonymous',
  handler: byMethod({
    GET: endpoint({ access: 'tenant', params: tenantParams }, async ({ tenantId }) => json(200, { value: await listDomains(await runtime(), tenantId) })),
    POST: endpoint({ access: 'tenant', params: tenantParams, body: addDomainBody }, async ({ tenantId, body, actor }) => {
      const { domain, created } = await addDomainAudited(await runtime(), actor, tenantId, body.name);
      return json(created ? 201 : 200, domain);
    }),
  }),
});
