// Fresh secrets, in plain JavaScript with Node's built-ins only, so that the azd hook
// (scripts/azdHooks.mjs) runs them without a build while azd packages the app beside it;
// lib/signin/keys.ts re-exports them for the app and the scripts.
import { generateKeyPairSync, randomBytes } from 'node:crypto';

/** RSA keys shorter than this are refused (NIST SP 800-57: 2048 bits for 112-bit strength). */
export const RSA_MIN_BITS = 2048;

/** A private JWK (EC P-256 for ES256, RSA for RS256) with a `kid` that says when it was made. */
export function generateSigningKey(kty = 'EC') {
  const { privateKey } = kty === 'EC' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: RSA_MIN_BITS });
  const jwk = privateKey.export({ format: 'jwk' });
  const stamp = new Date().toISOString().slice(0, 10).replace(/-/g, '');
  return { kid: `${stamp}-${randomBytes(4).toString('hex')}`, ...jwk };
}

/** A fresh SIGNING_KEYS: one ES256 key, one RS256 key. */
export function generateSigningKeys() {
  return JSON.stringify([generateSigningKey('EC'), generateSigningKey('RSA')]);
}

/** 32 random bytes, base64url: CODE_PEPPER, OPERATOR_KEY, ACS_EVENTS_SECRET. */
export function generateCodePepper() {
  return randomBytes(32).toString('base64url');
}
