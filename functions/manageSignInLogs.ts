import { runtime } from '../lib/runtime.js';
import { signInLogsQuery, tenantParams } from '../lib/schemas.js';
import { listSignInLogs } from '../lib/signInLogs.js';
import { endpoint, page, registerHttp } from './http.js';

export default registerHttp('manageSignInLogs', {
  route: 'manage/tenants/{tenant}/sign-in-logs',
  methods: ['GET'],
  authLevel: 'function',
  handler: endpoint({ params: tenantParams, query: signInLogsQuery }, async ({ params, query, request }) =>
    page(request, query, await listSignInLogs(await runtime(), params.tenant, query)),
  ),
});
