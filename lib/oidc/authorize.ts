import { randomBytes } from 'node:crypto';
import { tenantIssuer } from '../config.js';
import { fail, GuestpassError, type ErrorCode } from '../errors.js';
import type { Runtime } from '../runtime.js';
import { activeSession } from '../signin/sessions.js';
import { keyDigest } from '../storage/tables.js';
import { resolveTenant } from '../tenants/tenants.js';
import { findApplication } from './applications.js';
import { SCOPES_SUPPORTED, UI_LOCALES_SUPPORTED } from './discovery.js';
import { rolesFor } from './appRoles.js';
import { signIdToken } from './idToken.js';
import { opaquePartitionRef, seal, unseal } from './sealing.js';
import { omitEmpty, type AuthorizeParams } from './schemas.js';

/** An authorization code lives 60 s (RFC 6749 §4.1.2 recommends at most 10 minutes). */
export const AUTHORIZATION_CODE_TTL_SECONDS = 60;
export const AUTHORIZATION_CODE_PREFIX = 'authcode_';

/** What `authorize` validated, sealed into the hosted page and read back by authorize-complete. */
interface AuthorizationRequest {
  clientId: string;
  redirectUri: string;
  scope: string[];
  responseType: ResponseType;
  responseMode: ResponseMode;
  state?: string;
  nonce?: string;
  codeChallenge?: string;
  /** Seconds since the epoch after which the page's request is void. */
  exp: number;
}

