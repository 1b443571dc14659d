// The Azure Communication Services Email client (with core-lro and core-rest-pipeline
// under it): only an app with EMAIL_TRANSPORT=acs needs it, and only on its first mail.
export { EmailClient } from '@azure/communication-email';
