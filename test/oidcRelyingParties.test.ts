import { createServer, type IncomingMessage, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Auth, type AuthConfig } from '@auth/core';
import { ConfidentialClientApplication, CryptoProvider, ProtocolMode } from '@azure/msal-node';
import express, { type Express } from 'express';
import session from 'express-session';
import { auth } from 'express-openid-connect';
import passport from 'passport';
import { Strategy as OpenIDConnectStrategy } from 'passport-openidconnect';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { Agent, getGlobalDispatcher, setGlobalDispatcher, type Dispatcher } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../scripts/chromium.js';
import { FUNCTION_KEY, inviteGuest, startHost, stopAllHosts, type TestHost, type TestTenant } from './helpers.js';
import { freePort } from './ports.js';
import { localhostCertificate } from './tls.js';
import { createApplication, createTenant, issuerOf, sessionIsLive, signInOnHostedPage, startOidcHost } from './oidcHelpers.js';

/*
 * Relying parties nobody here wrote, each given only what its README asks for (the
 * issuer or its endpoints, client id, secret, redirect URI), each signing a guest in
 * through Chromium with the code from the dev outbox and signing out at guestpass.
 * Each describe names the library's version and every setting it passes.
 */

let browser: Browser;
let host: TestHost;
let tenant: TestTenant;
const contexts: BrowserContext[] = [];
const servers: Server[] = [];

