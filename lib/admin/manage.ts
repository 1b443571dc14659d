import { setAccountEnabled } from '../guests/accountEnabled.js';
import { deleteGuest, getGuest } from '../guests/guestLifecycle.js';
import type { Guest } from '../guests/guests.js';
import { inviteGuestWithOutcome, type Invitation } from '../guests/invitations.js';
import {
  changeTenantSettings,
  createPolicy,
  createTenantWithSettings,
  deletePolicy,
  emailOtpOf,
  getPolicy,
  readTenantSettings,
  updatePolicy,
  type TenantSettings,
} from '../tenants/policies.js';
import type { PolicyRecord } from '../tenants/policy.js';
import type { Runtime } from '../runtime.js';
import type { CreatePolicyInput, CreateTenantInput, InvitationInput, TenantSettingsInput, UpdatePolicyInput } from '../schemas.js';
import { openSkipToken, sealSkipToken } from '../storage/skipToken.js';
import { resolveTenant, toTenant, type TenantEntity } from '../tenants/tenants.js';
import { recordAudit } from './audit.js';
import { emitEvent } from '../events/emit.js';
import type { CreateWebhookInput, UpdateWebhookInput } from '../events/schemas.js';
import { createWebhook, deleteWebhook, rotateWebhookSecret, updateWebhook, type WebhookView } from '../events/webhooks.js';
import { createAdminKey, revokeAdminKey, type Actor, type CreatedAdminKey } from './credentials.js';
import { addDomain, removeDomain, verifyDomain, type DomainView } from './domains.js';
import { runLifecycle, type LifecycleAction } from './lifecycle.js';
import { assignAppRole, removeAppRoleAssignment, type AppRoleAssignment } from '../oidc/appRoles.js';
import type { CreateAppRoleAssignmentInput } from '../oidc/schemas.js';

/*
 * The management changes, each with its audit entry: the lib operation, then one row in
 * the tenant's audit log naming the credential (never its secret), the action, the target
 * and, for settings and policies, the values before and after.
 */

/** Listing every tenant is the operator's alone (functions check that); paged by the service's continuation. */
export async function listTenants(rt: Runtime, query: { $top: number; $skiptoken?: string }): Promise<{ value: TenantSettings[]; skipToken?: string }> {
  const scope = 'tenants';
  const continuation = query.$skiptoken ? openSkipToken(query.$skiptoken, scope, (c): c is string => typeof c === 'string') : undefined;
  const pages = rt.tables.tenants.listEntities<TenantEntity>({ queryOptions: { filter: `RowKey eq 'tenant'` } }).byPage({ maxPageSize: query.$top, continuationToken: continuation });
  const page = await pages.next();
  if (page.done) return { value: [] };
  const value: TenantSettings[] = [];
  for (const row of page.value) {
    const context = await resolveTenant(rt, row.partitionKey!, { fresh: true });
    value.push({ ...toTenant(row.partitionKey!, row), emailOtp: emailOtpOf(context.policies) });
  }
  const next = page.value.continuationToken;
  return { value, ...(next ? { skipToken: sealSkipToken(scope, next) } : {}) };
}

export async function createTenantAudited(rt: Runtime, actor: Actor, input: CreateTenantInput): Promise<TenantSettings> {
  const tenant = await createTenantWithSettings(rt, input);
  await recordAudit(rt, tenant.id, actor, { action: 'tenant.create', target: { type: 'tenant', id: tenant.id }, after: tenant });
  return tenant;
}

export async function updateTenantAudited(rt: Runtime, actor: Actor, tenantId: string, input: TenantSettingsInput): Promise<TenantSettings> {
  const before = await readTenantSettings(rt, tenantId);
  const after = await changeTenantSettings(rt, tenantId, input);
  await recordAudit(rt, tenantId, actor, { action: 'tenant.update', target: { type: 'tenant', id: tenantId }, before, after });
  return after;
}

