import { signInSummaryQuery, summarizeSignInLogs } from '../lib/admin/signInSummary.js';
import { runtime } from '../lib/runtime.js';
import { tenantParams } from '../lib/schemas.js';
import { endpoint, json, registerHttp } from './http.js';

export default registerHttp('manageSignInLogSummary', {
  route: 'manage/tenants/{tenant}/sign-in-logs/summary',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: endpoint({ access: 'tenant', params: tenantParams, query: signInSummaryQuery }, async ({ tenantId, query }) =>
    json(200, await summarizeSignInLogs(await runtime(), tenantId, query)),
  ),
});
