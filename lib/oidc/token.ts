import { createHash, timingSafeEqual } from 'node:crypto';
import { fail, GuestpassError } from '../errors.js';
import type { Runtime } from '../runtime.js';
import { activeSession, endSession, signSessionToken } from '../signin/sessions.js';
import { partitionFromDigest, SESSION_PREFIX } from '../guests/guests.js';
import { isStatus } from '../storage/tables.js';
import { resolveTenant } from '../tenants/tenants.js';
import { findApplication, secretMatches, type StoredApplication } from './applications.js';
import { authorizationCodeRowKey, type AuthorizationCodeEntity } from './authorize.js';
import { rolesFor, rolesForClient } from './appRoles.js';
import { signIdToken, userClaims } from './idToken.js';
import { readPartitionRef } from './sealing.js';
import { omitEmpty, type TokenParams } from './schemas.js';

/** RFC 7636 §4.1: the verifier is 43–128 unreserved characters. */
const CODE_VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;

/** Client credentials as presented: HTTP Basic (RFC 6749 §2.3.1) or the form body. */
export interface ClientCredentials {
  basic?: { clientId: string; secret: string };
}

/** Reads `Authorization: Basic`, whose parts are form-urlencoded before base64 (RFC 6749 §2.3.1). */
export function basicCredentials(authorization: string | null | undefined): ClientCredentials['basic'] | 'malformed' | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization ?? '');
  if (!match) return authorization && /^Basic\b/i.test(authorization) ? 'malformed' : undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return 'malformed';
  try {
    const form = (value: string) => decodeURIComponent(value.replace(/\+/g, ' '));
    return { clientId: form(decoded.slice(0, colon)), secret: form(decoded.slice(colon + 1)) };
  } catch {
    return 'malformed';
  }
}

/** RFC 6749 §3.2.1 / OIDC Core §9: a confidential client proves its secret; a public one names itself. */
async function authenticateClient(rt: Runtime, tenantId: string, params: TokenParams, basic: ClientCredentials['basic'] | 'malformed' | undefined): Promise<StoredApplication> {
  if (basic === 'malformed') fail('invalid_client');
  if (basic && (params.client_secret !== undefined || (params.client_id !== undefined && params.client_id !== basic.clientId))) {
    fail('invalid_request', { message: 'Use one way to authenticate the client: HTTP Basic or client_secret in the body, not both.' });
  }
  const clientId = basic?.clientId ?? params.client_id;
  const secret = basic?.secret ?? params.client_secret;
  if (!clientId) fail('invalid_client');
  const application = await findApplication(rt, tenantId, clientId);
  if (!application) fail('invalid_client');
  if (application.clientType === 'confidential') {
    if (!secret || !secretMatches(application, secret)) fail('invalid_client');
  } else if (secret) {
    // A public client has no secret; one presented means a misconfigured or impostor client.
    fail('invalid_client');
  }
  return application;
}