export async function inviteAudited(rt: Runtime, actor: Actor, tenantId: string, input: InvitationInput): Promise<Invitation> {
  const { invitation, outcome } = await inviteGuestWithOutcome(rt, tenantId, input);
  const action = outcome === 'created' ? 'guest.invite' : outcome === 'reset' ? 'guest.resetRedemption' : 'guest.reinvite';
  await recordAudit(rt, tenantId, actor, {
    action,
    target: { type: 'guest', id: invitation.invitedUser.id },
    after: { email: invitation.invitedUserEmailAddress, status: invitation.status, sendInvitationMessage: invitation.sendInvitationMessage },
  });
  await emitEvent(rt, tenantId, 'guest.invited', { guestId: invitation.invitedUser.id, status: invitation.status, reinvited: outcome !== 'created' });
  return invitation;
}

export async function deleteGuestAudited(rt: Runtime, actor: Actor, tenantId: string, guestId: string): Promise<void> {
  const before = await getGuest(rt, tenantId, guestId);
  await deleteGuest(rt, tenantId, guestId);
  await recordAudit(rt, tenantId, actor, { action: 'guest.delete', target: { type: 'guest', id: guestId }, before });
  await emitEvent(rt, tenantId, 'guest.deleted', { guestId });
}

/** Block (false) or unblock (true) a guest's sign-in; audited only when it changed. */
export async function setAccountEnabledAudited(rt: Runtime, actor: Actor, tenantId: string, guestId: string, accountEnabled: boolean): Promise<Guest> {
  const { before, after } = await setAccountEnabled(rt, tenantId, guestId, accountEnabled);
  if (before.accountEnabled !== after.accountEnabled) {
    await recordAudit(rt, tenantId, actor, {
      action: accountEnabled ? 'guest.unblock' : 'guest.block',
      target: { type: 'guest', id: guestId },
      before: { email: before.email, accountEnabled: before.accountEnabled },
      after: { email: after.email, accountEnabled: after.accountEnabled },
    });
    await emitEvent(rt, tenantId, accountEnabled ? 'guest.unblocked' : 'guest.blocked', { guestId });
  }
  return after;
}

export async function createPolicyAudited(rt: Runtime, actor: Actor, tenantId: string, input: CreatePolicyInput): Promise<PolicyRecord> {
  const policy = await createPolicy(rt, tenantId, input);
  await recordAudit(rt, tenantId, actor, { action: 'policy.create', target: { type: 'policy', id: policy.id }, after: policy });
  await emitEvent(rt, tenantId, 'policy.changed', { policyId: policy.id, change: 'created' });
  return policy;
}

export async function updatePolicyAudited(rt: Runtime, actor: Actor, tenantId: string, id: string, input: UpdatePolicyInput): Promise<PolicyRecord> {
  const before = await getPolicy(rt, tenantId, id);
  const after = await updatePolicy(rt, tenantId, id, input);
  await recordAudit(rt, tenantId, actor, { action: 'policy.update', target: { type: 'policy', id }, before, after });
  await emitEvent(rt, tenantId, 'policy.changed', { policyId: id, change: 'updated' });
  return after;
}

export async function deletePolicyAudited(rt: Runtime, actor: Actor, tenantId: string, id: string): Promise<void> {
  const before = await getPolicy(rt, tenantId, id);
  await deletePolicy(rt, tenantId, id);
  await recordAudit(rt, tenantId, actor, { action: 'policy.delete', target: { type: 'policy', id }, before });
  await emitEvent(rt, tenantId, 'policy.changed', { policyId: id, change: 'deleted' });
}

export async function createKeyAudited(rt: Runtime, actor: Actor, tenantId: string, name: string): Promise<CreatedAdminKey> {
  const created = await createAdminKey(rt, tenantId, name, actor);
  await recordAudit(rt, tenantId, actor, { action: 'key.create', target: { type: 'key', id: created.id }, after: { name, createdAt: created.createdAt } });
  await emitEvent(rt, tenantId, 'admin.key.created', { keyId: created.id, name });
  return created;
}

