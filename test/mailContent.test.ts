import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAIL_LANGUAGES, MAIL_TEXTS, mailLanguage, renderCodeMail } from '../lib/mail/templates.js';
import {
  createTenant, inviteGuest, mailQueueDrained, outbox, postJson, startFakeSendGrid, startHost, type FakeSendGrid, type OutboxMail, type TestHost, type TestTenant,
} from './helpers.js';

/**
 * Issue 3, mail content: invitation and code mails in English, Swedish and German,
 * from the templates in lib/mailTemplates.ts, with every value escaped in HTML.
 */
let host: TestHost;
let tenant: TestTenant;

beforeAll(async () => {
  host = await startHost();
  tenant = await createTenant(host, { displayName: 'Fabrikam' });
});
afterAll(() => host.stop());

async function newest(to: string, kind: 'code' | 'invitation'): Promise<OutboxMail> {
  const mail = (await outbox(host, to)).find((m) => m.kind === kind);
  if (!mail) throw new Error(`no ${kind} mail to ${to}`);
  return mail;
}

async function invitationMail(email: string, extra: Record<string, unknown>): Promise<{ mail: OutboxMail; inviteRedeemUrl: string }> {
  const invitation = await inviteGuest(host, tenant.id, email, { sendInvitationMessage: true, ...extra });
  return { mail: await newest(email, 'invitation'), inviteRedeemUrl: invitation.inviteRedeemUrl };
}

async function codeMail(email: string, locale?: string): Promise<OutboxMail> {
  await inviteGuest(host, tenant.id, email);
  const response = await host.api(`/${tenant.id}/send-code`, postJson({ email, ...(locale ? { locale } : {}) }));
  expect(response.status).toBe(202);
  return newest(email, 'code');
}

function codeIn(mail: OutboxMail): string {
  return /\b(\d{8})\b/.exec(mail.text)![1]!;
}

describe('invitation mails', () => {
  it("carry the tenant's display name, the custom message and inviteRedeemUrl, in English by default", async () => {
    const { mail, inviteRedeemUrl } = await invitationMail('invited.en@example.test', {
      invitedUserDisplayName: 'Alex',
      invitedUserMessageInfo: { customizedMessageBody: 'Welcome to the project room.\nSee you there.' },
    });
    expect(mail.subject).toBe("You're invited to Fabrikam");
    expect(mail.text).toContain('Hello Alex,');
    expect(mail.text).toContain('Fabrikam has invited you to access its apps as a guest.');
    expect(mail.text).toContain('Welcome to the project room.\nSee you there.');
    expect(mail.text).toContain(`Accept the invitation: ${inviteRedeemUrl}`);
    expect(mail.html).toContain('<strong>Fabrikam</strong>');
    expect(mail.html).toContain('Welcome to the project room.<br>See you there.');
    expect(mail.html).toContain(`href="${inviteRedeemUrl.replace(/&/g, '&amp;')}"`);
    expect(mail.html).toContain('<div lang="en">');
  });

  it('come in Swedish with messageLanguage sv-SE', async () => {
    const { mail, inviteRedeemUrl } = await invitationMail('invited.sv@example.test', {
      invitedUserDisplayName: 'Åsa',
      invitedUserMessageInfo: { messageLanguage: 'sv-SE', customizedMessageBody: 'Välkommen!' },
    });
    expect(mail.subject).toBe('Du har bjudits in till Fabrikam');
    expect(mail.text).toContain('Hej Åsa!');
    expect(mail.text).toContain('Fabrikam har bjudit in dig att använda organisationens appar som gäst.');
    expect(mail.text).toContain('Välkommen!');
    expect(mail.text).toContain(`Acceptera inbjudan: ${inviteRedeemUrl}`);
    expect(mail.html).toContain('<div lang="sv">');
  });

  it('come in German with messageLanguage de', async () => {
    const { mail, inviteRedeemUrl } = await invitationMail('invited.de@example.test', { invitedUserMessageInfo: { messageLanguage: 'de' } });
    expect(mail.subject).toBe('Sie wurden zu Fabrikam eingeladen');
    expect(mail.text).toContain('Hallo,');
    expect(mail.text).toContain('Fabrikam hat Sie eingeladen, die Apps der Organisation als Gast zu nutzen.');
    expect(mail.text).toContain(`Einladung annehmen: ${inviteRedeemUrl}`);
  });

  it('fall back to English for a language guestpass does not have', async () => {
    const { mail } = await invitationMail('invited.fr@example.test', { invitedUserMessageInfo: { messageLanguage: 'fr-FR' } });
    expect(mail.subject).toBe("You're invited to Fabrikam");
  });
});

