import { listAudit } from '../lib/admin/audit.js';
import { auditQuery } from '../lib/admin/schemas.js';
import { runtime } from '../lib/runtime.js';
import { tenantParams } from '../lib/schemas.js';
import { endpoint, page, registerHttp } from './http.js';

export default registerHttp('manageAudit', {
  route: 'manage/tenants/{tenant}/audit',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: endpoint({ access: 'tenant', params: tenantParams, query: auditQuery }, async ({ tenantId, query, request }) =>
    page(request.url, await listAudit(await runtime(), tenantId, query)),
  ),
});
