import { createHash, createPrivateKey, createPublicKey, getHashes, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKey } from '../lib/signin/keys.js';
import { guestPartition } from '../lib/storage/tables.js';
import { decodeJwt, es256, forgeJwt, hs256 } from './attackHelpers.js';
import {
  createTenant, expectError, inviteGuest, latestCode, sessionCheck, signIn, startHost, stopAllHosts, testRuntime, TEST_RSA_SIGNING_KEY, TEST_SIGNING_KEY, uniquePrefix,
  type TestHost, type TestTenant,
} from './helpers.js';

let host: TestHost;
let tenant: TestTenant;
let otherTenant: TestTenant;
let token: string;
let claims: Record<string, unknown>;
const ourPrivateKey: KeyObject = createPrivateKey({ key: TEST_SIGNING_KEY as never, format: 'jwk' });
const ourPublicKey: KeyObject = createPublicKey(ourPrivateKey);
const prefix = uniquePrefix();

beforeAll(async () => {
  host = await startHost({ TABLE_PREFIX: prefix });
  tenant = await createTenant(host);
  otherTenant = await createTenant(host);
  await inviteGuest(host, tenant.id, 'holder@example.com');
  token = (await signIn(host, tenant.id, 'holder@example.com')).token;
  claims = decodeJwt(token).payload;
});
afterAll(() => stopAllHosts());

/** Past the resend cooldown of the guest's address rows, as if a minute had gone by. */
async function pastResendCooldown(email: string): Promise<void> {
  const rt = await testRuntime({ TABLE_PREFIX: prefix });
  const partitionKey = guestPartition(tenant.id, email);
  for await (const row of rt.tables.guests.listEntities({ queryOptions: { filter: `PartitionKey eq '${partitionKey}' and RowKey ge 'address_' and RowKey lt 'address\`'` } })) {
    await rt.tables.guests.updateEntity({ partitionKey, rowKey: row.rowKey!, sendTimes: '[]' }, 'Merge');
  }
}

/** A token with our kid and the real session's claims, changed as given, signed by our key. */
function signedByUs(changes: Record<string, unknown>, header: Record<string, unknown> = {}): string {
  return forgeJwt({ alg: 'ES256', typ: 'JWT', kid: TEST_SIGNING_KEY.kid, ...header }, { ...claims, ...changes }, es256(ourPrivateKey));
}

async function expectRefused(candidate: string, error = 'invalid_token', tenantRef = tenant.id): Promise<void> {
  await expectError(await sessionCheck(host, tenantRef, candidate), 401, error);
}

