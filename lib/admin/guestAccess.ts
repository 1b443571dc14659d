import { GuestpassError } from '../errors.js';
import type { GuestEntity } from '../guests.js';
import type { TenantContext } from '../tenants.js';
import { invitationDomainAllowed } from '../tenants/invitationDomains.js';

/**
 * Why a guest may not ask for a code, if it may not: a guest the lifecycle disabled, or
 * a guest who never redeemed whose domain the organisation-default policy now refuses
 * (the allow/deny list binds first redemption, never a guest who already redeemed).
 * send-code (lib/codes.ts) makes this one call and refuses with what it returns.
 */
export function guestAccessRefusal(context: TenantContext, guest: GuestEntity): { outcome: string; error: GuestpassError } | undefined {
  if (guest.state === 'Disabled') return { outcome: 'guest_disabled', error: new GuestpassError('guest_disabled') };
  if (guest.state === 'PendingAcceptance' && !invitationDomainAllowed(context.policies, guest.email)) {
    return { outcome: 'domain_blocked', error: new GuestpassError('domain_blocked') };
  }
  return undefined;
}
