import * as z from 'zod';
import { lazySchema } from '../lazySchema.js';
import { invitationBody, tenantParams } from '../schemas.js';

/*
 * Microsoft Graph's shapes, as far as guestpass serves them under
 * /api/manage/tenants/{tenant}/graph/v1.0: users (the tenant's guests) and invitations.
 */

/** The user properties guestpass has; $select names only these. */
export const GRAPH_USER_PROPERTIES = [
  'id',
  'mail',
  'displayName',
  'userType',
  'externalUserState',
  'externalUserStateChangeDateTime',
  'creationType',
  'createdDateTime',
  'accountEnabled',
  'identities',
] as const;
export type GraphUserProperty = (typeof GRAPH_USER_PROPERTIES)[number];

/** Graph's page size is up to 999; guestpass reads at most 100 a page and says so with @odata.nextLink. */
export const graphUsersQuery = lazySchema(() => z.strictObject({
  $filter: z.string().trim().min(1).max(1000).optional(),
  $select: z.string().trim().min(1).max(1000).optional(),
  $top: z.coerce.number().int().min(1).max(999).optional(),
  $skiptoken: z.string().min(1).max(4096).optional(),
}));
export type GraphUsersQuery = z.infer<typeof graphUsersQuery>;

export const graphUserQuery = lazySchema(() => z.strictObject({ $select: z.string().trim().min(1).max(1000).optional() }));

export const graphUserParams = lazySchema(() => tenantParams.extend({ id: z.string().min(1).max(64) }));

/** PATCH user: of Graph's user properties, guestpass changes accountEnabled (Block sign-in). */
export const graphUserPatchBody = lazySchema(() => z.strictObject({ accountEnabled: z.boolean() }));

/** POST invitations: Graph's invitation; invitedUserType, when given, is Guest. */
export const graphInvitationBody = lazySchema(() => invitationBody.extend({ invitedUserType: z.literal('Guest').optional() }));
export type GraphInvitationInput = z.infer<typeof graphInvitationBody>;

export const graphIdentity = lazySchema(() => z.object({ signInType: z.string(), issuer: z.string(), issuerAssignedId: z.string() }));

export const graphUserResponse = lazySchema(() => z.object({
  id: z.string(),
  mail: z.string(),
  displayName: z.string(),
  userType: z.literal('Guest'),
  externalUserState: z.enum(['PendingAcceptance', 'Accepted']),
  externalUserStateChangeDateTime: z.iso.datetime(),
  creationType: z.literal('Invitation'),
  createdDateTime: z.iso.datetime(),
  accountEnabled: z.boolean(),
  identities: z.array(graphIdentity),
}).partial().meta({ description: "A guest as Microsoft Graph's user; $select names which properties are present." }));

export const graphUserPageResponse = lazySchema(() => z.object({
  '@odata.context': z.string(),
  value: z.array(graphUserResponse),
  '@odata.nextLink': z.string().optional(),
}));

export const graphInvitationResponse = lazySchema(() => z.object({
  '@odata.context': z.string(),
  id: z.string(),
  inviteRedeemUrl: z.string(),
  invitedUserDisplayName: z.string(),
  invitedUserEmailAddress: z.string(),
  invitedUserType: z.literal('Guest'),
  inviteRedirectUrl: z.string(),
  sendInvitationMessage: z.boolean(),
  resetRedemption: z.boolean(),
  status: z.enum(['PendingAcceptance', 'Completed']),
  invitedUser: z.object({ id: z.string() }),
}));

export const graphErrorResponse = lazySchema(() => z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    innerError: z.object({ code: z.string(), date: z.string(), 'request-id': z.string() }),
    details: z.array(z.object({ code: z.string(), message: z.string(), target: z.string() })).optional(),
  }),
}));
