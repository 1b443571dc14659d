import { listGuests } from '../lib/guestLifecycle.js';
import { runtime } from '../lib/runtime.js';
import { listGuestsQuery, tenantParams } from '../lib/schemas.js';
import { endpoint, json, registerHttp } from './http.js';

/** The request's own URL with the next page's $skiptoken, the way Graph builds @odata.nextLink. */
function nextLink(requestUrl: string, skipToken: string): string {
  const url = new URL(requestUrl);
  url.searchParams.set('$skiptoken', skipToken);
  return url.href;
}

export default registerHttp('manageUsers', {
  route: 'manage/tenants/{tenant}/users',
  methods: ['GET'],
  authLevel: 'function',
  handler: endpoint({ params: tenantParams, query: listGuestsQuery }, async ({ params, query, request }) => {
    const page = await listGuests(await runtime(), params.tenant, query);
    return json(200, { value: page.value, ...(page.skipToken ? { nextLink: nextLink(request.url, page.skipToken) } : {}) });
  }),
});
