import { previewTenantMail } from '../lib/mail/send.js';
import { mailPreviewBody } from '../lib/mail/settings.js';
import { runtime } from '../lib/runtime.js';
import { tenantParams } from '../lib/schemas.js';
import { endpoint, json, registerHttp } from './http.js';

export default registerHttp('manageMailPreview', {
  route: 'manage/tenants/{tenant}/mail-preview',
  methods: ['POST'],
  authLevel: 'function',
  handler: endpoint({ params: tenantParams, body: mailPreviewBody }, async ({ params, body }) =>
    json(200, await previewTenantMail(await runtime(), params.tenant, body)),
  ),
});
