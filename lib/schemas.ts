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

export const signInLogsQuery = z.object({
  top: z.coerce.number().int().min(1).max(200).default(50),
  skiptoken: z.string().max(4000).optional(),
  userId: z.uuid().optional(),
});
export type SignInLogsQuery = z.infer<typeof signInLogsQuery>;
