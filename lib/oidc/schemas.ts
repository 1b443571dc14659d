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

/**
 * An application role in Microsoft Graph's shape (appRole): what the app lets a guest do.
 * Operators assign roles to guests; tokens for the app carry the assigned roles' values
 * in `roles`, as Entra's do. Only users (guests) are members here.
 */
export const appRole = lazySchema(() => z.strictObject({
  id: guid.optional().meta({ description: 'A GUID; generated when left out.' }),
  value: z.string().trim().min(1).max(120).regex(/^[^\s.][^\s]*$/, 'no spaces, and not starting with a dot').meta({ description: 'What tokens carry in roles.' }),
  displayName: z.string().trim().min(1).max(100),
  description: z.string().trim().max(1000).default(''),
  allowedMemberTypes: z.array(z.literal('User')).min(1).max(1).default(['User']).meta({ description: 'Only User: guests are the members.' }),
  isEnabled: z.boolean().default(true).meta({ description: 'A disabled role stays defined but is in no token.' }),
}));
export type AppRoleInput = z.infer<typeof appRole>;

const appRoles = lazySchema(() => z.array(appRole).max(100)
  .refine((roles) => new Set(roles.map((role) => role.value)).size === roles.length, 'two roles share a value')
  .refine((roles) => new Set(roles.filter((role) => role.id).map((role) => role.id!.toLowerCase())).size === roles.filter((role) => role.id).length, 'two roles share an id'));

export const createApplicationBody = lazySchema(() => z.strictObject({
  displayName: z.string().trim().min(1).max(256),
  /** `public`: a browser or native app, PKCE only. `confidential`: a server that also holds a secret. */
  clientType: clientType.default('public'),
  redirectUris: z.array(redirectUri).min(1).max(50),
  postLogoutRedirectUris: z.array(redirectUri).max(50).default([]),
  idTokenSignedResponseAlg: idTokenSignedResponseAlg.default('RS256'),
  appRoles: appRoles.default([]),
}));
export type CreateApplicationInput = z.infer<typeof createApplicationBody>;

export const updateApplicationBody = lazySchema(() => z
  .strictObject({
    displayName: createApplicationBody.shape.displayName.optional(),
    redirectUris: createApplicationBody.shape.redirectUris.optional(),
    postLogoutRedirectUris: createApplicationBody.shape.postLogoutRedirectUris.unwrap().optional(),
    idTokenSignedResponseAlg: idTokenSignedResponseAlg.optional(),
    /** The whole list: roles left out are deleted, and tokens stop carrying them at once. */
    appRoles: appRoles.optional(),
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
  appRoles: z.array(z.object({ id: z.string(), value: z.string(), displayName: z.string(), description: z.string(), allowedMemberTypes: z.array(z.string()), isEnabled: z.boolean() })),
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
  roles: z.array(z.string()).optional(),
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

export const appRoleAssignmentParams = lazySchema(() => tenantParams.extend({ id: guid }));
export const appRoleAssignmentItemParams = lazySchema(() => appRoleAssignmentParams.extend({ assignmentId: z.string().regex(/^[0-9a-f]{32}$/, 'must be the id of an assignment') }));

/** POST …/users/{id}/appRoleAssignments, as Microsoft Graph takes it: resourceId is the application's client id. */
export const createAppRoleAssignmentBody = lazySchema(() => z.strictObject({
  appRoleId: guid,
  resourceId: guid.meta({ description: "The application's clientId (Graph: the resource's service principal id)." }),
  principalId: guid.optional().meta({ description: 'If given, the {id} of the route.' }),
}));
export type CreateAppRoleAssignmentInput = z.infer<typeof createAppRoleAssignmentBody>;

export const appRoleAssignmentResponse = lazySchema(() => z.object({
  id: z.string(),
  appRoleId: z.string(),
  principalId: z.string(),
  principalType: z.literal('User'),
  principalDisplayName: z.string(),
  resourceId: z.string(),
  resourceDisplayName: z.string(),
  createdDateTime: z.string(),
}));
export const appRoleAssignmentListResponse = lazySchema(() => z.object({ value: z.array(appRoleAssignmentResponse) }));