function s256(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

function sameString(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  id_token: string;
  scope: string;
}

/**
 * The token endpoint for grant_type=authorization_code (RFC 6749 §4.1.3, RFC 7636 §4.6,
 * OIDC Core §3.1.3). Every check of the request comes before the code is consumed, so a
 * wrong code_verifier (or redirect URI, or client) leaves the code usable by the right
 * request until it expires; then, once the session is known to be live, one
 * ETag-guarded write consumes it, so it is redeemed at most once however many requests
 * race. A redemption of a code already redeemed that passes every check (so made by the
 * client itself, verifier and all) also ends the session the first one handed out
 * (RFC 6749 §4.1.2: the tokens of a replayed code SHOULD be revoked).
 */
export async function exchangeCode(rt: Runtime, tenantRef: string, given: TokenParams, authorization: string | null | undefined, repeated: string[] = []): Promise<TokenResponse> {
  const params = omitEmpty(given);
  const { tenant } = await resolveTenant(rt, tenantRef);
  if (repeated.length > 0) fail('invalid_request', { message: `Each parameter may appear only once (RFC 6749 §3.1): ${repeated.join(', ')}.` });
  const application = await authenticateClient(rt, tenant.id, params, basicCredentials(authorization));
  if (!params.grant_type) fail('invalid_request', { message: 'grant_type is required.' });
  if (params.grant_type !== 'authorization_code') fail('unsupported_grant_type');
  if (!params.code) fail('invalid_request', { message: 'code is required.' });
  if (!params.redirect_uri) fail('invalid_request', { message: 'redirect_uri is required: the one the authorization request named.' });
  if (params.code_verifier !== undefined && !CODE_VERIFIER.test(params.code_verifier)) {
    fail('invalid_request', { message: 'code_verifier must be 43 to 128 unreserved characters (RFC 7636 §4.1).' });
  }

  const ref = readPartitionRef(rt.config, 'authorization-code', tenant.id, params.code);
  if (!ref) fail('invalid_grant', { message: 'The authorization code is not one this organisation issued.' });
  const partitionKey = partitionFromDigest(tenant.id, ref.emailDigest);
  const rowKey = authorizationCodeRowKey(ref.rowId);
  let row: AuthorizationCodeEntity & { etag: string };
  try {
    row = await rt.tables.guests.getEntity<AuthorizationCodeEntity>(partitionKey, rowKey);
  } catch (error) {
    if (isStatus(error, 404)) fail('invalid_grant', { message: 'The authorization code has expired or was never issued.' });
    throw error;
  }
  if (row.clientId !== application.clientId) fail('invalid_grant', { message: 'The authorization code was issued to another client.' });
  if (row.redirectUri !== params.redirect_uri) fail('invalid_grant', { message: 'redirect_uri differs from the one in the authorization request.' });
  if (row.codeChallenge) {
    if (!params.code_verifier) fail('invalid_grant', { message: 'code_verifier is required: the authorization request had a code_challenge (PKCE, RFC 7636).' });
    if (!sameString(s256(params.code_verifier), row.codeChallenge)) {
      fail('invalid_grant', { message: 'The code_verifier does not match the code_challenge of the authorization request.' });
    }
  } else if (params.code_verifier !== undefined) {
    // RFC 9700 §2.1.1: a verifier for a request that had no challenge is a PKCE downgrade.
    fail('invalid_grant', { message: 'code_verifier was sent, but the authorization request had no code_challenge.' });
  }
  // Only a replay that passed every check above ends the session: someone holding a leaked
  // code without the client's secret or verifier cannot sign the guest out with it.
  if (row.redeemedAt) {
    const sessionRef = readPartitionRef(rt.config, 'session-partition', tenant.id, row.sid);
    if (sessionRef) await endSession(rt, { partitionKey, rowKey: SESSION_PREFIX + sessionRef.rowId });
    fail('invalid_grant', { message: 'The authorization code was already used; the session it started has been ended.' });
  }
  if (row.expiresAt.getTime() <= rt.now()) fail('invalid_grant', { message: 'The authorization code has expired.' });

  // The session must still be live: a sign-out or deletion since the code was issued wins.
  const nowSeconds = Math.floor(rt.now() / 1000);
  const sessionStart = { sid: row.sid, guestId: row.guestId, issuedAtSeconds: nowSeconds, expiresAtSeconds: row.sessionExpiresAt };
  const scope = row.scope.split(' ').filter(Boolean);
  const roles = await rolesFor(rt, tenant.id, row.guestId, application);
  const accessToken = signSessionToken(rt, tenant.id, sessionStart, { scope: row.scope, azp: application.clientId, ...(roles.length > 0 ? { roles } : {}) });
  const { status } = await activeSession(rt, tenant.id, accessToken).catch((error: unknown) => {
    if (error instanceof GuestpassError && (error.status === 401 || error.code === 'otp_disabled')) {
      fail('invalid_grant', { message: 'The session behind the authorization code has ended.' });
    }
    throw error;
  });
  // Consumed last, ETag-guarded: of concurrent redemptions exactly one gets here first.
  try {
    await rt.tables.guests.updateEntity({ partitionKey, rowKey, redeemedAt: new Date(rt.now()).toISOString() }, 'Merge', { etag: row.etag });
  } catch (error) {
    if (isStatus(error, 404, 412)) fail('invalid_grant', { message: 'The authorization code was already used.' });
    throw error;
  }

  const idToken = signIdToken(rt, tenant.id, application, {
    user: status.user,
    scope,
    nonce: row.nonce || undefined,
    authTime: row.authTime,
    sid: row.sid,
    sessionExpiresAt: row.sessionExpiresAt,
    accessToken,
    roles,
  });
  return { access_token: accessToken, token_type: 'Bearer', expires_in: row.sessionExpiresAt - nowSeconds, id_token: idToken, scope: row.scope };
}

/**
 * userinfo (OIDC Core §5.3): the access token must be a live session of this tenant. An
 * access token that was issued with roles gets the roles the guest holds now (an
 * assignment removed or a role deleted since shows at once); one issued without roles
 * costs no further read (a role assigned since shows from the next sign-in, as in tokens).
 */
export async function userInfo(rt: Runtime, tenantRef: string, accessToken: string | undefined): Promise<Record<string, unknown>> {
  const { tenantId, verified, status } = await activeSession(rt, tenantRef, accessToken);
  const scope = typeof verified.payload.scope === 'string' ? verified.payload.scope.split(' ') : undefined;
  const roles = Array.isArray(verified.payload.roles) ? await rolesForClient(rt, tenantId, status.user.id, verified.payload.azp) : [];
  return { ...userClaims(tenantId, status.user, scope), ...(roles.length > 0 ? { roles } : {}) };
}
