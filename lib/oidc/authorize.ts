import { randomBytes } from 'node:crypto';
import { tenantIssuer } from '../config.js';
import { fail, GuestpassError, type ErrorCode } from '../errors.js';
import type { Runtime } from '../runtime.js';
import { activeSession } from '../signin/sessions.js';
import { keyDigest } from '../storage/tables.js';
import { resolveTenant } from '../tenants/tenants.js';
import { findApplication } from './applications.js';
import { SCOPES_SUPPORTED, UI_LOCALES_SUPPORTED } from './discovery.js';
import { opaquePartitionRef, seal, unseal } from './sealing.js';
import type { AuthorizeParams } from './schemas.js';

/** An authorization code lives 60 s (RFC 6749 §4.1.2 recommends at most 10 minutes). */
export const AUTHORIZATION_CODE_TTL_SECONDS = 60;
export const AUTHORIZATION_CODE_PREFIX = 'authcode_';

/** What `authorize` validated, sealed into the hosted page and read back by authorize-complete. */
interface AuthorizationRequest {
  clientId: string;
  redirectUri: string;
  scope: string[];
  state: string;
  nonce: string;
  codeChallenge: string;
  /** Seconds since the epoch after which the page's request is void. */
  exp: number;
}

/** The row an authorization code names, kept in the guest's partition beside its session. */
export interface AuthorizationCodeEntity {
  clientId: string;
  redirectUri: string;
  codeChallenge: string;
  nonce: string;
  scope: string;
  /** The session's `sid` claim: tokens from this code belong to that session. */
  sid: string;
  guestId: string;
  email: string;
  displayName: string;
  source: string;
  authTime: number;
  sessionExpiresAt: number;
  /** Set by the one redemption that wins (ETag-guarded); a second finds it and fails. */
  redeemedAt?: string;
  expiresAt: Date;
}

export type AuthorizeOutcome =
  /** Shown on a page, never redirected: the redirect URI is not (yet) known to be the client's. */
  | { kind: 'error-page'; error: GuestpassError }
  /** Back to the client's registered redirect URI (a success or an RFC 6749 §4.1.2.1 error). */
  | { kind: 'redirect'; location: string }
  | { kind: 'sign-in'; tenantId: string; applicationName: string; authorization: string; loginHint?: string; language?: string };

const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

/** The redirect back to the client: its URI with our parameters added (RFC 6749 §4.1.2), and `iss` (RFC 9207). */
export function clientRedirect(redirectUri: string, params: Record<string, string | undefined>): string {
  const url = new URL(redirectUri);
  for (const [name, value] of Object.entries(params)) if (value !== undefined) url.searchParams.set(name, value);
  return url.href;
}

function errorRedirect(rt: Runtime, tenantId: string, redirectUri: string, state: string | undefined, code: ErrorCode, description?: string): AuthorizeOutcome {
  const error = new GuestpassError(code, description ? { message: description } : {});
  return {
    kind: 'redirect',
    location: clientRedirect(redirectUri, { error: code, error_description: error.message, state, iss: tenantIssuer(rt.config, tenantId) }),
  };
}

/** The tenant's id, or, for a browser (which gets a page, not JSON), the error to show. */
export async function tenantIdForBrowser(rt: Runtime, tenantRef: string): Promise<string | GuestpassError> {
  try {
    return (await resolveTenant(rt, tenantRef)).tenant.id;
  } catch (error) {
    if (error instanceof GuestpassError) return error;
    throw error;
  }
}

function pickLanguage(uiLocales: string | undefined): string | undefined {
  for (const tag of (uiLocales ?? '').split(/\s+/).filter(Boolean)) {
    const primary = tag.toLowerCase().split('-')[0]!;
    if (UI_LOCALES_SUPPORTED.includes(primary)) return primary;
  }
  return undefined;
}

/**
 * The authorization endpoint (RFC 6749 §4.1.1, OIDC Core §3.1.2). Until client_id and
 * redirect_uri are known to belong together every problem is shown on a page; from
 * then on errors go back to that redirect URI with `state`. A valid request gets the
 * hosted sign-in page, carrying the request sealed (nothing is stored for it).
 */