export async function revokeKeyAudited(rt: Runtime, actor: Actor, tenantId: string, keyId: string): Promise<void> {
  const before = await revokeAdminKey(rt, tenantId, keyId);
  if (before.revokedAt) return;
  await recordAudit(rt, tenantId, actor, { action: 'key.revoke', target: { type: 'key', id: keyId }, before });
  await emitEvent(rt, tenantId, 'admin.key.revoked', { keyId, name: before.name });
}

export async function addDomainAudited(rt: Runtime, actor: Actor, tenantId: string, name: string): Promise<{ domain: DomainView; created: boolean }> {
  const result = await addDomain(rt, tenantId, name);
  if (result.created) await recordAudit(rt, tenantId, actor, { action: 'domain.add', target: { type: 'domain', id: name }, after: result.domain });
  return result;
}

export async function verifyDomainAudited(rt: Runtime, actor: Actor, tenantId: string, name: string): Promise<DomainView> {
  const { domain, before } = await verifyDomain(rt, tenantId, name);
  if (before.state !== domain.state) await recordAudit(rt, tenantId, actor, { action: 'domain.verify', target: { type: 'domain', id: name }, before, after: domain });
  return domain;
}

export async function removeDomainAudited(rt: Runtime, actor: Actor, tenantId: string, name: string): Promise<void> {
  const before = await removeDomain(rt, tenantId, name);
  await recordAudit(rt, tenantId, actor, { action: 'domain.remove', target: { type: 'domain', id: name }, before });
}

export async function runLifecycleNow(rt: Runtime, actor: Actor, tenantId: string): Promise<LifecycleAction[]> {
  const { tenant } = await resolveTenant(rt, tenantId, { fresh: true });
  return runLifecycle(rt, tenant, actor);
}

export async function createWebhookAudited(rt: Runtime, actor: Actor, tenantId: string, input: CreateWebhookInput): Promise<WebhookView & { secret: string }> {
  const created = await createWebhook(rt, tenantId, input);
  const { secret: _secret, ...shown } = created;
  await recordAudit(rt, tenantId, actor, { action: 'webhook.create', target: { type: 'webhook', id: created.id }, after: shown });
  return created;
}

export async function updateWebhookAudited(rt: Runtime, actor: Actor, tenantId: string, id: string, input: UpdateWebhookInput): Promise<WebhookView> {
  const { before, after } = await updateWebhook(rt, tenantId, id, input);
  await recordAudit(rt, tenantId, actor, { action: 'webhook.update', target: { type: 'webhook', id }, before, after });
  return after;
}

export async function rotateWebhookSecretAudited(rt: Runtime, actor: Actor, tenantId: string, id: string): Promise<{ id: string; secret: string; previousSecretValidUntil: string }> {
  const rotated = await rotateWebhookSecret(rt, tenantId, id);
  await recordAudit(rt, tenantId, actor, { action: 'webhook.rotateSecret', target: { type: 'webhook', id }, after: { previousSecretValidUntil: rotated.previousSecretValidUntil } });
  return rotated;
}

export async function deleteWebhookAudited(rt: Runtime, actor: Actor, tenantId: string, id: string): Promise<void> {
  const before = await deleteWebhook(rt, tenantId, id);
  await recordAudit(rt, tenantId, actor, { action: 'webhook.delete', target: { type: 'webhook', id }, before });
}

export async function assignAppRoleAudited(rt: Runtime, actor: Actor, tenantId: string, guestId: string, input: CreateAppRoleAssignmentInput): Promise<AppRoleAssignment> {
  const assignment = await assignAppRole(rt, tenantId, guestId, input);
  await recordAudit(rt, tenantId, actor, { action: 'guest.appRoleAssignment.create', target: { type: 'guest', id: guestId }, after: assignment });
  return assignment;
}

export async function removeAppRoleAssignmentAudited(rt: Runtime, actor: Actor, tenantId: string, guestId: string, assignmentId: string): Promise<void> {
  const before = await removeAppRoleAssignment(rt, tenantId, guestId, assignmentId);
  await recordAudit(rt, tenantId, actor, { action: 'guest.appRoleAssignment.delete', target: { type: 'guest', id: guestId }, before });
}
