import { randomUUID } from 'node:crypto';
import { fail } from '../errors.js';
import { resetRedemption } from './guestLifecycle.js';
import { invitationValue } from '../signin/familiarity.js';
import { GUEST_ROW, readGuestPartition, toGuest, type GuestEntity } from './guests.js';
import { indexBeforeChange } from './guestIndex.js';
import { sendInvitationMail } from '../mail/send.js';
import type { Runtime } from '../runtime.js';
import type { InvitationInput } from '../schemas.js';
import { HOUR_MS, parseTimes, secondsUntilRoom, withinWindow } from '../signin/limits.js';
import { isStatus } from '../storage/tables.js';
import { invitationDomainAllowed } from '../tenants/invitationDomains.js';
import { resolveTenant, type Tenant } from '../tenants/tenants.js';

export interface Invitation {
  id: string;
  inviteRedeemUrl: string;
  invitedUserEmailAddress: string;
  invitedUserDisplayName: string;
  inviteRedirectUrl: string;
  sendInvitationMessage: boolean;
  status: 'PendingAcceptance' | 'Completed';
  invitedUser: { id: string };
}

/** inviteRedirectUrl must be one of the tenant's redirectUris, compared as parsed URLs: no open redirects. */
function allowedRedirect(tenant: Tenant, candidate: string): string | undefined {
  let url: URL;
  try {
    url = new URL(candidate);
  } catch {
    return undefined;
  }
  return tenant.redirectUris.find((allowed) => new URL(allowed).href === url.href) ? url.href : undefined;
}

/**
 * The redirect URL with the tenant, the address and the invitation value added, where
 * the SPA shows its sign-in; the element sends the invitation value until the first
 * sign-in, which marks it as the guest's own (lib/signin/familiarity.ts).
 */
export function redeemUrl(redirect: string, tenantId: string, email: string, invitation: string): string {
  const url = new URL(redirect);
  url.searchParams.set('tenant', tenantId);
  url.searchParams.set('login_hint', email);
  url.searchParams.set('invitation', invitation);
  return url.href;
}

/** What an invitation did: a new guest, an existing guest invited again, or one reset to redeem again. */
export type InvitationOutcome = 'created' | 'reinvited' | 'reset';

const DAY_MS = 24 * HOUR_MS;

/**
 * Counts one invitation mail against the guest (INVITATION_RESENDS_PER_GUEST_PER_DAY),
 * on the guest row under its ETag, so concurrent resends on any instance count each.
 */
async function countInvitationMail(rt: Runtime, partitionKey: string): Promise<void> {
  const limit = rt.config.invitationResendsPerGuestPerDay;
  for (let tries = 1; ; tries += 1) {
    const row = await rt.tables.guests.getEntity<GuestEntity>(partitionKey, GUEST_ROW);
    const now = rt.now();
    const times = withinWindow(parseTimes(row.inviteSendTimes), now, DAY_MS);
    if (times.length >= limit) {
      fail('rate_limited', {
        message: `This guest was sent ${limit} invitations in the last 24 hours. Try again later.`,
        retryAfterSeconds: secondsUntilRoom(times, limit, now, DAY_MS),
      });
    }
    try {
      await rt.tables.guests.updateEntity({ partitionKey, rowKey: GUEST_ROW, inviteSendTimes: JSON.stringify([...times, now]) }, 'Merge', { etag: row.etag });
      return;
    } catch (error) {
      if (tries >= 4 || !isStatus(error, 412)) throw error;
    }
  }
}

export async function inviteGuest(rt: Runtime, tenantRef: string, input: InvitationInput): Promise<Invitation> {
  return (await inviteGuestWithOutcome(rt, tenantRef, input)).invitation;
}

/**
 * Invites a guest, Microsoft Graph style. The guest starts PendingAcceptance; the
 * sign-in method is resolved only when the guest first asks for a code. Inviting an
 * existing guest returns that guest instead of a duplicate and, with
 * sendInvitationMessage, mails the invitation again (Entra's reinvite) within the
 * per-guest resend limit; with resetRedemption the guest keeps its id but must redeem
 * again (method resolved anew, sessions revoked). The organisation-default policy's
 * allow/deny list decides which domains may be invited.
 */
