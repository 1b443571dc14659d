import { verifyCodeReported } from '../lib/signin/signInEvents.js';
import { runtime } from '../lib/runtime.js';
import { telemetry } from '../lib/telemetry/telemetry.js';
import { tenantParams, verifyCodeBody } from '../lib/schemas.js';
import { endpoint, json, registerHttp } from './http.js';

export default registerHttp('verifyCode', {
  route: '{tenant}/verify-code',
  methods: ['POST', 'OPTIONS'],
  authLevel: 'anonymous',
  handler: endpoint({ params: tenantParams, body: verifyCodeBody, tenantCors: true }, async ({ params, body, clientIp }) => {
    const session = await verifyCodeReported(await runtime(), { tenant: params.tenant, ...body, clientIp });
    telemetry.annotate({ 'guest.id': session.user.id });
    return json(200, session);
  }),
});
