import { tenantIssuer, type Config } from '../config.js';
import type { Runtime } from '../runtime.js';
import { resolveTenant } from '../tenants/tenants.js';

/** The claims guestpass puts in ID tokens and userinfo answers. */
export const CLAIMS_SUPPORTED = ['sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'amr', 'sid', 'at_hash', 'email', 'email_verified', 'name', 'tid', 'idp', 'roles'];
export const SCOPES_SUPPORTED = ['openid', 'email', 'profile'];
export const UI_LOCALES_SUPPORTED = ['en', 'sv', 'de'];

/** Where each endpoint of a tenant's issuer lives: all under the issuer URL. */
export function tenantEndpoints(config: Config, tenantId: string) {
  const issuer = tenantIssuer(config, tenantId);
  return {
    issuer,
    authorization_endpoint: `${issuer}/oauth2/authorize`,
    token_endpoint: `${issuer}/oauth2/token`,
    userinfo_endpoint: `${issuer}/oauth2/userinfo`,
    end_session_endpoint: `${issuer}/oauth2/logout`,
    jwks_uri: `${issuer}/discovery/keys`,
  };
}

/**
 * OpenID Connect Discovery 1.0 §3 for one tenant. A verified domain in the route
 * answers the same document: its `issuer` is always the id form, which is what tokens
 * carry (a relying party configured with the domain form would see the mismatch that
 * Discovery §4.3 asks it to refuse, so docs/openid-connect.md gives the id form).
 */
export async function openIdConfiguration(rt: Runtime, tenantRef: string): Promise<Record<string, unknown>> {
  const { tenant } = await resolveTenant(rt, tenantRef);
  return {
    ...tenantEndpoints(rt.config, tenant.id),
    scopes_supported: SCOPES_SUPPORTED,
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code'],
    subject_types_supported: ['public'],
    // RS256 first: Discovery 1.0 §3 makes it mandatory; ES256 for applications that ask for it.
    id_token_signing_alg_values_supported: ['RS256', 'ES256'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
    code_challenge_methods_supported: ['S256'],
    claims_supported: CLAIMS_SUPPORTED,
    prompt_values_supported: ['none', 'login', 'consent', 'select_account'],
    ui_locales_supported: UI_LOCALES_SUPPORTED,
    claims_parameter_supported: false,
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
    // RFC 9207: authorization responses carry `iss`, against mix-up attacks.
    authorization_response_iss_parameter_supported: true,
  };
}
