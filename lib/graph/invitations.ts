import { inviteAudited } from '../admin/manage.js';
import type { Actor } from '../admin/credentials.js';
import type { Runtime } from '../runtime.js';
import type { GraphInvitationInput } from './schemas.js';

/** Graph's invitation answer: guestpass's invitation with Graph's invitedUserType and resetRedemption. */
export interface GraphInvitation {
  id: string;
  inviteRedeemUrl: string;
  invitedUserDisplayName: string;
  invitedUserEmailAddress: string;
  invitedUserType: 'Guest';
  inviteRedirectUrl: string;
  sendInvitationMessage: boolean;
  resetRedemption: boolean;
  status: 'PendingAcceptance' | 'Completed';
  invitedUser: { id: string };
}

/** POST /invitations (Graph's New-MgInvitation): the management API's invitation, audited alike. */
export async function inviteAsGraph(rt: Runtime, actor: Actor, tenantId: string, input: GraphInvitationInput): Promise<GraphInvitation> {
  const { invitedUserType: _guest, ...invitation } = input;
  const invited = await inviteAudited(rt, actor, tenantId, invitation);
  return {
    id: invited.id,
    inviteRedeemUrl: invited.inviteRedeemUrl,
    invitedUserDisplayName: invited.invitedUserDisplayName,
    invitedUserEmailAddress: invited.invitedUserEmailAddress,
    invitedUserType: 'Guest',
    inviteRedirectUrl: invited.inviteRedirectUrl,
    sendInvitationMessage: invited.sendInvitationMessage,
    resetRedemption: invitation.resetRedemption,
    status: invited.status,
    invitedUser: invited.invitedUser,
  };
}