describe('session tokens: only our ES256 tokens for this tenant and a live session', () => {
  it('the genuine token works (so each refusal below is about what was changed)', async () => {
    expect((await sessionCheck(host, tenant.id, token)).status).toBe(200);
    expect((await sessionCheck(host, tenant.id, signedByUs({}))).status).toBe(200);
  });

  it('refuses a token with alg none', async () => {
    const unsigned = forgeJwt({ alg: 'none', typ: 'JWT', kid: TEST_SIGNING_KEY.kid }, claims, () => '');
    await expectRefused(unsigned);
    await expectRefused(unsigned.replace(/\.$/, ''));
  });

  it('refuses HS256 signed with our public key in PEM form', async () => {
    const pem = ourPublicKey.export({ type: 'spki', format: 'pem' }) as string;
    await expectRefused(forgeJwt({ alg: 'HS256', typ: 'JWT', kid: TEST_SIGNING_KEY.kid }, claims, hs256(pem)));
  });

  it('refuses HS256 signed with our public key in JWK form, as the JWKS publishes it', async () => {
    const jwks = (await (await host.api(`/${tenant.id}/discovery/keys`)).json()) as { keys: Record<string, unknown>[] };
    const published = jwks.keys.find((key) => key.kid === TEST_SIGNING_KEY.kid)!;
    await expectRefused(forgeJwt({ alg: 'HS256', typ: 'JWT', kid: TEST_SIGNING_KEY.kid }, claims, hs256(JSON.stringify(published))));
    await expectRefused(forgeJwt({ alg: 'HS256', typ: 'JWT', kid: TEST_SIGNING_KEY.kid }, claims, hs256(String(published.x))));
  });

  it('refuses a tampered payload', async () => {
    const { signature } = decodeJwt(token);
    const [header] = token.split('.');
    for (const change of [{ sub: 'someone-else' }, { exp: Number(claims.exp) + 86_400 }, { aud: otherTenant.id }]) {
      const payload = Buffer.from(JSON.stringify({ ...claims, ...change })).toString('base64url');
      await expectRefused(`${header}.${payload}.${signature}`);
    }
  });

  it('refuses an expired token even while its session row lives', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectRefused(signedByUs({ iat: now - 7200, exp: now - 60 }), 'session_expired');
  });

  it('refuses a token not yet valid (nbf in the future)', async () => {
    await expectRefused(signedByUs({ nbf: Math.floor(Date.now() / 1000) + 3600 }));
  });

  it('refuses a wrong iss', async () => {
    await expectRefused(signedByUs({ iss: 'https://evil.example' }));
  });

  it('refuses a wrong aud', async () => {
    await expectRefused(signedByUs({ aud: 'https://app.contoso.test' }));
    await expectRefused(signedByUs({ aud: [otherTenant.id] }));
  });

  it('refuses a token whose kid is not one of ours, and our kid on another key', async () => {
    const stranger = generateSigningKey();
    const strangerKey = createPrivateKey({ key: stranger as never, format: 'jwk' });
    await expectRefused(forgeJwt({ alg: 'ES256', typ: 'JWT', kid: stranger.kid }, claims, es256(strangerKey)));
    await expectRefused(forgeJwt({ alg: 'ES256', typ: 'JWT', kid: TEST_SIGNING_KEY.kid }, claims, es256(strangerKey)));
    await expectRefused(forgeJwt({ alg: 'ES256', typ: 'JWT' }, claims, es256(ourPrivateKey)));
  });

  it('refuses a session token signed by our own RS256 key (ID tokens only): session tokens are ES256', async () => {
    const rsaKey = createPrivateKey({ key: TEST_RSA_SIGNING_KEY as never, format: 'jwk' });
    await expectRefused(forgeJwt({ alg: 'RS256', typ: 'JWT', kid: TEST_RSA_SIGNING_KEY.kid }, claims, (input) => cryptoSign('sha256', Buffer.from(input), rsaKey)));
  });

  it('ignores a key the token brings along (jwk, jku headers)', async () => {
    const stranger = generateSigningKey();
    const strangerKey = createPrivateKey({ key: stranger as never, format: 'jwk' });
    const { d: _d, ...strangerPublic } = stranger;
    await expectRefused(forgeJwt({ alg: 'ES256', typ: 'JWT', kid: stranger.kid, jwk: strangerPublic, jku: 'https://evil.example/keys' }, claims, es256(strangerKey)));
  });

  it("refuses another tenant's token, by id and by domain", async () => {
    await expectRefused(token, 'invalid_token', otherTenant.id);
    await expectRefused(token, 'invalid_token', otherTenant.domains[0]!);
  });

  it('refuses a missing or malformed Authorization header', async () => {
    await expectError(await host.api(`/${tenant.id}/session-check`), 401, 'invalid_token');
    await expectError(await host.api(`/${tenant.id}/session-check`, { headers: { authorization: token } }), 401, 'invalid_token');
    await expectError(await host.api(`/${tenant.id}/session-check`, { headers: { authorization: `Basic ${token}` } }), 401, 'invalid_token');
    await expectRefused('not.a.token');
  });

  it('refuses a token after sign-out, at once', async () => {
    await inviteGuest(host, tenant.id, 'leaver@example.com');
    const session = await signIn(host, tenant.id, 'leaver@example.com');
    const out = await host.api(`/${tenant.id}/sign-out`, { method: 'POST', headers: { authorization: `Bearer ${session.token}` } });
    expect(out.status).toBe(204);
    await expectRefused(session.token, 'session_revoked');
  });

  it('refuses the token of a deleted guest', async () => {
    const invitation = await inviteGuest(host, tenant.id, 'deleted@example.com');
    const session = await signIn(host, tenant.id, 'deleted@example.com');
    const deleted = await host.manage(`/tenants/${tenant.id}/users/${invitation.invitedUser.id}`, { method: 'DELETE' });
    expect(deleted.status).toBe(204);
    await expectRefused(session.token, 'session_revoked');
  });

  it('each sign-in issues a new session with a new session id (the earlier one stays until sign-out or expiry)', async () => {
    await inviteGuest(host, tenant.id, 'twice-in@example.com');
    const first = await signIn(host, tenant.id, 'twice-in@example.com');
    await pastResendCooldown('twice-in@example.com');
    const second = await signIn(host, tenant.id, 'twice-in@example.com');
    expect(decodeJwt(second.token).payload.sid).not.toBe(decodeJwt(first.token).payload.sid);
    expect((await sessionCheck(host, tenant.id, second.token)).status).toBe(200);
    expect((await sessionCheck(host, tenant.id, first.token)).status).toBe(200);
  });

  it('signing key rotation: the first key of each kind signs, all listed keys verify, the JWKS lists all, a retired key stops verifying', async () => {
    const next = generateSigningKey('EC');
    const nextRsa = generateSigningKey('RSA');
    const rotated = await startHost({ TABLE_PREFIX: prefix, SIGNING_KEYS: JSON.stringify([next, nextRsa, TEST_SIGNING_KEY, TEST_RSA_SIGNING_KEY]) });
    // A token from before the rotation still verifies...
    expect((await sessionCheck(rotated, tenant.id, token)).status).toBe(200);
    // ...new tokens are signed by the new first key...
    await inviteGuest(rotated, tenant.id, 'rotated@example.com');
    const fresh = (await signIn(rotated, tenant.id, 'rotated@example.com')).token;
    expect(decodeJwt(fresh).header).toMatchObject({ alg: 'ES256', kid: next.kid });
    // ...and the JWKS lists all four, public parts only, each with its alg.
    const jwks = (await (await rotated.api(`/${tenant.id}/discovery/keys`)).json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys.map((key) => [key.kid, key.kty, key.alg, key.use])).toEqual([
      [next.kid, 'EC', 'ES256', 'sig'],
      [nextRsa.kid, 'RSA', 'RS256', 'sig'],
      [TEST_SIGNING_KEY.kid, 'EC', 'ES256', 'sig'],
      [TEST_RSA_SIGNING_KEY.kid, 'RSA', 'RS256', 'sig'],
    ]);
    expect(jwks.keys.every((key) => key.d === undefined && key.p === undefined)).toBe(true);
    await rotated.stop();

    const retired = await startHost({ TABLE_PREFIX: prefix, SIGNING_KEYS: JSON.stringify([next, nextRsa]) });
    await expectError(await sessionCheck(retired, tenant.id, token), 401, 'invalid_token');
    expect((await sessionCheck(retired, tenant.id, fresh)).status).toBe(200);
    await retired.stop();
  });

});

