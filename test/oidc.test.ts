import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupExpired } from '../lib/storage/cleanup.js';
import { GuestpassError } from '../lib/errors.js';
import { getApplication, updateApplication } from '../lib/oidc/applications.js';
import { exchangeCode } from '../lib/oidc/token.js';
import {
  inviteGuest, REDIRECT_URI, sessionCheck, signIn, stopAllHosts, testRuntime, TEST_RSA_SIGNING_KEY, TEST_SIGNING_KEY, type TestHost, type TestTenant,
} from './helpers.js';
import {
  authorizeUrl, authorizeWithoutBrowser, completeWithoutBrowser, createApplication, createTenant, expectError, issuerOf, pkcePair, startOidcHost, tokenRequest,
  type TestApplication,
} from './oidcHelpers.js';

/*
 * guestpass as an OpenID Connect provider, over HTTP without a browser: discovery,
 * applications, the authorization endpoint's errors, the token endpoint's checks,
 * userinfo and logout. test/oidcClients.test.ts runs stock client libraries in Chromium.
 */
let host: TestHost;
let tenant: TestTenant;
let otherTenant: TestTenant;
let spa: TestApplication;
let server: TestApplication;
const CALLBACK = 'http://127.0.0.1:5999/callback';
const LOGGED_OUT = 'http://127.0.0.1:5999/logged-out';

beforeAll(async () => {
  host = await startOidcHost();
  tenant = await createTenant(host);
  otherTenant = await createTenant(host);
  spa = await createApplication(host, tenant.id, { displayName: 'Contoso SPA', redirectUris: [CALLBACK, REDIRECT_URI], postLogoutRedirectUris: [LOGGED_OUT] });
  server = await createApplication(host, tenant.id, { displayName: 'Contoso server', clientType: 'confidential', redirectUris: [CALLBACK] });
  for (const email of ['oidc@example.com', 'replay@example.com', 'logout@example.com', 'other@example.com']) await inviteGuest(host, tenant.id, email);
  await inviteGuest(host, otherTenant.id, 'other@example.com');
});
afterAll(() => stopAllHosts());

/** Sign-in sends are limited per guest; each code flow of a test gets its own guest. */
let guestCounter = 0;
async function freshGuest(target = tenant): Promise<string> {
  const email = `guest${(guestCounter += 1)}@example.com`;
  await inviteGuest(host, target.id, email);
  return email;
}

async function codeFor(app: TestApplication, pkce = pkcePair(), extra: Partial<Parameters<typeof authorizeUrl>[2]> = {}) {
  const callback = await authorizeWithoutBrowser(host, tenant, await freshGuest(), { clientId: app.clientId, redirectUri: CALLBACK, challenge: pkce.challenge, ...extra });
  return { code: callback.searchParams.get('code')!, callback, pkce };
}

function redeem(app: TestApplication, code: string, verifier: string, extra: Record<string, string> = {}, headers: Record<string, string> = {}) {
  return tokenRequest(host, tenant.id, { grant_type: 'authorization_code', code, redirect_uri: CALLBACK, code_verifier: verifier, client_id: app.clientId, ...extra }, headers);
}

describe('discovery: each tenant is an issuer', () => {
  it('serves OpenID Connect Discovery 1.0 under the issuer, by id and by domain, always naming the id form', async () => {
    for (const ref of [tenant.id, tenant.domains[0]!]) {
      const response = await host.api(`/${ref}/.well-known/openid-configuration`);
      expect(response.status).toBe(200);
      const doc = (await response.json()) as Record<string, unknown>;
      const issuer = issuerOf(host, tenant.id);
      expect(doc).toMatchObject({
        issuer,
        jwks_uri: `${issuer}/discovery/keys`,
        authorization_endpoint: `${issuer}/oauth2/authorize`,
        token_endpoint: `${issuer}/oauth2/token`,
        userinfo_endpoint: `${issuer}/oauth2/userinfo`,
        end_session_endpoint: `${issuer}/oauth2/logout`,
        response_types_supported: ['code'],
        code_challenge_methods_supported: ['S256'],
        id_token_signing_alg_values_supported: ['RS256', 'ES256'],
        subject_types_supported: ['public'],
        grant_types_supported: ['authorization_code'],
      });
      expect(doc.scopes_supported).toContain('openid');
      expect(doc.token_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(['none', 'client_secret_basic']));
      expect(doc.claims_supported).toEqual(expect.arrayContaining(['sub', 'email', 'email_verified', 'name', 'tid', 'idp', 'amr', 'nonce', 'auth_time']));
    }
  });

  it('HEAD answers on discovery and the JWKS as GET does, without a body', async () => {
    for (const path of ['.well-known/openid-configuration', 'discovery/keys']) {
      const response = await host.api(`/${tenant.id}/${path}`, { method: 'HEAD' });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toContain('application/json');
      expect(await response.text()).toBe('');
    }
  });

  it('an unknown tenant has no discovery document', async () => {
    await expectError(await host.api('/00000000-0000-4000-8000-000000000000/.well-known/openid-configuration'), 404, 'tenant_not_found');
  });
});

