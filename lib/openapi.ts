import * as z from 'zod';
import pkg from '../package.json';
import { ERROR_CODES, GuestpassError, type ErrorCode } from './errors.js';
import { graphErrorBody } from './graph/errors.js';
import * as adminSchemas from './admin/schemas.js';
import * as schemas from './schemas.js';
import { signInSummaryQuery, signInSummaryResponse } from './admin/signInSummary.js';
import * as oidc from './oidc/schemas.js';
import * as graph from './graph/schemas.js';
import { mailPreviewBody, mailPreviewResponse } from './mail/settings.js';
import * as events from './events/schemas.js';

/**
 * The OpenAPI 3.1 document of guestpass, generated from two things that cannot drift
 * from the running app: the function registrations (route, methods, authLevel, passed
 * in by functions/openapi.ts) and the zod schemas in schemas.ts that the functions
 * validate with. What only a person can say (a summary, which error codes an operation
 * answers) lives in API_OPERATIONS below, one entry per function.
 */

/** What the generator needs of a registration (functions/http.ts records them). */
export interface RouteRegistration {
  name: string;
  route: string;
  methods: string[];
  authLevel: string;
}

type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface OperationDoc {
  summary: string;
  description?: string;
  tag: 'Guest' | 'Management' | 'Discovery' | 'OpenID Connect' | 'Mail events' | 'Development' | 'Undocumented';
  /** Path parameters; every `{name}` of the route is documented even without this. */
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** A form-encoded body (application/x-www-form-urlencoded), as OAuth's endpoints take. */
  form?: z.ZodType;
  /** Needs `Authorization: Bearer <session token>`. */
  bearer?: boolean;
  /** OAuth client authentication: HTTP Basic for confidential clients, or none for public ones. */
  clientAuth?: boolean;
  /** A success that is not JSON: an HTML page or a script. */
  successMedia?: 'text/html' | 'text/javascript';
  /** The operation may answer 302 to a client's registered URI; says when. */
  redirect?: string;
  success: { status: number; description: string; schema?: z.ZodType };
  /** The domain's error codes; invalid_request, 413/415, 500 and 503 are added from the operation's shape (the host's 401 too). */
  errors?: ErrorCode[];
  /** A Microsoft Graph-shaped route: the credential as `Authorization: Bearer`, errors in Graph's shape (guestpass's code in innerError.code). */
  graph?: boolean;
}

const guestCodeErrors: ErrorCode[] = ['tenant_not_found'];
const sessionErrors: ErrorCode[] = ['invalid_token', 'session_expired', 'session_revoked', 'tenant_not_found'];
const withoutTenant: OperationDoc = {
  tag: 'Guest', summary: 'A guest route called without a tenant', description: 'Always answers 400 tenant_context_required with the form to use.',
  success: { status: 400, description: 'tenant_context_required', schema: schemas.errorResponse },
};

const authorizeDoc: OperationDoc = {
  tag: 'OpenID Connect', summary: 'Authorization endpoint: the hosted sign-in page (code flow with PKCE S256 only)', params: schemas.tenantParams, query: oidc.authorizeParams,
  description: 'client_id, redirect_uri (exactly registered), response_type=code, scope with openid, state, nonce and code_challenge (S256) are required. Until client_id and redirect_uri are known to match, errors are an HTML page and never a redirect.',
  successMedia: 'text/html', redirect: 'Back to the redirect_uri with code, state and iss after sign-in, or with error, error_description, state and iss (RFC 6749 §4.1.2.1).',
  success: { status: 200, description: 'The hosted sign-in page (strict Content-Security-Policy).' },
  errors: ['tenant_not_found'],
};
const userinfoDoc: OperationDoc = {
  tag: 'OpenID Connect', summary: 'UserInfo endpoint (OIDC Core §5.3)', params: schemas.tenantParams, bearer: true,
  success: { status: 200, description: "The guest's claims allowed by the access token's scope.", schema: oidc.userInfoResponse },
  errors: [...sessionErrors, 'otp_disabled'],
};
const logoutDoc: OperationDoc = {
  tag: 'OpenID Connect', summary: 'End-session endpoint (RP-Initiated Logout 1.0)', params: schemas.tenantParams, query: oidc.logoutParams,
  description: "id_token_hint names the session, which ends at once; the browser returns only to a post_logout_redirect_uri registered for the hint's application.",
  successMedia: 'text/html', redirect: 'To the registered post_logout_redirect_uri, with state.',
  success: { status: 200, description: 'A signed-out page.' },
  errors: ['tenant_not_found'],
};

/**
 * One entry per function name (the first argument of registerHttp), one operation per
 * method it registers (OPTIONS preflights are documented on their own). A function
 * registered without an entry here fails test/openapi.test.ts by name.
 */
const discoveryKeysDoc: OperationDoc = {
  tag: 'Discovery', summary: 'Public keys that verify session tokens (ES256) and ID tokens (RS256 or ES256): the JWKS', params: schemas.tenantParams,
  success: { status: 200, description: 'The JWKS.', schema: schemas.jwksResponse },
  errors: ['tenant_not_found'],
};

