import * as z from 'zod';
import { lazySchema } from './lazySchema.js';
import { emailAddress } from './guests/email.js';
import { ERROR_CODES, type ErrorCode } from './errors.js';
import { invitationsAllowedAndBlockedDomainsPolicy } from './tenants/invitationDomains.js';
import { tenantMailSettings } from './mail/settings.js';

/**
 * The shapes of every request guestpass accepts. Function files validate with these,
 * and the OpenAPI document is generated from them, so there is one copy.
 */
const hostname = lazySchema(() => z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, 'must be a domain name such as contoso.com'));

const origin = lazySchema(() => z
  .string()
  .trim()
  .refine((value) => {
    try {
      const url = new URL(value);
      return (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === value.replace(/\/$/, '');
    } catch {
      return false;
    }
  }, 'must be an origin such as https://app.contoso.com (scheme, host and port only)')
  .transform((value) => new URL(value).origin));

export const redirectUri = lazySchema(() => z
  .string()
  .trim()
  .max(2000)
  .refine((value) => {
    try {
      const url = new URL(value);
      const local = url.hostname === 'localhost' || url.hostname === '127.0.0.1';
      return (url.protocol === 'https:' || (local && url.protocol === 'http:')) && !url.hash;
    } catch {
      return false;
    }
  }, 'must be an absolute https URL without a fragment (http only for localhost)'));

export const tenantParams = lazySchema(() => z.object({ tenant: z.string().min(1).max(253) }));

const days = lazySchema(() => z.number().int().min(1).max(3650).nullable());
/** Guest lifecycle, per tenant; null turns a step off (all off by default). */
export const lifecycleSettings = lazySchema(() => z.strictObject({
  pendingInvitationDays: days.optional().meta({ description: 'Invitations still pending after this many days are removed.' }),
  inactiveDisableDays: days.optional().meta({ description: 'Guests with no sign-in for this many days are disabled.' }),
  inactiveDeleteAfterDays: days.optional().meta({ description: 'Disabled guests are deleted this many days after being disabled.' }),
}));

export const createTenantBody = lazySchema(() => z.strictObject({
  displayName: z.string().trim().min(1).max(256),
  domains: z.array(hostname).max(50).default([]),
  allowedOrigins: z.array(origin).max(50).default([]),
  redirectUris: z.array(redirectUri).max(50).default([]),
  googleFederation: z.boolean().default(false),
  lifecycle: lifecycleSettings.optional(),
  /** Branding, template overrides per language, code in the subject, daily cap; PATCH replaces it whole. */
  mail: tenantMailSettings.optional(),
}));
export type CreateTenantInput = z.infer<typeof createTenantBody>;

// Without createTenantBody's defaults: zod 4 applies a default inside .partial(), so a
// PATCH that names only displayName would reset the lists to [].
function tenantChanges() {
  const tenantFields = createTenantBody.shape;
  return {
    displayName: tenantFields.displayName.optional(),
    domains: tenantFields.domains.unwrap().optional(),
    allowedOrigins: tenantFields.allowedOrigins.unwrap().optional(),
    redirectUris: tenantFields.redirectUris.unwrap().optional(),
    googleFederation: tenantFields.googleFederation.unwrap().optional(),
    lifecycle: lifecycleSettings.optional(),
    mail: tenantFields.mail,
  };
}

export const invitationBody = lazySchema(() => z.strictObject({
  invitedUserEmailAddress: emailAddress,
  inviteRedirectUrl: z.string().trim().min(1).max(2000),
  invitedUserDisplayName: z.string().trim().min(1).max(256).optional(),
  sendInvitationMessage: z.boolean().default(false),
  invitedUserMessageInfo: z
    .strictObject({
      customizedMessageBody: z.string().max(4000).optional(),
      messageLanguage: z.string().max(35).optional(),
    })
    .optional(),
  resetRedemption: z.boolean().default(false),
}));
export type InvitationInput = z.infer<typeof invitationBody>;

export const locale = lazySchema(() => z.string().trim().max(35).regex(/^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$/, 'must be a language tag such as en or sv-SE'));

/** The opaque sign-in attempt handle send-code answers; verify-code and a resend take it back. */
export const attemptHandle = lazySchema(() => z
  .string()
  .regex(/^[A-Za-z0-9_-]{16,64}$/, 'must be the attempt handle send-code answered')
  .meta({
    description:
      'Opaque sign-in attempt handle from the send-code answer. A code belongs to its attempt: wrong codes sent for other attempts never burn it. ' +
      'Send it back with verify-code, and with send-code to resend within the same attempt.',
  }));

/** A solved step-up challenge: the base64 ALTCHA payload, or the CAPTCHA provider's response token. */
export const stepUpSolution = lazySchema(() => z
  .string()
  .min(1)
  .max(4096)
  .meta({ description: 'The solution of the challenge a 428 challenge_required answer carried: the ALTCHA payload (base64) or the CAPTCHA token.' }));

/**
 * A value that shows the caller is the guest's own (DESIGN §4): whatever a caller sends
 * here is taken, never refused; a value that is malformed, unknown or revoked is simply
 * not the guest's own, and no answer tells it from a valid one.
 */
const ownershipValue = (description: string) => lazySchema(() => z.string().max(256).optional().catch(undefined).meta({ description }));

/** The opaque device value verify-code answered: the client keeps it and sends it back as it is. */
export const deviceValue = ownershipValue(
  'Opaque value from a successful verify-code. Keep it (the sign-in element keeps it in localStorage per tenant and address) and send it back as it is with send-code and verify-code: ' +
    'it marks the caller as the guest\'s own, so no budget strangers can use up refuses it. It signs no one in; a value that is not one is ignored.',
);

/** The `invitation` query parameter of the guest's inviteRedeemUrl; taken like `device`. */
export const invitationValue = ownershipValue(
  "The `invitation` query parameter of the guest's inviteRedeemUrl, sent until the first sign-in. Like `device`, it only marks the caller as the guest's own; a value that is not one is ignored.",
);

export const sendCodeBody = lazySchema(() => z.strictObject({
  email: emailAddress,
  locale: locale.optional(),
  attempt: attemptHandle.optional(),
  stepUp: stepUpSolution.optional(),
  device: deviceValue,
  invitation: invitationValue,
}));

export const verifyCodeBody = lazySchema(() => z.strictObject({
  email: emailAddress,
  code: z.string().trim().regex(/^[0-9]{6,12}$/, 'must be the digits from the email'),
  attempt: attemptHandle.optional(),
  stepUp: stepUpSolution.optional(),
  device: deviceValue,
  invitation: invitationValue,
}));

export const outboxQuery = lazySchema(() => z.object({
  to: emailAddress.optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
}));

/* The B2B guest model: policies, the emailOtp switch and the guest directory. */

export const guid = lazySchema(() => z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a GUID').transform((value) => value.toLowerCase()));

/** Azure AD's policy shape (Get/New/Set-AzureADPolicy): `definition` is an array holding one JSON string. */
const policyFields = {
  displayName: lazySchema(() => z.string().trim().min(1).max(256)),
  isOrganizationDefault: lazySchema(() => z.boolean()),
  definition: lazySchema(() => z.array(z.string().max(8192)).max(16)),
};

export const createPolicyBody = lazySchema(() => z.strictObject({
  type: z.string().trim().min(1).max(128),
  displayName: policyFields.displayName,
  isOrganizationDefault: policyFields.isOrganizationDefault.default(false),
  definition: policyFields.definition,
}));
export type CreatePolicyInput = z.infer<typeof createPolicyBody>;

export const updatePolicyBody = lazySchema(() => z
  .strictObject({
    displayName: policyFields.displayName.optional(),
    isOrganizationDefault: policyFields.isOrganizationDefault.optional(),
    definition: policyFields.definition.optional(),
  })
  .refine((value) => Object.keys(value).length > 0, 'name at least one of displayName, isOrganizationDefault, definition'));
export type UpdatePolicyInput = z.infer<typeof updatePolicyBody>;

export const policyParams = lazySchema(() => tenantParams.extend({ id: guid }));

/** The parsed content of a B2BManagementPolicy definition string; other sections are kept as they are. */
export const b2bManagementPolicyDefinition = lazySchema(() => z.looseObject({
  B2BManagementPolicy: z.looseObject({
    PreviewPolicy: z.looseObject({ Features: z.array(z.string()).optional() }).optional(),
    InvitationsAllowedAndBlockedDomainsPolicy: invitationsAllowedAndBlockedDomainsPolicy.optional(),
  }),
}));
export type B2BManagementPolicyDefinition = z.infer<typeof b2bManagementPolicyDefinition>;

/** Graph's allowExternalIdToUseEmailOtp in one call: a view of, and a way to write, the org-default policy. */
export const emailOtpSetting = lazySchema(() => z.enum(['default', 'enabled', 'disabled']));
export type EmailOtpSetting = z.infer<typeof emailOtpSetting>;

/** PATCH of a tenant: its settings plus the emailOtp switch, which writes the org-default policy. */
export const tenantSettingsBody = lazySchema(() => z
  .strictObject({ ...tenantChanges(), emailOtp: emailOtpSetting.optional() })
  .refine((value) => Object.keys(value).length > 0, 'name at least one setting to change'));
export type TenantSettingsInput = z.infer<typeof tenantSettingsBody>;
export type UpdateTenantInput = Omit<TenantSettingsInput, 'emailOtp'>;

export const guestParams = lazySchema(() => tenantParams.extend({ id: guid }));

/** PATCH of a guest, Graph's user shape: accountEnabled false blocks sign-in, true lets it sign in again. */
export const updateGuestBody = lazySchema(() => z.strictObject({
  accountEnabled: z.boolean().meta({ description: 'false blocks sign-in and ends the sessions at once; true unblocks.' }),
}));
export type UpdateGuestInput = z.infer<typeof updateGuestBody>;

export const MAX_GUESTS_PER_PAGE = 100;

export const listGuestsQuery = lazySchema(() => z.object({
  source: z.enum(['OTP', 'AzureAD', 'MSA', 'Google']).optional(),
  state: z.enum(['PendingAcceptance', 'Accepted', 'Disabled']).optional(),
  search: z.string().trim().toLowerCase().min(1).max(254).optional().meta({ description: 'An address prefix or an exact address.' }),
  $top: z.coerce.number().int().min(1).max(MAX_GUESTS_PER_PAGE).default(MAX_GUESTS_PER_PAGE),
  $skiptoken: z.string().min(1).max(4096).optional(),
}));
export type ListGuestsQuery = z.infer<typeof listGuestsQuery>;
/*
 * The shapes of what guestpass answers. The OpenAPI document is generated from these
 * and the SPA client (web/) derives its types from them; test/openapi.test.ts parses
 * real answers with them so they cannot drift from what the functions return.
 */
export const signInSource = lazySchema(() => z.enum(['OTP', 'AzureAD', 'MSA', 'Google']));

export const guestUser = lazySchema(() => z.object({
  id: z.string(),
  email: z.string(),
  displayName: z.string(),
  source: signInSource,
}));

export const codeSentResponse = lazySchema(() => z.object({
  status: z.literal('code_sent'),
  expiresInSeconds: z.number().int(),
  resendAfterSeconds: z.number().int(),
  attempt: attemptHandle,
}));

/** What a 428 challenge_required carries: an ALTCHA proof-of-work challenge or a CAPTCHA widget's site key. */
export const stepUpChallenge = lazySchema(() => z.union([
  z.object({
    provider: z.literal('altcha'),
    algorithm: z.string(),
    challenge: z.string(),
    maxnumber: z.number().int(),
    salt: z.string(),
    signature: z.string(),
  }),
  z.object({ provider: z.enum(['turnstile', 'hcaptcha']), siteKey: z.string() }),
]));

export const sessionResponse = lazySchema(() => z.object({
  token: z.string().meta({ description: 'ES256 JWT: send it as `Authorization: Bearer <token>`.' }),
  tokenType: z.literal('Bearer'),
  expiresAt: z.iso.datetime(),
  user: guestUser,
}));

/** verify-code's answer: the session, and the device value the client keeps. */
export const signedInResponse = lazySchema(() => sessionResponse.extend({ device: z.string().meta({ description: 'Keep it and send it back as `device` with later send-code and verify-code calls.' }) }));

export const sessionStatusResponse = lazySchema(() => z.object({
  active: z.literal(true),
  expiresAt: z.iso.datetime(),
  user: guestUser,
}));

export const jwksResponse = lazySchema(() => z.object({
  keys: z.array(
    z.discriminatedUnion('kty', [
      z.object({ kty: z.literal('EC'), crv: z.literal('P-256'), x: z.string(), y: z.string(), kid: z.string(), alg: z.literal('ES256'), use: z.literal('sig') })
        .meta({ description: 'Signs session tokens (the guest API and access tokens) and ES256 ID tokens.' }),
      z.object({ kty: z.literal('RSA'), n: z.string(), e: z.string(), kid: z.string(), alg: z.literal('RS256'), use: z.literal('sig') })
        .meta({ description: 'Signs RS256 ID tokens (the default of an application).' }),
    ]),
  ),
}));

export const errorResponse = lazySchema(() => z.object({
  error: z.enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]]),
  message: z.string().meta({ description: 'One human sentence.' }),
  details: z.array(z.unknown()).optional(),
  method: signInSource.optional().meta({ description: 'With other_method_required: how this guest signs in.' }),
  challenge: stepUpChallenge.optional().meta({ description: 'With challenge_required: the step-up to solve; send its solution as stepUp.' }),
}));

