import type { HttpHandler } from '@azure/functions';
import { GuestpassError } from '../lib/errors.js';
import { errorResponse } from './http.js';

/**
 * One registration that serves a route's methods with one endpoint each. The host
 * already answers 405 for methods the registration does not list; this is the guard
 * for the rest.
 */
export function byMethod(handlers: Record<string, HttpHandler>): HttpHandler {
  return async (request, context) => {
    const handler = handlers[request.method.toUpperCase()];
    return handler ? handler(request, context) : errorResponse(new GuestpassError('method_not_allowed'));
  };
}
