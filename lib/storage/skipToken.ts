import { fail } from '../errors.js';

/**
 * The opaque $skiptoken of a paged listing: where the next page starts, sealed with
 * the tenant it belongs to, so a token from one tenant's listing is refused by
 * another's. It carries no secret; anything a caller makes up is checked on the way in.
 */
interface Sealed<T> {
  /** The tenant the listing belongs to. */
  t: string;
  /** Where the next page starts, in the listing's own terms. */
  c: T;
}

export function sealSkipToken<T>(tenantId: string, position: T): string {
  const token: Sealed<T> = { t: tenantId, c: position };
  return Buffer.from(JSON.stringify(token)).toString('base64url');
}

/** The position a token names, or 400 invalid_request when it is not one this tenant's listing gave out. */
export function openSkipToken<T>(skipToken: string, tenantId: string, isPosition: (value: unknown) => value is T): T {
  let token: Partial<Sealed<unknown>> | undefined;
  try {
    token = JSON.parse(Buffer.from(skipToken, 'base64url').toString('utf8')) as Partial<Sealed<unknown>>;
  } catch {
    token = undefined;
  }
  if (!token || token.t !== tenantId || !isPosition(token.c)) {
    fail('invalid_request', {
      message: 'The $skiptoken is not one this listing gave out. Start again without it.',
      details: [{ field: 'query.$skiptoken', message: 'is not a skiptoken from a nextLink of this tenant' }],
    });
  }
  return token.c;
}
