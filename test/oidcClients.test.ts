import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import * as client from 'openid-client';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectError, inviteGuest, sessionCheck, type TestHost, type TestTenant } from './helpers.js';
import { createApplication, createTenant, issuerOf, signInOnHostedPage as signInOnHostedPageAs, startOidcHost, type HostedPageTexts, type TestApplication } from './oidcHelpers.js';
import { launchChromium } from '../scripts/chromium.js';

/*
 * Stock OpenID Connect clients nobody here wrote, against the local host, with the Chromium
 * inside @sparticuz/chromium typing the code from the dev outbox into the hosted sign-in page:
 * openid-client (OpenID-certified relying party, Node) and oidc-client-ts (a plain SPA).
 */

let browser: Browser;
let host: TestHost;
let tenant: TestTenant;
let app: { server: Server; origin: string; spaScript: string };
const contexts: BrowserContext[] = [];
const pageErrors: string[] = [];
const cspViolations: string[] = [];

/** The relying party's side: a callback page, a logged-out page and the SPA's files. */
async function startRelyingParty(spaScript: string, settings: () => Record<string, string>): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/client.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(readFileSync(join(__dirname, '..', 'web', 'dist', 'client.js')));
      return;
    }
    if (path === '/client' || path === '/client-callback') {
      // A page using guestpass's own SPA client (web/dist/client.js) and nothing else.
      const s = settings();
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><html><head><title>client</title><script type="module">
import { GuestpassClient } from '/client.js';
const client = new GuestpassClient(${JSON.stringify({ tenant: s.tenant, api: s.api, persist: 'session' })});
const result = document.getElementById('result');
if (location.pathname === '/client-callback') {
  client.handleRedirectCallback().then(async (session) => {
    const status = await client.checkSession();
    result.textContent = JSON.stringify({ session, status });
    document.body.dataset.state = 'signed-in';
  }, (error) => { result.textContent = 'error: ' + error.code + ' ' + error.message; document.body.dataset.state = 'error'; });
} else {
  document.getElementById('sign-in').addEventListener('click', () => client.signInWithRedirect(${JSON.stringify({ clientId: s.clientId, redirectUri: `${s.origin}/client-callback`, loginHint: s.loginHint, uiLocales: 'sv' })}));
  document.body.dataset.state = 'ready';
}
</script></head><body><button id="sign-in">Sign in</button><pre id="result"></pre></body></html>`);
      return;
    }
    if (path === '/spa.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(spaScript);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><html><head><title>RP ${path}</title><script type="application/json" id="settings">${JSON.stringify(settings())}</script>
<script type="module" src="/spa.js"></script></head><body><button id="sign-in">Sign in</button><button id="sign-out">Sign out</button><pre id="result"></pre></body></html>`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

let spaSettings: Record<string, string> = {};

beforeAll(async () => {
  browser = await launchChromium();
  const bundle = await build({ entryPoints: [join(__dirname, 'fixtures', 'oidcSpa', 'spa.ts')], bundle: true, format: 'esm', platform: 'browser', target: 'es2022', write: false, logLevel: 'warning' });
  const spaScript = bundle.outputFiles[0]!.text;
  const rp = await startRelyingParty(spaScript, () => spaSettings);
  app = { ...rp, spaScript };
  host = await startOidcHost();
  // The SPA's origin calls the token and userinfo endpoints: it is one of the tenant's allowedOrigins.
  tenant = await createTenant(host, { allowedOrigins: [app.origin] });
});

afterEach(async () => {
  await Promise.all(contexts.splice(0).map((context) => context.close()));
  expect(pageErrors.splice(0), 'errors thrown in a page').toEqual([]);
  expect(cspViolations.splice(0), 'Content-Security-Policy violations on the hosted page').toEqual([]);
});

afterAll(async () => {
  await browser?.close();
  await host?.stop();
  await new Promise<void>((resolve) => (app?.server ? app.server.close(() => resolve()) : resolve()));
});

async function newPage(locale = 'en-US'): Promise<Page> {
  const context = await browser.newContext({ locale });
  context.setDefaultTimeout(15_000);
  // CSP violations surface as securitypolicyviolation events in the page that had them.
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event) => console.error(`csp-violation: ${event.violatedDirective} ${event.blockedURI}`));
  });
  contexts.push(context);
  const page = await context.newPage();
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.text().startsWith('csp-violation')) cspViolations.push(message.text());
  });
  return page;
}

