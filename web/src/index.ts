// The browser bundle web/dist/guestpass.js: the client and the <guestpass-sign-in> element (defined on import).
export { GuestpassApiError, GuestpassClient, parseRetryAfter } from './client.js';
export type { CodeSent, ErrorBody, GuestpassClientOptions, RedirectSignInOptions, GuestpassErrorCode, GuestUser, SendCodeInput, Session, SessionStatus, SignInSource, VerifyCodeInput } from './client.js';
export { GuestpassSignIn } from './signInElement.js';
export { MESSAGES, pickLanguage } from './messages.js';
export type { Language, Messages } from './messages.js';
