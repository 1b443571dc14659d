import type { HttpHandler } from '@azure/functions';

/**
 * One registration that serves a route's methods with one endpoint each. The host
 * routes only the methods the registration lists (any other is its 404), so every
 * method that arrives has its handler here.
 */
export function byMethod(handlers: Record<string, HttpHandler>): HttpHandler {
  return async (request, context) => {
    const handler = handlers[request.method.toUpperCase()];
    if (!handler) throw new Error(`byMethod: no handler for ${request.method}, which the registration lists`);
    return handler(request, context);
  };
}
