import { createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { generateSigningKey } from './secretGeneration.mjs';

export interface SigningKey {
  kid: string;
  /** Absent for a verify-only key kept during rotation. */
  privateKey?: KeyObject;
  publicKey: KeyObject;
  publicJwk: PublicJwk;
}

export interface PublicJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
  kid: string;
  alg: 'ES256';
  use: 'sig';
}

interface StoredJwk extends JsonWebKey {
  kid?: string;
}

/**
 * SIGNING_KEYS is a JSON array of P-256 JWKs, each with a `kid`. The first key
 * signs; every listed key verifies, so a new key is put first and the old one
 * stays listed until the last token it signed has expired.
 */
export function parseSigningKeys(text: string): SigningKey[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error('must be a JSON array of EC P-256 JWKs');
  }
  if (!Array.isArray(raw) || raw.length === 0) throw new Error('must be a non-empty JSON array of EC P-256 JWKs');
  const keys = raw.map((entry: StoredJwk, index) => {
    if (!entry || entry.kty !== 'EC' || entry.crv !== 'P-256') throw new Error(`key ${index} must be an EC P-256 JWK`);
    if (typeof entry.kid !== 'string' || entry.kid.length === 0) throw new Error(`key ${index} has no kid`);
    const privateKey = entry.d ? createPrivateKey({ key: entry, format: 'jwk' }) : undefined;
    const publicKey = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: entry.x, y: entry.y }, format: 'jwk' });
    const exported = publicKey.export({ format: 'jwk' });
    return {
      kid: entry.kid,
      privateKey,
      publicKey,
      publicJwk: { kty: 'EC', crv: 'P-256', x: exported.x!, y: exported.y!, kid: entry.kid, alg: 'ES256', use: 'sig' },
    } satisfies SigningKey;
  });
  if (!keys[0]!.privateKey) throw new Error('the first key signs, so it needs its private part (d)');
  const kids = new Set(keys.map((key) => key.kid));
  if (kids.size !== keys.length) throw new Error('two keys share a kid');
  return keys;
}

export { generateCodePepper, generateSigningKey, generateSigningKeys } from './secretGeneration.mjs';

/**
 * Rotation without signing anyone out: a new key goes first and signs from now on;
 * the current keys stay listed as public keys only, so the sessions they signed keep
 * verifying until they expire (SESSION_TTL_SECONDS), and their private parts are gone.
 */
export function rotateSigningKeys(current: string): string {
  parseSigningKeys(current);
  const verifyOnly = (JSON.parse(current) as StoredJwk[]).map(({ kty, crv, x, y, kid }) => ({ kty, crv, x, y, kid }));
  return JSON.stringify([generateSigningKey(), ...verifyOnly]);
}

/** After SESSION_TTL_SECONDS have passed since a rotation: only the key that signs. */
export function retireSigningKeys(current: string): string {
  parseSigningKeys(current);
  return JSON.stringify((JSON.parse(current) as StoredJwk[]).slice(0, 1));
}
