import dns2 from 'dns2';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BULK_INVITE_HEADERS, parseBulkInviteResultsCsv } from '../lib/admin/bulkInviteCsv.js';
import { launchChromium } from '../scripts/chromium.js';
import { docsPicture } from './screenshots.js';
import {
  createTenant, expectError, inviteGuest, latestCode, outbox, sendCode, sessionCheck, signIn, startHost, verifyCode, FUNCTION_KEY,
  type TestHost, type TestTenant,
} from './helpers.js';

/*
 * The operator console (/api/manage/console) in Chromium (scripts/chromium.ts) through playwright-core,
 * against the built app under the local host. axe-core runs on every page; a CSP
 * violation or an error thrown in the page fails the test that caused it. The
 * screenshots of the Guests, Bulk invite and Sign-in logs pages are docs/operating.md's
 * (written there only by `npm run screenshots`, test/screenshots.ts).
 */
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

let browser: Browser;
let host: TestHost;
/** TXT records the test DNS server answers (the host resolves through it, DNS_SERVERS). */
const txtRecords = new Map<string, string[]>();
let dnsServer: ReturnType<typeof dns2.createServer>;
let tenant: TestTenant;
const contexts: BrowserContext[] = [];
const pageErrors: string[] = [];

beforeAll(async () => {
  browser = await launchChromium();
  dnsServer = dns2.createServer({
    udp: true,
    handle: (request, send) => {
      const response = dns2.Packet.createResponseFromRequest(request);
      const name = request.questions[0]?.name ?? '';
      for (const data of txtRecords.get(name.toLowerCase()) ?? []) {
        response.answers.push({ name, type: dns2.Packet.TYPE.TXT, class: dns2.Packet.CLASS.IN, ttl: 1, data } as never);
      }
      send(response);
    },
  });
  const listening = await dnsServer.listen({ udp: { port: 0, address: '127.0.0.1' } });
  const dnsPort = (listening.udp as AddressInfo).port;
  // Policy changes reach session-check at once (no tenant cache), as the OTP switch test needs.
  // Domains are verified by their TXT records in the test DNS server, not trusted as in other suites.
  host = await startHost({ TENANT_CACHE_SECONDS: '0', DNS_SERVERS: `127.0.0.1:${dnsPort}`, DEV_TRUST_DOMAINS: 'false' });
  tenant = await consoleTenant('Contoso');
});

afterEach(async () => {
  const violations = await Promise.all(contexts.flatMap((context) => context.pages().map((page) => cspViolations(page).catch(() => []))));
  await Promise.all(contexts.splice(0).map((context) => context.close()));
  expect(violations.flat(), 'Content-Security-Policy violations').toEqual([]);
  expect(pageErrors.splice(0), 'errors thrown in the page').toEqual([]);
});

afterAll(async () => {
  await browser?.close();
  await host?.stop();
  await dnsServer?.close();
});

/** A tenant whose invitations lead back to the host's own page. */
function consoleTenant(displayName: string): Promise<TestTenant> {
  return createTenant(host, { displayName, allowedOrigins: [host.baseUrl], redirectUris: [`${host.baseUrl}/`] });
}

function recordCspViolations(): void {
  const seen: string[] = [];
  (window as unknown as { cspViolations: string[] }).cspViolations = seen;
  document.addEventListener('securitypolicyviolation', (event) => seen.push(`${event.violatedDirective} ${event.blockedURI}`));
}

function cspViolations(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { cspViolations?: string[] }).cspViolations ?? []);
}

async function openConsole(options: { locale?: string; path?: string } = {}): Promise<Page> {
  const context = await browser.newContext({ locale: options.locale ?? 'en-US', viewport: { width: 1280, height: 800 }, acceptDownloads: true });
  context.setDefaultTimeout(10_000);
  await context.addInitScript(recordCspViolations);
  contexts.push(context);
  const page = await context.newPage();
  page.on('pageerror', (error) => pageErrors.push(error.message));
  await page.goto(`${host.baseUrl}/api/manage/console/${options.path ?? ''}`);
  return page;
}

/** Signs in with a credential; an operator then opens the tenant by its id. */
async function signInToConsole(credential: string, tenantId?: string, options: { locale?: string } = {}): Promise<Page> {
  const page = await openConsole(options);
  await page.getByLabel('Admin key or operator key').fill(credential);
  await page.getByRole('button', { name: 'Sign in' }).click();
  if (tenantId) {
    await page.getByRole('heading', { name: 'Tenants', level: 1 }).waitFor();
    await page.getByLabel('Tenant id or domain').fill(tenantId);
    await page.getByLabel('Tenant id or domain').press('Enter');
  }
  await page.getByRole('heading', { name: 'Guests', level: 1 }).waitFor();
  await page.locator('main table, main .empty').first().waitFor();
  return page;
}

async function goTo(page: Page, link: string, heading = link): Promise<void> {
  await page.getByRole('navigation').getByRole('link', { name: link }).click();
  await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
  await page.locator('main .loading').waitFor({ state: 'detached' });
}