function signInOnHostedPage(page: Page, email: string, texts?: HostedPageTexts): Promise<void> {
  return signInOnHostedPageAs(host, page, email, texts);
}

describe('openid-client (OpenID-certified relying party) runs the code + PKCE flow', () => {
  let rpApp: TestApplication;
  beforeAll(async () => {
    rpApp = await createApplication(host, tenant.id, {
      displayName: 'Contoso Portal',
      clientType: 'confidential',
      redirectUris: [`${app.origin}/callback`],
      postLogoutRedirectUris: [`${app.origin}/logged-out`],
    });
  });

  it('discovers the tenant from its issuer URL, signs a guest in through Chromium, reads userinfo and logs out', async () => {
    const email = 'openid.client@example.com';
    await inviteGuest(host, tenant.id, email, { invitedUserDisplayName: 'Olga Client' });
    const config = await client.discovery(new URL(issuerOf(host, tenant.id)), rpApp.clientId, undefined, client.ClientSecretBasic(rpApp.clientSecret!), {
      execute: [client.allowInsecureRequests],
    });
    expect(config.serverMetadata().issuer).toBe(issuerOf(host, tenant.id));

    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const authorizationUrl = client.buildAuthorizationUrl(config, {
      redirect_uri: `${app.origin}/callback`,
      scope: 'openid email profile',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
      login_hint: email,
    });

    const page = await newPage();
    await page.goto(authorizationUrl.href);
    await page.getByText('Sign in to continue to Contoso Portal').waitFor();
    // The element's own style sheet applies under the page's strict CSP (its hash is listed).
    const accent = await page.evaluate(() => getComputedStyle(document.querySelector('guestpass-sign-in')!.shadowRoot!.querySelector('button.primary')!).backgroundColor);
    expect(accent).toBe('rgb(0, 103, 184)');
    await signInOnHostedPage(page, email);
    await page.waitForURL(`${app.origin}/callback?**`);

    const tokens = await client.authorizationCodeGrant(config, new URL(page.url()), { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true });
    const claims = tokens.claims()!;
    expect(claims).toMatchObject({ iss: issuerOf(host, tenant.id), aud: rpApp.clientId, email, email_verified: true, name: 'Olga Client', tid: tenant.id, idp: 'OTP', amr: ['otp'], nonce });
    expect(typeof claims.auth_time).toBe('number');
    expect((await sessionCheck(host, tenant.id, tokens.access_token)).status).toBe(200);

    const userInfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    expect(userInfo).toMatchObject({ sub: claims.sub, email, name: 'Olga Client', tid: tenant.id });

    const logoutUrl = client.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: `${app.origin}/logged-out`, state: 'after-logout' });
    await page.goto(logoutUrl.href);
    await page.waitForURL(`${app.origin}/logged-out?state=after-logout`);
    await expectError(await sessionCheck(host, tenant.id, tokens.access_token), 401, 'session_revoked');
  });

  it('openid-client refuses a tampered state and a replayed callback', async () => {
    const email = 'openid.replay@example.com';
    await inviteGuest(host, tenant.id, email);
    const config = await client.discovery(new URL(issuerOf(host, tenant.id)), rpApp.clientId, undefined, client.ClientSecretBasic(rpApp.clientSecret!), { execute: [client.allowInsecureRequests] });
    const verifier = client.randomPKCECodeVerifier();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: `${app.origin}/callback`, scope: 'openid email', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state: 'the-state', nonce, login_hint: email,
    });
    const page = await newPage();
    await page.goto(url.href);
    await signInOnHostedPage(page, email);
    await page.waitForURL(`${app.origin}/callback?**`);
    const callback = new URL(page.url());
    const tampered = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: 'another-state', expectedNonce: nonce }).catch((error: Error) => error);
    expect(String((tampered as Error & { cause?: { message?: string } }).cause?.message ?? (tampered as Error).message)).toMatch(/state/);
    await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: 'the-state', expectedNonce: nonce });
    await expect(client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: 'the-state', expectedNonce: nonce })).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('the hosted page speaks the ui_locales language', async () => {
    const email = 'ui.locales@example.com';
    await inviteGuest(host, tenant.id, email);
    const config = await client.discovery(new URL(issuerOf(host, tenant.id)), rpApp.clientId, undefined, client.ClientSecretBasic(rpApp.clientSecret!), { execute: [client.allowInsecureRequests] });
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: `${app.origin}/callback`, scope: 'openid', code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()), code_challenge_method: 'S256',
      state: 's', nonce: 'n', login_hint: email, ui_locales: 'de-DE',
    });
    const page = await newPage('en-US');
    await page.goto(url.href);
    await page.getByText('Melden Sie sich an, um mit Contoso Portal fortzufahren').waitFor();
    await page.locator('guestpass-sign-in').getByRole('button', { name: 'Code senden' }).waitFor();
  });
});

