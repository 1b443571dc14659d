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
// (and the response schemas it reads) loads then too, from a lazy bundle of its own
// (lib/lazy/openapi.ts): a cold start neither parses nor runs it. A lazy bundle, not an
// import() of lib/openapi.js: esbuild would wrap that module and everything it imports
// in lazy initialisers and could no longer drop what the app does not use.
export default registerHttp('openapi', {
  route: 'openapi.json',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: endpoint({ cacheControl: 'public, max-age=300' }, async () => {
    document ??= (await import('../lib/lazy/openapi.js')).openApiDocument(registeredRoutes());
    return json(200, document, { 'Access-Control-Allow-Origin': '*' });
  }),
});
