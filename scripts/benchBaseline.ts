import { createPublicKey } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TableClient } from '@azure/data-tables';
import jwt from 'jsonwebtoken';
import { partitionFromDigest, SESSION_PREFIX, type SessionEntity } from '../lib/guests/guests.js';
import { readPartitionRef } from '../lib/oidc/sealing.js';

/*
 * The benchmark's floor for session-check: a bare node:http server, in its own
 * process like guestpass's host, that does only what session-check cannot avoid —
 * one ES256 verification (jsonwebtoken), opening the sealed `sid` (one AES-GCM
 * decryption) and one point read of the session row
 * (getEntity through @azure/data-tables) — and answers the same JSON. It reads the
 * very rows guestpass wrote, so both servers do the same storage work.
 *
 * Settings (environment): TABLES_CONNECTION_STRING, GUESTS_TABLE, PUBLIC_BASE_URL, CODE_PEPPER,
 * PUBLIC_JWK (the session-signing public key), PORT (0 picks a free one).
 */
function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`benchBaseline: ${name} is required`);
  return value;
}

const table = TableClient.fromConnectionString(required('TABLES_CONNECTION_STRING'), required('GUESTS_TABLE'), {
  allowInsecureConnection: true,
});
const publicBaseUrl = required('PUBLIC_BASE_URL');
const sealing = { code: { pepper: required('CODE_PEPPER') } };
const publicKey = createPublicKey({ key: JSON.parse(required('PUBLIC_JWK')) as import('node:crypto').JsonWebKey, format: 'jwk' });
const ROUTE = /^\/api\/([^/?]+)\/session-check(?:\?|$)/;

function answer(res: import('node:http').ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(json) });
  res.end(json);
}

const server = createServer((req, res) => {
  const tenant = ROUTE.exec(req.url ?? '')?.[1];
  const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
  if (!tenant || !token) return answer(res, 401, { error: 'invalid_token' });
  let claims: jwt.JwtPayload;
  try {
    claims = jwt.verify(token, publicKey, { algorithms: ['ES256'], issuer: `${publicBaseUrl}/api/${tenant}`, audience: tenant }) as jwt.JwtPayload;
  } catch {
    return answer(res, 401, { error: 'invalid_token' });
  }
  const ref = readPartitionRef(sealing, 'session-partition', tenant, String(claims.sid));
  if (!ref) return answer(res, 401, { error: 'invalid_token' });
  table
    .getEntity<SessionEntity>(partitionFromDigest(tenant, ref.emailDigest), SESSION_PREFIX + ref.rowId)
    .then((row) =>
      answer(res, 200, {
        active: true,
        expiresAt: row.expiresAt.toISOString(),
        user: { id: row.guestId, email: row.email, displayName: row.displayName, source: row.source },
      }),
    )
    .catch(() => answer(res, 401, { error: 'session_revoked' }));
});

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(JSON.stringify({ listening: (server.address() as AddressInfo).port }));
});
const stop = () => server.close(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
