import { createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { generateSigningKey, RSA_MIN_BITS } from './secretGeneration.mjs';

/**
 * The algorithms guestpass signs with. Session tokens for the guest API are always
 * ES256; ID tokens use what the application asked for (`idTokenSignedResponseAlg`),
 * RS256 by default because OpenID Connect Discovery 1.0 §3 makes RS256 mandatory to
 * offer and Dynamic Client Registration 1.0 §2 makes it a client's default.
 */
export const SIGNING_ALGORITHMS = ['ES256', 'RS256'] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

export interface SigningKey {
  kid: string;
  alg: SigningAlgorithm;
  /** Absent for a verify-only key kept during rotation. */
  privateKey?: KeyObject;
  publicKey: KeyObject;
  publicJwk: PublicJwk;
}

export type PublicJwk =
  | { kty: 'EC'; crv: 'P-256'; x: string; y: string; kid: string; alg: 'ES256'; use: 'sig' }
  | { kty: 'RSA'; n: string; e: string; kid: string; alg: 'RS256'; use: 'sig' };

/** A key as SIGNING_KEYS holds it: a JWK (private or public) with its kid. */
export interface StoredJwk extends JsonWebKey {
  kid?: string;
}

const EXPECTED = 'a JSON array of JWKs with a kid each: EC P-256 (ES256) and RSA (RS256)';

function readKey(entry: StoredJwk, index: number): SigningKey {
  if (!entry || typeof entry !== 'object') throw new Error(`key ${index} must be an EC P-256 or RSA JWK`);
  if (typeof entry.kid !== 'string' || entry.kid.length === 0) throw new Error(`key ${index} has no kid`);
  const kid = entry.kid;
  if (entry.kty === 'EC' && entry.crv === 'P-256') {
    const publicKey = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: entry.x, y: entry.y }, format: 'jwk' });
    const exported = publicKey.export({ format: 'jwk' });
    return {
      kid,
      alg: 'ES256',
      privateKey: entry.d ? createPrivateKey({ key: entry, format: 'jwk' }) : undefined,
      publicKey,
      publicJwk: { kty: 'EC', crv: 'P-256', x: exported.x!, y: exported.y!, kid, alg: 'ES256', use: 'sig' },
    };
  }
  if (entry.kty === 'RSA') {
    const publicKey = createPublicKey({ key: { kty: 'RSA', n: entry.n, e: entry.e }, format: 'jwk' });
    if ((publicKey.asymmetricKeyDetails?.modulusLength ?? 0) < RSA_MIN_BITS) throw new Error(`key ${index} (RSA) is shorter than ${RSA_MIN_BITS} bits`);
    const exported = publicKey.export({ format: 'jwk' });
    return {
      kid,
      alg: 'RS256',
      privateKey: entry.d ? createPrivateKey({ key: entry, format: 'jwk' }) : undefined,
      publicKey,
      publicJwk: { kty: 'RSA', n: exported.n!, e: exported.e!, kid, alg: 'RS256', use: 'sig' },
    };
  }
  throw new Error(`key ${index} must be an EC P-256 or RSA JWK`);
}

function readKeys(text: string): SigningKey[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error(`must be ${EXPECTED}`);
  }
  if (!Array.isArray(raw) || raw.length === 0) throw new Error(`must be a non-empty ${EXPECTED.slice(2)}`);
  let keys: SigningKey[];
  try {
    keys = raw.map((entry: StoredJwk, index) => readKey(entry, index));
  } catch (error) {
    // node:crypto's own message for a JWK it cannot import says nothing of which key.
    if ((error as Error).message.startsWith('key ')) throw error;
    throw new Error(`holds a key that is not a valid JWK: ${(error as Error).message}`);
  }
  const kids = new Set(keys.map((key) => key.kid));
  if (kids.size !== keys.length) throw new Error('two keys share a kid');
  return keys;
}

/**
 * SIGNING_KEYS is a JSON array of JWKs, each with a `kid`: EC P-256 keys (ES256) and
 * RSA keys (RS256). The first key of each algorithm signs; every listed key verifies,
 * so a new key goes first and the old one stays listed until the last token it
 * signed has expired.
 */
export function parseSigningKeys(text: string): SigningKey[] {
  const keys = readKeys(text);
  for (const alg of SIGNING_ALGORITHMS) {
    const signer = keys.find((key) => key.alg === alg);
    if (!signer) {
      throw new Error(
        `has no ${alg === 'ES256' ? 'EC P-256' : 'RSA'} key, which ${alg} tokens need (npm run --silent keys -- --rotate "$SIGNING_KEYS" adds one)`,
      );
    }
    if (!signer.privateKey) throw new Error(`the first ${alg} key (${signer.kid}) signs, so it needs its private part (d)`);
  }
  return keys;
}

/** The key that signs with `alg`: the first of its kind (parseSigningKeys made sure it has a private part). */
export function signingKeyFor(keys: SigningKey[], alg: SigningAlgorithm): SigningKey & { privateKey: KeyObject } {
  return keys.find((key) => key.alg === alg) as SigningKey & { privateKey: KeyObject };
}

export { generateCodePepper, generateSigningKey, generateSigningKeys } from './secretGeneration.mjs';

function verifyOnly(jwk: StoredJwk): StoredJwk {
  return jwk.kty === 'RSA' ? { kty: jwk.kty, n: jwk.n, e: jwk.e, kid: jwk.kid } : { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, kid: jwk.kid };
}

/**
 * Rotation without signing anyone out: a new key of each kind goes first and signs from
 * now on; the current keys stay listed as public keys only, so the tokens they signed
 * keep verifying until they expire (SESSION_TTL_SECONDS), and their private parts are
 * gone. A SIGNING_KEYS from before RS256 (EC keys only) gains its RSA key this way.
 */
export function rotateSigningKeys(current: string): string {
  readKeys(current);
  return JSON.stringify([generateSigningKey('EC'), generateSigningKey('RSA'), ...(JSON.parse(current) as StoredJwk[]).map(verifyOnly)]);
}

/** After SESSION_TTL_SECONDS have passed since a rotation: only the keys that sign (the first of each kind). */
export function retireSigningKeys(current: string): string {
  const keys = parseSigningKeys(current);
  const signers = new Set(SIGNING_ALGORITHMS.map((alg) => signingKeyFor(keys, alg).kid));
  return JSON.stringify((JSON.parse(current) as StoredJwk[]).filter((jwk) => signers.has(jwk.kid!)));
}
