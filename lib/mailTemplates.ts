/**
 * Every mail guestpass sends is rendered here, in plain text and HTML, in English,
 * Swedish or German. All wording lives in MAIL_TEXTS; values are filled into it raw
 * for the text part and through escapeHtml for the HTML part.
 */
export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

export function escapeHtml(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

export const MAIL_LANGUAGES = ['en', 'sv', 'de'] as const;
export type MailLanguage = (typeof MAIL_LANGUAGES)[number];

/** The language of a locale such as `sv`, `sv-SE` or `de_AT`; English for anything else. */
export function mailLanguage(locale: string | undefined): MailLanguage {
  const primary = locale?.trim().toLowerCase().split(/[-_]/)[0];
  return (MAIL_LANGUAGES as readonly string[]).includes(primary ?? '') ? (primary as MailLanguage) : 'en';
}

interface MailTexts {
  codeSubject: string;
  codeIntro: string;
  codeValidity: string;
  codeIgnore: string;
  invitationSubject: string;
  greetingNamed: string;
  greeting: string;
  invitationBody: string;
  invitationAccept: string;
}

/** Placeholders in braces: {tenant}, {code}, {minutes}, {name}. */
export const MAIL_TEXTS: Record<MailLanguage, MailTexts> = {
  en: {
    codeSubject: 'Your {tenant} verification code: {code}',
    codeIntro: 'Your verification code for {tenant} is:',
    codeValidity: 'It is valid for {minutes} minutes and replaces any code sent to you before.',
    codeIgnore: 'If you did not ask for this code, you can ignore this email.',
    invitationSubject: "You're invited to {tenant}",
    greetingNamed: 'Hello {name},',
    greeting: 'Hello,',
    invitationBody: '{tenant} has invited you to access its apps as a guest.',
    invitationAccept: 'Accept the invitation',
  },
  sv: {
    codeSubject: 'Din verifieringskod för {tenant}: {code}',
    codeIntro: 'Din verifieringskod för {tenant} är:',
    codeValidity: 'Koden gäller i {minutes} minuter och ersätter alla koder som du har fått tidigare.',
    codeIgnore: 'Om du inte har begärt den här koden kan du bortse från det här e-postmeddelandet.',
    invitationSubject: 'Du har bjudits in till {tenant}',
    greetingNamed: 'Hej {name}!',
    greeting: 'Hej!',
    invitationBody: '{tenant} har bjudit in dig att använda organisationens appar som gäst.',
    invitationAccept: 'Acceptera inbjudan',
  },
  de: {
    codeSubject: 'Ihr Bestätigungscode für {tenant}: {code}',
    codeIntro: 'Ihr Bestätigungscode für {tenant} lautet:',
    codeValidity: 'Er ist {minutes} Minuten lang gültig und ersetzt alle Codes, die Ihnen zuvor gesendet wurden.',
    codeIgnore: 'Wenn Sie diesen Code nicht angefordert haben, können Sie diese E-Mail ignorieren.',
    invitationSubject: 'Sie wurden zu {tenant} eingeladen',
    greetingNamed: 'Hallo {name},',
    greeting: 'Hallo,',
    invitationBody: '{tenant} hat Sie eingeladen, die Apps der Organisation als Gast zu nutzen.',
    invitationAccept: 'Einladung annehmen',
  },
};

type Values = Record<string, string | number>;

/** Fills the placeholders; `html` escapes every value and may decorate it (bold names). */
function fill(template: string, values: Values, html?: (name: string, escaped: string) => string): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => {
    if (!(name in values)) return whole;
    const value = String(values[name]);
    return html ? html(name, escapeHtml(value)) : value;
  });
}

const boldTenant = (name: string, escaped: string) => (name === 'tenant' ? `<strong>${escaped}</strong>` : escaped);

/** Text in the plain part and in the HTML part, from one template. */
function both(template: string, values: Values): { text: string; html: string } {
  return { text: fill(template, values), html: fill(template, values, boldTenant) };
}

function htmlDocument(language: MailLanguage, paragraphs: string[]): string {
  return [`<div lang="${language}">`, ...paragraphs, '</div>'].join('\n');
}

export interface CodeMailInput {
  code: string;
  tenantDisplayName: string;
  validMinutes: number;
  locale?: string;
}

export function renderCodeMail({ code, tenantDisplayName, validMinutes, locale }: CodeMailInput): RenderedMail {
  const language = mailLanguage(locale);
  const t = MAIL_TEXTS[language];
  const values = { tenant: tenantDisplayName, code, minutes: validMinutes };
  const intro = both(t.codeIntro, values);
  const validity = both(t.codeValidity, values);
  const ignore = both(t.codeIgnore, values);
  return {
    subject: fill(t.codeSubject, values),
    text: [intro.text, '', code, '', validity.text, ignore.text].join('\n'),
    html: htmlDocument(language, [
      `<p>${intro.html}</p>`,
      `<p style="font-size:24px;font-weight:bold;letter-spacing:4px">${escapeHtml(code)}</p>`,
      `<p>${validity.html}</p>`,
      `<p>${ignore.html}</p>`,
    ]),
  };
}

export interface InvitationMailInput {
  tenantDisplayName: string;
  inviteRedeemUrl: string;
  invitedUserDisplayName?: string;
  customizedMessageBody?: string;
  locale?: string;
}

export function renderInvitationMail(input: InvitationMailInput): RenderedMail {
  const { tenantDisplayName, inviteRedeemUrl, invitedUserDisplayName, customizedMessageBody } = input;
  const language = mailLanguage(input.locale);
  const t = MAIL_TEXTS[language];
  const values = { tenant: tenantDisplayName, name: invitedUserDisplayName ?? '' };
  const greeting = both(invitedUserDisplayName ? t.greetingNamed : t.greeting, values);
  const body = both(t.invitationBody, values);
  // The inviter's own words, kept as written: escaped, line breaks kept.
  const message = customizedMessageBody?.trim();
  return {
    subject: fill(t.invitationSubject, values),
    text: [
      greeting.text,
      '',
      body.text,
      ...(message ? ['', message] : []),
      '',
      `${t.invitationAccept}: ${inviteRedeemUrl}`,
    ].join('\n'),
    html: htmlDocument(language, [
      `<p>${greeting.html}</p>`,
      `<p>${body.html}</p>`,
      ...(message ? [`<p>${escapeHtml(message).replace(/\r?\n/g, '<br>')}</p>`] : []),
      `<p><a href="${escapeHtml(inviteRedeemUrl)}">${escapeHtml(t.invitationAccept)}</a></p>`,
    ]),
  };
}
