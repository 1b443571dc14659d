import { runtime } from '../lib/runtime.js';
import { tenantParams } from '../lib/schemas.js';
import { bearerToken, signOut } from '../lib/signin/sessions.js';
import { endpoint, registerHttp } from './http.js';

export default registerHttp('signOut', {
  route: '{tenant}/sign-out',
  methods: ['POST', 'OPTIONS'],
  authLevel: 'anonymous',
  handler: endpoint({ params: tenantParams, tenantCors: true }, async ({ params, request }) => {
    await signOut(await runtime(), params.tenant, bearerToken(request.headers.get('authorization')));
    return { status: 204 };
  }),
});
