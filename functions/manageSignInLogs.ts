import { runtime } from '../lib/runtime.js';
import { signInLogsQuery, tenantParams } from '../lib/schemas.js';
import { listSignInLogs } from '../lib/signin/signInLogs.js';
import { endpoint, page, registerHttp } from './http.js';

export default registerHttp('manageSignInLogs', {
  route: 'manage/tenants/{tenant}/sign-in-logs',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: endpoint({ access: 'tenant', params: tenantParams, query: signInLogsQuery }, async ({ tenantId, query, request }) =>
    page(request, query, await listSignInLogs(await runtime(), tenantId, query)),
  ),
});
