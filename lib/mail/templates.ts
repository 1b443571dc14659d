import { MAIL_LANGUAGES, type MailLanguage, type MailTextKey, type MailTexts, type TenantMailSettings } from './settings.js';

/**
 * Every mail guestpass sends is rendered here, in plain text and HTML, in English,
 * Swedish or German, from MAIL_TEXTS or the tenant's overrides of it. Values are
 * filled in raw for the text part and through escapeHtml for the HTML part; the
 * tenant's branding goes through escapeHtml too (and the logo only as https).
 * The layout is transactional: no tracking pixel, no List-Unsubscribe, no marketing
 * footer, just who sent it, why, and where to get help.
 */
export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

export { MAIL_LANGUAGES, type MailLanguage };

export function escapeHtml(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** The language of a locale such as `sv`, `sv-SE` or `de_AT`; English for anything else. */
export function mailLanguage(locale: string | undefined): MailLanguage {
  const primary = locale?.trim().toLowerCase().split(/[-_]/)[0];
  return (MAIL_LANGUAGES as readonly string[]).includes(primary ?? '') ? (primary as MailLanguage) : 'en';
}

/** Placeholders in braces: {tenant}, {code}, {minutes}, {name}, {support}. */
export const MAIL_TEXTS: Record<MailLanguage, MailTexts> = {
  en: {
    codeSubject: '{code} is your {tenant} verification code',
    codeSubjectWithoutCode: 'Your {tenant} verification code',
    codeIntro: 'Your verification code for {tenant} is:',
    codeValidity: 'It is valid for {minutes} minutes.',
    codeIgnore: 'If you did not ask for this code, you can ignore this email.',
    invitationSubject: "You're invited to {tenant}",
    greetingNamed: 'Hello {name},',
    greeting: 'Hello,',
    invitationBody: '{tenant} has invited you to access its apps as a guest.',
    invitationAccept: 'Accept the invitation',
    footerAutomated: 'This email was sent automatically on behalf of {tenant}. Replies are not read.',
    footerSupport: 'Need help? Contact {support}.',
  },
  sv: {
    codeSubject: '{code} är din verifieringskod för {tenant}',
    codeSubjectWithoutCode: 'Din verifieringskod för {tenant}',
    codeIntro: 'Din verifieringskod för {tenant} är:',
    codeValidity: 'Koden gäller i {minutes} minuter.',
    codeIgnore: 'Om du inte har begärt den här koden kan du bortse från det här e-postmeddelandet.',
    invitationSubject: 'Du har bjudits in till {tenant}',
    greetingNamed: 'Hej {name}!',
    greeting: 'Hej!',
    invitationBody: '{tenant} har bjudit in dig att använda organisationens appar som gäst.',
    invitationAccept: 'Acceptera inbjudan',
    footerAutomated: 'Det här e-postmeddelandet skickades automatiskt för {tenant}. Svar läses inte.',
    footerSupport: 'Behöver du hjälp? Kontakta {support}.',
  },
  de: {
    codeSubject: '{code} ist Ihr Bestätigungscode für {tenant}',
    codeSubjectWithoutCode: 'Ihr Bestätigungscode für {tenant}',
    codeIntro: 'Ihr Bestätigungscode für {tenant} lautet:',
    codeValidity: 'Er ist {minutes} Minuten lang gültig.',
    codeIgnore: 'Wenn Sie diesen Code nicht angefordert haben, können Sie diese E-Mail ignorieren.',
    invitationSubject: 'Sie wurden zu {tenant} eingeladen',
    greetingNamed: 'Hallo {name},',
    greeting: 'Hallo,',
    invitationBody: '{tenant} hat Sie eingeladen, die Apps der Organisation als Gast zu nutzen.',
    invitationAccept: 'Einladung annehmen',
    footerAutomated: 'Diese E-Mail wurde automatisch im Auftrag von {tenant} gesendet. Antworten werden nicht gelesen.',
    footerSupport: 'Brauchen Sie Hilfe? Wenden Sie sich an {support}.',
  },
};

type Values = Record<string, string | number>;

/** Fills the placeholders; `html` escapes every value and may decorate it (bold names, links). */
function fill(template: string, values: Values, html?: (name: string, escaped: string) => string): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => {
    if (!(name in values)) return whole;
    const value = String(values[name]);
    return html ? html(name, escapeHtml(value)) : value;
  });
}

/** What a tenant's mails need of the tenant: its name and its mail settings. */
export interface MailSender {
  displayName: string;
  mail?: TenantMailSettings;
}

interface Wording {
  language: MailLanguage;
  t: MailTexts;
  tenant: string;
  branding: NonNullable<TenantMailSettings['branding']>;
  /** Checked again here, not only when saved: it is the one value that goes into a style attribute. */
  accent: string;
}

const DEFAULT_ACCENT = '#0f6cbd';

function accentOf(saved: string | undefined): string {
  return saved && /^#[0-9a-f]{6}$/i.test(saved) ? saved : DEFAULT_ACCENT;
}

function wording(sender: MailSender, locale: string | undefined): Wording {
  const language = mailLanguage(locale);
  const overrides = sender.mail?.templates?.[language] ?? {};
  const t = { ...MAIL_TEXTS[language] };
  for (const [key, value] of Object.entries(overrides) as [MailTextKey, string | undefined][]) if (value) t[key] = value;
  const branding = sender.mail?.branding ?? {};
  return { language, t, tenant: branding.displayName ?? sender.displayName, branding, accent: accentOf(branding.accentColor) };
}

function supportLink(contact: string): { text: string; html: string } {
  const href = contact.startsWith('https://') ? contact : `mailto:${contact}`;
  return { text: contact, html: `<a href="${escapeHtml(href)}" style="color:inherit">${escapeHtml(contact)}</a>` };
}

