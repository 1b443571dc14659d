import { randomBytes } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { TransactionAction } from '@azure/data-tables';
import { fail } from './errors.js';
import { emailDigest, partitionFromDigest, SESSION_PREFIX, type GuestUser, type SessionEntity } from './guests.js';
import type { PublicJwk } from './keys.js';
import type { Runtime } from './runtime.js';
import { isStatus } from './storage.js';
import { resolveTenant } from './tenants.js';

/** Claims of a guestpass session token beyond iss, aud (tenant id), sub (guest id), iat and exp. */
interface SessionClaims {
  sid: string;
  /** Digest of the guest's normalised email: names the partition that holds the session row. */
  gpk: string;
}

export interface IssuedSession {
  token: string;
  tokenType: 'Bearer';
  expiresAt: string;
  user: GuestUser;
}

export interface SessionStatus {
  active: true;
  expiresAt: string;
  user: GuestUser;
}

/**
 * Prepares a session for a guest: the row to commit with the code's consumption and
 * the signed token to hand out once that commit succeeded.
 */
export function issueSession(rt: Runtime, tenantId: string, user: GuestUser): { action: TransactionAction; session: IssuedSession } {
  const nowMs = rt.now();
  const sid = randomBytes(18).toString('base64url');
  const gpk = emailDigest(user.email);
  const ttl = rt.config.session.ttlSeconds;
  const expiresAtMs = (Math.floor(nowMs / 1000) + ttl) * 1000;
  const entity: SessionEntity & { partitionKey: string; rowKey: string } = {
    partitionKey: partitionFromDigest(tenantId, gpk),
    rowKey: SESSION_PREFIX + sid,
    guestId: user.id,
    email: user.email,
    displayName: user.displayName,
    source: user.source,
    issuedAt: new Date(nowMs).toISOString(),
    expiresAt: new Date(expiresAtMs),
  };
  const signer = rt.config.session.signingKeys[0]!;
  const claims: SessionClaims & { iat: number; exp: number } = {
    sid,
    gpk,
    iat: Math.floor(nowMs / 1000),
    exp: expiresAtMs / 1000,
  };
  const token = jwt.sign(claims, signer.privateKey!, {
    algorithm: 'ES256',
    keyid: signer.kid,
    issuer: rt.config.issuer,
    audience: tenantId,
    subject: user.id,
  });
  return {
    action: ['create', { ...entity }],
    session: { token, tokenType: 'Bearer', expiresAt: new Date(expiresAtMs).toISOString(), user },
  };
}

interface VerifiedToken {
  tenantId: string;
  guestId: string;
  sid: string;
  partitionKey: string;
}

/**
 * Checks a bearer token's signature and claims: ES256 only, a `kid` that is one of
 * our keys, our issuer, the tenant as audience, and an expiry that has not passed.
 */
export function verifySessionToken(rt: Runtime, tenantId: string, token: string | undefined): VerifiedToken {
  if (!token) fail('invalid_token');
  const decoded = jwt.decode(token, { complete: true });
  const kid = decoded?.header.kid;
  const key = rt.config.session.signingKeys.find((candidate) => candidate.kid === kid);
  if (!decoded || !key) fail('invalid_token');
  let payload: jwt.JwtPayload;
  try {
    payload = jwt.verify(token, key.publicKey, {
      algorithms: ['ES256'],
      issuer: rt.config.issuer,
      audience: tenantId,
      clockTimestamp: Math.floor(rt.now() / 1000),
    }) as jwt.JwtPayload;
  } catch (error) {
    if (error instanceof jwt.TokenExpiredError) fail('session_expired');
    fail('invalid_token');
  }
  const { sid, gpk, sub } = payload as jwt.JwtPayload & Partial<SessionClaims>;
  if (typeof sid !== 'string' || typeof gpk !== 'string' || typeof sub !== 'string' || typeof payload.exp !== 'number') {
    fail('invalid_token');
  }
  return { tenantId, guestId: sub, sid, partitionKey: partitionFromDigest(tenantId, gpk) };
}

export function bearerToken(authorization: string | null | undefined): string | undefined {
  const match = /^Bearer\s+([A-Za-z0-9._~+/=-]+)\s*$/i.exec(authorization ?? '');
  return match?.[1];
}

/**
 * session-check: the token, then the session row and the guest row (one query, one
 * transaction), then the tenant's OTP policy. A session whose guest row is gone
 * (deleted, even if a session row outlived it) is over.
 */
export async function checkSession(rt: Runtime, tenantRef: string, token: string | undefined): Promise<SessionStatus> {
  const context = await resolveTenant(rt, tenantRef);
  const verified = verifySessionToken(rt, context.tenant.id, token);
  // One point read, the cheapest transaction there is. Deleting or resetting a guest
  // deletes its session rows in the same ETag-guarded batch that voids its code, so a
  // session row never outlives its guest (test/guestRaces.test.ts pins the race).
  let session: SessionEntity;
  try {
    session = await rt.tables.guests.getEntity<SessionEntity>(verified.partitionKey, SESSION_PREFIX + verified.sid);
  } catch (error) {
    if (isStatus(error, 404)) fail('session_revoked');
    throw error;
  }
  if (session.guestId !== verified.guestId) fail('invalid_token');
  if (session.expiresAt.getTime() <= rt.now()) fail('session_expired');
  if (session.disabled) fail('guest_disabled');
  if (session.source === 'OTP' && !context.otpEnabled) fail('otp_disabled');
  return {
    active: true,
    expiresAt: session.expiresAt.toISOString(),
    user: { id: session.guestId, email: session.email, displayName: session.displayName, source: session.source },
  };
}

/** sign-out: deletes the session row, so the token stops working at once everywhere. */
export async function signOut(rt: Runtime, tenantRef: string, token: string | undefined): Promise<void> {
  const context = await resolveTenant(rt, tenantRef);
  const verified = verifySessionToken(rt, context.tenant.id, token);
  try {
    await rt.tables.guests.deleteEntity(verified.partitionKey, SESSION_PREFIX + verified.sid);
  } catch (error) {
    if (!isStatus(error, 404)) throw error;
  }
}

export function signingKeySet(rt: Runtime): { keys: PublicJwk[] } {
  return { keys: rt.config.session.signingKeys.map((key) => key.publicJwk) };
}

export async function tenantSigningKeys(rt: Runtime, tenantRef: string): Promise<{ keys: PublicJwk[] }> {
  await resolveTenant(rt, tenantRef);
  return signingKeySet(rt);
}
