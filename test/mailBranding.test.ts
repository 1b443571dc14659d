import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, expectError, inviteGuest, outbox, postJson, sendCode, startHost, type TestHost, type TestTenant } from './helpers.js';

/**
 * Issue 15, item 2: the message. Per-tenant branding and template overrides, validated
 * when saved and escaped when rendered; the code in the subject unless the tenant turns
 * it off; the headers of a transactional mail; a preview through the management API.
 */
let host: TestHost;
let tenant: TestTenant;

beforeAll(async () => {
  host = await startHost();
  tenant = await createTenant(host, { displayName: 'Fabrikam' });
});
afterAll(() => host.stop());

function patchMail(tenantId: string, mail: unknown) {
  return host.manage(`/tenants/${tenantId}`, { method: 'PATCH', body: JSON.stringify({ mail }) });
}

function preview(tenantId: string, body: unknown) {
  return host.manage(`/tenants/${tenantId}/mail-preview`, { method: 'POST', body: JSON.stringify(body) });
}

async function codeMailTo(tenantId: string, email: string, locale?: string) {
  await inviteGuest(host, tenantId, email);
  expect((await host.api(`/${tenantId}/send-code`, postJson({ email, ...(locale ? { locale } : {}) }))).status).toBe(202);
  return (await outbox(host, email)).find((mail) => mail.kind === 'code')!;
}

describe('tenant mail settings', () => {
  it('are saved with the tenant and read back', async () => {
    const mail = {
      codeInSubject: true,
      branding: { displayName: 'Fabrikam Guests', logoUrl: 'https://fabrikam.test/logo.svg', accentColor: '#107C10', supportContact: 'https://fabrikam.test/help' },
      templates: { sv: { codeIntro: 'Här är din kod för {tenant}:' } },
    };
    const saved = await patchMail(tenant.id, mail);
    expect(saved.status).toBe(200);
    const read = (await (await host.manage(`/tenants/${tenant.id}`)).json()) as { mail: unknown };
    expect(read.mail).toEqual({ ...mail, branding: { ...mail.branding, accentColor: '#107c10' } });
  });

  it.each([
    [{ branding: { logoUrl: 'http://fabrikam.test/logo.png' } }, 'body.mail.branding.logoUrl', /https/],
    [{ branding: { logoUrl: 'javascript:alert(1)' } }, 'body.mail.branding.logoUrl', /https/],
    [{ branding: { accentColor: 'red;background:url(x)' } }, 'body.mail.branding.accentColor', /colour/],
    [{ branding: { supportContact: 'javascript:alert(1)' } }, 'body.mail.branding.supportContact', /email address|https URL/],
    [{ templates: { en: { codeSubject: 'Your code for {tenant}' } } }, 'body.mail.templates.en.codeSubject', /must contain \{code\}/],
    [{ templates: { de: { codeIntro: 'Code {secret}' } } }, 'body.mail.templates.de.codeIntro', /\{secret\} is not a placeholder/],
    [{ templates: { en: { invitationSubject: 'Two\nlines' } } }, 'body.mail.templates.en.invitationSubject', /one line/],
    [{ templates: { fr: { codeIntro: 'Votre code' } } }, 'body.mail.templates', /fr/],
    [{ dailyCap: -1 }, 'body.mail.dailyCap', /./],
    [{ colour: 'red' }, 'body.mail', /colour/],
  ])('refuse %j with 400 naming the field, and keep the saved ones', async (mail, field, message) => {
    const before = await (await host.manage(`/tenants/${tenant.id}`)).json();
    const body = await expectError(await patchMail(tenant.id, mail), 400, 'invalid_request');
    const details = body.details as { field: string; message: string }[];
    const detail = details.find((d) => d.field.startsWith(field));
    expect(detail, JSON.stringify(details)).toBeDefined();
    expect(`${detail!.field} ${detail!.message}`).toMatch(message);
    expect(await (await host.manage(`/tenants/${tenant.id}`)).json()).toEqual(before);
  });
});

