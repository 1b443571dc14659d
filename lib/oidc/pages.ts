import { createHash } from 'node:crypto';
import { SIGN_IN_STYLE } from '../../web/src/signInStyle.js';
import type { GuestpassError } from '../errors.js';

/**
 * The pages the OpenID Connect endpoints show: the hosted sign-in page (the
 * <guestpass-sign-in> element, bundled as web/dist/hostedSignIn.js and served by the
 * function app), the error page for requests that cannot be sent back to a client, and
 * the signed-out page. Every value is HTML-escaped; the Content-Security-Policy lets
 * the page run only our own script and the two style sheets whose hashes it names.
 */
export const SIGN_IN_SCRIPT_PATH = '/api/oidc/sign-in.js';

const PAGE_STYLE = `
:root { color-scheme: light; font: 400 1rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1b1b1b; background: #f3f2f1; }
body { margin: 0; display: grid; place-items: start center; min-height: 100vh; }
main { width: min(26rem, 100% - 2rem); padding: 3rem 0; }
.app { color: #505050; margin: 0 0 1rem; }
.card { background: #fff; border: 1px solid #d6d6d6; border-radius: 8px; padding: 1.5rem 1.75rem; }
h1 { font-size: 1.5rem; margin: 0 0 .75rem; }
code { overflow-wrap: anywhere; }
#authorization-status { color: #505050; margin-top: 1rem; }
#authorization-status:empty { display: none; }
`;

function styleHash(css: string): string {
  return `'sha256-${createHash('sha256').update(css).digest('base64')}'`;
}

/**
 * Strict: nothing inline runs, nothing loads from elsewhere, the page cannot be framed.
 * It posts forms nowhere, except, with response_mode=form_post, to the origin of the
 * client's registered redirect URI (an origin holds no character that could end the directive).
 */
export function pageCsp(formActionUri?: string): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    `style-src ${styleHash(PAGE_STYLE)} ${styleHash(SIGN_IN_STYLE)}`,
    "connect-src 'self'",
    'img-src data:',
    "base-uri 'none'",
    `form-action ${formActionUri ? new URL(formActionUri).origin : "'none'"}`,
    "frame-ancestors 'none'",
  ].join('; ');
}

export const PAGE_CSP = pageCsp();

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const TEXT = {
  en: {
    continueTo: 'Sign in to continue to {app}',
    continuing: 'Signed in. Returning to the app…',
    failed: 'The sign-in could not be finished. Go back to the app and try again.',
    errorTitle: 'This sign-in request cannot be used',
    signOutErrorTitle: 'This sign-out request cannot be used',
    signedOut: 'You are signed out',
    signedOutBody: 'You can close this window.',
    notSentBack: 'The app asked to send you back to an address it has not registered, so you were not sent there.',
    returning: 'Returning to the app…',
    continue: 'Continue',
  },
  sv: {
    continueTo: 'Logga in för att fortsätta till {app}',
    continuing: 'Inloggad. Återvänder till appen…',
    failed: 'Inloggningen kunde inte slutföras. Gå tillbaka till appen och försök igen.',
    errorTitle: 'Den här inloggningsbegäran kan inte användas',
    signOutErrorTitle: 'Den här utloggningsbegäran kan inte användas',
    signedOut: 'Du är utloggad',
    signedOutBody: 'Du kan stänga det här fönstret.',
    notSentBack: 'Appen bad om att skicka dig tillbaka till en adress som den inte har registrerat, så du skickades inte dit.',
    returning: 'Återvänder till appen…',
    continue: 'Fortsätt',
  },
  de: {
    continueTo: 'Melden Sie sich an, um mit {app} fortzufahren',
    continuing: 'Angemeldet. Zurück zur App…',
    failed: 'Die Anmeldung konnte nicht abgeschlossen werden. Kehren Sie zur App zurück und versuchen Sie es erneut.',
    errorTitle: 'Diese Anmeldeanfrage kann nicht verwendet werden',
    signOutErrorTitle: 'Diese Abmeldeanfrage kann nicht verwendet werden',
    signedOut: 'Sie sind abgemeldet',
    signedOutBody: 'Sie können dieses Fenster schließen.',
    notSentBack: 'Die App wollte Sie zu einer Adresse zurückschicken, die sie nicht registriert hat, daher wurden Sie nicht dorthin geleitet.',
    returning: 'Zurück zur App…',
    continue: 'Weiter',
  },
} as const;

