/**
 * Every word the sign-in element shows, in English, Swedish and German. `{name}` marks
 * a value the element fills in (as text, never as HTML). Swedish and German are typed
 * as `Messages`, so a text missing from one of them does not compile.
 */
const en = {
  heading: 'Sign in',
  codeHeading: 'Enter code',
  signedInHeading: 'Signed in',
  introKnown: 'We will send a code to {email} to sign you in.',
  introUnknown: 'Enter your email address and we will send you a code to sign in.',
  emailLabel: 'Email address',
  sendCode: 'Send code',
  sending: 'Sending the code…',
  useAnotherAddress: 'Use another email address',
  codeSent: 'We just sent a code to {email}. It is valid for {minutes} minutes.',
  checkJunk: "If the email doesn't arrive, check your junk folder.",
  codeLabel: 'Code',
  verify: 'Sign in',
  verifying: 'Checking the code…',
  resend: 'Resend code',
  resendIn: 'Resend code in {seconds} s',
  codeResent: 'A new code is on its way. Only the newest code works.',
  checkingSession: 'Checking your session…',
  signedInAs: 'You are signed in as {email}.',
  signOut: 'Sign out',
  signedOut: 'You are signed out.',
  tryAgainIn: 'You can try again in {wait}.',
  error: {
    invalid_code: "That code isn't right. Check the newest email and try again.",
    code_expired: 'That code has expired. Ask for a new code.',
    too_many_attempts: 'Too many wrong codes. Ask for a new code later.',
    rate_limited: 'Please wait before asking for another code.',
    challenge_required: 'We need to check this request. Complete the check and try again.',
    otp_disabled: 'Sign-in with an email code is turned off for this organisation. Contact the person who invited you.',
    other_method_required: 'This address signs in with {method}, not with an email code.',
    no_sign_in_method: 'There is no way to sign in with this address. Contact the person who invited you.',
    invalid_email: 'Enter an email address such as name@example.com.',
    invalid_code_format: 'Enter the digits from the email.',
    tenant_not_found: "This sign-in link doesn't belong to a known organisation.",
    no_tenant: 'This page has no organisation set up for sign-in.',
    session_ended: 'Your session has ended. Sign in again.',
    network_error: "We can't reach the sign-in service. Check your connection and try again.",
    generic: 'Something went wrong. Try again.',
  },
  method: {
    AzureAD: 'a work or school account',
    MSA: 'a Microsoft account',
    Google: 'Google',
    OTP: 'an email code',
  },
};

export type Messages = typeof en;

const sv: Messages = {
  heading: 'Logga in',
  codeHeading: 'Ange kod',
  signedInHeading: 'Inloggad',
  introKnown: 'Vi skickar en kod till {email} så att du kan logga in.',
  introUnknown: 'Ange din e-postadress så skickar vi en kod som du loggar in med.',
  emailLabel: 'E-postadress',
  sendCode: 'Skicka kod',
  sending: 'Skickar koden…',
  useAnotherAddress: 'Använd en annan e-postadress',
  codeSent: 'Vi har just skickat en kod till {email}. Den gäller i {minutes} minuter.',
  checkJunk: 'Om mejlet inte kommer, titta i skräpposten.',
  codeLabel: 'Kod',
  verify: 'Logga in',
  verifying: 'Kontrollerar koden…',
  resend: 'Skicka ny kod',
  resendIn: 'Skicka ny kod om {seconds} s',
  codeResent: 'En ny kod är på väg. Bara den senaste koden gäller.',
  checkingSession: 'Kontrollerar din session…',
  signedInAs: 'Du är inloggad som {email}.',
  signOut: 'Logga ut',
  signedOut: 'Du är utloggad.',
  tryAgainIn: 'Du kan försöka igen om {wait}.',
  error: {
    invalid_code: 'Koden stämmer inte. Kontrollera det senaste mejlet och försök igen.',
    code_expired: 'Koden har gått ut. Be om en ny kod.',
    too_many_attempts: 'För många felaktiga koder. Be om en ny kod senare.',
    rate_limited: 'Vänta en stund innan du ber om en ny kod.',
    challenge_required: 'Vi behöver kontrollera begäran. Slutför kontrollen och försök igen.',
    otp_disabled: 'Inloggning med e-postkod är avstängd för den här organisationen. Kontakta den som bjöd in dig.',
    other_method_required: 'Den här adressen loggar in med {method}, inte med en e-postkod.',
    no_sign_in_method: 'Det finns inget sätt att logga in med den här adressen. Kontakta den som bjöd in dig.',
    invalid_email: 'Ange en e-postadress, till exempel namn@example.com.',
    invalid_code_format: 'Ange siffrorna från mejlet.',
    tenant_not_found: 'Inloggningslänken hör inte till någon känd organisation.',
    no_tenant: 'Sidan har ingen organisation inställd för inloggning.',
    session_ended: 'Din session har avslutats. Logga in igen.',
    network_error: 'Det går inte att nå inloggningstjänsten. Kontrollera anslutningen och försök igen.',
    generic: 'Något gick fel. Försök igen.',
  },
  method: {
    AzureAD: 'ett arbets- eller skolkonto',
    MSA: 'ett Microsoft-konto',
    Google: 'Google',
    OTP: 'en e-postkod',
  },
};

