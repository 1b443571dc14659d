import type { HttpResponseInit } from '@azure/functions';
import { endSessionByHint } from '../lib/oidc/logout.js';
import { errorPage, PAGE_CSP, signedOutPage } from '../lib/oidc/pages.js';
import { logoutParams } from '../lib/oidc/schemas.js';
import { runtime } from '../lib/runtime.js';
import { tenantParams } from '../lib/schemas.js';
import { endpoint, html, redirect, registerHttp, type EndpointInput } from './http.js';
import { byMethod } from './methods.js';

async function logout({ params, query, body, repeated, request }: EndpointInput<unknown, { tenant: string }, unknown>): Promise<HttpResponseInit> {
  const outcome = await endSessionByHint(await runtime(), params.tenant, logoutParams.parse(request.method === 'POST' ? body : query), repeated);
  switch (outcome.kind) {
    case 'redirect':
      return redirect(outcome.location);
    case 'signed-out':
      return html(200, signedOutPage(outcome.language, outcome.notSentBack), PAGE_CSP);
    case 'error-page':
      return html(outcome.error.status, errorPage(outcome.error, outcome.language, 'sign-out'), PAGE_CSP);
  }
}

/** RP-Initiated Logout 1.0 §2: the end_session_endpoint takes GET and form-encoded POST. */
export default registerHttp('oidcLogout', {
  route: '{tenant}/oauth2/logout',
  methods: ['GET', 'POST'],
  authLevel: 'anonymous',
  handler: byMethod({
    GET: endpoint({ params: tenantParams, query: logoutParams }, logout),
    POST: endpoint({ params: tenantParams, form: logoutParams }, logout),
  }),
});