/** Every plain digest of the address someone might compute to confirm a guess, in every usual encoding. */
function digestsOf(email: string): string[] {
  const inputs = [email, email.toLowerCase(), email.toUpperCase(), ` ${email} `];
  const algorithms = ['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512', 'sha3-256', 'sha512-256'].filter((a) => getHashes().includes(a));
  return inputs.flatMap((input) =>
    algorithms.flatMap((algorithm) => {
      const digest = createHash(algorithm).update(input).digest();
      return [digest.toString('hex'), digest.toString('hex').toUpperCase(), digest.toString('base64'), digest.toString('base64url')];
    }),
  );
}

describe('no token claim lets its holder confirm an email address', () => {
  it('no claim equals or contains the address or any plain digest of it, and there is no gpk claim', async () => {
    expect(claims).not.toHaveProperty('gpk');
    const values = Object.values(claims).map(String);
    for (const candidate of ['holder@example.com', ...digestsOf('holder@example.com')]) {
      for (const value of values) expect(value.includes(candidate), `a claim carries ${candidate}`).toBe(false);
    }
  });

  it('the sid is sealed: two sessions of one guest share no part but the format, and a sid moved to another tenant or session does not open', async () => {
    await inviteGuest(host, tenant.id, 'sealed@example.com');
    const first = decodeJwt((await signIn(host, tenant.id, 'sealed@example.com')).token).payload;
    await pastResendCooldown('sealed@example.com');
    const second = decodeJwt((await signIn(host, tenant.id, 'sealed@example.com')).token).payload;
    const [firstRow, firstSealed] = String(first.sid).split('.');
    const [secondRow, secondSealed] = String(second.sid).split('.');
    expect(firstSealed).not.toBe(secondSealed);
    expect(firstRow).not.toBe(secondRow);
    // The sealed partition belongs to its row id and tenant: swapping either breaks it.
    await expectRefused(signedByUs({ sid: `${secondRow}.${firstSealed}` }));
    await expectRefused(signedByUs({ sid: String(claims.sid), aud: otherTenant.id }), 'invalid_token', otherTenant.id);
    await expectRefused(signedByUs({ sid: `${String(claims.sid)}x` }));
  });

  it("the token's iss is the tenant's issuer in id form, also when signed in through a domain route", async () => {
    await inviteGuest(host, tenant.id, 'by-domain@example.com');
    const viaDomain = decodeJwt((await signIn(host, tenant.domains[0]!, 'by-domain@example.com')).token).payload;
    expect(viaDomain.iss).toBe(`${host.settings.PUBLIC_BASE_URL}/api/${tenant.id}`);
    expect(claims.iss).toBe(`${host.settings.PUBLIC_BASE_URL}/api/${tenant.id}`);
    await expectRefused(signedByUs({ iss: `${host.settings.PUBLIC_BASE_URL}/api/${tenant.domains[0]}` }));
    await expectRefused(signedByUs({ iss: host.settings.PUBLIC_BASE_URL }));
  });
});