describe('applications: registered per tenant through the management API', () => {
  it('creates, lists, reads, changes and deletes an application; a confidential secret is shown once and never again', async () => {
    const created = await createApplication(host, tenant.id, { displayName: 'Payroll', clientType: 'confidential', redirectUris: ['https://payroll.contoso.test/cb'] });
    expect(created.clientSecret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const read = (await (await host.manage(`/tenants/${tenant.id}/applications/${created.clientId}`)).json()) as Record<string, unknown>;
    expect(read).not.toHaveProperty('clientSecret');
    expect(read).not.toHaveProperty('secretHash');
    expect(read).toMatchObject({ clientId: created.clientId, displayName: 'Payroll', clientType: 'confidential' });
    const listed = (await (await host.manage(`/tenants/${tenant.id}/applications`)).json()) as { value: { clientId: string }[] };
    expect(listed.value.map((a) => a.clientId)).toContain(created.clientId);
    expect(JSON.stringify(listed)).not.toContain(created.clientSecret);

    const changed = await host.manage(`/tenants/${tenant.id}/applications/${created.clientId}`, { method: 'PATCH', body: JSON.stringify({ displayName: 'Payroll 2', rotateSecret: true }) });
    expect(changed.status).toBe(200);
    const rotated = (await changed.json()) as { displayName: string; clientSecret: string; redirectUris: string[] };
    expect(rotated.displayName).toBe('Payroll 2');
    expect(rotated.redirectUris).toEqual(['https://payroll.contoso.test/cb']);
    expect(rotated.clientSecret).not.toBe(created.clientSecret);

    expect((await host.manage(`/tenants/${tenant.id}/applications/${created.clientId}`, { method: 'DELETE' })).status).toBe(204);
    await expectError(await host.manage(`/tenants/${tenant.id}/applications/${created.clientId}`), 404, 'application_not_found');
  });

  it('an application changed between the read and the write of a PATCH answers 409 application_conflict and keeps the other change', async () => {
    const created = await createApplication(host, tenant.id, { displayName: 'Race', redirectUris: [CALLBACK] });
    const rt = await testRuntime({ TABLE_PREFIX: host.settings.TABLE_PREFIX! });
    const write = rt.tables.tenants.updateEntity.bind(rt.tables.tenants);
    let interloped = false;
    rt.tables.tenants.updateEntity = async (entity, mode, options) => {
      if (!interloped) {
        interloped = true;
        await write({ ...entity, displayName: 'theirs' }, 'Merge');
      }
      return write(entity, mode, options);
    };
    await expect(updateApplication(rt, tenant.id, created.clientId, { displayName: 'mine' })).rejects.toMatchObject({ code: 'application_conflict', status: 409 });
    expect((await getApplication(rt, tenant.id, created.clientId)).displayName).toBe('theirs');
  });

  it("another tenant's routes do not see the application", async () => {
    await expectError(await host.manage(`/tenants/${otherTenant.id}/applications/${spa.clientId}`), 404, 'application_not_found');
    const listed = (await (await host.manage(`/tenants/${otherTenant.id}/applications`)).json()) as { value: unknown[] };
    expect(listed.value).toEqual([]);
  });

  it('refuses bad registrations: no redirect URI, a fragment, plain http off localhost, a public client asked to rotate a secret', async () => {
    const post = (body: unknown) => host.manage(`/tenants/${tenant.id}/applications`, { method: 'POST', body: JSON.stringify(body) });
    await expectError(await post({ displayName: 'x', redirectUris: [] }), 400, 'invalid_request');
    await expectError(await post({ displayName: 'x', redirectUris: ['https://app.contoso.test/cb#frag'] }), 400, 'invalid_request');
    await expectError(await post({ displayName: 'x', redirectUris: ['http://app.contoso.test/cb'] }), 400, 'invalid_request');
    await expectError(await post({ displayName: 'x', redirectUris: ['https://a.test/cb'], clientType: 'implicit' }), 400, 'invalid_request');
    await expectError(await host.manage(`/tenants/${tenant.id}/applications/${spa.clientId}`, { method: 'PATCH', body: JSON.stringify({ rotateSecret: true }) }), 400, 'not_confidential_client');
    await expectError(await host.manage(`/tenants/${tenant.id}/applications/not-a-guid`), 400, 'invalid_request');
  });

  it('the application routes need the operator credential', async () => {
    expect((await host.api(`/manage/tenants/${tenant.id}/applications`)).status).toBe(401);
  });
});

describe('authorize: errors before the redirect URI is trusted are shown, never redirected', () => {
  const pkce = pkcePair();
  async function expectPage(url: string, text: RegExp): Promise<void> {
    const response = await fetch(url, { redirect: 'manual' });
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
    expect(response.headers.get('content-type')).toContain('text/html');
    expect(await response.text()).toMatch(text);
  }

  it('an unknown client_id, a missing or unregistered redirect_uri, and a near-miss of a registered one each get a page', async () => {
    await expectPage(authorizeUrl(host, tenant.id, { clientId: '00000000-0000-4000-8000-000000000000', redirectUri: CALLBACK, challenge: pkce.challenge }), /client_id is not an application/);
    await expectPage(authorizeUrl(host, tenant.id, { clientId: '', redirectUri: CALLBACK, challenge: pkce.challenge }), /no client_id/);
    await expectPage(authorizeUrl(host, tenant.id, { clientId: spa.clientId, redirectUri: '', challenge: pkce.challenge }), /no redirect_uri/);
    for (const nearMiss of ['https://evil.example/callback', `${CALLBACK}/`, `${CALLBACK}?x=1`, CALLBACK.toUpperCase(), 'http://127.0.0.1:5999/callback/../callback']) {
      await expectPage(authorizeUrl(host, tenant.id, { clientId: spa.clientId, redirectUri: nearMiss, challenge: pkce.challenge }), /not one of this application/);
    }
  });

  it("another tenant's client_id is unknown here", async () => {
    const foreign = await createApplication(host, otherTenant.id, { redirectUris: [CALLBACK] });
    await expectPage(authorizeUrl(host, tenant.id, { clientId: foreign.clientId, redirectUri: CALLBACK, challenge: pkce.challenge }), /client_id is not an application/);
  });

  it('the error page escapes what it shows and runs no script', async () => {
    const response = await fetch(`${host.baseUrl}/api/${tenant.id}/oauth2/authorize?client_id=%3Cscript%3E`);
    const text = await response.text();
    expect(text).not.toContain('<script');
    expect(response.headers.get('content-security-policy')).toContain("script-src 'self'");
  });
});

describe('authorize: errors after the redirect URI is trusted go back to it with state (RFC 6749 §4.1.2.1)', () => {
  const pkce = pkcePair();
  async function expectRedirectError(extra: Record<string, string>, error: string, state = 'state-1'): Promise<URL> {
    const response = await fetch(authorizeUrl(host, tenant.id, { clientId: spa.clientId, redirectUri: CALLBACK, challenge: pkce.challenge, extra }), { redirect: 'manual' });
    expect(response.status).toBe(302);
    const location = new URL(response.headers.get('location')!);
    expect(location.origin + location.pathname).toBe(CALLBACK);
    expect(location.searchParams.get('error')).toBe(error);
    expect(location.searchParams.get('error_description')).toBeTruthy();
    if (state) expect(location.searchParams.get('state')).toBe(state);
    expect(location.searchParams.get('iss')).toBe(issuerOf(host, tenant.id));
    expect(location.searchParams.get('code')).toBeNull();
    return location;
  }

  it('no access token in the front channel: response_type token or a hybrid is unsupported; id_token only with form_post', async () => {
    for (const responseType of ['token', 'id_token token', 'code id_token', 'code token']) await expectRedirectError({ response_type: responseType }, 'unsupported_response_type');
    const idTokenByQuery = await expectRedirectError({ response_type: 'id_token', code_challenge: '', code_challenge_method: '' }, 'invalid_request');
    expect(idTokenByQuery.searchParams.get('error_description')).toMatch(/response_mode=form_post/);
  });

  it('a public client must use PKCE, S256 only', async () => {
    const noPkce = await expectRedirectError({ code_challenge: '', code_challenge_method: '' }, 'invalid_request');
    expect(noPkce.searchParams.get('error_description')).toBe('code_challenge is required of a public client (PKCE, RFC 7636).');
    await expectRedirectError({ code_challenge: '' }, 'invalid_request');
    await expectRedirectError({ code_challenge_method: 'plain' }, 'invalid_request');
    await expectRedirectError({ code_challenge_method: '' }, 'invalid_request');
    await expectRedirectError({ code_challenge: 'too-short' }, 'invalid_request');
  });

  it('state and nonce are optional in the code flow (OIDC Core §3.1.2.1; PKCE holds the request together); scope must hold openid', async () => {
    for (const extra of [{ state: '' }, { nonce: '' }, { state: '', nonce: '' }] as Record<string, string>[]) {
      const response = await fetch(authorizeUrl(host, tenant.id, { clientId: spa.clientId, redirectUri: CALLBACK, challenge: pkce.challenge, extra }));
      expect(response.status).toBe(200);
      expect(await response.text()).toContain('<guestpass-sign-in');
    }
    const noState = await expectRedirectError({ state: '', scope: 'email profile' }, 'invalid_scope', '');
    expect(noState.searchParams.has('state')).toBe(false);
  });

  it('a confidential client may tie the code to its request with nonce instead of PKCE (RFC 9700 §2.1.1), but needs one of the two', async () => {
    const asServer = (extra: Record<string, string>) => fetch(authorizeUrl(host, tenant.id, { clientId: server.clientId, redirectUri: CALLBACK, challenge: '', extra: { code_challenge_method: '', ...extra } }), { redirect: 'manual' });
    expect((await asServer({})).status).toBe(200);
    const neither = await asServer({ nonce: '' });
    expect(neither.status).toBe(302);
    const location = new URL(neither.headers.get('location')!);
    expect(location.searchParams.get('error')).toBe('invalid_request');
    expect(location.searchParams.get('error_description')).toMatch(/code_challenge \(PKCE, RFC 7636\) or nonce is required/);
  });

  it('prompt=none answers login_required (no provider cookie to reuse); unknown prompts and request objects are refused', async () => {
    await expectRedirectError({ prompt: 'none' }, 'login_required');
    await expectRedirectError({ prompt: 'none login' }, 'invalid_request');
    await expectRedirectError({ prompt: 'sudo' }, 'invalid_request');
    await expectRedirectError({ request: 'eyJ.x.y' }, 'request_not_supported');
    await expectRedirectError({ request_uri: 'https://evil.example/r' }, 'request_uri_not_supported');
    await expectRedirectError({ response_mode: 'fragment' }, 'invalid_request');
  });

  it('a parameter given twice is refused (RFC 6749 §3.1), and a repeated state is not echoed as either value', async () => {
    const url = `${authorizeUrl(host, tenant.id, { clientId: spa.clientId, redirectUri: CALLBACK, challenge: pkce.challenge })}&scope=openid`;
    const response = await fetch(url, { redirect: 'manual' });
    expect(new URL(response.headers.get('location')!).searchParams.get('error')).toBe('invalid_request');
    const twoStates = await fetch(`${authorizeUrl(host, tenant.id, { clientId: spa.clientId, redirectUri: CALLBACK, challenge: pkce.challenge })}&state=second`, { redirect: 'manual' });
    const location = new URL(twoStates.headers.get('location')!);
    expect(location.searchParams.get('error')).toBe('invalid_request');
    expect(location.searchParams.get('error_description')).toBe('Each parameter may appear only once (RFC 6749 §3.1): state.');
    expect(location.searchParams.has('state')).toBe(false);
  });

  it('a valid request gets the hosted sign-in page with a strict CSP, login_hint and ui_locales honoured', async () => {
    const response = await fetch(authorizeUrl(host, tenant.domains[0]!, { clientId: spa.clientId, redirectUri: CALLBACK, challenge: pkce.challenge, extra: { login_hint: 'oidc@example.com', ui_locales: 'sv-SE en' } }));
    expect(response.status).toBe(200);
    const csp = response.headers.get('content-security-policy')!;
    for (const directive of ["default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'none'"]) expect(csp).toContain(directive);
    expect(csp).not.toContain('unsafe-inline');
    const page = await response.text();
    expect(page).toContain('<guestpass-sign-in');
    expect(page).toContain(`tenant="${tenant.id}"`);
    expect(page).toContain('login-hint="oidc@example.com"');
    expect(page).toContain('lang="sv"');
    expect(page).toContain('Contoso SPA');
    expect(page).not.toContain(pkce.challenge);
    expect(page).not.toContain('state-1');
  });

  it('POST (form-encoded) works like GET', async () => {
    const query = new URL(authorizeUrl(host, tenant.id, { clientId: spa.clientId, redirectUri: CALLBACK, challenge: pkce.challenge })).searchParams;
    const response = await host.api(`/${tenant.id}/oauth2/authorize`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: query.toString() });
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('<guestpass-sign-in');
  });

  it('the sign-in script is served by the function app', async () => {
    const response = await host.api('/oidc/sign-in.js');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('javascript');
    expect(await response.text()).toContain('guestpass-sign-in');
  });
});

