import { previewTenantMail } from '../lib/mail/send.js';
import { mailPreviewBody } from '../lib/mail/settings.js';
import { runtime } from '../lib/runtime.js';
import { tenantParams } from '../lib/schemas.js';
import { endpoint, json, registerHttp } from './http.js';

export default registerHttp('manageMailPreview', {
  route: 'manage/tenants/{tenant}/mail-preview',
  methods: ['POST'],
  authLevel: 'anonymous',
  handler: endpoint({ access: 'tenant', params: tenantParams, body: mailPreviewBody }, async ({ tenantId, body }) =>
    json(200, await previewTenantMail(await runtime(), tenantId, body)),
  ),
});