export async function inviteGuestWithOutcome(rt: Runtime, tenantRef: string, input: InvitationInput): Promise<{ invitation: Invitation; outcome: InvitationOutcome }> {
  const { tenant, policies } = await resolveTenant(rt, tenantRef, { fresh: true });
  const redirect = allowedRedirect(tenant, input.inviteRedirectUrl);
  if (!redirect) fail('invalid_redirect_uri');
  const email = input.invitedUserEmailAddress;
  if (!invitationDomainAllowed(policies, email)) {
    fail('invitation_domain_blocked', {
      message: `Invitations to ${email.slice(email.lastIndexOf('@') + 1)} are not allowed by the tenant's InvitationsAllowedAndBlockedDomainsPolicy.`,
    });
  }

  const partition = await readGuestPartition(rt, tenant.id, email);
  let guest: GuestEntity | undefined = partition.guest;
  let outcome: InvitationOutcome = guest ? 'reinvited' : 'created';
  if (guest && input.resetRedemption) {
    guest = await resetRedemption(rt, partition.partitionKey);
    outcome = 'reset';
  }
  if (!guest) {
    const partitionKey = partition.partitionKey;
    const entity: GuestEntity & { partitionKey: string; rowKey: string } = {
      partitionKey,
      rowKey: GUEST_ROW,
      guestId: randomUUID(),
      tenantId: tenant.id,
      email,
      displayName: input.invitedUserDisplayName ?? email,
      state: 'PendingAcceptance',
      invitedAt: new Date(rt.now()).toISOString(),
      inviteRedirectUrl: redirect,
      ...(input.sendInvitationMessage ? { inviteSendTimes: JSON.stringify([rt.now()]) } : {}),
    };
    // The index rows first: if the guest row then fails, the id index points at no guest
    // (read as guest_not_found) and is taken back, and the listing rows are skipped (or
    // stand for the guest a concurrent invitation made), rather than a guest nobody can
    // reach by id or find in a listing.
    const indexKey = `guest_${entity.guestId}`;
    await indexBeforeChange(rt, tenant.id, undefined, entity);
    await rt.tables.tenants.createEntity({ partitionKey: tenant.id, rowKey: indexKey, guestPartition: partitionKey });
    try {
      await rt.tables.guests.createEntity(entity);
      guest = entity;
    } catch (error) {
      await rt.tables.tenants.deleteEntity(tenant.id, indexKey).catch(() => undefined);
      // A concurrent invitation of the same address created the guest first.
      if (!isStatus(error, 409)) throw error;
      guest = (await readGuestPartition(rt, tenant.id, email)).guest!;
      outcome = 'reinvited';
    }
  }

  const inviteRedeemUrl = redeemUrl(redirect, tenant.id, email, invitationValue(rt.config.code.pepper, guest));
  if (input.sendInvitationMessage && outcome !== 'created') await countInvitationMail(rt, partition.partitionKey);
  if (input.sendInvitationMessage) {
    await sendInvitationMail(rt, tenant, {
      to: email,
      inviteRedeemUrl,
      invitedUserDisplayName: input.invitedUserDisplayName,
      customizedMessageBody: input.invitedUserMessageInfo?.customizedMessageBody,
      locale: input.invitedUserMessageInfo?.messageLanguage,
    });
  }
  const current = toGuest(guest);
  const invitation: Invitation = {
    id: randomUUID(),
    inviteRedeemUrl,
    invitedUserEmailAddress: email,
    invitedUserDisplayName: current.displayName,
    inviteRedirectUrl: redirect,
    sendInvitationMessage: input.sendInvitationMessage,
    status: current.state === 'Accepted' ? 'Completed' : 'PendingAcceptance',
    invitedUser: { id: current.id },
  };
  return { invitation, outcome };
}
