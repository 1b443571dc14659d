import { createHash, randomBytes } from 'node:crypto';
import { freePort } from './ports.js';
import type { Page } from 'playwright-core';
import { partitionFromDigest, SESSION_PREFIX } from '../lib/guests/guests.js';
import { readPartitionRef } from '../lib/oidc/sealing.js';
import { createTenant, expectError, inviteGuest, latestCode, signIn, startHost, testRuntime, type TestHost, type TestTenant } from './helpers.js';

/** A host whose PUBLIC_BASE_URL is its real address, so discovery names reachable endpoints. */
export async function startOidcHost(settings: Record<string, string> = {}): Promise<TestHost> {
  const port = await freePort();
  return startHost({ PORT: String(port), PUBLIC_BASE_URL: `http://127.0.0.1:${port}`, ...settings });
}

export interface TestApplication {
  clientId: string;
  displayName: string;
  clientType: 'public' | 'confidential';
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  idTokenSignedResponseAlg: 'RS256' | 'ES256';
  clientSecret?: string;
}

export async function createApplication(host: TestHost, tenantId: string, body: Record<string, unknown>): Promise<TestApplication> {
  const response = await host.manage(`/tenants/${tenantId}/applications`, { method: 'POST', body: JSON.stringify({ displayName: 'Contoso app', ...body }) });
  if (response.status !== 201) throw new Error(`create application: ${response.status} ${await response.text()}`);
  return (await response.json()) as TestApplication;
}

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export function issuerOf(host: TestHost, tenantId: string): string {
  return `${host.settings.PUBLIC_BASE_URL}/api/${tenantId}`;
}

export interface AuthorizeRequest {
  clientId: string;
  redirectUri: string;
  challenge: string;
  state?: string;
  nonce?: string;
  scope?: string;
  extra?: Record<string, string>;
}

export function authorizeUrl(host: TestHost, tenantRef: string, request: AuthorizeRequest): string {
  const url = new URL(`${host.baseUrl}/api/${tenantRef}/oauth2/authorize`);
  const params: Record<string, string> = {
    client_id: request.clientId,
    redirect_uri: request.redirectUri,
    response_type: 'code',
    scope: request.scope ?? 'openid email profile',
    state: request.state ?? 'state-1',
    nonce: request.nonce ?? 'nonce-1',
    code_challenge: request.challenge,
    code_challenge_method: 'S256',
    ...request.extra,
  };
  for (const [name, value] of Object.entries(params)) if (value !== '') url.searchParams.set(name, value);
  return url.href;
}

export type CompleteAnswer = { redirectTo?: string; formPost?: { action: string; fields: Record<string, string> } };

/**
 * The whole authorization without a browser: what the hosted page's script does, done
 * with fetch (sign in through the API, then authorize-complete); the answer as the page
 * gets it. Browser tests drive the page itself.
 */
export async function completeWithoutBrowser(host: TestHost, tenant: TestTenant, email: string, request: AuthorizeRequest): Promise<CompleteAnswer> {
  const page = await fetch(authorizeUrl(host, tenant.id, request), { redirect: 'manual' });
  if (page.status !== 200) throw new Error(`authorize: ${page.status} ${page.headers.get('location') ?? (await page.text())}`);
  const authorization = /data-authorization="([^"]+)"/.exec(await page.text())![1]!;
  const session = await signIn(host, tenant.id, email);
  const completed = await host.api(`/${tenant.id}/oauth2/authorize/complete`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${session.token}` },
    body: JSON.stringify({ authorization }),
  });
  if (completed.status !== 200) throw new Error(`complete: ${completed.status} ${await completed.text()}`);
  return (await completed.json()) as CompleteAnswer;
}

/** The same, for the redirect (response_mode=query): the URL the browser is sent back to. */
export async function authorizeWithoutBrowser(host: TestHost, tenant: TestTenant, email: string, request: AuthorizeRequest): Promise<URL> {
  const answer = await completeWithoutBrowser(host, tenant, email, request);
  if (!answer.redirectTo) throw new Error(`complete: no redirect in ${JSON.stringify(answer)}`);
  return new URL(answer.redirectTo);
}

export function tokenRequest(host: TestHost, tenantId: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  return host.api(`/${tenantId}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
  });
}

export interface HostedPageTexts { email?: string; send: string; code: string; verify: string }

/**
 * On the hosted page: the guest asks for a code (typing the address unless login_hint
 * filled it in), reads it from the dev outbox and types it.
 */
export async function signInOnHostedPage(host: TestHost, page: Page, email: string, texts: HostedPageTexts = { email: 'Email address', send: 'Send code', code: 'Code', verify: 'Sign in' }): Promise<void> {
  const element = page.locator('guestpass-sign-in');
  const send = element.getByRole('button', { name: texts.send });
  await send.waitFor();
  const address = element.getByLabel(texts.email ?? 'Email address', { exact: true });
  if (await address.isVisible()) await address.fill(email);
  await send.click();
  const code = await waitForCode(host, email);
  await element.getByLabel(texts.code, { exact: true }).fill(code);
  await element.getByRole('button', { name: texts.verify }).click();
}

async function waitForCode(host: TestHost, email: string): Promise<string> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    try {
      return await latestCode(host, email);
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`no code mail for ${email}`);
}

export { createTenant, expectError, inviteGuest };

/** Whether the guestpass session an ID token's `sid` names is still there (sign-out deletes its row). */
export async function sessionIsLive(host: TestHost, tenantId: string, sid: string): Promise<boolean> {
  const rt = await testRuntime({ TABLE_PREFIX: host.settings.TABLE_PREFIX! });
  const ref = readPartitionRef(rt.config, 'session-partition', tenantId, sid);
  if (!ref) throw new Error(`not a sid of this tenant: ${sid}`);
  try {
    await rt.tables.guests.getEntity(partitionFromDigest(tenantId, ref.emailDigest), SESSION_PREFIX + ref.rowId);
    return true;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return false;
    throw error;
  }
}
