import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_DOMAIN, DEMO_GUEST } from '../web/src/demoTenant.js';
import { createTenant, expectError, inviteGuest, latestCode, outbox, sessionCheck, signIn, startHost, type TestHost, type TestTenant } from './helpers.js';
import { launchChromium } from '../scripts/chromium.js';

/*
 * The demo page and <guestpass-sign-in> driven in Chromium (scripts/chromium.ts) through
 * playwright-core, against local hosts serving the built app and web/. Screenshots of
 * the main screens land in test-artifacts/browser/ (git-ignored) on every run.
 */
const ARTIFACTS = resolve(__dirname, '..', 'test-artifacts', 'browser');

let browser: Browser;
/** Resend allowed after 3 s, so the countdown can be watched to its end. */
let host: TestHost;
/** The same tables with OTP off by default: otp_disabled and no_sign_in_method. */
let otpOffHost: TestHost;
/** Codes that expire after 1 s; also the "other origin" an SPA is served from. */
let shortCodeHost: TestHost;
/** Like the tenant npm start makes: its redirect URI and origin are the host's own. */
let tenant: TestTenant;
const contexts: BrowserContext[] = [];
const pageErrors: string[] = [];

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await launchChromium();
  host = await startHost({ RESEND_COOLDOWN_SECONDS: '3' });
  [otpOffHost, shortCodeHost] = await Promise.all([
    startHost({ TABLE_PREFIX: host.settings.TABLE_PREFIX!, OTP_DEFAULT_ENABLED: 'false' }),
    // Codes live 3 s: long enough for the send-mail trigger to send one, short enough to wait out.
    startHost({ CODE_TTL_SECONDS: '3' }),
  ]);
  tenant = await createTenant(host, { displayName: 'Contoso (demo)', domains: [DEMO_DOMAIN], allowedOrigins: [host.baseUrl], redirectUris: [`${host.baseUrl}/`] });
});

afterEach(async () => {
  await Promise.all(contexts.splice(0).map((context) => context.close()));
  expect(pageErrors.splice(0), 'errors thrown in the page').toEqual([]);
});

afterAll(async () => {
  await browser?.close();
  await Promise.all([host?.stop(), otpOffHost?.stop(), shortCodeHost?.stop()]);
});

/** Every `signed-in` event the page sees, from its first script on (reloads start a fresh list). */
function recordSignedInEvents(): void {
  const events: unknown[] = [];
  (window as unknown as { signedInEvents: unknown[] }).signedInEvents = events;
  document.addEventListener('signed-in', (event) => events.push((event as CustomEvent).detail));
}

function signedInEvents(page: Page): Promise<{ token: string; user: { email: string; source: string } }[]> {
  return page.evaluate(() => (window as unknown as { signedInEvents: never[] }).signedInEvents);
}

async function openPage(url: string, options: { locale?: string } = {}): Promise<Page> {
  const context = await browser.newContext({ locale: options.locale ?? 'en-US', viewport: { width: 1100, height: 720 } });
  context.setDefaultTimeout(10_000);
  await context.addInitScript(recordSignedInEvents);
  contexts.push(context);
  const page = await context.newPage();
  page.on('pageerror', (error) => pageErrors.push(error.message));
  await page.goto(url);
  return page;
}

function signInElement(page: Page): Locator {
  return page.locator('guestpass-sign-in');
}

/** The id of the element focused inside the sign-in element's shadow root. */
function focusedId(page: Page): Promise<string | undefined> {
  return page.evaluate(() => document.querySelector('guestpass-sign-in')?.shadowRoot?.activeElement?.id);
}

async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
  // The element alone with a margin, so its border and shadow show (the README's pictures).
  const box = (await signInElement(page).boundingBox())!;
  await page.screenshot({ path: join(ARTIFACTS, `${name}.element.png`), clip: { x: box.x - 16, y: box.y - 16, width: box.width + 32, height: box.height + 32 } });
}

function redeemPage(target: TestHost, tenantId: string, email: string, extra: Record<string, string> = {}): string {
  return `${target.baseUrl}/?${new URLSearchParams({ tenant: tenantId, login_hint: email, ...extra })}`;
}

/** Invites the guest with the host's own page as redirect and returns the invitation's redeem URL. */
async function invite(email: string, displayName = 'Browser Guest'): Promise<string> {
  const invitation = await inviteGuest(host, tenant.id, email, { inviteRedirectUrl: `${host.baseUrl}/`, invitedUserDisplayName: displayName });
  return invitation.inviteRedeemUrl;
}