/** An Express app on a free local port; its origin is known before its middleware is set up. */
async function startRelyingParty(): Promise<{ rp: Express; origin: string }> {
  const rp = express();
  const server = createServer(rp);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  servers.push(server);
  return { rp, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function newPage(): Promise<Page> {
  const context = await browser.newContext({ locale: 'en-US' });
  contexts.push(context);
  return context.newPage();
}

/** The ID token's sid: names the guestpass session the relying party holds. */
function sidOf(idToken: string): string {
  return (JSON.parse(Buffer.from(idToken.split('.')[1]!, 'base64url').toString()) as { sid: string }).sid;
}

beforeAll(async () => {
  browser = await launchChromium();
  host = await startOidcHost();
  tenant = await createTenant(host);
});

afterEach(async () => {
  await Promise.all(contexts.splice(0).map((context) => context.close()));
});

afterAll(async () => {
  await browser?.close();
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  await stopAllHosts();
});

describe('express-openid-connect 3.4.0: issuerBaseURL, baseURL, clientID, secret (its cookie key) and idpLogout: true', () => {
  /**
   * Its defaults: response_type=id_token with response_mode=form_post and a nonce (no token
   * request, so no client secret), RS256 expected (openid-client's default), authRequired.
   * idpLogout: true is the one setting beyond the README's minimum: without it /logout
   * ends only the app's own cookie session, by design.
   */
  async function expressOpenIdConnectApp(postLogoutRedirectUris: (origin: string) => string[]) {
    const { rp, origin } = await startRelyingParty();
    const application = await createApplication(host, tenant.id, {
      displayName: 'Express app', redirectUris: [`${origin}/callback`], postLogoutRedirectUris: postLogoutRedirectUris(origin),
    });
    rp.use(auth({ issuerBaseURL: issuerOf(host, tenant.id), baseURL: origin, clientID: application.clientId, secret: 'a-cookie-secret-of-at-least-32-characters', idpLogout: true }));
    rp.get('/', (req, res) => {
      res.json({ user: req.oidc.user, idToken: req.oidc.idToken });
    });
    return { origin };
  }

  async function signInThroughTheApp(origin: string, email: string): Promise<{ page: Page; user: Record<string, unknown>; idToken: string }> {
    await inviteGuest(host, tenant.id, email, { invitedUserDisplayName: 'Eva Express' });
    const page = await newPage();
    await page.goto(`${origin}/`);
    await page.getByText('Sign in to continue to Express app').waitFor();
    const authorize = new URL(page.url()).searchParams;
    expect(Object.fromEntries(['response_type', 'response_mode'].map((name) => [name, authorize.get(name)]))).toEqual({ response_type: 'id_token', response_mode: 'form_post' });
    await signInOnHostedPage(host, page, email);
    // The hosted page posts the ID token to /callback; the app then redirects to /.
    await page.waitForURL(`${origin}/`);
    const body = JSON.parse((await page.locator('body').textContent())!) as { user: Record<string, unknown>; idToken: string };
    return { page, ...body };
  }

  it('signs a guest in with its default id_token + form_post, and its logout ends the guestpass session and returns to the app', async () => {
    // What it sends as post_logout_redirect_uri is baseURL as given: no trailing slash.
    const { origin } = await expressOpenIdConnectApp((o) => [o]);
    const { page, user, idToken } = await signInThroughTheApp(origin, 'eva.express@example.com');
    expect(user).toMatchObject({ email: 'eva.express@example.com', email_verified: true, name: 'Eva Express', tid: tenant.id, idp: 'OTP' });
    expect(JSON.parse(Buffer.from(idToken.split('.')[0]!, 'base64url').toString())).toMatchObject({ alg: 'RS256' });
    expect(await sessionIsLive(host, tenant.id, sidOf(idToken))).toBe(true);

    const logout = page.waitForResponse((response) => response.url().startsWith(`${issuerOf(host, tenant.id)}/oauth2/logout`));
    await page.goto(`${origin}/logout`);
    const answer = await logout;
    expect(answer.status()).toBe(302);
    // Back to the app (which, signed out and authRequired, sends the browser to sign in again).
    expect(answer.headers().location).toBe(`${origin}/`); // the registered URI, as a URL (an empty path is /)
    expect(await sessionIsLive(host, tenant.id, sidOf(idToken))).toBe(false);
  });

  it('with only the slashed form registered, its logout still ends the session and shows a signed-out page instead of a redirect', async () => {
    const { origin } = await expressOpenIdConnectApp((o) => [`${o}/`]);
    const { page, idToken } = await signInThroughTheApp(origin, 'eva.slash@example.com');
    const logout = page.waitForResponse((response) => response.url().startsWith(`${issuerOf(host, tenant.id)}/oauth2/logout`));
    await page.goto(`${origin}/logout`);
    const answer = await logout;
    expect(new URL(answer.url()).searchParams.get('post_logout_redirect_uri')).toBe(origin);
    expect(answer.status()).toBe(200);
    await page.getByText('You are signed out').waitFor();
    expect(await sessionIsLive(host, tenant.id, sidOf(idToken))).toBe(false);
  });
});

describe('passport-openidconnect 0.1.2 (confidential client, no PKCE): issuer, authorizationURL, tokenURL, userInfoURL, clientID, clientSecret, callbackURL, scope', () => {
  /**
   * passport-openidconnect has no discovery: its README names each endpoint. It never sends
   * PKCE, and sends a nonce only when given `nonce` (lib/strategy.js: `var nonce = this._nonce;
   * if (nonce) { params.nonce = utils.uid(20); }`). Neither ties the code to the request, so
   * guestpass refuses its defaults (RFC 9700 §2.1.1); `nonce: true` is the one setting that
   * makes it work. (It does not check the ID token's signature either: "checks 6 and 7 are out
   * of scope of this library".)
   */
  async function passportApp(extra: Record<string, unknown>) {
    const { rp, origin } = await startRelyingParty();
    const application = await createApplication(host, tenant.id, {
      displayName: 'Passport app', clientType: 'confidential', redirectUris: [`${origin}/callback`], postLogoutRedirectUris: [`${origin}/`],
    });
    const issuer = issuerOf(host, tenant.id);
    const strategy = new OpenIDConnectStrategy(
      {
        issuer,
        authorizationURL: `${issuer}/oauth2/authorize`,
        tokenURL: `${issuer}/oauth2/token`,
        userInfoURL: `${issuer}/oauth2/userinfo`,
        clientID: application.clientId,
        clientSecret: application.clientSecret!,
        callbackURL: `${origin}/callback`,
        scope: ['profile', 'email'],
        ...extra,
      },
      (_issuer: string, profile: Express.User, done: (error: null, user: Express.User) => void) => done(null, profile),
    );
    const authenticator = new passport.Passport();
    authenticator.use(strategy);
    authenticator.serializeUser((user, done) => done(null, user));
    authenticator.deserializeUser((user: Express.User, done) => done(null, user));
    rp.use(session({ secret: 'passport-session-secret', resave: false, saveUninitialized: false }));
    rp.use(authenticator.session());
    rp.get('/login', authenticator.authenticate('openidconnect'));
    rp.get('/callback', authenticator.authenticate('openidconnect', { failureRedirect: '/failed', failureMessage: true }), (_req, res) => res.redirect('/'));
    rp.get('/', (req, res) => res.json({ user: req.user ?? null }));
    rp.get('/failed', (req, res) => res.status(401).json({ messages: (req.session as unknown as { messages?: string[] }).messages ?? [] }));
    return { origin };
  }

  it('with its defaults (no PKCE, no nonce) guestpass sends the error back: one of them must tie the code to the request', async () => {
    const { origin } = await passportApp({});
    const page = await newPage();
    const callback = page.waitForRequest((request) => request.url().startsWith(`${origin}/callback`));
    await page.goto(`${origin}/login`);
    const sentBack = new URL((await callback).url()).searchParams;
    expect(sentBack.get('error')).toBe('invalid_request');
    expect(sentBack.get('error_description')).toBe('code_challenge (PKCE, RFC 7636) or nonce is required: one of them ties the code to this request.');
    expect(sentBack.get('state')).toBeTruthy();
  });

  it('with nonce: true it signs a guest in (client_secret_post at the token endpoint; the profile from the ID token, as its default skips userinfo for a three-argument verify)', async () => {
    const { origin } = await passportApp({ nonce: true });
    const email = 'paul.passport@example.com';
    await inviteGuest(host, tenant.id, email, { invitedUserDisplayName: 'Paul Passport' });
    const page = await newPage();
    await page.goto(`${origin}/login`);
    const authorize = new URL(page.url()).searchParams;
    expect(authorize.has('code_challenge')).toBe(false);
    expect(authorize.get('nonce')).toBeTruthy();
    await signInOnHostedPage(host, page, email);
    await page.waitForURL(`${origin}/`);
    const { user } = JSON.parse((await page.locator('body').textContent())!) as { user: Record<string, unknown> };
    expect(user).toMatchObject({ id: expect.any(String), displayName: 'Paul Passport', emails: [{ value: email }] });
  });
});

describe('Auth.js (@auth/core 0.41.3) with a generic OIDC provider: id, name, type "oidc", issuer, clientId, clientSecret; secret, trustHost, basePath', () => {
  /** The web-standard Request/Response of Auth() on a plain Node server, as its framework adapters do. */
  async function authJsApp(config: (origin: string) => Promise<AuthConfig>): Promise<{ origin: string }> {
    let settings: AuthConfig | undefined;
    let origin = '';
    const server = createServer((req, res) => {
      void (async () => {
        const url = new URL(req.url ?? '/', origin);
        if (!url.pathname.startsWith('/auth/')) {
          res.writeHead(200, { 'content-type': 'text/plain' }).end('home');
          return;
        }
        const body = req.method === 'POST' ? await readBody(req) : undefined;
        const headers = new Headers(Object.entries(req.headers).flatMap(([name, value]) => (value === undefined ? [] : [[name, String(value)] as [string, string]])));
        const response = await Auth(new Request(url, { method: req.method, headers, body }), settings!);
        const plain: Record<string, string> = {};
        response.headers.forEach((value, name) => {
          if (name !== 'set-cookie') plain[name] = value;
        });
        res.writeHead(response.status, { ...plain, 'set-cookie': response.headers.getSetCookie() });
        res.end(Buffer.from(await response.arrayBuffer()));
      })();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    servers.push(server);
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    settings = await config(origin);
    return { origin };
  }

  function readBody(req: IncomingMessage): Promise<string> {
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    });
  }

  it('signs a guest in from its sign-in page (PKCE, no state, no nonce: its default checks) and holds the profile in its session', async () => {
    const email = 'ana.authjs@example.com';
    await inviteGuest(host, tenant.id, email, { invitedUserDisplayName: 'Ana Authjs' });
    const { origin } = await authJsApp(async (o) => {
      const application = await createApplication(host, tenant.id, { displayName: 'Auth.js app', clientType: 'confidential', redirectUris: [`${o}/auth/callback/guestpass`] });
      return {
        providers: [{ id: 'guestpass', name: 'guestpass', type: 'oidc', issuer: issuerOf(host, tenant.id), clientId: application.clientId, clientSecret: application.clientSecret! }],
        secret: 'an-authjs-secret-of-at-least-32-chars',
        trustHost: true,
        basePath: '/auth',
      };
    });
    const page = await newPage();
    await page.goto(`${origin}/auth/signin`);
    await page.getByRole('button', { name: 'Sign in with guestpass' }).click();
    await page.getByText('Sign in to continue to Auth.js app').waitFor();
    const authorize = new URL(page.url()).searchParams;
    expect(authorize.get('code_challenge_method')).toBe('S256');
    expect(authorize.has('state')).toBe(false);
    expect(authorize.has('nonce')).toBe(false);
    await signInOnHostedPage(host, page, email);
    await page.waitForURL(`${origin}/**`);
    await page.getByText('home').waitFor();
    const session = await page.evaluate(async () => (await fetch('/auth/session')).json());
    expect(session).toMatchObject({ user: { name: 'Ana Authjs', email } });
  });

  it('has no RP-initiated logout: its signOut (lib/actions/signout.js) only clears its own session cookie, so guestpass is not told', async () => {
    // @auth/core 0.41.3 lib/actions/signout.js: `cookies.push(...sessionStore.clean()); return { redirect, cookies };`
    // — no request to the provider's end_session_endpoint. An app that wants the guestpass session ended
    // sends the browser there itself (docs/openid-connect.md).
    const source = readFileSync(join(__dirname, '..', 'node_modules', '@auth', 'core', 'lib', 'actions', 'signout.js'), 'utf8');
    expect(source).toContain('cookies.push(...sessionStore.clean());');
    expect(source).not.toMatch(/end_session_endpoint|endSession/);
  });
});

describe('@azure/msal-node 7.2.3 as a generic OpenID Connect client: auth { clientId, authority, clientSecret, knownAuthorities }, system { protocolMode: "OIDC" }; PKCE as its samples pass it', () => {
  /*
   * MSAL refuses an authority that is not https (Authority.ts: "authority URI must use https"),
   * so this guestpass serves TLS (LOCAL_TLS_CERT_FILE) with a certificate made for the test, which
   * the test's own fetch (MSAL's network client) and Chromium trust. MSAL sends neither nonce nor
   * PKCE unless the request carries them; its web-app samples pass the PKCE codes from its
   * CryptoProvider, and so does this test.
   */
  let tlsHost: TestHost;
  let issuer: string;
  let previous: Dispatcher;
  beforeAll(async () => {
    const tls = await localhostCertificate();
    previous = getGlobalDispatcher();
    setGlobalDispatcher(new Agent({ connect: { ca: tls.cert } }));
    const port = await freePort();
    const started = await startHost({ PORT: String(port), PUBLIC_BASE_URL: `https://localhost:${port}`, LOCAL_TLS_CERT_FILE: tls.caFile, LOCAL_TLS_KEY_FILE: tls.keyFile });
    const base = `https://localhost:${port}`;
    tlsHost = {
      ...started,
      baseUrl: base,
      api: (path, init) => fetch(`${base}/api${path}`, init),
      manage: (path, init = {}) => fetch(`${base}/api/manage${path}`, { ...init, headers: { 'x-functions-key': FUNCTION_KEY, 'content-type': 'application/json', ...(init.headers as Record<string, string>) } }),
    };
    const created = await tlsHost.manage('/tenants', { method: 'POST', body: JSON.stringify({ displayName: 'Contoso over TLS', domains: [], allowedOrigins: [], redirectUris: ['https://app.contoso.test/welcome'] }) });
    const tlsTenant = (await created.json()) as { id: string };
    issuer = `${base}/api/${tlsTenant.id}`;
    Object.assign(tlsHost, { tenantId: tlsTenant.id });
  });
  afterAll(() => setGlobalDispatcher(previous));

  it('signs a guest in through Chromium and redeems the code with acquireTokenByCode; the ID token claims reach MSAL\'s account', async () => {
    const tenantId = (tlsHost as TestHost & { tenantId: string }).tenantId;
    const { rp, origin } = await startRelyingParty();
    const application = await createApplication(tlsHost, tenantId, { displayName: 'MSAL app', clientType: 'confidential', redirectUris: [`${origin}/redirect`] });
    const msal = new ConfidentialClientApplication({
      auth: { clientId: application.clientId, authority: issuer, clientSecret: application.clientSecret!, knownAuthorities: [new URL(issuer).host] },
      system: { protocolMode: ProtocolMode.OIDC },
    });
    const crypto = new CryptoProvider();
    const { verifier, challenge } = await crypto.generatePkceCodes();
    let result: unknown;
    rp.get('/redirect', (req, res) => {
      msal.acquireTokenByCode({ code: String(req.query.code), scopes: ['email'], redirectUri: `${origin}/redirect`, codeVerifier: verifier }).then(
        (tokens) => {
          result = tokens;
          res.send('signed in');
        },
        (error: Error) => {
          result = error;
          res.status(500).send(error.message);
        },
      );
    });
    const email = 'mia.msal@example.com';
    await inviteGuest(tlsHost, tenantId, email, { invitedUserDisplayName: 'Mia Msal', inviteRedirectUrl: 'https://app.contoso.test/welcome' });
    const url = await msal.getAuthCodeUrl({ scopes: ['email'], redirectUri: `${origin}/redirect`, codeChallenge: challenge, codeChallengeMethod: 'S256' });
    expect(new URL(url).origin).toBe(new URL(issuer).origin);

    const context = await browser.newContext({ locale: 'en-US', ignoreHTTPSErrors: true });
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(url);
    await page.getByText('Sign in to continue to MSAL app').waitFor();
    await signInOnHostedPage(tlsHost, page, email);
    await page.waitForURL(`${origin}/redirect?**`);
    await page.locator('body').filter({ hasText: /./ }).waitFor();
    expect(result).not.toBeInstanceOf(Error);
    const tokens = result as { idTokenClaims: Record<string, unknown>; accessToken: string; account: { username: string; name?: string } };
    expect(tokens.idTokenClaims).toMatchObject({ iss: issuer, aud: application.clientId, email, name: 'Mia Msal', tid: tenantId });
    expect(tokens.accessToken).toBeTruthy();
    expect(new URL(url).searchParams.get('scope')).toBe('email openid profile offline_access');
  });
});