/** The row an authorization code names, kept in the guest's partition beside its session. */
export interface AuthorizationCodeEntity {
  clientId: string;
  redirectUri: string;
  /** Empty when the request had none (a confidential client that used `nonce` instead, RFC 9700 §2.1.1). */
  codeChallenge: string;
  /** Empty when the request had none (optional in the code flow, OIDC Core §3.1.2.1). */
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

/** `code` (the authorization code flow) or `id_token` alone (sign-in only: no access token in the front channel, RFC 9700 §2.1.2). */
export type ResponseType = 'code' | 'id_token';
/** How the answer reaches the redirect URI: its query, or a form the browser posts (OAuth 2.0 Form Post Response Mode). */
export type ResponseMode = 'query' | 'form_post';

/** What the browser does to answer the client: follow a redirect, or post a form to the redirect URI. */
export type ClientAnswer = { redirectTo: string } | { formPost: { action: string; fields: Record<string, string> } };

export type AuthorizeOutcome =
  /** Shown on a page, never redirected: the redirect URI is not (yet) known to be the client's. */
  | { kind: 'error-page'; error: GuestpassError; language?: string }
  /** Back to the client's registered redirect URI (a success or an RFC 6749 §4.1.2.1 error). */
  | { kind: 'redirect'; location: string }
  /** The same, posted (response_mode=form_post). */
  | { kind: 'form-post'; action: string; fields: Record<string, string> }
  | {
      kind: 'sign-in';
      tenantId: string;
      applicationName: string;
      authorization: string;
      loginHint?: string;
      language?: string;
      /** With response_mode=form_post, the redirect URI the page's form may post to. */
      formAction?: string;
    };

const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

/** The redirect back to the client: its URI with our parameters added (RFC 6749 §4.1.2), and `iss` (RFC 9207). */
export function clientRedirect(redirectUri: string, params: Record<string, string | undefined>): string {
  const url = new URL(redirectUri);
  for (const [name, value] of Object.entries(params)) if (value !== undefined) url.searchParams.set(name, value);
  return url.href;
}

/** The answer to the client in the mode it asked for; parameters left undefined are not sent. */
function answerClient(redirectUri: string, mode: ResponseMode, params: Record<string, string | undefined>): ClientAnswer {
  if (mode === 'query') return { redirectTo: clientRedirect(redirectUri, params) };
  const fields = Object.fromEntries(Object.entries(params).filter((entry): entry is [string, string] => entry[1] !== undefined));
  return { formPost: { action: redirectUri, fields } };
}

function errorAnswer(rt: Runtime, tenantId: string, redirectUri: string, mode: ResponseMode, state: string | undefined, code: ErrorCode, description?: string): AuthorizeOutcome {
  const error = new GuestpassError(code, description ? { message: description } : {});
  const answer = answerClient(redirectUri, mode, { error: code, error_description: error.message, state, iss: tenantIssuer(rt.config, tenantId) });
  return 'redirectTo' in answer ? { kind: 'redirect', location: answer.redirectTo } : { kind: 'form-post', ...answer.formPost };
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

export function pickLanguage(uiLocales: string | undefined): string | undefined {
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
export async function beginAuthorization(rt: Runtime, tenantRef: string, given: AuthorizeParams, repeated: string[]): Promise<AuthorizeOutcome> {
  const params = omitEmpty(given);
  const language = pickLanguage(params.ui_locales);
  const tenantId = await tenantIdForBrowser(rt, tenantRef);
  if (tenantId instanceof GuestpassError) return { kind: 'error-page', error: tenantId, language };
  const pageError = (message: string): AuthorizeOutcome => ({ kind: 'error-page', error: new GuestpassError('invalid_request', { message }), language });
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
  // A repeated state has no one value to send back.
  const state = repeated.includes('state') ? undefined : params.state;
  // Errors go back the way the client asked for answers, if it asked for one we have (else by query).
  const mode: ResponseMode = params.response_mode === 'form_post' && !repeated.includes('response_mode') ? 'form_post' : 'query';
  const back = (code: ErrorCode, description?: string) => errorAnswer(rt, tenantId, redirectUri, mode, state, code, description);

  if (repeated.length > 0) return back('invalid_request', `Each parameter may appear only once (RFC 6749 §3.1): ${repeated.join(', ')}.`);
  if (params.request !== undefined) return back('request_not_supported');
  if (params.request_uri !== undefined) return back('request_uri_not_supported');
  if (!params.response_type) return back('invalid_request', 'response_type is required.');
  if (params.response_type !== 'code' && params.response_type !== 'id_token') return back('unsupported_response_type');
  const responseType: ResponseType = params.response_type;
  if (params.response_mode !== undefined && params.response_mode !== 'query' && params.response_mode !== 'form_post') {
    return back('invalid_request', 'response_mode must be query or form_post.');
  }
  if (responseType === 'id_token' && mode !== 'form_post') {
    return back('invalid_request', 'response_type=id_token needs response_mode=form_post: an ID token is never put in a URL.');
  }
  const scope = (params.scope ?? '').split(' ').filter(Boolean);
  if (!scope.includes('openid')) return back('invalid_scope');
  if (params.code_challenge !== undefined || params.code_challenge_method !== undefined) {
    if (responseType !== 'code') return back('invalid_request', 'code_challenge belongs to response_type=code: there is no code to bind it to.');
    if (!params.code_challenge) return back('invalid_request', 'code_challenge_method was sent without a code_challenge.');
    if (params.code_challenge_method !== 'S256') return back('invalid_request', 'code_challenge_method must be S256 (plain is not supported).');
    if (!S256_CHALLENGE.test(params.code_challenge)) return back('invalid_request', 'code_challenge must be the base64url SHA-256 of the code verifier (43 characters).');
  }
  if (responseType === 'id_token' && !params.nonce) {
    return back('invalid_request', 'nonce is required with response_type=id_token (OIDC Core §3.2.2.1): it is what ties the ID token to this request.');
  }
  if (responseType === 'code' && !params.code_challenge) {
    // RFC 9700 §2.1.1: PKCE of every public client; a confidential client may rely on nonce instead.
    if (application.clientType === 'public') return back('invalid_request', 'code_challenge is required of a public client (PKCE, RFC 7636).');
    if (!params.nonce) return back('invalid_request', 'code_challenge (PKCE, RFC 7636) or nonce is required: one of them ties the code to this request.');
  }
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
    responseType,
    responseMode: mode,
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
    language,
    ...(mode === 'form_post' ? { formAction: redirectUri } : {}),
  };
}

/**
 * authorize-complete: the hosted page, signed in, trades its session token and the
 * sealed request for the answer to the client: a one-time code (60 s, bound to the
 * client, the redirect URI and the PKCE challenge or nonce; single use), or with
 * response_type=id_token the ID token itself; by redirect or, with
 * response_mode=form_post, as a form the page posts.
 */
export async function completeAuthorization(rt: Runtime, tenantRef: string, authorization: string, sessionToken: string | undefined): Promise<ClientAnswer> {
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
  const issuer = tenantIssuer(rt.config, tenant.id);

  if (request.responseType === 'id_token') {
    const idToken = signIdToken(rt, tenant.id, application, {
      user: status.user,
      scope: request.scope,
      nonce: request.nonce,
      authTime: Number(verified.payload.iat),
      sid: verified.sid,
      sessionExpiresAt: Number(verified.payload.exp),
      roles: await rolesFor(rt, tenant.id, status.user.id, application),
    });
    return answerClient(request.redirectUri, request.responseMode, { id_token: idToken, state: request.state, iss: issuer });
  }

  const rowId = randomBytes(24).toString('base64url');
  const emailDigest = verified.partitionKey.slice(tenant.id.length + 1);
  const code = opaquePartitionRef(rt.config, 'authorization-code', tenant.id, rowId, emailDigest);
  const nowMs = rt.now();
  const row: AuthorizationCodeEntity & { partitionKey: string; rowKey: string } = {
    partitionKey: verified.partitionKey,
    rowKey: authorizationCodeRowKey(rowId),
    clientId: application.clientId,
    redirectUri: request.redirectUri,
    codeChallenge: request.codeChallenge ?? '',
    nonce: request.nonce ?? '',
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
  return answerClient(request.redirectUri, request.responseMode, { code, state: request.state, iss: issuer });
}

/** The code's random part never reaches storage: the row is keyed by its digest. */
export function authorizationCodeRowKey(rowId: string): string {
  return AUTHORIZATION_CODE_PREFIX + keyDigest(rowId);
}