describe('response_mode=form_post, and response_type=id_token for sign-in only (OAuth 2.0 Form Post Response Mode)', () => {
  const FORM_POST = { response_mode: 'form_post' };

  it('the code by form_post: the page may post forms only to the redirect URI\'s origin, complete answers a form of code, state and iss, and the code redeems', async () => {
    const pkce = pkcePair();
    const page = await fetch(authorizeUrl(host, tenant.id, { clientId: spa.clientId, redirectUri: CALLBACK, challenge: pkce.challenge, extra: FORM_POST }));
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain('form-action http://127.0.0.1:5999;');
    const answer = await completeWithoutBrowser(host, tenant, await freshGuest(), { clientId: spa.clientId, redirectUri: CALLBACK, challenge: pkce.challenge, extra: FORM_POST });
    expect(answer.redirectTo).toBeUndefined();
    expect(answer.formPost!.action).toBe(CALLBACK);
    expect(Object.keys(answer.formPost!.fields).sort()).toEqual(['code', 'iss', 'state']);
    expect(answer.formPost!.fields).toMatchObject({ state: 'state-1', iss: issuerOf(host, tenant.id) });
    expect((await redeem(spa, answer.formPost!.fields.code!, pkce.verifier)).status).toBe(200);
  });

  it('response_type=id_token: the ID token itself comes in the form (RS256, with nonce, no at_hash, no code, no access token)', async () => {
    const request = { clientId: spa.clientId, redirectUri: CALLBACK, challenge: '', nonce: 'sign-in-only', extra: { ...FORM_POST, response_type: 'id_token', code_challenge_method: '' } };
    const answer = await completeWithoutBrowser(host, tenant, await freshGuest(), request);
    expect(Object.keys(answer.formPost!.fields).sort()).toEqual(['id_token', 'iss', 'state']);
    const jwks = createRemoteJWKSet(new URL(`${issuerOf(host, tenant.id)}/discovery/keys`));
    const { payload, protectedHeader } = await jwtVerify(answer.formPost!.fields.id_token!, jwks, { issuer: issuerOf(host, tenant.id), audience: spa.clientId });
    expect(protectedHeader.alg).toBe('RS256');
    expect(payload).toMatchObject({ nonce: 'sign-in-only', email_verified: true, amr: ['otp'] });
    expect(payload).not.toHaveProperty('at_hash');
    // Its sid names the session: logout with it as the hint ends that session.
    const logout = await fetch(`${host.baseUrl}/api/${tenant.id}/oauth2/logout?id_token_hint=${answer.formPost!.fields.id_token}`);
    expect(logout.status).toBe(200);
  });

  it('response_type=id_token needs a nonce and takes no code_challenge; its errors, like the code flow\'s, go back as a posted form', async () => {
    const errorForm = async (extra: Record<string, string>, challenge = '') => {
      const response = await fetch(authorizeUrl(host, tenant.id, { clientId: spa.clientId, redirectUri: CALLBACK, challenge, extra: { ...FORM_POST, ...extra } }), { redirect: 'manual' });
      expect(response.status).toBe(200);
      expect(response.headers.get('location')).toBeNull();
      expect(response.headers.get('content-security-policy')).toContain('form-action http://127.0.0.1:5999;');
      const html = await response.text();
      expect(html).toContain(`<form method="post" action="${CALLBACK}" data-auto-post>`);
      expect(html).toContain('<input type="hidden" name="state" value="state-1">');
      expect(html).toContain(`<input type="hidden" name="iss" value="${issuerOf(host, tenant.id)}">`);
      expect(html).toMatch(/<script type="module" src="\/api\/oidc\/sign-in\.js\?v=/);
      return { error: /name="error" value="([^"]+)"/.exec(html)![1], description: /name="error_description" value="([^"]+)"/.exec(html)![1] };
    };
    expect(await errorForm({ response_type: 'id_token', nonce: '', code_challenge_method: '' })).toMatchObject({ error: 'invalid_request', description: expect.stringMatching(/^nonce is required with response_type=id_token/) });
    expect(await errorForm({ response_type: 'id_token' }, pkcePair().challenge)).toMatchObject({ error: 'invalid_request', description: expect.stringMatching(/^code_challenge belongs to response_type=code/) });
    expect(await errorForm({ prompt: 'none' }, pkcePair().challenge)).toMatchObject({ error: 'login_required' });
  });
});

describe('authorize-complete', () => {
  it('refuses a tampered or foreign sealed request, and a missing session', async () => {
    const pkce = pkcePair();
    const page = await (await fetch(authorizeUrl(host, tenant.id, { clientId: spa.clientId, redirectUri: CALLBACK, challenge: pkce.challenge }))).text();
    const authorization = /data-authorization="([^"]+)"/.exec(page)![1]!;
    const session = await signIn(host, tenant.id, await freshGuest());
    const complete = (tenantRef: string, body: string, token = session.token) =>
      host.api(`/${tenantRef}/oauth2/authorize/complete`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ authorization: body }) });
    await expectError(await complete(tenant.id, `${authorization.slice(0, -2)}AA`), 400, 'authorization_request_expired');
    await expectError(await complete(otherTenant.id, authorization), 400, 'authorization_request_expired');
    await expectError(await complete(tenant.id, authorization, 'not.a.token'), 401, 'invalid_token');
    expect((await complete(tenant.id, authorization)).status).toBe(200);
  });
});

