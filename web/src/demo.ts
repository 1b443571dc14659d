/**
 * The demo page's own script (web/index.html): points <guestpass-sign-in> at the demo
 * tenant unless the URL names one (an invitation's redeem link does), shows the
 * session once signed in, and in development shows the newest code mail from the
 * dev outbox so a newcomer can finish a sign-in without a mailbox.
 */
import type { Session } from './client.js';
import { DEMO_DOMAIN, DEMO_GUEST } from './demoTenant.js';

interface OutboxMail {
  to: string;
  kind: string;
  subject: string;
  text: string;
  sentAt: string;
}

const page = new URLSearchParams(location.search);
const element = document.querySelector('guestpass-sign-in')!;
const api = (page.get('api') ?? new URL('/api', location.href).href).replace(/\/+$/, '');
const $ = (id: string) => document.getElementById(id)!;

if (!page.has('tenant')) {
  element.setAttribute('tenant', DEMO_DOMAIN);
  if (!page.has('login_hint')) element.setAttribute('login-hint', DEMO_GUEST);
}
if (page.has('api')) element.setAttribute('api', api);
const lang = page.get('lang');
if (lang) element.setAttribute('lang', lang);

$('tenant-name').textContent = page.get('tenant') ?? DEMO_DOMAIN;
$('demo-guest').textContent = DEMO_GUEST;
$('outbox-link').setAttribute('href', `${api}/dev/outbox`);
$('openapi-link').setAttribute('href', `${api}/openapi.json`);
document.querySelectorAll<HTMLAnchorElement>('nav a[data-lang]').forEach((link) => {
  const target = new URLSearchParams(page);
  target.set('lang', link.dataset.lang!);
  link.href = `?${target}`;
  if (link.dataset.lang === lang) link.setAttribute('aria-current', 'true');
});

element.addEventListener('signed-in', (event) => {
  const session = (event as CustomEvent<Session>).detail;
  $('session-name').textContent = session.user.displayName || '—';
  $('session-email').textContent = session.user.email;
  $('session-source').textContent = session.user.source;
  $('session-id').textContent = session.user.id;
  $('session-expires').textContent = new Date(session.expiresAt).toLocaleString();
  $('session-token').textContent = session.token;
  $('session-panel').hidden = false;
  $('outbox-mail').replaceChildren();
});
element.addEventListener('signed-out', () => {
  $('session-panel').hidden = true;
});

function paragraph(text: string, className?: string): HTMLParagraphElement {
  const p = document.createElement('p');
  p.textContent = text;
  if (className) p.className = className;
  return p;
}

/** How long the demo page waits for the code mail: the send-mail trigger sends it from the queue after send-code answered. */
const MAIL_WAIT_MS = 10_000;

/** The newest code mail to the address sent at or after `since`, once the send-mail trigger has put it in the outbox. */
async function showLatestCode(email: string, since: string): Promise<void> {
  const target = $('outbox-mail');
  target.replaceChildren(paragraph('Waiting for the code mail…', 'muted'));
  const deadline = Date.now() + MAIL_WAIT_MS;
  let mail: OutboxMail | undefined;
  for (;;) {
    const response = await fetch(`${api}/dev/outbox?to=${encodeURIComponent(email)}&limit=5`, { cache: 'no-store' }).catch(() => undefined);
    if (!response?.ok) {
      target.replaceChildren(paragraph('This host has no dev outbox (EMAIL_TRANSPORT=sendgrid): the code went to the real mailbox.', 'muted'));
      return;
    }
    mail = ((await response.json()) as { value: OutboxMail[] }).value.find((m) => m.kind === 'code' && m.sentAt >= since);
    if (mail || Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  if (!mail) {
    target.replaceChildren(paragraph(`No code mail to ${email}. guestpass answers the same for an address that is not invited, but mails only invited guests: try ${DEMO_GUEST}, or invite the address first (README: "A one-minute tour").`));
    return;
  }
  const codeLine = paragraph('Code: ');
  const codeText = document.createElement('span');
  codeText.className = 'code';
  codeText.id = 'outbox-code';
  codeText.textContent = /\b(\d{6,12})\b/.exec(mail.text)?.[1] ?? '?';
  codeLine.append(codeText);
  const body = document.createElement('pre');
  body.textContent = mail.text;
  target.replaceChildren(paragraph(`To ${mail.to} · ${mail.subject}`, 'muted'), codeLine, body);
}

element.addEventListener('code-sent', (event) => {
  // The mail is sent after this answer; a second's slack for the clocks of the page and the host.
  const since = new Date(Date.now() - 1000).toISOString();
  void showLatestCode((event as CustomEvent<{ email: string }>).detail.email, since);
});
