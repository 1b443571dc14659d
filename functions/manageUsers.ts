import { listGuests } from '../lib/guestLifecycle.js';
import { runtime } from '../lib/runtime.js';
import { listGuestsQuery, tenantParams } from '../lib/schemas.js';
import { endpoint, page, registerHttp } from './http.js';

export default registerHttp('manageUsers', {
  route: 'manage/tenants/{tenant}/users',
  methods: ['GET'],
  authLevel: 'function',
  handler: endpoint({ params: tenantParams, query: listGuestsQuery }, async ({ params, query, request }) =>
    page(request, query, await listGuests(await runtime(), params.tenant, query)),
  ),
});
