import { GuestpassError } from '../errors.js';
import { partitionFromDigest, SESSION_PREFIX } from '../guests/guests.js';
import type { Runtime } from '../runtime.js';
import { endSession } from '../signin/sessions.js';
import { findApplication } from './applications.js';
import { clientRedirect, tenantIdForBrowser } from './authorize.js';
import { readPartitionRef } from './sealing.js';
import type { LogoutParams } from './schemas.js';
import { readIdTokenHint } from './token.js';

export type LogoutOutcome =
  | { kind: 'redirect'; location: string }
  | { kind: 'signed-out'; ended: boolean }
  | { kind: 'error-page'; error: GuestpassError };

/**
 * RP-Initiated Logout 1.0: `id_token_hint` names the session (its `sid`), which ends
 * at once for every token of it (session-check, userinfo). The browser goes back only
 * to a post_logout_redirect_uri registered for the hint's (or client_id's) application,
 * exactly; anything else shows a signed-out page and redirects nowhere.
 */
export async function endSessionByHint(rt: Runtime, tenantRef: string, params: LogoutParams): Promise<LogoutOutcome> {
  const tenantId = await tenantIdForBrowser(rt, tenantRef);
  if (tenantId instanceof GuestpassError) return { kind: 'error-page', error: tenantId };
  const invalid = (message: string): LogoutOutcome => ({ kind: 'error-page', error: new GuestpassError('invalid_request', { message }) });
  const hint = params.id_token_hint ? readIdTokenHint(rt, tenantId, params.id_token_hint) : undefined;
  if (params.id_token_hint && !hint) return invalid('The id_token_hint is not an ID token this organisation issued.');
  if (hint && params.client_id && params.client_id !== hint.clientId) return invalid('client_id differs from the audience of the id_token_hint.');
  const clientId = hint?.clientId ?? params.client_id;
  const application = clientId ? await findApplication(rt, tenantId, clientId) : undefined;
  if (params.post_logout_redirect_uri) {
    if (!application) return invalid('A post_logout_redirect_uri needs the id_token_hint or client_id of a registered application.');
    if (!application.postLogoutRedirectUris.includes(params.post_logout_redirect_uri)) {
      return invalid("The post_logout_redirect_uri is not one of this application's registered post-logout redirect URIs.");
    }
  }
  let ended = false;
  const ref = hint ? readPartitionRef(rt.config, 'session-partition', tenantId, hint.sid) : undefined;
  if (ref) {
    await endSession(rt, { partitionKey: partitionFromDigest(tenantId, ref.emailDigest), rowKey: SESSION_PREFIX + ref.rowId });
    ended = true;
  }
  if (params.post_logout_redirect_uri) return { kind: 'redirect', location: clientRedirect(params.post_logout_redirect_uri, { state: params.state }) };
  return { kind: 'signed-out', ended };
}
