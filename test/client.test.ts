import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GuestpassApiError, GuestpassClient, parseRetryAfter, type Session } from '../web/src/client.js';
import { formatWait, MESSAGES, pickLanguage } from '../web/src/messages.js';
import { createTenant, hostWithTenant, inviteGuest, latestCode, type TestHost, type TestTenant } from './helpers.js';

let host: TestHost;
let tenant: TestTenant;

beforeAll(async () => {
  ({ host, tenant } = await hostWithTenant());
});
afterAll(() => host.stop());

function client(): GuestpassClient {
  return new GuestpassClient({ tenant: tenant.id, api: `${host.baseUrl}/api/` });
}

async function caught(promise: Promise<unknown>): Promise<GuestpassApiError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(GuestpassApiError);
  return error as GuestpassApiError;
}

describe('the SPA client (web/src/client.ts) against a local host', () => {
  it('signs in with sendCode and verifyCode, keeps the session, confirms it with checkSession and forgets it on signOut', async () => {
    const email = 'client@example.com';
    await inviteGuest(host, tenant.id, email, { invitedUserDisplayName: 'Cleo Client' });
    const guestpass = client();
    const changes: (Session | null)[] = [];
    guestpass.addEventListener('sessionchange', (event) => changes.push((event as CustomEvent<Session | null>).detail));

    const sent = await guestpass.sendCode(email, { locale: 'sv' });
    expect(sent).toEqual({ status: 'code_sent', expiresInSeconds: 1800, resendAfterSeconds: 60, attempt: expect.stringMatching(/^[A-Za-z0-9_-]{16,64}$/) });
    // The client keeps the attempt and sends it back with the code.
    expect(guestpass.attempt).toBe(sent.attempt);
    const session = await guestpass.verifyCode(email, ` ${await latestCode(host, email)} `);
    expect(session).toMatchObject({ tokenType: 'Bearer', user: { email, displayName: 'Cleo Client', source: 'OTP' } });
    expect(guestpass.session).toEqual(session);
    expect(guestpass.authorization).toBe(`Bearer ${session.token}`);
    expect(await guestpass.checkSession()).toEqual({ active: true, expiresAt: session.expiresAt, user: session.user });

    await guestpass.signOut();
    expect(guestpass.session).toBeUndefined();
    expect(changes).toEqual([session, null]);
    expect(await guestpass.checkSession()).toBeUndefined();
    // The token no longer works on the server either.
    const stale = await host.api(`/${tenant.id}/session-check`, { headers: { authorization: `Bearer ${session.token}` } });
    expect(stale.status).toBe(401);
  });

  it('drops the session when checkSession hears session_revoked', async () => {
    const email = 'revoked.client@example.com';
    await inviteGuest(host, tenant.id, email);
    const guestpass = client();
    await guestpass.sendCode(email);
    const session = await guestpass.verifyCode(email, await latestCode(host, email));
    // Signed out elsewhere (another tab, another device).
    expect((await host.api(`/${tenant.id}/sign-out`, { method: 'POST', headers: { authorization: `Bearer ${session.token}` } })).status).toBe(204);

    const error = await caught(guestpass.checkSession());
    expect(error).toMatchObject({ code: 'session_revoked', status: 401 });
    expect(guestpass.session).toBeUndefined();
  });

  it('surfaces errors as GuestpassApiError with the contract code, message and Retry-After', async () => {
    const email = 'limited.client@example.com';
    await inviteGuest(host, tenant.id, email);
    const guestpass = client();
    await guestpass.sendCode(email);
    const limited = await caught(guestpass.sendCode(email));
    expect(limited).toMatchObject({ code: 'rate_limited', status: 429 });
    expect(limited.retryAfterSeconds).toBeGreaterThan(50);
    expect(limited.retryAfterSeconds).toBeLessThanOrEqual(60);

    const code = await latestCode(host, email);
    const wrong = await caught(guestpass.verifyCode(email, code === '00000000' ? '11111111' : '00000000'));
    expect(wrong).toMatchObject({ code: 'invalid_code', status: 401, message: 'The code is not correct. Check the latest email and try again.' });
    expect(guestpass.session).toBeUndefined();

    const invalid = await caught(guestpass.sendCode('not an address'));
    expect(invalid.code).toBe('invalid_request');
    expect(invalid.details).toEqual([{ field: 'body.email', message: 'must be an email address such as guest@example.com' }]);

    const unknownTenant = await caught(new GuestpassClient({ tenant: 'nobody.example', api: `${host.baseUrl}/api` }).sendCode(email));
    expect(unknownTenant).toMatchObject({ code: 'tenant_not_found', status: 404 });
  });

  it('carries the sign-in method of other_method_required', async () => {
    const federated = await createTenant(host, { googleFederation: true });
    await inviteGuest(host, federated.id, 'federated.client@gmail.com');
    const client = new GuestpassClient({ tenant: federated.id, api: `${host.baseUrl}/api` });
    // Told once the guest gives the code mailed to it, as any address's send-code is answered alike.
    await client.sendCode('federated.client@gmail.com');
    const error = await caught(client.verifyCode('federated.client@gmail.com', await latestCode(host, 'federated.client@gmail.com')));
    expect(error).toMatchObject({ code: 'other_method_required', status: 409, method: 'Google' });
  });

  it('reports an unreachable API as network_error', async () => {
    const error = await caught(new GuestpassClient({ tenant: tenant.id, api: 'http://127.0.0.1:9/api' }).sendCode('client@example.com'));
    expect(error).toMatchObject({ code: 'network_error', status: 0 });
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    expect(parseRetryAfter('42')).toBe(42);
    expect(parseRetryAfter(new Date(Date.UTC(2030, 0, 1, 0, 1, 30)).toUTCString(), Date.UTC(2030, 0, 1, 0, 0, 0))).toBe(90);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});

describe('the browser bundle and its texts', () => {
  it('web/dist/guestpass.js is one ES module with no runtime dependency', () => {
    const bundle = readFileSync(resolve(__dirname, '..', 'web', 'dist', 'guestpass.js'), 'utf8');
    expect(bundle).not.toMatch(/^\s*import\s/m);
    expect(bundle).not.toMatch(/\brequire\(/);
    expect(bundle).not.toContain('ZodError');
    expect(bundle).toMatch(/^export \{/m);
    expect(bundle).toContain('customElements.define("guestpass-sign-in"');
  });

  it('English, Swedish and German have every text', () => {
    const shape = (value: object): unknown => Object.fromEntries(Object.entries(value).map(([k, v]) => [k, typeof v === 'object' ? shape(v) : typeof v]));
    expect(shape(MESSAGES.sv)).toEqual(shape(MESSAGES.en));
    expect(shape(MESSAGES.de)).toEqual(shape(MESSAGES.en));
    for (const language of Object.values(MESSAGES)) {
      for (const text of Object.values(language.error)) expect(text.length).toBeGreaterThan(10);
    }
  });

  it('picks the first supported language and words waits in it', () => {
    expect(pickLanguage(['fr-FR', 'sv-SE', 'en'])).toBe('sv');
    expect(pickLanguage([null, 'de'])).toBe('de');
    expect(pickLanguage(['fi'])).toBe('en');
    expect(formatWait('en', 42)).toBe('42 seconds');
    expect(formatWait('sv', 600)).toBe('10 minuter');
    expect(formatWait('de', 3600)).toBe('60 Minuten');
  });
});
