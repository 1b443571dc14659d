import { createTenantAudited, listTenants } from '../lib/admin/manage.js';
import { pageQuery } from '../lib/admin/schemas.js';
import { runtime } from '../lib/runtime.js';
import { createTenantBody } from '../lib/schemas.js';
import { endpoint, json, page, registerHttp } from './http.js';
import { byMethod } from './methods.js';

export default registerHttp('manageTenants', {
  route: 'manage/tenants',
  methods: ['GET', 'POST'],
  authLevel: 'anonymous',
  handler: byMethod({
    GET: endpoint({ access: 'operator', query: pageQuery }, async ({ query, request }) => page(request.url, await listTenants(await runtime(), query))),
    POST: endpoint({ access: 'operator', body: createTenantBody }, async ({ body, actor }) => json(201, await createTenantAudited(await runtime(), actor, body))),
  }),
});