async function pressSendCode(page: Page): Promise<void> {
  await signInElement(page).getByRole('button', { name: 'Send code' }).click();
  await signInElement(page).getByRole('heading', { name: 'Enter code' }).waitFor();
}

async function typeCodeAndSignIn(page: Page, code: string): Promise<void> {
  await signInElement(page).getByLabel('Code', { exact: true }).fill(code);
  await signInElement(page).getByRole('button', { name: 'Sign in' }).click();
}

async function expectAlert(page: Page, text: string): Promise<void> {
  await signInElement(page).getByRole('alert').filter({ hasText: text }).waitFor();
}

function wrongCode(code: string): string {
  return code === '00000000' ? '11111111' : '00000000';
}

describe('signing in with <guestpass-sign-in> in Chromium', () => {
  it('an invited guest opens the redeem link, signs in with the mailed code, keeps the session over a reload and signs out', async () => {
    const email = 'rita.redeem@example.com';
    const redeemUrl = await invite(email, 'Rita Redeem');
    expect(redeemUrl).toMatch(new RegExp(`^${host.baseUrl}/\\?tenant=${tenant.id}&login_hint=${encodeURIComponent(email)}&invitation=[A-Za-z0-9_-]{32}$`));
    const invitation = new URL(redeemUrl).searchParams.get('invitation');

    const page = await openPage(redeemUrl);
    const element = signInElement(page);
    // What the element sends: the invitation from the link until the first sign-in, then the device it keeps.
    const sent: Record<string, unknown>[] = [];
    page.on('request', (request) => {
      if (/\/(send|verify)-code$/.test(request.url()) && request.method() === 'POST') sent.push(JSON.parse(request.postData() ?? '{}') as Record<string, unknown>);
    });
    await element.getByRole('heading', { name: 'Sign in' }).waitFor();
    expect(await element.getByText('We will send a code to').textContent()).toBe(`We will send a code to ${email} to sign you in.`);
    await screenshot(page, '1-send-code');

    await pressSendCode(page);
    const codeField = element.getByLabel('Code', { exact: true });
    expect(await codeField.getAttribute('autocomplete')).toBe('one-time-code');
    expect(await codeField.getAttribute('inputmode')).toBe('numeric');
    expect(await focusedId(page)).toBe('code');
    const code = await latestCode(host, email);
    // The demo page shows the same code from the dev outbox.
    expect(await page.locator('#outbox-code').textContent()).toBe(code);
    await screenshot(page, '2-enter-code');

    await typeCodeAndSignIn(page, code);
    await element.getByRole('button', { name: 'Sign out' }).waitFor();
    expect(await element.getByText('You are signed in as').textContent()).toBe(`You are signed in as ${email}.`);
    expect(await page.locator('#session-name').textContent()).toBe('Rita Redeem');
    const events = await signedInEvents(page);
    expect(events).toHaveLength(1);
    expect(events[0]!.user).toMatchObject({ email, source: 'OTP' });
    const token = events[0]!.token;
    expect((await sessionCheck(host, tenant.id, token)).status).toBe(200);
    const storage = await page.evaluate(() => ({ session: Object.keys(sessionStorage), local: Object.keys(localStorage) }));
    expect(storage.session).toEqual([`guestpass.session:${host.baseUrl}/api:${tenant.id}`]);
    // localStorage keeps the device alone, never a token.
    expect(storage.local).toEqual([`guestpass.device:${tenant.id}:${email}`]);
    const device = await page.evaluate((key) => localStorage.getItem(key), storage.local[0]!);
    expect(device).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(sent.map((body) => [body.invitation, body.device])).toEqual([[invitation, undefined], [invitation, undefined]]);
    await screenshot(page, '3-signed-in');

    await page.reload();
    await element.getByRole('button', { name: 'Sign out' }).waitFor();
    expect(await page.locator('#session-email').textContent()).toBe(email);
    const restored = await signedInEvents(page);
    expect(restored.map((event) => event.token)).toEqual([token]);

    await element.getByRole('button', { name: 'Sign out' }).click();
    await element.getByRole('status').filter({ hasText: 'You are signed out.' }).waitFor();
    await element.getByRole('button', { name: 'Send code' }).waitFor();
    expect(await focusedId(page)).toBe('send');
    expect(await page.locator('#session-panel').isHidden()).toBe(true);
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await expectError(await sessionCheck(host, tenant.id, token), 401, 'session_revoked');
    // Signed out, the next code is asked for with the device the browser kept.
    await pressSendCode(page);
    expect(sent.at(-1)).toMatchObject({ email, device });
  });

  it('a wrong code shows its message and keeps the guest on the code screen, using the keyboard only', async () => {
    const email = 'wrong.browser@example.com';
    const page = await openPage(await invite(email));
    const element = signInElement(page);
    await element.getByRole('button', { name: 'Send code' }).waitFor();
    await element.getByRole('button', { name: 'Send code' }).focus();
    await page.keyboard.press('Enter');
    await element.getByRole('heading', { name: 'Enter code' }).waitFor();
    expect(await focusedId(page)).toBe('code');
    const code = await latestCode(host, email);

    await page.keyboard.type(wrongCode(code));
    await page.keyboard.press('Enter');
    await expectAlert(page, "That code isn't right. Check the newest email and try again.");
    expect(await element.getByLabel('Code', { exact: true }).getAttribute('aria-invalid')).toBe('true');
    expect(await focusedId(page)).toBe('code');
    await screenshot(page, '4-wrong-code');

    // The field is selected, so typing replaces the wrong code.
    await page.keyboard.type(code);
    await page.keyboard.press('Enter');
    await element.getByRole('button', { name: 'Sign out' }).waitFor();
    expect(await focusedId(page)).toBe('heading');
  });

  it('resend counts down visibly and then sends a new code that signs in', async () => {
    const email = 'resend.browser@example.com';
    const page = await openPage(await invite(email));
    const element = signInElement(page);
    await pressSendCode(page);
    const resend = element.locator('#resend');
    expect(await resend.isDisabled()).toBe(true);
    expect(await resend.textContent()).toMatch(/^Resend code in [1-3] s$/);

    await element.getByRole('button', { name: 'Resend code', exact: true }).waitFor();
    expect(await resend.isEnabled()).toBe(true);
    await resend.click();
    await element.getByRole('status').filter({ hasText: 'A new code is on its way. Only the newest code works.' }).waitFor();
    expect(await resend.textContent()).toMatch(/^Resend code in [1-3] s$/);
    expect((await outbox(host, email)).filter((mail) => mail.kind === 'code')).toHaveLength(2);

    await typeCodeAndSignIn(page, await latestCode(host, email));
    await element.getByRole('button', { name: 'Sign out' }).waitFor();
  });

  it('asking for another code too soon says how long to wait', async () => {
    const email = 'soon.browser@example.com';
    const page = await openPage(await invite(email));
    await pressSendCode(page);
    await signInElement(page).getByRole('button', { name: 'Use another email address' }).click();
    expect(await focusedId(page)).toBe('email');
    expect(await signInElement(page).getByLabel('Email address').inputValue()).toBe(email);
    await signInElement(page).getByRole('button', { name: 'Send code' }).click();
    await expectAlert(page, 'Please wait before asking for another code. You can try again in');
    expect(await signInElement(page).getByRole('alert').textContent()).toMatch(/try again in [1-3] seconds?\.$/);
  });

  it('too many wrong codes are refused with their own message', async () => {
    const email = 'attempts.browser@example.com';
    const page = await openPage(await invite(email));
    await pressSendCode(page);
    const wrong = wrongCode(await latestCode(host, email));
    for (let attempt = 1; attempt <= 5; attempt += 1) {
      await typeCodeAndSignIn(page, wrong);
      await expectAlert(page, "That code isn't right.");
    }
    await typeCodeAndSignIn(page, wrong);
    await expectAlert(page, 'Too many wrong codes. Ask for a new code later.');
  });

  it('an expired code is refused with its own message', async () => {
    const shortTenant = await createTenant(shortCodeHost);
    const email = 'expired.browser@example.com';
    await inviteGuest(shortCodeHost, shortTenant.id, email);
    const page = await openPage(redeemPage(shortCodeHost, shortTenant.id, email));
    await pressSendCode(page);
    const code = await latestCode(shortCodeHost, email);
    await new Promise((r) => setTimeout(r, 3100));
    await typeCodeAndSignIn(page, code);
    await expectAlert(page, 'That code has expired. Ask for a new code.');
  });

  it('a guest who signs in with Google is told to use Google', async () => {
    const federated = await createTenant(host, { googleFederation: true });
    await inviteGuest(host, federated.id, 'someone.browser@gmail.com');
    const page = await openPage(redeemPage(host, federated.id, 'someone.browser@gmail.com'));
    // Told once it enters the code mailed to it: send-code answers every address alike.
    await pressSendCode(page);
    await typeCodeAndSignIn(page, await latestCode(host, 'someone.browser@gmail.com'));
    await expectAlert(page, 'This address signs in with Google, not with an email code.');
  });

  it('with email codes turned off, an OTP guest and a new guest each get their message', async () => {
    const otpGuest = 'off.otp.browser@example.com';
    await invite(otpGuest);
    await signIn(host, tenant.id, otpGuest);
    const page = await openPage(redeemPage(otpOffHost, tenant.id, otpGuest));
    await signInElement(page).getByRole('button', { name: 'Send code' }).click();
    await expectAlert(page, 'Sign-in with an email code is turned off for this organisation. Contact the person who invited you.');

    const newGuest = 'off.new.browser@example.com';
    await invite(newGuest);
    const second = await openPage(redeemPage(otpOffHost, tenant.id, newGuest));
    await signInElement(second).getByRole('button', { name: 'Send code' }).click();
    await expectAlert(second, 'There is no way to sign in with this address. Contact the person who invited you.');
  });

  it('speaks Swedish from its lang attribute and German from the browser language', async () => {
    const email = 'sprache.browser@example.com';
    await invite(email);
    const swedish = await openPage(redeemPage(host, tenant.id, email, { lang: 'sv' }));
    const svElement = signInElement(swedish);
    await svElement.getByRole('heading', { name: 'Logga in' }).waitFor();
    expect(await svElement.getByText('Vi skickar en kod till').textContent()).toBe(`Vi skickar en kod till ${email} så att du kan logga in.`);
    await screenshot(swedish, '5-swedish');
    await svElement.getByRole('button', { name: 'Skicka kod' }).click();
    await svElement.getByRole('heading', { name: 'Ange kod' }).waitFor();
    await svElement.getByLabel('Kod', { exact: true }).fill(wrongCode(await latestCode(host, email)));
    await svElement.getByRole('button', { name: 'Logga in' }).click();
    await expectAlert(swedish, 'Koden stämmer inte. Kontrollera det senaste mejlet och försök igen.');

    const german = await openPage(redeemPage(host, tenant.id, email), { locale: 'de-DE' });
    await signInElement(german).getByRole('heading', { name: 'Anmelden' }).waitFor();
    await signInElement(german).getByRole('button', { name: 'Code senden' }).waitFor();
    await screenshot(german, '6-german');
  });

  it('the demo page at / signs the demo guest in, showing the code from the dev outbox', async () => {
    await inviteGuest(host, tenant.id, DEMO_GUEST, { inviteRedirectUrl: `${host.baseUrl}/` });
    const page = await openPage(`${host.baseUrl}/`);
    const element = signInElement(page);
    expect(await element.getByText('We will send a code to').textContent()).toBe(`We will send a code to ${DEMO_GUEST} to sign you in.`);
    expect(await page.getByRole('link', { name: 'dev outbox' }).getAttribute('href')).toBe(`${host.baseUrl}/api/dev/outbox`);
    await pressSendCode(page);
    const code = (await page.locator('#outbox-code').textContent())!;
    expect(code).toMatch(/^\d{8}$/);
    await typeCodeAndSignIn(page, code);
    await page.locator('#session-panel').waitFor();
    expect(await page.locator('#session-email').textContent()).toBe(DEMO_GUEST);
    expect(await page.locator('#tenant-name').textContent()).toBe(DEMO_DOMAIN);
  });

  it("an SPA on another origin in the tenant's allowedOrigins signs in across CORS; an origin not allowed cannot", async () => {
    const spaOrigin = shortCodeHost.baseUrl;
    const corsTenant = await createTenant(host, { allowedOrigins: [spaOrigin] });
    const email = 'cors.browser@example.com';
    await inviteGuest(host, corsTenant.id, email);
    const page = await openPage(redeemPage(shortCodeHost, corsTenant.id, email, { api: `${host.baseUrl}/api` }));
    await pressSendCode(page);
    await typeCodeAndSignIn(page, await latestCode(host, email));
    await signInElement(page).getByRole('button', { name: 'Sign out' }).waitFor();
    // A reload runs session-check, whose Authorization header needs a CORS preflight.
    await page.reload();
    await signInElement(page).getByRole('button', { name: 'Sign out' }).waitFor();

    const elsewhere = await openPage(redeemPage(otpOffHost, corsTenant.id, email, { api: `${host.baseUrl}/api` }));
    await signInElement(elsewhere).getByRole('button', { name: 'Send code' }).click();
    await expectAlert(elsewhere, "We can't reach the sign-in service. Check your connection and try again.");
  });
});
