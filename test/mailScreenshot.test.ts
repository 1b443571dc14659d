import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, inviteGuest, outbox, postJson, startHost, type TestHost } from './helpers.js';
import { launchChromium } from '../scripts/chromium.js';

/*
 * The code mail as a guest sees it: rendered by Chromium (scripts/chromium.ts) from the demo
 * outbox's HTML view (GET /api/dev/outbox/{id}), at a phone's width and a desktop's.
 * The screenshot goes to test-artifacts/mail/ on every run; with
 * GUESTPASS_UPDATE_SCREENSHOTS=1 (npm run screenshots) also to docs/code-mail.png, which docs/mail.md shows
 * (not on every run: each code is new, so the picture would change every time).
 */
const REPO = resolve(__dirname, '..');
const ARTIFACTS = join(REPO, 'test-artifacts', 'mail');

let browser: Browser;
let host: TestHost;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await launchChromium();
  host = await startHost();
});
afterAll(async () => {
  await browser?.close();
  await host?.stop();
});

describe('the code mail in the demo outbox', () => {
  it('renders with the code, the branding and the footer, and nothing blocked or thrown', async () => {
    const tenant = await createTenant(host, {
      displayName: 'Contoso',
      mail: { branding: { displayName: 'Contoso Partner Portal', accentColor: '#0f6cbd', supportContact: 'partners@contoso.com' } },
    });
    await inviteGuest(host, tenant.id, 'alex@fabrikam.com');
    expect((await host.api(`/${tenant.id}/send-code`, postJson({ email: 'alex@fabrikam.com' }))).status).toBe(202);
    const mail = (await outbox(host, 'alex@fabrikam.com')).find((m) => m.kind === 'code') as unknown as { id: string; subject: string; text: string };
    const code = /\b(\d{8})\b/.exec(mail.text)![1]!;

    for (const [name, viewport] of [['desktop', { width: 720, height: 560 }], ['phone', { width: 390, height: 640 }]] as const) {
      const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('pageerror', (error) => problems.push(error.message));
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(message.text());
      });
      const response = await page.goto(`${host.baseUrl}/api/dev/outbox/${mail.id}`);
      expect(response?.status()).toBe(200);
      expect(await page.title()).toBe(mail.subject);
      await expect.poll(() => page.getByText(code, { exact: true }).isVisible()).toBe(true);
      expect(await page.getByText('Contoso Partner Portal', { exact: true }).first().isVisible()).toBe(true);
      expect(await page.getByRole('link', { name: 'partners@contoso.com' }).getAttribute('href')).toBe('mailto:partners@contoso.com');
      // The code sits inside the card, fully visible at this width.
      const card = await page.getByText(code, { exact: true }).boundingBox();
      expect(card!.x).toBeGreaterThanOrEqual(0);
      expect(card!.x + card!.width).toBeLessThanOrEqual(viewport.width);
      expect(problems).toEqual([]);
      await page.screenshot({ path: join(ARTIFACTS, `code-mail-${name}.png`), fullPage: true });
      if (name === 'desktop' && process.env.GUESTPASS_UPDATE_SCREENSHOTS === '1') {
        await page.screenshot({ path: join(REPO, 'docs', 'code-mail.png'), fullPage: true });
      }
      await context.close();
    }
  });
});
