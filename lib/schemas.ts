import { z } from 'zod';
import { emailAddress } from './email.js';

/**
 * The shapes of every request guestpass accepts. Function files validate with these,
 * and the OpenAPI document is generated from them, so there is one copy.
 */
const hostname = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, 'must be a domain name such as contoso.com');

const origin = z
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
  .transform((value) => new URL(value).origin);

const redirectUri = z
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
  }, 'must be an absolute https URL without a fragment (http only for localhost)');

export const tenantParams = z.object({ tenant: z.string().min(1).max(253) });

export const createTenantBody = z.strictObject({
  displayName: z.string().trim().min(1).max(256),
  domains: z.array(hostname).max(50).default([]),
  allowedOrigins: z.array(origin).max(50).default([]),
  redirectUris: z.array(redirectUri).max(50).default([]),
  googleFederation: z.boolean().default(false),
});
export type CreateTenantInput = z.infer<typeof createTenantBody>;

export const updateTenantBody = createTenantBody.partial().refine((value) => Object.keys(value).length > 0, 'name at least one setting to change');
export type UpdateTenantInput = z.infer<typeof updateTenantBody>;

export const invitationBody = z.strictObject({
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
});
export type InvitationInput = z.infer<typeof invitationBody>;

export const locale = z.string().trim().max(35).regex(/^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$/, 'must be a language tag such as en or sv-SE');

export const sendCodeBody = z.strictObject({
  email: emailAddress,
  locale: locale.optional(),
});

export const verifyCodeBody = z.strictObject({
  email: emailAddress,
  code: z.string().trim().regex(/^[0-9]{6,12}$/, 'must be the digits from the email'),
});

export const outboxQuery = z.object({
  to: emailAddress.optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

/* The B2B guest model: policies, the emailOtp switch and the guest directory. */

export const guid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a GUID').transform((value) => value.toLowerCase());

/** Azure AD's policy shape (Get/New/Set-AzureADPolicy): `definition` is an array holding one JSON string. */
const policyFields = {
  displayName: z.string().trim().min(1).max(256),
  isOrganizationDefault: z.boolean(),
  definition: z.array(z.string().max(8192)).max(16),
};

export const createPolicyBody = z.strictObject({
  type: z.string().trim().min(1).max(128),
  displayName: policyFields.displayName,
  isOrganizationDefault: policyFields.isOrganizationDefault.default(false),
  definition: policyFields.definition,
});
export type CreatePolicyInput = z.infer<typeof createPolicyBody>;

export const updatePolicyBody = z
  .strictObject({
    displayName: policyFields.displayName.optional(),
    isOrganizationDefault: policyFields.isOrganizationDefault.optional(),
    definition: policyFields.definition.optional(),
  })
  .refine((value) => Object.keys(value).length > 0, 'name at least one of displayName, isOrganizationDefault, definition');
export type UpdatePolicyInput = z.infer<typeof updatePolicyBody>;

export const policyParams = tenantParams.extend({ id: guid });

/** The parsed content of a B2BManagementPolicy definition string; other sections are kept as they are. */
export const b2bManagementPolicyDefinition = z.looseObject({
  B2BManagementPolicy: z.looseObject({
    PreviewPolicy: z.looseObject({ Features: z.array(z.string()).optional() }).optional(),
  }),
});
export type B2BManagementPolicyDefinition = z.infer<typeof b2bManagementPolicyDefinition>;

/** Graph's allowExternalIdToUseEmailOtp in one call: a view of, and a way to write, the org-default policy. */
export const emailOtpSetting = z.enum(['default', 'enabled', 'disabled']);
export type EmailOtpSetting = z.infer<typeof emailOtpSetting>;

/*
 * PATCH of a tenant: every field optional and WITHOUT the create defaults (zod 4 applies
 * a default inside .partial(), which would reset the settings a PATCH does not name).
 */
const tenantShape = createTenantBody.shape;
export const tenantSettingsBody = z
  .strictObject({
    displayName: tenantShape.displayName.optional(),
    domains: tenantShape.domains.unwrap().optional(),
    allowedOrigins: tenantShape.allowedOrigins.unwrap().optional(),
    redirectUris: tenantShape.redirectUris.unwrap().optional(),
    googleFederation: tenantShape.googleFederation.unwrap().optional(),
    emailOtp: emailOtpSetting.optional(),
  })
  .refine((value) => Object.keys(value).length > 0, 'name at least one setting to change');
export type TenantSettingsInput = z.infer<typeof tenantSettingsBody>;

export const guestParams = tenantParams.extend({ id: guid });

export const MAX_GUESTS_PER_PAGE = 100;

export const listGuestsQuery = z.object({
  source: z.enum(['OTP', 'AzureAD', 'MSA', 'Google']).optional(),
  state: z.enum(['PendingAcceptance', 'Accepted']).optional(),
  $top: z.coerce.number().int().min(1).max(MAX_GUESTS_PER_PAGE).default(MAX_GUESTS_PER_PAGE),
  $skiptoken: z.string().min(1).max(4096).optional(),
});
export type ListGuestsQuery = z.infer<typeof listGuestsQuery>;