/** axe-core's violations on the page as it is now (rule id and the elements). */
async function axeViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(context: Document, options: object): Promise<{ violations: { id: string; help: string; nodes: { target: string[] }[] }[] }> } }).axe;
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => `${v.id} (${v.help}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  });
  return violations;
}

async function createKey(tenantId: string, name: string, credential = FUNCTION_KEY): Promise<{ id: string; key: string }> {
  const response = await fetch(`${host.baseUrl}/api/manage/tenants/${tenantId}/keys`, {
    method: 'POST',
    headers: { 'x-functions-key': credential, 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  });
  expect(response.status).toBe(201);
  return (await response.json()) as { id: string; key: string };
}

/** A management call from inside the page, with the credential the console keeps. */
function fetchAsConsole(page: Page, path: string): Promise<{ status: number; body: { error?: string } }> {
  return page.evaluate(async (url) => {
    const response = await fetch(url, { headers: { 'x-functions-key': sessionStorage.getItem('guestpass.console.credential') ?? '' } });
    return { status: response.status, body: (await response.json()) as { error?: string } };
  }, `${host.baseUrl}/api/manage${path}`);
}

function rowOf(page: Page, text: string) {
  return page.locator('main tbody tr').filter({ hasText: text });
}

describe('the operator console in Chromium', () => {
  it('is served by the function app with a strict Content-Security-Policy, gzipped, its files content-hashed', async () => {
    const bare = await fetch(`${host.baseUrl}/api/manage/console`, { redirect: 'manual' });
    expect(bare.status).toBe(308);
    expect(bare.headers.get('location')).toBe('console/');
    const page = await fetch(`${host.baseUrl}/api/manage/console/`, { headers: { 'accept-encoding': 'gzip' } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-encoding')).toBe('gzip');
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toMatch(/https?:/);
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    const html = await page.text();
    expect(html).not.toMatch(/<script>|<style>|\sstyle=|\son\w+=/);
    const script = /src="(console-[A-Z0-9]+\.js)"/.exec(html)![1]!;
    const style = /href="(console-style-[A-Z0-9]+\.css)"/.exec(html)![1]!;
    for (const file of [script, style]) {
      const asset = await fetch(`${host.baseUrl}/api/manage/console/${file}`, { headers: { 'accept-encoding': 'identity' } });
      expect(asset.status).toBe(200);
      expect(asset.headers.get('content-encoding')).toBeNull();
      expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    }
    await expectError(await fetch(`${host.baseUrl}/api/manage/console/nothing-here.js`), 404, 'console_file_not_found');
  });

  it('signs in with a key kept in sessionStorage only, keeps it over a reload, and signs out', async () => {
    const page = await openConsole();
    await page.getByLabel('Admin key or operator key').fill('not-the-key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'That key was not accepted.' }).waitFor();
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);

    await page.getByLabel('Admin key or operator key').fill(FUNCTION_KEY);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Tenants', level: 1 }).waitFor();
    const stored = await page.evaluate(() => ({ session: Object.entries(sessionStorage), local: localStorage.length, cookie: document.cookie }));
    expect(stored.session).toEqual([['guestpass.console.credential', FUNCTION_KEY]]);
    expect(stored.local).toBe(0);
    expect(stored.cookie).toBe('');
    expect(page.url()).not.toContain(FUNCTION_KEY);

    await page.reload();
    await page.getByRole('heading', { name: 'Tenants', level: 1 }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('status').filter({ hasText: 'You are signed out.' }).waitFor();
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await page.reload();
    await page.getByLabel('Admin key or operator key').waitFor();
  });

  it('with a tenant admin key, invites a guest, who gets the mail and shows in the list; resends, resets the redemption, and deletes after confirmation', async () => {
    const page = await signInToConsole((await createKey(tenant.id, 'helpdesk')).key);
    const invite = page.getByRole('form', { name: 'Invite a guest' });
    await invite.getByLabel('Email', { exact: true }).fill('ivy.invited@example.com');
    await invite.getByLabel('Display name').fill('Ivy Invited');
    await invite.getByRole('button', { name: 'Invite' }).click();
    await invite.getByRole('status').filter({ hasText: 'Invited ivy.invited@example.com.' }).waitFor();
    expect(await invite.locator('.redeem-url').textContent()).toMatch(new RegExp(`^${host.baseUrl}/\\?tenant=${tenant.id}&login_hint=ivy\\.invited%40example\\.com&invitation=[A-Za-z0-9_-]{32}$`));
    await rowOf(page, 'ivy.invited@example.com').waitFor();
    expect(await rowOf(page, 'ivy.invited@example.com').locator('td').allTextContents()).toEqual(
      expect.arrayContaining(['Ivy Invited', 'ivy.invited@example.com', 'not yet', 'Pending acceptance']),
    );
    expect((await outbox(host, 'ivy.invited@example.com')).filter((mail) => mail.kind === 'invitation')).toHaveLength(1);
    // The second invitation from the same form is mailed too (form.reset() keeps the box checked).
    expect(await invite.getByLabel('Send the invitation email').isChecked()).toBe(true);
    await invite.getByLabel('Email', { exact: true }).fill('ian.second@example.com');
    await invite.getByRole('button', { name: 'Invite' }).click();
    await invite.getByRole('status').filter({ hasText: 'Invited ian.second@example.com.' }).waitFor();
    expect((await outbox(host, 'ian.second@example.com')).filter((mail) => mail.kind === 'invitation')).toHaveLength(1);

    await page.getByRole('button', { name: 'Resend the invitation to ivy.invited@example.com' }).click();
    await page.getByRole('status').filter({ hasText: 'The invitation was sent to ivy.invited@example.com again.' }).waitFor();
    expect((await outbox(host, 'ivy.invited@example.com')).filter((mail) => mail.kind === 'invitation')).toHaveLength(2);

    // A guest who redeemed with OTP is reset: back to pending, the source cleared.
    await signIn(host, tenant.id, 'ivy.invited@example.com');
    await page.getByRole('button', { name: 'Apply' }).click();
    await rowOf(page, 'ivy.invited@example.com').filter({ hasText: 'Accepted' }).waitFor();
    expect(await rowOf(page, 'ivy.invited@example.com').locator('.badge').textContent()).toBe('OTP');
    await page.getByRole('button', { name: 'Reset redemption of ivy.invited@example.com' }).click();
    await rowOf(page, 'ivy.invited@example.com').filter({ hasText: 'Pending acceptance' }).waitFor();

    // Block sign-in after confirmation; the Sign-in column says so; Unblock gives it back.
    await page.getByRole('button', { name: 'Block sign-in of ivy.invited@example.com' }).click();
    await page.getByRole('dialog', { name: /^Block sign-in of ivy\.invited@example\.com\?/ }).getByRole('button', { name: 'Block sign-in' }).click();
    await page.getByRole('status').filter({ hasText: 'ivy.invited@example.com can no longer sign in.' }).waitFor();
    await rowOf(page, 'ivy.invited@example.com').locator('.badge.blocked', { hasText: 'Blocked' }).waitFor();
    expect((await (await host.manage(`/tenants/${tenant.id}/users?search=ivy.invited%40example.com`)).json()).value[0].accountEnabled).toBe(false);
    await page.getByRole('button', { name: 'Let ivy.invited@example.com sign in again' }).click();
    await page.getByRole('status').filter({ hasText: 'ivy.invited@example.com can sign in again.' }).waitFor();
    await rowOf(page, 'ivy.invited@example.com').filter({ hasText: 'Allowed' }).waitFor();

    await page.getByRole('button', { name: 'Delete ivy.invited@example.com' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete ivy.invited@example.com? Their sessions end at once.' });
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    expect(await rowOf(page, 'ivy.invited@example.com').count()).toBe(1);
    await page.getByRole('button', { name: 'Delete ivy.invited@example.com' }).click();
    await dialog.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('status').filter({ hasText: 'ivy.invited@example.com was deleted.' }).waitFor();
    await rowOf(page, 'ivy.invited@example.com').waitFor({ state: 'detached' });
  });

  it('filters guests by source and state and pages through more than a page of them', async () => {
    const crowded = await consoleTenant('Crowded');
    await Promise.all(Array.from({ length: 51 }, (_, i) => inviteGuest(host, crowded.id, `crowd${String(i).padStart(2, '0')}@example.com`, { inviteRedirectUrl: `${host.baseUrl}/` })));
    await signIn(host, crowded.id, 'crowd07@example.com');
    const page = await signInToConsole(FUNCTION_KEY, crowded.id);
    expect(await page.locator('main tbody tr').count()).toBe(50);
    await page.getByRole('button', { name: 'Next page' }).click();
    await page.getByText('Page 2').waitFor();
    expect(await page.locator('main tbody tr').count()).toBe(1);
    expect(await page.getByRole('button', { name: 'Next page' }).isDisabled()).toBe(true);
    await page.getByRole('button', { name: 'Previous page' }).click();
    await page.getByText('Page 1').waitFor();
    expect(await page.locator('main tbody tr').count()).toBe(50);

    await page.getByLabel('Source').selectOption('OTP');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.locator('main tbody tr').nth(1).waitFor({ state: 'detached' });
    expect(await page.locator('main tbody tr td:nth-child(2)').allTextContents()).toEqual(['crowd07@example.com']);
    await page.getByLabel('Source').selectOption('');
    await page.getByLabel('State', { exact: true }).selectOption('PendingAcceptance');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.getByText('Page 1').waitFor();
    await expect.poll(() => page.locator('main tbody tr').count()).toBe(50);
    expect(await page.locator('main tbody tr').filter({ hasText: 'crowd07@example.com' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Next page' }).isDisabled()).toBe(true);
    await page.getByLabel('Search by address').fill('crowd07@example.com');
    await page.getByLabel('State', { exact: true }).selectOption('');
    await page.getByRole('button', { name: 'Apply' }).click();
    await expect.poll(() => page.locator('main tbody tr td:nth-child(2)').allTextContents()).toEqual(['crowd07@example.com']);
  });

  it('bulk-invites from Entra’s CSV template, showing each good and bad row’s result, and downloads the results', async () => {
    const bulk = await consoleTenant('Bulk');
    const redirect = `${host.baseUrl}/`;
    const csv = [
      'version:v1.0',
      BULK_INVITE_HEADERS.map((header) => `"${header}"`).join(','),
      `bulk.one@example.com,${redirect},true,Welcome aboard`,
      `not-an-address,${redirect},true,`,
      'bulk.elsewhere@example.com,https://evil.example/landing,false,',
      `bulk.maybe@example.com,${redirect},maybe,`,
      `bulk.two@example.com,${redirect},false,`,
      `Bulk.One@Example.com,${redirect},true,The same guest again`,
    ].join('\r\n');
    const page = await signInToConsole((await createKey(bulk.id, 'helpdesk')).key);
    await goTo(page, 'Bulk invite');
    await page.getByLabel('CSV file').setInputFiles({ name: 'BulkInvite.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    await page.getByText('6 rows: 3 to invite, 1 skipped, 2 with errors.').waitFor();
    await page.getByRole('button', { name: 'Invite the guests' }).click();
    await page.getByText('Finished: 2 succeeded, 3 failed, 1 skipped, 6 total.').waitFor();
    const rows = await page.locator('main tbody tr').evaluateAll((trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => td.textContent)));
    expect(rows.map(([row, email, status]) => [row, email, status])).toEqual([
      ['3', 'bulk.one@example.com', 'Succeeded'],
      ['4', 'not-an-address', 'Failed'],
      ['5', 'bulk.elsewhere@example.com', 'Failed'],
      ['6', 'bulk.maybe@example.com', 'Failed'],
      ['7', 'bulk.two@example.com', 'Succeeded'],
      ['8', 'Bulk.One@Example.com', 'Skipped'],
    ]);
    expect(rows[5]![3]).toBe('same as row 3');
    expect(rows[1]![3]).toContain('is not an email address');
    expect(rows[2]![3]).toBe('The redirect URL is not one of the tenant’s redirect URIs.');
    expect(rows[3]![3]).toContain('Send invitation message must be true or false');
    await page.screenshot({ path: docsPicture('console', 'console-bulk-invite.png') });

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download results' }).click()]);
    const results = parseBulkInviteResultsCsv(readFileSync((await download.path())!, 'utf8'));
    expect(results.map((r) => [r.row, r.email, r.status])).toEqual(rows.map(([row, email, status]) => [Number(row), email, status]));
    const invited = (await (await host.manage(`/tenants/${bulk.id}/users`)).json()) as { value: { email: string; id: string }[] };
    expect(invited.value.map((guest) => guest.email).sort()).toEqual(['bulk.one@example.com', 'bulk.two@example.com']);
    expect(results.find((r) => r.email === 'bulk.one@example.com')!.invitedUserId).toBe(invited.value.find((g) => g.email === 'bulk.one@example.com')!.id);
    expect((await outbox(host, 'bulk.one@example.com')).map((mail) => mail.kind)).toEqual(['invitation']);
    expect(await outbox(host, 'bulk.two@example.com')).toEqual([]);

    // The same file again: the guests are already invited, so nobody is invited or mailed twice.
    await page.getByLabel('CSV file').setInputFiles({ name: 'BulkInvite.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    await page.getByText('6 rows: 3 to invite, 1 skipped, 2 with errors.').waitFor();
    await page.getByRole('button', { name: 'Invite the guests' }).click();
    await page.getByText('Finished: 0 succeeded, 3 failed, 3 skipped, 6 total.').waitFor();
    const again = await page.locator('main tbody tr').evaluateAll((trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => td.textContent)));
    expect(again.filter(([, , status]) => status === 'Skipped').map(([row, , , detail]) => [row, detail])).toEqual([['3', 'already invited'], ['7', 'already invited'], ['8', 'same as row 3']]);
    expect((await outbox(host, 'bulk.one@example.com')).map((mail) => mail.kind)).toEqual(['invitation']);
  });

  it('switches email one-time passcodes off and on in the organisation-default policy: a signed-in OTP guest is refused, then accepted', async () => {
    const switched = await consoleTenant('Switched');
    const email = 'otto.otp@example.com';
    await inviteGuest(host, switched.id, email, { inviteRedirectUrl: `${host.baseUrl}/` });
    const { token } = await signIn(host, switched.id, email);
    expect((await sessionCheck(host, switched.id, token)).status).toBe(200);

    const page = await signInToConsole((await createKey(switched.id, 'helpdesk')).key);
    await goTo(page, 'Settings');
    // A deny list first: the switch must keep it when it rewrites the policy.
    const restrictions = page.getByRole('region', { name: 'Collaboration restrictions' });
    await restrictions.getByRole('radio', { name: 'Any domain except those listed (deny list)' }).check();
    await restrictions.getByLabel('Domains', { exact: true }).fill('blocked.example\nalso-blocked.example');
    await restrictions.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();

    const otp = page.getByRole('region', { name: 'Email one-time passcode' });
    const group = otp.getByRole('group', { name: 'Email one-time passcode for guests' });
    expect(await group.getByRole('radio', { name: 'Yes' }).isChecked()).toBe(true);
    await group.getByRole('radio', { name: 'No' }).check();
    await otp.getByRole('button', { name: 'Save' }).click();
    await otp.getByText('Off: the organisation-default B2BManagementPolicy does not list OneTimePasscode.').waitFor();
    await expectError(await sessionCheck(host, switched.id, token), 403, 'otp_disabled');
    await expectError(await sendCode(host, switched.id, email), 403, 'otp_disabled');

    await group.getByRole('radio', { name: 'Yes' }).check();
    await otp.getByRole('button', { name: 'Save' }).click();
    await otp.getByText('On: the organisation-default B2BManagementPolicy lists OneTimePasscode.').waitFor();
    expect((await sessionCheck(host, switched.id, token)).status).toBe(200);

    const policies = (await (await host.manage(`/tenants/${switched.id}/policies`)).json()) as { value: { type: string; isOrganizationDefault: boolean; definition: string[] }[] };
    expect(policies.value).toHaveLength(1);
    expect(policies.value[0]).toMatchObject({ type: 'B2BManagementPolicy', isOrganizationDefault: true });
    expect(JSON.parse(policies.value[0]!.definition[0]!)).toEqual({
      B2BManagementPolicy: {
        PreviewPolicy: { Features: ['OneTimePasscode'] },
        InvitationsAllowedAndBlockedDomainsPolicy: { BlockedDomains: ['blocked.example', 'also-blocked.example'] },
      },
    });
    // The page shows what it wrote after a reload.
    await page.reload();
    await page.getByRole('heading', { name: 'Settings', level: 1 }).waitFor();
    expect(await page.getByRole('radio', { name: 'Any domain except those listed (deny list)' }).isChecked()).toBe(true);
    expect(await page.getByRole('group', { name: 'Email one-time passcode for guests' }).getByRole('radio', { name: 'Yes' }).isChecked()).toBe(true);
  });

  it('filters the sign-in log by guest, outcome and time, under a chart of the last week', async () => {
    const logged = await consoleTenant('Logged');
    for (const email of ['lena.log@example.com', 'olof.other@example.com']) await inviteGuest(host, logged.id, email, { inviteRedirectUrl: `${host.baseUrl}/` });
    await sendCode(host, logged.id, 'lena.log@example.com');
    const code = await latestCode(host, 'lena.log@example.com');
    await verifyCode(host, logged.id, 'lena.log@example.com', code === '00000000' ? '11111111' : '00000000');
    await verifyCode(host, logged.id, 'lena.log@example.com', code);
    await signIn(host, logged.id, 'olof.other@example.com');

    const page = await signInToConsole((await createKey(logged.id, 'helpdesk')).key);
    await goTo(page, 'Sign-in logs');
    const chart = page.getByRole('img', { name: 'Codes sent, sign-ins and failures per hour over the last 7 days' });
    await chart.waitFor();
    expect(await page.locator('.chart .chart-desc').textContent()).toMatch(/^In total 2 codes sent, 2 sign-ins and 1 failures\. Most failures: 1 in the hour from /);
    // Drawn by uPlot on a canvas as wide as the card, its description read by screen readers.
    expect(await page.locator('.chart canvas').count()).toBe(1);
    expect(await page.locator('.chart canvas').evaluate((canvas) => canvas.getBoundingClientRect().width)).toBeGreaterThan(400);
    // Tiles with the period's totals, and a period picker: 24 hours redraws the chart and tiles.
    const tiles = page.getByRole('list', { name: 'Totals for the period' });
    expect(await tiles.locator('li').allTextContents()).toEqual(['2Sign-ins', '1Failures', '2Codes sent', '0Step-ups', '0Mails failed', '0Refused']);
    await page.getByLabel('Chart period').selectOption({ label: 'Last 24 hours' });
    await page.getByRole('img', { name: 'Codes sent, sign-ins and failures per hour over the last 24 hours' }).waitFor();
    await page.getByRole('heading', { name: 'Last 24 hours', level: 2 }).waitFor();
    expect(await tiles.locator('li').allTextContents()).toEqual(['2Sign-ins', '1Failures', '2Codes sent', '0Step-ups', '0Mails failed', '0Refused']);
    await page.getByLabel('Chart period').selectOption({ label: 'Last 30 days' });
    await page.getByRole('img', { name: 'Codes sent, sign-ins and failures per hour over the last 30 days' }).waitFor();
    await page.getByLabel('Chart period').selectOption({ label: 'Last 7 days' });
    await chart.waitFor();
    const entries = page.getByRole('region', { name: 'Sign-in log entries' });
    expect(await entries.locator('tbody tr').count()).toBe(5);
    await page.screenshot({ path: docsPicture('console', 'console-sign-in-logs.png'), fullPage: true });

    await entries.getByLabel('Guest').fill('lena.log@example.com');
    await entries.getByRole('button', { name: 'Apply' }).click();
    await page.getByRole('status').filter({ hasText: 'The sign-in log is filtered.' }).waitFor();
    const cells = () => entries.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td')).slice(1, 4).map((td) => td.textContent)));
    expect(await cells()).toEqual([
      ['lena.log@example.com', 'verify-code', 'Signed in'],
      ['lena.log@example.com', 'verify-code', 'Wrong code'],
      ['lena.log@example.com', 'send-code', 'Code sent'],
    ]);
    await entries.getByLabel('Outcome').selectOption({ label: 'Wrong code' });
    await entries.getByRole('button', { name: 'Apply' }).click();
    await expect.poll(cells).toEqual([['lena.log@example.com', 'verify-code', 'Wrong code']]);
    await entries.getByLabel('Guest').fill('');
    await entries.getByLabel('Outcome').selectOption({ label: 'Signed in' });
    await entries.getByLabel('Time range').selectOption({ label: 'Last hour' });
    await entries.getByRole('button', { name: 'Apply' }).click();
    await expect.poll(async () => (await cells()).map((row) => row[0]).sort()).toEqual(['lena.log@example.com', 'olof.other@example.com']);
    await entries.getByLabel('Guest').fill('nobody@example.com');
    await entries.getByRole('button', { name: 'Apply' }).click();
    await entries.getByRole('alert').filter({ hasText: 'No guest has the address nobody@example.com.' }).waitFor();
  });

  it('is usable by keyboard alone: sign in, move between pages, invite, and cancel or confirm a deletion', async () => {
    const keyboardTenant = await consoleTenant('Keyboard');
    const page = await openConsole();
    await page.keyboard.type(FUNCTION_KEY);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Tenants', level: 1 }).waitFor();
    await page.getByLabel('Tenant id or domain').focus();
    await page.keyboard.type(keyboardTenant.id);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Guests', level: 1 }).waitFor();
    await page.locator('main .empty').waitFor();

    // The page's heading has focus after each navigation; the next stop is the page's first field.
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Guests');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => (document.activeElement as HTMLInputElement).type)).toBe('email');
    await page.keyboard.type('kay.keys@example.com');
    await page.keyboard.press('Enter');
    await rowOf(page, 'kay.keys@example.com').waitFor();

    await page.getByRole('button', { name: 'Delete kay.keys@example.com' }).focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Cancel');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe('Delete kay.keys@example.com');
    await page.keyboard.press('Enter');
    await page.keyboard.press('Shift+Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Delete');
    await page.keyboard.press('Enter');
    await page.locator('main .empty').waitFor();

    // Every link of the navigation by Tab and Enter.
    await page.getByRole('navigation').getByRole('link', { name: 'Settings' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Settings', level: 1 }).waitFor();
    await expect.poll(() => page.evaluate(() => document.activeElement?.tagName)).toBe('H1');
  });

  it('reaches any row action with one Tab and the arrow keys, not a Tab per row', async () => {
    const many = await consoleTenant('Many');
    await Promise.all(Array.from({ length: 30 }, (_, i) => inviteGuest(host, many.id, `row${String(i).padStart(2, '0')}@example.com`, { inviteRedirectUrl: `${host.baseUrl}/` })));
    const page = await signInToConsole((await createKey(many.id, 'keyboard')).key);
    await rowOf(page, 'row29@example.com').waitFor();
    await page.getByRole('button', { name: 'Apply' }).focus();
    await page.keyboard.press('Tab');
    const focused = () => page.evaluate(() => document.activeElement?.getAttribute('aria-label'));
    expect(await focused()).toBe('Resend the invitation to row00@example.com');
    await page.keyboard.press('End');
    expect(await focused()).toBe('Resend the invitation to row29@example.com');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    expect(await focused()).toBe('Delete row29@example.com');
    await page.keyboard.press('ArrowUp');
    expect(await focused()).toBe('Delete row28@example.com');
    // One more Tab leaves the table: the actions are a single stop.
    await page.keyboard.press('Tab');
    expect(await focused() ?? '').not.toMatch(/row\d\d@example\.com/);
    await page.keyboard.press('Shift+Tab');
    expect(await focused()).toBe('Delete row28@example.com');
  });

  it('holds every page at 1366×768 in English, Swedish and German: nothing wider than the window, no label wider than the sidebar', async () => {
    const overflow: string[] = [];
    for (const lang of ['en', 'sv', 'de']) {
      const page = await signInToConsole(FUNCTION_KEY, tenant.id);
      await page.setViewportSize({ width: 1366, height: 768 });
      await page.getByLabel('Language').selectOption(lang);
      await expect.poll(() => page.evaluate(() => document.documentElement.lang)).toBe(lang);
      const links = await page.getByRole('navigation').getByRole('link').count();
      for (let index = 0; index < links; index += 1) {
        const link = page.getByRole('navigation').getByRole('link').nth(index);
        const name = (await link.textContent()) ?? '';
        await link.click();
        await page.getByRole('heading', { name, level: 1 }).waitFor();
        await page.locator('main .loading').waitFor({ state: 'detached' });
        const measured = await page.evaluate(() => ({
          page: document.documentElement.scrollWidth - window.innerWidth,
          nav: Array.from(document.querySelectorAll('nav a')).map((a) => a.scrollWidth - a.clientWidth).reduce((most, n) => Math.max(most, n), 0),
        }));
        if (measured.page > 0 || measured.nav > 0) overflow.push(`${lang} ${name}: page ${measured.page}px, sidebar ${measured.nav}px too wide`);
      }
    }
    expect(overflow).toEqual([]);
  });

  it('speaks Swedish and German', async () => {
    const swedish = await signInToConsole(FUNCTION_KEY, tenant.id);
    await swedish.getByLabel('Language').selectOption('sv');
    await swedish.getByRole('heading', { name: 'Gäster', level: 1 }).waitFor();
    await swedish.getByRole('link', { name: 'Massinbjudan' }).click();
    await swedish.getByRole('heading', { name: 'Massinbjudan', level: 1 }).waitFor();
    expect(await swedish.evaluate(() => document.documentElement.lang)).toBe('sv');
    expect(await axeViolations(swedish)).toEqual([]);

    const german = await openConsole({ locale: 'de-DE' });
    await german.getByRole('heading', { name: 'Bei der guestpass-Konsole anmelden' }).waitFor();
    await german.getByLabel('Administratorschlüssel oder Betreiberschlüssel').fill(FUNCTION_KEY);
    await german.getByRole('button', { name: 'Anmelden' }).click();
    await german.getByRole('heading', { name: 'Mandanten', level: 1 }).waitFor();
    expect(await german.evaluate(() => document.documentElement.lang)).toBe('de');
  });

  it('a tenant admin key runs its own tenant only: no tenant list, every other tenant unseen', async () => {
    const mine = await consoleTenant('Mine');
    const theirs = await consoleTenant('Theirs');
    await inviteGuest(host, theirs.id, 'their.guest@example.com', { inviteRedirectUrl: `${host.baseUrl}/` });
    const { key } = await createKey(mine.id, 'helpdesk');
    const page = await signInToConsole(key);
    expect(await page.locator('header .tenant').textContent()).toBe('Tenant: Mine');
    expect(await page.locator('header .who').textContent()).toBe('Admin key: helpdesk');
    expect(await page.getByRole('navigation').getByRole('link').allTextContents()).toEqual(['Guests', 'Bulk invite', 'App roles', 'Settings', 'Sign-in logs', 'Audit log', 'Admin keys', 'Webhooks']);
    await page.goto(`${host.baseUrl}/api/manage/console/#/tenants`);
    await page.getByRole('heading', { name: 'Guests', level: 1 }).waitFor();
    expect(await page.getByText('their.guest@example.com').count()).toBe(0);
    expect(await page.evaluate(() => sessionStorage.getItem('guestpass.console.tenant'))).toBe(mine.id);
    // What the console may call with this key: its own tenant, nothing else.
    expect((await fetchAsConsole(page, `/tenants/${mine.id}`)).status).toBe(200);
    expect(await fetchAsConsole(page, `/tenants/${theirs.id}`)).toEqual({ status: 404, body: expect.objectContaining({ error: 'tenant_not_found' }) });
    expect(await fetchAsConsole(page, `/tenants/${theirs.id}/users`)).toEqual({ status: 404, body: expect.objectContaining({ error: 'tenant_not_found' }) });
    expect(await fetchAsConsole(page, '/tenants')).toEqual({ status: 403, body: expect.objectContaining({ error: 'forbidden' }) });
  });

  it('assigns an app role to a guest, lists the roles the guest holds and removes one', async () => {
    const roled = await consoleTenant('Roled');
    const created = await host.manage(`/tenants/${roled.id}/applications`, {
      method: 'POST', body: JSON.stringify({ displayName: 'Reports', redirectUris: ['https://app.contoso.test/cb'], appRoles: [{ value: 'Reports.Read', displayName: 'Reader' }] }),
    });
    expect(created.status).toBe(201);
    const guest = await inviteGuest(host, roled.id, 'rolf.roles@example.com', { inviteRedirectUrl: `${host.baseUrl}/`, sendInvitationMessage: false });
    const page = await signInToConsole(FUNCTION_KEY, roled.id);
    await goTo(page, 'App roles');
    expect(await rowOf(page, 'Reports.Read').textContent()).toContain('Reader');
    await page.getByLabel('Guest’s email address').fill('nobody@example.com');
    await page.getByRole('button', { name: 'Assign' }).click();
    await page.getByRole('alert').filter({ hasText: 'No guest of this tenant has the address nobody@example.com.' }).waitFor();
    await page.getByLabel('Guest’s email address').fill('rolf.roles@example.com');
    await page.getByRole('button', { name: 'Assign' }).click();
    await page.getByRole('table', { name: 'Roles rolf.roles@example.com holds' }).waitFor();
    const held = (await (await host.manage(`/tenants/${roled.id}/users/${guest.invitedUser.id}/appRoleAssignments`)).json()) as { value: { resourceDisplayName: string }[] };
    expect(held.value.map((a) => a.resourceDisplayName)).toEqual(['Reports']);
    await page.getByRole('button', { name: 'Remove Reports.Read from rolf.roles@example.com' }).click();
    await page.getByText('This guest holds no app roles.').waitFor();
    expect(await axeViolations(page), 'App roles').toEqual([]);
  });

  it('adds a webhook whose secret is shown once, rotates it, shows its deliveries and deletes it', async () => {
    const hooked = await consoleTenant('Hooked');
    const page = await signInToConsole(FUNCTION_KEY, hooked.id);
    await goTo(page, 'Webhooks');
    await page.getByText('No webhooks yet.').waitFor();
    await page.getByLabel('URL', { exact: true }).fill('https://10.0.0.5/hooks');
    await page.getByRole('button', { name: 'Add webhook' }).click();
    await page.getByRole('alert').filter({ hasText: 'resolves to 10.0.0.5' }).waitFor();

    await page.getByLabel('URL', { exact: true }).fill('https://93.184.215.14/hooks');
    await page.getByLabel('Description').fill('CRM sync');
    await page.getByLabel('guest.invited').check();
    await page.getByRole('button', { name: 'Add webhook' }).click();
    await page.getByText('The signing secret of https://93.184.215.14/hooks is shown this once').waitFor();
    const secret = await page.getByLabel('Signing secret').inputValue();
    expect(secret).toMatch(/^whsec_/);
    expect(await rowOf(page, 'CRM sync').textContent()).toContain('guest.invited');

    await page.getByRole('button', { name: 'Rotate the secret of https://93.184.215.14/hooks' }).click();
    await page.getByText('The new secret of https://93.184.215.14/hooks is shown this once').waitFor();
    expect(await page.getByLabel('Signing secret').inputValue()).not.toBe(secret);
    await page.getByRole('button', { name: 'Deliveries to https://93.184.215.14/hooks' }).click();
    await page.getByText('Nothing delivered yet.').waitFor();

    await page.reload();
    await page.getByRole('heading', { name: 'Webhooks', level: 1 }).waitFor();
    expect(await page.content()).not.toContain(secret);
    await page.getByRole('button', { name: 'Delete https://93.184.215.14/hooks' }).click();
    await page.getByRole('dialog', { name: 'Delete the webhook https://93.184.215.14/hooks? Events stop going there at once.' }).getByRole('button', { name: 'Delete' }).click();
    await page.getByText('No webhooks yet.').waitFor();
  });

  it('creates a key shown once, revokes another, lists both in the audit log, and signs out when its own key is revoked', async () => {
    const keyed = await consoleTenant('Keyed');
    const own = await createKey(keyed.id, 'helpdesk');
    const spare = await createKey(keyed.id, 'spare');
    const page = await signInToConsole(own.key);
    await goTo(page, 'Admin keys');
    expect(await rowOf(page, 'helpdesk').textContent()).toContain('this session');

    await page.getByLabel('Name', { exact: true }).fill('automation');
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.getByText('The key “automation” is shown this once').waitFor();
    const shown = await page.getByLabel('Key', { exact: true }).inputValue();
    expect(shown).toMatch(/^gpa_/);
    const me = await fetch(`${host.baseUrl}/api/manage/me`, { headers: { 'x-functions-key': shown } });
    expect(await me.json()).toMatchObject({ kind: 'tenantAdmin', tenantId: keyed.id, name: 'automation' });
    expect(await rowOf(page, 'automation').locator('td').nth(2).textContent()).toBe('helpdesk');

    await page.getByRole('button', { name: 'Revoke spare' }).click();
    await page.getByRole('dialog', { name: 'Revoke the key “spare”? Whoever uses it is refused at once.' }).getByRole('button', { name: 'Revoke' }).click();
    await rowOf(page, 'spare').filter({ hasText: 'Revoked' }).waitFor();
    expect((await fetch(`${host.baseUrl}/api/manage/me`, { headers: { 'x-functions-key': spare.key } })).status).toBe(401);
    // Shown once: after a reload the secret is nowhere on the page.
    await page.reload();
    await page.getByRole('heading', { name: 'Admin keys', level: 1 }).waitFor();
    expect(await page.content()).not.toContain(shown);

    await goTo(page, 'Audit log');
    const audit = await page.locator('main tbody tr').evaluateAll((trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td')).slice(1, 3).map((td) => td.textContent)));
    expect(audit).toEqual(expect.arrayContaining([
      ['helpdesk (admin key)', 'key.revoke'],
      ['helpdesk (admin key)', 'key.create'],
      ['Operator', 'key.create'],
    ]));
    // The Change column names each changed field, "field: before → after", never raw JSON.
    const changes = await page.locator('main tbody tr').evaluateAll((trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td')).slice(2, 5).map((td) => td.textContent)));
    expect(changes).toEqual(expect.arrayContaining([['key.create', 'key spare', 'name: spare']]));
    expect(changes.find(([action]) => action === 'key.revoke')![2]).toMatch(/^name: spare/);
    expect(changes.flat().join('')).not.toContain('{"');

    await goTo(page, 'Admin keys');
    await page.getByRole('button', { name: 'Revoke helpdesk' }).click();
    await page.getByRole('dialog', { name: 'Revoke “helpdesk”, the key you are signed in with? You will be signed out.' }).getByRole('button', { name: 'Revoke' }).click();
    await page.getByText('You were signed out: the server no longer accepts this key (it may have been revoked).').waitFor();
    await page.getByLabel('Admin key or operator key').waitFor();
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
  });

  it('adds a domain, shows the TXT record to publish, and verifies it once the record is in DNS', async () => {
    const domained = await consoleTenant('Domained');
    const domain = `${domained.id.slice(0, 8)}.verify.example`;
    const page = await signInToConsole(FUNCTION_KEY, domained.id);
    await goTo(page, 'Settings');
    const domains = page.getByRole('region', { name: 'Domains' });
    await domains.getByLabel('New domain').fill(domain);
    await domains.getByRole('button', { name: 'Add domain' }).click();
    const row = domains.locator('tbody tr').filter({ hasText: domain });
    await row.filter({ hasText: 'Pending verification' }).waitFor();
    const [name, value] = await row.locator('code').allTextContents();
    expect(value).toMatch(/^guestpass-verification=/);

    await domains.getByRole('button', { name: `Verify ${domain}` }).click();
    await domains.getByRole('alert').filter({ hasText: name! }).waitFor();
    txtRecords.set(name!.toLowerCase(), [value!]);
    await domains.getByRole('button', { name: `Verify ${domain}` }).click();
    await row.filter({ hasText: 'Verified' }).waitFor();
    expect((await host.manage(`/tenants/${domain}`)).status).toBe(200);
  });

  it('saves lifecycle settings and previews the next run', async () => {
    const cycled = await consoleTenant('Cycled');
    const page = await signInToConsole(FUNCTION_KEY, cycled.id);
    await goTo(page, 'Settings');
    const lifecycle = page.getByRole('region', { name: 'Guest lifecycle' });
    await lifecycle.getByText('The next run would change nothing.').waitFor();
    await lifecycle.getByLabel('Remove invitations still pending after (days)').fill('30');
    await lifecycle.getByLabel('Disable guests without a sign-in for (days)').fill('90');
    await lifecycle.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
    const saved = (await (await host.manage(`/tenants/${cycled.id}`)).json()) as { lifecycle: unknown };
    expect(saved.lifecycle).toEqual({ pendingInvitationDays: 30, inactiveDisableDays: 90, inactiveDeleteAfterDays: null });
    await lifecycle.getByRole('table', { name: 'Preview of the next lifecycle run' }).or(lifecycle.getByText('The next run would change nothing.')).waitFor();
  });

  it('axe-core finds no violation on the sign-in page, the Guests page and its confirmation dialog', async () => {
    const guest = 'axel.axe@example.com';
    await inviteGuest(host, tenant.id, guest, { inviteRedirectUrl: `${host.baseUrl}/`, invitedUserDisplayName: 'Axel Axe' });
    await signIn(host, tenant.id, guest);
    const signInPage = await openConsole();
    expect(await axeViolations(signInPage), 'sign-in page').toEqual([]);
    const page = await signInToConsole(FUNCTION_KEY, tenant.id);
    expect(await axeViolations(page), 'Guests').toEqual([]);
    await page.screenshot({ path: docsPicture('console', 'console-guests.png') });
    await page.getByRole('button', { name: `Delete ${guest}` }).click();
    await page.getByRole('dialog').waitFor();
    expect(await axeViolations(page), 'the confirmation dialog').toEqual([]);
    await page.keyboard.press('Escape');
  });

  // One test per page: axe-core takes seconds a page on a busy machine.
  for (const link of ['Bulk invite', 'Settings', 'Sign-in logs', 'Audit log', 'Admin keys', 'Webhooks', 'Tenants']) {
    it(`axe-core finds no violation on the ${link} page`, async () => {
      const page = await signInToConsole(FUNCTION_KEY, tenant.id);
      await goTo(page, link);
      expect(await axeViolations(page), link).toEqual([]);
    });
  }
});
