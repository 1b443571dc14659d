import { sendCodeReported } from '../lib/signin/signInEvents.js';
import { runtime } from '../lib/runtime.js';
import { sendCodeBody, tenantParams } from '../lib/schemas.js';
import { endpoint, json, registerHttp } from './http.js';

export default registerHttp('sendCode', {
  route: '{tenant}/send-code',
  methods: ['POST', 'OPTIONS'],
  authLevel: 'anonymous',
  handler: endpoint({ params: tenantParams, body: sendCodeBody, tenantCors: true }, async ({ params, body, clientIp }) => {
    const result = await sendCodeReported(await runtime(), { tenant: params.tenant, ...body, clientIp });
    return json(202, result);
  }),
});