/** The plain-text and HTML parts of one paragraph, from one template. */
function both(template: string, values: Values): { text: string; html: string } {
  const decorate = (name: string, escaped: string) => (name === 'tenant' ? `<strong>${escaped}</strong>` : escaped);
  return { text: fill(template, values), html: fill(template, values, decorate) };
}

function footer(w: Wording): { text: string[]; html: string[] } {
  const automated = fill(w.t.footerAutomated, { tenant: w.tenant });
  const lines = { text: [automated], html: [escapeHtml(automated)] };
  if (w.branding.supportContact) {
    const link = supportLink(w.branding.supportContact);
    lines.text.push(fill(w.t.footerSupport, { support: link.text }));
    lines.html.push(fill(w.t.footerSupport, { support: link.text }, () => link.html));
  }
  return lines;
}

/** The text part: the paragraphs, then the footer below a rule. */
function textDocument(paragraphs: string[], w: Wording): string {
  return [...paragraphs, '', '--', ...footer(w).text].join('\n');
}

/**
 * A table layout that mail apps render alike (Outlook's Word engine included), all
 * styles inline. The logo is an https image with the tenant's name as its alt text.
 */
function htmlDocument(subject: string, w: Wording, paragraphs: string[]): string {
  const accent = w.accent;
  const heading = w.branding.logoUrl
    ? `<img src="${escapeHtml(w.branding.logoUrl)}" alt="${escapeHtml(w.tenant)}" height="40" style="display:block;height:40px;max-width:240px;border:0">`
    : `<span style="font-size:18px;font-weight:600;color:${accent}">${escapeHtml(w.tenant)}</span>`;
  return [
    '<!DOCTYPE html>',
    `<html lang="${w.language}">`,
    '<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="color-scheme" content="light">',
    `<title>${escapeHtml(subject)}</title></head>`,
    '<body style="margin:0;padding:0;background:#f3f4f6">',
    '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="background:#f3f4f6"><tr><td align="center" style="padding:24px 12px">',
    `<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="max-width:560px;background:#ffffff;border-top:4px solid ${accent};border-radius:6px;font-family:'Segoe UI',Helvetica,Arial,sans-serif;font-size:15px;line-height:1.5;color:#1f2328">`,
    `<tr><td style="padding:24px 32px 8px">${heading}</td></tr>`,
    `<tr><td style="padding:8px 32px 16px"><div lang="${w.language}">`,
    ...paragraphs,
    '</div></td></tr>',
    `<tr><td style="padding:16px 32px 24px;border-top:1px solid #e5e7eb;font-size:12px;color:#59636e">${footer(w).html.map((line) => `<p style="margin:0 0 4px">${line}</p>`).join('')}</td></tr>`,
    '</table>',
    '</td></tr></table>',
    '</body></html>',
  ].join('\n');
}

export interface CodeMailInput {
  code: string;
  tenant: MailSender;
  validMinutes: number;
  locale?: string;
}

export function renderCodeMail({ code, tenant, validMinutes, locale }: CodeMailInput): RenderedMail {
  const w = wording(tenant, locale);
  const values = { tenant: w.tenant, code, minutes: validMinutes };
  const intro = both(w.t.codeIntro, values);
  const validity = both(w.t.codeValidity, values);
  const ignore = both(w.t.codeIgnore, values);
  const codeInSubject = tenant.mail?.codeInSubject ?? true;
  const subject = fill(codeInSubject ? w.t.codeSubject : w.t.codeSubjectWithoutCode, values);
  const accent = w.accent;
  return {
    subject,
    text: textDocument([intro.text, '', code, '', validity.text, ignore.text], w),
    html: htmlDocument(subject, w, [
      `<p>${intro.html}</p>`,
      `<p style="font-size:28px;font-weight:bold;letter-spacing:6px;color:${accent};font-family:Consolas,Menlo,monospace">${escapeHtml(code)}</p>`,
      `<p>${validity.html}</p>`,
      `<p style="color:#59636e">${ignore.html}</p>`,
    ]),
  };
}

export interface InvitationMailInput {
  tenant: MailSender;
  inviteRedeemUrl: string;
  invitedUserDisplayName?: string;
  customizedMessageBody?: string;
  locale?: string;
}

export function renderInvitationMail(input: InvitationMailInput): RenderedMail {
  const { tenant, inviteRedeemUrl, invitedUserDisplayName, customizedMessageBody } = input;
  const w = wording(tenant, input.locale);
  const values = { tenant: w.tenant, name: invitedUserDisplayName ?? '' };
  const greeting = both(invitedUserDisplayName ? w.t.greetingNamed : w.t.greeting, values);
  const body = both(w.t.invitationBody, values);
  const accept = fill(w.t.invitationAccept, values);
  const subject = fill(w.t.invitationSubject, values);
  const accent = w.accent;
  // The inviter's own words, kept as written: escaped, line breaks kept.
  const message = customizedMessageBody?.trim();
  return {
    subject,
    text: textDocument([greeting.text, '', body.text, ...(message ? ['', message] : []), '', `${accept}: ${inviteRedeemUrl}`], w),
    html: htmlDocument(subject, w, [
      `<p>${greeting.html}</p>`,
      `<p>${body.html}</p>`,
      ...(message ? [`<p>${escapeHtml(message).replace(/\r?\n/g, '<br>')}</p>`] : []),
      `<p><a href="${escapeHtml(inviteRedeemUrl)}" style="display:inline-block;padding:10px 18px;background:${accent};color:#ffffff;text-decoration:none;border-radius:4px;font-weight:600">${escapeHtml(accept)}</a></p>`,
    ]),
  };
}
