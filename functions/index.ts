// The app entry the Functions host loads (package.json "main" after the build).
import { getConfig } from '../lib/config.js';
import { runtime } from '../lib/runtime.js';
import { startTelemetry } from '../lib/telemetry/telemetry.js';
import { explainStorageFailure } from '../lib/storage/startupCheck.js';
import './sendCode.js';
import './verifyCode.js';
import './sessionCheck.js';
import './signOut.js';
import './discoveryKeys.js';
import './tenantContextRequired.js';
import './manageTenants.js';
import './manageTenant.js';
import './manageInvitations.js';
import './devOutbox.js';
import './managePolicies.js';
import './managePolicy.js';
import './manageUsers.js';
import './manageUser.js';
import './graphInvitations.js';
import './graphUsers.js';
import './graphUser.js';
import './openapi.js';
import './cleanup.js';
import './manageSignInLogs.js';
import './manageMe.js';
import './manageKeys.js';
import './manageKey.js';
import './manageAudit.js';
import './manageDomains.js';
import './manageDomainVerify.js';
import './manageDomain.js';
import './manageLifecyclePreview.js';
import './manageLifecycleRun.js';
import './manageSignInLogSummary.js';
import './console.js';
import './oidcDiscovery.js';
import './oidcAuthorize.js';
import './oidcAuthorizeComplete.js';
import './oidcToken.js';
import './oidcUserinfo.js';
import './oidcLogout.js';
import './oidcSignInScript.js';
import './manageApplications.js';
import './manageApplication.js';
import './manageAppRoleAssignments.js';
import './manageAppRoleAssignment.js';
import './manageMailPreview.js';
import './mailEventsSendGrid.js';
import './mailEventsAcs.js';
import './devOutboxMail.js';
import './sendMail.js';
import './mailEventsAcsQueue.js';
import './manageWebhooks.js';
import './manageWebhook.js';
import './manageWebhookSecret.js';
import './deliverWebhook.js';

export { registrations } from './http.js';
// Parsed at load, so a missing or invalid setting stops the app at start with its name.
export const config = getConfig();
// Loaded beside the first requests (each waits for it): nothing of OpenTelemetry is in this bundle.
void startTelemetry(config.telemetry);

/**
 * For the local host: reach Table Storage once at start (creating the tables), so a
 * wrong key or endpoint is one line naming the setting rather than a stack trace on
 * the first request. The Functions host never calls it.
 */
export async function checkStorage(): Promise<void> {
  try {
    await runtime();
  } catch (error) {
    const explained = explainStorageFailure(error, getConfig().storage);
    if (explained) throw explained;
    // Not a setting to fix (storage slow or briefly down): serve; requests answer 503 until it answers.
    console.warn(`guestpass: Table Storage did not answer at start (${(error as Error).message}); serving, requests answer 503 storage_unavailable until it does.`);
  }
}
