import { listGraphUsers } from '../lib/graph/users.js';
import { graphUsersQuery } from '../lib/graph/schemas.js';
import { runtime } from '../lib/runtime.js';
import { tenantParams } from '../lib/schemas.js';
import { graphPage } from './graph.js';
import { endpoint, registerHttp } from './http.js';

export default registerHttp('graphUsers', {
  route: 'manage/tenants/{tenant}/graph/v1.0/users',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: endpoint({ access: 'tenant', graph: true, params: tenantParams, query: graphUsersQuery }, async ({ tenantId, query, request }) =>
    graphPage(request, 'users', query, await listGraphUsers(await runtime(), tenantId, query)),
  ),
});
