import type { HttpResponseInit } from '@azure/functions';
import { beginAuthorization } from '../lib/oidc/authorize.js';
import { errorPage, formPostPage, PAGE_CSP, pageCsp, signInPage } from '../lib/oidc/pages.js';
import { authorizeParams } from '../lib/oidc/schemas.js';
import { runtime } from '../lib/runtime.js';
import { tenantParams } from '../lib/schemas.js';
import { endpoint, html, redirect, registerHttp, type EndpointInput } from './http.js';
import { byMethod } from './methods.js';
import { hostedSignInScript } from './oidcSignInScript.js';

async function authorize({ params, query, body, repeated, request }: EndpointInput<unknown, { tenant: string }, unknown>): Promise<HttpResponseInit> {
  const oauth = authorizeParams.parse(request.method === 'POST' ? body : query);
  const outcome = await beginAuthorization(await runtime(), params.tenant, oauth, repeated);
  switch (outcome.kind) {
    case 'redirect':
      return redirect(outcome.location);
    case 'error-page':
      return html(outcome.error.status, errorPage(outcome.error, outcome.language), PAGE_CSP);
    case 'form-post':
      return html(200, formPostPage(outcome.action, outcome.fields, hostedSignInScript().version), pageCsp(outcome.action));
    case 'sign-in': {
      const completeUrl = new URL(`/api/${encodeURIComponent(params.tenant)}/oauth2/authorize/complete`, request.url).pathname;
      return html(200, signInPage({ ...outcome, completeUrl, scriptVersion: hostedSignInScript().version }), pageCsp(outcome.formAction));
    }
  }
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