export const tenantResponse = lazySchema(() => z.object({
  id: z.string(),
  displayName: z.string(),
  domains: z.array(z.string()),
  allowedOrigins: z.array(z.string()),
  redirectUris: z.array(z.string()),
  googleFederation: z.boolean(),
  lifecycle: z.object({ pendingInvitationDays: days, inactiveDisableDays: days, inactiveDeleteAfterDays: days }),
  mail: tenantMailSettings,
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
  emailOtp: emailOtpSetting.meta({ description: 'The OTP switch, read from the organisation-default B2BManagementPolicy.' }),
}));

export const policyResponse = lazySchema(() => z.object({
  id: z.string(),
  type: z.string(),
  displayName: z.string(),
  isOrganizationDefault: z.boolean(),
  definition: z.array(z.string()),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
}));

export const policyListResponse = lazySchema(() => z.object({ value: z.array(policyResponse) }));

export const guestResponse = lazySchema(() => z.object({
  id: z.string(),
  email: z.string(),
  displayName: z.string(),
  source: signInSource.nullable(),
  state: z.enum(['PendingAcceptance', 'Accepted', 'Disabled']),
  invitedAt: z.iso.datetime(),
  redeemedAt: z.iso.datetime().nullable(),
  lastSignInAt: z.iso.datetime().nullable(),
  accountEnabled: z.boolean().meta({ description: "Graph's accountEnabled: false while an admin blocks the guest's sign-in." }),
}));

