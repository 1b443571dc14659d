import { GuestpassError } from '../errors.js';
import type { GuestEntity } from '../guests/guests.js';
import type { RefusalReason } from '../signin/refusals.js';
import type { TenantContext } from '../tenants/tenants.js';
import { invitationDomainAllowed } from '../tenants/invitationDomains.js';

/**
 * Why a guest may not ask for a code, if it may not: a guest the lifecycle disabled, or
 * a guest who never redeemed whose domain the organisation-default policy now refuses
 * (the allow/deny list binds first redemption, never a guest who already redeemed).
 * verify-code (lib/signin/verifyCode.ts) makes this one call and refuses with what it returns.
 */
export function guestAccessRefusal(context: TenantContext, email: string, guest: GuestEntity | undefined): { outcome: RefusalReason; error: GuestpassError } | undefined {
  if (guest?.state === 'Disabled') return { outcome: 'guest_disabled', error: new GuestpassError('guest_disabled') };
  // A stranger of a refused domain gets the same answer as a pending guest of it, so the answer does not tell who is invited.
  if ((!guest || guest.state === 'PendingAcceptance') && !invitationDomainAllowed(context.policies, guest?.email ?? email)) {
    return { outcome: 'domain_blocked', error: new GuestpassError('domain_blocked') };
  }
  return undefined;
}

/**
 * The partition as sign-in sees it: a guest whose sign-in an admin blocked
 * (accountEnabled false) is not there, so send-code and verify-code answer its address
 * exactly as a stranger's (the same 202 and no mail; every code wrong) and the answer
 * does not tell a blocked guest from an address never invited.
 */
export function signInView<P extends { guest?: GuestEntity }>(partition: P): P {
  return partition.guest && partition.guest.accountEnabled === false ? { ...partition, guest: undefined } : partition;
}
