import { tokenBody } from '../lib/oidc/schemas.js';
import { exchangeCode } from '../lib/oidc/token.js';
import { runtime } from '../lib/runtime.js';
import { tenantParams } from '../lib/schemas.js';
import { endpoint, json, registerHttp } from './http.js';

/** RFC 6749 §4.1.3 / §5.1: form-encoded in, JSON out, never cached; CORS for SPAs on the tenant's allowedOrigins. */
export default registerHttp('oidcToken', {
  route: '{tenant}/oauth2/token',
  methods: ['POST', 'OPTIONS'],
  authLevel: 'anonymous',
  handler: endpoint({ params: tenantParams, form: tokenBody, tenantCors: true, oauthErrors: 'Basic' }, async ({ params, body, repeated, request }) =>
    json(200, await exchangeCode(await runtime(), params.tenant, body, request.headers.get('authorization'), repeated), { Pragma: 'no-cache' }),
  ),
});
