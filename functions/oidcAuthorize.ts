import type { HttpResponseInit } from '@azure/functions';
import { beginAuthorization, type AuthorizeOutcome } from '../lib/oidc/authorize.js';
import { errorPage, PAGE_CSP, signInPage } from '../lib/oidc/pages.js';
import { authorizeParams } from '../lib/oidc/schemas.js';
import { runtime } from '../lib/runtime.js';
import { tenantParams } from '../lib/schemas.js';
import { endpoint, html, redirect, registerHttp, type EndpointInput } from './http.js';
import { byMethod } from './methods.js';
import { hostedSignInScript } from './oidcSignInScript.js';

function answer(outcome: AuthorizeOutcome, requestUrl: string, tenant: string): HttpResponseInit {
  if (outcome.kind === 'redirect') return redirect(outcome.location);
  if (outcome.kind === 'error-page') return html(outcome.error.status, errorPage(outcome.error), PAGE_CSP);
  return html(
    200,
    signInPage({
      ...outcome,
      completeUrl: new URL(`/api/${encodeURIComponent(tenant)}/oauth2/authorize/complete`, requestUrl).pathname,
      scriptVersion: hostedSignInScript().version,
    }),
    PAGE_CSP,
  );
}

async function authorize({ params, query, body, repeated, request }: EndpointInput<unknown, { tenant: string }, unknown>): Promise<HttpResponseInit> {
  const oauth = authorizeParams.parse(request.method === 'POST' ? body : query);
  return answer(await beginAuthorization(await runtime(), params.tenant, oauth, repeated), request.url, params.tenant);
}

/** OIDC Core §3.1.2.1: the authorization endpoint takes GET and form-encoded POST. */
export default registerHttp('oidcAuthorize', {
  route: '{tenant}/oauth2/authorize',
  methods: ['GET', 'POST'],
  authLevel: 'anonymous',
  handler: byMethod({
    GET: endpoint({ params: tenantParams, query: authorizeParams }, authorize),
    POST: endpoint({ params: tenantParams, form: authorizeParams }, authorize),
  }),
});