type Language = keyof typeof TEXT;
function textFor(language: string | undefined) {
  return TEXT[(language && language in TEXT ? language : 'en') as Language];
}

function page(language: string | undefined, title: string, body: string, script = ''): string {
  return `<!doctype html>
<html lang="${escapeHtml(language ?? 'en')}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="data:,">
<style>${PAGE_STYLE}</style>
${script}</head>
<body>
${body}
</body>
</html>
`;
}

export interface SignInPageInput {
  tenantId: string;
  applicationName: string;
  authorization: string;
  completeUrl: string;
  scriptVersion: string;
  loginHint?: string;
  language?: string;
}

export function signInPage(input: SignInPageInput): string {
  const text = textFor(input.language);
  const heading = text.continueTo.replace('{app}', input.applicationName);
  const attributes = [
    `tenant="${escapeHtml(input.tenantId)}"`,
    input.language ? `lang="${escapeHtml(input.language)}"` : '',
    input.loginHint ? `login-hint="${escapeHtml(input.loginHint)}"` : '',
  ].filter(Boolean).join(' ');
  return page(
    input.language,
    heading,
    `<main data-authorization="${escapeHtml(input.authorization)}" data-complete-url="${escapeHtml(input.completeUrl)}" data-continuing="${escapeHtml(text.continuing)}" data-failed="${escapeHtml(text.failed)}">
<p class="app">${escapeHtml(heading)}</p>
<guestpass-sign-in ${attributes}></guestpass-sign-in>
<p id="authorization-status" role="status" aria-live="polite"></p>
</main>`,
    `<script type="module" src="${SIGN_IN_SCRIPT_PATH}?v=${escapeHtml(input.scriptVersion)}"></script>\n`,
  );
}

/** What a page answers: a sign-in (authorize) or a sign-out (logout) request. */
export type RequestKind = 'sign-in' | 'sign-out';

export function errorPage(error: GuestpassError, language?: string, kind: RequestKind = 'sign-in'): string {
  const text = textFor(language);
  const title = kind === 'sign-out' ? text.signOutErrorTitle : text.errorTitle;
  return page(language, title, `<main><div class="card" role="alert"><h1>${escapeHtml(title)}</h1>
<p>${escapeHtml(error.message)}</p><p><code>${escapeHtml(error.code)}</code></p></div></main>`);
}

export function signedOutPage(language?: string, notSentBack = false): string {
  const text = textFor(language);
  const note = notSentBack ? `<p>${escapeHtml(text.notSentBack)}</p>` : '';
  return page(language, text.signedOut, `<main><div class="card"><h1>${escapeHtml(text.signedOut)}</h1>${note}<p>${escapeHtml(text.signedOutBody)}</p></div></main>`);
}

/**
 * OAuth 2.0 Form Post Response Mode: a form of hidden fields posted to the client's
 * redirect URI by our script (nothing inline runs), with a button should scripts be off.
 */
export function formPostPage(action: string, fields: Record<string, string>, scriptVersion: string, language?: string): string {
  const text = textFor(language);
  const inputs = Object.entries(fields).map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`).join('\n');
  return page(
    language,
    text.returning,
    `<main><form method="post" action="${escapeHtml(action)}" data-auto-post>
${inputs}
<p class="app">${escapeHtml(text.returning)}</p>
<noscript><button type="submit">${escapeHtml(text.continue)}</button></noscript>
</form></main>`,
    `<script type="module" src="${SIGN_IN_SCRIPT_PATH}?v=${escapeHtml(scriptVersion)}"></script>\n`,
  );
}
