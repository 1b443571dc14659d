import { openApiDocument, type RouteRegistration } from '../lib/openapi.js';
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

// Built at the first request, when every function file has registered.
export default registerHttp('openapi', {
  route: 'openapi.json',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: endpoint({ cacheControl: 'public, max-age=300' }, async () => json(200, (document ??= openApiDocument(registeredRoutes())), { 'Access-Control-Allow-Origin': '*' })),
});