const openIdConfigurationDoc: OperationDoc = {
  tag: 'OpenID Connect', summary: "The tenant's OpenID Connect Discovery 1.0 document", params: schemas.tenantParams,
  description: 'The issuer is {PUBLIC_BASE_URL}/api/{tenantId}: a verified domain in the route answers the same document, whose issuer is always the id form.',
  success: { status: 200, description: 'The provider metadata.', schema: oidc.openIdConfigurationResponse },
  errors: ['tenant_not_found'],
};

export const API_OPERATIONS: Record<string, Partial<Record<HttpMethod, OperationDoc>>> = {
  sendCode: {
    POST: {
      tag: 'Guest', summary: 'Send a one-time code to a guest', params: schemas.tenantParams, body: schemas.sendCodeBody,
      description:
        'Answers the same 202 for every address, whatever it is to the tenant (a guest, a disabled, blocked-domain or federated guest, an address that is not a guest, which gets no mail), so it does not reveal who is invited; ' +
        'what stands in the way of a guest is told by verify-code once the mailed code is given. With OTP turned off for the tenant it answers what the contract says (otp_disabled, other_method_required, no_sign_in_method).',
      success: { status: 202, description: 'A code was mailed (if the address is a guest).', schema: schemas.codeSentResponse },
      errors: [...guestCodeErrors, 'other_method_required', 'otp_disabled', 'no_sign_in_method', 'rate_limited', 'challenge_required', 'mail_cap_reached'],
    },
  },
  verifyCode: {
    POST: {
      tag: 'Guest', summary: 'Exchange a code for a session', params: schemas.tenantParams, body: schemas.verifyCodeBody,
      description: 'Only a correct code is told what stands in the way of the guest: guest_disabled, domain_blocked, other_method_required, no_sign_in_method. Every other address and code gets invalid_code alike.',
      success: { status: 200, description: 'The guest is signed in; keep `device` and send it back with later calls.', schema: schemas.signedInResponse },
      errors: [...guestCodeErrors, 'invalid_code', 'code_expired', 'too_many_attempts', 'challenge_required', 'otp_disabled', 'guest_disabled', 'domain_blocked', 'other_method_required', 'no_sign_in_method'],
    },
  },
  sessionCheck: {
    GET: {
      tag: 'Guest', summary: 'Check a session token', params: schemas.tenantParams, bearer: true,
      success: { status: 200, description: 'The session is active.', schema: schemas.sessionStatusResponse },
      errors: [...sessionErrors, 'otp_disabled', 'guest_disabled'],
    },
  },
  signOut: {
    POST: {
      tag: 'Guest', summary: 'End a session', params: schemas.tenantParams, bearer: true,
      success: { status: 204, description: 'The session is ended; its token no longer passes session-check.' },
      errors: sessionErrors,
    },
  },
  discoveryKeys: {
    GET: discoveryKeysDoc,
    HEAD: { ...discoveryKeysDoc, summary: 'The JWKS answer\'s headers, without its body' },
  },
  tenantContextRequired: { GET: withoutTenant, POST: withoutTenant },
  manageTenants: {
    GET: {
      tag: 'Management', summary: 'List every tenant (the operator only)', query: adminSchemas.pageQuery,
      success: { status: 200, description: 'A page of tenants.', schema: adminSchemas.tenantPageResponse },
      errors: ['forbidden'],
    },
    POST: {
      tag: 'Management', summary: 'Create a tenant (the operator only); its domains start Pending', body: schemas.createTenantBody,
      success: { status: 201, description: 'The tenant.', schema: schemas.tenantResponse },
      errors: ['forbidden', 'domain_taken'],
    },
  },
  manageTenant: {
    GET: {
      tag: 'Management', summary: 'Read a tenant', params: schemas.tenantParams,
      success: { status: 200, description: 'The tenant.', schema: schemas.tenantResponse },
      errors: ['tenant_not_found'],
    },
    PATCH: {
      tag: 'Management', summary: "Change a tenant's settings", params: schemas.tenantParams, body: schemas.tenantSettingsBody,
      success: { status: 200, description: 'The changed tenant.', schema: schemas.tenantResponse },
      errors: ['tenant_not_found', 'domain_taken'],
    },
  },
  manageInvitations: {
    POST: {
      tag: 'Management', summary: 'Invite a guest (Microsoft Graph invitation shape)', params: schemas.tenantParams, body: schemas.invitationBody,
      success: { status: 201, description: 'The invitation; inviteRedeemUrl opens the SPA with tenant and login_hint.', schema: schemas.invitationResponse },
      errors: ['tenant_not_found', 'invalid_redirect_uri', 'invitation_domain_blocked', 'rate_limited', 'mail_cap_reached'],
    },
  },
  managePolicies: {
    GET: {
      tag: 'Management', summary: "List a tenant's policies", params: schemas.tenantParams,
      success: { status: 200, description: 'The policies.', schema: schemas.policyListResponse },
      errors: ['tenant_not_found'],
    },
    POST: {
      tag: 'Management', summary: 'Create a B2BManagementPolicy (New-AzureADPolicy)', params: schemas.tenantParams, body: schemas.createPolicyBody,
      success: { status: 201, description: 'The policy.', schema: schemas.policyResponse },
      errors: ['tenant_not_found', 'invalid_policy', 'unsupported_policy_type', 'policy_conflict'],
    },
  },
  managePolicy: {
    GET: {
      tag: 'Management', summary: 'Read a policy', params: schemas.policyParams,
      success: { status: 200, description: 'The policy.', schema: schemas.policyResponse },
      errors: ['tenant_not_found', 'policy_not_found'],
    },
    PATCH: {
      tag: 'Management', summary: 'Change a policy (Set-AzureADPolicy)', params: schemas.policyParams, body: schemas.updatePolicyBody,
      success: { status: 200, description: 'The changed policy.', schema: schemas.policyResponse },
      errors: ['tenant_not_found', 'policy_not_found', 'invalid_policy', 'policy_conflict'],
    },
    DELETE: {
      tag: 'Management', summary: 'Delete a policy', params: schemas.policyParams,
      success: { status: 204, description: 'Deleted; without an organisation default OTP_DEFAULT_ENABLED decides.' },
      errors: ['tenant_not_found', 'policy_not_found'],
    },
  },
  manageUsers: {
    GET: {
      tag: 'Management', summary: "List a tenant's guests", params: schemas.tenantParams, query: schemas.listGuestsQuery,
      success: { status: 200, description: 'A page of guests in address order, at most 100; nextLink when there may be more.', schema: schemas.guestPageResponse },
      errors: ['tenant_not_found'],
    },
  },
  manageUser: {
    GET: {
      tag: 'Management', summary: 'Read a guest', params: schemas.guestParams,
      success: { status: 200, description: 'The guest.', schema: schemas.guestResponse },
      errors: ['tenant_not_found', 'guest_not_found'],
    },
    PATCH: {
      tag: 'Management', summary: "Block or unblock a guest's sign-in (Graph's accountEnabled): blocking ends its sessions at once", params: schemas.guestParams, body: schemas.updateGuestBody,
      success: { status: 200, description: 'The guest as it now is.', schema: schemas.guestResponse },
      errors: ['tenant_not_found', 'guest_not_found'],
    },
    DELETE: {
      tag: 'Management', summary: 'Delete a guest: its sessions and codes end at once', params: schemas.guestParams,
      success: { status: 204, description: 'Deleted.' },
      errors: ['tenant_not_found', 'guest_not_found'],
    },
  },
  graphInvitations: {
    POST: {
      tag: 'Management', graph: true, summary: "Microsoft Graph's POST /invitations (New-MgInvitation), for the Graph SDK", params: schemas.tenantParams, body: graph.graphInvitationBody,
      description: "Point Microsoft Graph's JavaScript SDK at <api>/manage/tenants/{tenant}/graph with defaultVersion v1.0. sendInvitationMessage defaults to false, as in Graph.",
      success: { status: 201, description: "Graph's invitation.", schema: graph.graphInvitationResponse },
      errors: ['tenant_not_found', 'invalid_redirect_uri', 'invitation_domain_blocked', 'rate_limited', 'mail_cap_reached'],
    },
  },
  graphUsers: {
    GET: {
      tag: 'Management', graph: true, summary: "Microsoft Graph's GET /users: the tenant's guests as Graph users", params: schemas.tenantParams, query: graph.graphUsersQuery,
      description:
        "$filter takes userType eq 'Guest', creationType eq 'Invitation', externalUserState eq 'PendingAcceptance'|'Accepted', mail eq '<address>', startswith(mail,'<prefix>') and accountEnabled eq true|false, joined with and; " +
        '$select names user properties; at most 100 a page, in address order, with @odata.nextLink when there may be more. Anything else answers 400 Request_UnsupportedQuery.',
      success: { status: 200, description: 'A page of users.', schema: graph.graphUserPageResponse },
      errors: ['tenant_not_found', 'unsupported_query'],
    },
  },
  graphUser: {
    GET: {
      tag: 'Management', graph: true, summary: "Microsoft Graph's GET /users/{id}", params: graph.graphUserParams, query: graph.graphUserQuery,
      success: { status: 200, description: 'The user.', schema: graph.graphUserResponse },
      errors: ['tenant_not_found', 'guest_not_found', 'unsupported_query'],
    },
    PATCH: {
      tag: 'Management', graph: true, summary: "Microsoft Graph's PATCH /users/{id}: accountEnabled false blocks sign-in (sessions end at once), true unblocks", params: graph.graphUserParams, body: graph.graphUserPatchBody,
      success: { status: 204, description: 'Changed.' },
      errors: ['tenant_not_found', 'guest_not_found'],
    },
    DELETE: {
      tag: 'Management', graph: true, summary: "Microsoft Graph's DELETE /users/{id}: its sessions and codes end at once", params: graph.graphUserParams,
      success: { status: 204, description: 'Deleted.' },
      errors: ['tenant_not_found', 'guest_not_found'],
    },
  },
  manageSignInLogs: {
    GET: {
      tag: 'Management', summary: "Read a tenant's sign-in log (send-code and verify-code outcomes)", params: schemas.tenantParams, query: schemas.signInLogsQuery,
      success: { status: 200, description: 'A page of log entries; one guest at a time, newest first within a guest.', schema: schemas.signInLogPageResponse },
      errors: ['tenant_not_found', 'guest_not_found'],
    },
  },
  manageSignInLogSummary: {
    GET: {
      tag: 'Management', summary: "A tenant's sign-ins, failures and codes sent per hour", params: schemas.tenantParams, query: signInSummaryQuery,
      description: 'Every hour of the window, oldest first, zero when quiet: the operator console draws its chart from it.',
      success: { status: 200, description: 'One entry per hour.', schema: signInSummaryResponse },
      errors: ['tenant_not_found'],
    },
  },
  console: {
    GET: {
      tag: 'Discovery', summary: 'The operator console (HTML, script and style sheet)',
      description: '`/api/manage/console/` is the page; the other files have content hashes in their names. Gzipped when the client accepts it; a strict Content-Security-Policy.',
      success: { status: 200, description: 'The file.' },
      errors: ['console_file_not_found'],
    },
  },
  manageMe: {
    GET: {
      tag: 'Management', summary: 'Who the credential is: the operator, or a tenant admin key and its tenant',
      success: { status: 200, description: 'The caller.', schema: adminSchemas.meResponse },
    },
  },
  manageKeys: {
    GET: {
      tag: 'Management', summary: "List a tenant's admin keys (never their secrets)", params: schemas.tenantParams,
      success: { status: 200, description: 'The keys, revoked ones with revokedAt.', schema: adminSchemas.keyListResponse },
      errors: ['tenant_not_found'],
    },
    POST: {
      tag: 'Management', summary: 'Create a tenant admin key (shown once)', params: schemas.tenantParams, body: adminSchemas.createKeyBody,
      success: { status: 201, description: 'The key; `key` is never shown again.', schema: adminSchemas.createdKeyResponse },
      errors: ['tenant_not_found'],
    },
  },
  manageKey: {
    DELETE: {
      tag: 'Management', summary: 'Revoke a tenant admin key, at once on every instance', params: adminSchemas.keyParams,
      success: { status: 204, description: 'Revoked.' },
      errors: ['tenant_not_found', 'key_not_found'],
    },
  },
  manageAudit: {
    GET: {
      tag: 'Management', summary: "Read a tenant's audit log of management changes, newest first", params: schemas.tenantParams, query: adminSchemas.auditQuery,
      success: { status: 200, description: 'A page of entries (AUDIT_LOG_RETENTION_DAYS are kept).', schema: adminSchemas.auditPageResponse },
      errors: ['tenant_not_found'],
    },
  },
  manageDomains: {
    GET: {
      tag: 'Management', summary: "List a tenant's domains and their verification state", params: schemas.tenantParams,
      success: { status: 200, description: 'The domains.', schema: adminSchemas.domainListResponse },
      errors: ['tenant_not_found'],
    },
    POST: {
      tag: 'Management', summary: 'Add a domain (Pending until its DNS TXT record is verified)', params: schemas.tenantParams, body: adminSchemas.addDomainBody,
      success: { status: 201, description: 'The domain with the TXT record to publish (200 when it was already there).', schema: adminSchemas.domainResponse },
      errors: ['tenant_not_found', 'domain_taken'],
    },
  },
  manageDomainVerify: {
    POST: {
      tag: 'Management', summary: "Verify a domain by its DNS TXT record guestpass-verification=<token>", params: adminSchemas.domainParams,
      success: { status: 200, description: 'The domain, Verified: it now resolves {tenant}.', schema: adminSchemas.domainResponse },
      errors: ['tenant_not_found', 'domain_not_found', 'domain_not_verified', 'domain_taken'],
    },
  },
  manageDomain: {
    DELETE: {
      tag: 'Management', summary: 'Remove a domain from a tenant', params: adminSchemas.domainParams,
      success: { status: 204, description: 'Removed; a verified domain no longer resolves {tenant}.' },
      errors: ['tenant_not_found', 'domain_not_found'],
    },
  },
  manageLifecyclePreview: {
    GET: {
      tag: 'Management', summary: 'What the next guest lifecycle run would do', params: schemas.tenantParams,
      success: { status: 200, description: 'The planned actions.', schema: adminSchemas.lifecycleResponse },
      errors: ['tenant_not_found'],
    },
  },
  manageLifecycleRun: {
    POST: {
      tag: 'Management', summary: 'Run the guest lifecycle now (the cleanup timer runs it too)', params: schemas.tenantParams,
      success: { status: 200, description: 'What was done; each action is in the audit log.', schema: adminSchemas.lifecycleResponse },
      errors: ['tenant_not_found'],
    },
  },
  manageMailPreview: {
    POST: {
      tag: 'Management', summary: "Render the tenant's code or invitation mail (with its saved mail settings, or with `mail` given)",
      params: schemas.tenantParams, body: mailPreviewBody,
      success: { status: 200, description: 'The subject and both parts, with a sample code.', schema: mailPreviewResponse },
      errors: ['tenant_not_found'],
    },
  },
  mailEventsSendGrid: {
    POST: {
      tag: 'Mail events', summary: "SendGrid's signed Event Webhook: delivered, bounce, dropped update the mail's delivery status",
      description: 'Verified with X-Twilio-Email-Event-Webhook-Signature and -Timestamp (ECDSA P-256) against SENDGRID_WEBHOOK_PUBLIC_KEY.',
      success: { status: 200, description: '`{applied, ignored}`.' },
      errors: ['invalid_signature'],
    },
  },
  mailEventsAcs: {
    POST: {
      tag: 'Mail events', summary: 'ACS delivery reports through an Event Grid webhook (EmailDeliveryReportReceived), with the subscription validation handshake',
      description: 'Authenticated by ACS_EVENTS_SECRET in the `secret` query parameter of the subscription URL.',
      success: { status: 200, description: '`{validationResponse}` to a validation event, else `{applied, ignored}`.' },
      errors: ['invalid_signature'],
    },
  },
  devOutboxMail: {
    GET: {
      tag: 'Development', summary: "One outbox mail's HTML part as a page (EMAIL_TRANSPORT=outbox only)",
      success: { status: 200, description: 'text/html' },
      errors: ['outbox_mail_not_found'],
    },
  },
  devOutbox: {
    GET: {
      tag: 'Development', summary: 'Mail the outbox transport kept (EMAIL_TRANSPORT=outbox only)', query: schemas.outboxQuery,
      success: { status: 200, description: 'Newest first.', schema: schemas.outboxResponse },
    },
  },
  oidcDiscovery: {
    GET: openIdConfigurationDoc,
    HEAD: { ...openIdConfigurationDoc, summary: "The discovery document answer's headers, without its body" },
  },
  oidcAuthorize: { GET: authorizeDoc, POST: { ...authorizeDoc, summary: 'Authorization endpoint, form-posted (OIDC Core §3.1.2.1)', query: undefined, form: oidc.authorizeParams } },
  oidcAuthorizeComplete: {
    POST: {
      tag: 'OpenID Connect', summary: 'Finish an authorization once signed in (called by the hosted sign-in page)', params: schemas.tenantParams, body: oidc.authorizeCompleteBody, bearer: true,
      success: { status: 200, description: 'Where the browser goes next: the redirect URI with a one-time code (60 s, single use), or with response_type=id_token the ID token; redirected, or with response_mode=form_post posted as a form.', schema: oidc.authorizeCompleteResponse },
      errors: [...sessionErrors, 'authorization_request_expired', 'otp_disabled'],
    },
  },
  oidcToken: {
    POST: {
      tag: 'OpenID Connect', summary: 'Token endpoint: redeem an authorization code (RFC 6749 §4.1.3, RFC 7636)', params: schemas.tenantParams, form: oidc.tokenBody, clientAuth: true,
      description: 'Errors also carry error_description (RFC 6749 §5.2); invalid_client answers 401 with WWW-Authenticate: Basic.',
      success: { status: 200, description: 'An ID token and an access token (a session token session-check accepts).', schema: oidc.tokenResponse },
      errors: ['tenant_not_found', 'invalid_client', 'invalid_grant', 'unsupported_grant_type', 'origin_not_allowed'],
    },
  },
  oidcUserinfo: { GET: userinfoDoc, POST: { ...userinfoDoc, summary: 'UserInfo endpoint, POST (OIDC Core §5.3.1)' } },
  oidcLogout: { GET: logoutDoc, POST: { ...logoutDoc, summary: 'End-session endpoint, form-posted', query: undefined, form: oidc.logoutParams } },
  oidcSignInScript: {
    GET: {
      tag: 'OpenID Connect', summary: "The hosted sign-in page's script (the <guestpass-sign-in> element)",
      successMedia: 'text/javascript',
      success: { status: 200, description: 'An ES module.' },
    },
  },
  manageWebhooks: {
    GET: {
      tag: 'Management', summary: "List a tenant's webhook endpoints with their recent deliveries (never their secrets)", params: schemas.tenantParams,
      success: { status: 200, description: 'The endpoints, each with its latest delivery attempts and their answers.', schema: events.webhookListResponse },
      errors: ['tenant_not_found'],
    },
    POST: {
      tag: 'Management', summary: 'Register a webhook endpoint (Standard Webhooks; the secret is shown once)', params: schemas.tenantParams, body: events.createWebhookBody,
      description: 'The url must be https (http only in development) and resolve to public addresses only: no loopback, private or link-local address (WEBHOOK_ALLOW_PRIVATE_ADDRESSES lifts that in development). Redirects are never followed.',
      success: { status: 201, description: 'The endpoint; `secret` (whsec_…) is never shown again.', schema: events.createdWebhookResponse },
      errors: ['tenant_not_found', 'invalid_webhook_url'],
    },
  },
  manageWebhook: {
    GET: {
      tag: 'Management', summary: 'Read a webhook endpoint with its recent deliveries', params: events.webhookParams,
      success: { status: 200, description: 'The endpoint.', schema: events.webhookView },
      errors: ['tenant_not_found', 'webhook_not_found'],
    },
    PATCH: {
      tag: 'Management', summary: 'Change a webhook endpoint: url, events, description; enabled:true turns one disabled for failing back on', params: events.webhookParams, body: events.updateWebhookBody,
      success: { status: 200, description: 'The endpoint as changed.', schema: events.webhookView },
      errors: ['tenant_not_found', 'webhook_not_found', 'invalid_webhook_url'],
    },
    DELETE: {
      tag: 'Management', summary: 'Delete a webhook endpoint; queued deliveries to it are dropped', params: events.webhookParams,
      success: { status: 204, description: 'Deleted.' },
      errors: ['tenant_not_found', 'webhook_not_found'],
    },
  },
  manageWebhookSecret: {
    POST: {
      tag: 'Management', summary: "Rotate a webhook endpoint's signing secret (the previous one signs beside it for a day)", params: events.webhookParams,
      success: { status: 200, description: 'The new secret, shown once.', schema: events.rotatedSecretResponse },
      errors: ['tenant_not_found', 'webhook_not_found'],
    },
  },
  manageApplications: {
    GET: {
      tag: 'Management', summary: "List a tenant's OpenID Connect applications", params: schemas.tenantParams,
      success: { status: 200, description: 'The applications (never a secret).', schema: oidc.applicationListResponse },
      errors: ['tenant_not_found'],
    },
    POST: {
      tag: 'Management', summary: 'Register an OpenID Connect application (client)', params: schemas.tenantParams, body: oidc.createApplicationBody,
      description: 'A confidential client gets clientSecret in this answer only; it is stored as a hash.',
      success: { status: 201, description: 'The application, with its client id.', schema: oidc.applicationResponse },
      errors: ['tenant_not_found'],
    },
  },
  manageApplication: {
    GET: {
      tag: 'Management', summary: 'Read an application', params: oidc.applicationParams,
      success: { status: 200, description: 'The application.', schema: oidc.applicationResponse },
      errors: ['tenant_not_found', 'application_not_found'],
    },
    PATCH: {
      tag: 'Management', summary: "Change an application's name or URIs, or rotate a confidential client's secret", params: oidc.applicationParams, body: oidc.updateApplicationBody,
      success: { status: 200, description: 'The changed application (with clientSecret once, when rotated).', schema: oidc.applicationResponse },
      errors: ['tenant_not_found', 'application_not_found', 'not_confidential_client', 'application_conflict'],
    },
    DELETE: {
      tag: 'Management', summary: 'Delete an application: new sign-ins and code redemptions for it stop at once', params: oidc.applicationParams,
      success: { status: 204, description: 'Deleted.' },
      errors: ['tenant_not_found', 'application_not_found'],
    },
  },
  manageAppRoleAssignments: {
    GET: {
      tag: 'Management', summary: "A guest's app role assignments (Microsoft Graph's appRoleAssignment)", params: oidc.appRoleAssignmentParams,
      success: { status: 200, description: 'Every assignment of the guest, in every application of the tenant.', schema: oidc.appRoleAssignmentListResponse },
      errors: ['tenant_not_found', 'guest_not_found'],
    },
    POST: {
      tag: 'Management', summary: 'Assign an app role to a guest', params: oidc.appRoleAssignmentParams, body: oidc.createAppRoleAssignmentBody,
      description: "resourceId is the application's clientId. From the next token on, the application's ID tokens, access tokens and userinfo carry the role's value in roles.",
      success: { status: 201, description: 'The assignment.', schema: oidc.appRoleAssignmentResponse },
      errors: ['tenant_not_found', 'guest_not_found', 'application_not_found', 'app_role_not_found', 'app_role_assignment_exists'],
    },
  },
  manageAppRoleAssignment: {
    DELETE: {
      tag: 'Management', summary: "Remove a guest's app role assignment", params: oidc.appRoleAssignmentItemParams,
      success: { status: 204, description: 'Removed: tokens issued from now on leave the role out.' },
      errors: ['tenant_not_found', 'app_role_assignment_not_found'],
    },
  },
  openapi: {
    GET: {
      tag: 'Discovery', summary: 'This OpenAPI document',
      success: { status: 200, description: 'OpenAPI 3.1.' },
    },
  },
};

