import { runtime } from '../lib/runtime.js';
import { tenantParams } from '../lib/schemas.js';
import { tenantSigningKeys } from '../lib/signin/sessions.js';
import { endpoint, json, registerHttp } from './http.js';

export default registerHttp('discoveryKeys', {
  route: '{tenant}/discovery/keys',
  methods: ['GET', 'HEAD', 'OPTIONS'],
  authLevel: 'anonymous',
  handler: endpoint({ params: tenantParams, tenantCors: true, cacheControl: 'public, max-age=300' }, async ({ params }) => {
    return json(200, await tenantSigningKeys(await runtime(), params.tenant));
  }),
});
