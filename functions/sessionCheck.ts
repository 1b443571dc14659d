import { runtime } from '../lib/runtime.js';
import { tenantParams } from '../lib/schemas.js';
import { bearerToken, checkSession } from '../lib/signin/sessions.js';
import { endpoint, json, registerHttp } from './http.js';

export default registerHttp('sessionCheck', {
  route: '{tenant}/session-check',
  methods: ['GET', 'OPTIONS'],
  authLevel: 'anonymous',
  handler: endpoint({ params: tenantParams, tenantCors: true }, async ({ params, request }) => {
    const status = await checkSession(await runtime(), params.tenant, bearerToken(request.headers.get('authorization')));
    return json(200, status);
  }),
});