/** Schemas listed under components.schemas and referenced by name; any other schema is inlined. */
const NAMED_SCHEMAS: [z.ZodType, string][] = [
  [schemas.sendCodeBody, 'SendCodeRequest'],
  [schemas.verifyCodeBody, 'VerifyCodeRequest'],
  [schemas.createTenantBody, 'CreateTenantRequest'],
  [schemas.tenantSettingsBody, 'UpdateTenantRequest'],
  [schemas.invitationBody, 'InvitationRequest'],
  [schemas.createPolicyBody, 'CreatePolicyRequest'],
  [schemas.updatePolicyBody, 'UpdatePolicyRequest'],
  [schemas.policyResponse, 'Policy'],
  [schemas.guestResponse, 'Guest'],
  [schemas.codeSentResponse, 'CodeSent'],
  [schemas.sessionResponse, 'Session'],
  [schemas.signedInResponse, 'SignedIn'],
  [schemas.sessionStatusResponse, 'SessionStatus'],
  [schemas.jwksResponse, 'Jwks'],
  [schemas.tenantResponse, 'Tenant'],
  [schemas.invitationResponse, 'Invitation'],
  [schemas.outboxResponse, 'Outbox'],
  [schemas.errorResponse, 'Error'],
  [graph.graphErrorResponse, 'GraphError'],
  [graph.graphUserResponse, 'GraphUser'],
  [graph.graphInvitationBody, 'GraphInvitationRequest'],
  [oidc.createApplicationBody, 'CreateApplicationRequest'],
  [oidc.updateApplicationBody, 'UpdateApplicationRequest'],
  [oidc.applicationResponse, 'Application'],
  [oidc.tokenResponse, 'TokenResponse'],
  [oidc.openIdConfigurationResponse, 'OpenIdConfiguration'],
];