export async function beginAuthorization(rt: Runtime, tenantRef: string, params: AuthorizeParams, repeated: string[]): Promise<AuthorizeOutcome> {
  const tenantId = await tenantIdForBrowser(rt, tenantRef);
  if (tenantId instanceof GuestpassError) return { kind: 'error-page', error: tenantId };
  const pageError = (message: string): AuthorizeOutcome => ({ kind: 'error-page', error: new GuestpassError('invalid_request', { message }) });
  if (repeated.includes('client_id') || repeated.includes('redirect_uri')) return pageError('client_id and redirect_uri may each appear only once.');
  if (!params.client_id) return pageError('The request has no client_id: the app that sent you here is not set up correctly.');
  const application = await findApplication(rt, tenantId, params.client_id);
  if (!application) return pageError('The client_id is not an application of this organisation.');
  if (!params.redirect_uri) return pageError('The request has no redirect_uri.');
  // Exact string comparison (OIDC Core §3.1.2.1): no prefix, no normalisation.
  if (!application.redirectUris.includes(params.redirect_uri)) {
    return pageError("The redirect_uri is not one of this application's registered redirect URIs.");
  }
  const redirectUri = params.redirect_uri;
  const state = params.state;
  const back = (code: ErrorCode, description?: string) => errorRedirect(rt, tenantId, redirectUri, state, code, description);

  if (repeated.length > 0) return back('invalid_request', `Each parameter may appear only once (RFC 6749 §3.1): ${repeated.join(', ')}.`);
  if (params.request !== undefined) return back('request_not_supported');
  if (params.request_uri !== undefined) return back('request_uri_not_supported');
  if (!params.response_type) return back('invalid_request', 'response_type is required.');
  if (params.response_type !== 'code') return back('unsupported_response_type');
  if (params.response_mode !== undefined && params.response_mode !== 'query') return back('invalid_request', 'Only response_mode=query is supported.');
  const scope = (params.scope ?? '').split(' ').filter(Boolean);
  if (!scope.includes('openid')) return back('invalid_scope');
  if (!state) return back('invalid_request', 'state is required: the app needs it to tie this answer to its request.');
  if (!params.nonce) return back('invalid_request', 'nonce is required: the app needs it to tie the ID token to its request.');
  if (!params.code_challenge) return back('invalid_request', 'code_challenge is required (PKCE, RFC 7636).');
  if (params.code_challenge_method !== 'S256') return back('invalid_request', 'code_challenge_method must be S256 (plain is not supported).');
  if (!S256_CHALLENGE.test(params.code_challenge)) return back('invalid_request', 'code_challenge must be the base64url SHA-256 of the code verifier (43 characters).');
  const prompt = (params.prompt ?? '').split(' ').filter(Boolean);
  if (prompt.includes('none')) {
    if (prompt.length > 1) return back('invalid_request', 'prompt=none cannot be combined with other values.');
    // guestpass keeps no sign-in cookie at the provider: there is never a session to reuse silently.
    return back('login_required');
  }
  if (prompt.some((value) => !['login', 'consent', 'select_account'].includes(value))) return back('invalid_request', 'prompt has a value guestpass does not know.');
  if (params.max_age !== undefined && !/^\d{1,10}$/.test(params.max_age)) return back('invalid_request', 'max_age must be a number of seconds.');

  const request: AuthorizationRequest = {
    clientId: application.clientId,
    redirectUri,
    scope: SCOPES_SUPPORTED.filter((known) => scope.includes(known)),
    state,
    nonce: params.nonce,
    codeChallenge: params.code_challenge,
    exp: Math.floor(rt.now() / 1000) + rt.config.code.ttlSeconds,
  };
  return {
    kind: 'sign-in',
    tenantId,
    applicationName: application.displayName,
    authorization: seal(rt.config, 'authorization-request', Buffer.from(JSON.stringify(request)), tenantId),
    loginHint: params.login_hint?.slice(0, 320),
    language: pickLanguage(params.ui_locales),
  };
}

/**
 * authorize-complete: the hosted page, signed in, trades its session token and the
 * sealed request for the redirect back to the client with a one-time code (60 s,
 * bound to the client, the redirect URI and the PKCE challenge; single use).
 */
export async function completeAuthorization(rt: Runtime, tenantRef: string, authorization: string, sessionToken: string | undefined): Promise<{ redirectTo: string }> {
  const { tenant } = await resolveTenant(rt, tenantRef);
  const sealed = unseal(rt.config, 'authorization-request', authorization, tenant.id);
  let request: AuthorizationRequest | undefined;
  try {
    request = sealed ? (JSON.parse(sealed.toString('utf8')) as AuthorizationRequest) : undefined;
  } catch {
    request = undefined;
  }
  if (!request || request.exp <= Math.floor(rt.now() / 1000)) fail('authorization_request_expired');
  const application = await findApplication(rt, tenant.id, request.clientId);
  // Removed or changed since the page was served: nothing goes to a URI no longer registered.
  if (!application || !application.redirectUris.includes(request.redirectUri)) fail('authorization_request_expired');
  const session = await activeSession(rt, tenant.id, sessionToken);
  const { verified, status } = session;

  const rowId = randomBytes(24).toString('base64url');
  const emailDigest = verified.partitionKey.slice(tenant.id.length + 1);
  const code = opaquePartitionRef(rt.config, 'authorization-code', tenant.id, rowId, emailDigest);
  const nowMs = rt.now();
  const row: AuthorizationCodeEntity & { partitionKey: string; rowKey: string } = {
    partitionKey: verified.partitionKey,
    rowKey: authorizationCodeRowKey(rowId),
    clientId: application.clientId,
    redirectUri: request.redirectUri,
    codeChallenge: request.codeChallenge,
    nonce: request.nonce,
    scope: request.scope.join(' '),
    sid: verified.sid,
    guestId: status.user.id,
    email: status.user.email,
    displayName: status.user.displayName,
    source: status.user.source,
    authTime: Number(verified.payload.iat),
    sessionExpiresAt: Number(verified.payload.exp),
    expiresAt: new Date(nowMs + AUTHORIZATION_CODE_TTL_SECONDS * 1000),
  };
  await rt.tables.guests.createEntity(row);
  return { redirectTo: clientRedirect(request.redirectUri, { code, state: request.state, iss: tenantIssuer(rt.config, tenant.id) }) };
}

/** The code's random part never reaches storage: the row is keyed by its digest. */
export function authorizationCodeRowKey(rowId: string): string {
  return AUTHORIZATION_CODE_PREFIX + keyDigest(rowId);
}


