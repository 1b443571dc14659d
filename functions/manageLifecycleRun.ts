import { runLifecycleNow } from '../lib/admin/manage.js';
import { runtime } from '../lib/runtime.js';
import { tenantParams } from '../lib/schemas.js';
import { endpoint, json, registerHttp } from './http.js';

export default registerHttp('manageLifecycleRun', {
  route: 'manage/tenants/{tenant}/lifecycle/run',
  methods: ['POST'],
  authLevel: 'anonymous',
  handler: endpoint({ access: 'tenant', params: tenantParams }, async ({ tenantId, actor }) =>
    json(200, { value: await runLifecycleNow(await runtime(), actor, tenantId) }),
  ),
});
