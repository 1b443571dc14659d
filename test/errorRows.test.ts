import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import jwt from 'jsonwebtoken';
import { generateSigningKey } from '../lib/signin/keys.js';
import { createPrivateKey } from 'node:crypto';
import {
  createTenant, expectError, inviteGuest, latestCode, postJson, REDIRECT_URI, sendCode, sessionCheck, signIn,
  startHost, TEST_RSA_SIGNING_KEY, TEST_SIGNING_KEY, verifyCode, type TestHost, type TestTenant, hostWithTenant,
  expectHostAnswer,
  expectUnauthorized,
} from './helpers.js';

let host: TestHost;
let tenant: TestTenant;

beforeAll(async () => {
  ({ host, tenant } = await hostWithTenant());
});
afterAll(() => host.stop());

function wrongCodeFor(code: string): string {
  return code.endsWith('0') ? `${code.slice(0, -1)}1` : `${code.slice(0, -1)}0`;
}

describe('tenant context', () => {
  it.each(['send-code', 'verify-code', 'session-check', 'sign-out'])('%s without a tenant answers 400 tenant_context_required with the right form', async (name) => {
    const method = name === 'session-check' ? 'GET' : 'POST';
    const response = await host.api(`/${name}`, method === 'POST' ? postJson({ email: 'a@example.com' }) : {});
    const body = await expectError(response, 400, 'tenant_context_required');
    expect(body.message).toContain(`/api/{tenant}/${name}`);
  });

  it('an unknown tenant answers 404 tenant_not_found on every guest endpoint', async () => {
    await expectError(await sendCode(host, '00000000-0000-4000-8000-000000000000', 'a@example.com'), 404, 'tenant_not_found');
    await expectError(await sendCode(host, 'nobody.example', 'a@example.com'), 404, 'tenant_not_found');
    await expectError(await verifyCode(host, 'nobody.example', 'a@example.com', '12345678'), 404, 'tenant_not_found');
    await expectError(await sessionCheck(host, 'nobody.example', 'x.y.z'), 404, 'tenant_not_found');
    await expectError(await host.api('/nobody.example/discovery/keys'), 404, 'tenant_not_found');
  });

  it('a tenant is found by its id and by each verified domain, case-insensitively', async () => {
    const other = await createTenant(host, { domains: ['alpha-resolve.example', 'beta-resolve.example'] });
    for (const ref of [other.id, 'alpha-resolve.example', 'BETA-resolve.example']) {
      const keys = await host.api(`/${ref}/discovery/keys`);
      expect(keys.status).toBe(200);
    }
  });
});

describe('send-code errors', () => {
  it('a second code within 60 s is refused with 429 rate_limited and Retry-After', async () => {
    await inviteGuest(host, tenant.id, 'cooldown@example.com');
    expect((await sendCode(host, tenant.id, 'cooldown@example.com')).status).toBe(202);
    const again = await sendCode(host, tenant.id, 'cooldown@example.com');
    await expectError(again, 429, 'rate_limited');
    const retryAfter = Number(again.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
  });

  it('an address that is not an address is a 400 invalid_request naming the field', async () => {
    const body = await expectError(await sendCode(host, tenant.id, 'not-an-address'), 400, 'invalid_request');
    expect(JSON.stringify(body.details)).toContain('body.email');
  });

  it('a body that is not JSON is refused with 415', async () => {
    const response = await host.api(`/${tenant.id}/send-code`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'email=a@example.com' });
    await expectError(response, 415, 'unsupported_media_type');
  });

  it('a body over 16 KiB is refused with 413', async () => {
    const response = await host.api(`/${tenant.id}/send-code`, postJson({ email: 'a@example.com', locale: 'x'.repeat(17 * 1024) }));
    await expectError(response, 413, 'payload_too_large');
  });
});

