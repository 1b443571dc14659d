// Fresh secrets, in plain JavaScript with Node's built-ins only, so that the azd hook
// (scripts/azdHooks.mjs) runs them without a build while azd packages the app beside it;
// lib/signin/keys.ts re-exports them for the app and the scripts.
import { generateKeyPairSync, randomBytes } from 'node:crypto';

/** An EC P-256 private JWK with a `kid` that says when it was made. */
export function generateSigningKey() {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = privateKey.export({ format: 'jwk' });
  const stamp = new Date().toISOString().slice(0, 10).replace(/-/g, '');
  return { kid: `${stamp}-${randomBytes(4).toString('hex')}`, ...jwk };
}

/** SIGNING_KEYS with one new key. */
export function generateSigningKeys() {
  return JSON.stringify([generateSigningKey()]);
}

/** 32 random bytes, base64url: CODE_PEPPER, OPERATOR_KEY, ACS_EVENTS_SECRET. */
export function generateCodePepper() {
  return randomBytes(32).toString('base64url');
}
