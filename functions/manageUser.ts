import { deleteGuest, getGuest } from '../lib/guestLifecycle.js';
import { runtime } from '../lib/runtime.js';
import { guestParams } from '../lib/schemas.js';
import { endpoint, json, registerHttp } from './http.js';
import { byMethod } from './methods.js';

export default registerHttp('manageUser', {
  route: 'manage/tenants/{tenant}/users/{id}',
  methods: ['GET', 'DELETE'],
  authLevel: 'function',
  handler: byMethod({
    GET: endpoint({ params: guestParams }, async ({ params }) => json(200, await getGuest(await runtime(), params.tenant, params.id))),
    DELETE: endpoint({ params: guestParams }, async ({ params }) => {
      await deleteGuest(await runtime(), params.tenant, params.id);
      return { status: 204 };
    }),
  }),
});