describe('verify-code errors', () => {
  it('five wrong tries burn the code: the sixth answer is 429 too_many_attempts, even for the right code', async () => {
    await inviteGuest(host, tenant.id, 'fivetries@example.com');
    await sendCode(host, tenant.id, 'fivetries@example.com');
    const code = await latestCode(host, 'fivetries@example.com');
    for (let i = 0; i < 5; i += 1) {
      await expectError(await verifyCode(host, tenant.id, 'fivetries@example.com', wrongCodeFor(code)), 401, 'invalid_code');
    }
    await expectError(await verifyCode(host, tenant.id, 'fivetries@example.com', code), 429, 'too_many_attempts');
  });

  it('only the newest code is valid', async () => {
    const quick = await startHost({ TABLE_PREFIX: host.settings.TABLE_PREFIX!, RESEND_COOLDOWN_SECONDS: '0' });
    try {
      await inviteGuest(quick, tenant.id, 'newest@example.com');
      await sendCode(quick, tenant.id, 'newest@example.com');
      const first = await latestCode(quick, 'newest@example.com');
      await sendCode(quick, tenant.id, 'newest@example.com');
      const second = await latestCode(quick, 'newest@example.com');
      if (first !== second) await expectError(await verifyCode(quick, tenant.id, 'newest@example.com', first), 401, 'invalid_code');
      expect((await verifyCode(quick, tenant.id, 'newest@example.com', second)).status).toBe(200);
    } finally {
      await quick.stop();
    }
  });

  it('a code past its lifetime answers 401 code_expired', async () => {
    // Codes live 3 s: long enough for the send-mail trigger to send one, short enough to wait out.
    const shortCodes = await startHost({ TABLE_PREFIX: host.settings.TABLE_PREFIX!, CODE_TTL_SECONDS: '3' });
    try {
      await inviteGuest(shortCodes, tenant.id, 'expired@example.com');
      await sendCode(shortCodes, tenant.id, 'expired@example.com');
      const code = await latestCode(shortCodes, 'expired@example.com');
      await new Promise((r) => setTimeout(r, 3100));
      await expectError(await verifyCode(shortCodes, tenant.id, 'expired@example.com', code), 401, 'code_expired');
    } finally {
      await shortCodes.stop();
    }
  });

  it('a code for an address that is not a guest is just a wrong code', async () => {
    await expectError(await verifyCode(host, tenant.id, 'nobody@example.com', '12345678'), 401, 'invalid_code');
  });

  it('a code that is not digits is a 400 invalid_request', async () => {
    await expectError(await verifyCode(host, tenant.id, 'a@example.com', 'abcdefgh'), 400, 'invalid_request');
  });

  it('20 concurrent verifications of one correct code give exactly one session and no 5xx', async () => {
    await inviteGuest(host, tenant.id, 'race@example.com');
    await sendCode(host, tenant.id, 'race@example.com');
    const code = await latestCode(host, 'race@example.com');
    const responses = await Promise.all(Array.from({ length: 20 }, () => verifyCode(host, tenant.id, 'race@example.com', code)));
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    for (const response of responses.filter((r) => r.status !== 200)) await expectError(response, 401, 'invalid_code');
  });
});

describe('session tokens', () => {
  let session: { token: string };
  beforeAll(async () => {
    await inviteGuest(host, tenant.id, 'tokens@example.com');
    session = await signIn(host, tenant.id, 'tokens@example.com');
  });

  it('a missing or malformed bearer token answers 401 invalid_token', async () => {
    await expectError(await host.api(`/${tenant.id}/session-check`), 401, 'invalid_token');
    await expectError(await sessionCheck(host, tenant.id, 'not-a-jwt'), 401, 'invalid_token');
  });

  it('a token signed by another key is rejected', async () => {
    const foreign = generateSigningKey();
    const payload = jwt.decode(session.token) as jwt.JwtPayload;
    const forged = jwt.sign(payload, createPrivateKey({ key: foreign, format: 'jwk' }), { algorithm: 'ES256', keyid: TEST_SIGNING_KEY.kid });
    await expectError(await sessionCheck(host, tenant.id, forged), 401, 'invalid_token');
  });

  it('a token with alg none is rejected', async () => {
    const payload = jwt.decode(session.token) as jwt.JwtPayload;
    const unsigned = jwt.sign(payload, '', { algorithm: 'none', keyid: TEST_SIGNING_KEY.kid } as jwt.SignOptions);
    await expectError(await sessionCheck(host, tenant.id, unsigned), 401, 'invalid_token');
  });

  it('a token of one tenant is rejected by another tenant', async () => {
    const other = await createTenant(host);
    await expectError(await sessionCheck(host, other.id, session.token), 401, 'invalid_token');
  });

  it('an expired session answers 401 session_expired', async () => {
    const shortSessions = await startHost({ TABLE_PREFIX: host.settings.TABLE_PREFIX!, SESSION_TTL_SECONDS: '1' });
    try {
      await inviteGuest(shortSessions, tenant.id, 'shortsession@example.com');
      const brief = await signIn(shortSessions, tenant.id, 'shortsession@example.com');
      await new Promise((r) => setTimeout(r, 2100));
      await expectError(await sessionCheck(shortSessions, tenant.id, brief.token), 401, 'session_expired');
    } finally {
      await shortSessions.stop();
    }
  });

  it('sign-out without a valid token answers 401', async () => {
    await expectError(await host.api(`/${tenant.id}/sign-out`, { method: 'POST' }), 401, 'invalid_token');
  });

  it('the JWKS lists the signing keys with their kid and alg, and session tokens carry the ES256 key\'s kid', async () => {
    const jwks = (await (await host.api(`/${tenant.id}/discovery/keys`)).json()) as { keys: { kid: string; alg: string; d?: string }[] };
    expect(jwks.keys.map((k) => [k.kid, k.alg])).toEqual([[TEST_SIGNING_KEY.kid, 'ES256'], [TEST_RSA_SIGNING_KEY.kid, 'RS256']]);
    expect(jwks.keys.every((k) => k.d === undefined)).toBe(true);
    const header = jwt.decode(session.token, { complete: true })!.header;
    expect(header).toMatchObject({ alg: 'ES256', kid: TEST_SIGNING_KEY.kid });
    const claims = jwt.decode(session.token) as jwt.JwtPayload;
    expect(claims).toMatchObject({ iss: `http://localhost:7071/api/${tenant.id}`, aud: tenant.id });
    expect(typeof claims.sub).toBe('string');
    expect(typeof claims.sid).toBe('string');
    expect(claims.exp! - claims.iat!).toBe(86400);
  });
});

