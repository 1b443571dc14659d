import { previewLifecycle } from '../lib/admin/lifecycle.js';
import { runtime } from '../lib/runtime.js';
import { tenantParams } from '../lib/schemas.js';
import { getTenant } from '../lib/tenants/tenants.js';
import { endpoint, json, registerHttp } from './http.js';

export default registerHttp('manageLifecyclePreview', {
  route: 'manage/tenants/{tenant}/lifecycle/preview',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: endpoint({ access: 'tenant', params: tenantParams }, async ({ tenantId }) => {
    const rt = await runtime();
    return json(200, { value: await previewLifecycle(rt, await getTenant(rt, tenantId)) });
  }),
});