describe("guestpass's own SPA client: signInWithRedirect", () => {
  it('signs in through the hosted page with the code flow and PKCE, and the session works with checkSession; a reused callback is refused', async () => {
    const email = 'redirect.client@example.com';
    await inviteGuest(host, tenant.id, email, { invitedUserDisplayName: 'Rey Redirect' });
    const spa = await createApplication(host, tenant.id, { displayName: 'Contoso Intranet', redirectUris: [`${app.origin}/client-callback`] });
    spaSettings = { tenant: tenant.id, api: `${host.baseUrl}/api`, clientId: spa.clientId, loginHint: email, origin: app.origin };

    const page = await newPage();
    await page.goto(`${app.origin}/client`);
    await page.locator('body[data-state="ready"]').waitFor();
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Logga in för att fortsätta till Contoso Intranet').waitFor();
    const authorize = new URL(page.url());
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await signInOnHostedPage(page, email, { send: 'Skicka kod', code: 'Kod', verify: 'Logga in' });
    await page.waitForURL(`${app.origin}/client-callback?**`);
    await page.locator('body[data-state="signed-in"]').waitFor();
    const result = JSON.parse((await page.locator('#result').textContent())!) as { session: { token: string; user: Record<string, unknown> }; status: { active: boolean } };
    expect(result.session.user).toMatchObject({ email, displayName: 'Rey Redirect', source: 'OTP' });
    expect(result.status.active).toBe(true);
    expect((await sessionCheck(host, tenant.id, result.session.token)).status).toBe(200);

    await page.reload();
    await page.locator('body[data-state="error"]').waitFor();
    expect(await page.locator('#result').textContent()).toContain('unknown or reused state');
  });
});

describe('oidc-client-ts signs in from a plain SPA page', () => {
  it('the SPA redirects to the hosted page, the guest signs in, and the SPA holds the user and an access token', async () => {
    const email = 'spa.user@example.com';
    await inviteGuest(host, tenant.id, email, { invitedUserDisplayName: 'Sam Spa' });
    const spa = await createApplication(host, tenant.id, { displayName: 'Contoso SPA', redirectUris: [`${app.origin}/callback`], postLogoutRedirectUris: [`${app.origin}/`] });
    spaSettings = { authority: issuerOf(host, tenant.id), clientId: spa.clientId, loginHint: email };

    const page = await newPage();
    await page.goto(`${app.origin}/`);
    await page.locator('body[data-state="ready"]').waitFor();
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Sign in to continue to Contoso SPA').waitFor();
    const authorize = new URL(page.url()).searchParams;
    expect(authorize.get('code_challenge_method')).toBe('S256');
    // oidc-client-ts 3 sends no nonce in the code flow (OIDC Core makes it optional there).
    expect(authorize.has('nonce')).toBe(false);
    await signInOnHostedPage(page, email);
    await page.waitForURL(`${app.origin}/callback?**`);
    await page.locator('body[data-state="signed-in"]').waitFor();
    const result = JSON.parse((await page.locator('#result').textContent())!) as { profile: Record<string, unknown>; accessToken: string; state: unknown };
    expect(result.profile).toMatchObject({ email, name: 'Sam Spa', tid: tenant.id, idp: 'OTP', email_verified: true });
    expect(result.profile).not.toHaveProperty('nonce');
    expect(result.state).toEqual({ returnTo: '/' });
    expect((await sessionCheck(host, tenant.id, result.accessToken)).status).toBe(200);

    // signoutRedirect: RP-initiated logout with the id_token_hint ends the guestpass session.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${app.origin}/`);
    await expectError(await sessionCheck(host, tenant.id, result.accessToken), 401, 'session_revoked');
  });
});