describe('Cache-Control: no-store on everything that carries a token or session data', () => {
  it('verify-code, session-check and sign-out answers, success and error, are no-store', async () => {
    await inviteGuest(host, tenant.id, 'cache@example.com');
    const session = await signIn(host, tenant.id, 'cache@example.com');
    const responses = [
      await host.api(`/${tenant.id}/verify-code`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'cache@example.com', code: '12345678' }) }),
      await sessionCheck(host, tenant.id, session.token),
      await sessionCheck(host, tenant.id, 'bad.token.here'),
      await host.api(`/${tenant.id}/sign-out`, { method: 'POST', headers: { authorization: `Bearer ${session.token}` } }),
      await host.api(`/${tenant.id}/send-code`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'cache@example.com' }) }),
    ];
    for (const response of responses) expect(response.headers.get('cache-control')).toBe('no-store');
  });

  it('a successful verify-code (the token itself) is no-store', async () => {
    await inviteGuest(host, tenant.id, 'cache2@example.com');
    const sent = await host.api(`/${tenant.id}/send-code`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'cache2@example.com' }) });
    expect(sent.status).toBe(202);
    const verified = await host.api(`/${tenant.id}/verify-code`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'cache2@example.com', code: await latestCode(host, 'cache2@example.com') }),
    });
    expect(verified.status).toBe(200);
    expect(verified.headers.get('cache-control')).toBe('no-store');
    expect(verified.headers.get('x-content-type-options')).toBe('nosniff');
    expect(verified.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
  });
});
