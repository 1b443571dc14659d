import { listGuests } from '../lib/guests/guestLifecycle.js';
import { runtime } from '../lib/runtime.js';
import { listGuestsQuery, tenantParams } from '../lib/schemas.js';
import { endpoint, page, registerHttp } from './http.js';

export default registerHttp('manageUsers', {
  route: 'manage/tenants/{tenant}/users',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: endpoint({ access: 'tenant', params: tenantParams, query: listGuestsQuery }, async ({ tenantId, query, request }) =>
    page(request, query, await listGuests(await runtime(), tenantId, query)),
  ),
});
