import type { HttpResponseInit } from '@azure/functions';
import { beginAuthorization } from '../lib/oidc/authorize.js';
import type { GuestpassError } from '../lib/errors.js';
import { errorPage, PAGE_CSP, signInPage } from '../lib/oidc/pages.js';
import { authorizeParams } from '../lib/oidc/schemas.js';
import { runtime } from '../lib/runtime.js';
import { tenantParams } from '../lib/schemas.js';
import { endpoint, html, redirect, registerHttp, type EndpointInput } from './http.js';
import { byMethod } from './methods.js';
import { hostedSignInScript } from './oidcSignInScript.js';

/** What a browser gets for the outcomes authorize and logout share: a redirect, or an error page. */
export function browserAnswer(outcome: { kind: 'redirect'; location: string } | { kind: 'error-page'; error: GuestpassError }): HttpResponseInit {
  return outcome.kind === 'redirect' ? redirect(outcome.location) : html(outcome.error.status, errorPage(outcome.error), PAGE_CSP);
}

async function authorize({ params, query, body, repeated, request }: EndpointInput<unknown, { tenant: string }, unknown>): Promise<HttpResponseInit> {
  const oauth = authorizeParams.parse(request.method === 'POST' ? body : query);
  const outcome = await beginAuthorization(await runtime(), params.tenant, oauth, repeated);
  if (outcome.kind !== 'sign-in') return browserAnswer(outcome);
  const completeUrl = new URL(`/api/${encodeURIComponent(params.tenant)}/oauth2/authorize/complete`, request.url).pathname;
  return html(200, signInPage({ ...outcome, completeUrl, scriptVersion: hostedSignInScript().version }), PAGE_CSP);
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
