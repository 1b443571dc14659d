import { endpoint, json, registerHttp } from './http.js';

/** What the presented credential may do: the CLI and the console ask first. */
export default registerHttp('manageMe', {
  route: 'manage/me',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: endpoint({ access: 'any' }, async ({ actor }) =>
    json(200, actor.kind === 'operator' ? { kind: 'operator' } : { kind: 'tenantAdmin', tenantId: actor.tenantId, keyId: actor.keyId, name: actor.name }),
  ),
});