describe('token: the code is single use and bound to client, redirect URI and PKCE verifier', () => {
  it('a public client redeems its code for an ID token and an access token session-check accepts', async () => {
    const { code, callback, pkce } = await codeFor(spa);
    expect(callback.searchParams.get('state')).toBe('state-1');
    expect(callback.searchParams.get('iss')).toBe(issuerOf(host, tenant.id));
    const response = await redeem(spa, code, pkce.verifier);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const tokens = (await response.json()) as { access_token: string; id_token: string; token_type: string; expires_in: number; scope: string };
    expect(tokens.token_type).toBe('Bearer');
    expect(tokens.scope).toBe('openid email profile');
    const claims = decodeJwt(tokens.id_token);
    expect(claims).toMatchObject({ iss: issuerOf(host, tenant.id), aud: spa.clientId, nonce: 'nonce-1', email_verified: true, tid: tenant.id, idp: 'OTP', amr: ['otp'] });
    expect(typeof claims.auth_time).toBe('number');
    expect(typeof claims.at_hash).toBe('string');
    expect((await sessionCheck(host, tenant.id, tokens.access_token)).status).toBe(200);
  });

  it('ID tokens are RS256 by default and ES256 for an application that asks; both verify against the JWKS, the access token stays ES256', async () => {
    expect(spa).toMatchObject({ idTokenSignedResponseAlg: 'RS256' });
    const es256App = await createApplication(host, tenant.id, { displayName: 'ES256 app', redirectUris: [CALLBACK], idTokenSignedResponseAlg: 'ES256' });
    expect(es256App).toMatchObject({ idTokenSignedResponseAlg: 'ES256' });
    const jwks = createRemoteJWKSet(new URL(`${issuerOf(host, tenant.id)}/discovery/keys`));
    for (const [app, alg] of [[spa, 'RS256'], [es256App, 'ES256']] as const) {
      const { code, pkce } = await codeFor(app);
      const tokens = (await (await redeem(app, code, pkce.verifier)).json()) as { access_token: string; id_token: string };
      const verified = await jwtVerify(tokens.id_token, jwks, { issuer: issuerOf(host, tenant.id), audience: app.clientId, algorithms: [alg] });
      expect(verified.protectedHeader).toMatchObject({ alg, kid: alg === 'RS256' ? TEST_RSA_SIGNING_KEY.kid : TEST_SIGNING_KEY.kid });
      expect(decodeProtectedHeader(tokens.access_token)).toMatchObject({ alg: 'ES256', kid: TEST_SIGNING_KEY.kid });
    }
    // Changed later, it takes effect for the next token; an unknown algorithm is refused.
    const patched = await host.manage(`/tenants/${tenant.id}/applications/${es256App.clientId}`, { method: 'PATCH', body: JSON.stringify({ idTokenSignedResponseAlg: 'RS256' }) });
    expect(((await patched.json()) as { idTokenSignedResponseAlg: string }).idTokenSignedResponseAlg).toBe('RS256');
    await expectError(await host.manage(`/tenants/${tenant.id}/applications/${es256App.clientId}`, { method: 'PATCH', body: JSON.stringify({ idTokenSignedResponseAlg: 'HS256' }) }), 400, 'invalid_request');
  });

  it('an application stored before idTokenSignedResponseAlg existed keeps ES256 ID tokens (what its relying party was set up to accept)', async () => {
    const legacy = await createApplication(host, tenant.id, { displayName: 'Legacy', redirectUris: [CALLBACK] });
    const rt = await testRuntime({ TABLE_PREFIX: host.settings.TABLE_PREFIX! });
    const row = await rt.tables.tenants.getEntity<Record<string, unknown>>(tenant.id, `app_${legacy.clientId}`);
    const { idTokenSignedResponseAlg: _alg, etag: _etag, timestamp: _ts, ...older } = row as Record<string, unknown>;
    await rt.tables.tenants.updateEntity(older as never, 'Replace');
    expect((await getApplication(rt, tenant.id, legacy.clientId)).idTokenSignedResponseAlg).toBe('ES256');
    const { code, pkce } = await codeFor(legacy);
    const tokens = (await (await redeem(legacy, code, pkce.verifier)).json()) as { id_token: string };
    expect(decodeProtectedHeader(tokens.id_token).alg).toBe('ES256');
  });

  it('code replay: the second redemption fails with invalid_grant and ends the session the first one started (one without the verifier does not)', async () => {
    const { code, pkce } = await codeFor(spa);
    const first = (await (await redeem(spa, code, pkce.verifier)).json()) as { access_token: string };
    // Someone holding the code but not the verifier cannot end the session with it.
    await expectError(await redeem(spa, code, pkcePair().verifier), 400, 'invalid_grant');
    expect((await sessionCheck(host, tenant.id, first.access_token)).status).toBe(200);
    const again = await redeem(spa, code, pkce.verifier);
    const body = await expectError(again, 400, 'invalid_grant');
    expect(body.error_description).toBe(body.message);
    await expectError(await sessionCheck(host, tenant.id, first.access_token), 401, 'session_revoked');
  });

  it('concurrent redemptions of one code: exactly one wins', async () => {
    const { code, pkce } = await codeFor(spa);
    const statuses = (await Promise.all(Array.from({ length: 5 }, () => redeem(spa, code, pkce.verifier)))).map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 400)).toHaveLength(4);
  });

  it('a wrong code_verifier, redirect URI or client fails with invalid_grant saying which, and leaves the code usable by the right request', async () => {
    const { code, pkce } = await codeFor(spa);
    const wrongVerifier = await expectError(await redeem(spa, code, pkcePair().verifier), 400, 'invalid_grant');
    expect(wrongVerifier.error_description).toBe('The code_verifier does not match the code_challenge of the authorization request.');
    const noVerifier = await expectError(await redeem(spa, code, ''), 400, 'invalid_grant');
    expect(noVerifier.error_description).toMatch(/^code_verifier is required/);
    const wrongRedirect = await expectError(await redeem(spa, code, pkce.verifier, { redirect_uri: REDIRECT_URI }), 400, 'invalid_grant');
    expect(wrongRedirect.error_description).toBe('redirect_uri differs from the one in the authorization request.');
    const otherPublic = await createApplication(host, tenant.id, { redirectUris: [CALLBACK] });
    const wrongClient = await expectError(await redeem(otherPublic, code, pkce.verifier), 400, 'invalid_grant');
    expect(wrongClient.error_description).toBe('The authorization code was issued to another client.');

    const tokens = await redeem(spa, code, pkce.verifier);
    expect(tokens.status).toBe(200);
    const { access_token } = (await tokens.json()) as { access_token: string };
    expect((await sessionCheck(host, tenant.id, access_token)).status).toBe(200);
  });

  it('a confidential client without PKCE redeems with its secret and no verifier; a verifier for a request without a challenge is a downgrade, refused', async () => {
    const noPkce = async () => {
      const callback = await authorizeWithoutBrowser(host, tenant, await freshGuest(), { clientId: server.clientId, redirectUri: CALLBACK, challenge: '', nonce: 'server-nonce', extra: { code_challenge_method: '' } });
      return callback.searchParams.get('code')!;
    };
    const code = await noPkce();
    const downgrade = await expectError(await tokenRequest(host, tenant.id, { grant_type: 'authorization_code', code, redirect_uri: CALLBACK, code_verifier: pkcePair().verifier, client_id: server.clientId, client_secret: server.clientSecret! }), 400, 'invalid_grant');
    expect(downgrade.error_description).toBe('code_verifier was sent, but the authorization request had no code_challenge.');
    const response = await tokenRequest(host, tenant.id, { grant_type: 'authorization_code', code, redirect_uri: CALLBACK, client_id: server.clientId, client_secret: server.clientSecret! });
    expect(response.status).toBe(200);
    expect(decodeJwt(((await response.json()) as { id_token: string }).id_token).nonce).toBe('server-nonce');
  });

  it('without nonce in the request, the ID token has none', async () => {
    const { code, pkce } = await codeFor(spa, pkcePair(), { nonce: '' });
    const tokens = (await (await redeem(spa, code, pkce.verifier)).json()) as { id_token: string };
    expect(decodeJwt(tokens.id_token)).not.toHaveProperty('nonce');
  });

  it("a code is worthless at another tenant's token endpoint", async () => {
    const { code, pkce } = await codeFor(spa);
    const response = await tokenRequest(host, otherTenant.id, { grant_type: 'authorization_code', code, redirect_uri: CALLBACK, code_verifier: pkce.verifier, client_id: spa.clientId });
    await expectError(response, 401, 'invalid_client');
  });

  it('a confidential client must authenticate: 401 invalid_client with WWW-Authenticate, by Basic or by form', async () => {
    const basic = (secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(server.clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
    const noSecret = await codeFor(server);
    const refused = await redeem(server, noSecret.code, noSecret.pkce.verifier);
    await expectError(refused.clone(), 401, 'invalid_client');
    expect(refused.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    const wrong = await codeFor(server);
    await expectError(await redeem(server, wrong.code, wrong.pkce.verifier, {}, { authorization: basic('wrong-secret') }), 401, 'invalid_client');
    // The refused attempts never reached the code: it still works with the right secret.
    const byBasic = await tokenRequest(host, tenant.id, { grant_type: 'authorization_code', code: wrong.code, redirect_uri: CALLBACK, code_verifier: wrong.pkce.verifier }, { authorization: basic(server.clientSecret!) });
    expect(byBasic.status).toBe(200);
    const byForm = await codeFor(server);
    expect((await redeem(server, byForm.code, byForm.pkce.verifier, { client_secret: server.clientSecret! })).status).toBe(200);
    // A public client presenting a secret is not who it says it is.
    const publicWithSecret = await codeFor(spa);
    await expectError(await redeem(spa, publicWithSecret.code, publicWithSecret.pkce.verifier, { client_secret: 'anything' }), 401, 'invalid_client');
  });

  it('refuses other grants, missing parameters and JSON bodies with RFC 6749 §5.2 errors', async () => {
    await expectError(await tokenRequest(host, tenant.id, { grant_type: 'password', client_id: spa.clientId, username: 'a', password: 'b' }), 400, 'unsupported_grant_type');
    await expectError(await tokenRequest(host, tenant.id, { grant_type: 'client_credentials', client_id: spa.clientId }), 400, 'unsupported_grant_type');
    await expectError(await tokenRequest(host, tenant.id, { client_id: spa.clientId }), 400, 'invalid_request');
    await expectError(await tokenRequest(host, tenant.id, { grant_type: 'authorization_code', client_id: spa.clientId, code: 'x' }), 400, 'invalid_request');
    await expectError(await tokenRequest(host, tenant.id, { grant_type: 'authorization_code', client_id: spa.clientId, code: 'x', redirect_uri: CALLBACK, code_verifier: 'short' }), 400, 'invalid_request');
    await expectError(await tokenRequest(host, tenant.id, { grant_type: 'authorization_code', client_id: spa.clientId, code: 'x', redirect_uri: CALLBACK, code_verifier: 'a'.repeat(43) }), 400, 'invalid_grant');
    await expectError(await tokenRequest(host, tenant.id, { grant_type: 'authorization_code' }), 401, 'invalid_client');
    // A JSON body is a malformed request (RFC 6749 §5.2 invalid_request), not a 415.
    const json = await host.api(`/${tenant.id}/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    const jsonError = await expectError(json, 400, 'invalid_request');
    expect(jsonError.error_description).toMatch(/form-encoded/);
    // A repeated parameter, even with equal values (RFC 6749 §3.1).
    const repeated = await host.api(`/${tenant.id}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=authorization_code&code=x&code=x&redirect_uri=${encodeURIComponent(CALLBACK)}&client_id=${spa.clientId}`,
    });
    expect((await expectError(repeated, 400, 'invalid_request')).error_description).toBe('Each parameter may appear only once (RFC 6749 §3.1): code.');
  });

  it('an expired code (60 s) fails with invalid_grant', async () => {
    const { code, pkce } = await codeFor(spa);
    const later = await testRuntime({ TABLE_PREFIX: host.settings.TABLE_PREFIX!, PUBLIC_BASE_URL: host.settings.PUBLIC_BASE_URL! }, { now: () => Date.now() + 61_000 });
    const redeemed = exchangeCode(later, tenant.id, { grant_type: 'authorization_code', code, redirect_uri: CALLBACK, code_verifier: pkce.verifier, client_id: spa.clientId }, undefined);
    await expect(redeemed).rejects.toSatisfy((error: unknown) => error instanceof GuestpassError && error.code === 'invalid_grant' && /expired/.test(error.message));
  });

  it('a code whose session ended before redemption is refused', async () => {
    const email = await freshGuest();
    const pkce = pkcePair();
    const page = await (await fetch(authorizeUrl(host, tenant.id, { clientId: spa.clientId, redirectUri: CALLBACK, challenge: pkce.challenge }))).text();
    const session = await signIn(host, tenant.id, email);
    const completed = await host.api(`/${tenant.id}/oauth2/authorize/complete`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${session.token}` },
      body: JSON.stringify({ authorization: /data-authorization="([^"]+)"/.exec(page)![1] }),
    });
    const code = new URL(((await completed.json()) as { redirectTo: string }).redirectTo).searchParams.get('code')!;
    await host.api(`/${tenant.id}/sign-out`, { method: 'POST', headers: { authorization: `Bearer ${session.token}` } });
    await expectError(await redeem(spa, code, pkce.verifier), 400, 'invalid_grant');
  });
});

