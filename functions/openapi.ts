import type { RouteRegistration } from '../lib/openapi.js';
import { endpoint, json, registerHttp, registrations } from './http.js';

/** The routes this app registered, as the OpenAPI generator reads them. */
export function registeredRoutes(): RouteRegistration[] {
  return registrations.http.map(({ name, options }) => ({
    name,
    route: options.route ?? name,
    methods: options.methods ?? ['GET', 'POST'],
    authLevel: options.authLevel ?? 'anonymous',
  }));
}

let document: Record<string, unknown> | undefined;

// Built at the first request, when every function file has registered. The generator
// (and the response schemas it reads) loads then too: the bundle keeps it, but a cold
// start does not run it.
export default registerHttp('openapi', {
  route: 'openapi.json',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: endpoint({ cacheControl: 'public, max-age=300' }, async () => {
    document ??= (await import('../lib/openapi.js')).openApiDocument(registeredRoutes());
    return json(200, document, { 'Access-Control-Allow-Origin': '*' });
  }),
});
