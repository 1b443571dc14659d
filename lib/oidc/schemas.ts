import * as z from 'zod';
import { lazySchema } from '../lazySchema.js';
import { guid, redirectUri, tenantParams } from '../schemas.js';
import { SIGNING_ALGORITHMS } from '../signin/keys.js';

/**
 * The shapes of OpenID Connect applications (OAuth clients) and of the protocol's
 * requests, beside the feature that uses them. Function files validate with these and
 * the OpenAPI document is generated from them.
 */
export const clientType = lazySchema(() => z.enum(['public', 'confidential']));
/** RS256 unless the application asks for ES256 (Dynamic Client Registration 1.0 §2's default). */
export const idTokenSignedResponseAlg = lazySchema(() => z.enum(SIGNING_ALGORITHMS));

export const createApplicationBody = lazySchema(() => z.strictObject({
  displayName: z.string().trim().min(1).max(256),
  /** `public`: a browser or native app, PKCE only. `confidential`: a server that also holds a secret. */
  clientType: clientType.default('public'),
  redirectUris: z.array(redirectUri).min(1).max(50),
  postLogoutRedirectUris: z.array(redirectUri).max(50).default([]),
  idTokenSignedResponseAlg: idTokenSignedResponseAlg.default('RS256'),
}));
export type CreateApplicationInput = z.infer<typeof createApplicationBody>;

export const updateApplicationBody = lazySchema(() => z
  .strictObject({
    displayName: createApplicationBody.shape.displayName.optional(),
    redirectUris: createApplicationBody.shape.redirectUris.optional(),
    postLogoutRedirectUris: createApplicationBody.shape.postLogoutRedirectUris.unwrap().optional(),
    idTokenSignedResponseAlg: idTokenSignedResponseAlg.optional(),
    /** Confidential clients only: a new secret replaces the old one at once and is shown once. */
    rotateSecret: z.literal(true).optional(),
  })
  .refine((body) => Object.keys(body).length > 0, 'name at least one field to change'));
export type UpdateApplicationInput = z.infer<typeof updateApplicationBody>;

export const applicationParams = lazySchema(() => tenantParams.extend({ clientId: guid }));

export const applicationResponse = lazySchema(() => z.object({
  clientId: z.string(),
  displayName: z.string(),
  clientType,
  redirectUris: z.array(z.string()),
  postLogoutRedirectUris: z.array(z.string()),
  idTokenSignedResponseAlg,
  createdAt: z.string(),
  updatedAt: z.string(),
  /** Only in the answer that created or rotated it: it is stored as a hash and never shown again. */
  clientSecret: z.string().optional(),
}));
export const applicationListResponse = lazySchema(() => z.object({ value: z.array(applicationResponse) }));

/** RFC 6749 §3.1: "Parameters sent without a value MUST be treated as if they were omitted." */
export function omitEmpty<T extends Record<string, unknown>>(params: T): T {
  return Object.fromEntries(Object.entries(params).filter(([, value]) => value !== '')) as T;
}

/** OAuth parameters arrive as strings; the lib checks them in the order RFC 6749 needs. */
const oauthParam = lazySchema(() => z.string().max(4096).optional());

export const authorizeParams = lazySchema(() => z.looseObject({
  client_id: oauthParam,
  redirect_uri: oauthParam,
  response_type: oauthParam,
  response_mode: oauthParam,
  scope: oauthParam,
  state: oauthParam,
  nonce: oauthParam,
  code_challenge: oauthParam,
  code_challenge_method: oauthParam,
  prompt: oauthParam,
  max_age: oauthParam,
  login_hint: oauthParam,
  ui_locales: oauthParam,
  request: oauthParam,
  request_uri: oauthParam,
}));
export type AuthorizeParams = z.infer<typeof authorizeParams>;

export const authorizeCompleteBody = lazySchema(() => z.strictObject({
  /** The sealed authorization request the hosted sign-in page was served with. */
  authorization: z.string().min(1).max(8192),
}));

/** Where the page sends the browser: a redirect, or (response_mode=form_post) a form it posts to the redirect URI. */
export const authorizeCompleteResponse = lazySchema(() => z.union([
  z.object({ redirectTo: z.string() }),
  z.object({ formPost: z.object({ action: z.string(), fields: z.record(z.string(), z.string()) }) }),
]));

export const tokenBody = lazySchema(() => z.looseObject({
  grant_type: oauthParam,
  code: oauthParam,
  redirect_uri: oauthParam,
  code_verifier: oauthParam,
  client_id: oauthParam,
  client_secret: oauthParam,
}));
export type TokenParams = z.infer<typeof tokenBody>;

export const tokenResponse = lazySchema(() => z.object({
  access_token: z.string(),
  token_type: z.literal('Bearer'),
  expires_in: z.number(),
  id_token: z.string(),
  scope: z.string(),
}));

export const logoutParams = lazySchema(() => z.looseObject({
  id_token_hint: oauthParam,
  client_id: oauthParam,
  post_logout_redirect_uri: oauthParam,
  state: oauthParam,
  ui_locales: oauthParam,
}));
export type LogoutParams = z.infer<typeof logoutParams>;

export const userInfoResponse = lazySchema(() => z.object({
  sub: z.string(),
  email: z.string().optional(),
  email_verified: z.boolean().optional(),
  name: z.string().optional(),
  tid: z.string(),
  idp: z.string(),
}));

export const openIdConfigurationResponse = lazySchema(() => z.looseObject({
  issuer: z.string(),
  authorization_endpoint: z.string(),
  token_endpoint: z.string(),
  userinfo_endpoint: z.string(),
  end_session_endpoint: z.string(),
  jwks_uri: z.string(),
  scopes_supported: z.array(z.string()),
  response_types_supported: z.array(z.string()),
  code_challenge_methods_supported: z.array(z.string()),
  id_token_signing_alg_values_supported: z.array(z.string()),
}));
