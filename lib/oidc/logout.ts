import { GuestpassError } from '../errors.js';
import { partitionFromDigest, SESSION_PREFIX } from '../guests/guests.js';
import type { Runtime } from '../runtime.js';
import { endSession } from '../signin/sessions.js';
import { findApplication } from './applications.js';
import { clientRedirect, pickLanguage, tenantIdForBrowser } from './authorize.js';
import { readIdTokenHint } from './idToken.js';
import { readPartitionRef } from './sealing.js';
import { omitEmpty, type LogoutParams } from './schemas.js';

export type LogoutOutcome =
  | { kind: 'redirect'; location: string }
  /** `notSentBack`: a post_logout_redirect_uri was asked for that the application has not registered. */
  | { kind: 'signed-out'; ended: boolean; notSentBack: boolean; language?: string }
  | { kind: 'error-page'; error: GuestpassError; language?: string };

/**
 * RP-Initiated Logout 1.0: a valid `id_token_hint` names the session (its `sid`), which
 * ends at once for every token of it (session-check, userinfo), whatever else the
 * request says. The browser goes back only to a post_logout_redirect_uri registered,
 * exactly, for the hint's (or client_id's) application; to anything else it is not
 * sent, and sees a signed-out page in its language instead.
 */
export async function endSessionByHint(rt: Runtime, tenantRef: string, given: LogoutParams, repeated: string[] = []): Promise<LogoutOutcome> {
  const params = omitEmpty(given);
  const language = pickLanguage(params.ui_locales);
  const tenantId = await tenantIdForBrowser(rt, tenantRef);
  if (tenantId instanceof GuestpassError) return { kind: 'error-page', error: tenantId, language };
  const invalid = (message: string): LogoutOutcome => ({ kind: 'error-page', error: new GuestpassError('invalid_request', { message }), language });
  if (repeated.includes('id_token_hint')) return invalid('id_token_hint appears more than once: it is not clear which session to end.');
  const hint = params.id_token_hint ? readIdTokenHint(rt, tenantId, params.id_token_hint) : undefined;
  if (params.id_token_hint && !hint) {
    return invalid('The id_token_hint is not an ID token this organisation issued, so it names no session to end. Sign out in the app again.');
  }

  let ended = false;
  const ref = hint ? readPartitionRef(rt.config, 'session-partition', tenantId, hint.sid) : undefined;
  if (ref) {
    await endSession(rt, { partitionKey: partitionFromDigest(tenantId, ref.emailDigest), rowKey: SESSION_PREFIX + ref.rowId });
    ended = true;
  }
  if (repeated.length > 0) {
    const done = ended ? ' You are signed out; the app was not told.' : '';
    return invalid(`Each parameter may appear only once (RFC 6749 §3.1): ${repeated.join(', ')}.${done}`);
  }
  const signedOut = (notSentBack: boolean): LogoutOutcome => ({ kind: 'signed-out', ended, notSentBack, language });
  if (!params.post_logout_redirect_uri) return signedOut(false);
  // The hint's audience is the application; a client_id that names another one sends no one anywhere.
  if (hint && params.client_id && params.client_id !== hint.clientId) return signedOut(true);
  const clientId = hint?.clientId ?? params.client_id;
  const application = clientId ? await findApplication(rt, tenantId, clientId) : undefined;
  if (!application || !application.postLogoutRedirectUris.includes(params.post_logout_redirect_uri)) return signedOut(true);
  return { kind: 'redirect', location: clientRedirect(params.post_logout_redirect_uri, { state: params.state }) };
}
