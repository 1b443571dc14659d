import { deleteGuestAudited, setAccountEnabledAudited } from '../lib/admin/manage.js';
import { getGuest } from '../lib/guests/guestLifecycle.js';
import { runtime } from '../lib/runtime.js';
import { guestParams, updateGuestBody } from '../lib/schemas.js';
import { endpoint, json, registerHttp } from './http.js';
import { byMethod } from './methods.js';

export default registerHttp('manageUser', {
  route: 'manage/tenants/{tenant}/users/{id}',
  methods: ['GET', 'PATCH', 'DELETE'],
  authLevel: 'anonymous',
  handler: byMethod({
    GET: endpoint({ access: 'tenant', params: guestParams }, async ({ tenantId, params }) => json(200, await getGuest(await runtime(), tenantId, params.id))),
    PATCH: endpoint({ access: 'tenant', params: guestParams, body: updateGuestBody }, async ({ tenantId, params, body, actor }) =>
      json(200, await setAccountEnabledAudited(await runtime(), actor, tenantId, params.id, body.accountEnabled)),
    ),
    DELETE: endpoint({ access: 'tenant', params: guestParams }, async ({ tenantId, params, actor }) => {
      await deleteGuestAudited(await runtime(), actor, tenantId, params.id);
      return { status: 204 };
    }),
  }),
});
