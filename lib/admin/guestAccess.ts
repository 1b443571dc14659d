import { GuestpassError } from '../errors.js';
import type { GuestEntity } from '../guests/guests.js';
import type { TenantContext } from '../tenants/tenants.js';
import { invitationDomainAllowed } from '../tenants/invitationDomains.js';

/**
 * Why a guest may not ask for a code, if it may not: a guest the lifecycle disabled, or
 * a guest who never redeemed whose domain the organisation-default policy now refuses
 * (the allow/deny list binds first redemption, never a guest who already redeemed).
 * send-code (lib/signin/codes.ts) makes this one call and refuses with what it returns.
 */
export function guestAccessRefusal(context: TenantContext, email: string, guest: GuestEntity | undefined): { outcome: string; error: GuestpassError } | undefined {
  if (guest?.state === 'Disabled') return { outcome: 'guest_disabled', error: new GuestpassError('guest_disabled') };
  // A stranger of a refused domain gets the same answer as a pending guest of it, so the answer does not tell who is invited.
  if ((!guest || guest.state === 'PendingAcceptance') && !invitationDomainAllowed(context.policies, guest?.email ?? email)) {
    return { outcome: 'domain_blocked', error: new GuestpassError('domain_blocked') };
  }
  return undefined;
}
