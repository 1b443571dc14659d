import { fail } from '../lib/errors.js';
import { endpoint, registerHttp } from './http.js';

/** The guest routes without a tenant, answered with the form they need. */
export default registerHttp('tenantContextRequired', {
  route: '{endpoint:regex(^(send-code|verify-code|session-check|sign-out)$)}',
  methods: ['GET', 'POST'],
  authLevel: 'anonymous',
  handler: endpoint({}, async ({ request }) => {
    const name = new URL(request.url).pathname.split('/').pop();
    fail('tenant_context_required', {
      message: `This endpoint needs a tenant: call /api/{tenant}/${name} with the tenant id or one of its verified domains, for example /api/contoso.com/${name}.`,
    });
  }),
});