describe('jose validates access tokens from the issuer URL alone', () => {
  async function verifierFor(issuer: string) {
    const discovery = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as { issuer: string; jwks_uri: string };
    const jwks = createRemoteJWKSet(new URL(discovery.jwks_uri));
    return (token: string) => jwtVerify(token, jwks, { issuer: discovery.issuer, algorithms: ['ES256'] });
  }

  it("accepts this tenant's token and rejects another tenant's, with no audience option", async () => {
    const { code, pkce } = await codeFor(spa);
    const tokens = (await (await redeem(spa, code, pkce.verifier)).json()) as { access_token: string; id_token: string };
    const verifyHere = await verifierFor(issuerOf(host, tenant.id));
    const { payload } = await verifyHere(tokens.access_token);
    expect(payload.aud).toBe(tenant.id);
    const foreign = await signIn(host, otherTenant.id, 'other@example.com');
    await expect(verifyHere(foreign.token)).rejects.toMatchObject({ code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'iss' });
    const verifyThere = await verifierFor(issuerOf(host, otherTenant.id));
    await expect(verifyThere(tokens.access_token)).rejects.toMatchObject({ claim: 'iss' });
    expect((await verifyThere(foreign.token)).payload.aud).toBe(otherTenant.id);
  });
});

describe('userinfo and logout', () => {
  it('userinfo answers the scope-allowed claims for a live access token, GET and POST, and 401 with WWW-Authenticate: Bearer otherwise', async () => {
    const { code, pkce } = await codeFor(spa, pkcePair(), { scope: 'openid email' });
    const tokens = (await (await redeem(spa, code, pkce.verifier)).json()) as { access_token: string };
    for (const method of ['GET', 'POST']) {
      const response = await host.api(`/${tenant.id}/oauth2/userinfo`, { method, headers: { authorization: `Bearer ${tokens.access_token}` } });
      expect(response.status).toBe(200);
      const claims = (await response.json()) as Record<string, unknown>;
      expect(claims).toMatchObject({ email_verified: true, tid: tenant.id, idp: 'OTP' });
      expect(claims).not.toHaveProperty('name');
    }
    const refused = await host.api(`/${tenant.id}/oauth2/userinfo`);
    expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer /);
    await expectError(refused, 401, 'invalid_token');
  });

  const logout = (params: Record<string, string>) => fetch(`${host.baseUrl}/api/${tenant.id}/oauth2/logout?${new URLSearchParams(params)}`, { redirect: 'manual' });
  async function signedInTokens(): Promise<{ access_token: string; id_token: string }> {
    const { code, pkce } = await codeFor(spa);
    return (await (await redeem(spa, code, pkce.verifier)).json()) as { access_token: string; id_token: string };
  }

  it('RP-initiated logout ends the session and returns to a registered post_logout_redirect_uri, with state', async () => {
    const tokens = await signedInTokens();
    const forged = await logout({ id_token_hint: `${tokens.id_token.slice(0, -4)}AAAA` });
    expect(forged.status).toBe(400);
    expect(await forged.text()).toContain('This sign-out request cannot be used');
    expect((await sessionCheck(host, tenant.id, tokens.access_token)).status).toBe(200);

    const response = await logout({ id_token_hint: tokens.id_token, post_logout_redirect_uri: LOGGED_OUT, state: 'bye-state' });
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe(`${LOGGED_OUT}?state=bye-state`);
    await expectError(await sessionCheck(host, tenant.id, tokens.access_token), 401, 'session_revoked');
    await expectError(await host.api(`/${tenant.id}/oauth2/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } }), 401, 'session_revoked');

    const page = await logout({});
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('You are signed out');
  });

  it('a valid id_token_hint always ends the session: to an unregistered post_logout_redirect_uri (even a slash away) no redirect, a signed-out page in the ui_locales language', async () => {
    for (const [target, extra, language, text] of [
      ['https://evil.example/bye', {}, 'en', 'You are signed out'],
      [LOGGED_OUT.replace('/logged-out', '/logged-out/'), { ui_locales: 'sv-SE' }, 'sv', 'Du är utloggad'],
      [LOGGED_OUT, { client_id: server.clientId, ui_locales: 'de' }, 'de', 'Sie sind abgemeldet'],
    ] as const) {
      const tokens = await signedInTokens();
      const response = await logout({ id_token_hint: tokens.id_token, post_logout_redirect_uri: target, state: 's', ...extra });
      expect(response.status).toBe(200);
      expect(response.headers.get('location')).toBeNull();
      const page = await response.text();
      expect(page).toContain(`<html lang="${language}">`);
      expect(page).toContain(text);
      expect(page).not.toContain('evil.example');
      await expectError(await sessionCheck(host, tenant.id, tokens.access_token), 401, 'session_revoked');
    }
  });

  it('logout error pages speak of signing out, in the guest\'s language; a repeated parameter is refused but a valid hint still ends the session', async () => {
    const unknownTenant = await fetch(`${host.baseUrl}/api/00000000-0000-4000-8000-000000000000/oauth2/logout?ui_locales=de`);
    expect(unknownTenant.status).toBe(404);
    expect(await unknownTenant.text()).toContain('Diese Abmeldeanfrage kann nicht verwendet werden');
    const tokens = await signedInTokens();
    const repeated = await fetch(`${host.baseUrl}/api/${tenant.id}/oauth2/logout?id_token_hint=${tokens.id_token}&state=a&state=b&post_logout_redirect_uri=${encodeURIComponent(LOGGED_OUT)}`, { redirect: 'manual' });
    expect(repeated.status).toBe(400);
    expect(repeated.headers.get('location')).toBeNull();
    expect(await repeated.text()).toContain('Each parameter may appear only once (RFC 6749 §3.1): state. You are signed out');
    await expectError(await sessionCheck(host, tenant.id, tokens.access_token), 401, 'session_revoked');
  });
});

describe('what the OpenID Connect endpoints cost in Table Storage transactions', () => {
  const transactions = (response: Response) => Number(response.headers.get('x-guestpass-storage-transactions'));

  it('authorize 1 (the application), complete 3, token 4, userinfo 1, logout 1 (2 with a return address), with the tenant cached', async () => {
    const pkce = pkcePair();
    const email = await freshGuest();
    const url = authorizeUrl(host, tenant.id, { clientId: spa.clientId, redirectUri: CALLBACK, challenge: pkce.challenge });
    await fetch(url); // warms the tenant cache
    const page = await fetch(url);
    expect(transactions(page)).toBe(1);
    const authorization = /data-authorization="([^"]+)"/.exec(await page.text())![1]!;
    const session = await signIn(host, tenant.id, email);
    const completed = await host.api(`/${tenant.id}/oauth2/authorize/complete`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${session.token}` }, body: JSON.stringify({ authorization }),
    });
    // The session row, the application, the code row.
    expect(transactions(completed)).toBe(3);
    const code = new URL(((await completed.json()) as { redirectTo: string }).redirectTo).searchParams.get('code')!;
    const tokenResponse = await redeem(spa, code, pkce.verifier);
    // The application, the code row read, its ETag-guarded redemption, the session row.
    expect(transactions(tokenResponse)).toBe(4);
    const tokens = (await tokenResponse.json()) as { access_token: string; id_token: string };
    expect(transactions(await host.api(`/${tenant.id}/oauth2/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } }))).toBe(1);
    const discovery = await host.api(`/${tenant.id}/.well-known/openid-configuration`);
    expect(transactions(discovery)).toBe(0);
    const logout = await fetch(`${host.baseUrl}/api/${tenant.id}/oauth2/logout?id_token_hint=${tokens.id_token}`);
    // The session row's deletion; the application is read only to check a post_logout_redirect_uri.
    expect(transactions(logout)).toBe(1);
    const back = await fetch(`${host.baseUrl}/api/${tenant.id}/oauth2/logout?id_token_hint=${tokens.id_token}&post_logout_redirect_uri=${encodeURIComponent(LOGGED_OUT)}`, { redirect: 'manual' });
    expect(back.status).toBe(302);
    expect(transactions(back)).toBe(2);
  });

  it('the cleanup timer deletes authorization codes once they have expired', async () => {
    const { code } = await codeFor(spa);
    expect(code).toBeTruthy();
    // A code row shares the guest's partition, which the expiry index names for the sign-in's
    // own rows (its session at the latest): cleaning it then takes the expired code along.
    const rt = await testRuntime({ TABLE_PREFIX: host.settings.TABLE_PREFIX! }, { now: () => Date.now() + 26 * 3_600_000 });
    await cleanupExpired(rt);
    const left = rt.tables.guests.listEntities({ queryOptions: { filter: "RowKey ge 'authcode_' and RowKey lt 'authcode`'" } });
    for await (const row of left) throw new Error(`an expired code row is left: ${row.rowKey}`);
  });
});
