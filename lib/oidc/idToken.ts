import { createHash } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { tenantIssuer } from '../config.js';
import type { Runtime } from '../runtime.js';
import { signingKeyFor } from '../signin/keys.js';
import type { SessionStatus } from '../signin/sessions.js';
import type { StoredApplication } from './applications.js';

/** ID tokens are for the client to learn who signed in, not to hold a session: an hour at most. */
const ID_TOKEN_MAX_SECONDS = 3600;

/** OIDC Core §3.1.3.6: the left half of the access token's SHA-256, base64url. */
function accessTokenHash(accessToken: string): string {
  return createHash('sha256').update(accessToken).digest().subarray(0, 16).toString('base64url');
}

/** The user claims a scope allows (OIDC Core §5.4), plus guestpass's tenant and identity provider. */
export function userClaims(tenantId: string, user: SessionStatus['user'], scope: string[] | undefined): Record<string, unknown> {
  const all = !scope;
  return {
    sub: user.id,
    ...(all || scope.includes('email') ? { email: user.email, email_verified: true } : {}),
    ...(all || scope.includes('profile') ? { name: user.displayName } : {}),
    tid: tenantId,
    idp: user.source,
  };
}

/** What an ID token says of one sign-in: from the authorization code's row, or from the session itself (response_type=id_token). */
export interface IdTokenContent {
  user: SessionStatus['user'];
  scope: string[];
  nonce?: string;
  authTime: number;
  sid: string;
  sessionExpiresAt: number;
  /** With the code flow: the access token issued beside it, for at_hash. */
  accessToken?: string;
  /** The values of the guest's app roles in this application (left out when none, as Entra does). */
  roles: string[];
}

/** An ID token (OIDC Core §2) for the application, signed with the algorithm it registered (idTokenSignedResponseAlg). */
export function signIdToken(rt: Runtime, tenantId: string, application: StoredApplication, content: IdTokenContent): string {
  const nowSeconds = Math.floor(rt.now() / 1000);
  const signer = signingKeyFor(rt.config.session.signingKeys, application.idTokenSignedResponseAlg);
  return jwt.sign(
    {
      ...userClaims(tenantId, content.user, content.scope),
      ...(content.nonce !== undefined ? { nonce: content.nonce } : {}),
      auth_time: content.authTime,
      amr: ['otp'],
      sid: content.sid,
      ...(content.accessToken ? { at_hash: accessTokenHash(content.accessToken) } : {}),
      ...(content.roles.length > 0 ? { roles: content.roles } : {}),
      iat: nowSeconds,
      exp: Math.min(nowSeconds + ID_TOKEN_MAX_SECONDS, content.sessionExpiresAt),
    },
    signer.privateKey,
    { algorithm: signer.alg, keyid: signer.kid, issuer: tenantIssuer(rt.config, tenantId), audience: application.clientId },
  );
}

/** Reads an ID token we issued (for logout's id_token_hint): our key, our issuer, any audience, expiry ignored. */
export function readIdTokenHint(rt: Runtime, tenantId: string, idToken: string): { clientId: string; sid: string } | undefined {
  const decoded = jwt.decode(idToken, { complete: true });
  const key = rt.config.session.signingKeys.find((candidate) => candidate.kid === decoded?.header.kid);
  if (!decoded || !key) return undefined;
  try {
    const payload = jwt.verify(idToken, key.publicKey, { algorithms: [key.alg], issuer: tenantIssuer(rt.config, tenantId), ignoreExpiration: true }) as jwt.JwtPayload;
    const aud = Array.isArray(payload.aud) ? payload.aud[0] : payload.aud;
    if (typeof aud !== 'string' || typeof payload.sid !== 'string' || aud === tenantId) return undefined;
    return { clientId: aud, sid: payload.sid };
  } catch {
    return undefined;
  }
}