const PARAM_DESCRIPTIONS: Record<string, string> = {
  tenant: "The tenant's id (a GUID) or one of its verified domains, e.g. contoso.com.",
};

type JsonSchema = Record<string, unknown>;

/** JSON Schema 2020-12 (OpenAPI 3.1's dialect) of what a caller sends (`input`) or receives (`output`). */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

function schemaRef(schema: z.ZodType, io: 'input' | 'output', components: Record<string, JsonSchema>): JsonSchema {
  const name = NAMED_SCHEMAS.find(([named]) => named === schema)?.[1];
  if (!name) return jsonSchema(schema, io);
  components[name] ??= jsonSchema(schema, io);
  return { $ref: `#/components/schemas/${name}` };
}

/** `a/{b}/{c:regex(^x$)}` → `/a/{b}/{c}` with the parameters and their constraints. */
export function openApiPath(route: string): { path: string; params: { name: string; pattern?: string }[] } {
  const params: { name: string; pattern?: string }[] = [];
  const path = route
    .split('/')
    .filter(Boolean)
    .map((part) => {
      const match = /^\{\*?([A-Za-z_][A-Za-z0-9_]*)\??(?::regex\((.*)\))?\}$/.exec(part);
      if (!match) return part;
      params.push({ name: match[1]!, pattern: match[2] });
      return `{${match[1]}}`;
    })
    .join('/');
  return { path: `/${path}`, params };
}

