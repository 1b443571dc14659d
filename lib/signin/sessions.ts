import { randomBytes } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { TransactionAction } from '@azure/data-tables';
import { fail } from '../errors.js';
import { tenantIssuer } from '../config.js';
import { emailDigest, partitionFromDigest, SESSION_PREFIX, type GuestUser, type SessionEntity } from '../guests/guests.js';
import { signingKeyFor, type PublicJwk } from './keys.js';
import { opaquePartitionRef, readPartitionRef } from '../oidc/sealing.js';
import type { Runtime } from '../runtime.js';
import { isStatus } from '../storage/tables.js';
import { resolveTenant } from '../tenants/tenants.js';

/**
 * Claims of a guestpass session token beyond iss (the tenant's issuer), aud (tenant
 * id), sub (guest id), iat and exp. `sid` is `<session row id>.<sealed partition>`: the
 * server finds the session row from it alone, and no claim is derived from the email
 * address without a server secret (an unkeyed digest would let anyone holding a token
 * confirm a guessed address).
 */
interface SessionClaims {
  sid: string;
}

/** The parts of a session a token is signed for. */
export interface SessionTokenContent {
  sid: string;
  guestId: string;
  issuedAtSeconds: number;
  expiresAtSeconds: number;
}

/** Signs a session token; `extra` adds claims such as an OAuth client's `scope`. */
export function signSessionToken(rt: Runtime, tenantId: string, content: SessionTokenContent, extra: Record<string, unknown> = {}): string {
  const signer = signingKeyFor(rt.config.session.signingKeys, 'ES256');
  const claims: SessionClaims & { iat: number; exp: number } = {
    ...extra,
    sid: content.sid,
    iat: content.issuedAtSeconds,
    exp: content.expiresAtSeconds,
  };
  return jwt.sign(claims, signer.privateKey, {
    algorithm: 'ES256',
    keyid: signer.kid,
    issuer: tenantIssuer(rt.config, tenantId),
    audience: tenantId,
    subject: content.guestId,
  });
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
  const rowId = randomBytes(18).toString('base64url');
  const digest = emailDigest(user.email);
  const sid = opaquePartitionRef(rt.config, 'session-partition', tenantId, rowId, digest);
  const ttl = rt.config.session.ttlSeconds;
  const expiresAtMs = (Math.floor(nowMs / 1000) + ttl) * 1000;
  const entity: SessionEntity & { partitionKey: string; rowKey: string } = {
    partitionKey: partitionFromDigest(tenantId, digest),
    rowKey: SESSION_PREFIX + rowId,
    guestId: user.id,
    email: user.email,
    displayName: user.displayName,
    source: user.source,
    issuedAt: new Date(nowMs).toISOString(),
    expiresAt: new Date(expiresAtMs),
  };
  const token = signSessionToken(rt, tenantId, { sid, guestId: user.id, issuedAtSeconds: Math.floor(nowMs / 1000), expiresAtSeconds: expiresAtMs / 1000 });
  return {
    action: ['create', { ...entity }],
    session: { token, tokenType: 'Bearer', expiresAt: new Date(expiresAtMs).toISOString(), user },
  };
}

export interface VerifiedToken {
  tenantId: string;
  guestId: string;
  /** The `sid` claim as signed. */
  sid: string;
  partitionKey: string;
  /** The session row's key within that partition. */
  rowKey: string;
  payload: jwt.JwtPayload;
}

/**
 * Checks a bearer token's signature and claims: ES256 only, a `kid` that is one of
 * our keys, our issuer, the tenant as audience, and an expiry that has not passed.
 */
export function verifySessionToken(rt: Runtime, tenantId: string, token: string | undefined): VerifiedToken {
  if (!token) fail('invalid_token');
  const decoded = jwt.decode(token, { complete: true });
  const kid = decoded?.header.kid;
  // Session tokens are ES256 only: an RS256 key (ID tokens) never verifies one.
  const key = rt.config.session.signingKeys.find((candidate) => candidate.kid === kid && candidate.alg === 'ES256');
  if (!decoded || !key) fail('invalid_token');
  let payload: jwt.JwtPayload;
  try {
    payload = jwt.verify(token, key.publicKey, {
      algorithms: ['ES256'],
      issuer: tenantIssuer(rt.config, tenantId),
      audience: tenantId,
      clockTimestamp: Math.floor(rt.now() / 1000),
    }) as jwt.JwtPayload;
  } catch (error) {
    if (error instanceof jwt.TokenExpiredError) fail('session_expired');
    fail('invalid_token');
  }
  const { sid, sub } = payload as jwt.JwtPayload & Partial<SessionClaims>;
  if (typeof sid !== 'string' || typeof sub !== 'string' || typeof payload.exp !== 'number') fail('invalid_token');
  const ref = readPartitionRef(rt.config, 'session-partition', tenantId, sid);
  if (!ref) fail('invalid_token');
  return { tenantId, guestId: sub, sid, partitionKey: partitionFromDigest(tenantId, ref.emailDigest), rowKey: SESSION_PREFIX + ref.rowId, payload };
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
  return (await activeSession(rt, tenantRef, token)).status;
}

/** A live session as session-check sees it, with what the token said and the row holds. */
export interface ActiveSession {
  tenantId: string;
  verified: VerifiedToken;
  status: SessionStatus;
}

export async function activeSession(rt: Runtime, tenantRef: string, token: string | undefined): Promise<ActiveSession> {
  const context = await resolveTenant(rt, tenantRef);
  const verified = verifySessionToken(rt, context.tenant.id, token);
  // One point read, the cheapest transaction there is. Deleting or resetting a guest
  // deletes its session rows in the same ETag-guarded batch that voids its code, so a
  // session row never outlives its guest (test/guestRaces.test.ts pins the race).
  let session: SessionEntity;
  try {
    session = await rt.tables.guests.getEntity<SessionEntity>(verified.partitionKey, verified.rowKey);
  } catch (error) {
    if (isStatus(error, 404)) fail('session_revoked');
    throw error;
  }
  if (session.guestId !== verified.guestId) fail('invalid_token');
  if (session.expiresAt.getTime() <= rt.now()) fail('session_expired');
  if (session.disabled) fail('guest_disabled');
  if (session.source === 'OTP' && !context.otpEnabled) fail('otp_disabled');
  return {
    tenantId: context.tenant.id,
    verified,
    status: {
      active: true,
      expiresAt: session.expiresAt.toISOString(),
      user: { id: session.guestId, email: session.email, displayName: session.displayName, source: session.source },
    },
  };
}

/** Deletes a session row; one already gone is not an error. */
export async function endSession(rt: Runtime, session: Pick<VerifiedToken, 'partitionKey' | 'rowKey'>): Promise<void> {
  try {
    await rt.tables.guests.deleteEntity(session.partitionKey, session.rowKey);
  } catch (error) {
    if (!isStatus(error, 404)) throw error;
  }
}

/** sign-out: deletes the session row, so the token stops working at once everywhere. */
export async function signOut(rt: Runtime, tenantRef: string, token: string | undefined): Promise<void> {
  const context = await resolveTenant(rt, tenantRef);
  await endSession(rt, verifySessionToken(rt, context.tenant.id, token));
}

export function signingKeySet(rt: Runtime): { keys: PublicJwk[] } {
  return { keys: rt.config.session.signingKeys.map((key) => key.publicJwk) };
}

export async function tenantSigningKeys(rt: Runtime, tenantRef: string): Promise<{ keys: PublicJwk[] }> {
  await resolveTenant(rt, tenantRef);
  return signingKeySet(rt);
}