/** A page of a list, Graph style: `nextLink` is the next page's URL, absent on the last page. */
function pageOf<T extends z.ZodType>(item: T) {
  return z.object({
    value: z.array(item),
    nextLink: z.string().optional().meta({ description: 'The next page; absent on the last page.' }),
  });
}

export const guestPageResponse = lazySchema(() => pageOf(guestResponse));

export const signInLogPageResponse = lazySchema(() => pageOf(
  z.object({
    id: z.string(),
    createdDateTime: z.iso.datetime(),
    tenantId: z.string(),
    userId: z.string().nullable(),
    userPrincipalName: z.string().nullable().meta({ description: "The guest's address while the guest exists (Graph's signIn property)." }),
    event: z.enum(['send-code', 'verify-code']),
    outcome: z.string(),
    clientIp: z.string(),
    delivery: z
      .object({
        status: z.enum(['queued', 'retrying', 'sent', 'refused', 'dropped', 'delivered', 'bounced', 'blocked']),
        reason: z.string().optional(),
        provider: z.string(),
        updatedAt: z.iso.datetime(),
      })
      .optional()
      .meta({ description: "The code mail's fate: the provider's answer, then its delivery reports." }),
  }),
));

export const invitationResponse = lazySchema(() => z.object({
  id: z.string(),
  inviteRedeemUrl: z.string(),
  invitedUserEmailAddress: z.string(),
  invitedUserDisplayName: z.string(),
  inviteRedirectUrl: z.string(),
  sendInvitationMessage: z.boolean(),
  status: z.enum(['PendingAcceptance', 'Completed']),
  invitedUser: z.object({ id: z.string() }),
}));

export const outboxResponse = lazySchema(() => z.object({
  value: z.array(
    z.object({
      id: z.string(),
      to: z.string(),
      from: z.string(),
      kind: z.string(),
      tenantId: z.string(),
      subject: z.string(),
      text: z.string(),
      html: z.string(),
      sentAt: z.iso.datetime(),
      headers: z.record(z.string(), z.string()),
    }),
  ),
}));
export const signInLogsQuery = lazySchema(() => z.object({
  $top: z.coerce.number().int().min(1).max(200).default(50),
  $skiptoken: z.string().min(1).max(4096).optional(),
  userId: z.uuid().optional(),
  outcome: z.string().trim().min(1).max(64).optional(),
  since: z.iso.datetime({ offset: true }).optional(),
  until: z.iso.datetime({ offset: true }).optional(),
}));
export type SignInLogsQuery = z.infer<typeof signInLogsQuery>;
