import { completeAuthorization } from '../lib/oidc/authorize.js';
import { authorizeCompleteBody } from '../lib/oidc/schemas.js';
import { runtime } from '../lib/runtime.js';
import { tenantParams } from '../lib/schemas.js';
import { bearerToken } from '../lib/signin/sessions.js';
import { endpoint, json, registerHttp } from './http.js';

/** Called by the hosted sign-in page (same origin, so no CORS) once the guest has signed in. */
export default registerHttp('oidcAuthorizeComplete', {
  route: '{tenant}/oauth2/authorize/complete',
  methods: ['POST'],
  authLevel: 'anonymous',
  handler: endpoint({ params: tenantParams, body: authorizeCompleteBody }, async ({ params, body, request }) =>
    json(200, await completeAuthorization(await runtime(), params.tenant, body.authorization, bearerToken(request.headers.get('authorization')))),
  ),
});