const de: Messages = {
  heading: 'Anmelden',
  codeHeading: 'Code eingeben',
  signedInHeading: 'Angemeldet',
  introKnown: 'Wir senden einen Code an {email}, damit Sie sich anmelden können.',
  introUnknown: 'Geben Sie Ihre E-Mail-Adresse ein. Wir senden Ihnen einen Code für die Anmeldung.',
  emailLabel: 'E-Mail-Adresse',
  sendCode: 'Code senden',
  sending: 'Code wird gesendet…',
  useAnotherAddress: 'Andere E-Mail-Adresse verwenden',
  codeSent: 'Wir haben gerade einen Code an {email} gesendet. Er ist {minutes} Minuten gültig.',
  checkJunk: 'Wenn die E-Mail nicht ankommt, sehen Sie im Spam-Ordner nach.',
  codeLabel: 'Code',
  verify: 'Anmelden',
  verifying: 'Code wird geprüft…',
  resend: 'Code erneut senden',
  resendIn: 'Code erneut senden in {seconds} s',
  codeResent: 'Ein neuer Code ist unterwegs. Nur der neueste Code ist gültig.',
  checkingSession: 'Ihre Sitzung wird geprüft…',
  signedInAs: 'Sie sind als {email} angemeldet.',
  signOut: 'Abmelden',
  signedOut: 'Sie sind abgemeldet.',
  tryAgainIn: 'Sie können es in {wait} erneut versuchen.',
  error: {
    invalid_code: 'Dieser Code ist nicht richtig. Prüfen Sie die neueste E-Mail und versuchen Sie es erneut.',
    code_expired: 'Dieser Code ist abgelaufen. Fordern Sie einen neuen Code an.',
    too_many_attempts: 'Zu viele falsche Codes. Fordern Sie später einen neuen Code an.',
    rate_limited: 'Bitte warten Sie, bevor Sie einen neuen Code anfordern.',
    challenge_required: 'Wir müssen diese Anfrage prüfen. Schließen Sie die Prüfung ab und versuchen Sie es erneut.',
    otp_disabled: 'Die Anmeldung mit E-Mail-Code ist für diese Organisation deaktiviert. Wenden Sie sich an die Person, die Sie eingeladen hat.',
    other_method_required: 'Diese Adresse meldet sich mit {method} an, nicht mit einem E-Mail-Code.',
    no_sign_in_method: 'Mit dieser Adresse ist keine Anmeldung möglich. Wenden Sie sich an die Person, die Sie eingeladen hat.',
    invalid_email: 'Geben Sie eine E-Mail-Adresse wie name@example.com ein.',
    invalid_code_format: 'Geben Sie die Ziffern aus der E-Mail ein.',
    tenant_not_found: 'Dieser Anmeldelink gehört zu keiner bekannten Organisation.',
    no_tenant: 'Für diese Seite ist keine Organisation für die Anmeldung eingerichtet.',
    session_ended: 'Ihre Sitzung ist beendet. Melden Sie sich erneut an.',
    network_error: 'Der Anmeldedienst ist nicht erreichbar. Prüfen Sie Ihre Verbindung und versuchen Sie es erneut.',
    generic: 'Etwas ist schiefgelaufen. Versuchen Sie es erneut.',
  },
  method: {
    AzureAD: 'einem Geschäfts- oder Schulkonto',
    MSA: 'einem Microsoft-Konto',
    Google: 'Google',
    OTP: 'einem E-Mail-Code',
  },
};

export const MESSAGES = { en, sv, de } as const;
export type Language = keyof typeof MESSAGES;
/** The languages guestpass's pages speak (the sign-in element and the operator console). */
export const LANGUAGES: readonly Language[] = ['en', 'sv', 'de'];

/** The first supported language among the candidates (`sv-SE` counts as `sv`), else English. */
export function pickLanguage(candidates: readonly (string | null | undefined)[]): Language {
  for (const candidate of candidates) {
    const base = candidate?.toLowerCase().split('-')[0];
    if (base && (LANGUAGES as readonly string[]).includes(base)) return base as Language;
  }
  return 'en';
}

/** A duration in the language's words: "42 seconds", "5 minuter", "2 Stunden". */
export function formatWait(language: Language, seconds: number): string {
  const [value, unit] = seconds < 90 ? [seconds, 'second'] : seconds < 5400 ? [Math.ceil(seconds / 60), 'minute'] : [Math.ceil(seconds / 3600), 'hour'];
  return new Intl.NumberFormat(language, { style: 'unit', unit, unitDisplay: 'long' }).format(value);
}
