import * as z from 'zod';
import { lazySchema } from '../lazySchema.js';
import { B2B_MANAGEMENT_POLICY, type PolicyRecord } from './policy.js';

/*
 * Entra's allow/deny list of invitation domains, inside the organisation-default
 * B2BManagementPolicy definition:
 *   {"B2BManagementPolicy":{"InvitationsAllowedAndBlockedDomainsPolicy":{"BlockedDomains":["fabrikam.com"]}, ...}}
 * or with "AllowedDomains" instead — one or the other, as Entra allows. A name
 * `*.contoso.com` stands for every subdomain of contoso.com. The lists bind invitations and
 * a guest's first redemption, never a guest who already redeemed.
 */
const domainPattern = lazySchema(() => z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^(\*\.)?([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, 'must be a domain such as fabrikam.com or *.fabrikam.com'));

export const invitationsAllowedAndBlockedDomainsPolicy = lazySchema(() => z
  .strictObject({
    AllowedDomains: z.array(domainPattern).max(1000).optional(),
    BlockedDomains: z.array(domainPattern).max(1000).optional(),
  })
  .refine((value) => !(value.AllowedDomains && value.BlockedDomains), 'holds AllowedDomains or BlockedDomains, not both (as in Entra)'));

export type DomainLists = z.infer<typeof invitationsAllowedAndBlockedDomainsPolicy>;

function listsOf(policies: PolicyRecord[]): DomainLists | undefined {
  const orgDefault = policies.find((p) => p.type === B2B_MANAGEMENT_POLICY && p.isOrganizationDefault);
  if (!orgDefault) return undefined;
  try {
    const parsed = JSON.parse(orgDefault.definition[0] ?? '{}') as { B2BManagementPolicy?: { InvitationsAllowedAndBlockedDomainsPolicy?: unknown } };
    const lists = invitationsAllowedAndBlockedDomainsPolicy.safeParse(parsed.B2BManagementPolicy?.InvitationsAllowedAndBlockedDomainsPolicy);
    return lists.success ? lists.data : undefined;
  } catch {
    return undefined;
  }
}

function matches(pattern: string, domain: string): boolean {
  return pattern.startsWith('*.') ? domain.endsWith(pattern.slice(1)) : domain === pattern;
}

/** Whether the tenant's organisation-default policy lets this (normalised) address be invited. */
export function invitationDomainAllowed(policies: PolicyRecord[], email: string): boolean {
  const lists = listsOf(policies);
  if (!lists) return true;
  const domain = email.slice(email.lastIndexOf('@') + 1).toLowerCase();
  if (lists.AllowedDomains) return lists.AllowedDomains.some((pattern) => matches(pattern, domain));
  return !(lists.BlockedDomains ?? []).some((pattern) => matches(pattern, domain));
}
