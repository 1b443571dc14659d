import { randomUUID } from 'node:crypto';
import { fail } from './errors.js';
import { resetRedemption } from './guestLifecycle.js';
import { GUEST_ROW, readGuestPartition, toGuest, type GuestEntity } from './guests.js';
import { sendInvitationMail } from './mail/send.js';
import type { Runtime } from './runtime.js';
import type { InvitationInput } from './schemas.js';
import { isStatus } from './storage.js';
import { resolveTenant, type Tenant } from './tenants.js';

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

/** The redirect URL with the tenant and the address added, where the SPA shows its sign-in. */
export function redeemUrl(redirect: string, tenantId: string, email: string): string {
  const url = new URL(redirect);
  url.searchParams.set('tenant', tenantId);
  url.searchParams.set('login_hint', email);
  return url.href;
}

/**
 * Invites a guest, Microsoft Graph style. The guest starts PendingAcceptance; the
 * sign-in method is resolved only when the guest first asks for a code. Inviting an
 * existing guest returns that guest instead of a duplicate; with resetRedemption the
 * guest keeps its id but must redeem again (method resolved anew, sessions revoked).
 */
export async function inviteGuest(rt: Runtime, tenantRef: string, input: InvitationInput): Promise<Invitation> {
  const { tenant } = await resolveTenant(rt, tenantRef, { fresh: true });
  const redirect = allowedRedirect(tenant, input.inviteRedirectUrl);
  if (!redirect) fail('invalid_redirect_uri');
  const email = input.invitedUserEmailAddress;

  const partition = await readGuestPartition(rt, tenant.id, email);
  let guest: GuestEntity | undefined = partition.guest;
  if (guest && input.resetRedemption) guest = await resetRedemption(rt, partition.partitionKey);
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
    };
    // The index row first: if the guest row then fails, the index points at no guest
    // (read as guest_not_found) and is taken back, rather than a guest nobody can
    // reach by id.
    const indexKey = `guest_${entity.guestId}`;
    await rt.tables.tenants.createEntity({ partitionKey: tenant.id, rowKey: indexKey, guestPartition: partitionKey });
    try {
      await rt.tables.guests.createEntity(entity);
      guest = entity;
    } catch (error) {
      await rt.tables.tenants.deleteEntity(tenant.id, indexKey).catch(() => undefined);
      // A concurrent invitation of the same address created the guest first.
      if (!isStatus(error, 409)) throw error;
      guest = (await readGuestPartition(rt, tenant.id, email)).guest!;
    }
  }

  const inviteRedeemUrl = redeemUrl(redirect, tenant.id, email);
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
  return {
    id: randomUUID(),
    inviteRedeemUrl,
    invitedUserEmailAddress: email,
    invitedUserDisplayName: current.displayName,
    inviteRedirectUrl: redirect,
    sendInvitationMessage: input.sendInvitationMessage,
    status: current.state === 'Accepted' ? 'Completed' : 'PendingAcceptance',
    invitedUser: { id: current.id },
  };
}