describe('code mails', () => {
  it('put the code first in the subject and say it is valid for 30 minutes, in English by default', async () => {
    const mail = await codeMail('code.en@example.test');
    const code = codeIn(mail);
    expect(mail.subject).toBe(`${code} is your Fabrikam verification code`);
    expect(mail.text).toContain(`Your verification code for Fabrikam is:\n\n${code}\n`);
    expect(mail.text).toContain('It is valid for 30 minutes.');
    expect(mail.html).toContain(`>${code}</p>`);
  });

  it('come in Swedish with locale sv', async () => {
    const mail = await codeMail('code.sv@example.test', 'sv');
    const code = codeIn(mail);
    expect(mail.subject).toBe(`${code} är din verifieringskod för Fabrikam`);
    expect(mail.text).toContain('Koden gäller i 30 minuter.');
  });

  it('come in German with locale de-AT', async () => {
    const mail = await codeMail('code.de@example.test', 'de-AT');
    const code = codeIn(mail);
    expect(mail.subject).toBe(`${code} ist Ihr Bestätigungscode für Fabrikam`);
    expect(mail.text).toContain('Er ist 30 Minuten lang gültig.');
  });

  it('take the validity from CODE_TTL_SECONDS', () => {
    const mail = renderCodeMail({ code: '12345678', tenant: { displayName: 'Fabrikam' }, validMinutes: 10, locale: 'sv-FI' });
    expect(mail.text).toContain('Koden gäller i 10 minuter');
  });

  it('reach SendGrid in the asked language', async () => {
    const sendGrid: FakeSendGrid = await startFakeSendGrid();
    const mailing = await startHost({ EMAIL_TRANSPORT: 'sendgrid', SENDGRID_API_KEY: 'SG.test-key', SENDGRID_BASE_URL: sendGrid.baseUrl });
    try {
      const mailingTenant = await createTenant(mailing, { displayName: 'Fabrikam' });
      await inviteGuest(mailing, mailingTenant.id, 'sendgrid.sv@example.test');
      expect((await mailing.api(`/${mailingTenant.id}/send-code`, postJson({ email: 'sendgrid.sv@example.test', locale: 'sv-SE' }))).status).toBe(202);
      await mailQueueDrained(mailing);
      const [request] = sendGrid.requests;
      expect(request?.body.subject).toMatch(/^\d{8} är din verifieringskod för Fabrikam$/);
      expect(request?.body.content.find((c) => c.type === 'text/plain')?.value).toContain('Koden gäller i 30 minuter');
    } finally {
      await mailing.stop();
      await sendGrid.close();
    }
  });
});

describe('escaping', () => {
  it('every value put into the HTML part is escaped', async () => {
    const hostile = await createTenant(host, { displayName: '<script>alert(1)</script> & "Co"' });
    const email = 'hostile@example.test';
    const invitation = await inviteGuest(host, hostile.id, email, {
      sendInvitationMessage: true,
      invitedUserDisplayName: '<b onmouseover=alert(2)>Eve</b>',
      invitedUserMessageInfo: { customizedMessageBody: '<img src=x onerror=alert(3)>\n\'quoted\'' },
    });
    await host.api(`/${hostile.id}/send-code`, postJson({ email }));
    const mails = await outbox(host, email);
    const inviteMail = mails.find((m) => m.kind === 'invitation')!;
    const code = mails.find((m) => m.kind === 'code')!;
    for (const html of [inviteMail.html, code.html]) {
      expect(html).not.toMatch(/<script|<img|<b /);
      expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Co&quot;');
    }
    expect(inviteMail.html).toContain('&lt;b onmouseover=alert(2)&gt;Eve&lt;/b&gt;');
    expect(inviteMail.html).toContain('&lt;img src=x onerror=alert(3)&gt;<br>&#39;quoted&#39;');
    expect(inviteMail.html).toContain(`href="${invitation.inviteRedeemUrl.replace(/&/g, '&amp;')}"`);
    // The plain-text part keeps the values as written.
    expect(inviteMail.text).toContain('<b onmouseover=alert(2)>Eve</b>');
  });
});

describe('the templates', () => {
  it('exist in English, Swedish and German with the same placeholders', () => {
    const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    for (const language of MAIL_LANGUAGES) {
      for (const key of Object.keys(MAIL_TEXTS.en) as (keyof typeof MAIL_TEXTS.en)[]) {
        expect(MAIL_TEXTS[language][key].length).toBeGreaterThan(0);
        expect(placeholders(MAIL_TEXTS[language][key])).toEqual(placeholders(MAIL_TEXTS.en[key]));
      }
    }
  });

  it('pick the language from a locale tag, English otherwise', () => {
    expect(mailLanguage('sv-SE')).toBe('sv');
    expect(mailLanguage('DE_ch')).toBe('de');
    expect(mailLanguage('en-GB')).toBe('en');
    expect(mailLanguage('nb-NO')).toBe('en');
    expect(mailLanguage(undefined)).toBe('en');
  });
});