function errorResponses(codes: ErrorCode[], graphShape = false): Record<string, unknown> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set(codes)) {
    const { status } = ERROR_CODES[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return Object.fromEntries(
    [...byStatus].sort(([a], [b]) => a - b).map(([status, group]) => [
      String(status),
      {
        description: group.join(', '),
        ...(status === 429 ? { headers: { 'Retry-After': { description: 'Seconds to wait before trying again.', schema: { type: 'integer' } } } } : {}),
        content: {
          'application/json': {
            schema: { $ref: `#/components/schemas/${graphShape ? 'GraphError' : 'Error'}` },
            examples: Object.fromEntries(group.map((code) => [code, { value: graphShape ? graphErrorBody(new GuestpassError(code), 0) : { error: code, message: ERROR_CODES[code].message } }])),
          },
        },
      },
    ]),
  );
}

function operationObject(
  registration: RouteRegistration,
  method: string,
  doc: OperationDoc,
  routeParams: { name: string; pattern?: string }[],
  components: Record<string, JsonSchema>,
): Record<string, unknown> {
  const paramShape = doc.params ? jsonSchema(doc.params, 'input') : {};
  const paramSchemas = (paramShape.properties ?? {}) as Record<string, JsonSchema>;
  const parameters: unknown[] = routeParams.map(({ name, pattern }) => ({
    name,
    in: 'path',
    required: true,
    ...(PARAM_DESCRIPTIONS[name] ? { description: PARAM_DESCRIPTIONS[name] } : {}),
    schema: paramSchemas[name] ?? { type: 'string', ...(pattern ? { pattern } : {}) },
  }));
  if (doc.query) {
    const query = jsonSchema(doc.query, 'input');
    const required = new Set((query.required ?? []) as string[]);
    for (const [name, schema] of Object.entries((query.properties ?? {}) as Record<string, JsonSchema>)) {
      parameters.push({ name, in: 'query', required: required.has(name), schema });
    }
  }
  const errors: ErrorCode[] = [...(doc.errors ?? [])];
  if (doc.body || doc.form || doc.params || doc.query) errors.unshift('invalid_request');
  if (doc.body || doc.form) errors.push('payload_too_large', 'unsupported_media_type');
  // Management routes are anonymous at the host and check the credential in the app (lib/admin/credentials.ts).
  const managed = doc.tag === 'Management' || registration.authLevel !== 'anonymous';
  if (managed) errors.push('unauthorized');
  errors.push('internal_error', 'storage_unavailable');
  const multiple = registration.methods.filter((m) => m.toUpperCase() !== 'OPTIONS').length > 1;
  return {
    operationId: multiple ? `${registration.name}${method[0]}${method.slice(1).toLowerCase()}` : registration.name,
    tags: [doc.tag],
    summary: doc.summary,
    ...(doc.description ? { description: doc.description } : {}),
    ...(parameters.length ? { parameters } : {}),
    ...(doc.body ? { requestBody: { required: true, content: { 'application/json': { schema: schemaRef(doc.body, 'input', components) } } } } : {}),
    ...(doc.form ? { requestBody: { required: true, content: { 'application/x-www-form-urlencoded': { schema: schemaRef(doc.form, 'input', components) } } } } : {}),
    security: doc.graph ? [{ graphBearer: [] }] : managed ? [{ functionKey: [] }] : doc.bearer ? [{ bearerSession: [] }] : doc.clientAuth ? [{ clientSecretBasic: [] }, {}] : [],
    responses: {
      [String(doc.success.status)]: {
        description: doc.success.description,
        ...(doc.success.schema ? { content: { 'application/json': { schema: schemaRef(doc.success.schema, 'output', components) } } } : {}),
        ...(doc.successMedia ? { content: { [doc.successMedia]: { schema: { type: 'string' } } } } : {}),
      },
      ...(doc.redirect ? { '302': { description: doc.redirect, headers: { Location: { schema: { type: 'string', format: 'uri' } } } } } : {}),
      ...errorResponses(errors.filter((code) => ERROR_CODES[code].status !== doc.success.status), doc.graph),
      ...(registration.authLevel !== 'anonymous' ? HOST_KEY_REFUSED : {}),
    },
  };
}

/**
 * The Functions host's own answer to a missing or wrong function key: 401 with an empty
 * body, before the app runs (azure-functions-host FunctionInvocationMiddleware.cs).
 */
const HOST_KEY_REFUSED = {
  '401': { description: 'The function key (x-functions-key header or code query parameter) is missing or wrong. The Functions host answers with an empty body.' },
};

function preflightOperation(registration: RouteRegistration, tag: string, routeParams: { name: string }[]): Record<string, unknown> {
  return {
    operationId: `${registration.name}Preflight`,
    tags: [tag],
    summary: "CORS preflight, answered for the tenant's allowedOrigins",
    parameters: routeParams.map(({ name }) => ({ name, in: 'path', required: true, schema: { type: 'string' } })),
    security: [],
    responses: {
      '204': { description: 'The origin is allowed; Access-Control-Allow-* headers say what it may send.' },
      ...errorResponses(['origin_not_allowed']),
    },
  };
}

/** `name METHOD /path` of every registered operation that has no entry in API_OPERATIONS. */
export function undocumentedOperations(routes: RouteRegistration[]): string[] {
  return routes.flatMap((registration) =>
    registration.methods
      .map((method) => method.toUpperCase())
      .filter((method) => method !== 'OPTIONS' && !API_OPERATIONS[registration.name]?.[method as HttpMethod])
      .map((method) => `${registration.name} ${method} ${openApiPath(registration.route).path}`),
  );
}

/** `name METHOD` of every API_OPERATIONS entry that no registration serves (a stale entry). */
export function unregisteredOperations(routes: RouteRegistration[]): string[] {
  return Object.entries(API_OPERATIONS).flatMap(([name, methods]) =>
    Object.keys(methods)
      .filter((method) => !routes.some((r) => r.name === name && r.methods.some((m) => m.toUpperCase() === method)))
      .map((method) => `${name} ${method}`),
  );
}

/**
 * The document for these registrations. An operation without an API_OPERATIONS entry
 * is still listed (marked undocumented) so a client sees every route the app serves.
 */
export function openApiDocument(routes: RouteRegistration[]): Record<string, unknown> {
  const components: Record<string, JsonSchema> = {};
  const paths: Record<string, Record<string, unknown>> = {};
  schemaRef(schemas.errorResponse, 'output', components);
  schemaRef(graph.graphErrorResponse, 'output', components);
  for (const registration of routes) {
    const { path, params } = openApiPath(registration.route);
    const item = (paths[path] ??= {});
    const documented = API_OPERATIONS[registration.name] ?? {};
    const firstTag = Object.values(documented)[0]?.tag ?? 'Undocumented';
    for (const method of registration.methods.map((m) => m.toUpperCase())) {
      if (method === 'OPTIONS') {
        item.options = preflightOperation(registration, firstTag, params);
        continue;
      }
      const doc: OperationDoc = documented[method as HttpMethod] ?? {
        tag: 'Undocumented',
        summary: `Undocumented: add API_OPERATIONS.${registration.name}.${method} in lib/openapi.ts`,
        success: { status: 200, description: 'Not documented yet.' },
      };
      item[method.toLowerCase()] = operationObject(registration, method, doc, params, components);
    }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'guestpass',
      version: pkg.version,
      description: pkg.description,
    },
    servers: [{ url: '/api', description: 'Azure Functions serves every route under /api.' }],
    tags: [
      { name: 'Guest', description: "A guest's sign-in; CORS limited to the tenant's allowedOrigins." },
      { name: 'Management', description: 'Needs the function key (header x-functions-key).' },
      { name: 'Discovery' },
      { name: 'OpenID Connect', description: 'Each tenant is an OpenID Connect provider with the issuer {PUBLIC_BASE_URL}/api/{tenantId}.' },
      { name: 'Mail events', description: "Delivery reports from the mail provider, each authenticated its provider's way." },
      { name: 'Development' },
    ],
    paths,
    components: {
      schemas: components,
      securitySchemes: {
        functionKey: { type: 'apiKey', in: 'header', name: 'x-functions-key', description: 'The management credential, checked by the app: the operator credential (OPERATOR_KEY; LOCAL_FUNCTION_KEY locally) or a tenant admin key gpa_<id>_<secret> (its own tenant only). Never in a URL.' },
        bearerSession: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'The token verify-code answered, or an access token from the token endpoint.' },
        graphBearer: { type: 'http', scheme: 'bearer', description: "Microsoft Graph's authProvider: the operator credential or a tenant admin key as Authorization: Bearer <key>, on the Graph-shaped routes only." },
        clientSecretBasic: { type: 'http', scheme: 'basic', description: "A confidential application's client id and secret (client_secret_basic); client_secret_post and public clients (none) are also accepted." },
      },
    },
  };
}
