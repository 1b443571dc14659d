// The app entry the Functions host loads (package.json "main" after the build).
import { getConfig } from '../lib/config.js';
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
import './openapi.js';
import './cleanup.js';
import './manageSignInLogs.js';
import './manageMailPreview.js';
import './mailEventsSendGrid.js';
import './mailEventsAcs.js';
import './devOutboxMail.js';

export { registrations } from './http.js';
// Parsed at load, so a missing or invalid setting stops the app at start with its name.
export const config = getConfig();