describe('the code mail', () => {
  it('uses the branding and the language override, every value escaped', async () => {
    const branded = await createTenant(host, {
      displayName: 'Fabrikam',
      mail: {
        branding: { displayName: '<Fabrikam> & Co', accentColor: '#107c10', supportContact: 'support@fabrikam.test' },
        templates: { sv: { codeIntro: 'Här är din kod för {tenant}:', codeSubject: 'Kod {code} – {tenant}' } },
      },
    });
    const mail = await codeMailTo(branded.id, 'branded.sv@example.test', 'sv-SE');
    const code = /\b(\d{8})\b/.exec(mail.text)![1]!;
    expect(mail.subject).toBe(`Kod ${code} – <Fabrikam> & Co`);
    expect(mail.text).toContain('Här är din kod för <Fabrikam> & Co:');
    expect(mail.text).toContain('Behöver du hjälp? Kontakta support@fabrikam.test.');
    expect(mail.html).toContain('Här är din kod för <strong>&lt;Fabrikam&gt; &amp; Co</strong>:');
    expect(mail.html).toContain('<title>Kod');
    expect(mail.html).toContain('&lt;Fabrikam&gt; &amp; Co</title>');
    expect(mail.html).toContain('#107c10');
    expect(mail.html).toContain('<html lang="sv">');
  });

  it('leaves the code out of the subject when the tenant turns codeInSubject off', async () => {
    const quiet = await createTenant(host, { displayName: 'Northwind', mail: { codeInSubject: false } });
    for (const [locale, subject] of [['en', 'Your Northwind verification code'], ['sv', 'Din verifieringskod för Northwind'], ['de', 'Ihr Bestätigungscode für Northwind']]) {
      const mail = await codeMailTo(quiet.id, `nocode.${locale}@example.test`, locale);
      expect(mail.subject).toBe(subject);
      expect(mail.text).toMatch(/\b\d{8}\b/);
    }
  });

  it('carries Date, Message-ID and Auto-Submitted, and no List-Unsubscribe', async () => {
    const asked = Date.now();
    const mail = (await codeMailTo(tenant.id, 'headers@example.test')) as unknown as { headers: Record<string, string> };
    expect(Math.abs(Date.parse(mail.headers.Date!) - asked)).toBeLessThan(60_000);
    expect(mail.headers['Message-ID']).toMatch(/^<[0-9a-f-]{36}@guestpass\.local>$/);
    expect(mail.headers['Auto-Submitted']).toBe('auto-generated');
    expect(Object.keys(mail.headers).map((h) => h.toLowerCase())).not.toContain('list-unsubscribe');
  });
});

describe('POST /api/manage/tenants/{tenant}/mail-preview', () => {
  it('renders the code mail with a sample code in the asked language, from the saved settings', async () => {
    const response = await preview(tenant.id, { kind: 'code', locale: 'de-AT' });
    expect(response.status).toBe(200);
    const rendered = (await response.json()) as { subject: string; text: string; html: string };
    expect(rendered.subject).toBe('12345678 ist Ihr Bestätigungscode für Fabrikam Guests');
    expect(rendered.text).toContain('Er ist 30 Minuten lang gültig.');
    expect(rendered.html).toContain('src="https://fabrikam.test/logo.svg"');
  });

  it('renders the invitation mail with settings not yet saved, escaped', async () => {
    const response = await preview(tenant.id, {
      kind: 'invitation',
      mail: { branding: { displayName: '"Quoted" <Name>', logoUrl: 'https://fabrikam.test/x.png?a=1&b=2' } },
    });
    expect(response.status).toBe(200);
    const rendered = (await response.json()) as { subject: string; text: string; html: string };
    expect(rendered.subject).toBe(`You're invited to "Quoted" <Name>`);
    expect(rendered.text).toContain('Hello Alex Example,');
    expect(rendered.html).toContain('&quot;Quoted&quot; &lt;Name&gt;');
    expect(rendered.html).toContain('src="https://fabrikam.test/x.png?a=1&amp;b=2"');
    expect(rendered.html).not.toContain('<Name>');
  });

  it('refuses an unknown kind or invalid settings with 400, an unknown tenant with 404', async () => {
    await expectError(await preview(tenant.id, { kind: 'newsletter' }), 400, 'invalid_request');
    await expectError(await preview(tenant.id, { kind: 'code', mail: { branding: { logoUrl: 'http://x.test/a.png' } } }), 400, 'invalid_request');
    await expectError(await preview('00000000-0000-0000-0000-000000000000', { kind: 'code' }), 404, 'tenant_not_found');
  });
});

describe('the development outbox', () => {
  it('shows a mail as the HTML page a mail app would render, with styles but no script', async () => {
    const mail = (await codeMailTo(tenant.id, 'view@example.test')) as unknown as { id: string; html: string };
    const response = await host.api(`/dev/outbox/${mail.id}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('content-security-policy')).toBe("default-src 'none'; img-src https: data:; style-src 'unsafe-inline'; frame-ancestors 'none'");
    expect(await response.text()).toBe(mail.html);
    expect((await host.api('/dev/outbox/00000000-0000-0000-0000-000000000000')).status).toBe(404);
  });

  it('keeps a code mail from send-code for a stranger out of it', async () => {
    expect((await sendCode(host, tenant.id, 'nobody@example.test')).status).toBe(202);
    expect(await outbox(host, 'nobody@example.test')).toEqual([]);
  });
});
