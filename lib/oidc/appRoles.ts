import { randomBytes } from 'node:crypto';
import { fail } from '../errors.js';
import { getGuest } from '../guests/guestLifecycle.js';
import type { Runtime } from '../runtime.js';
import { isStatus } from '../storage/tables.js';
import { resolveTenant } from '../tenants/tenants.js';
import { findApplication, type StoredApplication } from './applications.js';
import type { CreateAppRoleAssignmentInput } from './schemas.js';

/*
 * App role assignments (Microsoft Graph's appRoleAssignment): which roles of which
 * application a guest holds. Each is a row of the tenant's partition in the tenants
 * table, keyed `approle_<guest id>_<client id>_<assignment id>`, so the roles of one
 * guest for one application are one range read at token time, and a guest invited
 * again after a deletion (a new id) inherits nothing. A token carries the values of the
 * assigned roles that the application still defines and has enabled: a role deleted or
 * disabled leaves no stale claim in any token issued after.
 */
const PREFIX = 'approle_';

export interface AppRoleAssignment {
  id: string;
  appRoleId: string;
  principalId: string;
  principalType: 'User';
  principalDisplayName: string;
  resourceId: string;
  resourceDisplayName: string;
  createdDateTime: string;
}

interface AssignmentEntity {
  appRoleId: string;
  principalDisplayName: string;
  resourceDisplayName: string;
  createdDateTime: string;
}

function rangeFilter(tenantId: string, prefix: string): string {
  // The character after '_' closes the range: every key starting with the prefix lies inside it.
  return `PartitionKey eq '${tenantId}' and RowKey ge '${prefix}' and RowKey lt '${prefix.slice(0, -1)}\`'`;
}

function toAssignment(rowKey: string, row: AssignmentEntity): AppRoleAssignment {
  const [guestId, clientId, id] = rowKey.slice(PREFIX.length).split('_') as [string, string, string];
  return {
    id,
    appRoleId: row.appRoleId,
    principalId: guestId,
    principalType: 'User',
    principalDisplayName: row.principalDisplayName,
    resourceId: clientId,
    resourceDisplayName: row.resourceDisplayName,
    createdDateTime: row.createdDateTime,
  };
}

async function assignmentRows(rt: Runtime, tenantId: string, prefix: string): Promise<{ rowKey: string; row: AssignmentEntity }[]> {
  const rows: { rowKey: string; row: AssignmentEntity }[] = [];
  for await (const row of rt.tables.tenants.listEntities<AssignmentEntity>({ queryOptions: { filter: rangeFilter(tenantId, prefix) } })) {
    rows.push({ rowKey: row.rowKey!, row });
  }
  return rows;
}

/** Assigns one of an application's roles to a guest (Graph: POST /users/{id}/appRoleAssignments). */
export async function assignAppRole(rt: Runtime, tenantRef: string, guestId: string, input: CreateAppRoleAssignmentInput): Promise<AppRoleAssignment> {
  const { tenant } = await resolveTenant(rt, tenantRef);
  if (input.principalId !== undefined && input.principalId !== guestId) fail('invalid_request', { message: 'principalId must be the guest of the route, or left out.' });
  const guest = await getGuest(rt, tenant.id, guestId);
  const application = await findApplication(rt, tenant.id, input.resourceId);
  if (!application) fail('application_not_found', { message: 'No application of this tenant has that resourceId (its clientId).' });
  const role = application.appRoles.find((candidate) => candidate.id === input.appRoleId);
  if (!role) fail('app_role_not_found');
  if (!role.isEnabled) fail('app_role_not_found', { message: 'That app role is disabled: enable it on the application before assigning it.' });
  const existing = await assignmentRows(rt, tenant.id, `${PREFIX}${guest.id}_${application.clientId}_`);
  if (existing.some(({ row }) => row.appRoleId === role.id)) fail('app_role_assignment_exists');
  const row: AssignmentEntity = {
    appRoleId: role.id,
    principalDisplayName: guest.displayName,
    resourceDisplayName: application.displayName,
    createdDateTime: new Date(rt.now()).toISOString(),
  };
  const rowKey = `${PREFIX}${guest.id}_${application.clientId}_${randomBytes(16).toString('hex')}`;
  await rt.tables.tenants.createEntity({ partitionKey: tenant.id, rowKey, ...row });
  return toAssignment(rowKey, row);
}

/** A guest's role assignments, for every application (Graph: GET /users/{id}/appRoleAssignments). */
export async function listAppRoleAssignments(rt: Runtime, tenantRef: string, guestId: string): Promise<{ value: AppRoleAssignment[] }> {
  const { tenant } = await resolveTenant(rt, tenantRef);
  await getGuest(rt, tenant.id, guestId);
  const rows = await assignmentRows(rt, tenant.id, `${PREFIX}${guestId}_`);
  return { value: rows.map(({ rowKey, row }) => toAssignment(rowKey, row)) };
}

/** Removes one assignment (Graph: DELETE /users/{id}/appRoleAssignments/{id}); answers what it removed, for the audit log. */
export async function removeAppRoleAssignment(rt: Runtime, tenantRef: string, guestId: string, assignmentId: string): Promise<AppRoleAssignment> {
  const { tenant } = await resolveTenant(rt, tenantRef);
  const found = (await assignmentRows(rt, tenant.id, `${PREFIX}${guestId}_`)).find(({ rowKey }) => rowKey.endsWith(`_${assignmentId}`));
  if (!found) fail('app_role_assignment_not_found');
  try {
    await rt.tables.tenants.deleteEntity(tenant.id, found.rowKey);
  } catch (error) {
    if (!isStatus(error, 404)) throw error;
  }
  return toAssignment(found.rowKey, found.row);
}

/** The `roles` claim for a guest in an application's tokens: values of assigned roles it still defines and has enabled. */
export async function rolesFor(rt: Runtime, tenantId: string, guestId: string, application: StoredApplication): Promise<string[]> {
  if (application.appRoles.length === 0) return [];
  const assigned = new Set((await assignmentRows(rt, tenantId, `${PREFIX}${guestId}_${application.clientId}_`)).map(({ row }) => row.appRoleId));
  return application.appRoles.filter((role) => role.isEnabled && assigned.has(role.id)).map((role) => role.value);
}

/** The same for userinfo, which knows the application only by the access token's `azp`. */
export async function rolesForClient(rt: Runtime, tenantId: string, guestId: string, clientId: unknown): Promise<string[]> {
  if (typeof clientId !== 'string') return [];
  const application = await findApplication(rt, tenantId, clientId);
  return application ? rolesFor(rt, tenantId, guestId, application) : [];
}
