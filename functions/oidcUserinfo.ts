import { userInfo } from '../lib/oidc/token.js';
import { runtime } from '../lib/runtime.js';
import { tenantParams } from '../lib/schemas.js';
import { bearerToken } from '../lib/signin/sessions.js';
import { endpoint, json, registerHttp } from './http.js';

/** OIDC Core §5.3: GET or POST with the access token as a Bearer header. */
export default registerHttp('oidcUserinfo', {
  route: '{tenant}/oauth2/userinfo',
  methods: ['GET', 'POST', 'OPTIONS'],
  authLevel: 'anonymous',
  handler: endpoint({ params: tenantParams, tenantCors: true, oauthErrors: 'Bearer' }, async ({ params, request }) =>
    json(200, await userInfo(await runtime(), params.tenant, bearerToken(request.headers.get('authorization')))),
  ),
});