describe('management API', () => {
  it('management routes need the operator credential', async () => {
    await expectUnauthorized(await host.api('/manage/tenants', postJson({ displayName: 'x' })));
    await expectUnauthorized(await host.api(`/manage/tenants/${tenant.id}`, { headers: { 'x-functions-key': 'wrong-key-wrong-key' } }));
  });

  it('an invitation whose redirect is not one of the tenant redirectUris is refused with 400 invalid_redirect_uri', async () => {
    const response = await host.manage(`/tenants/${tenant.id}/invitations`, {
      method: 'POST',
      body: JSON.stringify({ invitedUserEmailAddress: 'open@example.com', inviteRedirectUrl: 'https://evil.example/' }),
    });
    await expectError(response, 400, 'invalid_redirect_uri');
  });

  it('the redeem URL is the redirect with tenant and login_hint added', async () => {
    const invitation = await inviteGuest(host, tenant.id, 'redeemurl@example.com');
    const url = new URL(invitation.inviteRedeemUrl);
    expect(`${url.origin}${url.pathname}`).toBe(REDIRECT_URI);
    expect(url.searchParams.get('tenant')).toBe(tenant.id);
    expect(url.searchParams.get('login_hint')).toBe('redeemurl@example.com');
  });

  it('a domain verified by one tenant cannot be claimed by another', async () => {
    const response = await host.manage('/tenants', {
      method: 'POST',
      body: JSON.stringify({ displayName: 'Copycat', domains: [tenant.domains[0]] }),
    });
    await expectError(response, 409, 'domain_taken');
  });

  it('a tenant is read and changed; its domains move with it', async () => {
    const created = await createTenant(host, { domains: ['before-move.example'] });
    const changed = await host.manage(`/tenants/${created.id}`, {
      method: 'PATCH',
      body: JSON.stringify({ displayName: 'Renamed', domains: ['after-move.example'] }),
    });
    expect(changed.status).toBe(200);
    expect(await changed.json()).toMatchObject({ id: created.id, displayName: 'Renamed', domains: ['after-move.example'] });
    expect((await host.manage('/tenants/after-move.example')).status).toBe(200);
    await expectError(await host.manage('/tenants/before-move.example'), 404, 'tenant_not_found');
  });

  it('an unknown field in a tenant is refused rather than ignored', async () => {
    const response = await host.manage('/tenants', { method: 'POST', body: JSON.stringify({ displayName: 'X', colour: 'blue' }) });
    await expectError(response, 400, 'invalid_request');
  });

  it("an unknown route and a method the route does not list both answer the host's 404 with an empty body", async () => {
    await expectHostAnswer(await host.api('/no/such/route/here'), 404);
    await expectHostAnswer(await host.api(`/${tenant.id}/send-code`), 404);
  });
});
