import { randomUUID } from 'node:crypto';
import type { GuestpassError } from '../errors.js';

/*
 * Microsoft Graph's error body, `{"error":{"code","message","innerError"}}`, for the
 * Graph-shaped routes: the Graph SDK reads code and message from it (GraphErrorHandler),
 * scripts compare the code. guestpass's own code travels in innerError.code.
 */

export interface GraphErrorBody {
  error: {
    code: string;
    message: string;
    innerError: { code: string; date: string; 'request-id': string };
    details?: { code: string; message: string; target: string }[];
  };
}

/** Graph's codes for guestpass's, by guestpass code first, then by status. */
const BY_CODE: Partial<Record<string, string>> = {
  unsupported_query: 'Request_UnsupportedQuery',
  invalid_request: 'Request_BadRequest',
  unauthorized: 'InvalidAuthenticationToken',
  forbidden: 'Authorization_RequestDenied',
  tenant_not_found: 'Request_ResourceNotFound',
  guest_not_found: 'Request_ResourceNotFound',
};
const BY_STATUS: Record<number, string> = { 400: 'BadRequest', 401: 'InvalidAuthenticationToken', 403: 'Authorization_RequestDenied', 404: 'Request_ResourceNotFound', 413: 'Request_BadRequest', 415: 'Request_BadRequest', 429: 'TooManyRequests', 503: 'ServiceUnavailable' };

export function graphErrorBody(error: GuestpassError, now: number): GraphErrorBody {
  const body = error.toBody();
  const message = error.code === 'unauthorized' ? 'A valid management credential is required as Authorization: Bearer <operator credential or tenant admin key>.' : body.message;
  const details = (body.details ?? []).map((detail) => {
    const { field, message: text } = (detail ?? {}) as { field?: unknown; message?: unknown };
    return { code: 'Request_BadRequest', message: String(text ?? ''), target: String(field ?? '') };
  });
  return {
    error: {
      code: BY_CODE[error.code] ?? BY_STATUS[error.status] ?? 'generalException',
      message,
      innerError: { code: error.code, date: new Date(now).toISOString().slice(0, 19), 'request-id': randomUUID() },
      ...(details.length > 0 ? { details } : {}),
    },
  };
}
